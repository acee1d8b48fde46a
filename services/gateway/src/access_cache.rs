//! Cached access decisions.
//!
//! `CheckPull` answers are kept in the cache (Redis, or in-process in embedded mode) under a
//! generation: every `space.changed`, `binding.changed`, `registry.changed`, `scan.completed`
//! and `allowlist.changed` event replaces the generation, which orphans every cached answer at
//! once, on every gateway replica that shares the cache. Answers also expire after
//! [`DECISION_TTL`] as a safety net, answers a severity gate decided after [`GATED_TTL`] (or
//! when an allowlist entry they relied on expires, if sooner).
//!
//! A cache that fails or is slow (every command is bounded) is left alone for [`RESTING`]:
//! decisions are made uncached meanwhile, so a lost Redis costs no call more than one timeout.

use std::sync::Arc;
use std::time::Duration;

use berth_bus::{Bus, Consumer, Handler, HandlerError, Message, Subscription};
use berth_cache::Cache;
use serde::{Deserialize, Serialize};

const GENERATION_KEY: &str = "access:generation";
pub const DECISION_TTL: Duration = Duration::from_secs(60);
/// How long an answer that a severity gate decided is kept: a push may move a tag to another
/// digest without any event this cache follows.
pub const GATED_TTL: Duration = Duration::from_secs(10);
const GENERATION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long a failed cache is bypassed before it is tried again.
const RESTING: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedDecision {
    pub allowed: bool,
    pub reason: String,
}

#[derive(Clone)]
pub struct AccessCache {
    cache: Arc<dyn Cache>,
    /// Until when the cache is bypassed after a failure.
    resting_until: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

impl AccessCache {
    pub fn new(cache: Arc<dyn Cache>) -> Self {
        Self {
            cache,
            resting_until: Arc::default(),
        }
    }

    /// Whether the cache answers (for readiness).
    pub async fn ping(&self) -> bool {
        self.cache.ping().await
    }

    fn resting(&self) -> bool {
        let mut until = self.resting_until.lock().expect("not poisoned");
        match *until {
            Some(t) if t > std::time::Instant::now() => true,
            Some(_) => {
                *until = None;
                false
            }
            None => false,
        }
    }

    fn failed(&self, e: &anyhow::Error) {
        let mut until = self.resting_until.lock().expect("not poisoned");
        if until.is_none() {
            tracing::warn!(error = %e, "access cache unavailable: deciding uncached for {RESTING:?}");
        }
        *until = Some(std::time::Instant::now() + RESTING);
    }

    async fn generation(&self) -> Option<String> {
        if self.resting() {
            return None;
        }
        match self.cache.get(GENERATION_KEY).await {
            Ok(Some(g)) => String::from_utf8(g).ok(),
            Ok(None) => {
                let g = uuid::Uuid::new_v4().simple().to_string();
                // Another replica may set it first; read back whichever won.
                let _ = self
                    .cache
                    .set_nx(GENERATION_KEY, g.as_bytes(), GENERATION_TTL)
                    .await;
                self.cache
                    .get(GENERATION_KEY)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|g| String::from_utf8(g).ok())
            }
            Err(e) => {
                self.failed(&e);
                None
            }
        }
    }

    fn key(generation: &str, namespace: &str, image: &str) -> String {
        format!("access:{generation}:{namespace}:{image}")
    }

    pub async fn get(&self, namespace: &str, image: &str) -> Option<CachedDecision> {
        let g = self.generation().await?;
        let bytes = match self.cache.get(&Self::key(&g, namespace, image)).await {
            Ok(b) => b?,
            Err(e) => {
                self.failed(&e);
                return None;
            }
        };
        serde_json::from_slice(&bytes).ok()
    }

    pub async fn put(&self, namespace: &str, image: &str, d: &CachedDecision, ttl: Duration) {
        let Some(g) = self.generation().await else {
            return;
        };
        let bytes = serde_json::to_vec(d).expect("decision serializes");
        if let Err(e) = self
            .cache
            .set(&Self::key(&g, namespace, image), &bytes, ttl)
            .await
        {
            self.failed(&e);
        }
    }

    /// Orphans every cached decision.
    pub async fn invalidate(&self) -> anyhow::Result<()> {
        let g = uuid::Uuid::new_v4().simple().to_string();
        self.cache
            .set(GENERATION_KEY, g.as_bytes(), GENERATION_TTL)
            .await
    }

    /// Invalidates on every event that can change a decision.
    pub async fn follow(&self, bus: &dyn Bus) -> anyhow::Result<Consumer> {
        let mut sub = Subscription::new(
            "gateway.access-cache",
            &[
                "space.changed",
                "binding.changed",
                "registry.changed",
                "scan.completed",
                "allowlist.changed",
            ],
        );
        // A replica that cannot reach the cache hands the invalidation back quickly, for one
        // that can: never given up on (a lost invalidation leaves answers stale for their TTL).
        sub.backoff = Duration::from_millis(100);
        sub.max_backoff = Duration::from_millis(500);
        sub.max_attempts = 100_000;
        bus.subscribe(sub, Arc::new(Invalidator(self.clone())))
            .await
    }
}

struct Invalidator(AccessCache);

#[async_trait::async_trait]
impl Handler for Invalidator {
    async fn handle(&self, m: &Message) -> Result<(), HandlerError> {
        tracing::debug!(kind = %m.kind, "access decisions invalidated");
        self.0
            .invalidate()
            .await
            .map_err(|e| HandlerError::Retry(e.to_string()))
    }
}
