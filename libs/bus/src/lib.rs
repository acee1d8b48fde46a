//! Berth's job bus.
//!
//! Everything travels as a [`Message`] (a JSON envelope: id, type, time, trace context, payload)
//! on one topic exchange, routed by its type (`registry.health_changed`, `replication.task`, …).
//! A consumer owns a named queue bound to one or more patterns; several consumers of the same
//! queue compete for its messages (work queues), distinct queues each get every message (events).
//!
//! Delivery is at least once: publisher confirms, manual acks after the handler returns, bounded
//! prefetch. A failing handler is retried with exponential backoff through delay queues and
//! dead-lettered after [`Subscription::max_attempts`]. Handlers must therefore be idempotent;
//! [`dedup::Deduplicating`] makes one so by message id. The [`outbox`] writes messages in the
//! same transaction as the state that caused them and a relay publishes them when the broker is
//! reachable, so nothing is lost while it is down.
//!
//! [`rabbit::RabbitBus`] is the deployment implementation, [`memory::MemoryBus`] the embedded one.

pub mod dedup;
pub mod memory;
mod message;
pub mod outbox;
pub mod rabbit;
mod topic;

use std::sync::Arc;
use std::time::Duration;

pub use message::Message;
pub use topic::topic_matches;

/// What a failed handler reports: retry later, or give up on this message now.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("{0}")]
    Retry(String),
    #[error("{0}")]
    Reject(String),
}

#[async_trait::async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn handle(&self, message: &Message) -> Result<(), HandlerError>;
}

/// A queue and how its messages are consumed.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Queue name, unique per consumer group (the bus prefixes it with its namespace).
    pub queue: String,
    /// Topic patterns bound to the queue (`*` one word, `#` any number of words).
    pub bindings: Vec<String>,
    /// Deliveries of one message before it is dead-lettered.
    pub max_attempts: u32,
    /// Delay before the first retry; doubled for every later one, up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Messages in flight per consumer.
    pub prefetch: u16,
}

impl Subscription {
    pub fn new(queue: impl Into<String>, bindings: &[&str]) -> Self {
        Self {
            queue: queue.into(),
            bindings: bindings.iter().map(|s| s.to_string()).collect(),
            max_attempts: 5,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            prefetch: 16,
        }
    }

    /// The delay before retry number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_backoff)
    }
}

/// A running consumer; stops (without acking what it holds) when stopped or dropped.
pub struct Consumer {
    stop: tokio_util::sync::CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Consumer {
    pub(crate) fn new(
        stop: tokio_util::sync::CancellationToken,
        task: tokio::task::JoinHandle<()>,
    ) -> Self {
        Self {
            stop,
            task: Some(task),
        }
    }

    /// Stops consuming and waits for the consumer loop to end.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[async_trait::async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Publishes `message`; returns once the broker has confirmed it.
    async fn publish(&self, message: &Message) -> anyhow::Result<()>;
    /// Declares the subscription's queue and starts consuming it with `handler`.
    async fn subscribe(
        &self,
        subscription: Subscription,
        handler: Arc<dyn Handler>,
    ) -> anyhow::Result<Consumer>;
    /// Messages dead-lettered from `queue`, oldest first (for operators and tests).
    async fn dead_letters(&self, queue: &str) -> anyhow::Result<Vec<Message>>;
    /// Answers whether the broker responds.
    async fn ping(&self) -> bool;
    /// Whether published messages survive this process (a broker) or not (in-process). A
    /// service on a bus that is not durable requeues, at start, the work its tables say is
    /// still to do.
    fn durable(&self) -> bool {
        true
    }
}

/// Opens the bus at `url` (`amqp://…`), or an in-process one when `url` is `None`.
/// `namespace` prefixes the exchange and every queue.
pub async fn open(url: Option<&str>, namespace: &str) -> anyhow::Result<Arc<dyn Bus>> {
    Ok(match url {
        Some(url) => Arc::new(rabbit::RabbitBus::connect(url, namespace).await?),
        None => Arc::new(memory::MemoryBus::default()),
    })
}
