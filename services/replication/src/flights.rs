//! Blobs in flight to a destination registry: the same blob is never copied twice at once,
//! within a worker or across workers.
//!
//! The first task to need a blob at a destination copies it; tasks that need it meanwhile
//! wait, then mount it from the repository it landed in, so shared base layers cross the wire
//! once. Within a process a lock per blob orders tasks; across processes a lease in the shared
//! cache (`set_nx`, expiring in case its holder dies) does, and where the blob landed is kept in
//! the cache for an hour. A stale "landed" entry only costs a failed mount, after which the blob
//! is uploaded as usual.
//!
//! Each repository a blob was committed to is remembered too, and nothing writes it there
//! again: Distribution rewrites a blob's link file in place on every mount or upload, so a
//! second write races any manifest `PUT` in that repository naming the blob, which then reads
//! a half-written link and fails with `DIGEST_INVALID` / `MANIFEST_BLOB_UNKNOWN`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_cache::Cache;
use tokio::sync::OwnedMutexGuard;

const MAX_ENTRIES: usize = 100_000;
/// A lease lapses this long after its holder stops renewing it (it died).
const LEASE: Duration = Duration::from_secs(10);
const RENEW: Duration = Duration::from_secs(3);
/// Waiting for another worker's copy gives up after this long and copies anyway.
const PATIENCE: Duration = Duration::from_secs(600);
const LANDED: Duration = Duration::from_secs(3600);
const WAIT: Duration = Duration::from_millis(100);

/// What this process knows of one blob at one destination.
#[derive(Default)]
struct Landed {
    /// The repository it landed in last (to mount from).
    last: Option<String>,
    /// Repositories it is committed in, and since when (trusted for [`LANDED`]).
    repos: HashMap<String, std::time::Instant>,
}

pub struct Flights {
    local: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Landed>>>>,
    cache: Arc<dyn Cache>,
}

/// Exclusive use of one blob at one destination.
pub struct Flight {
    guard: OwnedMutexGuard<Landed>,
    cache: Arc<dyn Cache>,
    key: String,
    /// Renews the cross-process lease while the copy runs.
    lease: Option<tokio::task::JoinHandle<()>>,
}

impl Flights {
    pub fn new(cache: Arc<dyn Cache>) -> Self {
        Self {
            local: Mutex::default(),
            cache,
        }
    }

    /// Waits for exclusive use of `digest` at `registry`.
    pub async fn hold(&self, registry: &str, digest: &str) -> Flight {
        let key = format!("flight:{registry}:{digest}");
        let lock = {
            let mut all = self.local.lock().expect("flights lock");
            if all.len() > MAX_ENTRIES {
                all.retain(|_, l| Arc::strong_count(l) > 1);
            }
            all.entry(key.clone()).or_default().clone()
        };
        let mut guard = lock.lock_owned().await;
        let mut lease = None;
        if guard.last.is_none() {
            let waited = tokio::time::Instant::now();
            loop {
                if let Ok(Some(repo)) = self.cache.get(&format!("{key}:landed")).await {
                    guard.last = String::from_utf8(repo).ok();
                    break;
                }
                match self
                    .cache
                    .set_nx(&format!("{key}:lease"), b"1", LEASE)
                    .await
                {
                    Ok(true) => {
                        let (cache, lease_key) = (self.cache.clone(), format!("{key}:lease"));
                        lease = Some(tokio::spawn(async move {
                            loop {
                                tokio::time::sleep(RENEW).await;
                                let _ = cache.set(&lease_key, b"1", LEASE).await;
                            }
                        }));
                        break;
                    }
                    // Another worker copies it: wait for it to land (or its lease to lapse).
                    Ok(false) if waited.elapsed() < PATIENCE => tokio::time::sleep(WAIT).await,
                    // No cache, or waited out: copy without the cross-process guarantee.
                    _ => break,
                }
            }
        }
        Flight {
            guard,
            cache: self.cache.clone(),
            key,
            lease,
        }
    }
}

impl Flight {
    /// Where an earlier flight landed the blob, if one did.
    pub fn landed(&self) -> Option<String> {
        self.guard.last.clone()
    }

    /// Whether a flight (of any worker) committed the blob to `repo` within the hour.
    pub async fn committed_in(&mut self, repo: &str) -> bool {
        if self
            .guard
            .repos
            .get(repo)
            .is_some_and(|at| at.elapsed() < LANDED)
        {
            return true;
        }
        let known = matches!(
            self.cache.get(&format!("{}:in:{repo}", self.key)).await,
            Ok(Some(_))
        );
        if known {
            self.guard
                .repos
                .insert(repo.to_string(), std::time::Instant::now());
        }
        known
    }

    /// Records that the blob is now in `repo` at the destination.
    pub async fn land(&mut self, repo: &str) {
        if self.guard.last.as_deref() != Some(repo) {
            self.guard.last = Some(repo.to_string());
            let _ = self
                .cache
                .set(&format!("{}:landed", self.key), repo.as_bytes(), LANDED)
                .await;
        }
        if self
            .guard
            .repos
            .insert(repo.to_string(), std::time::Instant::now())
            .is_none()
        {
            let _ = self
                .cache
                .set(&format!("{}:in:{repo}", self.key), b"1", LANDED)
                .await;
        }
        self.release().await;
    }

    /// Forgets that the blob is in `repo` (the destination said otherwise).
    pub async fn forget(&mut self, repo: &str) {
        self.guard.repos.remove(repo);
        if self.guard.last.as_deref() == Some(repo) {
            self.guard.last = None;
        }
        let _ = self.cache.delete(&format!("{}:in:{repo}", self.key)).await;
    }

    async fn release(&mut self) {
        if let Some(renewer) = self.lease.take() {
            renewer.abort();
            let _ = self.cache.delete(&format!("{}:lease", self.key)).await;
        }
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        // A copy that failed lets the next one try at once rather than after the lease.
        if let Some(renewer) = self.lease.take() {
            renewer.abort();
            let (cache, key) = (self.cache.clone(), format!("{}:lease", self.key));
            tokio::spawn(async move {
                let _ = cache.delete(&key).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_blob_in_flight_elsewhere_is_waited_for_then_mounted_from_where_it_landed() {
        let cache: Arc<dyn Cache> = Arc::new(berth_cache::MemoryCache::default());
        // Two workers: separate processes share only the cache.
        let (a, b) = (Flights::new(cache.clone()), Flights::new(cache));
        let mut first = a.hold("dst", "sha256:1").await;
        assert_eq!(first.landed(), None, "nobody has copied it yet");
        let waiting = tokio::spawn(async move { b.hold("dst", "sha256:1").await.landed() });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !waiting.is_finished(),
            "the other worker waits while it is copied"
        );
        first.land("team/app").await;
        assert_eq!(
            waiting.await.unwrap(),
            Some("team/app".to_string()),
            "then mounts it from where it landed"
        );
    }

    #[tokio::test]
    async fn a_failed_copy_lets_the_next_worker_try_at_once() {
        let cache: Arc<dyn Cache> = Arc::new(berth_cache::MemoryCache::default());
        let (a, b) = (Flights::new(cache.clone()), Flights::new(cache));
        let failed = a.hold("dst", "sha256:2").await;
        drop(failed);
        let next = tokio::time::timeout(Duration::from_secs(2), b.hold("dst", "sha256:2"))
            .await
            .expect("no waiting for a lease nobody holds");
        assert_eq!(next.landed(), None);
    }
}
