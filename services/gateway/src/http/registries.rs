//! `/api/v1/registries…` and `/api/v1/overview`.

use axum::extract::{Path, State};
use axum::Json;
use berth_error::ApiError;
use berth_proto::v1 as pb;
use http::StatusCode;

use super::dto::*;
use super::{Authed, Cascade, CascadeQuery, HttpResult, JsonBody, OptionalJsonBody, Paging};
use crate::ops;
use crate::state::AppState;

#[utoipa::path(post, path = "/api/v1/registries", request_body = CreateRegistryBody,
    responses((status = 201, body = RegistryJson), (status = 400), (status = 401), (status = 403), (status = 409)))]
pub async fn create(
    State(s): State<AppState>,
    Authed(p): Authed,
    JsonBody(body): JsonBody<CreateRegistryBody>,
) -> HttpResult<(StatusCode, Json<RegistryJson>)> {
    let r = ops::create_registry(&s, &p, body.into()).await?;
    Ok((StatusCode::CREATED, Json(r.into())))
}

#[utoipa::path(get, path = "/api/v1/registries", params(PageQuery), responses((status = 200, body = List<RegistryJson>)))]
pub async fn list(
    State(s): State<AppState>,
    Authed(p): Authed,
    Paging(q): Paging,
) -> HttpResult<Json<List<RegistryJson>>> {
    let req = pb::ListRegistriesRequest {
        page_size: q.page_size.unwrap_or(0),
        page_token: q.page_token.unwrap_or_default(),
        workspace: String::new(),
    };
    let r = ops::list_registries(&s, &p, req).await?;
    Ok(Json(List::new(
        r.registries.into_iter().map(Into::into).collect(),
        r.next_page_token,
    )))
}

#[utoipa::path(get, path = "/api/v1/registries/{registry}", responses((status = 200, body = RegistryJson), (status = 404)))]
pub async fn get(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
) -> HttpResult<Json<RegistryJson>> {
    Ok(Json(ops::get_registry(&s, &p, &name).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/registries/{registry}", request_body = UpdateRegistryBody,
    responses((status = 200, body = RegistryJson), (status = 400), (status = 404)))]
pub async fn update(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<UpdateRegistryBody>,
) -> HttpResult<Json<RegistryJson>> {
    Ok(Json(
        ops::update_registry(&s, &p, body.into_request(name))
            .await?
            .into(),
    ))
}

#[utoipa::path(delete, path = "/api/v1/registries/{registry}", params(CascadeQuery), responses((status = 204), (status = 404), (status = 412)))]
pub async fn delete(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
    Cascade(cascade): Cascade,
) -> HttpResult<StatusCode> {
    ops::delete_registry(&s, &p, &name, cascade).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/registries/{registry}/ping", responses((status = 200, body = HealthJson), (status = 404)))]
pub async fn ping(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
) -> HttpResult<Json<HealthJson>> {
    Ok(Json(ops::ping_registry(&s, &p, &name).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/registries/{registry}/overview", responses((status = 200, body = OverviewJson), (status = 404)))]
pub async fn overview(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
) -> HttpResult<Json<OverviewJson>> {
    Ok(Json(ops::registry_overview(&s, &p, &name).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/overview", responses((status = 200, body = OverviewJson)))]
pub async fn platform_overview(
    State(s): State<AppState>,
    Authed(p): Authed,
) -> HttpResult<Json<OverviewJson>> {
    let r = ops::platform_overview(&s, &p).await?;
    let mut o: OverviewJson = r.overview.unwrap_or_default().into();
    o.registries = Some(r.registries);
    Ok(Json(o))
}

/// `POST …/hook-secret`: a new notification secret, shown once, with the configuration a
/// registry needs to send it.
#[utoipa::path(post, path = "/api/v1/registries/{registry}/hook-secret",
    request_body(content = HookSecretBody, description = "optional: without a body a secret is generated"),
    responses((status = 200, body = HookSecretJson), (status = 400), (status = 404)))]
pub async fn rotate_hook_secret(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(registry): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<HookSecretBody>,
) -> HttpResult<Json<HookSecretJson>> {
    let r = ops::rotate_hook_secret(
        &s,
        &p,
        pb::RotateHookSecretRequest {
            registry: registry.clone(),
            secret: body.secret.unwrap_or_default(),
        },
    )
    .await?;
    Ok(Json(HookSecretJson::new(&registry, r.secret)))
}

#[utoipa::path(get, path = "/api/v1/registries/{registry}/repositories", params(PageQuery),
    responses((status = 200, body = List<RepositoryJson>)))]
pub async fn repositories(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(registry): Path<String>,
    Paging(q): Paging,
) -> HttpResult<Json<List<RepositoryJson>>> {
    let req = pb::ListRepositoriesRequest {
        registry,
        space: q.space.unwrap_or_default(),
        page_size: q.page_size.unwrap_or(0),
        page_token: q.page_token.unwrap_or_default(),
    };
    let r = ops::list_repositories(&s, &p, req).await?;
    Ok(Json(List::new(
        r.repositories.into_iter().map(Into::into).collect(),
        r.next_page_token,
    )))
}

/// `…/repositories/{repository}/artifacts`, where the repository may contain '/'.
#[utoipa::path(get, path = "/api/v1/registries/{registry}/repositories/{repository}/artifacts", params(PageQuery),
    responses((status = 200, body = List<ArtifactJson>)))]
pub async fn repository_subresource(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path((registry, rest)): Path<(String, String)>,
    Paging(q): Paging,
) -> HttpResult<Json<List<ArtifactJson>>> {
    let Some(repository) = rest.strip_suffix("/artifacts") else {
        return Err(ApiError::not_found("no such resource").into());
    };
    let req = pb::ListArtifactsRequest {
        registry,
        repository: repository.to_string(),
        page_size: q.page_size.unwrap_or(0),
        page_token: q.page_token.unwrap_or_default(),
    };
    let r = ops::list_artifacts(&s, &p, req).await?;
    Ok(Json(List::new(
        r.artifacts.into_iter().map(Into::into).collect(),
        r.next_page_token,
    )))
}
