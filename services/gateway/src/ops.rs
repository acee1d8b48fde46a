//! Every operation of the gateway, once: authorize, forward to the owning service, audit
//! mutations. The HTTP/JSON and gRPC front ends both call these and nothing else.

use berth_error::{ApiError, ApiResult};
use berth_proto::v1::*;
use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use crate::authn::Principal;
use crate::authz::{authorize, Action};
use crate::state::AppState;
use crate::store::{api_token, audit_event};

const REGISTRY_SERVICE: &str = "registry service";
const DEFAULT_TOKEN_TTL: i64 = 90 * 24 * 3600;
const MAX_TOKEN_TTL: i64 = 3 * 365 * 24 * 3600;

/// A request to an internal service, carrying the caller's principal.
fn request<T>(principal: &Principal, message: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    if let Ok(v) = principal.name.parse() {
        r.metadata_mut()
            .insert(berth_auth::internal::PRINCIPAL_KEY, v);
    }
    r
}

fn from_registry(status: tonic::Status) -> ApiError {
    ApiError::from_status(REGISTRY_SERVICE, &status)
}

/// Records a mutation and its outcome in the audit trail.
async fn audit<T>(
    s: &AppState,
    p: &Principal,
    action: &str,
    resource: &str,
    outcome: &ApiResult<T>,
) {
    let result = match outcome {
        Ok(_) => "ok".to_string(),
        Err(e) => serde_json::to_value(e.code)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_else(|| "error".into()),
    };
    let row = audit_event::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        time: Set(Utc::now()),
        principal: Set(p.name.clone()),
        action: Set(action.to_string()),
        resource: Set(resource.to_string()),
        result: Set(result),
    };
    if let Err(e) = row.insert(&s.db).await {
        tracing::error!(error = %e, action, resource, "could not record audit event");
    }
}

pub async fn create_registry(
    s: &AppState,
    p: &Principal,
    req: CreateRegistryRequest,
) -> ApiResult<Registry> {
    authorize(p, Action::RegistryWrite)?;
    let resource = format!("registries/{}", req.name);
    let out = s
        .registry
        .clone()
        .create_registry(request(p, req))
        .await
        .map(|r| r.into_inner().registry.unwrap_or_default())
        .map_err(from_registry);
    audit(s, p, "registry.create", &resource, &out).await;
    out
}

pub async fn get_registry(s: &AppState, p: &Principal, name: &str) -> ApiResult<Registry> {
    authorize(p, Action::RegistryRead)?;
    let req = GetRegistryRequest {
        name: name.to_string(),
    };
    s.registry
        .clone()
        .get_registry(request(p, req))
        .await
        .map(|r| r.into_inner().registry.unwrap_or_default())
        .map_err(from_registry)
}

pub async fn list_registries(
    s: &AppState,
    p: &Principal,
    req: ListRegistriesRequest,
) -> ApiResult<ListRegistriesResponse> {
    authorize(p, Action::RegistryRead)?;
    s.registry
        .clone()
        .list_registries(request(p, req))
        .await
        .map(|r| r.into_inner())
        .map_err(from_registry)
}

pub async fn update_registry(
    s: &AppState,
    p: &Principal,
    req: UpdateRegistryRequest,
) -> ApiResult<Registry> {
    authorize(p, Action::RegistryWrite)?;
    let resource = format!("registries/{}", req.name);
    let out = s
        .registry
        .clone()
        .update_registry(request(p, req))
        .await
        .map(|r| r.into_inner().registry.unwrap_or_default())
        .map_err(from_registry);
    audit(s, p, "registry.update", &resource, &out).await;
    out
}

pub async fn delete_registry(s: &AppState, p: &Principal, name: &str) -> ApiResult<()> {
    authorize(p, Action::RegistryWrite)?;
    let out = s
        .registry
        .clone()
        .delete_registry(request(
            p,
            DeleteRegistryRequest {
                name: name.to_string(),
            },
        ))
        .await
        .map(|_| ())
        .map_err(from_registry);
    audit(s, p, "registry.delete", &format!("registries/{name}"), &out).await;
    out
}

pub async fn ping_registry(s: &AppState, p: &Principal, name: &str) -> ApiResult<RegistryHealth> {
    authorize(p, Action::RegistryWrite)?;
    let out = s
        .registry
        .clone()
        .ping_registry(request(
            p,
            PingRegistryRequest {
                name: name.to_string(),
            },
        ))
        .await
        .map(|r| r.into_inner().health.unwrap_or_default())
        .map_err(from_registry);
    audit(s, p, "registry.ping", &format!("registries/{name}"), &out).await;
    out
}

pub async fn registry_overview(s: &AppState, p: &Principal, name: &str) -> ApiResult<Overview> {
    authorize(p, Action::RegistryRead)?;
    s.registry
        .clone()
        .get_registry_overview(request(
            p,
            GetRegistryOverviewRequest {
                name: name.to_string(),
            },
        ))
        .await
        .map(|r| r.into_inner().overview.unwrap_or_default())
        .map_err(from_registry)
}

pub async fn platform_overview(
    s: &AppState,
    p: &Principal,
) -> ApiResult<GetPlatformOverviewResponse> {
    authorize(p, Action::PlatformRead)?;
    s.registry
        .clone()
        .get_platform_overview(request(p, GetPlatformOverviewRequest {}))
        .await
        .map(|r| r.into_inner())
        .map_err(from_registry)
}

pub async fn list_repositories(
    s: &AppState,
    p: &Principal,
    req: ListRepositoriesRequest,
) -> ApiResult<ListRepositoriesResponse> {
    authorize(p, Action::RegistryRead)?;
    s.registry
        .clone()
        .list_repositories(request(p, req))
        .await
        .map(|r| r.into_inner())
        .map_err(from_registry)
}

pub async fn list_artifacts(
    s: &AppState,
    p: &Principal,
    req: ListArtifactsRequest,
) -> ApiResult<ListArtifactsResponse> {
    authorize(p, Action::RegistryRead)?;
    s.registry
        .clone()
        .list_artifacts(request(p, req))
        .await
        .map(|r| r.into_inner())
        .map_err(from_registry)
}

/// Mints an API token for `principal`; only its hash is stored.
pub async fn create_token(
    s: &AppState,
    p: &Principal,
    req: CreateTokenRequest,
) -> ApiResult<CreateTokenResponse> {
    authorize(p, Action::TokenCreate)?;
    let name = req.principal.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("principal", "must not be empty"));
    }
    if name.len() > 255 || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ApiError::invalid(
            "principal",
            "must be at most 255 characters without spaces or control characters",
        ));
    }
    let ttl = match req.ttl_seconds {
        0 => DEFAULT_TOKEN_TTL,
        n if (60..=MAX_TOKEN_TTL).contains(&n) => n,
        _ => {
            return Err(ApiError::invalid(
                "ttl_seconds",
                format!("must be between 60 and {MAX_TOKEN_TTL}"),
            ))
        }
    };
    let token = berth_auth::tokens::generate();
    let now = Utc::now();
    let expires_at = now + Duration::seconds(ttl);
    let row = api_token::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        hash: Set(berth_auth::tokens::hash(&token)),
        principal: Set(name.to_string()),
        created_by: Set(p.name.clone()),
        created_at: Set(now),
        expires_at: Set(expires_at),
    };
    let out = row
        .insert(&s.db)
        .await
        .map(|_| CreateTokenResponse {
            token,
            expires_at: Some(prost_types::Timestamp {
                seconds: expires_at.timestamp(),
                nanos: 0,
            }),
        })
        .map_err(|e| {
            tracing::error!(error = %e, "could not store token");
            ApiError::unavailable("gateway database unavailable")
        });
    audit(s, p, "token.create", &format!("principals/{name}"), &out).await;
    out
}

/// The audit trail, newest first.
pub async fn list_audit_events(
    s: &AppState,
    p: &Principal,
    req: ListAuditEventsRequest,
) -> ApiResult<ListAuditEventsResponse> {
    authorize(p, Action::AuditRead)?;
    let size = match req.page_size {
        n if n <= 0 => 100,
        n => n.min(1000) as u64,
    };
    let mut q = audit_event::Entity::find()
        .order_by_desc(audit_event::Column::Id)
        .limit(size + 1);
    if !req.page_token.is_empty() {
        use sea_orm::ColumnTrait;
        q = q.filter(audit_event::Column::Id.lt(req.page_token));
    }
    let mut rows = q.all(&s.db).await.map_err(|e| {
        tracing::error!(error = %e, "audit read failed");
        ApiError::unavailable("gateway database unavailable")
    })?;
    let more = rows.len() as u64 > size;
    rows.truncate(size as usize);
    let next_page_token = if more {
        rows.last().map(|r| r.id.clone()).unwrap_or_default()
    } else {
        String::new()
    };
    Ok(ListAuditEventsResponse {
        events: rows
            .into_iter()
            .map(|r| AuditEvent {
                id: r.id,
                time: Some(prost_types::Timestamp {
                    seconds: r.time.timestamp(),
                    nanos: r.time.timestamp_subsec_nanos() as i32,
                }),
                principal: r.principal,
                action: r.action,
                resource: r.resource,
                result: r.result,
            })
            .collect(),
        next_page_token,
    })
}
