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
        .map_err(|s| ApiError::from_status("space service", &s))?
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

/// Resolves the caller from an `Authorization` header value.
pub async fn authenticate(state: &AppState, header: Option<&str>) -> ApiResult<Principal> {
    let token = bearer(header)?;
    if constant_time_eq(token.as_bytes(), state.admin_token.as_bytes()) {
        return Ok(Principal {
            name: BOOTSTRAP_PRINCIPAL.into(),
            platform_admin: true,
            roles: BTreeMap::new(),
        });
    }
    let principal = principal_of_token(state, token).await?;
    if principal.name.starts_with(NAMESPACE_PREFIX) {
        return Err(ApiError::unauthenticated(
            "pull credentials authenticate only at registries",
        ));
    }
    Ok(principal)
}

/// The principal an API token stands for (roles included), or `Unauthenticated`.
pub async fn principal_of_token(state: &AppState, token: &str) -> ApiResult<Principal> {
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
    let platform_admin =
        row.principal == BOOTSTRAP_PRINCIPAL || state.platform_admins.contains(&row.principal);
    let roles = if platform_admin || row.principal.starts_with(NAMESPACE_PREFIX) {
        BTreeMap::new()
    } else {
        roles_of(state, &row.principal).await?
    };
    Ok(Principal {
        roles,
        platform_admin,
        name: row.principal,
    })
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
