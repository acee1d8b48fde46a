//! The transactional outbox.
//!
//! A service enqueues a message with [`Outbox::enqueue`] on the same connection (or transaction)
//! that writes the state the message announces; the [`Outbox::run_relay`] loop publishes
//! pending rows oldest first and deletes each once the broker has confirmed it. Relays of
//! several replicas each take rows the others do not hold, so across replicas rows may go out
//! in another order; consumers do not rely on the order of messages. While the broker is
//! unreachable rows simply wait, so no event is lost; a crash between confirm and delete can
//! publish a row twice, which consumers absorb by message id.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sea_query::{
    Alias, ColumnDef, Expr, LockBehavior, LockType, Order, Query, Table, TableCreateStatement,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, TransactionTrait};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{Bus, Message};

const POLL: Duration = Duration::from_millis(500);
const BATCH: u64 = 100;

/// One service's outbox table.
#[derive(Clone)]
pub struct Outbox {
    table: String,
    wake: Arc<Notify>,
}

impl Outbox {
    /// The outbox of `service`, in table `{service}_outbox`.
    pub fn new(service: &str) -> Self {
        Self {
            table: format!("{service}_outbox"),
            wake: Arc::new(Notify::new()),
        }
    }

    /// The statement that creates the table, for the service's migrations.
    pub fn create_table(&self, backend: DbBackend) -> TableCreateStatement {
        let mut seq = ColumnDef::new(Alias::new("seq"));
        // SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a bigserial.
        match backend {
            DbBackend::Sqlite => seq.integer(),
            _ => seq.big_integer(),
        };
        Table::create()
            .table(Alias::new(&self.table))
            .if_not_exists()
            .col(seq.not_null().auto_increment().primary_key())
            .col(ColumnDef::new(Alias::new("id")).string().not_null())
            .col(ColumnDef::new(Alias::new("body")).text().not_null())
            .to_owned()
    }

    /// Records `message` for publication, on `conn` (pass the transaction of the state change).
    pub async fn enqueue<C: ConnectionTrait>(
        &self,
        conn: &C,
        message: &Message,
    ) -> anyhow::Result<()> {
        let body = String::from_utf8(message.to_bytes()).expect("JSON is UTF-8");
        let stmt = Query::insert()
            .into_table(Alias::new(&self.table))
            .columns([Alias::new("id"), Alias::new("body")])
            .values_panic([message.id.to_string().into(), body.into()])
            .to_owned();
        conn.execute(conn.get_database_backend().build(&stmt))
            .await?;
        Ok(())
    }

    /// Wakes the relay (call after the enqueuing transaction commits).
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// Publishes pending messages until `stop`.
    pub async fn run_relay(
        self,
        db: DatabaseConnection,
        bus: Arc<dyn Bus>,
        stop: CancellationToken,
    ) {
        let mut failures = 0u32;
        let mut measured: Option<std::time::Instant> = None;
        loop {
            let outcome = self.publish_pending(&db, bus.as_ref()).await;
            // The depth, at most every 5 s: rows that wait are events not yet delivered.
            if measured.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                measured = Some(std::time::Instant::now());
                if let Ok(n) = self.pending(&db).await {
                    metrics::gauge!("berth_outbox_pending", "table" => self.table.clone())
                        .set(n as f64);
                }
            }
            match outcome {
                Ok(()) => failures = 0,
                Err(e) => {
                    failures += 1;
                    if failures == 1 || failures.is_multiple_of(20) {
                        tracing::warn!(table = %self.table, error = %e, failures, "outbox relay cannot publish yet");
                    }
                }
            }
            let wait = if failures == 0 {
                POLL
            } else {
                (POLL * failures.min(10)).min(Duration::from_secs(5))
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = self.wake.notified(), if failures == 0 => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Publishes every pending row, oldest first; stops at the first failure.
    ///
    /// On PostgreSQL each batch is claimed (`FOR UPDATE SKIP LOCKED`) in a transaction that
    /// also deletes what was published, so relays of several replicas over one table never
    /// publish a row twice: each takes rows the others do not hold. (An SQLite database has one
    /// process, and so one relay.)
    pub async fn publish_pending(
        &self,
        db: &DatabaseConnection,
        bus: &dyn Bus,
    ) -> anyhow::Result<()> {
        loop {
            let (published, failed) = if db.get_database_backend() == DbBackend::Postgres {
                let tx = db.begin().await?;
                let outcome = self.publish_batch(&tx, bus, true).await?;
                tx.commit().await?;
                outcome
            } else {
                self.publish_batch(db, bus, false).await?
            };
            if let Some(e) = failed {
                return Err(e);
            }
            if published == 0 {
                return Ok(());
            }
        }
    }

    /// Publishes up to one batch on `conn`, deleting what was published up to the first
    /// failure: (rows published, the failure). A row published but not deleted (a crash
    /// between) is published again, which consumers absorb by message id.
    async fn publish_batch<C: ConnectionTrait>(
        &self,
        conn: &C,
        bus: &dyn Bus,
        claim: bool,
    ) -> anyhow::Result<(usize, Option<anyhow::Error>)> {
        let backend = conn.get_database_backend();
        let mut select = Query::select()
            .columns([Alias::new("seq"), Alias::new("body")])
            .from(Alias::new(&self.table))
            .order_by(Alias::new("seq"), Order::Asc)
            .limit(BATCH)
            .to_owned();
        if claim {
            select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = conn.query_all(backend.build(&select)).await?;
        let mut published = Vec::with_capacity(rows.len());
        let mut failed = None;
        for row in rows {
            let seq: i64 = row.try_get("", "seq")?;
            let body: String = row.try_get("", "body")?;
            match Message::from_bytes(body.as_bytes(), 1) {
                Ok(message) => {
                    if let Err(e) = bus.publish(&message).await {
                        failed = Some(e);
                        break;
                    }
                }
                Err(e) => {
                    tracing::error!(table = %self.table, seq, error = %e, "dropping corrupt outbox row")
                }
            }
            published.push(seq);
        }
        if !published.is_empty() {
            let delete = Query::delete()
                .from_table(Alias::new(&self.table))
                .and_where(Expr::col(Alias::new("seq")).is_in(published.iter().copied()))
                .to_owned();
            conn.execute(backend.build(&delete)).await?;
            metrics::counter!("berth_outbox_published_total", "table" => self.table.clone())
                .increment(published.len() as u64);
        }
        Ok((published.len(), failed))
    }

    /// Rows waiting for publication.
    pub async fn pending(&self, db: &DatabaseConnection) -> anyhow::Result<u64> {
        let select = Query::select()
            .expr(Expr::col(Alias::new("seq")).count())
            .from(Alias::new(&self.table))
            .to_owned();
        let row = db
            .query_one(db.get_database_backend().build(&select))
            .await?;
        Ok(row
            .and_then(|r| r.try_get_by_index::<i64>(0).ok())
            .unwrap_or(0) as u64)
    }
}
