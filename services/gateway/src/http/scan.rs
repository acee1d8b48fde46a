//! Scanning over HTTP/JSON: the vulnerability database, scans, reports, SBOMs and the
//! allowlist (DESIGN's "fixed contract, continued").

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_error::ApiError;
use berth_proto::v1 as pb;
use http::{header, HeaderMap, StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;

use super::dto::*;
use super::extract::QueryParams;
use super::{Authed, HttpResult, JsonBody};
use crate::ops;
use crate::state::AppState;

#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct ImportBody(Vec<u8>);

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportVulnDbQuery {
    /// For a Debian package: the Debian release its records are for (`12`), when its
    /// changelog does not say.
    pub release: Option<String>,
}

/// Import vulnerability records.
///
/// By `Content-Type`: `application/zip` (an OSV export such as osv.dev's `all.zip`),
/// `application/json` (one OSV record or an array), or `application/vnd.debian.binary-package`
/// (a `.deb` whose `changelog.Debian.gz` says which CVEs each upload fixed).
#[utoipa::path(post, path = "/api/v1/vulndb/import", tag = "scanning", params(ImportVulnDbQuery),
    request_body(description = "The records", content(
        (Object = "application/json"),
        (ImportBody = "application/zip"),
        (ImportBody = "application/vnd.debian.binary-package"))),
    responses((status = 200, description = "How many records were added or replaced", body = ImportedJson)))]
pub async fn import_vulndb(
    State(s): State<AppState>,
    Authed(p): Authed,
    headers: HeaderMap,
    QueryParams(q): QueryParams<ImportVulnDbQuery>,
    body: axum::body::Body,
) -> HttpResult<Json<ImportedJson>> {
    // Nothing is read of a body its sender may not import.
    ops::may_import(&p)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if content_type.is_empty() {
        return Err(ApiError::invalid(
            "Content-Type",
            "is required: application/zip, application/json or application/vnd.debian.binary-package",
        )
        .into());
    }
    let body = axum::body::to_bytes(body, ops::MAX_IMPORT)
        .await
        .map_err(|_| {
            ApiError::invalid(
                "body",
                format!(
                    "is larger than the {} MiB an import may be",
                    ops::MAX_IMPORT >> 20
                ),
            )
        })?;
    let r = ops::import_vulndb(
        &s,
        &p,
        &content_type,
        q.release.as_deref().unwrap_or_default(),
        body,
    )
    .await?;
    Ok(Json(ImportedJson {
        imported: r.imported,
        version: r.version,
    }))
}

/// The vulnerability database's status.
#[utoipa::path(get, path = "/api/v1/vulndb", tag = "scanning",
    responses((status = 200, description = "Records, per ecosystem, last update and version", body = VulnDbJson)))]
pub async fn vulndb_status(
    State(s): State<AppState>,
    Authed(p): Authed,
) -> HttpResult<Json<VulnDbJson>> {
    Ok(Json(ops::vulndb_status(&s, &p).await?.into()))
}

/// Fetch the configured mirror's exports now.
///
/// What the schedule (`BERTH_VULNDB_SYNC_SECS`) does: each `{mirror}/{ecosystem}/all.zip` is
/// fetched (asking with the last `ETag`) and imported when it changed. 412 when no mirror is
/// configured.
#[utoipa::path(post, path = "/api/v1/vulndb/sync", tag = "scanning",
    responses((status = 200, description = "Each export, and the version after", body = VulnDbSyncJson)))]
pub async fn sync_vulndb(
    State(s): State<AppState>,
    Authed(p): Authed,
) -> HttpResult<Json<VulnDbSyncJson>> {
    let r = ops::sync_vulndb(&s, &p).await?;
    Ok(Json(VulnDbSyncJson {
        sources: r.sources.into_iter().map(Into::into).collect(),
        version: r.version,
    }))
}

/// Scan an artifact.
///
/// Answers at once; the scan is queued (a digest already being scanned answers that scan).
#[utoipa::path(post, path = "/api/v1/scans", tag = "scanning", request_body = CreateScanBody,
    responses((status = 202, description = "The scan, queued", body = ScanJson)))]
pub async fn create_scan(
    State(s): State<AppState>,
    Authed(p): Authed,
    JsonBody(b): JsonBody<CreateScanBody>,
) -> HttpResult<(StatusCode, Json<ScanJson>)> {
    let req = pb::CreateScanRequest {
        registry: b.registry,
        repository: b.repository,
        reference: b.reference,
        trigger: String::new(),
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(ops::create_scan(&s, &p, req).await?.into()),
    ))
}

/// Scan every artifact of a registry, or of one of its spaces.
///
/// Answers at once: listing the artifacts is a job, and their scans go on the bulk queue, so a
/// sweep never holds up a push or a request. Digests known at the current database version are
/// not read again.
#[utoipa::path(post, path = "/api/v1/scan-sweeps", tag = "scanning", request_body = CreateSweepBody,
    responses((status = 202, description = "The sweep, planning", body = SweepJson)))]
pub async fn create_sweep(
    State(s): State<AppState>,
    Authed(p): Authed,
    JsonBody(b): JsonBody<CreateSweepBody>,
) -> HttpResult<(StatusCode, Json<SweepJson>)> {
    let req = pb::CreateSweepRequest {
        registry: b.registry,
        space: b.space.unwrap_or_default(),
        trigger: String::new(),
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(ops::create_sweep(&s, &p, req).await?.into()),
    ))
}

/// A sweep and its progress.
#[utoipa::path(get, path = "/api/v1/scan-sweeps/{id}", tag = "scanning",
    responses((status = 200, description = "The sweep", body = SweepJson)))]
pub async fn get_sweep(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(id): Path<String>,
) -> HttpResult<Json<SweepJson>> {
    Ok(Json(ops::get_sweep(&s, &p, &id).await?.into()))
}

/// A scan and its state.
#[utoipa::path(get, path = "/api/v1/scans/{id}", tag = "scanning",
    responses((status = 200, description = "The scan", body = ScanJson)))]
pub async fn get_scan(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(id): Path<String>,
) -> HttpResult<Json<ScanJson>> {
    Ok(Json(ops::get_scan(&s, &p, &id).await?.into()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Only findings at or above this severity (`critical`, `high`, `medium`, `low`).
    pub severity: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SbomQuery {
    /// `cyclonedx` (CycloneDX 1.6 JSON, the default) or `spdx` (SPDX 2.3 JSON).
    pub format: Option<String>,
    /// For an index: the platform (`linux/arm64`); default linux/amd64, else the first.
    pub platform: Option<String>,
}

/// An artifact's vulnerability report.
#[utoipa::path(get, path = "/api/v1/registries/{registry}/repositories/{repository}/artifacts/{digest}/vulnerabilities", tag = "scanning",
    params(ReportQuery),
    responses((status = 200, description = "The report", body = ReportJson)))]
pub async fn artifact_vulnerabilities(
    s: &AppState,
    p: &crate::authn::Principal,
    registry: &str,
    repository: &str,
    digest: &str,
    q: ReportQuery,
) -> HttpResult<Json<ReportJson>> {
    let at_least = match q.severity.as_deref() {
        None | Some("") => None,
        Some("critical") => Some(4),
        Some("high") => Some(3),
        Some("medium") => Some(2),
        Some("low") => Some(1),
        Some(other) => {
            return Err(ApiError::invalid(
                "severity",
                format!("must be critical, high, medium or low, not {other:?}"),
            )
            .into())
        }
    };
    let r = ops::get_report(s, p, registry, repository, digest).await?;
    Ok(Json(ReportJson::new(r, at_least)))
}

/// An artifact's software bill of materials.
#[utoipa::path(get, path = "/api/v1/registries/{registry}/repositories/{repository}/artifacts/{digest}/sbom", tag = "scanning",
    params(SbomQuery),
    responses((status = 200, description = "The SBOM (CycloneDX 1.6 or SPDX 2.3 JSON)", content_type = "application/json", body = Object)))]
pub async fn artifact_sbom(
    s: &AppState,
    p: &crate::authn::Principal,
    registry: &str,
    repository: &str,
    digest: &str,
    q: SbomQuery,
) -> HttpResult<Response> {
    let format = q.format.unwrap_or_else(|| "cyclonedx".into());
    let r = ops::get_sbom(
        s,
        p,
        registry,
        repository,
        digest,
        &format,
        q.platform.as_deref().unwrap_or_default(),
    )
    .await?;
    Ok(([(header::CONTENT_TYPE, r.media_type)], r.document).into_response())
}

/// What `…/artifacts/{digest}/vulnerabilities` and `…/sbom` under a repository path (which may
/// contain `/`) name: `(repository, digest, what)`.
pub fn artifact_resource(rest: &str) -> Option<(&str, &str, &str)> {
    let (head, what) = rest.rsplit_once('/')?;
    let (head, digest) = head.rsplit_once('/')?;
    let repository = head.strip_suffix("/artifacts")?;
    matches!(what, "vulnerabilities" | "sbom").then_some((repository, digest, what))
}

/// Which allowlist a request names: platform-wide, or a space's.
#[derive(Deserialize, utoipa::IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct AllowlistScope {
    /// With `space`: that space's entry; without both: the platform-wide one.
    pub registry: Option<String>,
    pub space: Option<String>,
}

/// Allow a vulnerability past severity gates (platform-wide, or in one space).
#[utoipa::path(put, path = "/api/v1/allowlist/{vulnerability_id}", tag = "scanning", request_body = AllowlistBody,
    responses((status = 200, description = "The entry as stored", body = AllowlistEntryJson)))]
pub async fn put_allowlist_entry(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<AllowlistBody>,
) -> HttpResult<Json<AllowlistEntryJson>> {
    let expires_at = match b.expires_at.as_deref() {
        None | Some("") => None,
        Some(t) => {
            let t = chrono::DateTime::parse_from_rfc3339(t).map_err(|_| {
                ApiError::invalid("expires_at", format!("{t:?} is not an RFC 3339 time"))
            })?;
            Some(prost_types::Timestamp {
                seconds: t.timestamp(),
                nanos: t.timestamp_subsec_nanos() as i32,
            })
        }
    };
    let entry = pb::AllowlistEntry {
        vulnerability_id: id,
        registry: b.registry.unwrap_or_default(),
        space: b.space.unwrap_or_default(),
        expires_at,
        reason: b.reason,
        ..Default::default()
    };
    Ok(Json(ops::put_allowlist_entry(&s, &p, entry).await?.into()))
}

/// An allowlist entry.
#[utoipa::path(get, path = "/api/v1/allowlist/{vulnerability_id}", tag = "scanning", params(AllowlistScope),
    responses((status = 200, description = "The entry", body = AllowlistEntryJson)))]
pub async fn get_allowlist_entry(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<AllowlistScope>,
) -> HttpResult<Json<AllowlistEntryJson>> {
    let req = pb::GetAllowlistEntryRequest {
        vulnerability_id: id,
        registry: q.registry.unwrap_or_default(),
        space: q.space.unwrap_or_default(),
    };
    Ok(Json(ops::get_allowlist_entry(&s, &p, req).await?.into()))
}

/// Remove an allowlist entry.
#[utoipa::path(delete, path = "/api/v1/allowlist/{vulnerability_id}", tag = "scanning", params(AllowlistScope),
    responses((status = 204, description = "Removed")))]
pub async fn delete_allowlist_entry(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<AllowlistScope>,
) -> HttpResult<StatusCode> {
    let req = pb::DeleteAllowlistEntryRequest {
        vulnerability_id: id,
        registry: q.registry.unwrap_or_default(),
        space: q.space.unwrap_or_default(),
    };
    ops::delete_allowlist_entry(&s, &p, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The allowlist: platform-wide entries and those of the spaces the caller may see (with
/// `registry` and `space`: that space's and the platform-wide ones).
#[utoipa::path(get, path = "/api/v1/allowlist", tag = "scanning", params(AllowlistScope),
    responses((status = 200, description = "The entries", body = List<AllowlistEntryJson>)))]
pub async fn list_allowlist(
    State(s): State<AppState>,
    Authed(p): Authed,
    QueryParams(q): QueryParams<AllowlistScope>,
) -> HttpResult<Json<List<AllowlistEntryJson>>> {
    let entries = ops::list_allowlist(
        &s,
        &p,
        q.registry.as_deref().unwrap_or_default(),
        q.space.as_deref().unwrap_or_default(),
    )
    .await?;
    Ok(Json(List::new(
        entries.into_iter().map(Into::into).collect(),
        String::new(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_paths_split_from_the_end() {
        let d = "sha256:aaaa";
        assert_eq!(
            artifact_resource(&format!("team/a/b/artifacts/{d}/vulnerabilities")),
            Some(("team/a/b", d, "vulnerabilities"))
        );
        assert_eq!(
            artifact_resource(&format!("team/app/artifacts/{d}/sbom")),
            Some(("team/app", d, "sbom"))
        );
        assert_eq!(artifact_resource("team/app/artifacts"), None);
        assert_eq!(artifact_resource(&format!("team/app/x/{d}/sbom")), None);
    }
}
