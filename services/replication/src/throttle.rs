//! Per-policy limits: a bandwidth budget shared by every transfer of the policy in every worker
//! (bytes per second, counted in the shared cache), and the number of artifacts a worker copies
//! at once for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_cache::Cache;

use berth_oci::BlobStream;
use futures::StreamExt;
use tokio::sync::Semaphore;

/// A policy's bandwidth: `rate` bytes per second across every worker, counted per
/// one-second window in the shared cache. A worker takes grants of an eighth of a second's
/// budget at a time and spends them locally; when the window is spent it waits for the next.
pub struct Bandwidth {
    rate: u64,
    key: String,
    cache: Arc<dyn Cache>,
    /// Bytes granted and not yet sent (negative: owed).
    left: tokio::sync::Mutex<i64>,
}

impl Bandwidth {
    pub fn new(policy: &str, rate: u64, cache: Arc<dyn Cache>) -> Self {
        Self {
            rate,
            key: format!("bandwidth:{policy}"),
            cache,
            left: tokio::sync::Mutex::new(0),
        }
    }

    /// Waits until `n` more bytes may be sent.
    pub async fn take(&self, n: u64) {
        let mut left = self.left.lock().await;
        *left -= n as i64;
        let grant = (self.rate / 8).clamp(1, 1024 * 1024);
        while *left < 0 {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            let window = format!("{}:{}", self.key, now.as_secs());
            match self
                .cache
                .incr(&window, grant as i64, Duration::from_secs(2))
                .await
            {
                Ok(used) if used as u64 <= self.rate => *left += grant as i64,
                Ok(_) => {
                    // This second's budget is spent: wait for the next window.
                    let into = Duration::from_nanos(now.subsec_nanos() as u64);
                    tokio::time::sleep(Duration::from_secs(1).saturating_sub(into)).await;
                }
                Err(e) => {
                    // Without the shared cache, pace this worker alone.
                    tracing::debug!(error = %e, "bandwidth budget unavailable, pacing locally");
                    tokio::time::sleep(Duration::from_secs_f64(grant as f64 / self.rate as f64))
                        .await;
                    *left += grant as i64;
                }
            }
        }
    }

    /// `body`, paced to the budget.
    pub fn pace(self: &Arc<Self>, body: BlobStream) -> BlobStream {
        let this = self.clone();
        Box::pin(body.then(move |chunk| {
            let this = this.clone();
            async move {
                if let Ok(bytes) = &chunk {
                    this.take(bytes.len() as u64).await;
                }
                chunk
            }
        }))
    }
}

/// The limits of each policy, made on first use and replaced when the policy changes them.
pub struct Throttles {
    bandwidth: Mutex<HashMap<String, Arc<Bandwidth>>>,
    slots: Mutex<HashMap<String, (u32, Arc<Semaphore>)>>,
    cache: Arc<dyn Cache>,
}

impl Throttles {
    pub fn new(cache: Arc<dyn Cache>) -> Self {
        Self {
            bandwidth: Mutex::default(),
            slots: Mutex::default(),
            cache,
        }
    }

    /// The policy's bandwidth budget, if it has one.
    pub fn bandwidth(&self, policy: &str, rate: u64) -> Option<Arc<Bandwidth>> {
        let mut all = self.bandwidth.lock().expect("throttle lock");
        if rate == 0 {
            all.remove(policy);
            return None;
        }
        let b = all
            .entry(policy.to_string())
            .or_insert_with(|| Arc::new(Bandwidth::new(policy, rate, self.cache.clone())));
        if b.rate != rate {
            *b = Arc::new(Bandwidth::new(policy, rate, self.cache.clone()));
        }
        Some(b.clone())
    }

    /// The semaphore bounding the policy's artifacts in flight, if it sets a bound.
    pub fn slots(&self, policy: &str, concurrency: u32) -> Option<Arc<Semaphore>> {
        let mut all = self.slots.lock().expect("throttle lock");
        if concurrency == 0 {
            all.remove(policy);
            return None;
        }
        let entry = all
            .entry(policy.to_string())
            .or_insert_with(|| (concurrency, Arc::new(Semaphore::new(concurrency as usize))));
        if entry.0 != concurrency {
            *entry = (concurrency, Arc::new(Semaphore::new(concurrency as usize)));
        }
        Some(entry.1.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn workers_share_one_budget_per_policy() {
        let cache: Arc<dyn Cache> = Arc::new(berth_cache::MemoryCache::default());
        // Two workers of one policy, 100 kB/s between them: 300 kB need three one-second
        // windows, so at least one whole second, however the windows fall.
        let a = Arc::new(Bandwidth::new("p", 100_000, cache.clone()));
        let b = Arc::new(Bandwidth::new("p", 100_000, cache.clone()));
        let started = std::time::Instant::now();
        let send = |w: Arc<Bandwidth>| async move {
            for _ in 0..15 {
                w.take(10_000).await;
            }
        };
        tokio::join!(send(a), send(b));
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1000) && took < Duration::from_millis(3500),
            "{took:?}"
        );
        // Another policy has a budget of its own.
        let other = Bandwidth::new("q", 100_000, cache);
        let started = std::time::Instant::now();
        other.take(50_000).await;
        assert!(started.elapsed() < Duration::from_millis(1100));
    }
}
