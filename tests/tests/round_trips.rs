//! A list call through the gateway takes one round trip more than the same call made to the
//! service directly, and neither waits out a 40 ms Nagle stall (a small write held until the
//! peer's delayed ACK): every listener and channel sets TCP_NODELAY.

use std::time::{Duration, Instant};

use berth_proto::v1::registry_service_client::RegistryServiceClient;
use berth_proto::v1::ListRegistriesRequest;
use berth_testkit::db::Backend;
use berth_tests::Suite;
use reqwest::Method;
use serde_json::json;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test]
async fn list_calls_through_the_gateway_do_not_stall() {
    let suite = Suite::start(Backend::Sqlite).await;
    for i in 0..3 {
        suite
            .ok(
                Method::POST,
                "/api/v1/registries",
                Some(json!({"name": format!("r{i}"), "kind": "oci",
                            "url": format!("http://127.0.0.1:{}", 1 + i), "verify": false})),
            )
            .await;
    }
    let channel =
        berth_runtime::clients::channel(&format!("http://{}", suite.registry_addr)).unwrap();
    let mut direct = RegistryServiceClient::new(channel);
    let mut through = Vec::new();
    let mut straight = Vec::new();
    for round in 0..25 {
        let started = Instant::now();
        let mut req = tonic::Request::new(ListRegistriesRequest::default());
        req.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", suite.internal_token).parse().unwrap(),
        );
        let listed = direct.list_registries(req).await.unwrap().into_inner();
        assert_eq!(listed.registries.len(), 3);
        if round > 0 {
            straight.push(started.elapsed());
        }
        let started = Instant::now();
        let v = suite.ok(Method::GET, "/api/v1/registries", None).await;
        assert_eq!(v["items"].as_array().unwrap().len(), 3, "{v}");
        if round > 0 {
            through.push(started.elapsed());
        }
    }
    let (through, straight) = (median(through), median(straight));
    eprintln!("list call: through the gateway {through:?}, to the service directly {straight:?}");
    // A Nagle stall is a delayed ACK's 40 ms on either hop; without one both are a few ms.
    assert!(
        straight < Duration::from_millis(20),
        "the service's own answer stalls: {straight:?}"
    );
    assert!(
        through < straight + Duration::from_millis(20),
        "through the gateway {through:?} vs directly {straight:?}: a stall"
    );
}
