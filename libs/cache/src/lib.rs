//! One cache interface, two implementations: [`RedisCache`] for deployments and [`MemoryCache`]
//! for embedded mode. Keys are namespaced by a prefix so tests and suites can share a server.
//! Used for access decisions, scheduler and copy leases (`set_nx` with expiry), message
//! deduplication and shared budgets (`incr`).

mod memory;
mod redis_cache;

use std::sync::Arc;
use std::time::Duration;

pub use memory::MemoryCache;
pub use redis_cache::RedisCache;

#[async_trait::async_trait]
pub trait Cache: Send + Sync + 'static {
    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>>;
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<()>;
    /// Sets `key` only if it is absent; answers whether it was set (a lease or a first sighting).
    async fn set_nx(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<bool>;
    async fn delete(&self, key: &str) -> anyhow::Result<()>;
    /// Adds `by` to the counter at `key` (created at 0, expiring `ttl` after its creation);
    /// answers the new value. Shared budgets (bandwidth per time window) count with it.
    async fn incr(&self, key: &str, by: i64, ttl: Duration) -> anyhow::Result<i64>;
    /// Answers whether the backend responds.
    async fn ping(&self) -> bool;
}

/// Opens the cache at `url` (`redis://…`), or an in-process one when `url` is `None`.
pub async fn open(url: Option<&str>, prefix: &str) -> anyhow::Result<Arc<dyn Cache>> {
    Ok(match url {
        Some(url) => Arc::new(RedisCache::connect(url, prefix).await?),
        None => Arc::new(MemoryCache::default()),
    })
}
