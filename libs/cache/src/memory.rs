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
}
