//! Security regressions: bindings carry what they grant, and survive visibility changes.
//!
//! A binding grants pull to the workspace's namespaces and members; only `"push": true` lets its
//! editors and admins push and delete, so one tenant of a shared space cannot delete another's
//! images. Making a space public and private again keeps every binding.

use berth_testkit::db::Backend;
use berth_tests::Suite;
use reqwest::Method;
use serde_json::{json, Value};

/// Actions the token service grants `who` (an API token) on `repository` of `dist`.
async fn granted(suite: &Suite, who: &str, token: &str, repository: &str) -> Vec<String> {
    let resp = suite
        .http
        .get(format!(
            "{}/auth/token?service=dist&scope=repository:{repository}:pull,push,delete",
            suite.url
        ))
        .basic_auth(who, Some(token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let jwt = body["token"].as_str().unwrap();
    let payload = jwt.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let mut actions: Vec<String> = claims["access"][0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    actions.sort();
    actions
}

#[tokio::test]
async fn push_needs_a_binding_that_grants_it() {
    let suite = Suite::start(Backend::Sqlite).await;
    suite.seed_bound_space().await;
    suite.workspace("green", "green-ns").await;
    suite
        .ok(
            Method::PUT,
            "/api/v1/registries/dist/spaces/priv/bindings/green",
            None,
        )
        .await;
    let mut tokens = Vec::new();
    for (who, ws, role) in [
        ("blue-editor", "blue", "workspace-editor"),
        ("blue-admin", "blue", "workspace-admin"),
        ("blue-viewer", "blue", "workspace-viewer"),
        ("green-editor", "green", "workspace-editor"),
    ] {
        tokens.push((who, suite.member(ws, who, role).await));
    }
    let pull = vec!["pull".to_string()];
    let write = vec!["delete".to_string(), "pull".into(), "push".into()];
    // Both bindings pull-only: nobody but platform admins writes to the shared space.
    for (who, token) in &tokens {
        assert_eq!(
            granted(&suite, who, token, "priv/app").await,
            pull,
            "{who} on a pull-only binding"
        );
    }
    // blue's binding grants push: blue's editors and admins write, its viewer and green don't.
    let b = suite
        .ok(
            Method::PUT,
            "/api/v1/registries/dist/spaces/priv/bindings/blue",
            Some(json!({"push": true})),
        )
        .await;
    assert_eq!(b["push"], true);
    for (who, token) in &tokens {
        let want = if *who == "blue-editor" || *who == "blue-admin" {
            &write
        } else {
            &pull
        };
        assert_eq!(
            &granted(&suite, who, token, "priv/app").await,
            want,
            "{who}"
        );
    }
    let (_, list) = suite
        .admin(
            Method::GET,
            "/api/v1/registries/dist/spaces/priv/bindings",
            None,
        )
        .await;
    let pushes: Vec<(String, bool)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["workspace"].as_str().unwrap().to_string(),
                b["push"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(pushes, vec![("blue".into(), true), ("green".into(), false)]);
    // A bad body names the field.
    let (status, e) = suite
        .admin(
            Method::PUT,
            "/api/v1/registries/dist/spaces/priv/bindings/blue",
            Some(json!({"push": "yes"})),
        )
        .await;
    assert_eq!((status, &e["error"]["field"]), (400, &json!("push")), "{e}");
}

#[tokio::test]
async fn bindings_survive_a_trip_through_public() {
    let suite = Suite::start(Backend::Sqlite).await;
    suite.seed_bound_space().await;
    suite.workspace("green", "green-ns").await;
    let image = "127.0.0.1:1/priv/app:v1";
    assert!(suite.pull_allowed("blue-ns", image).await);
    assert!(!suite.pull_allowed("green-ns", image).await);
    suite
        .ok(
            Method::PATCH,
            "/api/v1/registries/dist/spaces/priv",
            Some(json!({"visibility": "public"})),
        )
        .await;
    // Cached decisions follow the change within moments.
    let public = berth_testkit::wait_until(std::time::Duration::from_secs(2), || async {
        suite.pull_allowed("green-ns", image).await
    })
    .await;
    assert!(public, "public");
    let (_, list) = suite
        .admin(
            Method::GET,
            "/api/v1/registries/dist/spaces/priv/bindings",
            None,
        )
        .await;
    assert_eq!(list["items"][0]["workspace"], "blue", "{list}");
    suite
        .ok(
            Method::PATCH,
            "/api/v1/registries/dist/spaces/priv",
            Some(json!({"visibility": "private"})),
        )
        .await;
    let back = berth_testkit::wait_until(std::time::Duration::from_secs(2), || async {
        !suite.pull_allowed("green-ns", image).await
    })
    .await;
    assert!(back, "private again: green is out");
    assert!(
        suite.pull_allowed("blue-ns", image).await,
        "and blue, still bound, pulls as before"
    );
}
