//! `/api/v1/workspaces…`, `/api/v1/registries/{registry}/spaces…` and `/api/v1/access/check`.

use axum::extract::{Path, State};
use axum::Json;
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

#[utoipa::path(post, path = "/api/v1/workspaces", request_body = CreateWorkspaceBody, responses((status = 201, body = WorkspaceJson)))]
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

#[utoipa::path(get, path = "/api/v1/workspaces", params(PageQuery), responses((status = 200, body = List<WorkspaceJson>)))]
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

#[utoipa::path(get, path = "/api/v1/workspaces/{workspace}", responses((status = 200, body = WorkspaceJson), (status = 404)))]
pub async fn get_workspace(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
) -> HttpResult<Json<WorkspaceJson>> {
    Ok(Json(ops::get_workspace(&s, &p, &name).await?.into()))
}

#[utoipa::path(delete, path = "/api/v1/workspaces/{workspace}", params(CascadeQuery), responses((status = 204), (status = 412)))]
pub async fn delete_workspace(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
    Cascade(cascade): Cascade,
) -> HttpResult<StatusCode> {
    ops::delete_workspace(&s, &p, &name, cascade).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/workspaces/{workspace}/namespaces/{namespace}", responses((status = 204), (status = 409)))]
pub async fn add_namespace(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path((w, ns)): Path<(String, String)>,
) -> HttpResult<StatusCode> {
    ops::add_namespace(&s, &p, &w, &ns).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/workspaces/{workspace}/namespaces/{namespace}", responses((status = 204), (status = 404)))]
pub async fn remove_namespace(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path((w, ns)): Path<(String, String)>,
) -> HttpResult<StatusCode> {
    ops::remove_namespace(&s, &p, &w, &ns).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/workspaces/{workspace}/members/{principal}", request_body = MemberBody, responses((status = 204), (status = 400)))]
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

#[utoipa::path(delete, path = "/api/v1/workspaces/{workspace}/members/{principal}", responses((status = 204), (status = 404)))]
pub async fn remove_member(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path((w, who)): Path<(String, String)>,
) -> HttpResult<StatusCode> {
    ops::remove_member(&s, &p, &w, &who).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/registries/{registry}/spaces", request_body = CreateSpaceBody, responses((status = 201, body = SpaceJson)))]
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
    };
    let space = ops::create_space(&s, &p, req).await?;
    Ok((
        StatusCode::CREATED,
        Json(SpaceJson::new(space, visible(&p))),
    ))
}

#[utoipa::path(get, path = "/api/v1/registries/{registry}/spaces", params(PageQuery), responses((status = 200, body = List<SpaceJson>)))]
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

#[utoipa::path(get, path = "/api/v1/registries/{registry}/spaces/{space}", responses((status = 200, body = SpaceJson), (status = 404)))]
pub async fn get_space(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path((registry, name)): Path<(String, String)>,
) -> HttpResult<Json<SpaceJson>> {
    let space = ops::get_space(&s, &p, &registry, &name).await?;
    Ok(Json(SpaceJson::new(space, visible(&p))))
}

#[utoipa::path(patch, path = "/api/v1/registries/{registry}/spaces/{space}", request_body = UpdateSpaceBody, responses((status = 200, body = SpaceJson)))]
pub async fn update_space(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path((registry, name)): Path<(String, String)>,
    JsonBody(b): JsonBody<UpdateSpaceBody>,
) -> HttpResult<Json<SpaceJson>> {
    let req = pb::UpdateSpaceRequest {
        registry,
        name,
        visibility: b.visibility,
        quota_bytes: b.quota_bytes,
        description: b.description,
    };
    let space = ops::update_space(&s, &p, req).await?;
    Ok(Json(SpaceJson::new(space, visible(&p))))
}

#[utoipa::path(delete, path = "/api/v1/registries/{registry}/spaces/{space}", responses((status = 204), (status = 404)))]
pub async fn delete_space(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path((registry, name)): Path<(String, String)>,
) -> HttpResult<StatusCode> {
    ops::delete_space(&s, &p, &registry, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/registries/{registry}/spaces/{space}/bindings", responses((status = 200, body = List<BindingJson>)))]
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

#[utoipa::path(put, path = "/api/v1/registries/{registry}/spaces/{space}/bindings/{workspace}", request_body(content = BindBody, description = "optional: without a body the binding grants pull"), responses((status = 200, body = BindingJson), (status = 404)))]
pub async fn bind(
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

#[utoipa::path(delete, path = "/api/v1/registries/{registry}/spaces/{space}/bindings/{workspace}", responses((status = 204), (status = 404)))]
pub async fn unbind(
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

#[utoipa::path(post, path = "/api/v1/access/check", request_body = AccessCheckBody, responses((status = 200, body = AccessJson), (status = 404)))]
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

#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/pull-secret",
    responses((status = 200, description = "A kubernetes.io/dockerconfigjson Secret with a new pull credential"), (status = 404)))]
pub async fn pull_secret(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(ns): Path<String>,
) -> HttpResult<Json<serde_json::Value>> {
    Ok(Json(ops::pull_secret(&s, &p, &ns).await?))
}

#[utoipa::path(post, path = "/api/v1/registries/{registry}/login-command",
    responses((status = 200, description = "A short-lived docker login credential"), (status = 412)))]
pub async fn login_command(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(registry): Path<String>,
) -> HttpResult<Json<serde_json::Value>> {
    Ok(Json(ops::login_command(&s, &p, &registry).await?))
}

#[utoipa::path(delete, path = "/api/v1/namespaces/{namespace}/pull-secret", responses((status = 204), (status = 404)))]
pub async fn revoke_pull_secret(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(ns): Path<String>,
) -> HttpResult<StatusCode> {
    ops::revoke_pull_secret(&s, &p, &ns).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/images", params(PageQuery),
    responses((status = 200, description = "Repositories the namespace may pull, with tags and digests"), (status = 404)))]
pub async fn list_images(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(namespace): Path<String>,
    Paging(q): Paging,
) -> HttpResult<Json<List<serde_json::Value>>> {
    let req = pb::ListVisibleImagesRequest {
        namespace,
        page_size: q.page_size.unwrap_or(0),
        page_token: q.page_token.unwrap_or_default(),
    };
    let r = ops::list_visible_images(&s, &p, req).await?;
    let items = r
        .repositories
        .into_iter()
        .map(|v| {
            serde_json::json!({
                "registry": v.registry,
                "space": v.space,
                "repository": v.repository,
                "image": format!("{}/{}", v.host, v.repository),
                "tags": v.tags.into_iter().map(|t| serde_json::json!({"tag": t.tag, "digest": t.digest})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(List::new(items, r.next_page_token)))
}

#[utoipa::path(post, path = "/api/v1/registries/{registry}/import-spaces", responses((status = 200, body = List<SpaceJson>)))]
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
