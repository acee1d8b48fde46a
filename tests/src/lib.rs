//! The in-process suite for cross-service tests: the registry service and the gateway started
//! as `berth up` starts them, on a backend of the test's choosing (a fresh PostgreSQL database
//! and a RabbitMQ namespace, or SQLite and the in-process bus).

use std::sync::Arc;
use std::time::Duration;

use berth_auth::sealed::SecretBox;
use berth_testkit::db::{Backend, TestDatabase};
use serde_json::Value;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

pub struct Suite {
    pub url: String,
    pub registry_addr: std::net::SocketAddr,
    pub space_addr: std::net::SocketAddr,
    pub gateway_addr: std::net::SocketAddr,
    pub internal_token: String,
    pub http: reqwest::Client,
    shutdown: berth_runtime::Shutdown,
    _registry_db: TestDatabase,
    _gateway_db: TestDatabase,
    _space_db: TestDatabase,
    _replication_db: TestDatabase,
}

impl Drop for Suite {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

impl Suite {
    pub async fn start(backend: Backend) -> Self {
        let registry_db = TestDatabase::new(backend).await.unwrap();
        let gateway_db = TestDatabase::new(backend).await.unwrap();
        let space_db = TestDatabase::new(backend).await.unwrap();
        let bus = match backend {
            Backend::Postgres => berth_bus::open(
                Some("amqp://guest:guest@127.0.0.1:5672/%2f"),
                &berth_testkit::unique("suite"),
            )
            .await
            .unwrap(),
            Backend::Sqlite => berth_bus::open(None, "suite").await.unwrap(),
        };
        let cache = match backend {
            Backend::Postgres => berth_cache::open(
                Some("redis://127.0.0.1:6379"),
                &berth_testkit::unique("suite"),
            )
            .await
            .unwrap(),
            Backend::Sqlite => berth_cache::open(None, "suite").await.unwrap(),
        };
        let internal_token = berth_auth::tokens::generate();
        let shutdown = berth_runtime::Shutdown::new();
        let registry = berth_registry::start(
            berth_registry::Deps {
                db: berth_db::connect(&registry_db.url).await.unwrap(),
                bus: Arc::clone(&bus),
                secrets: SecretBox::from_base64(&SecretBox::generate_key()).unwrap(),
                internal_token: Some(internal_token.clone()),
                health_interval: Duration::from_secs(30),
            },
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            shutdown.child(),
        )
        .await
        .unwrap();
        let space = berth_space::start(
            berth_space::Deps {
                db: berth_db::connect(&space_db.url).await.unwrap(),
                bus: Arc::clone(&bus),
                internal_token: Some(internal_token.clone()),
                registry_addr: format!("http://{}", registry.addr),
            },
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            shutdown.child(),
        )
        .await
        .unwrap();
        let replication_db = TestDatabase::new(backend).await.unwrap();
        let replication = berth_replication::start(
            berth_replication::Deps {
                db: berth_db::connect(&replication_db.url).await.unwrap(),
                bus: Arc::clone(&bus),
                cache: cache.clone(),
                internal_token: Some(internal_token.clone()),
                registry_addr: format!("http://{}", registry.addr),
                tuning: berth_replication::Tuning {
                    retry_backoff: Duration::from_millis(200),
                    ..Default::default()
                },
                work: true,
            },
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            shutdown.child(),
        )
        .await
        .unwrap();
        let gateway = berth_gateway::start(
            berth_gateway::Deps {
                db: berth_db::connect(&gateway_db.url).await.unwrap(),
                admin_token: ADMIN_TOKEN.into(),
                internal_token: Some(internal_token.clone()),
                platform_admins: vec![],
                registry_addr: format!("http://{}", registry.addr),
                space_addr: format!("http://{}", space.addr),
                replication_addr: format!("http://{}", replication.addr),
                token_signer: berth_auth::registry_token::TokenSigner::generate("berth").unwrap(),
                bus: Arc::clone(&bus),
                cache: cache.clone(),
            },
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            shutdown.child(),
        )
        .await
        .unwrap();
        let suite = Self {
            url: format!("http://{}", gateway.addr),
            registry_addr: registry.addr,
            space_addr: space.addr,
            gateway_addr: gateway.addr,
            internal_token,
            http: reqwest::Client::new(),
            shutdown,
            _registry_db: registry_db,
            _gateway_db: gateway_db,
            _space_db: space_db,
            _replication_db: replication_db,
        };
        let ready = berth_testkit::wait_until(Duration::from_secs(20), || async {
            suite
                .http
                .get(format!("{}/readyz", suite.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        assert!(ready, "suite did not become ready");
        suite
    }

    /// Sends a request with `token` (none when `None`) and answers status and JSON body.
    pub async fn call(
        &self,
        token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.call(Some(ADMIN_TOKEN), method, path, body).await
    }

    /// Mints an API token for `principal` with the admin token.
    pub async fn token_for(&self, principal: &str) -> String {
        let (status, body) = self
            .admin(
                reqwest::Method::POST,
                "/api/v1/tokens",
                Some(serde_json::json!({"principal": principal})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    /// Seeds the common tenancy fixture: registry `dist` (kind `oci`, URL `http://127.0.0.1:1`,
    /// unverified), workspace `blue` with namespace `blue-ns`, and the private space `dist/priv`
    /// bound to `blue`.
    pub async fn seed_bound_space(&self) {
        let steps = [
            (
                reqwest::Method::POST,
                "/api/v1/registries",
                Some(
                    serde_json::json!({"name": "dist", "kind": "oci", "url": "http://127.0.0.1:1", "verify": false}),
                ),
            ),
            (
                reqwest::Method::POST,
                "/api/v1/workspaces",
                Some(serde_json::json!({"name": "blue"})),
            ),
            (
                reqwest::Method::PUT,
                "/api/v1/workspaces/blue/namespaces/blue-ns",
                None,
            ),
            (
                reqwest::Method::POST,
                "/api/v1/registries/dist/spaces",
                Some(serde_json::json!({"name": "priv"})),
            ),
            (
                reqwest::Method::PUT,
                "/api/v1/registries/dist/spaces/priv/bindings/blue",
                None,
            ),
        ];
        for (method, path, body) in steps {
            let (status, answer) = self.admin(method, path, body).await;
            assert!(status < 300, "{path}: {answer}");
        }
    }
}
