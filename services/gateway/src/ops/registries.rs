//! Registry operations: platform registries are readable by every authenticated principal and
//! changed by platform admins; a workspace's own registries belong to its members.

use berth_error::{ApiError, ApiResult};
use berth_proto::v1::*;

use super::{filtered_page, forward, registry_error, request, visible, Visible};
use crate::authn::Principal;
use crate::authz::{authorize, Action, Owner};
use crate::state::AppState;

/// Reads a registry without authorization (callers authorize against its owner).
async fn fetch(s: &AppState, p: &Principal, name: &str) -> ApiResult<Registry> {
    s.registry
        .clone()
        .get_registry(request(
            p,
            GetRegistryRequest {
                name: name.to_string(),
            },
        ))
        .await
        .map(|r| r.into_inner().registry.unwrap_or_default())
        .map_err(registry_error)
}

/// Reads a registry and authorizes `action` on it.
async fn authorized(
    s: &AppState,
    p: &Principal,
    name: &str,
    action: Action,
) -> ApiResult<Registry> {
    let r = fetch(s, p, name).await?;
    authorize(
        p,
        action,
        Owner::of(&r.workspace),
        &format!("registry {name:?}"),
    )?;
    Ok(r)
}

pub async fn create_registry(
    s: &AppState,
    p: &Principal,
    req: CreateRegistryRequest,
) -> ApiResult<Registry> {
    authorize(p, Action::Manage, Owner::of(&req.workspace), "registries")?;
    let resource = format!("registries/{}", req.name);
    forward(
        s,
        p,
        "registry.create",
        &resource,
        s.registry.clone().create_registry(request(p, req)),
        registry_error,
        |r| r.registry.unwrap_or_default(),
    )
    .await
}

pub async fn get_registry(s: &AppState, p: &Principal, name: &str) -> ApiResult<Registry> {
    authorized(s, p, name, Action::Read).await
}

pub async fn list_registries(
    s: &AppState,
    p: &Principal,
    req: ListRegistriesRequest,
) -> ApiResult<ListRegistriesResponse> {
    let (registries, next_page_token) = filtered_page(
        s,
        p,
        "registries",
        &req.page_token,
        |page_token| {
            let req = ListRegistriesRequest {
                page_token,
                ..req.clone()
            };
            async move {
                let r = s
                    .registry
                    .clone()
                    .list_registries(request(p, req))
                    .await
                    .map_err(registry_error)?
                    .into_inner();
                Ok((r.registries, r.next_page_token))
            }
        },
        |r: &Registry| authorize(p, Action::Read, Owner::of(&r.workspace), "registry").is_ok(),
    )
    .await?;
    Ok(ListRegistriesResponse {
        registries,
        next_page_token,
    })
}

pub async fn update_registry(
    s: &AppState,
    p: &Principal,
    req: UpdateRegistryRequest,
) -> ApiResult<Registry> {
    authorized(s, p, &req.name, Action::Manage).await?;
    let resource = format!("registries/{}", req.name);
    forward(
        s,
        p,
        "registry.update",
        &resource,
        s.registry.clone().update_registry(request(p, req)),
        registry_error,
        |r| r.registry.unwrap_or_default(),
    )
    .await
}

/// A new secret for the registry's notifications, answered once; the old one stops working.
pub async fn rotate_hook_secret(
    s: &AppState,
    p: &Principal,
    req: RotateHookSecretRequest,
) -> ApiResult<RotateHookSecretResponse> {
    authorized(s, p, &req.registry, Action::Manage).await?;
    let resource = format!("registries/{}/hook-secret", req.registry);
    let req_registry = req.registry.clone();
    s.hook_secrets.forget(&req_registry);
    forward(
        s,
        p,
        "hook_secret.rotate",
        &resource,
        s.registry.clone().rotate_hook_secret(request(p, req)),
        registry_error,
        |r| r,
    )
    .await
}

pub async fn ping_registry(s: &AppState, p: &Principal, name: &str) -> ApiResult<RegistryHealth> {
    authorized(s, p, name, Action::Manage).await?;
    forward(
        s,
        p,
        "registry.ping",
        &format!("registries/{name}"),
        s.registry.clone().ping_registry(request(
            p,
            PingRegistryRequest {
                name: name.to_string(),
            },
        )),
        registry_error,
        |r| r.health.unwrap_or_default(),
    )
    .await
}

pub async fn registry_overview(s: &AppState, p: &Principal, name: &str) -> ApiResult<Overview> {
    let r = authorized(s, p, name, Action::Read).await?;
    // Counts only what the principal may see.
    let (spaces, only_spaces) = match visible(s, p, &r).await? {
        Visible::All => (Vec::new(), false),
        Visible::Spaces(set) => (set.into_iter().collect(), true),
    };
    s.registry
        .clone()
        .get_registry_overview(request(
            p,
            GetRegistryOverviewRequest {
                name: name.to_string(),
                spaces,
                only_spaces,
                ..Default::default()
            },
        ))
        .await
        .map(|r| r.into_inner().overview.unwrap_or_default())
        .map_err(registry_error)
}

pub async fn platform_overview(
    s: &AppState,
    p: &Principal,
) -> ApiResult<GetPlatformOverviewResponse> {
    authorize(p, Action::Admin, Owner::Platform, "the platform overview")?;
    s.registry
        .clone()
        .get_platform_overview(request(p, GetPlatformOverviewRequest {}))
        .await
        .map(|r| r.into_inner())
        .map_err(registry_error)
}

pub async fn list_repositories(
    s: &AppState,
    p: &Principal,
    req: ListRepositoriesRequest,
) -> ApiResult<ListRepositoriesResponse> {
    let r = authorized(s, p, &req.registry, Action::Read).await?;
    let seen = visible(s, p, &r).await?;
    if !req.space.is_empty() && !seen.space(&req.space) {
        return Err(ApiError::not_found(format!(
            "space {}/{} not found",
            req.registry, req.space
        )));
    }
    let (repositories, next_page_token) = filtered_page(
        s,
        p,
        &format!("repositories/{}/{}", req.registry, req.space),
        &req.page_token,
        |page_token| {
            let req = ListRepositoriesRequest {
                page_token,
                ..req.clone()
            };
            async move {
                let r = s
                    .registry
                    .clone()
                    .list_repositories(request(p, req))
                    .await
                    .map_err(registry_error)?
                    .into_inner();
                Ok((r.repositories, r.next_page_token))
            }
        },
        |repo: &Repository| seen.repository(&repo.name),
    )
    .await?;
    Ok(ListRepositoriesResponse {
        repositories,
        next_page_token,
    })
}

pub async fn list_artifacts(
    s: &AppState,
    p: &Principal,
    mut req: ListArtifactsRequest,
) -> ApiResult<ListArtifactsResponse> {
    let list = format!("artifacts/{}/{}", req.registry, req.repository);
    let r = authorized(s, p, &req.registry, Action::Read).await?;
    visible(s, p, &r)
        .await?
        .require_repository(&req.registry, &req.repository)?;
    req.page_token = s.pages.open(p, &list, &req.page_token)?;
    let mut out = s
        .registry
        .clone()
        .list_artifacts(request(p, req))
        .await
        .map(|r| r.into_inner())
        .map_err(registry_error)?;
    out.next_page_token = s.pages.seal(p, &list, &out.next_page_token);
    let mut known = super::summaries(
        s,
        p,
        out.artifacts.iter().map(|a| a.digest.clone()).collect(),
    )
    .await;
    for a in &mut out.artifacts {
        a.vulnerabilities = known.remove(&a.digest);
    }
    Ok(out)
}
