//! Push-triggered replication: a real docker-registry notifies Berth of a push, and the push
//! policy copies just that artifact to the destination within seconds.

use std::time::Duration;

use berth_testkit::db::Backend;
use berth_testkit::image::{push_image, Image, Target};
use berth_testkit::registry::{DockerRegistry, RegistryOptions};
use berth_tests::{Suite, ADMIN_TOKEN};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_push_is_replicated_within_seconds() {
    let suite = Suite::start(Backend::Postgres).await;
    let source = DockerRegistry::start(RegistryOptions {
        notify_url: Some(format!("{}/hooks/distribution/src", suite.url)),
        notify_token: Some(ADMIN_TOKEN.into()),
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
