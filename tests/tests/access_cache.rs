//! Access decisions are cached (Redis here) and invalidated by events from the space service
//! through RabbitMQ, so a revoked binding takes effect within a second.

use std::time::{Duration, Instant};

use berth_testkit::db::Backend;
use berth_tests::Suite;
use reqwest::Method;
use serde_json::{json, Value};

fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0) as u64
}

#[tokio::test]
async fn cached_decisions_follow_bindings_within_a_second() {
    let suite = Suite::start(Backend::Postgres).await;
    suite.seed_bound_space().await;
    let check = json!({"namespace": "blue-ns", "image": "127.0.0.1:1/priv/app:v1"});
    let allowed = |v: &Value| v["allowed"].as_bool().unwrap();
    // Let the events of the setup settle, then warm the cache.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, first) = suite
        .admin(Method::POST, "/api/v1/access/check", Some(check.clone()))
        .await;
    assert!(allowed(&first), "{first}");
    for _ in 0..5 {
        let (_, again) = suite
            .admin(Method::POST, "/api/v1/access/check", Some(check.clone()))
            .await;
        assert_eq!(again, first);
    }
    let metrics = suite
        .http
        .get(format!("{}/metrics", suite.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        counter(&metrics, "berth_access_cache_hits_total") >= 5,
        "repeated checks come from the cache:\n{metrics}"
    );

    // Unbind: the cached "allowed" is gone within a second.
    let (status, _) = suite
        .admin(
            Method::DELETE,
            "/api/v1/registries/dist/spaces/priv/bindings/blue",
            None,
        )
        .await;
    assert_eq!(status, 204);
    let started = Instant::now();
    let denied = berth_testkit::wait_until(Duration::from_secs(1), || {
        let check = check.clone();
        let suite = &suite;
        async move {
            !suite
                .admin(Method::POST, "/api/v1/access/check", Some(check))
                .await
                .1["allowed"]
                .as_bool()
                .unwrap()
        }
    })
    .await;
    assert!(denied, "still allowed a second after unbind");
    println!("revocation visible after {:?}", started.elapsed());
    // And a new binding is seen as quickly.
    suite
        .admin(
            Method::PUT,
            "/api/v1/registries/dist/spaces/priv/bindings/blue",
            None,
        )
        .await;
    let allowed_again = berth_testkit::wait_until(Duration::from_secs(1), || {
        let check = check.clone();
        let suite = &suite;
        async move {
            suite
                .admin(Method::POST, "/api/v1/access/check", Some(check))
                .await
                .1["allowed"]
                .as_bool()
                .unwrap()
        }
    })
    .await;
    assert!(allowed_again);
}
