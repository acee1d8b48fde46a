//! Readiness tells the truth about each dependency and nothing hangs: with Redis, RabbitMQ or
//! PostgreSQL cut, `/readyz` turns 503 naming it within seconds and 200 again after; access
//! checks keep answering (uncached) while the cache is gone; a service whose database vanished
//! stops reporting SERVING.

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

    // A cut long enough for a client's reconnect backoff to grow: the cache is back within
    // seconds of Redis.
    tokio::time::sleep(Duration::from_secs(12)).await;
    redis.restore().await.unwrap();
    let (took, body) = becomes(&suite, 200, Duration::from_secs(5)).await;
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
    suite.seed_bound_space().await;
    rabbit.cut();
    let (_, body) = becomes(&suite, 503, Duration::from_secs(5)).await;
    assert_eq!(body["bus"], "unavailable", "{body}");
    // The services stay in rotation without the broker (their events wait in the outbox):
    // reads and the access rule keep answering.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(body["space"], "ready", "{body}");
    let check = json!({"namespace": "blue-ns", "image": "127.0.0.1:1/priv/app:v1"});
    let (status, v) = suite
        .admin(Method::POST, "/api/v1/access/check", Some(check))
        .await;
    assert_eq!((status, v["allowed"].as_bool()), (200, Some(true)), "{v}");
    let (status, v) = suite.admin(Method::GET, "/api/v1/workspaces", None).await;
    assert_eq!(status, 200, "{v}");
    rabbit.restore().await.unwrap();
    let (_, body) = becomes(&suite, 200, Duration::from_secs(15)).await;
    assert_eq!(body["bus"], "ready", "{body}");
}

#[tokio::test]
async fn readiness_follows_the_database() {
    let postgres = TcpProxy::start("127.0.0.1:5432".parse().unwrap())
        .await
        .unwrap();
    let suite = Suite::start_with(
        Backend::Postgres,
        Backends {
            postgres: format!("127.0.0.1:{}", postgres.port),
            ..Default::default()
        },
    )
    .await;
    postgres.cut();
    let (took, body) = becomes(&suite, 503, Duration::from_secs(5)).await;
    assert_eq!(body["database"], "unavailable", "{body}");
    eprintln!("readiness turned 503 {took:?} after the cut");
    // A call that needs the database fails within its bounds instead of hanging.
    let asked = Instant::now();
    let (status, _) = suite.admin(Method::GET, "/api/v1/registries", None).await;
    assert!(status >= 500, "{status}");
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "{:?}",
        asked.elapsed()
    );
    postgres.restore().await.unwrap();
    let (_, body) = becomes(&suite, 200, Duration::from_secs(20)).await;
    assert_eq!(body["database"], "ready", "{body}");
}

/// The space service's database is dropped under it: the service stops reporting SERVING, and
/// the gateway's readiness names the space service.
#[tokio::test]
async fn a_service_whose_database_vanished_is_not_ready() {
    use sea_orm::ConnectionTrait;
    let suite = Suite::start(Backend::Postgres).await;
    let name = suite
        .database_url("space")
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let admin = sea_orm::Database::connect(berth_testkit::db::POSTGRES_ADMIN_URL)
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
    let (_, body) = becomes(&suite, 503, Duration::from_secs(8)).await;
    assert_eq!(body["space"], "unavailable", "{body}");
    assert_eq!(body["registry"], "ready", "{body}");
}
