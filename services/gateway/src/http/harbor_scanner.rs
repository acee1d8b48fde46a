//! Berth as a Harbor scanner: the pluggable scanner API (adapter spec v1.2) a Harbor registers
//! as a scanner (`{berth}/api/v1/metadata`, `POST /api/v1/scan`,
//! `GET /api/v1/scan/{id}/report`), so a Harbor scans with Berth.
//!
//! The registration's credential is a Berth API token (`Bearer`), and every call is authorized
//! as that principal exactly as the scan API is: a scan request names the Harbor by its URL,
//! which must be a registry integrated in Berth that the principal may see, and the artifact is
//! scanned with Berth's own credential for it (the request's robot `authorization` is not
//! needed). Reports are Harbor's vulnerability report (`application/vnd.security.
//! vulnerability.report; version=1.1`, or the older `…vuln.report.harbor+json; version=1.0`) and
//! SBOM report (`application/vnd.security.sbom.report+json; version=1.0`, SPDX or CycloneDX by
//! `?sbom_media_type=`). Errors are `{"error": {"message"}}` as the spec writes them. These paths
//! are Harbor's API, not Berth's, and are not in Berth's OpenAPI document.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use berth_error::ApiError;
use berth_proto::v1 as pb;
use berth_runtime::harbor_scanner::{
    harbor_severity, same_type, CONSUMES, CYCLONEDX, ERROR, HARBOR_VULN_REPORT, METADATA,
    SBOM_REPORT, SCAN_RESPONSE, SPDX, VULN_REPORT,
};
use http::{header, HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::Authed;
use crate::ops;
use crate::state::AppState;

/// How long Harbor waits before asking for a report again.
const REFRESH_AFTER: &str = "2";

fn typed(status: StatusCode, media_type: &str, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, media_type.to_string())],
        body.to_string(),
    )
        .into_response()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    typed(status, ERROR, json!({"error": {"message": message.into()}}))
}

/// A Berth error as the spec's error (the status Berth would answer, the message).
fn api_error(e: ApiError) -> Response {
    let status = e.code.http();
    let message = match &e.field {
        Some(f) => format!("{f}: {}", e.message),
        None => e.message.clone(),
    };
    error(status, message)
}

fn scanner() -> Value {
    json!({"name": "Berth", "vendor": "Berth", "version": env!("CARGO_PKG_VERSION")})
}

/// `GET /api/v1/metadata`: what Berth scans and produces.
pub async fn metadata(State(s): State<AppState>, Authed(p): Authed) -> Response {
    let db = match ops::vulndb_status(&s, &p).await {
        Ok(d) => d,
        Err(e) => return api_error(e),
    };
    let updated = super::dto::time(db.updated_at).unwrap_or_default();
    typed(
        StatusCode::OK,
        METADATA,
        json!({
            "scanner": scanner(),
            "capabilities": [
                {"type": "vulnerability", "consumes_mime_types": CONSUMES,
                 "produces_mime_types": [VULN_REPORT, HARBOR_VULN_REPORT]},
                {"type": "sbom", "consumes_mime_types": CONSUMES,
                 "produces_mime_types": [SBOM_REPORT],
                 "additional_attributes": {"sbom_media_types": [SPDX, CYCLONEDX]}}
            ],
            "properties": {
                "harbor.scanner-adapter/scanner-type": "os-package-vulnerability",
                "harbor.scanner-adapter/vulnerability-database-updated-at": updated,
                "berth.vulndb/version": db.version.to_string(),
                "berth.vulndb/records": db.records.to_string(),
            }
        }),
    )
}

#[derive(Deserialize)]
struct RegistryRef {
    #[serde(default)]
    url: String,
}

#[derive(Deserialize)]
struct ArtifactRef {
    #[serde(default)]
    repository: String,
    #[serde(default)]
    digest: String,
}

#[derive(Deserialize)]
struct ScanRequest {
    registry: Option<RegistryRef>,
    artifact: Option<ArtifactRef>,
}

/// A registry URL as compared: scheme and host lowercased, default ports and trailing `/` gone.
fn normalized(url: &str) -> Option<String> {
    let u = url::Url::parse(url.trim()).ok()?;
    let host = u.host_str()?.to_ascii_lowercase();
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    Some(format!(
        "{}://{host}{port}{}",
        u.scheme(),
        u.path().trim_end_matches('/')
    ))
}

/// The registry integrated in Berth (visible to `p`) whose URL is `url`.
async fn registry_at(
    s: &AppState,
    p: &crate::authn::Principal,
    url: &str,
) -> Result<String, Response> {
    let Some(wanted) = normalized(url) else {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("registry.url: {url:?} is not a URL"),
        ));
    };
    let mut token = String::new();
    loop {
        let page = ops::list_registries(
            s,
            p,
            pb::ListRegistriesRequest {
                page_size: 500,
                page_token: token,
                ..Default::default()
            },
        )
        .await
        .map_err(api_error)?;
        if let Some(r) = page
            .registries
            .iter()
            .find(|r| normalized(&r.url).as_deref() == Some(wanted.as_str()))
        {
            return Ok(r.name.clone());
        }
        if page.next_page_token.is_empty() {
            return Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("registry.url: {url} is not a registry integrated in Berth"),
            ));
        }
        token = page.next_page_token;
    }
}

/// `POST /api/v1/scan`: queues a scan of the artifact; answers its id.
pub async fn accept_scan(State(s): State<AppState>, Authed(p): Authed, body: Bytes) -> Response {
    let req: ScanRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("not a scan request: {e}")),
    };
    let (Some(registry), Some(artifact)) = (req.registry, req.artifact) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "registry and artifact are required",
        );
    };
    for (field, value) in [
        ("registry.url", &registry.url),
        ("artifact.repository", &artifact.repository),
        ("artifact.digest", &artifact.digest),
    ] {
        if value.is_empty() {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{field} is required"),
            );
        }
    }
    if !artifact.digest.starts_with("sha256:") {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "artifact.digest must be a sha256: digest",
        );
    }
    let name = match registry_at(&s, &p, &registry.url).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    let scan = ops::create_scan(
        &s,
        &p,
        pb::CreateScanRequest {
            registry: name,
            repository: artifact.repository,
            reference: artifact.digest,
            trigger: String::new(),
        },
    )
    .await;
    match scan {
        Ok(scan) => typed(StatusCode::ACCEPTED, SCAN_RESPONSE, json!({"id": scan.id})),
        // The spec's 422: a field that names nothing (a repository or digest the registry lacks).
        Err(e) if e.code == berth_error::ErrorCode::InvalidArgument => {
            let mut r = api_error(e);
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            r
        }
        Err(e) => api_error(e),
    }
}

#[derive(Deserialize)]
pub struct ReportQuery {
    sbom_media_type: Option<String>,
}

/// What the `Accept` header asks for: a vulnerability report (either version) or the SBOM.
enum Wanted {
    Vulnerabilities(&'static str),
    Sbom,
}

fn wanted(headers: &HeaderMap) -> Option<Wanted> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let asks: Vec<&str> = accept
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .collect();
    if asks.is_empty() || asks.contains(&"*/*") {
        return Some(Wanted::Vulnerabilities(VULN_REPORT));
    }
    for a in asks {
        if same_type(a, VULN_REPORT) {
            return Some(Wanted::Vulnerabilities(VULN_REPORT));
        }
        if same_type(a, HARBOR_VULN_REPORT) {
            return Some(Wanted::Vulnerabilities(HARBOR_VULN_REPORT));
        }
        if same_type(a, SBOM_REPORT) {
            return Some(Wanted::Sbom);
        }
    }
    None
}

/// A report's time as the spec's `date-time` (now when it has none).
fn time_of(t: Option<prost_types::Timestamp>) -> String {
    super::dto::time(t).unwrap_or_else(|| super::dto::rfc3339(chrono::Utc::now()))
}

/// `GET /api/v1/scan/{id}/report`: `302` with `Refresh-After` until the scan ends, then the
/// report the `Accept` header asks for.
pub async fn scan_report(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(id): Path<String>,
    query: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Response {
    // A query the spec's parameters do not read (a repeated `sbom_media_type`) is the spec's
    // error, not the framework's plain text.
    let q = match query {
        Ok(Query(q)) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let Some(want) = wanted(&headers) else {
        return error(
            StatusCode::NOT_IMPLEMENTED,
            format!("Berth produces {VULN_REPORT}, {HARBOR_VULN_REPORT} and {SBOM_REPORT}"),
        );
    };
    let sbom_format = match (&want, q.sbom_media_type.as_deref()) {
        (Wanted::Sbom, Some(m)) if same_type(m, SPDX) => Some(("spdx", SPDX)),
        (Wanted::Sbom, Some(m)) if same_type(m, CYCLONEDX) => Some(("cyclonedx", CYCLONEDX)),
        (Wanted::Sbom, _) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("sbom_media_type must be {SPDX} or {CYCLONEDX}"),
            )
        }
        _ => None,
    };
    let scan = match ops::get_scan(&s, &p, &id).await {
        Ok(scan) => scan,
        Err(e) => return api_error(e),
    };
    match scan.status.as_str() {
        "queued" | "scanning" => {
            return (StatusCode::FOUND, [("Refresh-After", REFRESH_AFTER)]).into_response()
        }
        "complete" => {}
        _ => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the scan {}: {}", scan.status, scan.error),
            )
        }
    }
    let artifact = json!({"repository": scan.repository, "digest": scan.digest});
    if let Some((format, media_type)) = sbom_format {
        let sbom = match ops::get_sbom(
            &s,
            &p,
            &scan.registry,
            &scan.repository,
            &scan.digest,
            format,
            "",
        )
        .await
        {
            Ok(r) => r,
            Err(e) => return api_error(e),
        };
        let document: Value = serde_json::from_str(&sbom.document).unwrap_or(Value::Null);
        return typed(
            StatusCode::OK,
            SBOM_REPORT,
            json!({"generated_at": time_of(scan.finished_at), "artifact": artifact,
                   "scanner": scanner(), "media_type": media_type, "sbom": document}),
        );
    }
    let Wanted::Vulnerabilities(media_type) = want else {
        unreachable!("an SBOM was answered above");
    };
    let report = match ops::get_report(&s, &p, &scan.registry, &scan.repository, &scan.digest).await
    {
        Ok(r) => r,
        Err(e) => return api_error(e),
    };
    typed(
        StatusCode::OK,
        media_type,
        harbor_report(&scan, &report, artifact),
    )
}

/// A Berth report as Harbor's vulnerability report.
fn harbor_report(scan: &pb::Scan, report: &pb::Report, artifact: Value) -> Value {
    const ORDER: [&str; 5] = ["unknown", "low", "medium", "high", "critical"];
    let worst = report
        .findings
        .iter()
        .map(|f| ORDER.iter().position(|o| *o == f.severity).unwrap_or(0))
        .max()
        .unwrap_or(0);
    let vulnerabilities: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut v = json!({
                "id": f.id,
                "package": f.package,
                "version": f.installed,
                "fix_version": f.fixed,
                "severity": harbor_severity(&f.severity),
                "description": "",
                "links": [format!("https://osv.dev/vulnerability/{}", f.id)],
                "cwe_ids": [],
                "vendor_attributes": {"aliases": f.aliases, "ecosystem": f.ecosystem,
                                      "platform": f.platform},
            });
            if let Some(score) = f.score {
                v["preferred_cvss"] = json!({"score_v3": score});
            }
            if !f.layer.is_empty() {
                v["layer"] = json!({"digest": f.layer});
            }
            v
        })
        .collect();
    json!({
        "generated_at": time_of(report.updated_at.or(scan.finished_at)),
        "artifact": artifact,
        // Berth's own findings, or those of the external scanner that judges the registry.
        "scanner": if report.scanner.is_empty() || report.scanner == "berth" {
            scanner()
        } else {
            json!({"name": report.scanner, "vendor": "via Berth", "version": ""})
        },
        "severity": harbor_severity(ORDER[worst]),
        "vulnerabilities": vulnerabilities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_urls_compare_as_the_same_place() {
        assert_eq!(
            normalized("HTTPS://Core.Harbor.Domain/"),
            normalized("https://core.harbor.domain")
        );
        assert_eq!(
            normalized("https://core.harbor.domain:443"),
            normalized("https://core.harbor.domain")
        );
        assert_ne!(
            normalized("http://127.0.0.1:5000"),
            normalized("http://127.0.0.1:5001")
        );
        assert_eq!(normalized("not a url"), None);
    }
}
