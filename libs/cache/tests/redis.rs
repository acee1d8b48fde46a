//! The Redis cache against a real server.

use std::time::Duration;

use berth_cache::{Cache, RedisCache};

#[tokio::test]
async fn redis_cache_sets_expires_and_leases() {
    let prefix = berth_testkit::unique("cache");
    let c = RedisCache::connect("redis://127.0.0.1:6379", &prefix)
        .await
        .unwrap();
    assert!(c.ping().await);
    assert_eq!(c.get("k").await.unwrap(), None);
    c.set("k", b"v", Duration::from_secs(10)).await.unwrap();
    assert_eq!(c.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    // Another prefix does not see it.
    let other = RedisCache::connect("redis://127.0.0.1:6379", &berth_testkit::unique("cache"))
        .await
        .unwrap();
    assert_eq!(other.get("k").await.unwrap(), None);
    // A lease is exclusive until it expires.
    assert!(c
        .set_nx("lease", b"a", Duration::from_millis(300))
        .await
        .unwrap());
    assert!(!c
        .set_nx("lease", b"b", Duration::from_secs(10))
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(c
        .set_nx("lease", b"c", Duration::from_secs(10))
        .await
        .unwrap());
    c.delete("k").await.unwrap();
    assert_eq!(c.get("k").await.unwrap(), None);
    // Counters add up and expire from their creation, not from each addition.
    assert_eq!(c.incr("n", 5, Duration::from_millis(300)).await.unwrap(), 5);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(c.incr("n", 7, Duration::from_secs(10)).await.unwrap(), 12);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(c.incr("n", 1, Duration::from_secs(10)).await.unwrap(), 1);
}

#[tokio::test]
async fn unreachable_redis_is_a_clear_error() {
    let port = berth_testkit::free_port();
    let err = RedisCache::connect(&format!("redis://127.0.0.1:{port}"), "x")
        .await
        .err()
        .expect("no server there");
    assert!(err.to_string().contains("cache unavailable"), "{err}");
}
