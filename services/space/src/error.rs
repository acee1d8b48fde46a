//! The space service's errors and their one mapping to the API vocabulary.

use berth_error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum SpaceError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    Precondition(String),
    /// An error answered by another service.
    #[error("{0}")]
    Upstream(ApiError),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, SpaceError>;

impl SpaceError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
}

impl From<SpaceError> for ApiError {
    fn from(e: SpaceError) -> Self {
        match e {
            SpaceError::Invalid { field, message } => ApiError::invalid(field, message),
            SpaceError::NotFound(m) => ApiError::not_found(m),
            SpaceError::Conflict { field, message } => ApiError::already_exists(field, message),
            SpaceError::Precondition(m) => ApiError::failed_precondition(m),
            SpaceError::Upstream(e) => e,
            SpaceError::Db(e) => {
                tracing::error!(error = %e, "database error");
                ApiError::unavailable("space service database unavailable")
            }
            SpaceError::Internal(m) => ApiError::internal(m),
        }
    }
}

impl From<SpaceError> for tonic::Status {
    fn from(e: SpaceError) -> Self {
        ApiError::from(e).into()
    }
}
