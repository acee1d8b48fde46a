//! The in-process bus of embedded mode: the same routing, retry and dead-letter semantics as
//! RabbitMQ, within one process and without durability.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{topic_matches, Bus, Consumer, Handler, HandlerError, Message, Subscription};

type Receiver = Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Message>>>;

struct Queue {
    bindings: Vec<String>,
    tx: mpsc::UnboundedSender<Message>,
    rx: Receiver,
}

#[derive(Default)]
struct Inner {
    queues: Mutex<HashMap<String, Queue>>,
    dead: Mutex<HashMap<String, Vec<Message>>>,
}

/// Queues in memory; competing consumers of one queue share its receiver.
#[derive(Default, Clone)]
pub struct MemoryBus {
    inner: Arc<Inner>,
}

impl MemoryBus {
    fn declare(&self, sub: &Subscription) -> (mpsc::UnboundedSender<Message>, Receiver) {
        let mut queues = self.inner.queues.lock().expect("bus lock");
        let q = queues.entry(sub.queue.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            Queue {
                bindings: Vec::new(),
                tx,
                rx: Arc::new(tokio::sync::Mutex::new(rx)),
            }
        });
        for b in &sub.bindings {
            if !q.bindings.contains(b) {
                q.bindings.push(b.clone());
            }
        }
        (q.tx.clone(), q.rx.clone())
    }

    fn dead_letter(&self, queue: &str, message: Message) {
        metrics::counter!("berth_bus_dead_lettered_total", "queue" => queue.to_string())
            .increment(1);
        self.inner
            .dead
            .lock()
            .expect("bus lock")
            .entry(queue.to_string())
            .or_default()
            .push(message);
    }
}

#[async_trait::async_trait]
impl Bus for MemoryBus {
    async fn publish(&self, message: &Message) -> anyhow::Result<()> {
        let queues = self.inner.queues.lock().expect("bus lock");
        for q in queues.values() {
            if q.bindings.iter().any(|b| topic_matches(b, &message.kind)) {
                let _ = q.tx.send(message.clone());
            }
        }
        Ok(())
    }

    async fn subscribe(
        &self,
        sub: Subscription,
        handler: Arc<dyn Handler>,
    ) -> anyhow::Result<Consumer> {
        let (tx, rx) = self.declare(&sub);
        let stop = CancellationToken::new();
        let bus = self.clone();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let permits = Arc::new(Semaphore::new(sub.prefetch.max(1) as usize));
            loop {
                let permit = tokio::select! {
                    _ = stopped.cancelled() => break,
                    p = permits.clone().acquire_owned() => p.expect("semaphore open"),
                };
                let message = tokio::select! {
                    _ = stopped.cancelled() => break,
                    m = async { rx.lock().await.recv().await } => match m {
                        Some(m) => m,
                        None => break,
                    },
                };
                let (bus, sub, handler, tx) =
                    (bus.clone(), sub.clone(), handler.clone(), tx.clone());
                tokio::spawn(async move {
                    let span = message.span(&sub.queue);
                    let result = handler.handle(&message).instrument(span).await;
                    drop(permit);
                    match result {
                        Ok(()) => {}
                        Err(HandlerError::Reject(e)) => {
                            tracing::warn!(queue = %sub.queue, id = %message.id, error = %e, "message rejected");
                            bus.dead_letter(&sub.queue, message);
                        }
                        Err(HandlerError::Retry(e)) if message.attempt >= sub.max_attempts => {
                            tracing::warn!(queue = %sub.queue, id = %message.id, error = %e, "retries exhausted, dead-lettering");
                            bus.dead_letter(&sub.queue, message);
                        }
                        Err(HandlerError::Retry(e)) => {
                            let delay = sub.delay(message.attempt);
                            tracing::info!(queue = %sub.queue, id = %message.id, attempt = message.attempt, error = %e, "handler failed, retrying");
                            metrics::counter!("berth_bus_retries_total", "queue" => sub.queue.clone()).increment(1);
                            tokio::time::sleep(delay).await;
                            let mut again = message;
                            again.attempt += 1;
                            let _ = tx.send(again);
                        }
                    }
                });
            }
        });
        Ok(Consumer::new(stop, task))
    }

    async fn dead_letters(&self, queue: &str) -> anyhow::Result<Vec<Message>> {
        Ok(self
            .inner
            .dead
            .lock()
            .expect("bus lock")
            .get(queue)
            .cloned()
            .unwrap_or_default())
    }

    fn durable(&self) -> bool {
        false
    }

    async fn ping(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    struct Flaky {
        calls: AtomicU32,
        succeed_on: u32,
        seen: mpsc::UnboundedSender<u32>,
    }

    #[async_trait::async_trait]
    impl Handler for Flaky {
        async fn handle(&self, m: &Message) -> Result<(), HandlerError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            let _ = self.seen.send(m.attempt);
            if n >= self.succeed_on {
                Ok(())
            } else {
                Err(HandlerError::Retry("not yet".into()))
            }
        }
    }

    #[tokio::test]
    async fn routes_by_pattern_retries_and_dead_letters() {
        let bus = MemoryBus::default();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut sub = Subscription::new("q", &["registry.*"]);
        sub.backoff = Duration::from_millis(5);
        sub.max_attempts = 3;
        let h = Arc::new(Flaky {
            calls: AtomicU32::new(0),
            succeed_on: 99,
            seen: tx,
        });
        let _c = bus.subscribe(sub, h).await.unwrap();
        bus.publish(&Message::new("space.changed", &1))
            .await
            .unwrap();
        let m = Message::new("registry.health_changed", &2);
        bus.publish(&m).await.unwrap();
        for want in 1..=3 {
            let got = tokio::time::timeout(Duration::from_secs(2), rx.recv())
                .await
                .unwrap();
            assert_eq!(got, Some(want));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let dead = bus.dead_letters("q").await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].id, m.id);
        assert!(rx.try_recv().is_err(), "unbound message was not delivered");
    }
}
