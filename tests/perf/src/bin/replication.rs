//! Replication against `skopeo sync` in the same run, on the same source registry, each into a
//! fresh destination registry of its own (real `docker-registry` processes):
//!
//! - many small images sharing a base layer (target ≥ 5× skopeo);
//! - the no-op resync of the same images (target ≥ 10×);
//! - one large image with a single large layer (target ≥ 1.2×), during which the peak RSS of
//!   the whole `berth up` process (every service, the worker included) is read from
//!   `/proc/PID/status` (`VmHWM`; target < 150 MiB).
//!
//! Berth runs as `berth up` (release build, embedded SQLite, bus and cache), driven over its
//! HTTP API like any client would, with the source registry sending it notifications as a
//! deployment would (so the no-op trusts what it recorded; see the replication service's
//! records). `BERTH_PERF_LOG=FILE` keeps Berth's log.
//!
//! `cargo build --release -p berth-cli && cargo run --release -p berth-perf --bin replication
//! [-- SMALL_IMAGES LARGE_MIB]`

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::image::{push_image, Image, Target};
use berth_testkit::registry::{DockerRegistry, RegistryOptions};
use futures::StreamExt;
use serde_json::{json, Value};

const TOKEN: &str = "perf-admin-token-0123456789";
/// The source registry's hook secret (set on it in Berth before any push).
const HOOK_SECRET: &str = "perf-hook-secret-0123456789abcdef0123";

struct Berth {
    child: std::process::Child,
    url: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Berth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Berth {
    async fn up() -> Self {
        let exe = std::env::current_exe().unwrap();
        let berth: PathBuf = exe.parent().unwrap().join("berth");
        assert!(
            berth.exists(),
            "build it first: cargo build --release -p berth-cli ({} is missing)",
            berth.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let port = berth_testkit::free_port();
        let child = Command::new(berth)
            .args(["up", "--data-dir"])
            .arg(dir.path())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("BERTH_ADMIN_TOKEN", TOKEN)
            .env("BERTH_LOG_FORMAT", "plain")
            .env(
                "RUST_LOG",
                std::env::var("BERTH_PERF_LOG_LEVEL").unwrap_or("warn".into()),
            )
            .stdout(Stdio::null())
            // BERTH_PERF_LOG=FILE keeps berth's log.
            .stderr(match std::env::var("BERTH_PERF_LOG") {
                Ok(path) => Stdio::from(std::fs::File::create(path).unwrap()),
                Err(_) => Stdio::null(),
            })
            .spawn()
            .unwrap();
        let b = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            _dir: dir,
        };
        let ready = berth_testkit::wait_until(Duration::from_secs(30), || async {
            b.http
                .get(format!("{}/readyz", b.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        assert!(ready, "berth up did not become ready");
        b
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    /// Runs a policy and waits for its execution; answers it and the wall time.
    async fn run(&self, policy: &str) -> (Value, Duration) {
        let started = Instant::now();
        let e = self
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/replication/policies/{policy}/run"),
                None,
            )
            .await;
        let id = e["id"].as_str().unwrap().to_string();
        // Poll often at first (short runs, for the fixed cost), then back off so polling
        // costs Berth little (every poll is a gateway call, a gRPC call and a count): at most
        // every 10 ms in the first second, every 50 ms after.
        let mut pause = Duration::from_millis(2);
        loop {
            let e = self
                .call(
                    reqwest::Method::GET,
                    &format!("/api/v1/replication/executions/{id}"),
                    None,
                )
                .await;
            if !matches!(e["status"].as_str(), Some("pending" | "running")) {
                assert_eq!(e["status"], "succeeded", "{e}");
                return (e, started.elapsed());
            }
            tokio::time::sleep(pause).await;
            let cap = if started.elapsed() < Duration::from_secs(1) {
                Duration::from_millis(10)
            } else {
                Duration::from_millis(50)
            };
            pause = (pause * 3 / 2).min(cap);
        }
    }

    /// Peak resident memory of the `berth up` process so far, in MiB.
    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        kb / 1024.0
    }
}

impl Berth {
    /// `berth_replication_phase_seconds` sums and counts by phase, from `/metrics`.
    async fn phases(&self) -> std::collections::BTreeMap<String, (f64, f64)> {
        let text = self
            .http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut out = std::collections::BTreeMap::new();
        for l in text.lines() {
            for (suffix, slot) in [("_sum{", 0), ("_count{", 1)] {
                let Some(rest) =
                    l.strip_prefix(&format!("berth_replication_phase_seconds{suffix}"))
                else {
                    continue;
                };
                let Some((labels, value)) = rest.split_once("} ") else {
                    continue;
                };
                let Some(phase) = labels
                    .split(',')
                    .find_map(|kv| kv.strip_prefix("phase=\""))
                    .map(|p| p.trim_end_matches('"').to_string())
                else {
                    continue;
                };
                let v: f64 = value.trim().parse().unwrap_or(0.0);
                let e: &mut (f64, f64) = out.entry(phase).or_default();
                if slot == 0 {
                    e.0 = v
                } else {
                    e.1 = v
                }
            }
        }
        out
    }

    /// Runs a policy like [`Berth::run`] and prints where the time went, by phase (summed
    /// over tasks for `copy` and `record`, which run in parallel).
    async fn run_phased(&self, policy: &str) -> (Value, Duration) {
        let before = self.phases().await;
        let out = self.run(policy).await;
        let after = self.phases().await;
        let parts: Vec<String> = after
            .iter()
            .map(|(phase, (sum, n))| {
                let (s0, n0) = before.get(phase).copied().unwrap_or_default();
                format!("{phase} {:.3} s/{:.0}", sum - s0, n - n0)
            })
            .collect();
        eprintln!("  (berth phases, seconds/count: {})", parts.join(", "));
        out
    }
}

/// CPU seconds process `pid` has used so far (user + system, from `/proc/PID/stat`).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command name: state is field 3, utime field 14 and stime field 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

/// CPU seconds of the processes in `pids` while `f` runs.
struct Cpu(Vec<(&'static str, u32, f64)>);

impl Cpu {
    fn start(pids: &[(&'static str, u32)]) -> Self {
        Self(pids.iter().map(|(n, p)| (*n, *p, cpu_secs(*p))).collect())
    }

    fn report(&self) -> String {
        self.0
            .iter()
            .map(|(n, p, at)| format!("{n} {:.2}", cpu_secs(*p) - at))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Waits until the processes have used (almost) no CPU for a whole second.
async fn quiet(pids: &[u32]) {
    let total = || pids.iter().map(|p| cpu_secs(*p)).sum::<f64>();
    let mut last = total();
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = total();
        if now - last < 0.02 {
            return;
        }
        last = now;
    }
}

/// `skopeo sync` of `repos` (all tags) from `src` to `dst`; answers the wall time.
fn skopeo_sync(src: &str, dst: &str, repos: &[String]) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("sync.yaml");
    let images: serde_json::Map<String, Value> =
        repos.iter().map(|r| (r.clone(), json!([]))).collect();
    let config = json!({ src: {"tls-verify": false, "images": images} });
    // YAML is a superset of JSON.
    std::fs::write(&yaml, config.to_string()).unwrap();
    let started = Instant::now();
    let out = Command::new("skopeo")
        .args(["sync", "--src", "yaml", "--dest", "docker"])
        .arg("--dest-tls-verify=false")
        .arg(&yaml)
        .arg(dst)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "skopeo sync failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn line(name: &str, skopeo: Duration, berth: Duration, target: f64) -> bool {
    let ratio = skopeo.as_secs_f64() / berth.as_secs_f64();
    let met = ratio >= target;
    println!(
        "  {name:<28} skopeo {:>8.2} s   berth {:>8.2} s   ratio {ratio:>6.1}x (target >= {target}x: {})",
        skopeo.as_secs_f64(),
        berth.as_secs_f64(),
        if met { "met" } else { "NOT met" }
    );
    met
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let small: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let large_mib: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(500);
    // `quiet`: the source sends no notifications (as most sources do), so a no-op asks it for
    // every tag's digest.
    let notifying = args.get(3).map(String::as_str) != Some("quiet");
    // Tags per repository: 1 (the default) is the image set above; more is the shape of
    // many real registries: `v1`, `v2`, … of a repository share a 256 KiB middle layer, four
    // 1 MiB base layers are shared by all, and each tag has a top layer of its own.
    let tags: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1).max(1);

    // Berth first: the source registry sends it notifications, as a deployment would.
    let berth = Berth::up().await;
    let src = DockerRegistry::start(if notifying {
        RegistryOptions {
            notify_url: Some(format!("{}/hooks/distribution/src", berth.url)),
            notify_token: Some(HOOK_SECRET.into()),
            ..Default::default()
        }
    } else {
        RegistryOptions::default()
    })
    .await
    .unwrap();
    let to_skopeo = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let to_berth = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    for (name, url) in [("src", src.url()), ("dst", to_berth.url())] {
        berth
            .call(
                reqwest::Method::POST,
                "/api/v1/registries",
                Some(json!({"name": name, "kind": "distribution", "url": url})),
            )
            .await;
    }
    berth
        .call(
            reqwest::Method::POST,
            "/api/v1/registries/src/hook-secret",
            Some(json!({ "secret": HOOK_SECRET })),
        )
        .await;
    let target = Target {
        host: src.host(),
        credential: None,
    };
    eprintln!(
        "pushing {small} repositories × {tags} tags and one {large_mib} MiB image to the source…"
    );
    let repos: Vec<String> = (0..small).map(|i| format!("small/app-{i}")).collect();
    futures::stream::iter(repos.iter().enumerate())
        .for_each_concurrent(8, |(i, repo)| {
            let target = target.clone();
            async move {
                if tags == 1 {
                    // A base layer all share, a middle layer shared by ten, an own layer.
                    let image = Image::new(
                        &[
                            (1, 2_000_000),
                            (10 + i as u64 / 10, 500_000),
                            (1000 + i as u64, 200_000),
                        ],
                        "amd64",
                    );
                    push_image(&image, &target, repo, "v1").await.unwrap();
                    return;
                }
                // The tags of a repository one after the other (Distribution races when two
                // clients write one repository at once).
                for t in 0..tags {
                    let image = Image::new(
                        &[
                            (1, 1 << 20),
                            (2, 1 << 20),
                            (3, 1 << 20),
                            (4, 1 << 20),
                            (10_000 + i as u64, 256 << 10),
                            (100_000 + (i * tags + t) as u64, (64 << 10) * (1 + t % 4)),
                        ],
                        "amd64",
                    );
                    push_image(&image, &target, repo, &format!("v{}", t + 1))
                        .await
                        .unwrap();
                }
            }
        })
        .await;
    let big = Image::new(&[(2, large_mib * 1024 * 1024)], "amd64");
    push_image(&big, &target, "large/big", "v1").await.unwrap();
    // The same image as an OCI layout tarball on disk, for the import below.
    let archive_dir = tempfile::tempdir().unwrap();
    let archive = archive_dir.path().join("big.tar");
    std::fs::write(
        &archive,
        berth_testkit::image::oci_archive(
            &berth_testkit::image::Index::new(vec![big]),
            "v1",
            false,
        ),
    )
    .unwrap();

    // Let the push notifications drain (the source sends them, Berth handles them) before
    // measuring anything: both processes idle for a second.
    quiet(&[src.pid().unwrap(), berth.child.id()]).await;
    for space in ["small", "large"] {
        berth
            .call(
                reqwest::Method::POST,
                "/api/v1/replication/policies",
                Some(json!({
                    "name": space,
                    "source": {"registry": "src", "space": space},
                    "destination": {"registry": "dst"},
                })),
            )
            .await;
    }
    let rss_idle = berth.peak_rss_mib();

    println!(
        "replication ({small} repositories × {tags} tags sharing layers; one {large_mib} MiB layer; source {})",
        if notifying { "notifying" } else { "not notifying" }
    );
    let watch = |dst: &DockerRegistry| {
        Cpu::start(&[
            ("source", src.pid().unwrap()),
            ("destination", dst.pid().unwrap()),
            ("berth", berth.child.id()),
        ])
    };
    let cpu = watch(&to_skopeo);
    let skopeo_small = skopeo_sync(&src.host(), &to_skopeo.host(), &repos);
    eprintln!("  (skopeo run, CPU s: {})", cpu.report());
    let cpu = watch(&to_berth);
    let (e, berth_small) = berth.run_phased("small").await;
    eprintln!("  (berth run, CPU s: {})", cpu.report());
    assert_eq!(e["succeeded"].as_u64(), Some((small * tags) as u64), "{e}");
    let mut met = line("many small images", skopeo_small, berth_small, 5.0);

    let cpu = watch(&to_skopeo);
    let skopeo_noop = skopeo_sync(&src.host(), &to_skopeo.host(), &repos);
    eprintln!("  (skopeo run, CPU s: {})", cpu.report());
    let cpu = watch(&to_berth);
    let (e, berth_noop) = berth.run_phased("small").await;
    eprintln!("  (berth run, CPU s: {})", cpu.report());
    assert_eq!(e["bytes"].as_u64(), Some(0), "{e}");
    met &= line(
        "no-op resync",
        skopeo_noop,
        berth_noop,
        if notifying { 20.0 } else { 10.0 },
    );

    // An execution's fixed cost: a no-op of one tag, run again and again (the median).
    berth
        .call(
            reqwest::Method::POST,
            "/api/v1/replication/policies",
            Some(json!({
                "name": "one",
                "source": {"registry": "src", "space": "small"},
                "destination": {"registry": "dst"},
                "filters": [{"kind": "repository", "pattern": "small/app-0"},
                            {"kind": "tag", "pattern": "v1"}],
            })),
        )
        .await;
    berth.run("one").await;
    let mut runs: Vec<Duration> = Vec::new();
    for _ in 0..21 {
        runs.push(berth.run("one").await.1);
    }
    runs.sort();
    let fixed = runs[runs.len() / 2];
    println!(
        "  {:<28} {:>8.1} ms median of 21 (target < 20 ms: {})",
        "execution fixed cost",
        fixed.as_secs_f64() * 1000.0,
        if fixed < Duration::from_millis(20) {
            "met"
        } else {
            "NOT met"
        }
    );
    met &= fixed < Duration::from_millis(20);

    let rss_before_large = berth.peak_rss_mib();
    let skopeo_large = skopeo_sync(&src.host(), &to_skopeo.host(), &["large/big".into()]);
    let (e, berth_large) = berth.run_phased("large").await;
    assert_eq!(e["succeeded"].as_u64(), Some(1), "{e}");
    met &= line(
        &format!("one {large_mib} MiB layer"),
        skopeo_large,
        berth_large,
        1.3,
    );
    let rss = berth.peak_rss_mib();
    // Import the same image from a tarball, streamed from disk through the gateway.
    let file = tokio::fs::File::open(&archive).await.unwrap();
    let size = file.metadata().await.unwrap().len();
    let started = Instant::now();
    let resp = berth
        .http
        .post(format!(
            "{}/api/v1/registries/dst/import?repository=imported/big&tag=v1",
            berth.url
        ))
        .bearer_auth(TOKEN)
        .body(reqwest::Body::wrap_stream(
            tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201, "{:?}", resp.text().await);
    let took = started.elapsed();
    println!(
        "  import of a {:.0} MiB OCI tarball: {:.2} s ({:.0} MiB/s), berth up peak RSS after it {:.0} MiB",
        size as f64 / 1048576.0,
        took.as_secs_f64(),
        size as f64 / 1048576.0 / took.as_secs_f64(),
        berth.peak_rss_mib()
    );
    println!(
        "  berth up peak RSS: {rss_idle:.0} MiB idle, {rss_before_large:.0} MiB after the small images, {rss:.0} MiB after the large layer (target < 150 MiB: {})",
        if rss < 150.0 { "met" } else { "NOT met" }
    );
    met &= rss < 150.0;
    println!(
        "  {}",
        if met {
            "all targets met"
        } else {
            "some targets NOT met"
        }
    );
}
