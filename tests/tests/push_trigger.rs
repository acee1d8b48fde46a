//! Push-triggered replication: a real docker-registry notifies Berth of a push, and the push
//! policy copies just that artifact to the destination within seconds.

use std::time::Duration;

use berth_testkit::db::Backend;
use berth_testkit::image::{push_image, Image, Target};
use berth_testkit::registry::{DockerRegistry, RegistryOptions};
use berth_tests::Suite;

/// The hook secret the source registry sends with its notifications.
const HOOK_SECRET: &str = "push-trigger-hook-secret-0123456789abcdef";
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_push_is_replicated_within_seconds() {
    let suite = Suite::start(Backend::Postgres).await;
    let source = DockerRegistry::start(RegistryOptions {
        notify_url: Some(format!("{}/hooks/distribution/src", suite.url)),
        notify_token: Some(HOOK_SECRET.into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let destination = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    for (name, url) in [("src", source.url()), ("dst", destination.url())] {
        let (status, body) = suite
            .admin(
                Method::POST,
                "/api/v1/registries",
                Some(json!({"name": name, "kind": "distribution", "url": url})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    suite
        .ok(
            Method::POST,
            "/api/v1/registries/src/hook-secret",
            Some(json!({"secret": HOOK_SECRET})),
        )
        .await;
    let policy = json!({
        "name": "on-push",
        "source": {"registry": "src", "space": "apps"},
        "destination": {"registry": "dst", "space": "mirror"},
        "filters": [{"kind": "tag", "pattern": "release-*", "exclude": false}],
        "trigger": {"kind": "push"},
        "override": false
    });
    let (status, body) = suite
        .admin(Method::POST, "/api/v1/replication/policies", Some(policy))
        .await;
    assert_eq!(status, 201, "{body}");

    let target = Target {
        host: source.host(),
        credential: None,
    };
    let image = Image::new(&[(81, 6_000)], "amd64");
    push_image(&image, &target, "apps/api", "release-1")
        .await
        .unwrap();
    push_image(&image, &target, "apps/api", "snapshot")
        .await
        .unwrap();

    let dst = berth_oci::Client::new(&destination.url(), None, Default::default()).unwrap();
    let arrived = berth_testkit::wait_until(Duration::from_secs(15), || {
        let dst = dst.clone();
        async move {
            dst.head_manifest("mirror/api", "release-1")
                .await
                .ok()
                .flatten()
                .is_some()
        }
    })
    .await;
    assert!(arrived, "the pushed tag did not reach the destination");
    assert_eq!(
        dst.manifest("mirror/api", "release-1")
            .await
            .unwrap()
            .digest,
        image.manifest.digest
    );
    // The execution is recorded (its row is finished just after the manifest lands, so wait
    // for it); the filtered tag is not copied.
    let recorded = berth_testkit::wait_until(Duration::from_secs(5), || async {
        let (_, executions) = suite
            .admin(
                Method::GET,
                "/api/v1/replication/executions?policy=on-push",
                None,
            )
            .await;
        executions["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["succeeded"] == 1 && e["status"] == "succeeded")
    })
    .await;
    assert!(recorded, "no succeeded execution recorded for the push");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(dst
        .head_manifest("mirror/api", "snapshot")
        .await
        .unwrap()
        .is_none());

    // Notifications authenticate.
    let resp = suite
        .http
        .post(format!("{}/hooks/distribution/src", suite.url))
        .body("{\"events\":[]}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

/// Harbor's webhook payload for one artifact of `library/app`.
fn harbor_hook(kind: &str, tag: &str, digest: &str) -> serde_json::Value {
    json!({
        "type": kind,
        "occur_at": 1_700_000_000,
        "operator": "admin",
        "event_data": {
            "resources": [{"digest": digest, "tag": tag, "resource_url": format!("harbor.local/library/app:{tag}")}],
            "repository": {"name": "app", "namespace": "library", "repo_full_name": "library/app", "repo_type": "private"}
        }
    })
}

#[tokio::test]
async fn harbor_webhooks_drive_push_policies_which_can_be_paused_and_propagate_deletes() {
    let suite = Suite::start(Backend::Postgres).await;
    // The registry behind a Harbor: Harbor itself sends the webhooks, in its own format.
    let source = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let destination = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    for (name, url) in [("harb", source.url()), ("dst", destination.url())] {
        let (status, body) = suite
            .admin(
                Method::POST,
                "/api/v1/registries",
                Some(json!({"name": name, "kind": "distribution", "url": url})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    // Harbor sends the generated hook secret in its webhook's auth header.
    let hook_secret = suite
        .ok(Method::POST, "/api/v1/registries/harb/hook-secret", None)
        .await["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = suite
        .admin(
            Method::POST,
            "/api/v1/replication/policies",
            Some(json!({
                "name": "from-harbor",
                "source": {"registry": "harb", "space": "library"},
                "destination": {"registry": "dst", "space": "mirror"},
                "trigger": {"kind": "push"},
                "delete_propagation": true
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["enabled"], true);

    let target = Target {
        host: source.host(),
        credential: None,
    };
    let v1 = Image::new(&[(87, 5_000)], "amd64");
    push_image(&v1, &target, "library/app", "v1").await.unwrap();
    let hook = |payload: serde_json::Value| {
        let (suite, secret) = (&suite, hook_secret.clone());
        async move {
            suite
                .call(
                    Some(&secret),
                    Method::POST,
                    "/hooks/harbor/harb",
                    Some(payload),
                )
                .await
        }
    };
    let (status, body) = hook(harbor_hook("PUSH_ARTIFACT", "v1", &v1.manifest.digest)).await;
    assert_eq!(
        (status, body["published"].as_u64()),
        (200, Some(1)),
        "{body}"
    );
    let dst = berth_oci::Client::new(&destination.url(), None, Default::default()).unwrap();
    let arrived = berth_testkit::wait_until(Duration::from_secs(15), || {
        let dst = dst.clone();
        async move {
            dst.head_manifest("mirror/app", "v1")
                .await
                .ok()
                .flatten()
                .is_some()
        }
    })
    .await;
    assert!(arrived, "the webhook's artifact reached the destination");

    // The execution lists its one task.
    let (_, executions) = suite
        .admin(
            Method::GET,
            "/api/v1/replication/executions?policy=from-harbor",
            None,
        )
        .await;
    let execution = executions["items"][0].clone();
    assert_eq!(execution["trigger"], "push", "{execution}");
    let id = execution["id"].as_str().unwrap();
    let finished = berth_testkit::wait_until(Duration::from_secs(5), || async {
        let (_, tasks) = suite
            .admin(
                Method::GET,
                &format!("/api/v1/replication/executions/{id}/tasks"),
                None,
            )
            .await;
        tasks["items"][0]["status"] == "succeeded"
            && tasks["items"][0]["destination_repository"] == "mirror/app"
    })
    .await;
    assert!(finished, "the task is listed as succeeded");
    let closed = berth_testkit::wait_until(Duration::from_secs(5), || async {
        let (_, e) = suite
            .admin(
                Method::GET,
                &format!("/api/v1/replication/executions/{id}"),
                None,
            )
            .await;
        e["status"] == "succeeded"
    })
    .await;
    assert!(closed, "the execution is recorded as succeeded");
    // Cancelling a finished execution changes nothing.
    let (status, body) = suite
        .admin(
            Method::POST,
            &format!("/api/v1/replication/executions/{id}/cancel"),
            None,
        )
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("succeeded")));

    // Paused: a push is not copied.
    let (status, body) = suite
        .admin(
            Method::PATCH,
            "/api/v1/replication/policies/from-harbor",
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!((status, &body["enabled"]), (200, &json!(false)), "{body}");
    assert_eq!(
        body["delete_propagation"], true,
        "a patch keeps what it does not name"
    );
    let v2 = Image::new(&[(88, 5_000)], "amd64");
    push_image(&v2, &target, "library/app", "v2").await.unwrap();
    hook(harbor_hook("PUSH_ARTIFACT", "v2", &v2.manifest.digest)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(dst
        .head_manifest("mirror/app", "v2")
        .await
        .unwrap()
        .is_none());

    // Bad patches name the field and change nothing.
    for (patch, field) in [
        (
            json!({"trigger": {"kind": "cron", "cron": "bad"}}),
            "trigger.cron",
        ),
        (json!({"name": "renamed"}), "name"),
        (json!({"platforms": ["linux"]}), "platforms"),
    ] {
        let (status, body) = suite
            .admin(
                Method::PATCH,
                "/api/v1/replication/policies/from-harbor",
                Some(patch),
            )
            .await;
        assert_eq!(
            (status, &body["error"]["field"]),
            (400, &json!(field)),
            "{body}"
        );
    }

    // Resumed, a deletion at the source is propagated.
    suite
        .admin(
            Method::PATCH,
            "/api/v1/replication/policies/from-harbor",
            Some(json!({"enabled": true})),
        )
        .await;
    // Harbor deletes, then notifies; Berth confirms the source no longer has the tag.
    let src = berth_oci::Client::new(&source.url(), None, Default::default()).unwrap();
    berth_replication::deletes::delete_tag(&src, "library/app", "v1", &v1.manifest.digest)
        .await
        .unwrap();
    let (status, _) = hook(harbor_hook("DELETE_ARTIFACT", "v1", &v1.manifest.digest)).await;
    assert_eq!(status, 200);
    let gone = berth_testkit::wait_until(Duration::from_secs(10), || {
        let (dst, digest) = (dst.clone(), v1.manifest.digest.clone());
        async move {
            dst.head_manifest("mirror/app", &digest)
                .await
                .is_ok_and(|m| m.is_none())
        }
    })
    .await;
    assert!(gone, "the deletion reached the destination");
}
