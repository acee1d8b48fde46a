//! The Docker registry token service (`GET /auth/token`) and its certificate
//! (`GET /auth/certificate`).
//!
//! A registry configured with `auth: token` pointing here lets through exactly what the access
//! rule allows. Callers authenticate with Basic credentials: a namespace's pull credential
//! (user `namespace/NS`, from its pull secret) or a person's API or login token (user = its
//! principal). Berth's own services never come here: they sign their tokens themselves
//! ([`berth_auth::registry_token::Minter`]), and the internal service credential is refused
//! like any unknown password. `service` is the registry's name in Berth; each requested `scope`
//! is answered with the subset of actions the space service grants. Credentials that do not
//! authenticate get 401; a scope that grants nothing yields a token without that access, as the
//! spec asks.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_auth::registry_token::basic_credentials;
use berth_error::ApiError;
use http::{header, HeaderMap, StatusCode};

use crate::authn::{principal_of_token, TokenKind, NAMESPACE_PREFIX};
use crate::http::dto::RegistryTokenJson;
use crate::http::HttpError;
use crate::ops::{self, TokenCaller};
use crate::state::AppState;

fn unauthorized(message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"code": "UNAUTHORIZED", "message": message}]});
    let mut resp = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static("Basic realm=\"berth\""),
    );
    resp
}

async fn caller(
    s: &AppState,
    headers: &HeaderMap,
    service: Option<&str>,
) -> Result<TokenCaller, Response> {
    let Some((user, pass)) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials)
    else {
        return Err(unauthorized("credentials are required"));
    };
    let (principal, kind) = principal_of_token(s, &pass)
        .await
        .map_err(|_| unauthorized("invalid credentials"))?;
    if principal.name != user {
        return Err(unauthorized("the user name does not match the credential"));
    }
    Ok(match kind {
        TokenKind::NamespacePull => TokenCaller::Namespace(
            principal
                .name
                .trim_start_matches(NAMESPACE_PREFIX)
                .to_string(),
        ),
        TokenKind::Login { registry } if Some(registry.as_str()) != service => {
            return Err(unauthorized(
                "this login credential is for another registry",
            ))
        }
        TokenKind::Api | TokenKind::Login { .. } => TokenCaller::Principal {
            platform_admin: principal.platform_admin,
            name: principal.name,
        },
    })
}

/// Docker registry token service.
///
/// A registry configured with `auth: token` sends clients here; Basic credentials (a
/// namespace's pull credential, or an API or login token with its principal as user) get a
/// token granting the subset of each `scope` the access rule allows.
#[utoipa::path(get, path = "/auth/token", tag = "access", security(("basic" = [])),
    params(("service" = String, Query, description = "The registry's name in Berth"),
        ("scope" = Option<Vec<String>>, Query, description = "`repository:NAME:ACTIONS`, repeatable")),
    responses((status = 200, description = "The registry token", body = RegistryTokenJson),
        (status = 401, description = "Credentials missing or invalid (distribution's error shape)", body = Object)))]
pub async fn registry_token(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let service = query
        .iter()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v.clone());
    let caller = match caller(&s, &headers, service.as_deref()).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let Some(service) = service else {
        return HttpError(ApiError::invalid(
            "service",
            "is required: the registry's name in Berth",
        ))
        .into_response();
    };
    let scopes: Vec<String> = query
        .into_iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v)
        .collect();
    match ops::issue_registry_token(&s, &caller, &service, &scopes).await {
        Ok(jwt) => Json(RegistryTokenJson {
            access_token: jwt.clone(),
            token: jwt,
            expires_in: ops::REGISTRY_TOKEN_TTL_SECS,
            issued_at: crate::http::dto::rfc3339(chrono::Utc::now()),
        })
        .into_response(),
        Err(e) => HttpError(e).into_response(),
    }
}

/// The certificate registries verify Berth's registry tokens with (PEM).
#[utoipa::path(get, path = "/auth/certificate", tag = "access", security(()),
    responses((status = 200, description = "The certificate", body = String, content_type = "application/x-pem-file")))]
pub async fn token_certificate(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        s.token_signer.certificate_pem().to_string(),
    )
}
