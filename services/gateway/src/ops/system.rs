//! Platform-admin operations of the gateway itself: API tokens and the audit trail.

use berth_error::{ApiError, ApiResult};
use berth_proto::v1::*;
use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::audit;
use crate::authn::Principal;
use crate::authz::{authorize, Action, Owner};
use crate::state::AppState;
use crate::store::{api_token, audit_event};

const DEFAULT_TOKEN_TTL: i64 = 90 * 24 * 3600;
const MAX_TOKEN_TTL: i64 = 3 * 365 * 24 * 3600;

/// Mints an API token for `principal`; only its hash is stored.
pub async fn create_token(
    s: &AppState,
    p: &Principal,
    req: CreateTokenRequest,
) -> ApiResult<CreateTokenResponse> {
    authorize(p, Action::Admin, Owner::Platform, "creating API tokens")?;
    let name = req.principal.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("principal", "must not be empty"));
    }
    if name.starts_with(crate::authn::NAMESPACE_PREFIX)
        || name.starts_with(crate::authn::LOGIN_PREFIX)
    {
        return Err(ApiError::invalid(
            "principal",
            "namespace/… and login/… principals are reserved for registry credentials",
        ));
    }
    berth_error::validate::principal(name).map_err(|m| ApiError::invalid("principal", m))?;
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
        last_used_at: Set(None),
        owner: Set(api_token::owner_of(name)),
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

fn timestamp(t: chrono::DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// Whether `p` may see and revoke `token`: platform admins any, anyone else their own API and
/// login tokens.
fn owns_token(p: &Principal, token: &api_token::Model) -> bool {
    p.platform_admin || (!token.owner.is_empty() && token.owner == p.name)
}

fn token_to_proto(m: api_token::Model) -> ApiToken {
    let kind = if m.principal.starts_with(crate::authn::NAMESPACE_PREFIX) {
        "namespace"
    } else if m.principal.starts_with(crate::authn::LOGIN_PREFIX) {
        "login"
    } else {
        "api"
    };
    ApiToken {
        id: m.id,
        principal: m.principal,
        kind: kind.into(),
        created_by: m.created_by,
        created_at: Some(timestamp(m.created_at)),
        expires_at: Some(timestamp(m.expires_at)),
        last_used_at: m.last_used_at.map(timestamp),
    }
}

/// Stored tokens in creation order (never the tokens themselves): all of them for platform
/// admins, the caller's own for anyone else.
pub async fn list_tokens(
    s: &AppState,
    p: &Principal,
    req: ListTokensRequest,
) -> ApiResult<ListTokensResponse> {
    use sea_orm::ColumnTrait;
    let size = match req.page_size {
        n if n <= 0 => 100,
        n => n.min(1000) as u64,
    };
    let after = s.pages.open(p, "tokens", &req.page_token)?;
    let mut q = api_token::Entity::find()
        .order_by_asc(api_token::Column::Id)
        .limit(size + 1);
    if !after.is_empty() {
        q = q.filter(api_token::Column::Id.gt(after));
    }
    if !p.platform_admin {
        q = q.filter(api_token::Column::Owner.eq(p.name.clone()));
    }
    let mut rows = q.all(&s.db).await.map_err(|e| {
        tracing::error!(error = %e, "token list failed");
        ApiError::unavailable("gateway database unavailable")
    })?;
    let more = rows.len() as u64 > size;
    rows.truncate(size as usize);
    let next = if more {
        rows.last().map(|r| r.id.clone()).unwrap_or_default()
    } else {
        String::new()
    };
    Ok(ListTokensResponse {
        tokens: rows.into_iter().map(token_to_proto).collect(),
        next_page_token: s.pages.seal(p, "tokens", &next),
    })
}

/// Revokes a token at once. Another principal's token does not exist for the caller (404).
pub async fn delete_token(s: &AppState, p: &Principal, id: &str) -> ApiResult<()> {
    let unavailable = |e: sea_orm::DbErr| {
        tracing::error!(error = %e, "token revoke failed");
        ApiError::unavailable("gateway database unavailable")
    };
    let row = api_token::Entity::find_by_id(id.to_string())
        .one(&s.db)
        .await
        .map_err(unavailable)?
        .filter(|r| owns_token(p, r))
        .ok_or_else(|| ApiError::not_found(format!("token {id:?} not found")))?;
    let out = api_token::Entity::delete_by_id(row.id.clone())
        .exec(&s.db)
        .await
        .map(|_| ())
        .map_err(unavailable);
    audit(s, p, "token.delete", &format!("tokens/{id}"), &out).await;
    out
}

/// The audit trail, newest first.
pub async fn list_audit_events(
    s: &AppState,
    p: &Principal,
    req: ListAuditEventsRequest,
) -> ApiResult<ListAuditEventsResponse> {
    authorize(p, Action::Admin, Owner::Platform, "reading the audit trail")?;
    let size = match req.page_size {
        n if n <= 0 => 100,
        n => n.min(1000) as u64,
    };
    let mut q = audit_event::Entity::find()
        .order_by_desc(audit_event::Column::Id)
        .limit(size + 1);
    let after = s.pages.open(p, "audit", &req.page_token)?;
    if !after.is_empty() {
        use sea_orm::ColumnTrait;
        q = q.filter(audit_event::Column::Id.lt(after));
    }
    let mut rows = q.all(&s.db).await.map_err(|e| {
        tracing::error!(error = %e, "audit read failed");
        ApiError::unavailable("gateway database unavailable")
    })?;
    let more = rows.len() as u64 > size;
    rows.truncate(size as usize);
    let next_page_token = if more {
        let last = rows.last().map(|r| r.id.clone()).unwrap_or_default();
        s.pages.seal(p, "audit", &last)
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
