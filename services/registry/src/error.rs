//! The registry service's errors and their one mapping to the API vocabulary.

use berth_error::{ApiError, ErrorCode};
use berth_oci::OciError;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("registry {0:?} not found")]
    NotFound(String),
    #[error("a registry named {0:?} already exists")]
    Duplicate(String),
    /// The name of a removed registry of another owner that was behind Berth's token service.
    #[error("the name {0:?} belonged to another owner's registry behind Berth's token service, which may still trust Berth's tokens for it: choose another name")]
    Retired(String),
    /// Another registry already serves this host: a host maps to exactly one registry.
    #[error("{0}")]
    HostTaken(String),
    #[error("{0}")]
    Precondition(String),
    /// Verifying the registry failed; `field` is what the caller should fix.
    #[error("{error}")]
    Verify {
        field: &'static str,
        error: OciError,
    },
    /// Reading from the registry failed.
    #[error("registry {registry:?}: {error}")]
    Upstream { registry: String, error: OciError },
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("stored credential cannot be opened: {0}")]
    Seal(#[from] berth_auth::sealed::SealError),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, RegistryError>;

impl RegistryError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }

    /// A verification failure, blamed on the credential or on the URL.
    pub fn verify(error: OciError) -> Self {
        let field = match error {
            OciError::Unauthorized(_) | OciError::Forbidden(_) => "credential",
            _ => "url",
        };
        Self::Verify { field, error }
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Invalid { field, message } => ApiError::invalid(field, message),
            RegistryError::NotFound(_) => ApiError::not_found(e.to_string()),
            RegistryError::Duplicate(_) | RegistryError::Retired(_) => {
                ApiError::already_exists("name", e.to_string())
            }
            RegistryError::HostTaken(m) => ApiError::already_exists("url", m),
            RegistryError::Precondition(m) => ApiError::failed_precondition(m),
            RegistryError::Verify { field, error } => {
                let message = match &error {
                    OciError::Unauthorized(m) => format!("authentication failed: {m}"),
                    OciError::Forbidden(m) => format!("authentication failed: access denied to {m}"),
                    OciError::NotARegistry(_) => error.to_string(),
                    other => format!("registry unreachable: {other}"),
                };
                ApiError::invalid(field, message)
            }
            RegistryError::Upstream { registry, error } => {
                let code = match error {
                    OciError::NotFound(_) => ErrorCode::NotFound,
                    OciError::BadName(_) => ErrorCode::InvalidArgument,
                    OciError::Status { status: 412, .. } | OciError::Status { status: 409, .. } => ErrorCode::FailedPrecondition,
                    OciError::Unauthorized(_) | OciError::Forbidden(_) => ErrorCode::FailedPrecondition,
                    _ => ErrorCode::UpstreamUnavailable,
                };
                ApiError::new(code, format!("registry {registry:?}: {error}"))
            }
            RegistryError::Db(e) => {
                tracing::error!(error = %e, "database error");
                ApiError::unavailable("registry service database unavailable")
            }
            RegistryError::Seal(_) => ApiError::failed_precondition(
                "the stored credential cannot be decrypted with the current secret key; update the registry's credential",
            ),
            RegistryError::Internal(m) => ApiError::internal(m),
        }
    }
}

impl From<RegistryError> for tonic::Status {
    fn from(e: RegistryError) -> Self {
        ApiError::from(e).into()
    }
}
