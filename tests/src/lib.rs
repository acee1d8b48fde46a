//! The in-process suite for cross-service tests: every service started by the same assembly as
//! `berth up` ([`berth_suite`]), on a backend of the test's choosing (a fresh PostgreSQL
//! database per service, a RabbitMQ namespace and a Redis key prefix, or SQLite and the
//! in-process bus and cache).

use std::sync::Arc;
use std::time::Duration;

use berth_auth::sealed::SecretBox;
use berth_testkit::db::{Backend, TestDatabase};
use serde_json::Value;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// What the suite's admission webhook takes from "the API server".
pub const ADMISSION_TOKEN: &str = "test-admission-token-0123456789";

pub struct Suite {
    pub url: String,
    pub registry_addr: std::net::SocketAddr,
    pub space_addr: std::net::SocketAddr,
    pub gateway_addr: std::net::SocketAddr,
    pub internal_token: String,
    /// The suite's registry token signer (its certificate is what registries trust).
    pub token_signer: Arc<berth_auth::registry_token::TokenSigner>,
    pub http: reqwest::Client,
    shutdown: berth_runtime::Shutdown,
    _registry_db: TestDatabase,
    _gateway_db: TestDatabase,
    _space_db: TestDatabase,
    _replication_db: TestDatabase,
    _scan_db: TestDatabase,
}

impl Drop for Suite {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// Where a production-mode suite finds Redis, RabbitMQ and PostgreSQL (a test puts a proxy
/// between).
pub struct Backends {
    pub cache: String,
    pub bus: String,
    /// `host:port` the services reach PostgreSQL at (the databases are made directly).
    pub postgres: String,
    /// The OSV mirror the scan service fetches from.
    pub vulndb: Option<berth_config::VulnDbMirror>,
}

impl Default for Backends {
    fn default() -> Self {
        Self {
            cache: "redis://127.0.0.1:6379".into(),
            bus: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            postgres: "127.0.0.1:5432".into(),
            vulndb: None,
        }
    }
}

impl Suite {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, Backends::default()).await
    }

    /// A suite whose Redis and RabbitMQ (on PostgreSQL) are at `backends`.
    pub async fn start_with(backend: Backend, backends: Backends) -> Self {
        let registry_db = TestDatabase::new(backend).await.unwrap();
        let gateway_db = TestDatabase::new(backend).await.unwrap();
        let space_db = TestDatabase::new(backend).await.unwrap();
        let replication_db = TestDatabase::new(backend).await.unwrap();
        let scan_db = TestDatabase::new(backend).await.unwrap();
        let token_signer =
            Arc::new(berth_auth::registry_token::TokenSigner::generate("berth").unwrap());
        let bus = match backend {
            Backend::Postgres => {
                berth_bus::open(Some(&backends.bus), &berth_testkit::unique("suite"))
                    .await
                    .unwrap()
            }
            Backend::Sqlite => berth_bus::open(None, "suite").await.unwrap(),
        };
        let cache = match backend {
            Backend::Postgres => {
                berth_cache::open(Some(&backends.cache), &berth_testkit::unique("suite"))
                    .await
                    .unwrap()
            }
            Backend::Sqlite => berth_cache::open(None, "suite").await.unwrap(),
        };
        let via = |url: &str| url.replacen("127.0.0.1:5432", &backends.postgres, 1);
        let internal_token = berth_auth::tokens::generate();
        let shutdown = berth_runtime::Shutdown::new();
        let running = berth_suite::start(
            berth_suite::Config {
                databases: berth_suite::Databases {
                    gateway: via(&gateway_db.url),
                    registry: via(&registry_db.url),
                    space: via(&space_db.url),
                    replication: via(&replication_db.url),
                    scan: via(&scan_db.url),
                },
                bus,
                cache,
                admin_token: ADMIN_TOKEN.into(),
                internal_token: internal_token.clone(),
                admission_token: Some(ADMISSION_TOKEN.into()),
                secrets: SecretBox::from_base64(&SecretBox::generate_key()).unwrap(),
                token_signer: Arc::clone(&token_signer),
                platform_admins: vec![],
                health_interval: Duration::from_secs(30),
                replication: berth_replication::Tuning {
                    retry_backoff: Duration::from_millis(200),
                    ..Default::default()
                },
                replication_workers: true,
                vulndb: backends.vulndb.clone(),
            },
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            &shutdown,
        )
        .await
        .unwrap();
        let suite = Self {
            url: format!("http://{}", running.gateway),
            registry_addr: running.registry,
            space_addr: running.space,
            gateway_addr: running.gateway,
            internal_token,
            token_signer,
            http: reqwest::Client::new(),
            shutdown,
            _registry_db: registry_db,
            _gateway_db: gateway_db,
            _space_db: space_db,
            _replication_db: replication_db,
            _scan_db: scan_db,
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

    /// The URL of `service`'s own database (as the test reaches it).
    pub fn database_url(&self, service: &str) -> &str {
        match service {
            "gateway" => &self._gateway_db.url,
            "registry" => &self._registry_db.url,
            "space" => &self._space_db.url,
            _ => &self._replication_db.url,
        }
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

    /// An admin call that must succeed; answers its body.
    pub async fn ok(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.admin(method, path, body).await;
        assert!(status < 300, "{path}: {status} {v}");
        v
    }

    /// Creates workspace `name` with namespace `namespace`.
    pub async fn workspace(&self, name: &str, namespace: &str) {
        self.ok(
            reqwest::Method::POST,
            "/api/v1/workspaces",
            Some(serde_json::json!({ "name": name })),
        )
        .await;
        self.ok(
            reqwest::Method::PUT,
            &format!("/api/v1/workspaces/{name}/namespaces/{namespace}"),
            None,
        )
        .await;
    }

    /// Makes `principal` a member of `workspace` with `role`; answers an API token of theirs.
    pub async fn member(&self, workspace: &str, principal: &str, role: &str) -> String {
        self.ok(
            reqwest::Method::PUT,
            &format!("/api/v1/workspaces/{workspace}/members/{principal}"),
            Some(serde_json::json!({ "role": role })),
        )
        .await;
        self.token_for(principal).await
    }

    /// Whether the access rule lets namespace `ns` pull `image` (asked as the admin).
    pub async fn pull_allowed(&self, ns: &str, image: &str) -> bool {
        let (status, d) = self
            .admin(
                reqwest::Method::POST,
                "/api/v1/access/check",
                Some(serde_json::json!({"namespace": ns, "image": image})),
            )
            .await;
        assert_eq!(status, 200, "{d}");
        d["allowed"].as_bool().unwrap()
    }

    /// Runs replication policy `policy` and waits (up to `limit`) for its execution to end:
    /// the ended execution and its tasks.
    pub async fn run_to_end(
        &self,
        policy: &str,
        limit: std::time::Duration,
    ) -> (serde_json::Value, serde_json::Value) {
        let run = self
            .ok(
                reqwest::Method::POST,
                &format!("/api/v1/replication/policies/{policy}/run"),
                None,
            )
            .await;
        let id = run["id"].as_str().expect("an execution id").to_string();
        let done = berth_testkit::wait_for(limit, || async {
            let (_, v) = self
                .admin(
                    reqwest::Method::GET,
                    &format!("/api/v1/replication/executions/{id}"),
                    None,
                )
                .await;
            (v["status"] != "running" && v["status"] != "pending").then_some(v)
        })
        .await
        .unwrap_or_else(|| panic!("execution {id} did not end"));
        let (_, tasks) = self
            .admin(
                reqwest::Method::GET,
                &format!("/api/v1/replication/executions/{id}/tasks?page_size=1000"),
                None,
            )
            .await;
        (done, tasks)
    }

    /// Requests a scan of `registry/repository:reference` as the admin and waits (up to a
    /// minute) for it to end: the ended scan.
    pub async fn scan_to_end(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
    ) -> serde_json::Value {
        let (status, scan) = self
            .admin(
                reqwest::Method::POST,
                "/api/v1/scans",
                Some(
                    serde_json::json!({"registry": registry, "repository": repository,
                    "reference": reference}),
                ),
            )
            .await;
        assert_eq!(status, 202, "{scan}");
        let id = scan["id"].as_str().expect("a scan id").to_string();
        berth_testkit::wait_for(std::time::Duration::from_secs(60), || async {
            let (_, s) = self
                .admin(reqwest::Method::GET, &format!("/api/v1/scans/{id}"), None)
                .await;
            (s["status"] != "queued" && s["status"] != "scanning").then_some(s)
        })
        .await
        .unwrap_or_else(|| panic!("scan {id} did not end"))
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
    /// unverified, behind Berth's token service), workspace `blue` with namespace `blue-ns`, and the private space `dist/priv`
    /// bound to `blue`.
    pub async fn seed_bound_space(&self) {
        let steps = [
            (
                reqwest::Method::POST,
                "/api/v1/registries",
                Some(
                    serde_json::json!({"name": "dist", "kind": "oci", "url": "http://127.0.0.1:1", "verify": false, "token_service": "berth"}),
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
