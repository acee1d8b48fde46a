//! End to end through the real `berth` binary: `berth up` in a temp dir, a real docker-registry
//! with htpasswd auth holding images pushed by skopeo, the CLI and the HTTP API.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use berth_testkit::image::{push_image, push_index, storage_bytes, Image, Index, Target};
use berth_testkit::registry::{DockerRegistry, RegistryOptions};
use serde_json::{json, Value};

const USER: &str = "robot";
const PASSWORD: &str = "Very-Secret-Registry-Password-42";
const BERTH: &str = env!("CARGO_BIN_EXE_berth");

struct Berth {
    child: Child,
    url: String,
    token: String,
    dir: tempfile::TempDir,
    http: reqwest::Client,
    /// Every API response body, to search for secrets.
    seen: std::sync::Mutex<Vec<String>>,
}

impl Drop for Berth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Berth {
    async fn up() -> Self {
        Self::up_in(tempfile::tempdir().unwrap()).await
    }

    /// Kills the process (SIGKILL: no drain, nothing flushed) and starts again on its data.
    async fn kill_and_restart(mut self) -> Self {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        Self::up_in(dir).await
    }

    async fn up_in(dir: tempfile::TempDir) -> Self {
        let first_start = !dir.path().join("data/admin-token").exists();
        let port = berth_testkit::free_port();
        let child = Command::new(BERTH)
            .args(["up", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("BERTH_HEALTH_INTERVAL_SECS", "1")
            .env_remove("BERTH_ADMIN_TOKEN")
            .env_remove("BERTH_DATABASE_URL")
            .env_remove("BERTH_BUS_URL")
            .env_remove("BERTH_CACHE_URL")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("stdout")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
            .spawn()
            .unwrap();
        let stdout = dir.path().join("stdout");
        let ready = berth_testkit::wait_until(Duration::from_secs(60), || {
            let stdout = stdout.clone();
            async move {
                std::fs::read_to_string(stdout)
                    .unwrap_or_default()
                    .contains("ready")
            }
        })
        .await;
        let printed = std::fs::read_to_string(&stdout).unwrap_or_default();
        assert!(
            ready,
            "berth up did not get ready: {printed}\n{}",
            std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default()
        );
        let token = std::fs::read_to_string(dir.path().join("data/admin-token"))
            .unwrap()
            .trim()
            .to_string();
        assert_eq!(
            printed.contains(&token),
            first_start,
            "berth up prints the admin token it generated, on its first start only"
        );
        assert!(
            printed.contains(&format!("127.0.0.1:{port}")),
            "berth up prints where it listens"
        );
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            token,
            dir,
            http: reqwest::Client::new(),
            seen: Default::default(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        self.seen.lock().unwrap().push(text.clone());
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    fn cli(&self, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
        let mut child = Command::new(BERTH)
            .args(args)
            .env("BERTH_SERVER", &self.url)
            .env("BERTH_TOKEN", &self.token)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let (o, e) = (
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        );
        self.seen.lock().unwrap().push(o.clone());
        (out.status.success(), o, e)
    }

    async fn health(&self, name: &str) -> String {
        let (_, r) = self.get(&format!("/api/v1/registries/{name}")).await;
        r["health"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Files under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn berth_up_integrates_a_registry_and_tracks_its_health_and_storage() {
    let mut reg = DockerRegistry::start(RegistryOptions {
        htpasswd: Some((USER.into(), PASSWORD.into())),
        ..Default::default()
    })
    .await
    .unwrap();
    let target = Target {
        host: reg.host(),
        credential: Some((USER.into(), PASSWORD.into())),
    };

    // What we push, and so what the overview must say, computed from our own bytes.
    let app1 = Image::new(&[(1, 40_000), (2, 10_000)], "amd64");
    let app2 = Image::new(&[(1, 40_000), (3, 12_000)], "amd64");
    let tool = Image::new(&[(4, 5_000)], "amd64");
    let multi = Index::new(vec![
        Image::new(&[(1, 40_000), (5, 7_000)], "amd64"),
        Image::new(&[(6, 9_000)], "arm64"),
    ]);
    push_image(&app1, &target, "team-a/app1", "v1")
        .await
        .unwrap();
    push_image(&app1, &target, "team-a/app1", "latest")
        .await
        .unwrap();
    push_image(&app2, &target, "team-a/app2", "v1")
        .await
        .unwrap();
    push_image(&tool, &target, "tool", "v1").await.unwrap();
    push_index(&multi, &target, "team-b/multi", "v1")
        .await
        .unwrap();
    let expected_storage = storage_bytes(&[&app1, &app2, &tool], &[&multi]);

    let berth = Berth::up().await;
    assert_eq!(berth.get("/readyz").await.0, 200);

    // Integrate with the CLI; the password goes in on stdin.
    let (ok, out, err) = berth.cli(
        &[
            "registry",
            "add",
            "dist",
            "--kind",
            "distribution",
            "--url",
            &reg.url(),
            "--username",
            USER,
            "--password-stdin",
        ],
        Some(PASSWORD),
    );
    assert!(ok, "registry add failed: {out} {err}");
    assert!(out.contains("healthy"), "{out}");
    let (ok, out, _) = berth.cli(&["registry", "get", "dist", "--output", "json"], None);
    assert!(ok);
    let got: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(got["health"]["status"], "healthy");
    assert_eq!(got["kind"], "distribution");
    assert_eq!(got["scope"], "platform");
    assert!(got.get("credential").is_none() && got.get("password").is_none());

    // The overview equals what we pushed.
    let (status, o) = berth.get("/api/v1/registries/dist/overview").await;
    assert_eq!(status, 200, "{o}");
    assert_eq!(
        o,
        json!({"spaces": 2, "repositories": 4, "artifacts": 4, "storage_bytes": expected_storage})
    );
    let (_, p) = berth.get("/api/v1/overview").await;
    assert_eq!(p["storage_bytes"], expected_storage);
    assert_eq!(p["registries"], 1);
    let (ok, out, err) = berth.cli(&["space", "import", "dist"], None);
    assert!(
        ok && out.contains("team-a") && out.contains("team-b") && out.contains("private"),
        "{out}{err}"
    );
    let (_, spaces) = berth.get("/api/v1/registries/dist/spaces").await;
    assert_eq!(spaces["items"].as_array().unwrap().len(), 2, "{spaces}");
    let (ok, out, _) = berth.cli(&["repo", "list", "dist"], None);
    assert!(
        ok && out.contains("team-a/app1") && out.contains("team-b/multi"),
        "{out}"
    );
    let (_, arts) = berth
        .get("/api/v1/registries/dist/repositories/team-b/multi/artifacts")
        .await;
    assert_eq!(arts["items"][0]["digest"], multi.manifest.digest);
    assert_eq!(
        arts["items"][0]["platforms"],
        json!(["linux/amd64", "linux/arm64"])
    );

    // A wrong password: a clear 4xx naming authentication; an unreachable URL: a clear error.
    let bad = json!({"name": "wrong", "kind": "distribution", "url": reg.url(), "credential": {"username": USER, "password": "nope-wrong"}});
    let (status, e) = berth
        .call(reqwest::Method::POST, "/api/v1/registries", Some(bad))
        .await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["error"]["field"], "credential");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("authentication"),
        "{e}"
    );
    let port = berth_testkit::free_port();
    let gone = json!({"name": "gone", "kind": "oci", "url": format!("http://127.0.0.1:{port}")});
    let (status, e) = berth
        .call(reqwest::Method::POST, "/api/v1/registries", Some(gone))
        .await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["error"]["field"], "url");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("refused"),
        "{e}"
    );
    // TLS spoken to a plain-HTTP registry, and a URL that is no registry at all.
    let tls = json!({"name": "tls", "kind": "distribution", "url": reg.url().replace("http://", "https://")});
    let (status, e) = berth
        .call(reqwest::Method::POST, "/api/v1/registries", Some(tls))
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (400, Some("url")),
        "{e}"
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("TLS"),
        "{e}"
    );
    let not_registry = json!({"name": "nr", "kind": "distribution", "url": berth.url});
    let (status, e) = berth
        .call(
            reqwest::Method::POST,
            "/api/v1/registries",
            Some(not_registry),
        )
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (400, Some("url")),
        "{e}"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a container registry"),
        "{e}"
    );
    let (_, list) = berth.get("/api/v1/registries").await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "failed creates left nothing behind: {list}"
    );

    // Registry down → unhealthy within two check intervals (1 s each); back → healthy.
    reg.stop();
    let down = berth_testkit::wait_until(Duration::from_millis(2500), || async {
        berth.health("dist").await == "unhealthy"
    })
    .await;
    assert!(down, "not unhealthy within two intervals");
    // The check that caught it going down may have seen the connection close mid-answer; the
    // next ones find the port closed.
    let refused = berth_testkit::wait_until(Duration::from_millis(2500), || async {
        let (_, r) = berth.get("/api/v1/registries/dist").await;
        r["health"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("refused"))
    })
    .await;
    let (_, r) = berth.get("/api/v1/registries/dist").await;
    assert!(refused, "{r}");
    reg.restart().await.unwrap();
    let up = berth_testkit::wait_until(Duration::from_millis(2500), || async {
        berth.health("dist").await == "healthy"
    })
    .await;
    assert!(up, "not healthy again within two intervals");

    // Every mutation is audited.
    let (_, audit) = berth.get("/api/v1/audit-events").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"registry.create"), "{audit}");

    // The password appears in no API response, no log line and no stored file in plaintext.
    let seen = berth.seen.lock().unwrap().join("\n");
    assert!(!seen.contains(PASSWORD), "password in an API response");
    for f in files(berth.dir.path()) {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert!(
            !contains(&bytes, PASSWORD.as_bytes()),
            "password in plaintext in {}",
            f.display()
        );
    }
    let stderr = std::fs::read_to_string(berth.dir.path().join("stderr")).unwrap();
    assert!(
        stderr.contains("registry integrated"),
        "logs are written: {stderr}"
    );
}

/// `berth … | head -1`: the reader goes away before the table is written; the command ends
/// quietly as one killed by SIGPIPE would (141), not with a panic (101).
#[tokio::test]
async fn a_closed_stdout_ends_the_command_quietly() {
    let berth = Berth::up().await;
    for args in [
        &["registry", "list"][..],
        &["sync", "executions"][..],
        &["completion", "bash"][..],
    ] {
        let mut child = Command::new(BERTH)
            .args(args)
            .env("BERTH_SERVER", &berth.url)
            .env("BERTH_TOKEN", &berth.token)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// `berth completion bash|zsh|fish` prints a script for that shell; an unknown shell is refused.
#[tokio::test]
async fn completion_scripts_for_each_shell() {
    for (shell, mark) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef berth"),
        ("fish", "complete -c berth"),
    ] {
        let out = Command::new(BERTH)
            .args(["completion", shell])
            .output()
            .unwrap();
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{shell}");
        assert!(script.contains(mark), "{shell}: {script}");
        assert!(script.contains("sync"), "{shell}: subcommands completed");
    }
    let out = Command::new(BERTH)
        .args(["completion", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn berth_up_refuses_bad_configuration_with_exit_64() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BERTH)
        .args(["up", "--data-dir"])
        .arg(dir.path())
        .args(["--listen", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("BERTH_LISTEN"));
    let out = Command::new(BERTH)
        .args(["up", "--data-dir"])
        .arg(dir.path())
        .env("BERTH_DATABASE_URL", "mysql://nope")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("BERTH_DATABASE_URL"));
}

#[tokio::test]
async fn berth_up_exports_traces_over_otlp_and_stops_gracefully_on_sigterm() {
    // A collector that counts trace exports.
    let posts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = posts.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let counter = counter.clone();
            async move {
                if !body.is_empty() {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let port = berth_testkit::free_port();
    let mut child = Command::new(BERTH)
        .args(["up", "--data-dir"])
        .arg(dir.path())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector)
        .env("BERTH_ADMIN_TOKEN", "chosen-admin-token-1234567890")
        .stdout(std::fs::File::create(dir.path().join("out")).unwrap())
        .stderr(std::fs::File::create(dir.path().join("err")).unwrap())
        .spawn()
        .unwrap();
    let out = dir.path().join("out");
    assert!(
        berth_testkit::wait_until(Duration::from_secs(30), || {
            let out = out.clone();
            async move {
                std::fs::read_to_string(out)
                    .unwrap_or_default()
                    .contains("ready")
            }
        })
        .await
    );
    let printed = std::fs::read_to_string(&out).unwrap();
    assert!(
        !printed.contains("chosen-admin-token"),
        "a configured token is not printed"
    );
    let http = reqwest::Client::new();
    let r = http
        .get(format!("http://127.0.0.1:{port}/api/v1/registries"))
        .bearer_auth("chosen-admin-token-1234567890")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "BERTH_ADMIN_TOKEN is the bootstrap admin token"
    );

    // SIGTERM: spans are flushed and the process exits cleanly, well within the drain limit.
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let exited = berth_testkit::wait_until(Duration::from_secs(25), || {
        let done = matches!(child.try_wait(), Ok(Some(_)));
        async move { done }
    })
    .await;
    assert!(exited, "berth up did not stop on SIGTERM");
    assert!(child.wait().unwrap().success());
    assert!(
        berth_testkit::wait_until(Duration::from_secs(5), || {
            let n = posts.load(std::sync::atomic::Ordering::SeqCst);
            async move { n > 0 }
        })
        .await,
        "no trace reached the OTLP endpoint"
    );
}

#[tokio::test]
async fn berth_up_runs_on_postgres_rabbitmq_and_redis_and_keeps_its_state() {
    let db = berth_testkit::db::TestDatabase::postgres().await.unwrap();
    let namespace = berth_testkit::unique("up");
    let dir = tempfile::tempdir().unwrap();
    let port = berth_testkit::free_port();
    let start = |log: &str| {
        Command::new(BERTH)
            .args(["up", "--data-dir"])
            .arg(dir.path())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("BERTH_DATABASE_URL", &db.url)
            .env("BERTH_BUS_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")
            .env("BERTH_CACHE_URL", "redis://127.0.0.1:6379")
            .env("BERTH_NAMESPACE", &namespace)
            .env("BERTH_ADMIN_TOKEN", "postgres-admin-token-123456")
            .stdout(std::fs::File::create(dir.path().join(log)).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}");
    let ready = |http: reqwest::Client, url: String| async move {
        berth_testkit::wait_until(Duration::from_secs(30), || {
            let (http, url) = (http.clone(), url.clone());
            async move {
                http.get(format!("{url}/readyz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await
    };
    let mut first = start("first");
    assert!(
        ready(http.clone(), url.clone()).await,
        "not ready on PostgreSQL/RabbitMQ/Redis"
    );
    let body = json!({"name": "kept", "kind": "oci", "url": "http://127.0.0.1:1", "verify": false});
    let r = http
        .post(format!("{url}/api/v1/registries"))
        .bearer_auth("postgres-admin-token-123456")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let _ = first.kill();
    let _ = first.wait();

    let mut second = start("second");
    assert!(ready(http.clone(), url.clone()).await);
    let r: Value = http
        .get(format!("{url}/api/v1/registries/kept"))
        .bearer_auth("postgres-admin-token-123456")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["name"], "kept", "state survives a restart: {r}");
    let _ = second.kill();
    let _ = second.wait();
    assert!(
        !dir.path().join("registry.db").exists(),
        "no SQLite file when BERTH_DATABASE_URL is set"
    );
}

#[tokio::test]
async fn tenancy_through_the_cli() {
    let berth = Berth::up().await;
    let (ok, out, err) = berth.cli(
        &[
            "registry",
            "add",
            "dist",
            "--kind",
            "oci",
            "--url",
            "http://127.0.0.1:9",
            "--no-verify",
        ],
        None,
    );
    assert!(ok, "{out}{err}");
    for args in [
        vec!["workspace", "create", "blue"],
        vec!["workspace", "add-namespace", "blue", "blue-ns"],
        vec![
            "workspace",
            "set-member",
            "blue",
            "alice",
            "workspace-viewer",
        ],
        vec!["space", "create", "dist/team"],
        vec!["space", "create", "dist/open", "--public"],
    ] {
        let (ok, out, err) = berth.cli(&args, None);
        assert!(ok, "{args:?}: {out}{err}");
    }
    let check = |berth: &Berth| {
        let (ok, out, err) = berth.cli(
            &[
                "access",
                "check",
                "blue-ns",
                "127.0.0.1:9/team/app:v1",
                "-o",
                "json",
            ],
            None,
        );
        let answer = serde_json::from_str::<Value>(&out).unwrap();
        // Like `kubectl auth can-i`: the answer printed, and the exit status says it.
        assert_eq!(ok, answer["allowed"] == true, "{out}{err}");
        assert!(
            !err.contains("berth:"),
            "a denial is an answer, not an error: {err}"
        );
        answer
    };
    assert_eq!(check(&berth)["allowed"], false);
    let (ok, out, _) = berth.cli(&["bind", "dist/team", "blue"], None);
    assert!(ok && out.contains("bound"), "{out}");
    assert_eq!(check(&berth)["allowed"], true);
    let (ok, out, _) = berth.cli(&["space", "list", "dist"], None);
    assert!(
        ok && out.contains("team") && out.contains("blue") && out.contains("public"),
        "{out}"
    );
    let (ok, out, _) = berth.cli(&["workspace", "get", "blue"], None);
    assert!(ok && out.contains("blue-ns"), "{out}");
    let (ok, out, _) = berth.cli(&["namespace", "pull-secret", "blue-ns"], None);
    assert!(ok, "{out}");
    let secret: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
    // Errors are clear and exit non-zero.
    let (ok, _, err) = berth.cli(&["workspace", "rm", "blue"], None);
    assert!(
        !ok && err.contains("unbind them first") && err.contains("HTTP 412"),
        "{err}"
    );
    // A public space may be bound too (for push); its bindings outlive visibility changes.
    let (ok, out, _) = berth.cli(&["bind", "dist/open", "blue", "--push"], None);
    assert!(ok && out.contains("pull, push"), "{out}");
    let (ok, out, _) = berth.cli(&["unbind", "dist/open", "blue"], None);
    assert!(ok, "{out}");
    let (ok, out, _) = berth.cli(&["unbind", "dist/team", "blue"], None);
    assert!(ok, "{out}");
    assert_eq!(check(&berth)["allowed"], false);
}

#[tokio::test]
async fn replication_through_the_fixed_contract() {
    let source = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let destination = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let target = Target {
        host: source.host(),
        credential: None,
    };
    let image = Image::new(&[(71, 20_000)], "amd64");
    push_image(&image, &target, "apps/web", "1.0")
        .await
        .unwrap();
    push_image(&image, &target, "apps/web", "1.1")
        .await
        .unwrap();
    let berth = Berth::up().await;
    for (name, url) in [("src", source.url()), ("dst", destination.url())] {
        let (status, body) = berth
            .call(
                reqwest::Method::POST,
                "/api/v1/registries",
                Some(json!({"name": name, "kind": "distribution", "url": url})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    // A bad policy names the field and creates nothing.
    let bad = json!({"name": "p", "source": {"registry": "nope"}, "destination": {"registry": "dst"}, "filters": [], "trigger": {"kind": "manual"}, "override": false});
    let (status, e) = berth
        .call(
            reqwest::Method::POST,
            "/api/v1/replication/policies",
            Some(bad),
        )
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (400, Some("source.registry")),
        "{e}"
    );

    let policy = json!({
        "name": "dr",
        "source": {"registry": "src", "space": "apps"},
        "destination": {"registry": "dst"},
        "filters": [{"kind": "tag", "pattern": "1.*", "exclude": false}],
        "trigger": {"kind": "manual"},
        "override": true
    });
    let (status, p) = berth
        .call(
            reqwest::Method::POST,
            "/api/v1/replication/policies",
            Some(policy),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["source"], json!({"registry": "src", "space": "apps"}));
    let first = run_policy(&berth, "dr").await;
    let (_, tasks) = berth
        .get(&format!(
            "/api/v1/replication/executions/{}/tasks",
            first["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        (
            first["status"].as_str(),
            first["total"].as_u64(),
            first["succeeded"].as_u64()
        ),
        (Some("succeeded"), Some(2), Some(2)),
        "{first} {tasks}"
    );
    let dst = berth_oci::Client::new(&destination.url(), None, Default::default()).unwrap();
    assert_eq!(
        dst.manifest("apps/web", "1.1").await.unwrap().digest,
        image.manifest.digest
    );
    let second = run_policy(&berth, "dr").await;
    assert_eq!(
        (second["bytes"].as_u64(), second["skipped"].as_u64()),
        (Some(0), Some(2)),
        "a second run copies 0 bytes: {second}"
    );

    // The same through the CLI: a policy with a flattened destination, a watched run.
    let (ok, out, err) = berth.cli(
        &[
            "sync",
            "policy",
            "create",
            "flat",
            "--from",
            "src/apps",
            "--to",
            "dst/flat",
            "--tag",
            "1.1",
            "--replace-count",
            "-1",
            "-o",
            "json",
        ],
        None,
    );
    assert!(ok, "{out}{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["destination"]["replace_count"], -1, "{out}");
    let (ok, out, err) = berth.cli(&["sync", "run", "flat", "--watch"], None);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("succeeded in") && out.contains(": 1 copied, 0 skipped, 0 failed of 1"),
        "{out}"
    );
    assert_eq!(
        dst.manifest("flat/web", "1.1").await.unwrap().digest,
        image.manifest.digest
    );
    let (ok, out, _) = berth.cli(&["sync", "executions", "--policy", "flat"], None);
    assert!(
        ok && out.contains("succeeded") && out.contains("manual"),
        "{out}"
    );
    let (ok, out, _) = berth.cli(
        &[
            "sync",
            "policy",
            "update",
            "flat",
            "--disable",
            "-o",
            "json",
        ],
        None,
    );
    assert!(ok, "{out}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["enabled"],
        false
    );
    let (ok, _, err) = berth.cli(
        &["sync", "policy", "update", "flat", "--cron", "nope"],
        None,
    );
    assert!(!ok && err.contains("trigger.cron"), "{err}");
    let (ok, out, _) = berth.cli(&["sync", "policy", "rm", "flat"], None);
    assert!(ok, "{out}");
}

/// Runs `policy` and waits for its execution to end.
async fn run_policy(berth: &Berth, policy: &str) -> Value {
    let (status, e) = berth
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/replication/policies/{policy}/run"),
            None,
        )
        .await;
    assert_eq!(status, 202, "{e}");
    for key in [
        "id",
        "status",
        "total",
        "succeeded",
        "failed",
        "skipped",
        "bytes",
    ] {
        assert!(e.get(key).is_some(), "execution lacks {key}: {e}");
    }
    let id = e["id"].as_str().unwrap().to_string();
    let mut last = Value::Null;
    for _ in 0..200 {
        let (_, e) = berth
            .get(&format!("/api/v1/replication/executions/{id}"))
            .await;
        if e["status"] != "running" && e["status"] != "pending" {
            return e;
        }
        last = e;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("execution did not finish: {last}");
}

#[tokio::test]
async fn image_archives_are_imported_streamed_into_a_space() {
    let destination = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let berth = Berth::up().await;
    let (status, body) = berth
        .call(
            reqwest::Method::POST,
            "/api/v1/registries",
            Some(json!({"name": "dst", "kind": "distribution", "url": destination.url()})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let dst = berth_oci::Client::new(&destination.url(), None, Default::default()).unwrap();

    // An OCI layout (tar.gz) of a multi-arch index, over HTTP: digests are kept.
    let index = Index::new(vec![
        Image::new(&[(95, 30_000)], "amd64"),
        Image::new(&[(96, 30_000)], "arm64"),
    ]);
    let archive = berth_testkit::image::oci_archive(&index, "v1", true);
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/registries/dst/import?repository=team/multi&tag=v1",
            berth.url
        ))
        .bearer_auth(&berth.token)
        .body(archive)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let out: Value = resp.json().await.unwrap();
    assert_eq!(out["digest"], index.manifest.digest.as_str(), "{out}");
    assert_eq!(
        dst.manifest("team/multi", "v1").await.unwrap().digest,
        index.manifest.digest
    );
    for child in &index.images {
        assert!(dst
            .head_manifest("team/multi", &child.manifest.digest)
            .await
            .unwrap()
            .is_some());
    }

    // A docker save tarball, through the CLI: layers arrive as their uncompressed tars.
    let image = Image::new(&[(97, 40_000), (98, 10_000)], "amd64");
    let (archive, layer_digests) = berth_testkit::image::docker_save_archive(&image, "team/app:v2");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.tar");
    std::fs::write(&file, archive).unwrap();
    let (ok, out, err) = berth.cli(
        &[
            "image",
            "import",
            file.to_str().unwrap(),
            "--to",
            "dst/team/app:v2",
            "-o",
            "json",
        ],
        None,
    );
    assert!(ok, "{out}{err}");
    let m = dst.manifest("team/app", "v2").await.unwrap();
    let blobs = m.blobs();
    assert_eq!(blobs[0].digest, image.config.digest, "the config is kept");
    assert_eq!(
        blobs[1..]
            .iter()
            .map(|b| b.digest.clone())
            .collect::<Vec<_>>(),
        layer_digests
    );

    // Not an archive: a clear error naming it, nothing tagged.
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/registries/dst/import?repository=team/bad&tag=v1",
            berth.url
        ))
        .bearer_auth(&berth.token)
        .body(vec![7u8; 5000])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["error"]["field"], "archive", "{e}");
    assert!(dst.head_manifest("team/bad", "v1").await.unwrap().is_none());

    // A missing or bad parameter is a JSON 400 naming it.
    for (query, field) in [
        ("repository=team/x", "tag"),
        ("repository=team/x&tag=bad%2Ftag", "tag"),
        ("repository=Team/X&tag=v1", "repository"),
    ] {
        let resp = reqwest::Client::new()
            .post(format!(
                "{}/api/v1/registries/dst/import?{query}",
                berth.url
            ))
            .bearer_auth(&berth.token)
            .body(vec![7u8; 10])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{query}");
        let e: Value = resp.json().await.unwrap();
        assert_eq!(e["error"]["field"], field, "{query}: {e}");
    }

    // Regression: a chain of thousands of indexes overflowed the stack and killed the
    // process. Trees nested deeper than 8 are refused; the server stays up.
    let deep =
        berth_testkit::image::nested_archive(&Image::new(&[(98, 3_000)], "amd64"), 3000, "v1");
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/registries/dst/import?repository=team/deep&tag=v1",
            berth.url
        ))
        .bearer_auth(&berth.token)
        .body(deep)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let e: Value = resp.json().await.unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("more than 8 deep"),
        "{e}"
    );
    assert!(dst
        .head_manifest("team/deep", "v1")
        .await
        .unwrap()
        .is_none());

    // Regression: an index naming one child many times, level after level, was put once per
    // path (50^5 here: it never ended). Each manifest is put once.
    let dag = berth_testkit::image::dag_archive(&Image::new(&[(97, 3_000)], "amd64"), 50, 5, "v1");
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/registries/dst/import?repository=team/dag&tag=v1",
            berth.url
        ))
        .bearer_auth(&berth.token)
        .timeout(std::time::Duration::from_secs(30))
        .body(dag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201, "{:?}", resp.text().await);

    // A blob that is not what its name says: refused naming the entry, its upload cancelled
    // (nothing left in the registry's upload area), nothing tagged.
    let image = Image::new(&[(99, 30_000)], "amd64");
    let mut archive =
        berth_testkit::image::oci_archive(&Index::new(vec![image.clone()]), "v1", false);
    let layer = &image.layers[0].bytes;
    let at = archive
        .windows(layer.len())
        .position(|w| w == &layer[..])
        .expect("the layer is in the archive");
    archive[at + 100] ^= 0xff;
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/registries/dst/import?repository=team/tampered&tag=v1",
            berth.url
        ))
        .bearer_auth(&berth.token)
        .body(archive)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let e: Value = resp.json().await.unwrap();
    let message = e["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&image.layers[0].digest.replace(':', "/")),
        "names the entry: {e}"
    );
    let uploads = destination
        .data_dir()
        .join("docker/registry/v2/repositories/team/tampered/_uploads");
    // Distribution's cancel removes an upload's data and start time (it leaves an empty hash
    // state directory for its purger).
    let left: Vec<_> = std::fs::read_dir(&uploads)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|u| u.path().join("data").exists() || u.path().join("startedat").exists())
        .collect();
    assert!(
        left.is_empty(),
        "uploads left in {}: {left:?}",
        uploads.display()
    );
    assert!(dst
        .head_manifest("team/tampered", "v1")
        .await
        .unwrap()
        .is_none());
}

/// Embedded mode keeps its jobs in memory: after a kill -9 mid-run and a restart on the same
/// data dir, the execution still completes (its unfinished work is requeued from the tables).
#[tokio::test]
async fn an_execution_completes_after_berth_up_is_killed_mid_run() {
    let source = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let destination = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let target = Target {
        host: source.host(),
        credential: None,
    };
    let mut images = Vec::new();
    for i in 0..4u64 {
        let image = Image::new(&[(300 + i, 60_000)], "amd64");
        push_image(&image, &target, &format!("apps/svc-{i}"), "v1")
            .await
            .unwrap();
        images.push(image);
    }
    let berth = Berth::up().await;
    for (name, url) in [("src", source.url()), ("dst", destination.url())] {
        let (status, body) = berth
            .call(
                reqwest::Method::POST,
                "/api/v1/registries",
                Some(json!({"name": name, "kind": "distribution", "url": url})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    // Slow enough to be mid-copy when killed: 30 kB/s over 240 kB.
    let (status, p) = berth
        .call(
            reqwest::Method::POST,
            "/api/v1/replication/policies",
            Some(
                json!({"name": "slow", "source": {"registry": "src", "space": "apps"},
                        "destination": {"registry": "dst"}, "bandwidth_limit": 30000}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    let (status, e) = berth
        .call(
            reqwest::Method::POST,
            "/api/v1/replication/policies/slow/run",
            None,
        )
        .await;
    assert!(status < 300, "{e}");
    let id = e["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/replication/executions/{id}");
    let moving = berth_testkit::wait_until(Duration::from_secs(10), || async {
        berth.get(&path).await.1["bytes"].as_u64().unwrap_or(0) > 0
    })
    .await;
    assert!(moving, "the copy started");

    let berth = berth.kill_and_restart().await;
    let mut last = Value::Null;
    // Under a loaded test run, the requeued tasks may meet the restarted services before they
    // are ready and go round their retry backoff: allow for it.
    for _ in 0..1800 {
        let (status, now) = berth.get(&path).await;
        last = now;
        if status == 200 && last["status"] != "running" && last["status"] != "pending" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, tasks) = berth.get(&format!("{path}/tasks")).await;
    assert_eq!(
        (last["status"].as_str(), last["succeeded"].as_u64()),
        (Some("succeeded"), Some(4)),
        "{last}\ntasks: {tasks}\nstderr: {}",
        std::fs::read_to_string(berth.dir.path().join("stderr"))
            .unwrap_or_default()
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let dst = berth_oci::Client::new(&destination.url(), None, Default::default()).unwrap();
    for (i, image) in images.iter().enumerate() {
        assert_eq!(
            dst.manifest(&format!("apps/svc-{i}"), "v1")
                .await
                .unwrap()
                .digest,
            image.manifest.digest
        );
    }
    // And the policy runs again (no execution is left holding it).
    let (status, again) = berth
        .call(
            reqwest::Method::POST,
            "/api/v1/replication/policies/slow/run",
            None,
        )
        .await;
    assert!(status < 300, "{again}");
}

/// Runs `program` with `input` on stdin: (success, stdout and stderr).
fn pipe(program: &Path, args: &[&str], input: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (scripts/test.sh installs it)", program.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The metric families a scrape holds (histogram and summary suffixes folded in).
fn families(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| family(l.split(['{', ' ']).next().unwrap()).to_string())
        .collect()
}

/// The family a series name belongs to (a histogram's `_bucket`, `_sum` and `_count`).
fn family(name: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name)
}

/// A scrape passes `promtool check metrics` and the Prometheus client's text parser, holds the
/// gRPC, process and health families with their labels, forgets a deleted registry, and every
/// family it holds (and every one the shipped alerts and dashboard use) is in the README.
#[tokio::test]
async fn metrics_pass_promtool_and_the_text_parser_and_forget_deleted_registries() {
    let berth = Berth::up().await;
    let (status, _) = berth
        .call(
            reqwest::Method::POST,
            "/api/v1/registries",
            Some(json!({"name": "gone-soon", "kind": "oci", "url": format!("http://127.0.0.1:{}", berth_testkit::free_port()), "verify": false})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(berth.get("/api/v1/registries/nope").await.0, 404);
    let scrape = || async {
        reqwest::get(format!("{}/metrics", berth.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let series = "berth_registry_up{registry=\"gone-soon\"} 0";
    let mut text = String::new();
    for _ in 0..100 {
        text = scrape().await;
        if text.contains(series) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(text.contains(series), "{text}");

    let (ok, report) = pipe(Path::new("promtool"), &["check", "metrics"], &text);
    assert!(ok, "promtool check metrics:\n{report}");
    let parser = "import sys\nfrom prometheus_client.parser import text_string_to_metric_families as f\nprint(len(list(f(sys.stdin.read()))))";
    let (ok, out) = pipe(
        &berth_testkit::tools_venv().join("bin/python"),
        &["-c", parser],
        &text,
    );
    assert!(ok, "prometheus_client parser: {out}");
    assert!(out.trim().parse::<usize>().unwrap() >= 10, "{out}");

    let grpc = text
        .lines()
        .find(|l| {
            l.starts_with("berth_grpc_request_duration_seconds_count{")
                && l.contains("grpc_service=\"berth.v1.RegistryService\"")
                && l.contains("grpc_code=\"NOT_FOUND\"")
        })
        .unwrap_or_else(|| panic!("no gRPC series labelled by service and code:\n{text}"));
    assert!(grpc.contains("grpc_method=\"GetRegistry\""), "{grpc}");
    for needle in [
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        "berth_build_info{",
        "berth_dependency_up{dependency=\"database\"} 1",
        "berth_outbox_pending{",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }

    let (status, _) = berth
        .call(
            reqwest::Method::DELETE,
            "/api/v1/registries/gone-soon",
            None,
        )
        .await;
    assert_eq!(status, 204);
    let text = scrape().await;
    assert!(
        !text.contains("registry=\"gone-soon\""),
        "a deleted registry's series stays:\n{text}"
    );

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for family in families(&scrape().await) {
        assert!(
            readme.contains(&format!("`{family}`")),
            "README does not list {family}"
        );
    }
    let deployed = std::fs::read_to_string(root.join("deploy/prometheus/alerts.yml")).unwrap()
        + &std::fs::read_to_string(root.join("deploy/grafana/berth-dashboard.json")).unwrap();
    let used: std::collections::BTreeSet<&str> = deployed
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("berth_") || w.starts_with("process_"))
        .map(family)
        .collect();
    assert!(used.len() >= 15, "{used:?}");
    for family in used {
        assert!(
            readme.contains(&format!("`{family}`")),
            "alerts or dashboard use {family}, which the README does not list"
        );
    }
}

/// Whether two answers say the same once what changes from call to call (health check times,
/// last use, fresh credentials) is left out; PyYAML reads the YAML.
fn same_yaml(json_text: &str, yaml_text: &str) -> Result<(), String> {
    let script = r#"
import json, sys, yaml
VOLATILE = {"checked_at", "latency_ms", "last_used_at"}
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k not in VOLATILE}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
j, y = sys.stdin.read().split("\0")
a, b = strip(json.loads(j)), strip(yaml.safe_load(y))
if a != b:
    print("JSON:", json.dumps(a, sort_keys=True), "\nYAML:", json.dumps(b, sort_keys=True))
    sys.exit(1)
"#;
    let (ok, out) = pipe(
        &berth_testkit::tools_venv().join("bin/python"),
        &["-c", script],
        &format!("{json_text}\0{yaml_text}"),
    );
    if ok {
        Ok(())
    } else {
        Err(out)
    }
}

/// Every command answers `-o json` with JSON (and `--watch` with one JSON object per line),
/// and each read answers `-o yaml` with YAML that says what its JSON says.
#[tokio::test]
async fn every_command_answers_json_and_yaml_that_says_the_same() {
    let berth = Berth::up().await;
    let src = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let dst = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let target = Target {
        host: src.host(),
        credential: None,
    };
    push_image(
        &Image::new(&[(71, 3_000)], "amd64"),
        &target,
        "team/app",
        "v1",
    )
    .await
    .unwrap();
    let json_of = |args: &[&str]| -> Value {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-o", "json"]);
        let (ok, out, err) = berth.cli(&all, None);
        assert!(ok, "{args:?}: {out}{err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} -o json: {e}: {out}"))
    };
    let read = |args: &[&str]| -> Value {
        let value = json_of(args);
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-o", "yaml"]);
        let (ok, yaml, err) = berth.cli(&all, None);
        assert!(ok, "{args:?} -o yaml: {err}");
        if let Err(diff) = same_yaml(&value.to_string(), &yaml) {
            panic!("{args:?}: -o yaml says something else than -o json:\n{diff}\n{yaml}");
        }
        value
    };
    let src_url = format!("http://{}", src.host());
    let dst_url = format!("http://{}", dst.host());
    let image = format!("{}/team/app:v1", src.host());

    assert_eq!(
        json_of(&[
            "registry",
            "add",
            "src",
            "--kind",
            "distribution",
            "--url",
            &src_url
        ])["name"],
        "src"
    );
    json_of(&[
        "registry",
        "add",
        "dst",
        "--kind",
        "distribution",
        "--url",
        &dst_url,
    ]);
    assert_eq!(
        read(&["registry", "list"])["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    read(&["registry", "get", "src"]);
    assert_eq!(
        json_of(&["registry", "update", "src", "--description", "the source"])["description"],
        "the source"
    );
    assert_eq!(json_of(&["registry", "ping", "src"])["status"], "healthy");
    assert!(json_of(&["registry", "hook-secret", "src"])["secret"].is_string());
    read(&["repo", "list", "src"]);
    read(&["overview"]);
    read(&["overview", "--registry", "src"]);

    json_of(&[
        "workspace",
        "create",
        "blue",
        "--description",
        "tab\tand \"quotes\": yes",
    ]);
    let done = json_of(&["workspace", "add-namespace", "blue", "blue-ns"]);
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(
        done["resource"],
        "/api/v1/workspaces/blue/namespaces/blue-ns"
    );
    json_of(&[
        "workspace",
        "set-member",
        "blue",
        "alice",
        "workspace-viewer",
    ]);
    read(&["workspace", "list"]);
    read(&["workspace", "get", "blue"]);

    json_of(&["space", "create", "src/team"]);
    read(&["space", "list", "src"]);
    read(&["space", "get", "src/team"]);
    json_of(&["space", "update", "src/team", "--description", "0x10"]);
    json_of(&["space", "import", "src"]);
    json_of(&["bind", "src/team", "blue"]);
    assert_eq!(
        json_of(&["access", "check", "blue-ns", &image])["allowed"],
        true
    );
    read(&["images", "--namespace", "blue-ns"]);
    assert_eq!(
        json_of(&["namespace", "pull-secret", "blue-ns"])["type"],
        "kubernetes.io/dockerconfigjson"
    );
    json_of(&["namespace", "pull-secret", "blue-ns", "--revoke"]);

    json_of(&[
        "sync", "policy", "create", "p1", "--from", "src/team", "--to", "dst",
    ]);
    read(&["sync", "policy", "list"]);
    read(&["sync", "policy", "get", "p1"]);
    json_of(&["sync", "policy", "update", "p1", "--tag", "v*"]);
    // --watch -o json: one execution object per line, the last one ended.
    let (ok, out, err) = berth.cli(&["sync", "run", "p1", "--watch", "-o", "json"], None);
    assert!(ok, "{out}{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let last = lines.last().unwrap();
    assert_eq!(last["status"], "succeeded", "{out}");
    assert_eq!(last["succeeded"], 1, "{out}");
    let id = last["id"].as_str().unwrap().to_string();
    read(&["sync", "executions"]);
    read(&["sync", "tasks", &id]);
    let (ok, out, err) = berth.cli(&["sync", "watch", &id, "-o", "yaml"], None);
    assert!(ok && out.starts_with("---\n"), "{out}{err}");
    json_of(&["sync", "run", "p1"]);

    let token = json_of(&["token", "create", "alice", "--ttl", "3600"]);
    assert!(token["token"].is_string());
    let tokens = read(&["token", "list"]);
    let id = tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["principal"] == "alice")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    json_of(&["token", "revoke", &id]);

    json_of(&["unbind", "src/team", "blue"]);
    json_of(&["workspace", "remove-member", "blue", "alice"]);
    json_of(&["workspace", "remove-namespace", "blue", "blue-ns"]);
    json_of(&["space", "rm", "src/team"]);
    json_of(&["sync", "policy", "rm", "p1"]);
    json_of(&["registry", "rm", "dst", "--cascade"]);
    let removed = json_of(&["workspace", "rm", "blue"]);
    assert_eq!(removed["resource"], "/api/v1/workspaces/blue", "{removed}");
    // A failure is an error on stderr and a non-zero exit, never half a JSON document.
    let (ok, out, err) = berth.cli(&["workspace", "get", "blue", "-o", "json"], None);
    assert!(!ok && out.is_empty() && err.contains("404"), "{out}{err}");
}

/// `berth up` logs lines for a person when stderr is a terminal (`script` gives it one), and
/// JSON for a collector when it is not.
#[tokio::test]
async fn berth_up_logs_plain_lines_on_a_terminal_and_json_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let port = berth_testkit::free_port();
    let command = format!(
        "{BERTH} up --data-dir {} --listen 127.0.0.1:{port}",
        dir.path().join("data").display()
    );
    let typescript = dir.path().join("typescript");
    let mut child = Command::new("script")
        .args(["-qfec", &command])
        .arg(&typescript)
        .env_remove("BERTH_LOG_FORMAT")
        .env_remove("BERTH_DATABASE_URL")
        .env_remove("BERTH_BUS_URL")
        .env_remove("BERTH_CACHE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("script (util-linux) runs");
    let seen = berth_testkit::wait_until(Duration::from_secs(60), || {
        let typescript = typescript.clone();
        async move {
            std::fs::read_to_string(typescript)
                .unwrap_or_default()
                .contains("berth ready")
        }
    })
    .await;
    let _ = std::process::Command::new("pkill")
        .args(["-f", &format!("127.0.0.1:{port}")])
        .status();
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&typescript).unwrap_or_default();
    assert!(seen, "no ready log line on the terminal:\n{text}");
    let line = text.lines().find(|l| l.contains("berth ready")).unwrap();
    assert!(
        line.contains("INFO") && !line.trim_start().starts_with('{'),
        "not a line for a person: {line}"
    );

    let berth = Berth::up().await;
    let log = std::fs::read_to_string(berth.dir.path().join("stderr")).unwrap();
    let ready = log
        .lines()
        .find(|l| l.contains("berth ready"))
        .expect("ready logged");
    let json: Value = serde_json::from_str(ready).unwrap_or_else(|e| panic!("{e}: {ready}"));
    assert_eq!(json["level"], "INFO", "{ready}");
}

/// Scanning through the CLI: `berth vulndb import` of OSV JSON and `build-debian` of a real
/// `.deb` (built by dpkg-deb around this machine's openssl changelog), `berth scan --wait`,
/// `berth vulns --severity`, `berth sbom --format spdx`, `berth vulndb status`.
#[tokio::test]
async fn scanning_through_the_cli() {
    use berth_testkit::image::{files_layer, Compression};
    let registry = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let berth = Berth::up().await;
    let (status, body) = berth
        .call(
            reqwest::Method::POST,
            "/api/v1/registries",
            Some(json!({"name": "hub", "kind": "distribution", "url": registry.url()})),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let records = berth.dir.path().join("requests.json");
    std::fs::write(
        &records,
        r#"[{"id": "PYSEC-2018-28", "modified": "2021-06-10T06:51:00Z", "aliases": ["CVE-2018-18074"],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
              "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}]}]}]"#,
    )
    .unwrap();
    let (ok, out, err) = berth.cli(
        &["vulndb", "import", records.to_str().unwrap(), "-o", "json"],
        None,
    );
    assert!(ok, "{out}{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["imported"],
        1,
        "{out}"
    );

    // A real Debian package around this machine's openssl changelog.
    let root = berth.dir.path().join("deb");
    std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(root.join("usr/share/doc/openssl")).unwrap();
    std::fs::copy(
        "/usr/share/doc/openssl/changelog.Debian.gz",
        root.join("usr/share/doc/openssl/changelog.Debian.gz"),
    )
    .unwrap();
    std::fs::write(
        root.join("DEBIAN/control"),
        "Package: openssl-changelog\nVersion: 1.0\nArchitecture: all\nMaintainer: Berth <berth@example.org>\nDescription: test\n",
    )
    .unwrap();
    let deb = berth.dir.path().join("openssl.deb");
    let built = Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group"])
        .arg(&root)
        .arg(&deb)
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    let (ok, out, err) = berth.cli(
        &[
            "vulndb",
            "build-debian",
            deb.to_str().unwrap(),
            "--release",
            "12",
            "-o",
            "json",
        ],
        None,
    );
    assert!(ok, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["imported"].as_u64().unwrap() > 10,
        "the openssl changelog names many CVEs: {out}"
    );
    let (ok, out, _) = berth.cli(&["vulndb", "status", "-o", "json"], None);
    assert!(ok);
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["ecosystems"]["PyPI"], 1, "{out}");
    assert!(
        status["ecosystems"]["Debian"].as_u64().unwrap() > 10,
        "{out}"
    );
    assert_eq!(status["version"], 2, "{out}");

    let image = Image::of_layers(
        vec![files_layer(
            &[(
                "usr/lib/python3/dist-packages/requests-2.19.1.dist-info/METADATA",
                b"Metadata-Version: 2.1\nName: requests\nVersion: 2.19.1\n",
            )],
            Compression::Gzip,
        )],
        "amd64",
    );
    let target = Target {
        host: registry.host(),
        credential: None,
    };
    push_image(&image, &target, "team/app", "v1").await.unwrap();
    let (ok, out, err) = berth.cli(&["scan", "hub/team/app:v1", "--wait", "-o", "json"], None);
    assert!(ok, "{out}{err}");
    let scan: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(scan["status"], "complete", "{out}");
    assert_eq!(scan["summary"]["high"], 1, "{out}");
    assert_eq!(scan["digest"], image.manifest.digest.as_str());

    let (ok, out, err) = berth.cli(&["vulns", "hub/team/app:v1", "--severity", "high"], None);
    assert!(ok, "{err}");
    let row = out
        .lines()
        .find(|l| l.starts_with("PYSEC-2018-28"))
        .unwrap_or_default();
    for cell in [
        "high",
        "7.5",
        "requests",
        "2.19.1",
        "2.20.0",
        "CVE-2018-18074",
    ] {
        assert!(row.contains(cell), "{cell} in {out}");
    }
    let (ok, out, _) = berth.cli(
        &[
            "vulns",
            "hub/team/app:v1",
            "--severity",
            "critical",
            "-o",
            "json",
        ],
        None,
    );
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["items"],
        json!([])
    );

    let (ok, out, err) = berth.cli(&["sbom", "hub/team/app:v1", "--format", "spdx"], None);
    assert!(ok, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert!(out.contains("pkg:pypi/requests@2.19.1"), "{out}");

    let (ok, _, err) = berth.cli(&["scan", "hub/team/app:nope"], None);
    assert!(!ok);
    assert!(err.contains("not found"), "{err}");
}
