//! Security regressions: a registry host belongs to exactly one integrated registry.
//!
//! The access rule finds the registry of an image by its host. If two registries could claim
//! one host, a workspace registry named to sort first (`0prod`) with prod's URL would make its
//! namespaces pull everything on prod and deny everyone else.

use berth_testkit::db::Backend;
use berth_tests::Suite;
use reqwest::Method;
use serde_json::{json, Value};

fn registry(name: &str, url: &str) -> Value {
    json!({"name": name, "kind": "oci", "url": url, "verify": false})
}

#[tokio::test]
async fn a_second_claim_on_a_host_is_a_conflict_naming_the_url() {
    let suite = Suite::start(Backend::Sqlite).await;
    suite
        .ok(
            Method::POST,
            "/api/v1/registries",
            Some(registry("prod", "https://reg.example.test:5000")),
        )
        .await;
    suite.workspace("blue", "blue-ns").await;
    suite.workspace("green", "green-ns").await;
    suite
        .ok(
            Method::POST,
            "/api/v1/registries/prod/spaces",
            Some(json!({"name": "apps", "visibility": "public"})),
        )
        .await;
    let mallory = suite.member("blue", "mallory", "workspace-admin").await;

    // The same host, however the URL is written, claimed by a workspace: 409 on `url`,
    // without naming the platform's registry.
    for url in [
        "https://reg.example.test:5000",
        "https://REG.example.test:5000/",
        "https://reg.example.test:5000/some/path",
    ] {
        let mut body = registry("0prod", url);
        body["workspace"] = json!("blue");
        let (status, e) = suite
            .call(
                Some(&mallory),
                Method::POST,
                "/api/v1/registries",
                Some(body),
            )
            .await;
        assert_eq!(status, 409, "{url}: {e}");
        assert_eq!(e["error"]["field"], "url", "{e}");
        assert!(
            !e["error"]["message"].as_str().unwrap().contains("prod\""),
            "a workspace learns no platform registry name: {e}"
        );
    }
    // The platform itself gets the same answer, naming the registry it already has.
    let (status, e) = suite
        .admin(
            Method::POST,
            "/api/v1/registries",
            Some(registry("prod2", "https://reg.example.test:5000")),
        )
        .await;
    assert_eq!(status, 409, "{e}");
    assert_eq!(e["error"]["field"], "url");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("\"prod\""),
        "{e}"
    );
    // The default port is the same host as no port.
    suite
        .ok(
            Method::POST,
            "/api/v1/registries",
            Some(registry("plain", "https://plain.example.test")),
        )
        .await;
    let (status, _) = suite
        .admin(
            Method::POST,
            "/api/v1/registries",
            Some(registry("plain443", "https://plain.example.test:443")),
        )
        .await;
    assert_eq!(status, 409);
    // Moving another registry onto the host is refused too, and leaves it where it was.
    let mut own = registry("blue-own", "https://blue.example.test");
    own["workspace"] = json!("blue");
    let (status, v) = suite
        .call(
            Some(&mallory),
            Method::POST,
            "/api/v1/registries",
            Some(own),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let (status, e) = suite
        .call(
            Some(&mallory),
            Method::PATCH,
            "/api/v1/registries/blue-own",
            Some(json!({"url": "https://reg.example.test:5000", "verify": false})),
        )
        .await;
    assert_eq!((status, &e["error"]["field"]), (409, &json!("url")), "{e}");
    let (_, v) = suite
        .admin(Method::GET, "/api/v1/registries/blue-own", None)
        .await;
    assert_eq!(v["url"], "https://blue.example.test");

    // Spellings of one endpoint are one host: loopback names, a default port written out.
    suite
        .ok(
            Method::POST,
            "/api/v1/registries",
            Some(registry("local", "http://127.0.0.1:47123")),
        )
        .await;
    for url in [
        "http://localhost:47123",
        "http://[::1]:47123",
        "http://[::ffff:7f00:1]:47123",
        "http://localhost.:47123",
    ] {
        let mut body = registry("alias", url);
        body["workspace"] = json!("blue");
        let (status, e) = suite
            .call(
                Some(&mallory),
                Method::POST,
                "/api/v1/registries",
                Some(body),
            )
            .await;
        assert_eq!(status, 409, "{url}: {e}");
    }
    suite
        .ok(
            Method::POST,
            "/api/v1/registries",
            Some(registry("plain-https", "https://corp.example.test")),
        )
        .await;
    let mut body = registry("corp-alias", "http://corp.example.test:443");
    body["workspace"] = json!("blue");
    let (status, _) = suite
        .call(
            Some(&mallory),
            Method::POST,
            "/api/v1/registries",
            Some(body),
        )
        .await;
    assert_eq!(
        status, 409,
        "an image reference reg:443 names the same endpoint"
    );

    // Nothing moved: prod's public space is pullable by every namespace, through prod.
    for ns in ["blue-ns", "green-ns"] {
        let (status, d) = suite
            .admin(
                Method::POST,
                "/api/v1/access/check",
                Some(json!({"namespace": ns, "image": "reg.example.test:5000/apps/web:1"})),
            )
            .await;
        assert_eq!(status, 200, "{d}");
        assert_eq!(d["allowed"], true, "{ns}: {d}");
    }
}
