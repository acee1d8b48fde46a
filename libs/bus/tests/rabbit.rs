//! The RabbitMQ bus against a real broker: redelivery, retry with backoff, dead-lettering, and
//! the outbox delivering what was published while the broker was unreachable, exactly once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_bus::dedup::Deduplicating;
use berth_bus::outbox::Outbox;
use berth_bus::rabbit::RabbitBus;
use berth_bus::{Bus, Handler, HandlerError, Message, Subscription};
use berth_testkit::{unique, wait_until};
use tokio::sync::mpsc;

const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Records each delivery; fails with `Retry` while `fail` is set; hangs forever if `hang` is set.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(uuid::Uuid, u32, Instant)>>,
    fail: bool,
    hang: bool,
}

#[async_trait::async_trait]
impl Handler for Recorder {
    async fn handle(&self, m: &Message) -> Result<(), HandlerError> {
        self.seen
            .lock()
            .unwrap()
            .push((m.id, m.attempt, Instant::now()));
        if self.hang {
            std::future::pending::<()>().await;
        }
        if self.fail {
            return Err(HandlerError::Retry("failing on purpose".into()));
        }
        Ok(())
    }
}

impl Recorder {
    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

#[tokio::test]
async fn unacked_message_is_redelivered_to_the_next_consumer() {
    let ns = unique("bus");
    let bus = RabbitBus::connect(AMQP, &ns).await.unwrap();
    let stuck = Arc::new(Recorder {
        hang: true,
        ..Default::default()
    });
    let consumer = bus
        .subscribe(Subscription::new("work", &["job.run"]), stuck.clone())
        .await
        .unwrap();
    let m = Message::new("job.run", &"payload");
    bus.publish(&m).await.unwrap();
    assert!(wait_until(Duration::from_secs(10), || async { stuck.count() == 1 }).await);
    // The consumer dies holding the message unacknowledged.
    consumer.stop().await;

    let next = Arc::new(Recorder::default());
    let _c = bus
        .subscribe(Subscription::new("work", &["job.run"]), next.clone())
        .await
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || async { next.count() == 1 }).await,
        "redelivered"
    );
    assert_eq!(next.seen.lock().unwrap()[0].0, m.id);
}

#[tokio::test]
async fn failing_handler_is_retried_with_backoff_then_dead_lettered() {
    let ns = unique("bus");
    let bus = RabbitBus::connect(AMQP, &ns).await.unwrap();
    let h = Arc::new(Recorder {
        fail: true,
        ..Default::default()
    });
    let mut sub = Subscription::new("flaky", &["job.*"]);
    sub.max_attempts = 3;
    sub.backoff = Duration::from_millis(300);
    let _c = bus.subscribe(sub, h.clone()).await.unwrap();
    let m = Message::new("job.flaky", &42);
    bus.publish(&m).await.unwrap();

    assert!(
        wait_until(Duration::from_secs(15), || async { h.count() == 3 }).await,
        "three attempts"
    );
    let seen = h.seen.lock().unwrap().clone();
    assert_eq!(seen.iter().map(|s| s.1).collect::<Vec<_>>(), vec![1, 2, 3]);
    let (first_gap, second_gap) = (seen[1].2 - seen[0].2, seen[2].2 - seen[1].2);
    assert!(
        first_gap >= Duration::from_millis(280),
        "first retry after the backoff: {first_gap:?}"
    );
    assert!(
        second_gap >= Duration::from_millis(580),
        "backoff doubles: {second_gap:?}"
    );

    let dead = wait_until(Duration::from_secs(10), || {
        let bus = &bus;
        async move {
            bus.dead_letters("flaky")
                .await
                .unwrap()
                .iter()
                .any(|d| d.id == m.id)
        }
    })
    .await;
    assert!(dead, "dead-lettered after the last attempt");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(h.count(), 3, "no attempt after dead-lettering");
}

struct Forward(mpsc::UnboundedSender<uuid::Uuid>);

#[async_trait::async_trait]
impl Handler for Forward {
    async fn handle(&self, m: &Message) -> Result<(), HandlerError> {
        let _ = self.0.send(m.id);
        Ok(())
    }
}

#[tokio::test]
async fn outbox_delivers_after_the_broker_returns_exactly_once_to_a_deduplicating_consumer() {
    let ns = unique("bus");
    let proxy = berth_testkit::proxy::TcpProxy::start("127.0.0.1:5672".parse().unwrap())
        .await
        .unwrap();
    let via_proxy = format!("amqp://guest:guest@127.0.0.1:{}/%2f", proxy.port);
    let publisher: Arc<dyn Bus> = Arc::new(RabbitBus::connect(&via_proxy, &ns).await.unwrap());

    // The consumer reaches the broker directly, and deduplicates by message id in Redis.
    let direct = RabbitBus::connect(AMQP, &ns).await.unwrap();
    let cache = berth_cache::open(Some("redis://127.0.0.1:6379"), &unique("dedup"))
        .await
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let handler = Deduplicating::new(Forward(tx), cache, "test");
    let _c = direct
        .subscribe(
            Subscription::new("events", &["registry.#"]),
            Arc::new(handler),
        )
        .await
        .unwrap();

    let db = berth_testkit::db::TestDatabase::postgres().await.unwrap();
    let conn = berth_db::connect(&db.url).await.unwrap();
    let outbox = Outbox::new("bustest");
    use sea_orm::ConnectionTrait;
    conn.execute(
        conn.get_database_backend()
            .build(&outbox.create_table(conn.get_database_backend())),
    )
    .await
    .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();

    // The broker becomes unreachable; the event is recorded and waits.
    proxy.cut();
    let m = Message::new("registry.health_changed", &"down");
    outbox.enqueue(&conn, &m).await.unwrap();
    tokio::spawn(
        outbox
            .clone()
            .run_relay(conn.clone(), publisher.clone(), stop.clone()),
    );
    outbox.notify();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        rx.try_recv().is_err(),
        "nothing delivered while the broker is unreachable"
    );
    assert_eq!(
        outbox.pending(&conn).await.unwrap(),
        1,
        "the event waits in the outbox"
    );

    // Back: delivered once.
    proxy.restore().await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("delivered once the broker is back");
    assert_eq!(got, Some(m.id));
    assert!(
        wait_until(Duration::from_secs(5), || async {
            outbox.pending(&conn).await.unwrap() == 0
        })
        .await
    );

    // A duplicate publication (a relay that crashed before deleting the row) is absorbed.
    direct.publish(&m).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        rx.try_recv().is_err(),
        "the deduplicating consumer saw the message exactly once"
    );
    stop.cancel();
}

/// Two replicas' relays over one outbox table: every row reaches the broker once, not once per
/// relay (each claims the rows it publishes).
#[tokio::test]
async fn two_relays_over_one_outbox_publish_each_row_once() {
    use sea_orm::ConnectionTrait;

    let ns = unique("bus");
    let bus: Arc<dyn Bus> = Arc::new(RabbitBus::connect(AMQP, &ns).await.unwrap());
    let seen = Arc::new(Recorder::default());
    let _c = bus
        .subscribe(Subscription::new("jobs", &["job.run"]), seen.clone())
        .await
        .unwrap();

    let db = berth_testkit::db::TestDatabase::postgres().await.unwrap();
    let conn = berth_db::connect(&db.url).await.unwrap();
    let outbox = Outbox::new("relaytest");
    conn.execute(
        conn.get_database_backend()
            .build(&outbox.create_table(conn.get_database_backend())),
    )
    .await
    .unwrap();
    const ROWS: usize = 300;
    for i in 0..ROWS {
        outbox
            .enqueue(&conn, &Message::new("job.run", &i))
            .await
            .unwrap();
    }
    // Both relays start on the full table at the same moment, each with its own pool (as two
    // processes would).
    let other = berth_db::connect(&db.url).await.unwrap();
    let (a, b) = tokio::join!(
        outbox.publish_pending(&conn, bus.as_ref()),
        outbox.publish_pending(&other, bus.as_ref()),
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(outbox.pending(&conn).await.unwrap(), 0);
    assert!(wait_until(Duration::from_secs(20), || async { seen.count() >= ROWS }).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ids: std::collections::HashSet<_> = seen
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(id, _, _)| *id)
        .collect();
    assert_eq!(
        (seen.count(), ids.len()),
        (ROWS, ROWS),
        "each row published exactly once"
    );
}
