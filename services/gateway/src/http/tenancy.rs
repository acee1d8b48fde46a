//! `/api/v1/workspaces…`, `/api/v1/registries/{registry}/spaces…` and `/api/v1/access/check`.

use axum::extract::{Path, State};
use axum::Json;
use berth_error::ApiError;
use berth_proto::v1 as pb;
use http::StatusCode;

use super::dto::*;
use super::{Authed, Cascade, CascadeQuery, HttpResult, JsonBody, OptionalJsonBody, Paging};
use crate::authn::Principal;
use crate::ops;
use crate::state::AppState;

/// Bound workspaces a principal may see: all for platform admins, else its own.
fn visible(p: &Principal) -> impl Fn(&str) -> bool + '_ {
    move |w| p.platform_admin || p.roles.contains_key(w)
}

/// Create a workspace (a tenant).
#[utoipa::path(post, path = "/api/v1/workspaces", tag = "workspaces", request_body = CreateWorkspaceBody,
    responses((status = 201, description = "The workspace", body = WorkspaceJson), (status = 409, description = "A workspace of that name exists", body = ErrorJson)))]
pub async fn create_workspace(
    State(s): State<AppState>,
    Authed(p): Authed,
    JsonBody(b): JsonBody<CreateWorkspaceBody>,
) -> HttpResult<(StatusCode, Json<WorkspaceJson>)> {
    let req = pb::CreateWorkspaceRequest {
        name: b.name,
        description: b.description,
    };
    Ok((
        StatusCode::CREATED,
        Json(ops::create_workspace(&s, &p, req).await?.into()),
    ))
}

/// List the workspaces the caller belongs to (every one for platform admins).
#[utoipa::path(get, path = "/api/v1/workspaces", tag = "workspaces", params(PageQuery),
    responses((status = 200, description = "One page of workspaces", body = List<WorkspaceJson>)))]
pub async fn list_workspaces(
    State(s): State<AppState>,
    Authed(p): Authed,
    Paging(q): Paging,
) -> HttpResult<Json<List<WorkspaceJson>>> {
    let req = pb::ListWorkspacesRequest {
        page_size: q.page_size.unwrap_or(0),
        page_token: q.page_token.unwrap_or_default(),
    };
    let r = ops::list_workspaces(&s, &p, req).await?;
    Ok(Json(List::new(
        r.workspaces.into_iter().map(Into::into).collect(),
        r.next_page_token,
    )))
}

/// Get a workspace with its namespaces and members.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace}", tag = "workspaces",
    responses((status = 200, description = "The workspace", body = WorkspaceJson)))]
pub async fn get_workspace(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
) -> HttpResult<Json<WorkspaceJson>> {
    Ok(Json(ops::get_workspace(&s, &p, &name).await?.into()))
}

/// Remove a workspace.
///
/// Refused with 412 while spaces are bound to it or registries belong to it, unless `cascade`
/// is true.
#[utoipa::path(delete, path = "/api/v1/workspaces/{workspace}", tag = "workspaces", params(CascadeQuery),
    responses((status = 204, description = "Removed"), (status = 412, description = "Something still depends on the workspace; the message names it", body = ErrorJson)))]
pub async fn delete_workspace(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
    Cascade(cascade): Cascade,
) -> HttpResult<StatusCode> {
    ops::delete_workspace(&s, &p, &name, cascade).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a Kubernetes namespace to a workspace.
///
/// A namespace belongs to at most one workspace.
#[utoipa::path(put, path = "/api/v1/workspaces/{workspace}/namespaces/{namespace}", tag = "workspaces",
    responses((status = 204, description = "Added (or already there)"), (status = 409, description = "The namespace belongs to another workspace", body = ErrorJson)))]
pub async fn add_namespace(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path((w, ns)): Path<(String, String)>,
) -> HttpResult<StatusCode> {
    ops::add_namespace(&s, &p, &w, &ns).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a Kubernetes namespace from a workspace.
#[utoipa::path(delete, path = "/api/v1/workspaces/{workspace}/namespaces/{namespace}", tag = "workspaces",
    responses((status = 204, description = "Removed")))]
pub async fn remove_namespace(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path((w, ns)): Path<(String, String)>,
) -> HttpResult<StatusCode> {
    ops::remove_namespace(&s, &p, &w, &ns).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give a principal a role in a workspace.
#[utoipa::path(put, path = "/api/v1/workspaces/{workspace}/members/{principal}", tag = "workspaces", request_body = MemberBody,
    responses((status = 204, description = "The principal has the role")))]
pub async fn set_member(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path((workspace, principal)): Path<(String, String)>,
    JsonBody(b): JsonBody<MemberBody>,
) -> HttpResult<StatusCode> {
    ops::set_member(
        &s,
        &p,
        pb::SetMemberRequest {
            workspace,
            principal,
            role: b.role,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Take a principal out of a workspace.
#[utoipa::path(delete, path = "/api/v1/workspaces/{workspace}/members/{principal}", tag = "workspaces",
    responses((status = 204, description = "Removed")))]
pub async fn remove_member(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path((w, who)): Path<(String, String)>,
) -> HttpResult<StatusCode> {
    ops::remove_member(&s, &p, &w, &who).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create a registry space.
///
/// A space is a top-level namespace of the registry (a Harbor project); private spaces are
/// pulled only by the namespaces of the workspaces bound to them.
#[utoipa::path(post, path = "/api/v1/registries/{registry}/spaces", tag = "spaces", request_body = CreateSpaceBody,
    responses((status = 201, description = "The space", body = SpaceJson), (status = 409, description = "A space of that name exists", body = ErrorJson)))]
pub async fn create_space(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(registry): Path<String>,
    JsonBody(b): JsonBody<CreateSpaceBody>,
) -> HttpResult<(StatusCode, Json<SpaceJson>)> {
    let req = pb::CreateSpaceRequest {
        registry,
        name: b.name,
        visibility: b.visibility,
        quota_bytes: b.quota_bytes,
        description: b.description,
        scan: b.scan.map(ScanPolicyJson::into_proto),
    };
    let space = ops::create_space(&s, &p, req).await?;
    Ok((
        StatusCode::CREATED,
        Json(SpaceJson::new(space, visible(&p))),
    ))
}

/// List a registry's spaces the caller may see.
#[utoipa::path(get, path = "/api/v1/registries/{registry}/spaces", tag = "spaces", params(PageQuery),
    responses((status = 200, description = "One page of spaces", body = List<SpaceJson>)))]
pub async fn list_spaces(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(registry): Path<String>,
    Paging(q): Paging,
) -> HttpResult<Json<List<SpaceJson>>> {
    let req = pb::ListSpacesRequest {
        registry,
        page_size: q.page_size.unwrap_or(0),
        page_token: q.page_token.unwrap_or_default(),
    };
    let r = ops::list_spaces(&s, &p, req).await?;
    Ok(Json(List::new(
        r.spaces
            .into_iter()
            .map(|sp| SpaceJson::new(sp, visible(&p)))
            .collect(),
        r.next_page_token,
    )))
}

/// Get a space.
#[utoipa::path(get, path = "/api/v1/registries/{registry}/spaces/{space}", tag = "spaces",
    responses((status = 200, description = "The space", body = SpaceJson)))]
pub async fn get_space(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path((registry, name)): Path<(String, String)>,
) -> HttpResult<Json<SpaceJson>> {
    let space = ops::get_space(&s, &p, &registry, &name).await?;
    Ok(Json(SpaceJson::new(space, visible(&p))))
}

/// Change a space's visibility, quota, description or scan policy.
#[utoipa::path(patch, path = "/api/v1/registries/{registry}/spaces/{space}", tag = "spaces", request_body = UpdateSpaceBody,
    responses((status = 200, description = "The space as stored", body = SpaceJson)))]
pub async fn update_space(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path((registry, name)): Path<(String, String)>,
    JsonBody(b): JsonBody<UpdateSpaceBody>,
) -> HttpResult<Json<SpaceJson>> {
    if b.visibility.as_deref() == Some("") {
        return Err(ApiError::invalid("visibility", "must be public or private").into());
    }
    let req = pb::UpdateSpaceRequest {
        registry,
        name,
        visibility: b.visibility,
        quota_bytes: b.quota_bytes,
        description: b.description,
        clear_scan: matches!(b.scan, Some(None)),
        scan: b.scan.flatten().map(ScanPolicyJson::into_proto),
    };
    let space = ops::update_space(&s, &p, req).await?;
    Ok(Json(SpaceJson::new(space, visible(&p))))
}

/// Remove a space (its bindings go with it).
#[utoipa::path(delete, path = "/api/v1/registries/{registry}/spaces/{space}", tag = "spaces",
    responses((status = 204, description = "Removed")))]
pub async fn delete_space(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path((registry, name)): Path<(String, String)>,
) -> HttpResult<StatusCode> {
    ops::delete_space(&s, &p, &registry, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List the workspaces a space is bound to.
#[utoipa::path(get, path = "/api/v1/registries/{registry}/spaces/{space}/bindings", tag = "spaces",
    responses((status = 200, description = "The bindings the caller may see", body = List<BindingJson>)))]
pub async fn list_bindings(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path((registry, space)): Path<(String, String)>,
) -> HttpResult<Json<List<BindingJson>>> {
    let bindings = ops::list_bindings(&s, &p, &registry, &space).await?;
    Ok(Json(List::new(
        bindings.into_iter().map(Into::into).collect(),
        String::new(),
    )))
}

/// Bind a space to a workspace.
///
/// The workspace's namespaces may then pull the space's images (and, with `push`, its editors
/// push).
#[utoipa::path(put, path = "/api/v1/registries/{registry}/spaces/{space}/bindings/{workspace}", tag = "spaces",
    request_body(content = Option<BindBody>, description = "Optional: without a body the binding grants pull"),
    responses((status = 200, description = "The binding", body = BindingJson)))]
pub async fn bind_space(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path((registry, space, workspace)): Path<(String, String, String)>,
    OptionalJsonBody(body): OptionalJsonBody<BindBody>,
) -> HttpResult<Json<BindingJson>> {
    Ok(Json(
        ops::bind(
            &s,
            &p,
            pb::BindRequest {
                registry,
                space,
                workspace,
                push: body.push,
            },
        )
        .await?
        .into(),
    ))
}

/// Unbind a space from a workspace.
///
/// The workspace's namespaces lose pull within a second.
#[utoipa::path(delete, path = "/api/v1/registries/{registry}/spaces/{space}/bindings/{workspace}", tag = "spaces",
    responses((status = 204, description = "Unbound")))]
pub async fn unbind_space(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path((registry, space, workspace)): Path<(String, String, String)>,
) -> HttpResult<StatusCode> {
    ops::unbind(
        &s,
        &p,
        pb::UnbindRequest {
            registry,
            space,
            workspace,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ask whether a Kubernetes namespace may pull an image.
///
/// Answers `allowed` with the reason; unknown registries and spaces are denials, not errors.
#[utoipa::path(post, path = "/api/v1/access/check", tag = "access", request_body = AccessCheckBody,
    responses((status = 200, description = "The decision", body = AccessJson)))]
pub async fn check_access(
    State(s): State<AppState>,
    Authed(p): Authed,
    JsonBody(b): JsonBody<AccessCheckBody>,
) -> HttpResult<Json<AccessJson>> {
    let r = ops::check_pull(
        &s,
        &p,
        pb::CheckPullRequest {
            namespace: b.namespace,
            image: b.image,
            ..Default::default()
        },
    )
    .await?;
    Ok(Json(AccessJson {
        allowed: r.allowed,
        reason: r.reason,
    }))
}

/// Issue a pull secret for a namespace.
///
/// A `kubernetes.io/dockerconfigjson` Secret with new pull credentials for every registry the
/// namespace may pull from.
#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/pull-secret", tag = "access",
    responses((status = 200, description = "The Secret", body = PullSecretJson)))]
pub async fn issue_pull_secret(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(ns): Path<String>,
) -> HttpResult<Json<serde_json::Value>> {
    Ok(Json(ops::pull_secret(&s, &p, &ns).await?))
}

/// Issue a short-lived `docker login` credential for a registry.
#[utoipa::path(post, path = "/api/v1/registries/{registry}/login-command", tag = "access",
    responses((status = 200, description = "The credential and the command", body = LoginCommandJson),
        (status = 412, description = "The registry does not delegate its auth to Berth", body = ErrorJson)))]
pub async fn login_command(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(registry): Path<String>,
) -> HttpResult<Json<serde_json::Value>> {
    Ok(Json(ops::login_command(&s, &p, &registry).await?))
}

/// Revoke every pull credential of a namespace.
#[utoipa::path(delete, path = "/api/v1/namespaces/{namespace}/pull-secret", tag = "access",
    responses((status = 204, description = "Revoked")))]
pub async fn revoke_pull_secret(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(ns): Path<String>,
) -> HttpResult<StatusCode> {
    ops::revoke_pull_secret(&s, &p, &ns).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List the images a namespace may pull, with their tags and digests.
#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/images", tag = "access", params(PageQuery),
    responses((status = 200, description = "One page of repositories", body = List<VisibleImageJson>)))]
pub async fn list_images(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(namespace): Path<String>,
    Paging(q): Paging,
) -> HttpResult<Json<List<VisibleImageJson>>> {
    let req = pb::ListVisibleImagesRequest {
        namespace,
        page_size: q.page_size.unwrap_or(0),
        page_token: q.page_token.unwrap_or_default(),
    };
    let r = ops::list_visible_images(&s, &p, req).await?;
    let items = r
        .repositories
        .into_iter()
        .map(|v| VisibleImageJson {
            image: format!("{}/{}", v.host, v.repository),
            registry: v.registry,
            space: v.space,
            repository: v.repository,
            tags: v
                .tags
                .into_iter()
                .map(|t| VisibleTagJson {
                    tag: t.tag,
                    digest: t.digest,
                    vulnerabilities: t.vulnerabilities.map(Into::into),
                })
                .collect(),
        })
        .collect();
    Ok(Json(List::new(items, r.next_page_token)))
}

/// Import a registry's existing top-level namespaces (Harbor projects) as spaces.
#[utoipa::path(post, path = "/api/v1/registries/{registry}/import-spaces", tag = "spaces",
    responses((status = 200, description = "The spaces created", body = List<SpaceJson>)))]
pub async fn import_spaces(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(registry): Path<String>,
) -> HttpResult<Json<List<SpaceJson>>> {
    let imported = ops::import_spaces(&s, &p, &registry).await?;
    Ok(Json(List::new(
        imported
            .into_iter()
            .map(|sp| SpaceJson::new(sp, visible(&p)))
            .collect(),
        String::new(),
    )))
}
