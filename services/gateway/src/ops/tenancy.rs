//! Workspaces, namespaces, members, spaces, bindings and the access check.

use berth_error::{ApiError, ApiResult};
use berth_proto::v1::*;

use super::{filtered_page, forward, namespace_workspace, request, space_error};
use crate::authn::Principal;
use crate::authz::{authorize, authorize_space, Action, Owner};
use crate::state::AppState;

// --- workspaces -----------------------------------------------------------------------------

pub async fn create_workspace(
    s: &AppState,
    p: &Principal,
    req: CreateWorkspaceRequest,
) -> ApiResult<Workspace> {
    authorize(p, Action::Admin, Owner::Platform, "creating workspaces")?;
    let resource = format!("workspaces/{}", req.name);
    forward(
        s,
        p,
        "workspace.create",
        &resource,
        s.space.workspaces.clone().create_workspace(request(p, req)),
        space_error,
        |r| r.workspace.unwrap_or_default(),
    )
    .await
}

pub async fn get_workspace(s: &AppState, p: &Principal, name: &str) -> ApiResult<Workspace> {
    authorize(
        p,
        Action::Read,
        Owner::Workspace(name),
        &format!("workspace {name:?}"),
    )?;
    s.space
        .workspaces
        .clone()
        .get_workspace(request(p, GetWorkspaceRequest { name: name.into() }))
        .await
        .map(|r| r.into_inner().workspace.unwrap_or_default())
        .map_err(space_error)
}

/// The workspaces the principal belongs to (all of them for platform admins).
pub async fn list_workspaces(
    s: &AppState,
    p: &Principal,
    req: ListWorkspacesRequest,
) -> ApiResult<ListWorkspacesResponse> {
    let (workspaces, next_page_token) = filtered_page(
        s,
        p,
        "workspaces",
        &req.page_token,
        |page_token| {
            let req = ListWorkspacesRequest {
                page_token,
                ..req.clone()
            };
            async move {
                let r = s
                    .space
                    .workspaces
                    .clone()
                    .list_workspaces(request(p, req))
                    .await
                    .map_err(space_error)?
                    .into_inner();
                Ok((r.workspaces, r.next_page_token))
            }
        },
        |w: &Workspace| authorize(p, Action::Read, Owner::Workspace(&w.name), "workspace").is_ok(),
    )
    .await?;
    Ok(ListWorkspacesResponse {
        workspaces,
        next_page_token,
    })
}

/// Assigning Kubernetes namespaces is the platform's: a workspace must not claim another's.
pub async fn add_namespace(
    s: &AppState,
    p: &Principal,
    workspace: &str,
    namespace: &str,
) -> ApiResult<()> {
    authorize(p, Action::Admin, Owner::Platform, "assigning namespaces")?;
    let req = AddNamespaceRequest {
        workspace: workspace.into(),
        namespace: namespace.into(),
    };
    forward(
        s,
        p,
        "namespace.add",
        &format!("workspaces/{workspace}/namespaces/{namespace}"),
        s.space.workspaces.clone().add_namespace(request(p, req)),
        space_error,
        |_| (),
    )
    .await
}

pub async fn remove_namespace(
    s: &AppState,
    p: &Principal,
    workspace: &str,
    namespace: &str,
) -> ApiResult<()> {
    authorize(p, Action::Admin, Owner::Platform, "assigning namespaces")?;
    let req = RemoveNamespaceRequest {
        workspace: workspace.into(),
        namespace: namespace.into(),
    };
    forward(
        s,
        p,
        "namespace.remove",
        &format!("workspaces/{workspace}/namespaces/{namespace}"),
        s.space.workspaces.clone().remove_namespace(request(p, req)),
        space_error,
        |_| (),
    )
    .await
}

pub async fn set_member(s: &AppState, p: &Principal, req: SetMemberRequest) -> ApiResult<()> {
    authorize(
        p,
        Action::Manage,
        Owner::Workspace(&req.workspace),
        &format!("workspace {:?}", req.workspace),
    )?;
    let resource = format!("workspaces/{}/members/{}", req.workspace, req.principal);
    forward(
        s,
        p,
        "member.set",
        &resource,
        s.space.workspaces.clone().set_member(request(p, req)),
        space_error,
        |_| (),
    )
    .await
}

pub async fn remove_member(
    s: &AppState,
    p: &Principal,
    workspace: &str,
    principal: &str,
) -> ApiResult<()> {
    authorize(
        p,
        Action::Manage,
        Owner::Workspace(workspace),
        &format!("workspace {workspace:?}"),
    )?;
    let req = RemoveMemberRequest {
        workspace: workspace.into(),
        principal: principal.into(),
    };
    forward(
        s,
        p,
        "member.remove",
        &format!("workspaces/{workspace}/members/{principal}"),
        s.space.workspaces.clone().remove_member(request(p, req)),
        space_error,
        |_| (),
    )
    .await
}

// --- spaces ---------------------------------------------------------------------------------

/// The workspace owning a registry (empty for the platform), hiding registries the principal
/// may not see.
async fn registry_owner(s: &AppState, p: &Principal, registry: &str) -> ApiResult<String> {
    let r = super::fetch_registry(s, p, registry).await?;
    authorize(
        p,
        Action::Read,
        Owner::of(&r.workspace),
        &format!("registry {registry:?}"),
    )?;
    Ok(r.workspace)
}

async fn fetch_space(s: &AppState, p: &Principal, registry: &str, name: &str) -> ApiResult<Space> {
    s.space
        .spaces
        .clone()
        .get_space(request(
            p,
            GetSpaceRequest {
                registry: registry.into(),
                name: name.into(),
            },
        ))
        .await
        .map(|r| r.into_inner().space.unwrap_or_default())
        .map_err(space_error)
}

/// Reads a space and authorizes `action` on it.
pub(crate) async fn authorized_space(
    s: &AppState,
    p: &Principal,
    registry: &str,
    name: &str,
    action: Action,
) -> ApiResult<Space> {
    let owner = registry_owner(s, p, registry).await?;
    let space = fetch_space(s, p, registry, name).await?;
    authorize_space(p, action, Owner::of(&owner), &space)?;
    Ok(space)
}

pub async fn create_space(
    s: &AppState,
    p: &Principal,
    req: CreateSpaceRequest,
) -> ApiResult<Space> {
    let owner = registry_owner(s, p, &req.registry).await?;
    authorize(
        p,
        Action::Manage,
        Owner::of(&owner),
        &format!("spaces of registry {:?}", req.registry),
    )?;
    // Public visibility is the platform's to grant: it opens the space to every namespace.
    if req.visibility == "public" {
        authorize(p, Action::Admin, Owner::Platform, "making a space public")?;
    }
    let resource = format!("registries/{}/spaces/{}", req.registry, req.name);
    forward(
        s,
        p,
        "space.create",
        &resource,
        s.space.spaces.clone().create_space(request(p, req)),
        space_error,
        |r| r.space.unwrap_or_default(),
    )
    .await
}

pub async fn get_space(
    s: &AppState,
    p: &Principal,
    registry: &str,
    name: &str,
) -> ApiResult<Space> {
    authorized_space(s, p, registry, name, Action::Read).await
}

/// Spaces of a registry the principal may see.
pub async fn list_spaces(
    s: &AppState,
    p: &Principal,
    req: ListSpacesRequest,
) -> ApiResult<ListSpacesResponse> {
    let owner = registry_owner(s, p, &req.registry).await?;
    let (spaces, next_page_token) = filtered_page(
        s,
        p,
        &format!("spaces/{}", req.registry),
        &req.page_token,
        |page_token| {
            let req = ListSpacesRequest {
                page_token,
                ..req.clone()
            };
            async move {
                let r = s
                    .space
                    .spaces
                    .clone()
                    .list_spaces(request(p, req))
                    .await
                    .map_err(space_error)?
                    .into_inner();
                Ok((r.spaces, r.next_page_token))
            }
        },
        |sp: &Space| authorize_space(p, Action::Read, Owner::of(&owner), sp).is_ok(),
    )
    .await?;
    Ok(ListSpacesResponse {
        spaces,
        next_page_token,
    })
}

pub async fn update_space(
    s: &AppState,
    p: &Principal,
    req: UpdateSpaceRequest,
) -> ApiResult<Space> {
    let owner = registry_owner(s, p, &req.registry).await?;
    let space = fetch_space(s, p, &req.registry, &req.name).await?;
    authorize_space(p, Action::Manage, Owner::of(&owner), &space)?;
    // Public visibility is the platform's to grant: it opens the space to every namespace.
    if req.visibility.as_deref() == Some("public") && space.visibility != "public" {
        authorize(p, Action::Admin, Owner::Platform, "making a space public")?;
    }
    let resource = format!("registries/{}/spaces/{}", req.registry, req.name);
    forward(
        s,
        p,
        "space.update",
        &resource,
        s.space.spaces.clone().update_space(request(p, req)),
        space_error,
        |r| r.space.unwrap_or_default(),
    )
    .await
}

pub async fn delete_space(
    s: &AppState,
    p: &Principal,
    registry: &str,
    name: &str,
) -> ApiResult<()> {
    authorized_space(s, p, registry, name, Action::Manage).await?;
    let req = DeleteSpaceRequest {
        registry: registry.into(),
        name: name.into(),
        keep_project: false,
    };
    forward(
        s,
        p,
        "space.delete",
        &format!("registries/{registry}/spaces/{name}"),
        s.space.spaces.clone().delete_space(request(p, req)),
        space_error,
        |_| (),
    )
    .await
}

// --- bindings -------------------------------------------------------------------------------

/// Bindings of a space; principals who do not manage it see only their own workspaces'.
pub async fn list_bindings(
    s: &AppState,
    p: &Principal,
    registry: &str,
    space: &str,
) -> ApiResult<Vec<Binding>> {
    let owner = registry_owner(s, p, registry).await?;
    let sp = fetch_space(s, p, registry, space).await?;
    authorize_space(p, Action::Read, Owner::of(&owner), &sp)?;
    let manages = authorize(p, Action::Manage, Owner::of(&owner), "space").is_ok();
    let req = ListBindingsRequest {
        registry: registry.into(),
        space: space.into(),
    };
    let mut bindings = s
        .space
        .bindings
        .clone()
        .list_bindings(request(p, req))
        .await
        .map_err(space_error)?
        .into_inner()
        .bindings;
    if !manages {
        bindings.retain(|b| p.roles.contains_key(&b.workspace));
    }
    Ok(bindings)
}

pub async fn bind(s: &AppState, p: &Principal, req: BindRequest) -> ApiResult<Binding> {
    authorized_space(s, p, &req.registry, &req.space, Action::Manage).await?;
    let resource = format!(
        "registries/{}/spaces/{}/bindings/{}",
        req.registry, req.space, req.workspace
    );
    forward(
        s,
        p,
        "binding.create",
        &resource,
        s.space.bindings.clone().bind(request(p, req)),
        space_error,
        |r| r.binding.unwrap_or_default(),
    )
    .await
}

pub async fn unbind(s: &AppState, p: &Principal, req: UnbindRequest) -> ApiResult<()> {
    authorized_space(s, p, &req.registry, &req.space, Action::Manage).await?;
    let resource = format!(
        "registries/{}/spaces/{}/bindings/{}",
        req.registry, req.space, req.workspace
    );
    forward(
        s,
        p,
        "binding.delete",
        &resource,
        s.space.bindings.clone().unbind(request(p, req)),
        space_error,
        |_| (),
    )
    .await
}

// --- access ---------------------------------------------------------------------------------

/// Whether `namespace` may pull `image`. Members of the namespace's workspace may ask; to
/// anyone else the namespace does not exist. Answers come from the access cache when they can.
pub async fn check_pull(
    s: &AppState,
    p: &Principal,
    req: CheckPullRequest,
) -> ApiResult<CheckPullResponse> {
    if req.namespace.is_empty() {
        return Err(ApiError::invalid("namespace", "is required"));
    }
    if req.image.is_empty() {
        return Err(ApiError::invalid("image", "is required"));
    }
    // Platform admins may ask about any namespace; the space service answers 404 for unknown ones.
    if !p.platform_admin {
        namespace_workspace(s, p, &req.namespace).await?;
    }
    decide_pull(s, p, req).await
}

/// The access rule's answer for `req`, from the access cache when it can (after authorizing the
/// caller: this asks nothing of `p`). The admission webhook's questions (namespaces of no
/// workspace judged as such) are cached apart from the API's.
pub async fn decide_pull(
    s: &AppState,
    p: &Principal,
    req: CheckPullRequest,
) -> ApiResult<CheckPullResponse> {
    let key = if req.allow_unknown_namespace {
        format!("admission:{}", req.namespace)
    } else {
        req.namespace.clone()
    };
    if let Some(d) = s.access_cache.get(&key, &req.image).await {
        metrics::counter!("berth_access_cache_hits_total").increment(1);
        return Ok(CheckPullResponse {
            allowed: d.allowed,
            reason: d.reason,
            gate: None,
        });
    }
    metrics::counter!("berth_access_cache_misses_total").increment(1);
    let image = req.image.clone();
    let mut r = s
        .space
        .access
        .clone()
        .check_pull(request(p, req))
        .await
        .map_err(space_error)?
        .into_inner();
    // The space's part allows; a space with a severity gate leaves the last word to its
    // reports. A gated answer is cached briefly: a push may move the tag to another digest.
    let mut ttl = crate::access_cache::DECISION_TTL;
    if let Some(gate) = r.gate.take().filter(|_| r.allowed) {
        let verdict = super::evaluate_gate(s, p, &gate).await?;
        r.allowed = verdict.allowed;
        r.reason = if verdict.allowed {
            format!("{}; {}", r.reason, verdict.reason)
        } else {
            verdict.reason
        };
        ttl = ttl
            .min(crate::access_cache::GATED_TTL)
            .min(std::time::Duration::from_secs(verdict.cache_seconds.into()));
    }
    let decision = crate::access_cache::CachedDecision {
        allowed: r.allowed,
        reason: r.reason.clone(),
    };
    if !ttl.is_zero() {
        s.access_cache.put(&key, &image, &decision, ttl).await;
    }
    Ok(r)
}

/// The image selector: what `namespace` may pull. Members of its workspace may ask.
pub async fn list_visible_images(
    s: &AppState,
    p: &Principal,
    req: ListVisibleImagesRequest,
) -> ApiResult<ListVisibleImagesResponse> {
    // Platform admins may ask about any namespace; the space service answers 404 for unknown ones.
    if !p.platform_admin {
        namespace_workspace(s, p, &req.namespace).await?;
    }
    let list = format!("images/{}", req.namespace);
    let (repositories, next_page_token) = filtered_page(
        s,
        p,
        &list,
        &req.page_token,
        |page_token| {
            let req = ListVisibleImagesRequest {
                page_token,
                ..req.clone()
            };
            async move {
                let r = s
                    .space
                    .access
                    .clone()
                    .list_visible_images(request(p, req))
                    .await
                    .map_err(space_error)?
                    .into_inner();
                Ok((r.repositories, r.next_page_token))
            }
        },
        |_| true,
    )
    .await?;
    let mut repositories = repositories;
    let digests = repositories
        .iter()
        .flat_map(|r| r.tags.iter().map(|t| t.digest.clone()))
        .collect();
    let known = super::summaries(s, p, digests).await;
    for t in repositories.iter_mut().flat_map(|r| r.tags.iter_mut()) {
        t.vulnerabilities = known.get(&t.digest).cloned();
    }
    Ok(ListVisibleImagesResponse {
        repositories,
        next_page_token,
    })
}

/// Records the spaces a registry already has (Harbor projects, first path segments).
pub async fn import_spaces(s: &AppState, p: &Principal, registry: &str) -> ApiResult<Vec<Space>> {
    let owner = registry_owner(s, p, registry).await?;
    authorize(
        p,
        Action::Manage,
        Owner::of(&owner),
        &format!("spaces of registry {registry:?}"),
    )?;
    forward(
        s,
        p,
        "space.import",
        &format!("registries/{registry}/spaces"),
        s.space.spaces.clone().import_spaces(request(
            p,
            ImportSpacesRequest {
                registry: registry.into(),
            },
        )),
        space_error,
        |r| r.imported,
    )
    .await
}
