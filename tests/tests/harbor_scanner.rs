//! Harbor's pluggable scanner API (adapter spec v1.2), both ways, on a real docker-registry:
//! Berth serves it (a client speaking exactly what Harbor sends: its media types, `302` with
//! `Refresh-After` until the report is ready, Harbor's vulnerability and SBOM reports, the
//! spec's errors), and Berth uses an external scanner that serves it (another Berth, holding the
//! vulnerability records the first lacks) for the registries assigned to it: the findings, the
//! gate and the registration's rules (credential sealed and never returned, one scanner a
//! registry, the adapter checked when registered).

use std::time::Duration;

use berth_testkit::db::Backend;
use berth_testkit::image::{files_layer, push_image, Compression, Image, Target};
use berth_testkit::registry::{DockerRegistry, RegistryOptions};
use berth_tests::Suite;
use reqwest::Method;
use serde_json::{json, Value};

const METADATA: &str = "application/vnd.scanner.adapter.metadata+json; version=1.1";
const SCAN_REQUEST: &str = "application/vnd.scanner.adapter.scan.request+json; version=1.1";
const SCAN_RESPONSE: &str = "application/vnd.scanner.adapter.scan.response+json; version=1.0";
const VULN_REPORT: &str = "application/vnd.security.vulnerability.report; version=1.1";
const SBOM_REPORT: &str = "application/vnd.security.sbom.report+json; version=1.0";
const ERROR: &str = "application/vnd.scanner.adapter.error+json; version=1.0";

/// PYSEC-2018-28: requests before 2.20.0 (CVSS 3.1 7.5: high).
const REQUESTS_RECORD: &str = r#"{"id": "PYSEC-2018-28", "modified": "2021-06-10T06:51:00Z",
    "aliases": ["CVE-2018-18074"],
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
    "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}]}]}"#;

fn vulnerable_image() -> Image {
    Image::of_layers(
        vec![files_layer(
            &[(
                "usr/lib/python3/dist-packages/requests-2.19.1.dist-info/METADATA",
                b"Metadata-Version: 2.1\nName: requests\nVersion: 2.19.1\n",
            )],
            Compression::Gzip,
        )],
        "amd64",
    )
}

/// A suite with `registry` integrated as `hub` (space `team`, scanned on request).
async fn suite_with(registry: &DockerRegistry, records: bool) -> Suite {
    let suite = Suite::start(Backend::Sqlite).await;
    suite
        .ok(
            Method::POST,
            "/api/v1/registries",
            Some(json!({"name": "hub", "kind": "distribution", "url": registry.url()})),
        )
        .await;
    suite
        .ok(
            Method::POST,
            "/api/v1/registries/hub/spaces",
            Some(json!({"name": "team", "scan": {"on_push": false, "gate": "high"}})),
        )
        .await;
    if records {
        let resp = suite
            .http
            .post(format!("{}/api/v1/vulndb/import", suite.url))
            .bearer_auth(berth_tests::ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(REQUESTS_RECORD)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    suite
}

/// A call as Harbor makes it: `(status, content type, Refresh-After, body)`.
async fn harbor(
    suite: &Suite,
    token: Option<&str>,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    accept: Option<&str>,
    body: Option<String>,
) -> (u16, String, Option<String>, Value) {
    let mut req = suite.http.request(method, format!("{}{path}", suite.url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(c) = content_type {
        req = req.header("content-type", c);
    }
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (content_type, refresh) = (
        header("content-type").unwrap_or_default(),
        header("refresh-after"),
    );
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, content_type, refresh, body)
}

fn scan_request(registry_url: &str, repository: &str, digest: &str) -> String {
    json!({
        "registry": {"url": registry_url, "authorization": "Basic cm9ib3Q6c2VjcmV0"},
        "artifact": {"repository": repository, "digest": digest, "tag": "v1",
                     "mime_type": "application/vnd.oci.image.manifest.v1+json"},
        "enabled_capabilities": [{"type": "vulnerability", "produces_mime_types": [VULN_REPORT]}]
    })
    .to_string()
}

/// Whether blue-ns is denied `team/app:v1` of `registry`.
async fn denied(suite: &Suite, registry: &DockerRegistry) -> bool {
    let (_, d) = suite
        .admin(
            Method::POST,
            "/api/v1/access/check",
            Some(json!({"namespace": "blue-ns", "image": format!("{}/team/app:v1", registry.host())})),
        )
        .await;
    d["allowed"] == false
}

#[tokio::test]
async fn berth_serves_harbors_pluggable_scanner_api() {
    let registry = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let suite = suite_with(&registry, true).await;
    let image = vulnerable_image();
    let target = Target {
        host: registry.host(),
        credential: None,
    };
    push_image(&image, &target, "team/app", "v1").await.unwrap();
    let digest = image.manifest.digest.clone();
    let admin = Some(berth_tests::ADMIN_TOKEN);

    let (status, ct, _, md) = harbor(
        &suite,
        admin,
        Method::GET,
        "/api/v1/metadata",
        None,
        Some(METADATA),
        None,
    )
    .await;
    assert_eq!((status, ct.as_str()), (200, METADATA), "{md}");
    assert_eq!(md["scanner"]["name"], "Berth");
    let caps = md["capabilities"].as_array().unwrap();
    let vuln = caps.iter().find(|c| c["type"] == "vulnerability").unwrap();
    assert!(vuln["produces_mime_types"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == VULN_REPORT));
    assert!(vuln["consumes_mime_types"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == "application/vnd.docker.distribution.manifest.v2+json"));
    let sbom = caps.iter().find(|c| c["type"] == "sbom").unwrap();
    assert_eq!(
        sbom["additional_attributes"]["sbom_media_types"],
        json!(["application/spdx+json", "application/vnd.cyclonedx+json"])
    );
    assert!(
        md["properties"]["harbor.scanner-adapter/vulnerability-database-updated-at"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );

    // Without a credential nothing answers.
    let (status, _, _, _) = harbor(
        &suite,
        None,
        Method::GET,
        "/api/v1/metadata",
        None,
        None,
        None,
    )
    .await;
    assert_eq!(status, 401);

    let (status, ct, _, accepted) = harbor(
        &suite,
        admin,
        Method::POST,
        "/api/v1/scan",
        Some(SCAN_REQUEST),
        Some(SCAN_RESPONSE),
        Some(scan_request(
            &format!("{}/", registry.url()),
            "team/app",
            &digest,
        )),
    )
    .await;
    assert_eq!((status, ct.as_str()), (202, SCAN_RESPONSE), "{accepted}");
    let id = accepted["id"].as_str().unwrap().to_string();
    let report_path = format!("/api/v1/scan/{id}/report");

    // 302 with Refresh-After until the report is ready, then Harbor's report.
    let mut polls = 0;
    let report = loop {
        let (status, ct, refresh, body) = harbor(
            &suite,
            admin,
            Method::GET,
            &report_path,
            None,
            Some(VULN_REPORT),
            None,
        )
        .await;
        if status == 302 {
            assert!(
                refresh
                    .as_deref()
                    .and_then(|r| r.parse::<u64>().ok())
                    .is_some(),
                "302 without Refresh-After"
            );
            polls += 1;
            assert!(polls < 100, "the report never came");
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        assert_eq!((status, ct.as_str()), (200, VULN_REPORT), "{body}");
        break body;
    };
    assert_eq!(report["artifact"]["digest"], digest.as_str());
    assert_eq!(report["artifact"]["repository"], "team/app");
    assert_eq!(report["scanner"]["name"], "Berth");
    assert_eq!(report["severity"], "High");
    let v = &report["vulnerabilities"][0];
    assert_eq!(v["id"], "PYSEC-2018-28");
    assert_eq!(v["package"], "requests");
    assert_eq!(v["version"], "2.19.1");
    assert_eq!(v["fix_version"], "2.20.0");
    assert_eq!(v["severity"], "High");
    assert_eq!(v["preferred_cvss"]["score_v3"], 7.5);
    assert_eq!(v["layer"]["digest"], image.layers[0].digest.as_str());
    assert!(v["links"][0].as_str().unwrap().contains("PYSEC-2018-28"));
    assert!(chrono::DateTime::parse_from_rfc3339(report["generated_at"].as_str().unwrap()).is_ok());

    // The SBOM report, in either format; the format is required.
    let (status, ct, _, spdx) = harbor(
        &suite,
        admin,
        Method::GET,
        &format!("{report_path}?sbom_media_type=application/spdx%2Bjson"),
        None,
        Some(SBOM_REPORT),
        None,
    )
    .await;
    assert_eq!((status, ct.as_str()), (200, SBOM_REPORT), "{spdx}");
    assert_eq!(spdx["media_type"], "application/spdx+json");
    assert_eq!(spdx["sbom"]["spdxVersion"], "SPDX-2.3");
    let (status, _, _, cdx) = harbor(
        &suite,
        admin,
        Method::GET,
        &format!("{report_path}?sbom_media_type=application/vnd.cyclonedx%2Bjson"),
        None,
        Some(SBOM_REPORT),
        None,
    )
    .await;
    assert_eq!(
        (status, cdx["sbom"]["specVersion"].as_str()),
        (200, Some("1.6")),
        "{cdx}"
    );
    let (status, ct, _, e) = harbor(
        &suite,
        admin,
        Method::GET,
        &report_path,
        None,
        Some(SBOM_REPORT),
        None,
    )
    .await;
    assert_eq!((status, ct.as_str()), (400, ERROR), "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sbom_media_type"),
        "{e}"
    );
    // A repeated parameter is the spec's error too, not the framework's plain text.
    let (status, ct, _, e) = harbor(
        &suite,
        admin,
        Method::GET,
        &format!("{report_path}?sbom_media_type=a&sbom_media_type=b"),
        None,
        Some(SBOM_REPORT),
        None,
    )
    .await;
    assert_eq!((status, ct.as_str()), (400, ERROR), "{e}");
    assert!(e["error"]["message"].is_string(), "{e}");
    let (status, ct, _, _) = harbor(
        &suite,
        admin,
        Method::GET,
        &report_path,
        None,
        Some("text/csv"),
        None,
    )
    .await;
    assert_eq!((status, ct.as_str()), (501, ERROR));

    // The spec's errors: unknown ids 404, bad JSON 400, a field that names nothing 422.
    let (status, _, _, _) = harbor(
        &suite,
        admin,
        Method::GET,
        "/api/v1/scan/nope/report",
        None,
        Some(VULN_REPORT),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, ct, _, _) = harbor(
        &suite,
        admin,
        Method::POST,
        "/api/v1/scan",
        Some(SCAN_REQUEST),
        None,
        Some("{not json".into()),
    )
    .await;
    assert_eq!((status, ct.as_str()), (400, ERROR));
    let (status, _, _, e) = harbor(
        &suite,
        admin,
        Method::POST,
        "/api/v1/scan",
        Some(SCAN_REQUEST),
        None,
        Some(scan_request("http://127.0.0.1:1", "team/app", &digest)),
    )
    .await;
    assert_eq!(status, 422, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("registry.url"),
        "{e}"
    );
    let (status, _, _, e) = harbor(
        &suite,
        admin,
        Method::POST,
        "/api/v1/scan",
        Some(SCAN_REQUEST),
        None,
        Some(
            json!({"registry": {"url": registry.url()}, "artifact": {"repository": "team/app"}})
                .to_string(),
        ),
    )
    .await;
    assert_eq!(status, 422, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("artifact.digest"),
        "{e}"
    );

    // Another workspace's principal neither scans the private space nor reads the report.
    suite.workspace("green", "green-ns").await;
    let green = suite.member("green", "gina", "workspace-admin").await;
    let (status, _, _, _) = harbor(
        &suite,
        Some(&green),
        Method::GET,
        &report_path,
        None,
        Some(VULN_REPORT),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _, e) = harbor(
        &suite,
        Some(&green),
        Method::POST,
        "/api/v1/scan",
        Some(SCAN_REQUEST),
        None,
        Some(scan_request(&registry.url(), "team/app", &digest)),
    )
    .await;
    assert!(status == 404 || status == 422, "{status} {e}");
}

#[tokio::test]
async fn an_external_scanner_scans_the_registries_assigned_to_it() {
    let registry = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    // The external scanner: another Berth holding the records; this one holds none.
    let external = suite_with(&registry, true).await;
    let suite = suite_with(&registry, false).await;
    let image = vulnerable_image();
    let target = Target {
        host: registry.host(),
        credential: None,
    };
    push_image(&image, &target, "team/app", "v1").await.unwrap();
    let digest = image.manifest.digest.clone();

    // Registrations are checked: the field named, nothing stored.
    for (body, status, field) in [
        (
            json!({"name": "ext", "url": external.url, "auth": "Bearer", "registries": ["hub"]}),
            400,
            "access_credential",
        ),
        (
            json!({"name": "ext", "url": "http://127.0.0.1:1", "registries": ["hub"]}),
            400,
            "url",
        ),
        (
            json!({"name": "ext", "url": external.url, "auth": "Digest", "access_credential": "x", "registries": ["hub"]}),
            400,
            "auth",
        ),
        (
            json!({"name": "berth", "url": external.url, "registries": ["hub"]}),
            400,
            "name",
        ),
        (
            json!({"name": "ext", "url": external.url, "registries": []}),
            400,
            "registries",
        ),
    ] {
        let (s, e) = suite
            .admin(Method::POST, "/api/v1/scanners", Some(body))
            .await;
        assert_eq!(
            (s, e["error"]["field"].as_str()),
            (status, Some(field)),
            "{e}"
        );
    }
    let (s, _) = suite
        .admin(
            Method::POST,
            "/api/v1/scanners",
            Some(json!({"name": "ext", "url": external.url, "auth": "Bearer",
                "access_credential": berth_tests::ADMIN_TOKEN, "registries": ["nowhere"]})),
        )
        .await;
    assert_eq!(s, 404, "an unknown registry");
    // Only platform admins manage scanners.
    suite.workspace("green", "green-ns").await;
    let green = suite.member("green", "gina", "workspace-admin").await;
    let (s, _) = suite
        .call(Some(&green), Method::GET, "/api/v1/scanners", None)
        .await;
    assert_eq!(s, 403);

    let (s, created) = suite
        .admin(
            Method::POST,
            "/api/v1/scanners",
            Some(json!({"name": "ext", "url": external.url, "auth": "Bearer",
                "access_credential": berth_tests::ADMIN_TOKEN, "registries": ["hub"]})),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["health"], "healthy", "{created}");
    assert_eq!(created["scanner"]["name"], "Berth");
    assert_eq!(created["has_credential"], true);
    assert!(
        !created.to_string().contains(berth_tests::ADMIN_TOKEN),
        "the credential is never returned"
    );
    let (s, e) = suite
        .admin(
            Method::POST,
            "/api/v1/scanners",
            Some(
                json!({"name": "ext2", "url": external.url, "auth": "Bearer",
                "access_credential": berth_tests::ADMIN_TOKEN, "registries": ["hub"]}),
            ),
        )
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (409, Some("registries[0]")),
        "{e}"
    );
    let list = suite.ok(Method::GET, "/api/v1/scanners", None).await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["berth", "ext"]);
    assert!(!list.to_string().contains(berth_tests::ADMIN_TOKEN));

    // A scan of the registry goes to the external scanner: its records find what this Berth's
    // empty database cannot, and the gate holds on them.
    let report_path =
        format!("/api/v1/registries/hub/repositories/team/app/artifacts/{digest}/vulnerabilities");
    let done = suite.scan_to_end("hub", "team/app", "v1").await;
    assert_eq!(done["status"], "complete", "{done}");
    let report = suite.ok(Method::GET, &report_path, None).await;
    assert_eq!(report["scanner"], "ext", "{report}");
    assert_eq!(report["items"][0]["id"], "PYSEC-2018-28", "{report}");
    assert_eq!(report["items"][0]["fixed"], "2.20.0");
    assert_eq!(report["items"][0]["score"], 7.5);
    assert_eq!(report["items"][0]["layer"], image.layers[0].digest.as_str());
    assert_eq!(report["summary"]["high"], 1);
    // Served on as a Harbor scanner, the report names the scanner that judged it.
    let admin = Some(berth_tests::ADMIN_TOKEN);
    let (status, _, _, accepted) = harbor(
        &suite,
        admin,
        Method::POST,
        "/api/v1/scan",
        Some(SCAN_REQUEST),
        None,
        Some(scan_request(&registry.url(), "team/app", &digest)),
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    let path = format!("/api/v1/scan/{}/report", accepted["id"].as_str().unwrap());
    let served = berth_testkit::wait_for(Duration::from_secs(60), || async {
        let (status, _, _, body) = harbor(
            &suite,
            admin,
            Method::GET,
            &path,
            None,
            Some(VULN_REPORT),
            None,
        )
        .await;
        (status == 200).then_some(body)
    })
    .await
    .expect("the Harbor report");
    assert_eq!(served["scanner"]["name"], "ext", "{served}");
    assert_eq!(
        served["vulnerabilities"][0]["id"], "PYSEC-2018-28",
        "{served}"
    );
    suite.workspace("blue", "blue-ns").await;
    suite
        .ok(
            Method::PUT,
            "/api/v1/registries/hub/spaces/team/bindings/blue",
            None,
        )
        .await;
    let (_, d) = suite
        .admin(
            Method::POST,
            "/api/v1/access/check",
            Some(json!({"namespace": "blue-ns", "image": format!("{}/team/app:v1", registry.host())})),
        )
        .await;
    assert_eq!(d["allowed"], false, "{d}");
    assert!(
        d["reason"].as_str().unwrap().contains("PYSEC-2018-28"),
        "{d}"
    );
    // An external report has no inventory to make an SBOM from.
    let (s, e) = suite
        .admin(
            Method::GET,
            &format!(
                "/api/v1/registries/hub/repositories/team/app/artifacts/{digest}/sbom?format=spdx"
            ),
            None,
        )
        .await;
    assert_eq!(s, 412, "{e}");

    // Removed, the registry is the built-in scanner's again (which knows no records here).
    let (s, _) = suite
        .admin(Method::DELETE, "/api/v1/scanners/ext", None)
        .await;
    assert_eq!(s, 204);
    let done = suite.scan_to_end("hub", "team/app", "v1").await;
    assert_eq!(done["status"], "complete", "{done}");
    let report = suite.ok(Method::GET, &report_path, None).await;
    assert_eq!(
        (
            report["scanner"].as_str(),
            report["items"].as_array().map(Vec::len)
        ),
        (Some("berth"), Some(0)),
        "{report}"
    );
}

/// An external scanner's report is its own: a workspace whose registry an external scanner
/// judges (here one that knows no records, so it finds nothing) scans the same image there,
/// and the built-in scanner's report, which another registry's gate reads, still holds.
#[tokio::test]
async fn an_external_report_never_replaces_the_one_another_gate_reads() {
    let hub = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let other = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let external = suite_with(&other, false).await;
    let suite = suite_with(&hub, true).await;
    suite
        .ok(
            Method::POST,
            "/api/v1/registries",
            Some(json!({"name": "other", "kind": "distribution", "url": other.url()})),
        )
        .await;
    suite
        .ok(
            Method::POST,
            "/api/v1/scanners",
            Some(json!({"name": "ext", "url": external.url, "auth": "Bearer",
                "access_credential": berth_tests::ADMIN_TOKEN, "registries": ["other"]})),
        )
        .await;
    suite.workspace("blue", "blue-ns").await;
    suite
        .ok(
            Method::PUT,
            "/api/v1/registries/hub/spaces/team/bindings/blue",
            None,
        )
        .await;
    let image = vulnerable_image();
    for r in [&hub, &other] {
        let target = Target {
            host: r.host(),
            credential: None,
        };
        push_image(&image, &target, "team/app", "v1").await.unwrap();
    }
    assert_eq!(
        suite.scan_to_end("hub", "team/app", "v1").await["status"],
        "complete"
    );
    assert!(denied(&suite, &hub).await, "the built-in report denies");
    // The same digest scanned on the other registry, by the external scanner: clean there.
    let done = suite.scan_to_end("other", "team/app", "v1").await;
    assert_eq!(done["status"], "complete", "{done}");
    let digest = image.manifest.digest.clone();
    let theirs = suite
        .ok(
            Method::GET,
            &format!(
                "/api/v1/registries/other/repositories/team/app/artifacts/{digest}/vulnerabilities"
            ),
            None,
        )
        .await;
    assert_eq!(
        (
            theirs["scanner"].as_str(),
            theirs["items"].as_array().map(Vec::len)
        ),
        (Some("ext"), Some(0)),
        "{theirs}"
    );
    let ours = suite
        .ok(
            Method::GET,
            &format!(
                "/api/v1/registries/hub/repositories/team/app/artifacts/{digest}/vulnerabilities"
            ),
            None,
        )
        .await;
    assert_eq!(
        (ours["scanner"].as_str(), ours["items"][0]["id"].as_str()),
        (Some("berth"), Some("PYSEC-2018-28")),
        "{ours}"
    );
    assert!(
        denied(&suite, &hub).await,
        "the external report replaced the one the gate reads"
    );
}
