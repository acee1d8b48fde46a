//! A fresh database per test: a new PostgreSQL database, or an SQLite file in a temp dir.

use sea_orm::{ConnectionTrait, Database};

/// PostgreSQL server used by tests (trust auth on this machine and in CI).
pub const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A database that exists for one test; a PostgreSQL one is dropped when this is dropped.
pub struct TestDatabase {
    pub url: String,
    postgres_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> anyhow::Result<Self> {
        match backend {
            Backend::Postgres => Self::postgres().await,
            Backend::Sqlite => Self::sqlite(),
        }
    }

    pub async fn postgres() -> anyhow::Result<Self> {
        let name = crate::unique("berth_test").replace('-', "_");
        let admin = Database::connect(POSTGRES_ADMIN_URL).await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        admin.close().await?;
        Ok(Self {
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            postgres_name: Some(name),
            _dir: None,
        })
    }

    pub fn sqlite() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        Ok(Self {
            url: format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()),
            postgres_name: None,
            _dir: Some(dir),
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        // Drop runs outside any runtime we can borrow; a short-lived thread does the cleanup.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let admin = Database::connect(POSTGRES_ADMIN_URL).await.ok()?;
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
                Some(())
            })
        })
        .join();
    }
}
