//! External scanners over HTTP/JSON: `GET|POST /api/v1/scanners`, `GET|DELETE
//! /api/v1/scanners/{name}` (platform admins).

use axum::extract::{Path, State};
use axum::Json;
use berth_proto::v1 as pb;
use http::StatusCode;

use super::dto::*;
use super::{Authed, HttpResult, JsonBody};
use crate::ops;
use crate::state::AppState;

/// The scanners: the built-in one, then the external ones with their health.
#[utoipa::path(get, path = "/api/v1/scanners", tag = "scanning",
    responses((status = 200, description = "The scanners", body = ScannerListJson)))]
pub async fn list_scanners(
    State(s): State<AppState>,
    Authed(p): Authed,
) -> HttpResult<Json<ScannerListJson>> {
    let items = ops::list_scanners(&s, &p).await?;
    Ok(Json(ScannerListJson {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// Register an external scanner (Harbor's pluggable scanner API) for some registries.
///
/// The adapter must answer `/api/v1/metadata` and produce vulnerability reports; each registry
/// has at most one external scanner.
#[utoipa::path(post, path = "/api/v1/scanners", tag = "scanning", request_body = CreateScannerBody,
    responses((status = 201, description = "The scanner", body = ScannerJson)))]
pub async fn create_scanner(
    State(s): State<AppState>,
    Authed(p): Authed,
    JsonBody(b): JsonBody<CreateScannerBody>,
) -> HttpResult<(StatusCode, Json<ScannerJson>)> {
    let scanner = pb::Scanner {
        name: b.name,
        url: b.url,
        auth: b.auth.unwrap_or_default(),
        access_credential: b.access_credential.unwrap_or_default(),
        registries: b.registries,
        ..Default::default()
    };
    Ok((
        StatusCode::CREATED,
        Json(ops::create_scanner(&s, &p, scanner).await?.into()),
    ))
}

/// A scanner.
#[utoipa::path(get, path = "/api/v1/scanners/{name}", tag = "scanning",
    responses((status = 200, description = "The scanner", body = ScannerJson)))]
pub async fn get_scanner(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
) -> HttpResult<Json<ScannerJson>> {
    Ok(Json(ops::get_scanner(&s, &p, &name).await?.into()))
}

/// Remove an external scanner: its registries go back to the built-in scanner.
#[utoipa::path(delete, path = "/api/v1/scanners/{name}", tag = "scanning",
    responses((status = 204, description = "Removed")))]
pub async fn delete_scanner(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
) -> HttpResult<StatusCode> {
    ops::delete_scanner(&s, &p, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
