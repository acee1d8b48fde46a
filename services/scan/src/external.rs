//! A client of Harbor's pluggable scanner API (v1.1 and v1.2 of the adapter spec): what Berth
//! uses to have an external scanner scan the artifacts of the registries assigned to it.
//!
//! `GET {url}/api/v1/metadata` says what the adapter is and produces; `POST {url}/api/v1/scan`
//! queues a scan of one artifact (the registry's URL and a pull authorization go with it, as
//! Harbor sends them); `GET {url}/api/v1/scan/{id}/report` answers `302` with `Refresh-After`
//! until the report is ready, then `200` with Harbor's vulnerability report. Requests
//! authenticate as Harbor's registrations do: `Basic` (the credential `user:password`, encoded
//! here), `Bearer` (the token) or `X-ScannerAdapter-API-Key`.

use std::time::Duration;

use base64::Engine;
use serde::Deserialize;

use crate::matcher::Finding;
use crate::reports::Item;
use crate::severity::Severity;

use berth_runtime::harbor_scanner::{
    same_type, HARBOR_VULN_REPORT, METADATA, SCAN_REQUEST, SCAN_RESPONSE, VULN_REPORT,
};

/// How long a report may take before the scan is failed.
const REPORT_WAIT: Duration = Duration::from_secs(30 * 60);
/// The largest answer read from an adapter (a report of every vulnerability of a large image
/// is a few megabytes).
const MAX_ANSWER: usize = 64 << 20;

/// An answer's body, at most [`MAX_ANSWER`].
async fn body_of(resp: reqwest::Response, what: &str) -> Result<String, String> {
    use futures::StreamExt;
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("{what}: {e}"))?;
        if out.len() + chunk.len() > MAX_ANSWER {
            return Err(format!(
                "{what}: the answer is larger than {} MiB",
                MAX_ANSWER >> 20
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The longest `Refresh-After` honoured, and the default when none is sent.
const MAX_REFRESH: u64 = 30;
const DEFAULT_REFRESH: u64 = 2;

/// An external scanner as the worker calls it (its credential opened).
#[derive(Clone)]
pub struct Adapter {
    pub name: String,
    pub url: String,
    pub auth: String,
    pub credential: String,
    http: reqwest::Client,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScannerInfo {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub vendor: String,
    #[serde(default)]
    pub version: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Capability {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub consumes_mime_types: Vec<String>,
    #[serde(default)]
    pub produces_mime_types: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub scanner: ScannerInfo,
    #[serde(default)]
    pub capabilities: Vec<Capability>,
}

impl Metadata {
    /// Whether the adapter produces vulnerability reports Berth reads.
    pub fn reports_vulnerabilities(&self) -> bool {
        self.capabilities.iter().any(|c| {
            c.kind.as_deref().is_none_or(|k| k == "vulnerability")
                && c.produces_mime_types
                    .iter()
                    .any(|m| same_type(m, VULN_REPORT) || same_type(m, HARBOR_VULN_REPORT))
        })
    }
}

#[derive(Debug, Deserialize)]
struct ScanResponse {
    id: String,
}

#[derive(Debug, Default, Deserialize)]
struct Cvss {
    #[serde(default)]
    score_v3: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
struct Layer {
    #[serde(default)]
    digest: String,
}

#[derive(Debug, Deserialize)]
struct Vulnerability {
    #[serde(default)]
    id: String,
    #[serde(default)]
    package: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    fix_version: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    preferred_cvss: Option<Cvss>,
    #[serde(default)]
    layer: Option<Layer>,
    #[serde(default)]
    vendor_attributes: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct VulnReport {
    #[serde(default)]
    vulnerabilities: Option<Vec<Vulnerability>>,
}

/// Harbor's severity words as Berth's (`Negligible` is low).
pub fn severity_of(word: &str) -> Severity {
    match word.to_ascii_lowercase().as_str() {
        "critical" => Severity::Critical,
        "high" => Severity::High,
        "medium" => Severity::Medium,
        "low" | "negligible" => Severity::Low,
        _ => Severity::Unknown,
    }
}

/// An adapter's answer that was not what the API says, for the scan's reason.
fn answer(what: &str, status: reqwest::StatusCode, body: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.chars().take(200).collect());
    format!("{what}: HTTP {status}: {message}")
}

impl Adapter {
    pub fn new(name: &str, url: &str, auth: &str, credential: &str) -> Self {
        Self {
            name: name.into(),
            url: url.trim_end_matches('/').into(),
            auth: auth.into(),
            credential: credential.into(),
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(60))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
        }
    }

    fn call(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.url));
        match self.auth.as_str() {
            "Basic" => req.header(
                "Authorization",
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(&self.credential)
                ),
            ),
            "Bearer" => req.header("Authorization", format!("Bearer {}", self.credential)),
            "X-ScannerAdapter-API-Key" => req.header("X-ScannerAdapter-API-Key", &self.credential),
            _ => req,
        }
    }

    /// What the adapter says it is and produces.
    pub async fn metadata(&self) -> Result<Metadata, String> {
        let resp = self
            .call(reqwest::Method::GET, "/api/v1/metadata")
            .header("Accept", METADATA)
            .send()
            .await
            .map_err(|e| format!("GET /api/v1/metadata: {e}"))?;
        let status = resp.status();
        let body = body_of(resp, "GET /api/v1/metadata").await?;
        if !status.is_success() {
            return Err(answer("GET /api/v1/metadata", status, &body));
        }
        serde_json::from_str(&body).map_err(|e| format!("GET /api/v1/metadata: not metadata: {e}"))
    }

    /// Has the adapter scan `repository@digest` of the registry at `registry_url` and waits for
    /// its report: the findings, as Berth keeps them.
    pub async fn scan(
        &self,
        registry_url: &str,
        authorization: Option<String>,
        repository: &str,
        digest: &str,
        mime_type: &str,
    ) -> Result<Vec<Item>, String> {
        let request = serde_json::json!({
            "registry": {"url": registry_url, "authorization": authorization.unwrap_or_default()},
            "artifact": {"repository": repository, "digest": digest, "mime_type": mime_type},
            "enabled_capabilities": [{"type": "vulnerability", "produces_mime_types": [VULN_REPORT]}],
        });
        let resp = self
            .call(reqwest::Method::POST, "/api/v1/scan")
            .header("Content-Type", SCAN_REQUEST)
            .header("Accept", SCAN_RESPONSE)
            .body(request.to_string())
            .send()
            .await
            .map_err(|e| format!("POST /api/v1/scan: {e}"))?;
        let status = resp.status();
        let body = body_of(resp, "POST /api/v1/scan").await?;
        if status != reqwest::StatusCode::ACCEPTED && !status.is_success() {
            return Err(answer("POST /api/v1/scan", status, &body));
        }
        let id = serde_json::from_str::<ScanResponse>(&body)
            .map_err(|e| format!("POST /api/v1/scan: no scan id: {e}"))?
            .id;
        let path = format!(
            "/api/v1/scan/{}/report",
            percent_encoding::utf8_percent_encode(&id, percent_encoding::NON_ALPHANUMERIC)
        );
        let deadline = tokio::time::Instant::now() + REPORT_WAIT;
        loop {
            let resp = self
                .call(reqwest::Method::GET, &path)
                .header("Accept", VULN_REPORT)
                .send()
                .await
                .map_err(|e| format!("GET {path}: {e}"))?;
            let status = resp.status();
            if status == reqwest::StatusCode::FOUND {
                let wait = resp
                    .headers()
                    .get("Refresh-After")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(DEFAULT_REFRESH)
                    .clamp(1, MAX_REFRESH);
                if tokio::time::Instant::now() + Duration::from_secs(wait) > deadline {
                    return Err(format!(
                        "the report was not ready within {} minutes",
                        REPORT_WAIT.as_secs() / 60
                    ));
                }
                tokio::time::sleep(Duration::from_secs(wait)).await;
                continue;
            }
            let body = body_of(resp, &format!("GET {path}")).await?;
            if !status.is_success() {
                return Err(answer(&format!("GET {path}"), status, &body));
            }
            let report: VulnReport = serde_json::from_str(&body)
                .map_err(|e| format!("GET {path}: not a vulnerability report: {e}"))?;
            return Ok(items(report));
        }
    }
}

/// The report's vulnerabilities as findings, worst first.
fn items(report: VulnReport) -> Vec<Item> {
    let mut out: Vec<Item> = report
        .vulnerabilities
        .unwrap_or_default()
        .into_iter()
        .filter(|v| !v.id.is_empty())
        .map(|v| {
            let attributes = v.vendor_attributes.unwrap_or_default();
            let aliases = attributes["aliases"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect();
            Item {
                finding: Finding {
                    id: v.id,
                    aliases,
                    package: v.package,
                    ecosystem: attributes["ecosystem"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    installed: v.version,
                    fixed: Some(v.fix_version).filter(|f| !f.is_empty()),
                    severity: severity_of(&v.severity),
                    score: v.preferred_cvss.and_then(|c| c.score_v3),
                    layer: v.layer.map(|l| l.digest).unwrap_or_default(),
                },
                platform: String::new(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.finding
            .severity
            .cmp(&a.finding.severity)
            .then_with(|| a.finding.id.cmp(&b.finding.id))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_read_as_harbor_writes_them() {
        let report: VulnReport = serde_json::from_str(
            r#"{"generated_at": "2026-12-07T00:00:00Z", "severity": "High",
                "vulnerabilities": [
                  {"id": "CVE-1", "package": "p", "version": "1", "severity": "Negligible"},
                  {"id": "CVE-2", "package": "q", "version": "2", "fix_version": "3",
                   "severity": "High", "preferred_cvss": {"score_v3": 7.5},
                   "layer": {"digest": "sha256:ab", "diff_id": "sha256:cd"},
                   "vendor_attributes": {"aliases": ["GHSA-x"], "ecosystem": "PyPI"}},
                  {"id": "", "package": "nameless"}]}"#,
        )
        .unwrap();
        let items = items(report);
        assert_eq!(items.len(), 2);
        let f = &items[0].finding;
        assert_eq!(
            (f.id.as_str(), f.severity, f.score, f.fixed.as_deref()),
            ("CVE-2", Severity::High, Some(7.5), Some("3"))
        );
        assert_eq!(
            (f.layer.as_str(), f.aliases.clone()),
            ("sha256:ab", vec!["GHSA-x".to_string()])
        );
        assert_eq!(items[1].finding.severity, Severity::Low);
    }
}
