//! Authentication: who is calling. Bearer tokens only: the bootstrap admin token, or a Berth
//! API token (looked up by its hash, refused once expired).

use std::collections::BTreeMap;

use berth_auth::internal::constant_time_eq;
use berth_auth::tokens;
use berth_error::{ApiError, ApiResult};
use berth_proto::v1::ListRolesRequest;
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::state::AppState;
use crate::store::api_token;

/// Name of the principal the bootstrap admin token stands for.
pub const BOOTSTRAP_PRINCIPAL: &str = "admin";

/// Principals of namespace pull credentials: `namespace/NS`. They authenticate only at the
/// registry token service, never at the API.
pub const NAMESPACE_PREFIX: &str = "namespace/";

/// Principals of short-lived registry logins: `login/REGISTRY/PRINCIPAL` (valid at that
/// registry only).
pub const LOGIN_PREFIX: &str = "login/";

/// An authenticated caller and its role in each of its workspaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub platform_admin: bool,
    pub roles: BTreeMap<String, String>,
}

/// The workspace roles of `name`, from the space service.
async fn roles_of(state: &AppState, name: &str) -> ApiResult<BTreeMap<String, String>> {
    let req = ListRolesRequest {
        principal: name.to_string(),
    };
    let roles = state
        .space
        .workspaces
        .clone()
        .list_roles(req)
        .await
        .map_err(berth_runtime::clients::space_error)?
        .into_inner()
        .roles;
    Ok(roles.into_iter().map(|r| (r.workspace, r.role)).collect())
}

/// The bearer token of an `Authorization` header value.
pub fn bearer(header: Option<&str>) -> ApiResult<&str> {
    let header = header.ok_or_else(|| ApiError::unauthenticated("missing bearer token"))?;
    let (scheme, token) = header
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthenticated("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthenticated(
            "Authorization must be a bearer token",
        ));
    }
    Ok(token.trim())
}

/// Resolves the caller from an `Authorization` header value. Only API tokens (and the bootstrap
/// token) open the API; pull and login credentials work only at registries.
pub async fn authenticate(state: &AppState, header: Option<&str>) -> ApiResult<Principal> {
    let token = bearer(header)?;
    if constant_time_eq(token.as_bytes(), state.admin_token.as_bytes()) {
        return Ok(Principal {
            name: BOOTSTRAP_PRINCIPAL.into(),
            platform_admin: true,
            roles: BTreeMap::new(),
        });
    }
    match principal_of_token(state, token).await? {
        (principal, TokenKind::Api) => Ok(principal),
        _ => Err(ApiError::unauthenticated(
            "registry credentials authenticate only at registries",
        )),
    }
}

/// What a stored token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// The API (and registries) as its principal.
    Api,
    /// A namespace's pull credential (`namespace/NS`): registries only.
    NamespacePull,
    /// A person's short-lived login (`login/REGISTRY/PRINCIPAL`): that registry only, so a
    /// registry that harvests it (a workspace's own, at a URL it controls) gains nothing
    /// elsewhere.
    Login { registry: String },
}

/// Records that `row` was used, at most once a minute and off the request's path.
fn record_use(state: &AppState, row: &api_token::Model) {
    let now = Utc::now();
    if row
        .last_used_at
        .is_some_and(|t| now - t < chrono::Duration::seconds(60))
    {
        return;
    }
    let (db, id) = (state.db.clone(), row.id.clone());
    tokio::spawn(async move {
        let updated = api_token::Entity::update_many()
            .col_expr(
                api_token::Column::LastUsedAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(api_token::Column::Id.eq(id))
            .exec(&db)
            .await;
        if let Err(e) = updated {
            tracing::warn!(error = %e, "could not record token use");
        }
    });
}

/// The principal a stored token stands for (roles included) and what the token is for, or
/// `Unauthenticated`.
pub async fn principal_of_token(
    state: &AppState,
    token: &str,
) -> ApiResult<(Principal, TokenKind)> {
    if !token.starts_with(tokens::API_TOKEN_PREFIX) {
        return Err(ApiError::unauthenticated("invalid token"));
    }
    let row = api_token::Entity::find()
        .filter(api_token::Column::Hash.eq(tokens::hash(token)))
        .one(&state.db)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "token lookup failed");
            ApiError::unavailable("gateway database unavailable")
        })?
        .ok_or_else(|| ApiError::unauthenticated("invalid token"))?;
    if row.expires_at <= Utc::now() {
        return Err(ApiError::unauthenticated("token expired"));
    }
    record_use(state, &row);
    let (name, kind) = if row.principal.starts_with(NAMESPACE_PREFIX) {
        let p = Principal {
            name: row.principal,
            platform_admin: false,
            roles: BTreeMap::new(),
        };
        return Ok((p, TokenKind::NamespacePull));
    } else if let Some(rest) = row.principal.strip_prefix(LOGIN_PREFIX) {
        let (registry, person) = rest
            .split_once('/')
            .ok_or_else(|| ApiError::unauthenticated("invalid token"))?;
        (
            person.to_string(),
            TokenKind::Login {
                registry: registry.to_string(),
            },
        )
    } else {
        (row.principal, TokenKind::Api)
    };
    let platform_admin = name == BOOTSTRAP_PRINCIPAL || state.platform_admins.contains(&name);
    let roles = if platform_admin {
        BTreeMap::new()
    } else {
        roles_of(state, &name).await?
    };
    Ok((
        Principal {
            roles,
            platform_admin,
            name,
        },
        kind,
    ))
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn only_bearer_tokens_are_accepted() {
        assert_eq!(bearer(Some("Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer(Some("bearer  abc ")).unwrap(), "abc");
        for bad in [
            None,
            Some("Basic YTpi"),
            Some("Bearer"),
            Some("Bearer   "),
            Some("abc"),
        ] {
            assert!(bearer(bad).is_err(), "{bad:?}");
        }
    }
}
