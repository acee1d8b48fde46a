//! The replication service's errors, mapped once to the API vocabulary.

use berth_error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Upstream(ApiError),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}

pub type Result<T> = std::result::Result<T, ReplicationError>;

/// A failed call to the registry service, as the replication service answers it.
pub fn upstream(status: tonic::Status) -> ReplicationError {
    ReplicationError::Upstream(berth_runtime::clients::registry_error(status))
}

impl From<ApiError> for ReplicationError {
    fn from(e: ApiError) -> Self {
        Self::Upstream(e)
    }
}

impl ReplicationError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<ReplicationError> for ApiError {
    fn from(e: ReplicationError) -> Self {
        match e {
            ReplicationError::Invalid { field, message } => ApiError::invalid(field, message),
            ReplicationError::NotFound(m) => ApiError::not_found(m),
            ReplicationError::Conflict(m) => ApiError::already_exists("name", m),
            ReplicationError::Upstream(e) => e,
            ReplicationError::Db(e) => {
                tracing::error!(error = %e, "database error");
                ApiError::unavailable("replication service database unavailable")
            }
        }
    }
}

impl From<ReplicationError> for tonic::Status {
    fn from(e: ReplicationError) -> Self {
        ApiError::from(e).into()
    }
}
