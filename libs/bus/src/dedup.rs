//! Idempotent consumption by message id.

use std::sync::Arc;
use std::time::Duration;

use berth_cache::Cache;

use crate::{Handler, HandlerError, Message};

/// Runs the inner handler at most once to success per message id (within `ttl`); redeliveries
/// and duplicate publications of a handled message are acknowledged without running it again.
pub struct Deduplicating<H> {
    inner: H,
    cache: Arc<dyn Cache>,
    scope: String,
    ttl: Duration,
}

impl<H> Deduplicating<H> {
    pub fn new(inner: H, cache: Arc<dyn Cache>, scope: &str) -> Self {
        Self {
            inner,
            cache,
            scope: scope.to_string(),
            ttl: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

#[async_trait::async_trait]
impl<H: Handler> Handler for Deduplicating<H> {
    async fn handle(&self, message: &Message) -> Result<(), HandlerError> {
        let key = format!("dedup:{}:{}", self.scope, message.id);
        match self.cache.get(&key).await {
            Ok(Some(_)) => {
                metrics::counter!("berth_bus_duplicates_total", "scope" => self.scope.clone())
                    .increment(1);
                return Ok(());
            }
            Ok(None) => {}
            Err(e) => return Err(HandlerError::Retry(format!("dedup cache unavailable: {e}"))),
        }
        self.inner.handle(message).await?;
        if let Err(e) = self.cache.set(&key, b"1", self.ttl).await {
            tracing::warn!(error = %e, id = %message.id, "could not record handled message");
        }
        Ok(())
    }
}
