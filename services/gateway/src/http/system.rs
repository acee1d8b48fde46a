//! Health, readiness, metrics, tokens and the audit trail.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Json;
use berth_error::ApiError;
use berth_proto::v1 as pb;
use http::StatusCode;

use super::dto::*;
use super::{Authed, HttpResult, JsonBody, Paging};
use crate::ops;
use crate::state::AppState;

/// Liveness: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the gateway's database and every internal service answer.
pub async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    let (all, body) = readiness(&s).await;
    let status = if all {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(serde_json::Value::Object(body)))
}

/// Whether the gateway's database and every internal service answer, and each one's state:
/// `/readyz` and the gateway's gRPC health say the same.
pub async fn readiness(s: &AppState) -> (bool, serde_json::Map<String, serde_json::Value>) {
    let mut body = serde_json::Map::new();
    let db = berth_db::ping(&s.db).await;
    body.insert(
        "database".into(),
        if db { "ready" } else { "unavailable" }.into(),
    );
    let mut all = db;
    // The cache and the bus, each bounded: a lost cache degrades decisions to uncached, a lost
    // bus delays events (they wait in the outbox), and readiness says so.
    let (cache, bus) = tokio::join!(s.access_cache.ping(), s.bus.ping());
    for (name, ok) in [("cache", cache), ("bus", bus)] {
        all &= ok;
        body.insert(name.into(), if ok { "ready" } else { "unavailable" }.into());
    }
    // Each service's replicas are probed every second by the channel that calls them.
    for (name, channel) in s.channels.iter() {
        let ok = channel.ready() > 0;
        all &= ok;
        body.insert(
            name.to_string(),
            if ok { "ready" } else { "unavailable" }.into(),
        );
    }
    (all, body)
}

pub async fn metrics() -> impl IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        berth_telemetry::render_metrics(),
    )
}

#[utoipa::path(post, path = "/api/v1/tokens", request_body = CreateTokenBody,
    responses((status = 201, body = TokenJson), (status = 400), (status = 403)))]
pub async fn create_token(
    State(s): State<AppState>,
    Authed(p): Authed,
    JsonBody(body): JsonBody<CreateTokenBody>,
) -> HttpResult<(StatusCode, Json<TokenJson>)> {
    // Absent is the default lifetime; an explicit 0 (or less) is a mistake, not "default".
    let ttl_seconds = match body.ttl_seconds {
        None => 0,
        Some(n) if n > 0 => n,
        Some(_) => {
            return Err(ApiError::invalid(
                "ttl_seconds",
                "must be at least 60; leave it out for the default lifetime",
            )
            .into())
        }
    };
    let req = pb::CreateTokenRequest {
        principal: body.principal,
        ttl_seconds,
    };
    let r = ops::create_token(&s, &p, req).await?;
    let expires_at = r
        .expires_at
        .and_then(|t| chrono::DateTime::<chrono::Utc>::from_timestamp(t.seconds, 0))
        .map(|t| t.to_rfc3339());
    Ok((
        StatusCode::CREATED,
        Json(TokenJson {
            token: r.token,
            expires_at,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/tokens", params(PageQuery), responses((status = 200, body = List<ApiTokenJson>)))]
pub async fn list_tokens(
    State(s): State<AppState>,
    Authed(p): Authed,
    Paging(q): Paging,
) -> HttpResult<Json<List<ApiTokenJson>>> {
    let req = pb::ListTokensRequest {
        page_size: q.page_size.unwrap_or(0),
        page_token: q.page_token.unwrap_or_default(),
    };
    let r = ops::list_tokens(&s, &p, req).await?;
    Ok(Json(List::new(
        r.tokens.into_iter().map(Into::into).collect(),
        r.next_page_token,
    )))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", responses((status = 204), (status = 404)))]
pub async fn delete_token(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(id): Path<String>,
) -> HttpResult<StatusCode> {
    ops::delete_token(&s, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/audit-events", params(PageQuery), responses((status = 200, body = List<AuditEventJson>)))]
pub async fn list_audit_events(
    State(s): State<AppState>,
    Authed(p): Authed,
    Paging(q): Paging,
) -> HttpResult<Json<List<AuditEventJson>>> {
    let req = pb::ListAuditEventsRequest {
        page_size: q.page_size.unwrap_or(0),
        page_token: q.page_token.unwrap_or_default(),
    };
    let r = ops::list_audit_events(&s, &p, req).await?;
    Ok(Json(List::new(
        r.events.into_iter().map(Into::into).collect(),
        r.next_page_token,
    )))
}
