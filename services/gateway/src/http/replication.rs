//! `/api/v1/replication/…`.

use axum::extract::{Path, Query, State};
use axum::Json;
use berth_proto::v1 as pb;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::dto::List;
use super::{Authed, HttpResult, JsonBody};
use crate::ops;
use crate::state::AppState;

#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EndpointJson {
    pub registry: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterJson {
    /// `repository` or `tag`.
    pub kind: String,
    pub pattern: String,
    #[serde(default)]
    pub exclude: bool,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerJson {
    /// `manual`, `cron` or `push`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
}

/// A policy, as created and as read back.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyJson {
    pub name: String,
    pub source: EndpointJson,
    pub destination: EndpointJson,
    #[serde(default)]
    pub filters: Vec<FilterJson>,
    pub trigger: Option<TriggerJson>,
    #[serde(default)]
    pub r#override: bool,
    #[serde(default, skip_deserializing)]
    pub created_at: Option<String>,
}

fn non_empty(s: String) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

impl From<PolicyJson> for pb::Policy {
    fn from(p: PolicyJson) -> Self {
        pb::Policy {
            name: p.name,
            source: Some(pb::Endpoint {
                registry: p.source.registry,
                space: p.source.space.unwrap_or_default(),
            }),
            destination: Some(pb::Endpoint {
                registry: p.destination.registry,
                space: p.destination.space.unwrap_or_default(),
            }),
            filters: p
                .filters
                .into_iter()
                .map(|f| pb::Filter {
                    kind: f.kind,
                    pattern: f.pattern,
                    exclude: f.exclude,
                })
                .collect(),
            trigger: p.trigger.map(|t| pb::Trigger {
                kind: t.kind,
                cron: t.cron.unwrap_or_default(),
            }),
            r#override: p.r#override,
            created_at: None,
        }
    }
}

impl From<pb::Policy> for PolicyJson {
    fn from(p: pb::Policy) -> Self {
        let (src, dst, trigger) = (
            p.source.unwrap_or_default(),
            p.destination.unwrap_or_default(),
            p.trigger.unwrap_or_default(),
        );
        PolicyJson {
            name: p.name,
            source: EndpointJson {
                registry: src.registry,
                space: non_empty(src.space),
            },
            destination: EndpointJson {
                registry: dst.registry,
                space: non_empty(dst.space),
            },
            filters: p
                .filters
                .into_iter()
                .map(|f| FilterJson {
                    kind: f.kind,
                    pattern: f.pattern,
                    exclude: f.exclude,
                })
                .collect(),
            trigger: Some(TriggerJson {
                kind: trigger.kind,
                cron: non_empty(trigger.cron),
            }),
            r#override: p.r#override,
            created_at: p
                .created_at
                .and_then(|t| chrono::DateTime::<chrono::Utc>::from_timestamp(t.seconds, 0))
                .map(|t| t.to_rfc3339()),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ExecutionJson {
    pub id: String,
    pub policy: String,
    /// `pending`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub skipped: u64,
    pub bytes: u64,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub error: Option<String>,
}

impl From<pb::Execution> for ExecutionJson {
    fn from(e: pb::Execution) -> Self {
        let time = |t: Option<prost_types::Timestamp>| {
            t.and_then(|t| {
                chrono::DateTime::<chrono::Utc>::from_timestamp(t.seconds, t.nanos.max(0) as u32)
            })
            .map(|t| t.to_rfc3339())
        };
        ExecutionJson {
            id: e.id,
            policy: e.policy,
            status: e.status,
            total: e.total,
            succeeded: e.succeeded,
            failed: e.failed,
            skipped: e.skipped,
            bytes: e.bytes,
            started_at: time(e.started_at),
            finished_at: time(e.finished_at),
            error: non_empty(e.error),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/replication/policies", request_body = PolicyJson, responses((status = 201, body = PolicyJson), (status = 400)))]
pub async fn create_policy(
    State(s): State<AppState>,
    Authed(p): Authed,
    JsonBody(b): JsonBody<PolicyJson>,
) -> HttpResult<(StatusCode, Json<PolicyJson>)> {
    Ok((
        StatusCode::CREATED,
        Json(ops::create_policy(&s, &p, b.into()).await?.into()),
    ))
}

#[utoipa::path(get, path = "/api/v1/replication/policies", responses((status = 200, body = List<PolicyJson>)))]
pub async fn list_policies(
    State(s): State<AppState>,
    Authed(p): Authed,
) -> HttpResult<Json<List<PolicyJson>>> {
    let items = ops::list_policies(&s, &p)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(List::new(items, String::new())))
}

#[utoipa::path(get, path = "/api/v1/replication/policies/{policy}", responses((status = 200, body = PolicyJson), (status = 404)))]
pub async fn get_policy(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
) -> HttpResult<Json<PolicyJson>> {
    Ok(Json(ops::get_policy(&s, &p, &name).await?.into()))
}

#[utoipa::path(delete, path = "/api/v1/replication/policies/{policy}", responses((status = 204), (status = 404)))]
pub async fn delete_policy(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
) -> HttpResult<StatusCode> {
    ops::delete_policy(&s, &p, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/replication/policies/{policy}/run", responses((status = 202, body = ExecutionJson), (status = 409)))]
pub async fn run_policy(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
) -> HttpResult<(StatusCode, Json<ExecutionJson>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(ops::run_policy(&s, &p, &name).await?.into()),
    ))
}

#[utoipa::path(get, path = "/api/v1/replication/executions/{id}", responses((status = 200, body = ExecutionJson), (status = 404)))]
pub async fn get_execution(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(id): Path<String>,
) -> HttpResult<Json<ExecutionJson>> {
    Ok(Json(ops::get_execution(&s, &p, &id).await?.into()))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ExecutionQuery {
    pub policy: Option<String>,
    pub page_size: Option<i32>,
}

#[utoipa::path(get, path = "/api/v1/replication/executions", params(ExecutionQuery), responses((status = 200, body = List<ExecutionJson>)))]
pub async fn list_executions(
    State(s): State<AppState>,
    Authed(p): Authed,
    Query(q): Query<ExecutionQuery>,
) -> HttpResult<Json<List<ExecutionJson>>> {
    let req = pb::ListExecutionsRequest {
        policy: q.policy.unwrap_or_default(),
        page_size: q.page_size.unwrap_or(0),
        page_token: String::new(),
    };
    let items = ops::list_executions(&s, &p, req)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(List::new(items, String::new())))
}
