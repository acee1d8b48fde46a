//! Security regressions: registry notifications authenticate with the registry's own hook
//! secret (never a person's or an admin's token), and no name they carry reaches a registry URL
//! unchecked.

use std::time::Duration;

use berth_testkit::db::Backend;
use berth_tests::{Suite, ADMIN_TOKEN};
use reqwest::Method;
use serde_json::{json, Value};

fn push_event(repository: &str, tag: &str, digest: &str) -> Value {
    json!({"events": [{"action": "push", "target": {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "repository": repository, "tag": tag, "digest": digest}}]})
}

async fn hook(suite: &Suite, bearer: Option<&str>, body: Value) -> (u16, Value) {
    suite
        .call(bearer, Method::POST, "/hooks/distribution/src", Some(body))
        .await
}

#[tokio::test]
async fn notifications_take_the_hook_secret_and_nothing_else() {
    let suite = Suite::start(Backend::Sqlite).await;
    for (name, port) in [("src", 21), ("dst", 22)] {
        suite
            .ok(
                Method::POST,
                "/api/v1/registries",
                Some(json!({"name": name, "kind": "oci",
                            "url": format!("http://127.0.0.1:{port}"), "verify": false})),
            )
            .await;
    }
    suite
        .ok(
            Method::POST,
            "/api/v1/replication/policies",
            Some(
                json!({"name": "on-push", "source": {"registry": "src", "space": "apps"},
                        "destination": {"registry": "dst"}, "trigger": {"kind": "push"}}),
            ),
        )
        .await;
    let digest = format!("sha256:{}", "c".repeat(64));
    let good = push_event("apps/web", "v1", &digest);

    // No secret yet: nothing opens it, the admin token included.
    for bearer in [None, Some(ADMIN_TOKEN), Some("not-the-secret")] {
        let (status, e) = hook(&suite, bearer, good.clone()).await;
        assert_eq!(status, 401, "{bearer:?}: {e}");
    }
    // A workspace member may not set it; a platform admin may, and sees it once.
    suite.workspace("blue", "blue-ns").await;
    let viewer = suite.member("blue", "viewer", "workspace-viewer").await;
    let (status, _) = suite
        .call(
            Some(&viewer),
            Method::POST,
            "/api/v1/registries/src/hook-secret",
            None,
        )
        .await;
    assert_eq!(status, 403);
    let first = suite
        .ok(Method::POST, "/api/v1/registries/src/hook-secret", None)
        .await;
    let secret = first["secret"].as_str().unwrap().to_string();
    assert!(first["distribution"]
        .as_str()
        .unwrap()
        .contains("/hooks/distribution/src"));
    let (_, reg) = suite
        .admin(Method::GET, "/api/v1/registries/src", None)
        .await;
    assert!(!reg.to_string().contains(&secret), "never read back");
    let (status, v) = hook(&suite, Some(&secret), good.clone()).await;
    assert_eq!((status, &v["published"]), (200, &json!(1)), "{v}");
    let (status, _) = hook(&suite, Some(ADMIN_TOKEN), good.clone()).await;
    assert_eq!(status, 401, "an admin token is no hook secret");
    // The secret of one registry opens no other's hooks.
    let (status, _) = suite
        .call(
            Some(&secret),
            Method::POST,
            "/hooks/distribution/dst",
            Some(good.clone()),
        )
        .await;
    assert_eq!(status, 401);

    // Bad names: refused naming the field, nothing published. (The good push above becomes an
    // execution asynchronously: count once it has.)
    let settled = berth_testkit::wait_until(Duration::from_secs(5), || async {
        executions(&suite).await == 1
    })
    .await;
    assert!(settled, "the good push became one execution");
    let before = executions(&suite).await;
    for (body, field) in [
        (
            push_event("apps/../library/nginx", "v1", &digest),
            "events[0].target.repository",
        ),
        (
            push_event("apps/web", "v1/../../x", &digest),
            "events[0].target.tag",
        ),
        (
            push_event("apps/web", "v1", "sha256:../../blobs"),
            "events[0].target.digest",
        ),
    ] {
        let (status, e) = hook(&suite, Some(&secret), body).await;
        assert_eq!(
            (status, e["error"]["field"].as_str()),
            (400, Some(field)),
            "{e}"
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        executions(&suite).await,
        before,
        "no bad event was published"
    );

    // Rotation: the old secret stops working at once here, a chosen one may be set.
    let chosen = "chosen-hook-secret-0123456789abcdef-xyz";
    suite
        .ok(
            Method::POST,
            "/api/v1/registries/src/hook-secret",
            Some(json!({"secret": chosen})),
        )
        .await;
    let (status, _) = hook(&suite, Some(&secret), good.clone()).await;
    assert_eq!(status, 401, "the rotated-out secret");
    let (status, _) = hook(&suite, Some(chosen), good.clone()).await;
    assert_eq!(status, 200);
    let (status, e) = suite
        .admin(
            Method::POST,
            "/api/v1/registries/src/hook-secret",
            Some(json!({"secret": "short"})),
        )
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (400, Some("secret"))
    );
}

async fn executions(suite: &Suite) -> usize {
    let (_, v) = suite
        .admin(
            Method::GET,
            "/api/v1/replication/executions?policy=on-push",
            None,
        )
        .await;
    v["items"].as_array().map_or(0, Vec::len)
}
