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
#[utoipa::path(get, path = "/healthz", tag = "system", security(()),
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the gateway's database, cache, bus and every internal service answer.
///
/// Each dependency is named with `ready` or `unavailable`.
#[utoipa::path(get, path = "/readyz", tag = "system", security(()),
    responses((status = 200, description = "Ready", body = std::collections::BTreeMap<String, String>),
        (status = 503, description = "Not ready: the unavailable dependencies are named", body = std::collections::BTreeMap<String, String>)))]
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
    metrics::gauge!("berth_dependency_up", "dependency" => "database").set(f64::from(u8::from(db)));
    let mut all = db;
    // The cache and the bus, each bounded: a lost cache degrades decisions to uncached, a lost
    // bus delays events (they wait in the outbox), and readiness says so.
    let (cache, bus) = tokio::join!(s.access_cache.ping(), s.bus.ping());
    for (name, ok) in [("cache", cache), ("bus", bus)] {
        all &= ok;
        metrics::gauge!("berth_dependency_up", "dependency" => name).set(f64::from(u8::from(ok)));
        body.insert(name.into(), if ok { "ready" } else { "unavailable" }.into());
    }
    // Each service's replicas are probed every second by the channel that calls them.
    for (name, channel) in s.channels.iter() {
        let replicas = channel.ready();
        metrics::gauge!("berth_service_replicas_ready", "service" => name.to_string())
            .set(replicas as f64);
        let ok = replicas > 0;
        all &= ok;
        body.insert(
            name.to_string(),
            if ok { "ready" } else { "unavailable" }.into(),
        );
    }
    (all, body)
}

/// Prometheus metrics (text exposition format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "system", security(()),
    responses((status = 200, description = "The metrics", body = String, content_type = "text/plain")))]
pub async fn metrics() -> impl IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        berth_telemetry::render_metrics(),
    )
}

/// Create an API token.
///
/// Platform admins create tokens for any principal; others for themselves only. The token is
/// shown once; `ttl_seconds` left out gives the default lifetime (90 days).
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateTokenBody,
    responses((status = 201, description = "The token, shown once", body = TokenJson)))]
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
    let expires_at = time(r.expires_at);
    Ok((
        StatusCode::CREATED,
        Json(TokenJson {
            token: r.token,
            expires_at,
        }),
    ))
}

/// List API tokens (never the tokens themselves).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(PageQuery),
    responses((status = 200, description = "One page of tokens", body = List<ApiTokenJson>)))]
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

/// Revoke an API token.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    responses((status = 204, description = "Revoked")))]
pub async fn delete_token(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(id): Path<String>,
) -> HttpResult<StatusCode> {
    ops::delete_token(&s, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List audit events, newest first.
#[utoipa::path(get, path = "/api/v1/audit-events", tag = "audit", params(PageQuery),
    responses((status = 200, description = "One page of events", body = List<AuditEventJson>)))]
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
