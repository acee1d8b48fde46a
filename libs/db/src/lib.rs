//! Database access for Berth's services: one [`connect`] that picks PostgreSQL or SQLite by URL,
//! and [`migrate`] that applies a service's migrations at start. Each service owns its tables,
//! prefixes them with its name and records its migrations in its own table, so several services
//! can share one database without touching each other's state.

use std::path::Path;
use std::time::Duration;

pub use sea_orm::DatabaseConnection;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DbBackend};
pub use sea_orm_migration::MigratorTrait;

/// The SQLite URL of a service's embedded database file in `data_dir`.
pub fn sqlite_url(data_dir: &Path, service: &str) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join(format!("{service}.db")).display()
    )
}

/// Connects to `url` (`postgres://…` or `sqlite://…`).
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(url.to_string());
    opts.connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        // SQLite has one writer; a deferred transaction that reads and then writes fails at
        // once (without waiting) if another connection wrote meanwhile. One connection
        // serializes every statement instead, which is what embedded mode needs.
        opts.max_connections(1).min_connections(1);
    } else {
        opts.max_connections(16);
    }
    let db = Database::connect(opts)
        .await
        .map_err(|e| anyhow::anyhow!("database unavailable: {e}"))?;
    if db.get_database_backend() == DbBackend::Sqlite {
        // WAL with synchronous=NORMAL: commits do not wait for fsync (only checkpoints do); the
        // database stays consistent after a crash, a power cut may lose the last commits.
        db.execute_unprepared(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;",
        )
        .await?;
    }
    Ok(db)
}

/// The PostgreSQL advisory lock every Berth migration holds, so replicas started together
/// migrate one after the other (the later ones find nothing to do).
const MIGRATION_LOCK: i64 = 0x6265_7274_685f_6d69; // "berth_mi"

/// Applies every pending migration of `M`. On PostgreSQL under an advisory lock held by a
/// connection of its own: any number of replicas may start at once.
pub async fn migrate<M: MigratorTrait>(db: &DatabaseConnection) -> anyhow::Result<()> {
    use sea_orm::sqlx;

    let mut lock = None;
    if db.get_database_backend() == DbBackend::Postgres {
        // The lock belongs to the session that takes it: hold one connection of the pool.
        // Detached from the pool: if this start is abandoned midway, dropping the connection
        // ends its session and so releases the lock (a pooled one would keep it).
        let mut conn = db
            .get_postgres_connection_pool()
            .acquire()
            .await
            .map_err(|e| anyhow::anyhow!("database unavailable: {e}"))?
            .detach();
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut conn)
            .await
            .map_err(|e| anyhow::anyhow!("taking the migration lock: {e}"))?;
        lock = Some(conn);
    }
    let result = M::up(db, None)
        .await
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"));
    if let Some(conn) = lock {
        // Closing the session releases the lock.
        let _ = sqlx::Connection::close(conn).await;
    }
    result
}

/// How long a readiness probe waits for the database.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Answers whether the database responds within [`PING_TIMEOUT`].
pub async fn ping(db: &DatabaseConnection) -> bool {
    matches!(
        tokio::time::timeout(PING_TIMEOUT, db.ping()).await,
        Ok(Ok(()))
    )
}
