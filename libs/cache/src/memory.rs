//! The in-process cache of embedded mode.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::Cache;

/// A map with per-key expiry. Expired keys are dropped when touched and swept on writes.
#[derive(Default)]
pub struct MemoryCache {
    entries: Mutex<HashMap<String, (Vec<u8>, Instant)>>,
}

impl MemoryCache {
    fn sweep(map: &mut HashMap<String, (Vec<u8>, Instant)>, now: Instant) {
        if map.len() > 10_000 {
            map.retain(|_, (_, exp)| *exp > now);
        }
    }
}

#[async_trait::async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let mut map = self.entries.lock().expect("cache lock");
        let now = Instant::now();
        match map.get(key) {
            Some((v, exp)) if *exp > now => Ok(Some(v.clone())),
            Some(_) => {
                map.remove(key);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<()> {
        let mut map = self.entries.lock().expect("cache lock");
        let now = Instant::now();
        Self::sweep(&mut map, now);
        map.insert(key.to_string(), (value.to_vec(), now + ttl));
        Ok(())
    }

    async fn set_nx(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<bool> {
        let mut map = self.entries.lock().expect("cache lock");
        let now = Instant::now();
        Self::sweep(&mut map, now);
        if matches!(map.get(key), Some((_, exp)) if *exp > now) {
            return Ok(false);
        }
        map.insert(key.to_string(), (value.to_vec(), now + ttl));
        Ok(true)
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.entries.lock().expect("cache lock").remove(key);
        Ok(())
    }

    async fn incr(&self, key: &str, by: i64, ttl: Duration) -> anyhow::Result<i64> {
        let mut map = self.entries.lock().expect("cache lock");
        let now = Instant::now();
        Self::sweep(&mut map, now);
        let (current, expires) = match map.get(key) {
            Some((v, exp)) if *exp > now => (
                std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or_else(|| anyhow::anyhow!("{key} does not hold a counter"))?,
                *exp,
            ),
            _ => (0, now + ttl),
        };
        let value = current + by;
        map.insert(key.to_string(), (value.to_string().into_bytes(), expires));
        Ok(value)
    }

    async fn ping(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_expire_and_set_nx_is_exclusive() {
        let c = MemoryCache::default();
        assert!(c
            .set_nx("k", b"a", Duration::from_millis(50))
            .await
            .unwrap());
        assert!(!c.set_nx("k", b"b", Duration::from_secs(5)).await.unwrap());
        assert_eq!(c.get("k").await.unwrap().as_deref(), Some(&b"a"[..]));
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(c.get("k").await.unwrap(), None);
        assert!(c.set_nx("k", b"c", Duration::from_secs(5)).await.unwrap());
        c.delete("k").await.unwrap();
        assert_eq!(c.get("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn counters_add_up_and_expire_from_their_creation() {
        let c = MemoryCache::default();
        assert_eq!(c.incr("n", 5, Duration::from_millis(100)).await.unwrap(), 5);
        assert_eq!(c.incr("n", 7, Duration::from_secs(10)).await.unwrap(), 12);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(c.incr("n", 1, Duration::from_secs(10)).await.unwrap(), 1);
    }
}
