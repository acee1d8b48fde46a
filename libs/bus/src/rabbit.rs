//! The RabbitMQ bus (lapin).
//!
//! Topology per namespace `ns`: a durable topic exchange `ns.events`; per subscription a durable
//! queue `ns.QUEUE` bound to its patterns, delay queues `ns.QUEUE.retry.MSms` (one per distinct
//! backoff, named by it, so consumers configured differently can share the queue) which
//! dead-letter back into `ns.QUEUE`, and a dead-letter queue `ns.QUEUE.dlq`.
//! The attempt number travels in the `x-attempt` header. Every consumer has its own connection,
//! so stopping it hands its unacknowledged messages back to the broker.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions,
    BasicQosOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::{Mutex, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{Bus, Consumer, Handler, HandlerError, Message, Subscription};

const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);
const ATTEMPT_HEADER: &str = "x-attempt";

/// A RabbitMQ bus. The publishing channel reconnects lazily after a failure.
pub struct RabbitBus {
    url: String,
    namespace: String,
    publisher: Mutex<Option<(Connection, Channel)>>,
}

async fn connect(url: &str) -> anyhow::Result<Connection> {
    let props = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio);
    tokio::time::timeout(Duration::from_secs(10), Connection::connect(url, props))
        .await
        .map_err(|_| anyhow::anyhow!("bus unavailable: connect timed out"))?
        .map_err(|e| anyhow::anyhow!("bus unavailable: {e}"))
}

async fn confirm_channel(conn: &Connection, exchange: &str) -> anyhow::Result<Channel> {
    let ch = conn.create_channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    ch.exchange_declare(
        exchange,
        ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await?;
    Ok(ch)
}

fn properties(message: &Message) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        ATTEMPT_HEADER.into(),
        AMQPValue::LongLongInt(message.attempt as i64),
    );
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(message.id.to_string().into())
        .with_type(message.kind.clone().into())
        .with_headers(headers)
}

fn attempt_of(props: &BasicProperties) -> u32 {
    let value = props
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(ATTEMPT_HEADER).cloned());
    match value {
        Some(AMQPValue::LongLongInt(n)) => n.max(1) as u32,
        Some(AMQPValue::LongInt(n)) => n.max(1) as u32,
        Some(AMQPValue::LongUInt(n)) => n.max(1),
        Some(AMQPValue::ShortInt(n)) => n.max(1) as u32,
        _ => 1,
    }
}

async fn publish_confirmed(
    ch: &Channel,
    exchange: &str,
    routing_key: &str,
    message: &Message,
) -> anyhow::Result<()> {
    // A broker that blocks publishers (a resource alarm) holds the send itself: bounded too.
    let body = message.to_bytes();
    let send = ch.basic_publish(
        exchange,
        routing_key,
        BasicPublishOptions::default(),
        &body,
        properties(message),
    );
    let confirm = tokio::time::timeout(CONFIRM_TIMEOUT, send)
        .await
        .map_err(|_| anyhow::anyhow!("publishing timed out"))??;
    match tokio::time::timeout(CONFIRM_TIMEOUT, confirm).await {
        Ok(Ok(Confirmation::Ack(_))) | Ok(Ok(Confirmation::NotRequested)) => Ok(()),
        Ok(Ok(Confirmation::Nack(_))) => anyhow::bail!("broker refused the message"),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => anyhow::bail!("publisher confirm timed out"),
    }
}

impl RabbitBus {
    /// Connects once to check the broker; the connection is kept for publishing.
    pub async fn connect(url: &str, namespace: &str) -> anyhow::Result<Self> {
        let bus = Self {
            url: url.to_string(),
            namespace: namespace.to_string(),
            publisher: Mutex::new(None),
        };
        bus.publisher_channel().await?;
        Ok(bus)
    }

    fn exchange(&self) -> String {
        format!("{}.events", self.namespace)
    }

    fn queue(&self, name: &str) -> String {
        format!("{}.{name}", self.namespace)
    }

    async fn publisher_channel(&self) -> anyhow::Result<Channel> {
        let mut guard = self.publisher.lock().await;
        if let Some((conn, ch)) = guard.as_ref() {
            if conn.status().connected() && ch.status().connected() {
                return Ok(ch.clone());
            }
        }
        let conn = connect(&self.url).await?;
        let ch = confirm_channel(&conn, &self.exchange()).await?;
        *guard = Some((conn, ch.clone()));
        Ok(ch)
    }

    async fn declare(&self, ch: &Channel, sub: &Subscription) -> anyhow::Result<()> {
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let main = self.queue(&sub.queue);
        ch.queue_declare(&main, durable, FieldTable::default())
            .await?;
        for binding in &sub.bindings {
            ch.queue_bind(
                &main,
                &self.exchange(),
                binding,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        }
        let mut delays: Vec<u128> = (1..sub.max_attempts)
            .map(|a| sub.delay(a).as_millis())
            .collect();
        delays.dedup();
        for ms in delays {
            let mut args = FieldTable::default();
            args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ms as i64));
            args.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString("".into()),
            );
            args.insert(
                "x-dead-letter-routing-key".into(),
                AMQPValue::LongString(main.clone().into()),
            );
            ch.queue_declare(&format!("{main}.retry.{ms}ms"), durable, args)
                .await?;
        }
        ch.queue_declare(&format!("{main}.dlq"), durable, FieldTable::default())
            .await?;
        Ok(())
    }

    /// Consumes until `stop`; an error means the connection was lost.
    async fn consume(
        &self,
        sub: &Subscription,
        handler: &Arc<dyn Handler>,
        stop: &CancellationToken,
    ) -> anyhow::Result<()> {
        let conn = connect(&self.url).await?;
        let ch = confirm_channel(&conn, &self.exchange()).await?;
        self.declare(&ch, sub).await?;
        ch.basic_qos(sub.prefetch.max(1), BasicQosOptions::default())
            .await?;
        let main = self.queue(&sub.queue);
        let mut deliveries = ch
            .basic_consume(
                &main,
                "",
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let permits = Arc::new(Semaphore::new(sub.prefetch.max(1) as usize));
        let result = loop {
            let delivery = tokio::select! {
                _ = stop.cancelled() => break Ok(()),
                d = deliveries.next() => d,
            };
            let delivery = match delivery {
                Some(Ok(d)) => d,
                Some(Err(e)) => break Err(e.into()),
                None => break Err(anyhow::anyhow!("consumer cancelled by the broker")),
            };
            let permit = permits.clone().acquire_owned().await?;
            let (ch, handler, sub, main) = (ch.clone(), handler.clone(), sub.clone(), main.clone());
            tokio::spawn(async move {
                if delivery.redelivered {
                    // The broker delivers again what a consumer took and did not settle (it
                    // died or lost its connection).
                    metrics::counter!("berth_bus_redelivered_total", "queue" => sub.queue.clone())
                        .increment(1);
                }
                let attempt = attempt_of(&delivery.properties);
                let outcome = match Message::from_bytes(&delivery.data, attempt) {
                    Ok(message) => {
                        let span = message.span(&sub.queue);
                        let r = handler.handle(&message).instrument(span).await;
                        Some((message, r))
                    }
                    Err(e) => {
                        tracing::warn!(queue = %main, error = %e, "undecodable message, dead-lettering");
                        None
                    }
                };
                let settle = async {
                    match outcome {
                        Some((_, Ok(()))) => {}
                        Some((mut message, Err(HandlerError::Retry(e))))
                            if message.attempt < sub.max_attempts =>
                        {
                            tracing::info!(queue = %main, id = %message.id, attempt = message.attempt, error = %e, "handler failed, retrying");
                            metrics::counter!("berth_bus_retries_total", "queue" => sub.queue.clone()).increment(1);
                            let retry = format!(
                                "{main}.retry.{}ms",
                                sub.delay(message.attempt).as_millis()
                            );
                            message.attempt += 1;
                            publish_confirmed(&ch, "", &retry, &message).await?;
                        }
                        Some((message, Err(e))) => {
                            tracing::warn!(queue = %main, id = %message.id, attempt = message.attempt, error = %e, "dead-lettering message");
                            metrics::counter!("berth_bus_dead_lettered_total", "queue" => sub.queue.clone()).increment(1);
                            publish_confirmed(&ch, "", &format!("{main}.dlq"), &message).await?;
                        }
                        None => {
                            let raw = Message {
                                id: uuid::Uuid::now_v7(),
                                kind: "undecodable".into(),
                                time: chrono::Utc::now(),
                                trace: Default::default(),
                                payload: serde_json::Value::String(
                                    String::from_utf8_lossy(&delivery.data).into_owned(),
                                ),
                                attempt,
                            };
                            publish_confirmed(&ch, "", &format!("{main}.dlq"), &raw).await?;
                        }
                    }
                    anyhow::Ok(())
                };
                match settle.await {
                    Ok(()) => {
                        let _ = delivery.ack(BasicAckOptions::default()).await;
                    }
                    Err(e) => {
                        tracing::warn!(queue = %main, error = %e, "could not reroute message, requeueing");
                        let _ = delivery
                            .nack(BasicNackOptions {
                                requeue: true,
                                ..Default::default()
                            })
                            .await;
                    }
                }
                drop(permit);
            });
        };
        // Closing the connection returns every unacknowledged message to the queue.
        let _ = conn.close(200, "consumer stopped").await;
        result
    }
}

#[async_trait::async_trait]
impl Bus for RabbitBus {
    async fn publish(&self, message: &Message) -> anyhow::Result<()> {
        let ch = self.publisher_channel().await?;
        let result = publish_confirmed(&ch, &self.exchange(), &message.kind, message).await;
        if result.is_err() {
            // Drop the channel so the next publish reconnects.
            *self.publisher.lock().await = None;
        }
        result.map_err(|e| anyhow::anyhow!("bus unavailable: {e}"))
    }

    async fn subscribe(
        &self,
        sub: Subscription,
        handler: Arc<dyn Handler>,
    ) -> anyhow::Result<Consumer> {
        // Declare now so messages published right after subscribe() are queued.
        {
            let conn = connect(&self.url).await?;
            let ch = conn.create_channel().await?;
            ch.exchange_declare(
                &self.exchange(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
            self.declare(&ch, &sub).await?;
            let _ = conn.close(200, "declared").await;
        }
        let stop = CancellationToken::new();
        let this = Self {
            url: self.url.clone(),
            namespace: self.namespace.clone(),
            publisher: Mutex::new(None),
        };
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut backoff = Duration::from_millis(200);
            while !stopped.is_cancelled() {
                match this.consume(&sub, &handler, &stopped).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::warn!(queue = %sub.queue, error = %e, "bus consumer lost its connection, reconnecting");
                        tokio::select! {
                            _ = stopped.cancelled() => break,
                            _ = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
        });
        Ok(Consumer::new(stop, task))
    }

    async fn dead_letters(&self, queue: &str) -> anyhow::Result<Vec<Message>> {
        let conn = connect(&self.url).await?;
        let ch = conn.create_channel().await?;
        let dlq = format!("{}.dlq", self.queue(queue));
        let mut out = Vec::new();
        while let Some(m) = ch
            .basic_get(&dlq, BasicGetOptions { no_ack: false })
            .await?
        {
            let attempt = attempt_of(&m.delivery.properties);
            if let Ok(msg) = Message::from_bytes(&m.delivery.data, attempt) {
                out.push(msg);
            }
        }
        // Unacknowledged: closing hands them back to the dead-letter queue.
        let _ = conn.close(200, "peeked").await;
        Ok(out)
    }

    /// One round trip to the broker (a passive declare of the exchange) within two seconds; a
    /// publisher connection that fails it is dropped, so the next use reconnects.
    async fn ping(&self) -> bool {
        let round_trip = async {
            let ch = self.publisher_channel().await?;
            ch.exchange_declare(
                &self.exchange(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    passive: true,
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
            anyhow::Ok(())
        };
        let ok = matches!(
            tokio::time::timeout(Duration::from_secs(2), round_trip).await,
            Ok(Ok(()))
        );
        if !ok {
            if let Ok(mut guard) = self.publisher.try_lock() {
                *guard = None;
            }
        }
        ok
    }
}
