//! The one error vocabulary of Berth's APIs.
//!
//! Every crate keeps its own `thiserror` enum and converts it into [`ApiError`]; this crate maps
//! an [`ApiError`] to a `tonic::Status` (with the offending field as a `BadRequest` violation) and
//! back, and to the HTTP status and JSON envelope of the gateway. No handler builds a `Status` or an
//! HTTP error by hand.

pub mod validate;

use serde::Serialize;
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

/// The restricted set of error codes an API may answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidArgument,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    Unauthenticated,
    FailedPrecondition,
    Unavailable,
    DeadlineExceeded,
    /// The resource exists but not with this method (HTTP 405; gRPC has no such call).
    MethodNotAllowed,
    /// A registry the request names cannot be reached or answers with a server error: Berth
    /// itself is fine (HTTP 502; gRPC `UNAVAILABLE` with the `UPSTREAM_UNAVAILABLE` reason).
    UpstreamUnavailable,
    Internal,
}

impl ErrorCode {
    /// The gRPC code of this error.
    pub fn grpc(self) -> Code {
        match self {
            Self::InvalidArgument => Code::InvalidArgument,
            Self::NotFound => Code::NotFound,
            Self::AlreadyExists => Code::AlreadyExists,
            Self::PermissionDenied => Code::PermissionDenied,
            Self::Unauthenticated => Code::Unauthenticated,
            Self::FailedPrecondition => Code::FailedPrecondition,
            Self::Unavailable => Code::Unavailable,
            Self::DeadlineExceeded => Code::DeadlineExceeded,
            Self::MethodNotAllowed => Code::Unimplemented,
            Self::UpstreamUnavailable => Code::Unavailable,
            Self::Internal => Code::Internal,
        }
    }

    /// The code a gRPC status maps to; codes outside the table become `Internal`.
    pub fn from_grpc(code: Code) -> Self {
        match code {
            Code::InvalidArgument | Code::OutOfRange => Self::InvalidArgument,
            Code::NotFound => Self::NotFound,
            Code::AlreadyExists => Self::AlreadyExists,
            Code::PermissionDenied => Self::PermissionDenied,
            Code::Unauthenticated => Self::Unauthenticated,
            Code::FailedPrecondition | Code::Aborted => Self::FailedPrecondition,
            Code::Unavailable | Code::ResourceExhausted => Self::Unavailable,
            Code::DeadlineExceeded | Code::Cancelled => Self::DeadlineExceeded,
            _ => Self::Internal,
        }
    }

    /// The HTTP status of this error at the gateway.
    pub fn http(self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            Self::InvalidArgument => S::BAD_REQUEST,
            Self::NotFound => S::NOT_FOUND,
            Self::AlreadyExists => S::CONFLICT,
            Self::PermissionDenied => S::FORBIDDEN,
            Self::Unauthenticated => S::UNAUTHORIZED,
            Self::FailedPrecondition => S::PRECONDITION_FAILED,
            Self::Unavailable => S::SERVICE_UNAVAILABLE,
            Self::DeadlineExceeded => S::GATEWAY_TIMEOUT,
            Self::MethodNotAllowed => S::METHOD_NOT_ALLOWED,
            Self::UpstreamUnavailable => S::BAD_GATEWAY,
            Self::Internal => S::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An API error: a code, a human message and, for bad input, the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// Bad input in `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        Self {
            code: ErrorCode::InvalidArgument,
            message: format!("{field}: {}", message.into()),
            field: Some(field),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn already_exists(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(ErrorCode::AlreadyExists, message)
        }
    }

    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::PermissionDenied, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    pub fn failed_precondition(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::FailedPrecondition, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// Turns a status received from `callee` back into an error; transport failures read as
    /// "`callee` unavailable".
    pub fn from_status(callee: &str, status: &tonic::Status) -> Self {
        let details = status.get_error_details();
        let upstream = details
            .error_info()
            .is_some_and(|i| i.reason == UPSTREAM_REASON);
        let code = match ErrorCode::from_grpc(status.code()) {
            ErrorCode::Unavailable if upstream => ErrorCode::UpstreamUnavailable,
            code => code,
        };
        let field = details
            .bad_request()
            .and_then(|b| b.field_violations.first().map(|v| v.field.clone()));
        let message = match code {
            ErrorCode::Unavailable | ErrorCode::DeadlineExceeded => {
                format!("{callee} unavailable: {}", status.message())
            }
            _ => status.message().to_string(),
        };
        Self {
            code,
            message,
            field,
        }
    }

    /// The JSON body of the gateway's error envelope.
    pub fn envelope(&self) -> serde_json::Value {
        let mut error = serde_json::json!({
            "code": self.code,
            "message": self.message,
        });
        if let Some(field) = &self.field {
            error["field"] = serde_json::Value::String(field.clone());
        }
        serde_json::json!({ "error": error })
    }
}

/// The `ErrorInfo` reason that tells an unreachable registry from an unavailable service in a
/// gRPC `UNAVAILABLE`.
pub const UPSTREAM_REASON: &str = "UPSTREAM_UNAVAILABLE";

impl From<ApiError> for tonic::Status {
    fn from(e: ApiError) -> Self {
        if e.code == ErrorCode::UpstreamUnavailable {
            return tonic::Status::with_error_details(
                e.code.grpc(),
                e.message,
                ErrorDetails::with_error_info(
                    UPSTREAM_REASON,
                    "berth",
                    std::collections::HashMap::<String, String>::new(),
                ),
            );
        }
        match &e.field {
            Some(field) => tonic::Status::with_error_details(
                e.code.grpc(),
                e.message.clone(),
                ErrorDetails::with_bad_request_violation(field.clone(), e.message.clone()),
            ),
            None => tonic::Status::new(e.code.grpc(), e.message),
        }
    }
}

/// Result with an [`ApiError`].
pub type ApiResult<T> = std::result::Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_survives_a_round_trip_through_grpc() {
        let e = ApiError::invalid("url", "scheme must be http or https");
        let status: tonic::Status = e.clone().into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let back = ApiError::from_status("registry service", &status);
        assert_eq!(back, e);
        assert_eq!(back.code.http(), http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn an_unreachable_registry_stays_a_502_across_services() {
        let e = ApiError::new(
            ErrorCode::UpstreamUnavailable,
            "registry \"hub\": connection refused",
        );
        let status: tonic::Status = e.clone().into();
        assert_eq!(status.code(), Code::Unavailable);
        // Through two hops (space service → registry service → gateway).
        let hop = ApiError::from_status("registry service", &status);
        let back = ApiError::from_status("space service", &tonic::Status::from(hop));
        assert_eq!(back, e);
        assert_eq!(back.code.http(), http::StatusCode::BAD_GATEWAY);
        assert_eq!(back.envelope()["error"]["code"], "upstream_unavailable");
    }

    #[test]
    fn transport_failures_name_the_callee() {
        let status = tonic::Status::unavailable("connection refused");
        let e = ApiError::from_status("registry service", &status);
        assert_eq!(e.code, ErrorCode::Unavailable);
        assert_eq!(
            e.message,
            "registry service unavailable: connection refused"
        );
        assert_eq!(e.code.http(), http::StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn envelope_names_the_field_only_when_there_is_one() {
        let e = ApiError::not_found("registry \"x\" not found");
        assert!(e.envelope()["error"].get("field").is_none());
        assert_eq!(e.envelope()["error"]["code"], "not_found");
        let e = ApiError::invalid("name", "must not be empty");
        assert_eq!(e.envelope()["error"]["field"], "name");
    }
}
