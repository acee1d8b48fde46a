//! Two of everything: two processes of each service (`berth serve NAME`, the code of the split
//! binaries) on PostgreSQL (a database per service), RabbitMQ and Redis, all started at the same
//! moment. Through both gateways: a copy of 300 tags sharing layers runs every task exactly once;
//! a replication replica killed with SIGKILL mid-run leaves the execution to complete with the
//! destination equal to the source; a per-second cron fires once per tick for a minute; registries behind
//! Berth's token service accept tokens from either gateway (skopeo as the client); an unbind at
//! one gateway is refused at the other within a second.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::db::TestDatabase;
use berth_testkit::image::{push_dataset, push_image, shared_layer_dataset, Image, Target};
use berth_testkit::proxy::TcpProxy;
use berth_testkit::registry::{DockerRegistry, RegistryOptions, TokenAuth};
use serde_json::{json, Value};

const BERTH: &str = env!("CARGO_BIN_EXE_berth");
const ADMIN: &str = "e2e-admin-token-0123456789abcdef";
const SERVICES: [&str; 5] = ["registry", "space", "replication", "scan", "gateway"];

struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Deployment {
    processes: Vec<Process>,
    /// Every process reaches PostgreSQL, RabbitMQ and Redis through these: cutting one is an
    /// outage of that dependency for the whole deployment.
    postgres: TcpProxy,
    rabbit: TcpProxy,
    redis: TcpProxy,
    /// The two ports of each service.
    ports: HashMap<&'static str, [u16; 2]>,
    gateways: Vec<String>,
    http: reqwest::Client,
    dir: tempfile::TempDir,
    _databases: Vec<TestDatabase>,
}

impl Deployment {
    /// Starts two processes of every service at once.
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        berth_auth::registry_token::TokenSigner::load_or_create(dir.path(), "berth").unwrap();
        let ports: HashMap<&str, [u16; 2]> = SERVICES
            .iter()
            .map(|s| (*s, [berth_testkit::free_port(), berth_testkit::free_port()]))
            .collect();
        let list = |s: &str| {
            ports[s]
                .iter()
                .map(|p| format!("http://127.0.0.1:{p}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut databases = Vec::new();
        let mut urls = HashMap::new();
        for s in SERVICES {
            let db = TestDatabase::postgres().await.unwrap();
            urls.insert(s, db.url.clone());
            databases.push(db);
        }
        let postgres = TcpProxy::start("127.0.0.1:5432".parse().unwrap())
            .await
            .unwrap();
        let rabbit = TcpProxy::start("127.0.0.1:5672".parse().unwrap())
            .await
            .unwrap();
        let redis = TcpProxy::start("127.0.0.1:6379".parse().unwrap())
            .await
            .unwrap();
        let namespace = berth_testkit::unique("e2e");
        let internal = berth_auth::tokens::generate();
        let secret = berth_auth::sealed::SecretBox::generate_key();
        let mut processes = Vec::new();
        for s in SERVICES {
            for (i, port) in ports[s].iter().enumerate() {
                let name = format!("{s}-{i}");
                let log = dir.path().join(format!("{name}.log"));
                let child = Command::new(BERTH)
                    .args(["serve", s])
                    .env("BERTH_LISTEN", format!("127.0.0.1:{port}"))
                    .env("BERTH_DATA_DIR", dir.path().join(&name))
                    .env(
                        "BERTH_DATABASE_URL",
                        urls[s].replacen(
                            "127.0.0.1:5432",
                            &format!("127.0.0.1:{}", postgres.port),
                            1,
                        ),
                    )
                    .env(
                        "BERTH_BUS_URL",
                        format!("amqp://guest:guest@127.0.0.1:{}/%2f", rabbit.port),
                    )
                    .env(
                        "BERTH_CACHE_URL",
                        format!("redis://127.0.0.1:{}", redis.port),
                    )
                    .env("BERTH_NAMESPACE", &namespace)
                    .env("BERTH_INTERNAL_TOKEN", &internal)
                    .env("BERTH_ADMIN_TOKEN", ADMIN)
                    .env("BERTH_SECRET_KEY", &secret)
                    .env(
                        "BERTH_TOKEN_SIGNING_KEY_FILE",
                        dir.path().join("token-key.pem"),
                    )
                    .env("BERTH_REGISTRY_ADDR", list("registry"))
                    .env("BERTH_SPACE_ADDR", list("space"))
                    .env("BERTH_REPLICATION_ADDR", list("replication"))
                    .env("BERTH_SCAN_ADDR", list("scan"))
                    .env("BERTH_REPLICATION_WORKERS", "4")
                    .env("BERTH_REPLICA", &name)
                    .env("BERTH_LOG_FORMAT", "plain")
                    .stdin(Stdio::null())
                    .stdout(std::fs::File::create(&log).unwrap())
                    .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
                    .spawn()
                    .unwrap();
                processes.push(Process { name, child, log });
            }
        }
        let d = Self {
            processes,
            postgres,
            rabbit,
            redis,
            ports: ports.clone(),
            gateways: ports["gateway"]
                .iter()
                .map(|p| format!("http://127.0.0.1:{p}"))
                .collect(),
            http: reqwest::Client::new(),
            dir,
            _databases: databases,
        };
        for g in d.gateways.clone() {
            let ready = berth_testkit::wait_until(Duration::from_secs(90), || {
                let (http, g) = (d.http.clone(), g.clone());
                async move {
                    http.get(format!("{g}/readyz"))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                }
            })
            .await;
            assert!(ready, "gateway {g} did not get ready:\n{}", d.logs());
        }
        d
    }

    /// Waits (at most `within`) until both gateways' readiness answers `status`.
    async fn readiness_becomes(&self, status: u16, within: Duration) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let mut bodies = Vec::new();
            for g in &self.gateways {
                let r = self
                    .http
                    .get(format!("{g}/readyz"))
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await
                    .unwrap();
                bodies.push((
                    r.status().as_u16(),
                    r.json::<Value>().await.unwrap_or_default(),
                ));
            }
            if bodies.iter().all(|(s, _)| *s == status) {
                return bodies.into_iter().map(|(_, b)| b).collect();
            }
            assert!(
                started.elapsed() < within,
                "readiness not {status} after {within:?}: {bodies:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Cuts `proxy` (one dependency, for every process): both gateways' readiness turns 503
    /// with `dependency` unavailable within 5 s.
    async fn cut(&self, proxy: &TcpProxy, dependency: &str) {
        proxy.cut();
        let bodies = self.readiness_becomes(503, Duration::from_secs(5)).await;
        assert!(
            bodies.iter().all(|b| b[dependency] == "unavailable"),
            "{bodies:?}"
        );
    }

    /// Restores `proxy` after `pause`: both gateways ready again within `within`.
    async fn restore(&self, proxy: &TcpProxy, pause: Duration, within: Duration) {
        tokio::time::sleep(pause).await;
        proxy.restore().await.unwrap();
        self.readiness_becomes(200, within).await;
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for p in &self.processes {
            for file in [p.log.clone(), p.log.with_extension("err")] {
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                out.push_str(&format!("--- {} ({})\n", p.name, file.display()));
                for line in tail.into_iter().rev() {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out
    }

    /// Calls gateway `g` as the admin.
    async fn call(
        &self,
        g: usize,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.gateways[g]))
            .bearer_auth(ADMIN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn ok(
        &self,
        g: usize,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, v) = self.call(g, method, path, body).await;
        assert!(status < 300, "{path}: {status} {v}");
        v
    }

    /// Execution `id` as gateway `g` answers it.
    async fn execution(&self, g: usize, id: &str) -> Value {
        let path = format!("/api/v1/replication/executions/{id}");
        self.call(g, reqwest::Method::GET, &path, None).await.1
    }

    /// Waits for execution `id` to end (asking gateway `g`).
    async fn finished(&self, g: usize, id: &str, within: Duration) -> Value {
        let started = Instant::now();
        loop {
            let e = self.execution(g, id).await;
            if e["status"] != "running" && e["status"] != "pending" && !e.is_null() {
                return e;
            }
            assert!(
                started.elapsed() < within,
                "execution {id} still {e} after {within:?}:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Creates a manual policy copying `apps` at `src` into `space` at `dst` (at most
    /// `bandwidth` bytes a second when given) through gateway `g`, and runs it through the
    /// other gateway; answers the execution's id.
    async fn copy_apps(&self, g: usize, name: &str, space: &str, bandwidth: Option<u64>) -> String {
        let mut policy = json!({"name": name, "source": {"registry": "src", "space": "apps"},
                                "destination": {"registry": "dst", "space": space},
                                "trigger": {"kind": "manual"}});
        if let Some(b) = bandwidth {
            policy["bandwidth_limit"] = json!(b);
        }
        self.ok(
            g,
            reqwest::Method::POST,
            "/api/v1/replication/policies",
            Some(policy),
        )
        .await;
        let run = self
            .ok(
                1 - g,
                reqwest::Method::POST,
                &format!("/api/v1/replication/policies/{name}/run"),
                None,
            )
            .await;
        run["id"].as_str().unwrap().to_string()
    }

    /// Waits until execution `id` has `n` tasks succeeded, still running.
    async fn progressed(&self, id: &str, n: u64) {
        let started = Instant::now();
        loop {
            let e = self.execution(0, id).await;
            if count(&e, "succeeded") >= n {
                return;
            }
            assert!(
                e["status"] == "running" || e["status"] == "pending",
                "ended before {n} tasks: {e}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no progress: {e}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for execution `id` to end, and checks it copied all of `data` into `space` at
    /// `destination`, digest for digest.
    async fn copied_all(
        &self,
        id: &str,
        data: &[(String, String, Image)],
        destination: &DockerRegistry,
        space: &str,
    ) {
        let done = self.finished(1, id, Duration::from_secs(240)).await;
        assert_eq!(
            (
                done["status"].as_str(),
                count(&done, "succeeded") + count(&done, "skipped"),
                count(&done, "failed")
            ),
            (Some("succeeded"), data.len() as u64, 0),
            "{done}"
        );
        let dst = berth_oci::Client::new(&destination.url(), None, Default::default()).unwrap();
        for (repo, tag, image) in data {
            let copied = repo.replacen("apps/", &format!("{space}/"), 1);
            assert_eq!(
                dst.manifest(&copied, tag).await.unwrap().digest,
                image.manifest.digest,
                "{copied}:{tag}"
            );
        }
    }

    async fn tasks(&self, g: usize, id: &str) -> Vec<Value> {
        let v = self
            .ok(
                g,
                reqwest::Method::GET,
                &format!("/api/v1/replication/executions/{id}/tasks?page_size=1000"),
                None,
            )
            .await;
        v["items"].as_array().unwrap().clone()
    }

    fn kill(&mut self, name: &str) {
        let p = self
            .processes
            .iter_mut()
            .find(|p| p.name == name)
            .expect("a process of that name");
        p.child.kill().unwrap();
        p.child.wait().unwrap();
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn count(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn two_replicas_of_every_service_share_work_without_doing_it_twice() {
    use reqwest::Method;
    let mut d = Deployment::start().await;
    let source = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let destination = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    for (name, url) in [("src", source.url()), ("dst", destination.url())] {
        d.ok(
            0,
            Method::POST,
            "/api/v1/registries",
            Some(json!({"name": name, "kind": "distribution", "url": url})),
        )
        .await;
    }
    let data = shared_layer_dataset("apps", 100, 3);
    let target = Target {
        host: source.host(),
        credential: None,
    };
    push_dataset(&data, &target).await.unwrap();

    // 300 tags sharing layers: every task runs exactly once, spread over both replicas (and
    // the destination equals the source; `succeeded` alone, as nothing was there before).
    let id = d.copy_apps(1, "dr", "dr", None).await;
    d.copied_all(&id, &data, &destination, "dr").await;
    let tasks = d.tasks(0, &id).await;
    assert!(
        tasks.iter().all(|t| t["status"] == "succeeded"),
        "{tasks:?}"
    );
    let twice: Vec<&Value> = tasks.iter().filter(|t| t["attempts"] != 1).collect();
    assert!(twice.is_empty(), "tasks run more than once: {twice:?}");
    let workers: HashSet<&str> = tasks.iter().filter_map(|t| t["worker"].as_str()).collect();
    assert_eq!(
        workers,
        HashSet::from(["replication-0", "replication-1"]),
        "both replicas ran tasks, and each task names its replica"
    );

    // Every process serves its metrics; a replica counts the tasks it ran.
    for s in SERVICES {
        for port in d.ports[s] {
            let text = d
                .http
                .get(format!("http://127.0.0.1:{port}/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if s == "replication" {
                assert!(
                    text.contains("berth_replication_tasks_total"),
                    "{s} {port}: {text}"
                );
            }
        }
    }

    // A replica killed mid-run: the execution completes, the destination equals the source.
    let id = d.copy_apps(0, "dr2", "again", Some(4_000_000)).await;
    d.progressed(&id, 20).await;
    d.kill("replication-0");
    d.copied_all(&id, &data, &destination, "again").await;

    // A per-second cron fires once per tick across the replicas left, for a minute.
    d.ok(
        1,
        Method::POST,
        "/api/v1/replication/policies",
        Some(json!({"name": "tick", "source": {"registry": "src", "space": "apps"},
                    "destination": {"registry": "dst", "space": "tick"},
                    "filters": [{"kind": "repository", "pattern": "apps/app-0"}, {"kind": "tag", "pattern": "v1"}],
                    "trigger": {"kind": "cron", "cron": "* * * * * *"}})),
    )
    .await;
    let window = Instant::now();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let list = d
        .ok(
            0,
            Method::GET,
            "/api/v1/replication/executions?policy=tick&page_size=1000",
            None,
        )
        .await;
    d.ok(0, Method::DELETE, "/api/v1/replication/policies/tick", None)
        .await;
    let runs = list["items"].as_array().unwrap();
    // One execution per tick for a minute (the policy was created just before the window
    // opened); a tick fired by both replicas would double the count, a missed tick lower it.
    let ticks = window.elapsed().as_secs();
    assert!(
        runs.len() as u64 >= ticks - 2 && runs.len() as u64 <= ticks + 2,
        "{} cron executions in {ticks} s: {runs:?}",
        runs.len()
    );
    assert!(runs.iter().all(|e| e["trigger"] == "cron"), "{runs:?}");

    // Registries behind Berth's token service trust tokens from either gateway.
    let cert = d
        .http
        .get(format!("{}/auth/certificate", d.gateways[1]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    std::fs::write(d.dir().join("berth.pem"), &cert).unwrap();
    let token = d
        .ok(
            1,
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"principal": "admin", "ttl_seconds": 3600})),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let image = Image::new(&[(77, 3_000)], "amd64");
    let mut token_registries = Vec::new();
    for (g, name) in [(0, "tok-a"), (1, "tok-b")] {
        let reg = DockerRegistry::start(RegistryOptions {
            token: Some(TokenAuth {
                realm: format!("{}/auth/token", d.gateways[g]),
                service: name.into(),
                issuer: "berth".into(),
                rootcertbundle: d.dir().join("berth.pem"),
            }),
            ..Default::default()
        })
        .await
        .unwrap();
        d.ok(
            g,
            Method::POST,
            "/api/v1/registries",
            Some(json!({"name": name, "kind": "distribution", "url": reg.url(), "token_service": "berth"})),
        )
        .await;
        push_image(
            &image,
            &Target {
                host: reg.host(),
                credential: Some(("admin".into(), token.clone())),
            },
            "lib/app",
            "v1",
        )
        .await
        .unwrap_or_else(|e| panic!("skopeo through gateway {g}'s token service: {e}"));
        token_registries.push(reg);
    }

    // An unbind at one gateway is refused at the other within a second.
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/registries",
            Some(
                json!({"name": "dist", "kind": "oci", "url": "http://127.0.0.1:1", "verify": false, "token_service": "berth"}),
            ),
        ),
        (
            Method::POST,
            "/api/v1/workspaces",
            Some(json!({"name": "blue"})),
        ),
        (
            Method::PUT,
            "/api/v1/workspaces/blue/namespaces/blue-ns",
            None,
        ),
        (
            Method::POST,
            "/api/v1/registries/dist/spaces",
            Some(json!({"name": "priv"})),
        ),
        (
            Method::PUT,
            "/api/v1/registries/dist/spaces/priv/bindings/blue",
            None,
        ),
    ] {
        d.ok(0, method, path, body).await;
    }
    let check = json!({"namespace": "blue-ns", "image": "127.0.0.1:1/priv/app:v1"});
    let allowed = |v: &Value| v["allowed"].as_bool().unwrap();
    for g in [0, 1] {
        let v = d
            .ok(g, Method::POST, "/api/v1/access/check", Some(check.clone()))
            .await;
        assert!(allowed(&v), "gateway {g}: {v}");
    }
    let (status, _) = d
        .call(
            0,
            Method::DELETE,
            "/api/v1/registries/dist/spaces/priv/bindings/blue",
            None,
        )
        .await;
    assert_eq!(status, 204);
    let unbound = Instant::now();
    loop {
        let v = d
            .ok(1, Method::POST, "/api/v1/access/check", Some(check.clone()))
            .await;
        if !allowed(&v) {
            break;
        }
        assert!(
            unbound.elapsed() < Duration::from_secs(1),
            "gateway 1 still allows a second after the unbind at gateway 0"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Each dependency cut in turn, for the whole deployment: both gateways' readiness turns
    // 503 naming it within 5 s and 200 again after; a run across the broker outage loses
    // nothing; access checks answer while the cache is gone.
    let id = d.copy_apps(0, "cut", "cut", Some(2_000_000)).await;
    d.progressed(&id, 10).await;
    d.cut(&d.rabbit, "bus").await;
    d.restore(&d.rabbit, Duration::from_secs(5), Duration::from_secs(15))
        .await;
    // Nothing lost across the broker outage.
    d.copied_all(&id, &data, &destination, "cut").await;

    d.cut(&d.redis, "cache").await;
    let asked = Instant::now();
    let v = d
        .ok(0, Method::POST, "/api/v1/access/check", Some(check.clone()))
        .await;
    assert!(!allowed(&v), "the unbind holds without the cache: {v}");
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "{:?}",
        asked.elapsed()
    );
    d.restore(&d.redis, Duration::from_secs(8), Duration::from_secs(8))
        .await;

    d.cut(&d.postgres, "database").await;
    d.restore(&d.postgres, Duration::from_secs(3), Duration::from_secs(20))
        .await;
}
