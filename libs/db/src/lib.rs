//! Database access for Berth's services: one [`connect`] that picks PostgreSQL or SQLite by URL,
//! and [`migrate`] that applies a service's migrations at start. Each service owns its tables,
//! prefixes them with its name and records its migrations in its own table, so several services
//! can share one database without touching each other's state.

use std::path::Path;
use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};
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

/// Applies every pending migration of `M`.
pub async fn migrate<M: MigratorTrait>(db: &DatabaseConnection) -> anyhow::Result<()> {
    M::up(db, None)
        .await
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    Ok(())
}

/// Answers whether the database responds.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.ping().await.is_ok()
}
