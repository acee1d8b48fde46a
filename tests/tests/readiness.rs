//! Readiness tells the truth about each dependency and nothing hangs: with Redis or RabbitMQ
//! cut, `/readyz` turns 503 naming it within seconds and 200 again after; access checks keep
//! answering (uncached) while the cache is gone.

use std::time::{Duration, Instant};

use berth_testkit::db::Backend;
use berth_testkit::proxy::TcpProxy;
use berth_tests::{Backends, Suite};
use reqwest::Method;
use serde_json::{json, Value};

async fn readiness(suite: &Suite) -> (u16, Value) {
    let r = suite
        .http
        .get(format!("{}/readyz", suite.url))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Waits (at most `within`) for readiness to answer `status`; answers how long it took.
async fn becomes(suite: &Suite, status: u16, within: Duration) -> (Duration, Value) {
    let started = Instant::now();
    loop {
        let (got, body) = readiness(suite).await;
        if got == status {
            return (started.elapsed(), body);
        }
        assert!(
            started.elapsed() < within,
            "readiness still {got} after {within:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn readiness_follows_the_cache_and_access_checks_never_hang() {
    let redis = TcpProxy::start("127.0.0.1:6379".parse().unwrap())
        .await
        .unwrap();
    let suite = Suite::start_with(
        Backend::Postgres,
        Backends {
            cache: format!("redis://127.0.0.1:{}", redis.port),
            ..Default::default()
        },
    )
    .await;
    suite.seed_bound_space().await;
    let check = json!({"namespace": "blue-ns", "image": "127.0.0.1:1/priv/app:v1"});
    let (status, first) = suite
        .admin(Method::POST, "/api/v1/access/check", Some(check.clone()))
        .await;
    assert_eq!(status, 200, "{first}");

    redis.cut();
    let (took, body) = becomes(&suite, 503, Duration::from_secs(5)).await;
    assert_eq!(body["cache"], "unavailable", "{body}");
    assert_eq!(body["database"], "ready", "{body}");
    eprintln!("readiness turned 503 {took:?} after the cut");
    // Decisions go on, uncached, without waiting for the cache each time.
    for _ in 0..5 {
        let asked = Instant::now();
        let (status, again) = suite
            .admin(Method::POST, "/api/v1/access/check", Some(check.clone()))
            .await;
        assert_eq!((status, &again), (200, &first));
        assert!(
            asked.elapsed() < Duration::from_secs(3),
            "an access check took {:?} without the cache",
            asked.elapsed()
        );
    }

    redis.restore().await.unwrap();
    let (took, body) = becomes(&suite, 200, Duration::from_secs(10)).await;
    assert_eq!(body["cache"], "ready", "{body}");
    eprintln!("readiness back {took:?} after the restore");
}

#[tokio::test]
async fn readiness_follows_the_bus() {
    let rabbit = TcpProxy::start("127.0.0.1:5672".parse().unwrap())
        .await
        .unwrap();
    let suite = Suite::start_with(
        Backend::Postgres,
        Backends {
            bus: format!("amqp://guest:guest@127.0.0.1:{}/%2f", rabbit.port),
            ..Default::default()
        },
    )
    .await;
    rabbit.cut();
    let (_, body) = becomes(&suite, 503, Duration::from_secs(5)).await;
    assert_eq!(body["bus"], "unavailable", "{body}");
    rabbit.restore().await.unwrap();
    let (_, body) = becomes(&suite, 200, Duration::from_secs(15)).await;
    assert_eq!(body["bus"], "ready", "{body}");
}
