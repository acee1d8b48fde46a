//! Extractors: the authenticated principal, JSON bodies whose errors name the field, paging.

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use berth_error::ApiError;
use http::request::Parts;
use serde::de::DeserializeOwned;

use super::dto::PageQuery;
use super::HttpError;
use crate::authn::{authenticate, Principal};
use crate::state::AppState;

const MAX_BODY: usize = 1 << 20;

/// The authenticated caller.
pub struct Authed(pub Principal);

impl FromRequestParts<AppState> for Authed {
    type Rejection = HttpError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let principal = authenticate(state, header).await?;
        super::refuse_bad_path_name(&parts.extensions)?;
        Ok(Self(principal))
    }
}

/// A JSON body; a bad one is a 400 naming the field at fault.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(Self).map_err(HttpError)
    }
}

/// The request body, at most [`MAX_BODY`] bytes.
async fn body_bytes<S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<axum::body::Bytes, HttpError> {
    let bytes = axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|e| ApiError::invalid("body", e.body_text()))?;
    if bytes.len() > MAX_BODY {
        return Err(ApiError::invalid("body", "is larger than 1 MiB").into());
    }
    Ok(bytes)
}

/// A JSON body that may be left out (an empty body is `T::default()`).
pub struct OptionalJsonBody<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) || bytes.trim_ascii() == b"null" {
            return Ok(Self(T::default()));
        }
        parse_json(&bytes).map(Self).map_err(HttpError)
    }
}

/// Deserializes `bytes`, naming the offending field in the error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("body", "a JSON object is required"));
    }
    // serde reads a struct from an array too (`["name", "x"]`); the API takes objects.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let message = e.inner().to_string();
        let path = match e.path().to_string() {
            p if p == "?" => ".".to_string(),
            p => p,
        };
        // serde names an unknown field only in its message: "unknown field `x`, expected …".
        let field = match message
            .strip_prefix("unknown field `")
            .and_then(|m| m.split('`').next())
        {
            Some(unknown) if path == "." || path.is_empty() => unknown.to_string(),
            Some(unknown) if path.ends_with(unknown) => path,
            Some(unknown) => format!("{path}.{unknown}"),
            None if message.starts_with("missing field `") => {
                let missing = message
                    .trim_start_matches("missing field `")
                    .split('`')
                    .next()
                    .unwrap_or_default();
                if path == "." || path.is_empty() {
                    missing.to_string()
                } else {
                    format!("{path}.{missing}")
                }
            }
            None if path == "." || path.is_empty() => "body".to_string(),
            None => path,
        };
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_string();
        ApiError::invalid(field, message)
    })?;
    de.end().map_err(|_| {
        ApiError::invalid(
            "body",
            "holds something after the JSON object; send one object",
        )
    })?;
    Ok(value)
}

/// Query parameters of `T`; a bad one is a 400 naming it, in the JSON error envelope.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(q)) => Ok(Self(q)),
            Err(e) => Err(query_error(&e.body_text()).into()),
        }
    }
}

/// A query string serde refused, as a 400 naming the parameter: serde names a missing,
/// unknown or repeated one between backticks ("duplicate field `page_token`") and a bad value
/// before a colon ("page_size: invalid digit found in string").
fn query_error(text: &str) -> ApiError {
    let text = text.trim_start_matches("Failed to deserialize query string: ");
    let quoted = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|p| text.split_once(p))
        .and_then(|(_, rest)| rest.split('`').next())
        .filter(|f| !f.is_empty());
    let prefixed = text
        .split_once(": ")
        .map(|(f, _)| f)
        .filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    // The standard library's words for a bad number or flag, in ours.
    let plain = |m: &str| -> String {
        if m.contains("invalid digit")
            || m.contains("too large")
            || m.contains("too small")
            || m.contains("empty string")
        {
            "must be a whole number".into()
        } else if m.contains("was not `true` or `false`") {
            "must be true or false".into()
        } else {
            m.to_string()
        }
    };
    match quoted.or(prefixed) {
        Some(field) => {
            let message = text.strip_prefix(&format!("{field}: ")).unwrap_or(text);
            ApiError::invalid(field, plain(message))
        }
        None => ApiError::invalid("query", plain(text)),
    }
}

/// `?cascade=true|false` (default false): also remove what depends on the resource.
pub struct Cascade(pub bool);

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CascadeQuery {
    /// Also remove what depends on the resource (default false: refuse with 412 naming it).
    pub cascade: Option<bool>,
}

impl<S: Send + Sync> FromRequestParts<S> for Cascade {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(q) = Query::<CascadeQuery>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::invalid("cascade", "must be true or false"))?;
        Ok(Self(q.cascade.unwrap_or(false)))
    }
}

/// A `page_size` a list takes: absent (the list's default) or 1–1000.
pub fn checked_page_size(page_size: Option<i32>) -> Result<i32, ApiError> {
    match page_size {
        Some(n) if !(1..=1000).contains(&n) => {
            Err(ApiError::invalid("page_size", "must be between 1 and 1000"))
        }
        n => Ok(n.unwrap_or(0)),
    }
}

/// `page_size`, `page_token` (and `space`) query parameters.
pub struct Paging(pub PageQuery);

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(q) = Query::<PageQuery>::from_request_parts(parts, state)
            .await
            .map_err(|e| query_error(&e.body_text()))?;
        checked_page_size(q.page_size)?;
        Ok(Self(q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::dto::CreateRegistryBody;

    fn field(json: &str) -> Option<String> {
        parse_json::<CreateRegistryBody>(json.as_bytes())
            .err()
            .and_then(|e| e.field)
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            field(r#"{"kind":"oci","url":"http://x"}"#).as_deref(),
            Some("name")
        );
        assert_eq!(
            field(r#"{"name":"a","kind":"oci","url":"http://x","insecure":"yes"}"#).as_deref(),
            Some("insecure")
        );
        assert_eq!(
            field(r#"{"name":"a","kind":"oci","url":"http://x","colour":1}"#).as_deref(),
            Some("colour")
        );
        assert_eq!(
            field(r#"{"name":"a","kind":"oci","url":"http://x","credential":{"username":"u"}}"#)
                .as_deref(),
            Some("credential.password")
        );
        assert_eq!(field("{not json").as_deref(), Some("body"));
        assert_eq!(field("").as_deref(), Some("body"));
        assert_eq!(field(r#"{"name":"a","kind":"oci","url":"http://x"}"#), None);
    }
}
