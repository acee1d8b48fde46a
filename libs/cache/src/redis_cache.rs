//! The Redis cache.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use crate::Cache;

/// The longest any cache command may take: callers treat a slow cache as a missing one.
pub const OP_TIMEOUT: Duration = Duration::from_secs(1);

/// Runs one cache command under [`OP_TIMEOUT`].
async fn bounded<T>(
    op: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(OP_TIMEOUT, op).await {
        Ok(r) => Ok(r?),
        Err(_) => anyhow::bail!("cache unavailable: no answer within {OP_TIMEOUT:?}"),
    }
}

/// Redis through a reconnecting connection manager; every key is prefixed with `prefix:`.
#[derive(Clone)]
pub struct RedisCache {
    conn: ConnectionManager,
    prefix: String,
}

impl RedisCache {
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).map_err(|e| anyhow::anyhow!("cache url: {e}"))?;
        // Reconnect soon after Redis comes back: at most a second between attempts (the
        // defaults back off to a minute), every command and connect bounded.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_factor(100)
            .set_exponent_base(2)
            .set_max_delay(1_000)
            .set_number_of_retries(3)
            .set_connection_timeout(OP_TIMEOUT)
            .set_response_timeout(OP_TIMEOUT);
        let connecting = ConnectionManager::new_with_config(client, config);
        let conn = tokio::time::timeout(Duration::from_secs(10), connecting)
            .await
            .map_err(|_| anyhow::anyhow!("cache unavailable: connect timed out"))?
            .map_err(|e| anyhow::anyhow!("cache unavailable: {e}"))?;
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.prefix)
    }
}

fn ttl_ms(ttl: Duration) -> u64 {
    (ttl.as_millis() as u64).max(1)
}

#[async_trait::async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        bounded(self.conn.clone().get(self.key(key))).await
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<()> {
        let mut conn = self.conn.clone();
        let set = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms(ttl))
            .to_owned();
        bounded(set.query_async::<()>(&mut conn)).await
    }

    async fn set_nx(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<bool> {
        let mut conn = self.conn.clone();
        let set = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms(ttl))
            .to_owned();
        let reply: Option<String> = bounded(set.query_async(&mut conn)).await?;
        Ok(reply.is_some())
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        bounded(self.conn.clone().del::<_, ()>(self.key(key))).await
    }

    async fn incr(&self, key: &str, by: i64, ttl: Duration) -> anyhow::Result<i64> {
        let key = self.key(key);
        // One round trip, atomically: the expiry is set only when the counter is new.
        let mut conn = self.conn.clone();
        let pipe = redis::pipe()
            .atomic()
            .cmd("INCRBY")
            .arg(&key)
            .arg(by)
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(ttl_ms(ttl))
            .arg("NX")
            .to_owned();
        let (value, _): (i64, i64) = bounded(pipe.query_async(&mut conn)).await?;
        Ok(value)
    }

    async fn ping(&self) -> bool {
        let mut conn = self.conn.clone();
        bounded(redis::cmd("PING").query_async::<String>(&mut conn))
            .await
            .is_ok()
    }
}
