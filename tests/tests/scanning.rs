//! Scanning end to end, on PostgreSQL, RabbitMQ and Redis and a real docker-registry: a push
//! notification scans the image (its space's policy says `on_push`), the report names the
//! vulnerable package, and the space's severity gate denies the pull through `CheckPull` and
//! admission until an allowlist entry lets it through, and again once the entry expires. Another
//! workspace reads no report; a database update re-matches without reading a layer again.

use std::time::Duration;

use berth_testkit::db::Backend;
use berth_testkit::image::{files_layer, push_image, Compression, Image, Target};
use berth_testkit::registry::{DockerRegistry, RegistryOptions};
use berth_tests::Suite;
use reqwest::Method;
use serde_json::{json, Value};

const HOOK_SECRET: &str = "scan-hook-secret-0123456789abcdef01234567";

/// PYSEC-2018-28: requests before 2.20.0 sends the Authorization header across an HTTPS to
/// HTTP redirect (CVE-2018-18074, CVSS 3.1 7.5: high).
const REQUESTS_RECORD: &str = r#"{"id": "PYSEC-2018-28", "modified": "2021-06-10T06:51:00Z",
    "aliases": ["CVE-2018-18074", "GHSA-x84v-xcm2-53pg"],
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
    "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}]}]}"#;

/// GHSA-j8r2-6x86-q33q (CVE-2023-32681): requests leaks Proxy-Authorization headers to
/// destination servers, fixed in 2.31.0 (medium, 6.1).
const PROXY_RECORD: &str = r#"{"id": "GHSA-j8r2-6x86-q33q", "modified": "2023-05-26T00:00:00Z",
    "aliases": ["CVE-2023-32681"],
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N"}],
    "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.3.0"}, {"fixed": "2.31.0"}]}]}]}"#;

async fn import_json(suite: &Suite, body: &str) -> Value {
    let resp = suite
        .http
        .post(format!("{}/api/v1/vulndb/import", suite.url))
        .bearer_auth(berth_tests::ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{v}");
    v
}

/// A layer of `requests` 2.19.1 (PYSEC-2018-28), the tests' vulnerable package.
fn requests_layer(compression: Compression) -> berth_testkit::image::FileLayer {
    files_layer(
        &[(
            "usr/lib/python3/dist-packages/requests-2.19.1.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: requests\nVersion: 2.19.1\n",
        )],
        compression,
    )
}

/// A `linux/amd64` image of [`requests_layer`].
fn vulnerable_image(compression: Compression) -> Image {
    Image::of_layers(vec![requests_layer(compression)], "amd64")
}

/// `POST /api/v1/scans` as the admin: the accepted scan.
async fn request_scan(suite: &Suite, registry: &str, repository: &str, reference: &str) -> Value {
    let (status, scan) = suite
        .admin(
            Method::POST,
            "/api/v1/scans",
            Some(json!({"registry": registry, "repository": repository, "reference": reference})),
        )
        .await;
    assert_eq!(status, 202, "{scan}");
    scan
}

async fn check(suite: &Suite, image: &str) -> Value {
    let (status, d) = suite
        .admin(
            Method::POST,
            "/api/v1/access/check",
            Some(json!({"namespace": "blue-ns", "image": image})),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    d
}

async fn admitted(suite: &Suite, image: &str) -> Value {
    let review = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "3c1e7a0e-0000-4000-8000-000000000001",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "blue-ns",
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:ci:deployer"},
            "object": {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "web", "namespace": "blue-ns"},
                "spec": {"containers": [{"name": "c0", "image": image}]}},
            "dryRun": false
        }
    });
    let resp = suite
        .http
        .post(format!("{}/admission/validate", suite.url))
        .bearer_auth(berth_tests::ADMISSION_TOKEN)
        .json(&review)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    v["response"].clone()
}

/// The report of `repository@digest` on `registry` once it is complete (waiting up to a minute).
async fn complete_report(suite: &Suite, registry: &str, repository: &str, digest: &str) -> Value {
    let path = format!(
        "/api/v1/registries/{registry}/repositories/{repository}/artifacts/{digest}/vulnerabilities"
    );
    berth_testkit::wait_for(Duration::from_secs(60), || async {
        let (status, r) = suite.admin(Method::GET, &path, None).await;
        (status == 200 && r["status"] == "complete").then_some(r)
    })
    .await
    .unwrap_or_else(|| panic!("{repository}@{digest} is not scanned"))
}

#[tokio::test]
async fn push_scan_gate_allowlist_and_rematch() {
    let suite = Suite::start(Backend::Postgres).await;
    let registry = DockerRegistry::start(RegistryOptions {
        notify_url: Some(format!("{}/hooks/distribution/hub", suite.url)),
        notify_token: Some(HOOK_SECRET.into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let (status, body) = suite
        .admin(
            Method::POST,
            "/api/v1/registries",
            Some(json!({"name": "hub", "kind": "distribution", "url": registry.url()})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    suite
        .ok(
            Method::POST,
            "/api/v1/registries/hub/hook-secret",
            Some(json!({"secret": HOOK_SECRET})),
        )
        .await;
    suite.workspace("blue", "blue-ns").await;
    suite.workspace("green", "green-ns").await;
    let blue = suite.member("blue", "bob", "workspace-viewer").await;
    let green = suite.member("green", "gina", "workspace-admin").await;

    // A bad policy is refused naming the field, and leaves no space behind.
    let (status, body) = suite
        .admin(
            Method::POST,
            "/api/v1/registries/hub/spaces",
            Some(json!({"name": "team", "scan": {"on_push": true, "gate": "severe"}})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "scan.gate", "{body}");
    let (status, _) = suite
        .admin(Method::GET, "/api/v1/registries/hub/spaces/team", None)
        .await;
    assert_eq!(status, 404);
    suite
        .ok(
            Method::POST,
            "/api/v1/registries/hub/spaces",
            Some(json!({"name": "team", "scan": {"on_push": true, "gate": "high", "unscanned": "deny"}})),
        )
        .await;
    suite
        .ok(
            Method::PUT,
            "/api/v1/registries/hub/spaces/team/bindings/blue",
            None,
        )
        .await;
    let space = suite
        .ok(Method::GET, "/api/v1/registries/hub/spaces/team", None)
        .await;
    assert_eq!(space["scan"]["gate"], "high", "{space}");
    assert_eq!(space["scan"]["unscanned"], "deny", "{space}");

    let imported = import_json(&suite, REQUESTS_RECORD).await;
    assert_eq!(imported["imported"], 1, "{imported}");
    let db = suite.ok(Method::GET, "/api/v1/vulndb", None).await;
    assert_eq!(db["records"], 1, "{db}");
    assert_eq!(db["ecosystems"]["PyPI"], 1, "{db}");
    assert!(db["updated_at"].is_string(), "{db}");
    // Importing the same record again changes nothing.
    assert_eq!(import_json(&suite, REQUESTS_RECORD).await["imported"], 0);

    let image_ref = format!("{}/team/app:v1", registry.host());
    // Not scanned yet, and the space denies unscanned artifacts.
    let d = check(&suite, &image_ref).await;
    assert_eq!(d["allowed"], false, "{d}");
    assert!(
        d["reason"].as_str().unwrap().contains("not been scanned"),
        "{d}"
    );

    let layer = files_layer(
        &[
            (
                "etc/os-release",
                b"ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
            ),
            (
                "usr/lib/python3/dist-packages/requests-2.19.1.dist-info/METADATA",
                b"Metadata-Version: 2.1\nName: requests\nVersion: 2.19.1\n",
            ),
        ],
        Compression::Gzip,
    );
    let image = Image::of_layers(vec![layer], "amd64");
    let target = Target {
        host: registry.host(),
        credential: None,
    };
    push_image(&image, &target, "team/app", "v1").await.unwrap();
    let digest = image.manifest.digest.clone();
    let report_path =
        format!("/api/v1/registries/hub/repositories/team/app/artifacts/{digest}/vulnerabilities");

    // The push notification scans it.
    let report = complete_report(&suite, "hub", "team/app", &digest).await;
    let items = report["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{report}");
    assert_eq!(items[0]["id"], "PYSEC-2018-28");
    assert_eq!(items[0]["package"], "requests");
    assert_eq!(items[0]["installed"], "2.19.1");
    assert_eq!(items[0]["fixed"], "2.20.0");
    assert_eq!(items[0]["severity"], "high");
    assert_eq!(items[0]["score"], 7.5);
    assert_eq!(items[0]["layer"], image.layers[0].digest);
    assert_eq!(
        report["summary"],
        json!({"critical": 0, "high": 1, "medium": 0, "low": 0, "unknown": 0})
    );

    // Listings carry the severity summary: artifacts, and the image selector.
    let artifacts = suite
        .ok(
            Method::GET,
            "/api/v1/registries/hub/repositories/team/app/artifacts",
            None,
        )
        .await;
    assert_eq!(
        artifacts["items"][0]["vulnerabilities"]["status"], "complete",
        "{artifacts}"
    );
    assert_eq!(
        artifacts["items"][0]["vulnerabilities"]["summary"]["high"], 1,
        "{artifacts}"
    );
    let (status, images) = suite
        .call(
            Some(&blue),
            Method::GET,
            "/api/v1/namespaces/blue-ns/images",
            None,
        )
        .await;
    assert_eq!(status, 200, "{images}");
    let tag = &images["items"][0]["tags"][0];
    assert_eq!(tag["vulnerabilities"]["summary"]["high"], 1, "{images}");

    // The gate holds at CheckPull and admission, naming the vulnerability.
    let d = check(&suite, &image_ref).await;
    assert_eq!(d["allowed"], false, "{d}");
    assert!(
        d["reason"].as_str().unwrap().contains("PYSEC-2018-28"),
        "{d}"
    );
    let a = admitted(&suite, &image_ref).await;
    assert_eq!(a["allowed"], false, "{a}");
    assert!(
        a["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("PYSEC-2018-28"),
        "{a}"
    );

    // Another workspace sees no report (nor the scan); the bound workspace does.
    let (status, _) = suite
        .call(Some(&green), Method::GET, &report_path, None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = suite
        .call(Some(&blue), Method::GET, &report_path, None)
        .await;
    assert_eq!(status, 200);
    // A workspace-admin of another workspace may not allowlist in this space.
    let (status, _) = suite
        .call(
            Some(&green),
            Method::PUT,
            "/api/v1/allowlist/CVE-2018-18074",
            Some(json!({"registry": "hub", "space": "team", "reason": "mine now"})),
        )
        .await;
    assert_eq!(status, 404);

    // The SBOM lists the package with its purl.
    let resp = suite
        .http
        .get(format!("{}/api/v1/registries/hub/repositories/team/app/artifacts/{digest}/sbom?format=cyclonedx", suite.url))
        .bearer_auth(berth_tests::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let bom: Value = resp.json().await.unwrap();
    assert_eq!(bom["specVersion"], "1.6");
    assert!(
        bom["components"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["purl"] == "pkg:pypi/requests@2.19.1"),
        "{bom}"
    );

    // An allowlist entry for the CVE (an alias of the record) lets it through until it expires.
    let expires = (chrono::Utc::now() + chrono::Duration::seconds(4)).to_rfc3339();
    let (status, entry) = suite
        .admin(
            Method::PUT,
            "/api/v1/allowlist/CVE-2018-18074",
            Some(json!({"registry": "hub", "space": "team", "expires_at": expires, "reason": "not reachable: no redirects"})),
        )
        .await;
    assert_eq!(status, 200, "{entry}");
    let d = check(&suite, &image_ref).await;
    assert_eq!(d["allowed"], true, "{d}");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let d = check(&suite, &image_ref).await;
    assert_eq!(d["allowed"], false, "the entry expired: {d}");

    // A scan-gated replication copies the clean image of the space and skips the vulnerable one
    // with a note that names the finding.
    let clean = Image::of_layers(
        vec![files_layer(
            &[(
                "usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA",
                b"Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n",
            )],
            Compression::Gzip,
        )],
        "amd64",
    );
    push_image(&clean, &target, "team/clean", "v1")
        .await
        .unwrap();
    complete_report(&suite, "hub", "team/clean", &clean.manifest.digest).await;
    let mirror = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    suite
        .ok(
            Method::POST,
            "/api/v1/registries",
            Some(json!({"name": "mirror", "kind": "distribution", "url": mirror.url()})),
        )
        .await;
    let (status, e) = suite
        .admin(
            Method::POST,
            "/api/v1/replication/policies",
            Some(
                json!({"name": "gated", "source": {"registry": "hub", "space": "team"},
                "destination": {"registry": "mirror"}, "filters": [],
                "trigger": {"kind": "manual"}, "scan_gate": "severe"}),
            ),
        )
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (400, Some("scan_gate")),
        "{e}"
    );
    let policy = suite
        .ok(
            Method::POST,
            "/api/v1/replication/policies",
            Some(
                json!({"name": "gated", "source": {"registry": "hub", "space": "team"},
                "destination": {"registry": "mirror"}, "filters": [],
                "trigger": {"kind": "manual"}, "scan_gate": "high"}),
            ),
        )
        .await;
    assert_eq!(policy["scan_gate"], "high", "{policy}");
    let (done, tasks) = suite.run_to_end("gated", Duration::from_secs(60)).await;
    assert_eq!(
        (done["succeeded"].as_u64(), done["skipped"].as_u64()),
        (Some(1), Some(1)),
        "{done}"
    );
    let task = |repo: &str| {
        tasks["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["source_repository"] == repo)
            .cloned()
            .unwrap_or_else(|| panic!("no task for {repo}: {tasks}"))
    };
    let held = task("team/app");
    assert_eq!(held["status"], "skipped", "{held}");
    let note = held["error"].as_str().unwrap_or_default();
    assert!(
        note.contains("scan gate") && note.contains("PYSEC-2018-28"),
        "{held}"
    );
    assert_eq!(task("team/clean")["status"], "succeeded", "{tasks}");
    let dst = berth_oci::Client::new(&mirror.url(), None, Default::default()).unwrap();
    assert_eq!(
        dst.manifest("team/clean", "v1").await.unwrap().digest,
        clean.manifest.digest
    );
    assert!(
        dst.manifest("team/app", "v1").await.is_err(),
        "the vulnerable image stays behind"
    );

    // A database update re-matches the stored inventory: no layer is read again.
    import_json(&suite, PROXY_RECORD).await;
    let rematched = berth_testkit::wait_for(Duration::from_secs(20), || async {
        let (_, r) = suite.admin(Method::GET, &report_path, None).await;
        (r["items"].as_array().map(Vec::len) == Some(2)).then_some(r)
    })
    .await
    .expect("the report is re-matched");
    assert_eq!(rematched["summary"]["medium"], 1, "{rematched}");
    assert_eq!(rematched["db_version"], 2, "{rematched}");

    // A scan request of a digest complete at this version answers without reading anything.
    let scan = request_scan(&suite, "hub", "team/app", "v1").await;
    assert_eq!(scan["digest"], digest.as_str());
    let id = scan["id"].as_str().unwrap().to_string();
    let done = berth_testkit::wait_for(Duration::from_secs(20), || async {
        let (_, s) = suite
            .admin(Method::GET, &format!("/api/v1/scans/{id}"), None)
            .await;
        (s["status"] == "complete").then_some(s)
    })
    .await
    .expect("the scan ends");
    assert_eq!(done["layers_read"], 0, "{done}");
    assert_eq!(done["summary"]["high"], 1, "{done}");
    let (status, _) = suite
        .call(
            Some(&green),
            Method::GET,
            &format!("/api/v1/scans/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 404, "another workspace does not see the scan");

    // Bad input names the field.
    let (status, e) = suite
        .admin(
            Method::POST,
            "/api/v1/scans",
            Some(json!({"registry": "hub", "repository": "team/app", "reference": "no such tag!"})),
        )
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (400, Some("reference")),
        "{e}"
    );
    let (status, e) = suite
        .admin(
            Method::POST,
            "/api/v1/scans",
            Some(json!({"registry": "hub", "repository": "team/app", "reference": "v9"})),
        )
        .await;
    assert_eq!(status, 404, "{e}");
}

/// The token service: a namespace's pull credential gets no `pull` on a repository of a gated
/// space while an artifact of it that Berth scanned fails the gate; skopeo is refused, a clean
/// repository of the same space pulls, and a platform-wide allowlist entry lets it through.
#[tokio::test]
async fn skopeo_through_the_token_service_meets_the_gate() {
    let suite = Suite::start(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let cert = suite
        .http
        .get(format!("{}/auth/certificate", suite.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    std::fs::write(dir.path().join("berth.pem"), &cert).unwrap();
    let reg = DockerRegistry::start(RegistryOptions {
        token: Some(berth_testkit::registry::TokenAuth {
            realm: format!("{}/auth/token", suite.url),
            service: "tokreg".into(),
            issuer: "berth".into(),
            rootcertbundle: dir.path().join("berth.pem"),
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let host = reg.host();
    suite
        .ok(
            Method::POST,
            "/api/v1/registries",
            Some(json!({"name": "tokreg", "kind": "distribution", "url": reg.url(), "token_service": "berth"})),
        )
        .await;
    suite.workspace("blue", "blue-ns").await;
    suite
        .ok(
            Method::POST,
            "/api/v1/registries/tokreg/spaces",
            Some(json!({"name": "priv", "scan": {"gate": "high"}})),
        )
        .await;
    suite
        .ok(
            Method::PUT,
            "/api/v1/registries/tokreg/spaces/priv/bindings/blue",
            None,
        )
        .await;
    import_json(&suite, REQUESTS_RECORD).await;

    let admin = suite.token_for("admin").await;
    let as_admin = Target {
        host: host.clone(),
        credential: Some(("admin".into(), admin)),
    };
    let vulnerable = vulnerable_image(Compression::Zstd);
    let clean = Image::of_layers(
        vec![files_layer(
            &[(
                "usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA",
                b"Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n",
            )],
            Compression::Gzip,
        )],
        "amd64",
    );
    push_image(&vulnerable, &as_admin, "priv/app", "v1")
        .await
        .unwrap();
    push_image(&clean, &as_admin, "priv/clean", "v1")
        .await
        .unwrap();

    let secret = suite
        .ok(Method::GET, "/api/v1/namespaces/blue-ns/pull-secret", None)
        .await;
    let raw = base64_decode(secret["data"][".dockerconfigjson"].as_str().unwrap());
    let config: Value = serde_json::from_slice(&raw).unwrap();
    let (user, password) = (
        config["auths"][&host]["username"]
            .as_str()
            .unwrap()
            .to_string(),
        config["auths"][&host]["password"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    // Nothing scanned yet, and unscanned artifacts are allowed by default.
    assert!(berth_testkit::image::can_pull(&host, "priv/app:v1", &user, &password).await);

    for repository in ["priv/app", "priv/clean"] {
        let (status, scan) = suite
            .admin(
                Method::POST,
                "/api/v1/scans",
                Some(json!({"registry": "tokreg", "repository": repository, "reference": "v1"})),
            )
            .await;
        assert_eq!(status, 202, "{scan}");
        let id = scan["id"].as_str().unwrap().to_string();
        let done = berth_testkit::wait_for(Duration::from_secs(30), || async {
            let (_, s) = suite
                .admin(Method::GET, &format!("/api/v1/scans/{id}"), None)
                .await;
            (s["status"] != "queued" && s["status"] != "scanning").then_some(s)
        })
        .await
        .expect("the scan ends");
        assert_eq!(done["status"], "complete", "{done}");
    }
    assert!(
        !berth_testkit::image::can_pull(&host, "priv/app:v1", &user, &password).await,
        "the gate withholds pull on the vulnerable repository"
    );
    assert!(
        berth_testkit::image::can_pull(&host, "priv/clean:v1", &user, &password).await,
        "a clean repository of the same space pulls"
    );
    // A tag of the clean repository that names the vulnerable artifact (scanned elsewhere)
    // withholds the repository: which tag a token pulls is not known. (Gated answers are
    // cached up to ten seconds: a change shows within that.)
    let pulls = |image: &'static str, want: bool| {
        let (host, user, password) = (host.clone(), user.clone(), password.clone());
        async move {
            berth_testkit::wait_for(Duration::from_secs(15), || async {
                (berth_testkit::image::can_pull(&host, image, &user, &password).await == want)
                    .then_some(())
            })
            .await
            .is_some()
        }
    };
    push_image(&vulnerable, &as_admin, "priv/clean", "sneaky")
        .await
        .unwrap();
    assert!(
        pulls("priv/clean:sneaky", false).await,
        "a vulnerable tag of a repository with a clean one is pulled"
    );
    push_image(&clean, &as_admin, "priv/clean", "sneaky")
        .await
        .unwrap();
    // The tag moved, but the vulnerable manifest is still in the repository: a repository
    // token would pull it by digest, so the repository stays withheld until it is deleted.
    let vulnerable_digest = vulnerable.manifest.digest.clone();
    assert!(
        pulls("priv/clean:v1", false).await,
        "a moved tag's vulnerable manifest, still held, is pulled by digest"
    );
    assert!(
        !berth_testkit::image::can_pull(
            &host,
            &format!("priv/clean@{vulnerable_digest}"),
            &user,
            &password
        )
        .await
    );
    let admin_client = berth_oci::Client::new(
        &reg.url(),
        Some(berth_oci::Credential {
            username: "admin".into(),
            password: suite.token_for("admin").await,
        }),
        Default::default(),
    )
    .unwrap();
    admin_client
        .delete_manifest("priv/clean", &vulnerable_digest)
        .await
        .unwrap();
    assert!(
        pulls("priv/clean:v1", true).await,
        "clean again once the repository no longer holds the vulnerable manifest"
    );
    // An image pushed under a tag of the referrers tag schema's form is judged like any other.
    let fake_referrers = format!("sha256-{}", "1".repeat(64));
    push_image(&vulnerable, &as_admin, "priv/clean", &fake_referrers)
        .await
        .unwrap();
    assert!(
        pulls("priv/clean:v1", false).await,
        "an image under a sha256- tag is not mistaken for a referrers index"
    );
    admin_client
        .delete_manifest("priv/clean", &vulnerable_digest)
        .await
        .unwrap();
    assert!(pulls("priv/clean:v1", true).await);
    // With `unscanned: deny`, a never-scanned tag withholds the repository too.
    suite
        .ok(
            Method::PATCH,
            "/api/v1/registries/tokreg/spaces/priv",
            Some(json!({"scan": {"gate": "high", "unscanned": "deny"}})),
        )
        .await;
    let fresh = Image::new(&[(4242, 2048)], "amd64");
    push_image(&fresh, &as_admin, "priv/clean", "fresh")
        .await
        .unwrap();
    assert!(
        pulls("priv/clean:fresh", false).await,
        "a never-scanned tag in a space that denies unscanned artifacts is pulled"
    );
    suite
        .ok(
            Method::PATCH,
            "/api/v1/registries/tokreg/spaces/priv",
            Some(json!({"scan": {"gate": "high"}})),
        )
        .await;
    suite
        .ok(
            Method::PUT,
            "/api/v1/allowlist/CVE-2018-18074",
            Some(json!({"reason": "accepted platform-wide"})),
        )
        .await;
    assert!(
        berth_testkit::image::can_pull(&host, "priv/app:v1", &user, &password).await,
        "a platform-wide allowlist entry lets it through"
    );
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// Scan-all and schedules: a sweep of a space of a slow registry (a throttled proxy: each scan
/// takes a second) scans each image on the bulk queue, with its progress counted, while a push
/// into a space of another registry is scanned at once rather than behind the sweep; a space
/// whose policy has a cron is swept on schedule (nothing else scans it). Another workspace cannot
/// sweep a space it does not manage, nor read the sweep.
#[tokio::test]
async fn sweeps_by_request_and_schedule_never_hold_up_a_push() {
    let suite = Suite::start(Backend::Postgres).await;
    let registry = DockerRegistry::start(RegistryOptions {
        notify_url: Some(format!("{}/hooks/distribution/hub", suite.url)),
        notify_token: Some(HOOK_SECRET.into()),
        ..Default::default()
    })
    .await
    .unwrap();
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
            "/api/v1/registries/hub/hook-secret",
            Some(json!({"secret": HOOK_SECRET})),
        )
        .await;
    let far = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let proxy =
        berth_testkit::proxy::TcpProxy::start(format!("127.0.0.1:{}", far.port).parse().unwrap())
            .await
            .unwrap();
    suite
        .ok(
            Method::POST,
            "/api/v1/registries",
            Some(json!({"name": "slow", "kind": "distribution",
                "url": format!("http://127.0.0.1:{}", proxy.port)})),
        )
        .await;
    suite
        .ok(
            Method::POST,
            "/api/v1/registries/slow/spaces",
            Some(json!({"name": "bulk", "scan": {"on_push": false}})),
        )
        .await;
    for (space, scan) in [
        ("team", json!({"on_push": true})),
        (
            "nightly",
            json!({"on_push": false, "cron": "*/2 * * * * *"}),
        ),
    ] {
        suite
            .ok(
                Method::POST,
                "/api/v1/registries/hub/spaces",
                Some(json!({"name": space, "scan": scan})),
            )
            .await;
    }
    suite.workspace("green", "green-ns").await;
    let green = suite.member("green", "gina", "workspace-admin").await;
    let target = Target {
        host: registry.host(),
        credential: None,
    };
    const IMAGES: u64 = 16;
    const LAYER: usize = 256 * 1024;
    let far_target = Target {
        host: far.host(),
        credential: None,
    };
    for i in 0..IMAGES {
        let image = Image::new(&[(1000 + i, LAYER)], "amd64");
        push_image(&image, &far_target, &format!("bulk/app-{i:02}"), "v1")
            .await
            .unwrap();
    }
    let nightly = Image::new(&[(77, 4096)], "amd64");
    push_image(&nightly, &target, "nightly/app", "v1")
        .await
        .unwrap();

    // Bad input names the field; another workspace may not sweep the space.
    let (status, e) = suite
        .admin(
            Method::POST,
            "/api/v1/scan-sweeps",
            Some(json!({"registry": "slow", "space": "a/b"})),
        )
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (400, Some("space")),
        "{e}"
    );
    let (status, _) = suite
        .call(
            Some(&green),
            Method::POST,
            "/api/v1/scan-sweeps",
            Some(json!({"registry": "slow", "space": "bulk"})),
        )
        .await;
    assert_eq!(status, 404, "a private space of nobody's is not green's");

    // Each layer now takes a second to read.
    proxy.throttle(LAYER as u64);
    let (status, sweep) = suite
        .admin(
            Method::POST,
            "/api/v1/scan-sweeps",
            Some(json!({"registry": "slow", "space": "bulk"})),
        )
        .await;
    assert_eq!(status, 202, "{sweep}");
    assert_eq!(sweep["trigger"], "all");
    let sweep_path = format!("/api/v1/scan-sweeps/{}", sweep["id"].as_str().unwrap());
    // Once the sweep has queued its scans, a push into a space that scans on push is scanned
    // before the sweep is through.
    berth_testkit::wait_for(Duration::from_secs(60), || async {
        let (_, s) = suite.admin(Method::GET, &sweep_path, None).await;
        (s["status"] == "running").then_some(())
    })
    .await
    .expect("the sweep is planned");
    let pushed = Image::new(&[(5, 4096)], "amd64");
    push_image(&pushed, &target, "team/app", "v1")
        .await
        .unwrap();
    complete_report(&suite, "hub", "team/app", &pushed.manifest.digest).await;
    let (_, during) = suite.admin(Method::GET, &sweep_path, None).await;
    assert!(
        during["queued"].as_u64().unwrap() >= IMAGES / 2,
        "the push waited behind the sweep: {during}"
    );
    proxy.throttle(0);
    let done = berth_testkit::wait_for(Duration::from_secs(120), || async {
        let (_, s) = suite.admin(Method::GET, &sweep_path, None).await;
        (s["status"] == "complete").then_some(s)
    })
    .await
    .expect("the sweep ends");
    assert_eq!(
        (done["artifacts"].as_u64(), done["complete"].as_u64()),
        (Some(IMAGES), Some(IMAGES)),
        "{done}"
    );
    assert!(
        done["bytes_read"].as_u64().unwrap() >= IMAGES * LAYER as u64,
        "{done}"
    );
    assert!(done["finished_at"].is_string(), "{done}");
    let (status, _) = suite
        .call(Some(&green), Method::GET, &sweep_path, None)
        .await;
    assert_eq!(status, 404, "another workspace does not see the sweep");

    // The nightly space is swept on its schedule: nothing else scans it.
    complete_report(&suite, "hub", "nightly/app", &nightly.manifest.digest).await;
}

/// The gate judges what is held where it is asked, and nothing else: an index's platform image
/// pulled by its own digest meets the index's findings (no side door past the gate); a digest
/// named in a repository that does not hold it is judged as what it is there, so another
/// workspace's gated space is no oracle of a private report; a scan asked for in one
/// repository never answers another repository's scan; and `unscanned: "deny"` holds without
/// a severity gate.
#[tokio::test]
async fn the_gate_judges_what_is_held_where_it_is_asked() {
    let suite = Suite::start(Backend::Sqlite).await;
    let hub = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let theirs = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    suite
        .ok(
            Method::POST,
            "/api/v1/registries",
            Some(json!({"name": "hub", "kind": "distribution", "url": hub.url()})),
        )
        .await;
    suite.workspace("blue", "blue-ns").await;
    suite.workspace("red", "red-ns").await;
    let mallory = suite.member("red", "mallory", "workspace-admin").await;
    for (space, scan) in [
        ("team", json!({"gate": "high"})),
        ("plain", json!({"unscanned": "deny"})),
    ] {
        suite
            .ok(
                Method::POST,
                "/api/v1/registries/hub/spaces",
                Some(json!({"name": space, "scan": scan})),
            )
            .await;
        suite
            .ok(
                Method::PUT,
                &format!("/api/v1/registries/hub/spaces/{space}/bindings/blue"),
                None,
            )
            .await;
    }
    import_json(&suite, REQUESTS_RECORD).await;
    let amd64 = vulnerable_image(Compression::Gzip);
    let arm64 = Image::of_layers(vec![requests_layer(Compression::Zstd)], "arm64");
    let index = berth_testkit::image::Index::new(vec![amd64.clone(), arm64]);
    let target = Target {
        host: hub.host(),
        credential: None,
    };
    berth_testkit::image::push_index(&index, &target, "team/multi", "v1")
        .await
        .unwrap();
    let scan = request_scan(&suite, "hub", "team/multi", "v1").await;
    let index_digest = scan["digest"].as_str().unwrap().to_string();
    complete_report(&suite, "hub", "team/multi", &index_digest).await;

    // The platform's image by its own digest: denied, as the index is.
    let child = format!("{}/team/multi@{}", hub.host(), amd64.manifest.digest);
    let d = check(&suite, &child).await;
    assert_eq!(d["allowed"], false, "{d}");
    assert!(
        d["reason"].as_str().unwrap().contains("PYSEC-2018-28"),
        "{d}"
    );
    let a = admitted(&suite, &child).await;
    assert_eq!(a["allowed"], false, "{a}");

    // Red's own registry and gated space: blue's digest named there is not held there, so it
    // is judged unscanned, and nothing of blue's report shows.
    let (status, r) = suite
        .call(
            Some(&mallory),
            Method::POST,
            "/api/v1/registries",
            Some(
                json!({"name": "reds", "kind": "distribution", "url": theirs.url(),
                "workspace": "red"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    let (status, r) = suite
        .call(
            Some(&mallory),
            Method::POST,
            "/api/v1/registries/reds/spaces",
            Some(json!({"name": "probe", "scan": {"gate": "low", "unscanned": "deny"}})),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    suite
        .call(
            Some(&mallory),
            Method::PUT,
            "/api/v1/registries/reds/spaces/probe/bindings/red",
            None,
        )
        .await;
    for digest in [&index_digest, &amd64.manifest.digest] {
        let (status, d) = suite
            .call(
                Some(&mallory),
                Method::POST,
                "/api/v1/access/check",
                Some(json!({"namespace": "red-ns", "image": format!("{}/probe/x@{digest}", theirs.host())})),
            )
            .await;
        assert_eq!(status, 200, "{d}");
        assert_eq!(d["allowed"], false, "{d}");
        let reason = d["reason"].as_str().unwrap();
        assert!(
            !reason.contains("PYSEC") && !reason.contains("finding"),
            "the gate told red of blue's report: {reason}"
        );
    }
    // A digest in another case or form names nothing: 400, not a different answer.
    let (status, e) = suite
        .admin(
            Method::POST,
            "/api/v1/access/check",
            Some(json!({"namespace": "blue-ns",
                "image": format!("{}/team/multi@{}", hub.host(), index_digest.to_uppercase().replace("SHA256", "sha256"))})),
        )
        .await;
    assert_eq!(status, 400, "{e}");

    // Red holds the same index in its registry: its scan answers its own repository.
    let theirs_target = Target {
        host: theirs.host(),
        credential: None,
    };
    berth_testkit::image::push_index(&index, &theirs_target, "probe/copy", "v1")
        .await
        .unwrap();
    let (_, again) = suite
        .admin(
            Method::POST,
            "/api/v1/scans",
            Some(json!({"registry": "hub", "repository": "team/multi", "reference": "v1"})),
        )
        .await;
    let (status, mine) = suite
        .call(
            Some(&mallory),
            Method::POST,
            "/api/v1/scans",
            Some(json!({"registry": "reds", "repository": "probe/copy", "reference": "v1"})),
        )
        .await;
    assert_eq!(status, 202, "{mine}");
    assert_ne!(mine["id"], again["id"], "{mine}");
    assert_eq!(
        (mine["registry"].as_str(), mine["repository"].as_str()),
        (Some("reds"), Some("probe/copy")),
        "{mine}"
    );

    // `unscanned: deny` alone: a never-scanned image is denied.
    let fresh = Image::new(&[(99, 1024)], "amd64");
    push_image(&fresh, &target, "plain/app", "v1")
        .await
        .unwrap();
    let d = check(&suite, &format!("{}/plain/app:v1", hub.host())).await;
    assert_eq!(d["allowed"], false, "{d}");
    assert!(
        d["reason"].as_str().unwrap().contains("not been scanned"),
        "{d}"
    );
}

/// A zip of one OSV record a file, as osv.dev's `all.zip` exports are.
fn osv_zip(records: &[&str]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (i, r) in records.iter().enumerate() {
        out.start_file(
            format!("R-{i}.json"),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        std::io::Write::write_all(&mut out, r.as_bytes()).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// The vulnerability database follows a configured mirror (an air-gapped site's web server laid
/// out as osv.dev's bucket): the export is imported at start, asked for again with its `ETag`
/// (a 304 imports nothing), imported again when it changes, and a mirror that fails leaves the
/// database as it was and says why. Only platform admins make it fetch.
#[tokio::test]
async fn the_vulnerability_database_follows_its_mirror() {
    use std::sync::{Arc, Mutex};
    let export: Arc<Mutex<(Vec<u8>, String, bool)>> = Arc::new(Mutex::new((
        osv_zip(&[REQUESTS_RECORD]),
        "\"v1\"".into(),
        true,
    )));
    let asked: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let app = {
        let (export, asked) = (export.clone(), asked.clone());
        axum::Router::new().route(
            "/PyPI/all.zip",
            axum::routing::get(move |headers: http::HeaderMap| {
                let (export, asked) = (export.clone(), asked.clone());
                async move {
                    let seen = headers
                        .get("if-none-match")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    asked.lock().unwrap().push(seen.clone());
                    let (body, etag, up) = export.lock().unwrap().clone();
                    if !up {
                        return (http::StatusCode::SERVICE_UNAVAILABLE, Vec::new()).into_response();
                    }
                    if seen.as_deref() == Some(etag.as_str()) {
                        return (http::StatusCode::NOT_MODIFIED, Vec::new()).into_response();
                    }
                    ([("etag", etag)], body).into_response()
                }
            }),
        )
    };
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mirror = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let suite = Suite::start_with(
        Backend::Sqlite,
        berth_tests::Backends {
            vulndb: Some(berth_config::VulnDbMirror {
                url: mirror.clone(),
                ecosystems: vec!["PyPI".into()],
                every: Duration::from_secs(3600),
            }),
            ..Default::default()
        },
    )
    .await;
    // Fetched at start.
    let db = berth_testkit::wait_for(Duration::from_secs(30), || async {
        let db = suite.ok(Method::GET, "/api/v1/vulndb", None).await;
        (db["records"] == 1).then_some(db)
    })
    .await
    .expect("the mirror's export is imported at start");
    assert_eq!(
        db["sources"][0]["url"],
        format!("{mirror}/PyPI/all.zip"),
        "{db}"
    );
    assert_eq!(db["sources"][0]["status"], "imported", "{db}");
    let version = db["version"].as_u64().unwrap();

    // Asked again with its ETag: unchanged, nothing imported.
    let synced = suite.ok(Method::POST, "/api/v1/vulndb/sync", None).await;
    assert_eq!(synced["sources"][0]["status"], "unchanged", "{synced}");
    assert_eq!(synced["version"], version);
    assert_eq!(
        asked.lock().unwrap().last().cloned().flatten().as_deref(),
        Some("\"v1\"")
    );

    // A new export is imported.
    *export.lock().unwrap() = (
        osv_zip(&[REQUESTS_RECORD, PROXY_RECORD]),
        "\"v2\"".into(),
        true,
    );
    let synced = suite.ok(Method::POST, "/api/v1/vulndb/sync", None).await;
    assert_eq!(synced["sources"][0]["status"], "imported", "{synced}");
    assert_eq!(synced["sources"][0]["imported"], 1, "{synced}");
    assert_eq!(synced["version"], version + 1);

    // A mirror that fails changes nothing, and says so.
    export.lock().unwrap().2 = false;
    let synced = suite.ok(Method::POST, "/api/v1/vulndb/sync", None).await;
    assert_eq!(synced["sources"][0]["status"], "failed", "{synced}");
    assert!(
        synced["sources"][0]["error"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{synced}"
    );
    let db = suite.ok(Method::GET, "/api/v1/vulndb", None).await;
    assert_eq!(
        (db["records"].as_u64(), db["version"].as_u64()),
        (Some(2), Some(version + 1)),
        "{db}"
    );

    // Only platform admins make it fetch; without a mirror there is nothing to fetch.
    suite.workspace("blue", "blue-ns").await;
    let bob = suite.member("blue", "bob", "workspace-admin").await;
    let (status, _) = suite
        .call(Some(&bob), Method::POST, "/api/v1/vulndb/sync", None)
        .await;
    assert_eq!(status, 403);
    let plain = Suite::start(Backend::Sqlite).await;
    let (status, e) = plain.admin(Method::POST, "/api/v1/vulndb/sync", None).await;
    assert_eq!(status, 412, "{e}");
}

/// A space whose policy says `attach_sbom`: a scan attaches the image's CycloneDX SBOM to it
/// as an OCI referrer (on Distribution 2.8 through the referrers tag schema), once — a rescan
/// adds none — and a replication that copies referrers carries it to the mirror.
#[tokio::test]
async fn sboms_are_attached_to_their_images_and_travel_with_them() {
    let suite = Suite::start(Backend::Sqlite).await;
    let hub = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let mirror = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    for (name, r) in [("hub", &hub), ("mirror", &mirror)] {
        suite
            .ok(
                Method::POST,
                "/api/v1/registries",
                Some(json!({"name": name, "kind": "distribution", "url": r.url()})),
            )
            .await;
    }
    let space = suite
        .ok(
            Method::POST,
            "/api/v1/registries/hub/spaces",
            Some(json!({"name": "team", "scan": {"attach_sbom": true}})),
        )
        .await;
    assert_eq!(space["scan"]["attach_sbom"], true, "{space}");
    let image = vulnerable_image(Compression::Gzip);
    let target = Target {
        host: hub.host(),
        credential: None,
    };
    push_image(&image, &target, "team/app", "v1").await.unwrap();
    let digest = image.manifest.digest.clone();
    let client = berth_oci::Client::new(&hub.url(), None, Default::default()).unwrap();
    let sboms = |client: berth_oci::Client, repo: &'static str, digest: String| async move {
        client
            .referrers(repo, &digest)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.artifact_type.as_deref() == Some("application/vnd.cyclonedx+json"))
            .collect::<Vec<_>>()
    };
    for _ in 0..2 {
        let done = suite.scan_to_end("hub", "team/app", "v1").await;
        assert_eq!(done["status"], "complete", "{done}");
        // Attached right after the scan ends.
        berth_testkit::wait_for(Duration::from_secs(10), || async {
            (!sboms(client.clone(), "team/app", digest.clone())
                .await
                .is_empty())
            .then_some(())
        })
        .await
        .expect("an SBOM referrer");
    }
    let attached = sboms(client.clone(), "team/app", digest.clone()).await;
    assert_eq!(attached.len(), 1, "once: {attached:?}");
    let referrer = client
        .manifest("team/app", &attached[0].digest)
        .await
        .unwrap();
    let doc: Value = serde_json::from_slice(&referrer.bytes).unwrap();
    assert_eq!(doc["subject"]["digest"], digest.as_str(), "{doc}");
    let layer = doc["layers"][0]["digest"].as_str().unwrap().to_string();
    let (_, mut body) = client.get_blob("team/app", &layer).await.unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = futures::StreamExt::next(&mut body).await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    let bom: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(bom["specVersion"], "1.6");
    assert!(
        bom["components"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["purl"] == "pkg:pypi/requests@2.19.1"),
        "{bom}"
    );

    // Replication copies referrers: the SBOM arrives with the image.
    suite
        .ok(
            Method::POST,
            "/api/v1/replication/policies",
            Some(
                json!({"name": "out", "source": {"registry": "hub", "space": "team"},
                "destination": {"registry": "mirror"}, "filters": [],
                "trigger": {"kind": "manual"}}),
            ),
        )
        .await;
    let (done, _) = suite.run_to_end("out", Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let dst = berth_oci::Client::new(&mirror.url(), None, Default::default()).unwrap();
    assert_eq!(sboms(dst, "team/app", digest.clone()).await.len(), 1);
}

/// A registry's name can be integrated again, at another URL: nothing the scan service kept
/// under the old one (the digests seen there, scans, allowlist entries) reaches the new one,
/// so its new owner reads none of the old registry's reports and no stale allowlist entry lets
/// an image past the new space's gate.
#[tokio::test]
async fn a_reused_registry_name_inherits_nothing() {
    let suite = Suite::start(Backend::Sqlite).await;
    suite.workspace("blue", "blue-ns").await;
    import_json(&suite, REQUESTS_RECORD).await;
    let old = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let vulnerable = vulnerable_image(Compression::Gzip);
    let digest = vulnerable.manifest.digest.clone();
    let target = |r: &DockerRegistry| Target {
        host: r.host(),
        credential: None,
    };
    push_image(&vulnerable, &target(&old), "proj/app", "v1")
        .await
        .unwrap();
    let integrate = |url: String| {
        let suite = &suite;
        async move {
            suite
                .ok(
                    Method::POST,
                    "/api/v1/registries",
                    Some(json!({"name": "reuse", "kind": "distribution", "url": url})),
                )
                .await;
            suite
                .ok(
                    Method::POST,
                    "/api/v1/registries/reuse/spaces",
                    Some(json!({"name": "proj", "visibility": "public", "scan": {"gate": "high"}})),
                )
                .await;
        }
    };
    integrate(old.url()).await;
    let scan = request_scan(&suite, "reuse", "proj/app", "v1").await;
    let scan_id = scan["id"].as_str().unwrap().to_string();
    complete_report(&suite, "reuse", "proj/app", &digest).await;
    suite
        .ok(
            Method::PUT,
            "/api/v1/allowlist/CVE-2018-18074",
            Some(json!({"registry": "reuse", "space": "proj", "reason": "the old owner's"})),
        )
        .await;
    let (status, _) = suite
        .admin(
            Method::DELETE,
            "/api/v1/registries/reuse?cascade=true",
            None,
        )
        .await;
    assert!((200..300).contains(&status), "{status}");

    // The name again, at an empty registry.
    let new = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    integrate(new.url()).await;
    let report = format!(
        "/api/v1/registries/reuse/repositories/proj/app/artifacts/{digest}/vulnerabilities"
    );
    let forgotten = berth_testkit::wait_for(Duration::from_secs(15), || async {
        let (scan, _) = suite
            .admin(Method::GET, &format!("/api/v1/scans/{scan_id}"), None)
            .await;
        let (_, entries) = suite
            .admin(
                Method::GET,
                "/api/v1/allowlist?registry=reuse&space=proj",
                None,
            )
            .await;
        let (report, _) = suite.admin(Method::GET, &report, None).await;
        let gone = scan == 404
            && entries["items"].as_array().is_some_and(|a| a.is_empty())
            && report == 404;
        gone.then_some(())
    })
    .await;
    assert!(
        forgotten.is_some(),
        "the old registry's scan, allowlist entry and report are forgotten"
    );
    // The same vulnerable image pushed to the new registry meets the gate: no stale entry.
    push_image(&vulnerable, &target(&new), "proj/app", "v1")
        .await
        .unwrap();
    request_scan(&suite, "reuse", "proj/app", "v1").await;
    complete_report(&suite, "reuse", "proj/app", &digest).await;
    let image = format!("{}/proj/app:v1", new.host());
    // (The new registry's host is known to the access rule once its `registry.changed` is.)
    let verdict = berth_testkit::wait_for(Duration::from_secs(15), || async {
        let v = check(&suite, &image).await;
        v["reason"]
            .as_str()
            .is_some_and(|r| r.contains("CVE-2018-18074"))
            .then_some(v)
    })
    .await
    .expect("the gate names the finding");
    assert_eq!(verdict["allowed"], false, "{verdict}");
}
