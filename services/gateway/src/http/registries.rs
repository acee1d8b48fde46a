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

/// Integrate a registry.
///
/// Stores the registry (its credential encrypted), verifies connectivity first unless
/// `verify` is false, and starts health checks. Platform admins integrate for the platform;
/// workspace admins for their own workspace only.
#[utoipa::path(post, path = "/api/v1/registries", tag = "registries", request_body = CreateRegistryBody,
    responses((status = 201, description = "The registry as stored", body = RegistryJson), (status = 409, description = "A registry of that name exists", body = ErrorJson)))]
pub async fn create_registry(
    State(s): State<AppState>,
    Authed(p): Authed,
    JsonBody(body): JsonBody<CreateRegistryBody>,
) -> HttpResult<(StatusCode, Json<RegistryJson>)> {
    let r = ops::create_registry(&s, &p, body.into()).await?;
    Ok((StatusCode::CREATED, Json(r.into())))
}

/// List registries.
///
/// Platform admins see every registry; others see the platform's and their workspaces' own.
#[utoipa::path(get, path = "/api/v1/registries", tag = "registries", params(PageQuery),
    responses((status = 200, description = "One page of registries", body = List<RegistryJson>)))]
pub async fn list_registries(
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

/// Get a registry.
#[utoipa::path(get, path = "/api/v1/registries/{registry}", tag = "registries",
    responses((status = 200, description = "The registry", body = RegistryJson)))]
pub async fn get_registry(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
) -> HttpResult<Json<RegistryJson>> {
    Ok(Json(ops::get_registry(&s, &p, &name).await?.into()))
}

/// Change a registry.
///
/// Only the fields present change; a new URL or credential is verified first unless `verify`
/// is false.
#[utoipa::path(patch, path = "/api/v1/registries/{registry}", tag = "registries", request_body = UpdateRegistryBody,
    responses((status = 200, description = "The registry as stored", body = RegistryJson)))]
pub async fn update_registry(
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

/// Remove a registry.
///
/// Refused with 412 while spaces or policies use it, unless `cascade` is true.
#[utoipa::path(delete, path = "/api/v1/registries/{registry}", tag = "registries", params(CascadeQuery),
    responses((status = 204, description = "Removed"), (status = 412, description = "Something still uses the registry; the message names it", body = ErrorJson)))]
pub async fn delete_registry(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
    Cascade(cascade): Cascade,
) -> HttpResult<StatusCode> {
    ops::delete_registry(&s, &p, &name, cascade).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Check a registry's health now.
#[utoipa::path(post, path = "/api/v1/registries/{registry}/ping", tag = "registries",
    responses((status = 200, description = "The registry's health", body = HealthJson)))]
pub async fn ping_registry(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
) -> HttpResult<Json<HealthJson>> {
    Ok(Json(ops::ping_registry(&s, &p, &name).await?.into()))
}

/// A registry's counts: spaces, repositories, artifacts, bytes.
#[utoipa::path(get, path = "/api/v1/registries/{registry}/overview", tag = "registries",
    responses((status = 200, description = "The registry's counts", body = OverviewJson)))]
pub async fn registry_overview(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
) -> HttpResult<Json<OverviewJson>> {
    Ok(Json(ops::registry_overview(&s, &p, &name).await?.into()))
}

/// The platform's counts over every registry the caller may see.
#[utoipa::path(get, path = "/api/v1/overview", tag = "registries",
    responses((status = 200, description = "The counts", body = OverviewJson)))]
pub async fn platform_overview(
    State(s): State<AppState>,
    Authed(p): Authed,
) -> HttpResult<Json<OverviewJson>> {
    let r = ops::platform_overview(&s, &p).await?;
    let mut o: OverviewJson = r.overview.unwrap_or_default().into();
    o.registries = Some(r.registries);
    Ok(Json(o))
}

/// Set a new notification secret for a registry.
///
/// The secret is shown once, with the configuration the registry needs to send notifications
/// to Berth; the previous secret stops working.
#[utoipa::path(post, path = "/api/v1/registries/{registry}/hook-secret", tag = "registries",
    request_body(content = Option<HookSecretBody>, description = "Optional: without a body a secret is generated"),
    responses((status = 200, description = "The new secret and how to configure the registry", body = HookSecretJson)))]
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

/// List a registry's repositories.
#[utoipa::path(get, path = "/api/v1/registries/{registry}/repositories", tag = "registries",
    params(PageQuery, ("space" = Option<String>, Query, description = "Narrow to one space")),
    responses((status = 200, description = "One page of repositories", body = List<RepositoryJson>)))]
pub async fn list_repositories(
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

/// List a repository's artifacts.
///
/// The repository may contain `/`.
#[utoipa::path(get, path = "/api/v1/registries/{registry}/repositories/{repository}/artifacts", tag = "registries", params(PageQuery),
    responses((status = 200, description = "One page of artifacts", body = List<ArtifactJson>)))]
pub async fn list_artifacts(
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

/// The routes under a repository path (which may contain `/`): its artifacts, and an
/// artifact's vulnerabilities and SBOM.
pub async fn repository_path(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path((registry, rest)): Path<(String, String)>,
    req: axum::extract::Request,
) -> HttpResult<axum::response::Response> {
    use axum::extract::FromRequestParts;
    use axum::response::IntoResponse;
    let (mut parts, _) = req.into_parts();
    if let Some((repository, digest, what)) = super::scan::artifact_resource(&rest) {
        return if what == "vulnerabilities" {
            let super::extract::QueryParams(q) = super::extract::QueryParams::<
                super::scan::ReportQuery,
            >::from_request_parts(&mut parts, &s)
            .await?;
            super::scan::artifact_vulnerabilities(&s, &p, &registry, repository, digest, q)
                .await
                .map(IntoResponse::into_response)
        } else {
            let super::extract::QueryParams(q) = super::extract::QueryParams::<
                super::scan::SbomQuery,
            >::from_request_parts(&mut parts, &s)
            .await?;
            super::scan::artifact_sbom(&s, &p, &registry, repository, digest, q).await
        };
    }
    let paging = Paging::from_request_parts(&mut parts, &s).await?;
    list_artifacts(State(s), Authed(p), Path((registry, rest)), paging)
        .await
        .map(IntoResponse::into_response)
}
