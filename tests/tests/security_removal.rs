//! Security regressions: removing a registry or a workspace leaves nothing behind that could
//! grant access later, and a namespace's pull secret names only hosts it may pull from.

use base64::Engine;
use berth_testkit::db::Backend;
use berth_tests::Suite;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn a_removed_registry_takes_its_spaces_bindings_and_policies_with_it() {
    let suite = Suite::start(Backend::Sqlite).await;
    // dist/priv is bound to blue (seed); a policy copies from dist.
    suite.seed_bound_space().await;
    suite
        .ok(
            Method::POST,
            "/api/v1/registries",
            Some(
                json!({"name": "dr", "kind": "oci", "url": "http://127.0.0.1:2", "verify": false}),
            ),
        )
        .await;
    suite
        .ok(
            Method::POST,
            "/api/v1/replication/policies",
            Some(json!({"name": "to-dr", "source": {"registry": "dist"},
                        "destination": {"registry": "dr"}})),
        )
        .await;
    let image = "127.0.0.1:1/priv/app:v1";
    assert!(suite.pull_allowed("blue-ns", image).await);

    // Without cascade: refused naming what depends on it, and nothing changes.
    let (status, e) = suite
        .admin(Method::DELETE, "/api/v1/registries/dist", None)
        .await;
    assert_eq!(status, 412, "{e}");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains("priv") && message.contains("to-dr"), "{e}");
    let (status, _) = suite
        .admin(Method::GET, "/api/v1/registries/dist", None)
        .await;
    assert_eq!(status, 200);
    assert!(suite.pull_allowed("blue-ns", image).await);
    let (status, e) = suite
        .admin(
            Method::DELETE,
            "/api/v1/registries/dist?cascade=maybe",
            None,
        )
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (400, Some("cascade"))
    );

    // With cascade: all of it goes, audited.
    let (status, e) = suite
        .admin(Method::DELETE, "/api/v1/registries/dist?cascade=true", None)
        .await;
    assert_eq!(status, 204, "{e}");
    let (status, _) = suite
        .admin(Method::GET, "/api/v1/replication/policies/to-dr", None)
        .await;
    assert_eq!(status, 404, "the policy went with it");
    let (_, audit) = suite
        .admin(Method::GET, "/api/v1/audit-events?page_size=50", None)
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    for a in ["registry.delete", "space.delete", "policy.delete"] {
        assert!(actions.contains(&a), "{a} audited: {actions:?}");
    }

    // Integrated again under the same name: no old space, no old grant.
    suite
        .ok(
            Method::POST,
            "/api/v1/registries",
            Some(
                json!({"name": "dist", "kind": "oci", "url": "http://127.0.0.1:1",
                        "verify": false, "token_service": "berth"}),
            ),
        )
        .await;
    let (_, spaces) = suite
        .admin(Method::GET, "/api/v1/registries/dist/spaces", None)
        .await;
    assert_eq!(spaces["items"], json!([]), "{spaces}");
    // Cached decisions follow the removal within moments.
    let denied = berth_testkit::wait_until(std::time::Duration::from_secs(2), || async {
        !suite.pull_allowed("blue-ns", image).await
    })
    .await;
    assert!(denied, "no resurrected grant");
    // And the formerly bound workspace can be deleted.
    let (status, e) = suite
        .admin(Method::DELETE, "/api/v1/workspaces/blue", None)
        .await;
    assert_eq!(status, 204, "{e}");
}

#[tokio::test]
async fn a_workspace_with_registries_or_bindings_goes_only_with_cascade() {
    let suite = Suite::start(Backend::Sqlite).await;
    suite.seed_bound_space().await;
    let mallory = suite.member("blue", "mallory", "workspace-admin").await;
    integrate_own_registry(&suite, &mallory).await;
    let (status, e) = suite
        .admin(Method::DELETE, "/api/v1/workspaces/blue", None)
        .await;
    assert_eq!(status, 412, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("blue-own"));
    let (status, e) = suite
        .admin(Method::DELETE, "/api/v1/workspaces/blue?cascade=true", None)
        .await;
    assert_eq!(status, 204, "{e}");
    for path in ["/api/v1/registries/blue-own", "/api/v1/workspaces/blue"] {
        let (status, _) = suite.admin(Method::GET, path, None).await;
        assert_eq!(status, 404, "{path}");
    }
    let (_, bindings) = suite
        .admin(
            Method::GET,
            "/api/v1/registries/dist/spaces/priv/bindings",
            None,
        )
        .await;
    assert_eq!(bindings["items"], json!([]), "{bindings}");
}

#[tokio::test]
async fn a_pull_secret_names_only_hosts_the_namespace_may_pull_from() {
    let suite = Suite::start(Backend::Sqlite).await;
    suite.seed_bound_space().await;
    suite.workspace("green", "green-ns").await;
    for (name, port, workspace) in [("blue-reg", 4, "blue"), ("green-reg", 5, "green")] {
        suite
            .ok(
                Method::POST,
                "/api/v1/registries",
                Some(json!({"name": name, "kind": "oci", "verify": false,
                            "url": format!("http://127.0.0.1:{port}"),
                            "token_service": "berth", "workspace": workspace})),
            )
            .await;
    }
    let secret = suite
        .ok(Method::GET, "/api/v1/namespaces/blue-ns/pull-secret", None)
        .await;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(secret["data"][".dockerconfigjson"].as_str().unwrap())
        .unwrap();
    let config: Value = serde_json::from_slice(&raw).unwrap();
    let mut hosts: Vec<&String> = config["auths"].as_object().unwrap().keys().collect();
    hosts.sort();
    assert_eq!(hosts, vec!["127.0.0.1:1", "127.0.0.1:4"], "{config}");
}

/// Regression: a workspace admin removing their registry saw the names of platform
/// replication policies naming it, and `?cascade=true` deleted them.
#[tokio::test]
async fn a_workspace_admin_neither_sees_nor_removes_platform_policies() {
    let suite = Suite::start(Backend::Sqlite).await;
    suite.workspace("blue", "blue-ns").await;
    let mallory = suite.member("blue", "mallory", "workspace-admin").await;
    integrate_own_registry(&suite, &mallory).await;
    suite
        .ok(
            Method::POST,
            "/api/v1/registries",
            Some(
                json!({"name": "dr", "kind": "oci", "url": "http://127.0.0.1:2", "verify": false}),
            ),
        )
        .await;
    suite
        .ok(
            Method::POST,
            "/api/v1/replication/policies",
            Some(
                json!({"name": "secret-dr-plan", "source": {"registry": "blue-own"},
                        "destination": {"registry": "dr"}}),
            ),
        )
        .await;
    for path in [
        "/api/v1/registries/blue-own",
        "/api/v1/registries/blue-own?cascade=true",
    ] {
        let (status, e) = suite.call(Some(&mallory), Method::DELETE, path, None).await;
        assert_eq!(status, 412, "{path}: {e}");
        assert!(!e.to_string().contains("secret-dr-plan"), "{path}: {e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("platform admin"),
            "{e}"
        );
    }
    let (status, _) = suite
        .admin(
            Method::GET,
            "/api/v1/replication/policies/secret-dr-plan",
            None,
        )
        .await;
    assert_eq!(status, 200, "the platform's policy stays");
    let (status, _) = suite
        .admin(Method::GET, "/api/v1/registries/blue-own", None)
        .await;
    assert_eq!(status, 200, "and so does the registry");
    // A platform admin may cascade it all.
    let (status, e) = suite
        .admin(
            Method::DELETE,
            "/api/v1/registries/blue-own?cascade=true",
            None,
        )
        .await;
    assert_eq!(status, 204, "{e}");
}

/// Regression: spaces created while a cascade ran survived it (the cascade listed spaces
/// once) and came back when a registry of the same name was integrated again.
#[tokio::test]
async fn spaces_created_during_a_cascade_do_not_survive_it() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let suite = Suite::start(Backend::Sqlite).await;
    let registry = json!({"name": "busy", "kind": "oci", "url": "http://127.0.0.1:4",
                          "verify": false});
    suite
        .ok(Method::POST, "/api/v1/registries", Some(registry.clone()))
        .await;
    for i in 0..20 {
        suite
            .ok(
                Method::POST,
                "/api/v1/registries/busy/spaces",
                Some(json!({"name": format!("early{i}"), "visibility": "private"})),
            )
            .await;
    }
    let done = AtomicBool::new(false);
    let create = async {
        let mut made = 0;
        for i in 0..2000 {
            if done.load(Ordering::SeqCst) && i % 10 == 0 {
                // A few more after the cascade returned, while caches still know the registry.
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                break;
            }
            let (status, _) = suite
                .admin(
                    Method::POST,
                    "/api/v1/registries/busy/spaces",
                    Some(json!({"name": format!("late{i}"), "visibility": "private"})),
                )
                .await;
            if status == 201 {
                made += 1;
            }
        }
        made
    };
    let cascade = async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let (status, e) = suite
            .admin(Method::DELETE, "/api/v1/registries/busy?cascade=true", None)
            .await;
        done.store(true, Ordering::SeqCst);
        (status, e)
    };
    let (made, (status, e)) = tokio::join!(create, cascade);
    assert_eq!(status, 204, "{e}");
    assert!(made > 0, "spaces were created while the cascade ran");
    suite
        .ok(Method::POST, "/api/v1/registries", Some(registry))
        .await;
    let (_, spaces) = suite
        .admin(Method::GET, "/api/v1/registries/busy/spaces", None)
        .await;
    assert_eq!(spaces["items"], json!([]), "{spaces}");
}

/// `token` (a workspace admin of `blue`) integrates blue's own registry `blue-own`.
async fn integrate_own_registry(suite: &Suite, token: &str) {
    let (status, v) = suite
        .call(
            Some(token),
            Method::POST,
            "/api/v1/registries",
            Some(
                json!({"name": "blue-own", "kind": "oci", "url": "http://127.0.0.1:3",
                        "verify": false, "workspace": "blue"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{v}");
}
