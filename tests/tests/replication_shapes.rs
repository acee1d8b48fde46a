//! Replication of datasets shaped like real registries, in production mode (PostgreSQL,
//! RabbitMQ, Redis): many repositories whose tags share layers, copied between two fresh
//! docker-registries through the fixed contract.

use std::time::Duration;

use berth_testkit::db::Backend;
use berth_testkit::image::{push_dataset, shared_layer_dataset, Target};
use berth_testkit::registry::{DockerRegistry, RegistryOptions};
use berth_tests::Suite;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn tags_sharing_layers_all_arrive_in_production_mode() {
    let suite = Suite::start(Backend::Postgres).await;
    let source = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let destination = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let data = shared_layer_dataset("apps", 30, 3);
    let target = Target {
        host: source.host(),
        credential: None,
    };
    push_dataset(&data, &target).await.unwrap();
    for (name, url) in [("src", source.url()), ("dst", destination.url())] {
        suite
            .ok(
                Method::POST,
                "/api/v1/registries",
                Some(json!({"name": name, "kind": "distribution", "url": url})),
            )
            .await;
    }
    suite
        .ok(
            Method::POST,
            "/api/v1/replication/policies",
            Some(
                json!({"name": "dr", "source": {"registry": "src", "space": "apps"},
                        "destination": {"registry": "dst"}, "filters": [],
                        "trigger": {"kind": "manual"}, "override": false}),
            ),
        )
        .await;
    let (done, tasks) = suite.run_to_end("dr", Duration::from_secs(90)).await;
    let failed: Vec<_> = tasks["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] != "succeeded")
        .collect();
    assert_eq!(
        (
            done["status"].as_str(),
            done["succeeded"].as_u64(),
            done["failed"].as_u64()
        ),
        (Some("succeeded"), Some(90), Some(0)),
        "{done} {failed:?}"
    );
    let dst = berth_oci::Client::new(&destination.url(), None, Default::default()).unwrap();
    for (repo, tag, image) in &data {
        assert_eq!(
            dst.manifest(repo, tag).await.unwrap().digest,
            image.manifest.digest,
            "{repo}:{tag}"
        );
    }
}
