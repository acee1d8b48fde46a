//! Scanning against its peers in the same run, on a real `docker-registry`:
//!
//! 1. one image whose layer is a gzip tar of a few hundred MB of real files
//!    (`/usr/lib/x86_64-linux-gnu`, or `BERTH_PERF_SCAN_DIR`): Berth's scanner (the scan
//!    service's, in this process) against `gzip -dc` of the same blob (the floor: target ≥ 1.5×,
//!    a faster inflater than gzip's is allowed) and against Trivy making the CycloneDX SBOM of the
//!    same image from the same registry (≥ 2.5×), with where Berth's time goes;
//! 2. 200 images sharing a base layer (this machine's dpkg database and Python distributions)
//!    with one small layer each: Berth (one layer store, as the service keeps) against Trivy run
//!    per image with one shared cache (≥ 10×);
//! 3. re-matching 10,000 stored inventories after a database update, through the scan
//!    service's own tables and job (embedded SQLite) (< 5 s);
//! 4. the peak RSS of a process scanning a 1 GiB layer (< 150 MiB), read from its `VmHWM`.
//!
//! `cargo run --release -p berth-perf --bin scan [-- IMAGES REPORTS]` (Trivy: `BERTH_TRIVY`, or
//! where the test command installs it; `BERTH_PERF_ONLY=1,3` runs only those parts).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use berth_scan::scanner::{scan, LayerStore};
use berth_testkit::image::{files_layer, push_image, Blob, Compression, Image, Target};
use berth_testkit::registry::{DockerRegistry, RegistryOptions};

const REQUESTS_RECORD: &str = r#"{"id": "PYSEC-2018-28", "modified": "2021-06-10T06:51:00Z",
    "aliases": ["CVE-2018-18074"],
    "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}]}]}"#;

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The best of `n` timed runs of `f`.
async fn best<F, Fut>(n: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut out = Duration::MAX;
    for _ in 0..n {
        let t = Instant::now();
        f().await;
        out = out.min(t.elapsed());
    }
    out
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A gzip layer of a tar of `dir` made by `tar` and `gzip -6` (real files, as images hold).
fn layer_of_dir(dir: &Path, work: &Path) -> (Blob, String, u64) {
    let tar = work.join("layer.tar");
    run(Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(dir.parent().unwrap())
        .arg(dir.file_name().unwrap()));
    let raw = std::fs::read(&tar).unwrap();
    let diff_id = berth_testkit::image::sha256(&raw);
    let size = raw.len() as u64;
    drop(raw);
    run(Command::new("gzip").arg("-6").arg("-f").arg(&tar));
    let gz = std::fs::read(work.join("layer.tar.gz")).unwrap();
    (Blob::new(gz), diff_id, size)
}

fn trivy_sbom(cache: &Path, image: &str) {
    berth_testkit::trivy_cyclonedx(image, cache);
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// `scan rss URL REPO TAG`: scans one image in this process and prints its peak RSS.
async fn rss_child(url: &str, repo: &str, tag: &str) {
    let before = vm_hwm_kib();
    let client = berth_oci::Client::new(url, None, Default::default()).unwrap();
    let t = Instant::now();
    let scanned = scan(&client, repo, tag, &LayerStore::default())
        .await
        .expect("scan");
    println!(
        "{} {} {:.2} {}",
        before,
        vm_hwm_kib(),
        secs(t.elapsed()),
        scanned.bytes_read
    );
}

async fn big_layer(registry: &DockerRegistry) {
    let dir = std::env::var("BERTH_PERF_SCAN_DIR").unwrap_or("/usr/lib/x86_64-linux-gnu".into());
    let work = tempfile::tempdir().unwrap();
    let (blob, diff_id, tar_bytes) = layer_of_dir(Path::new(&dir), work.path());
    let gz_path = work.path().join("layer.tar.gz");
    let gz_bytes = blob.bytes.len() as u64;
    let image = Image::of_layers(
        vec![(blob, diff_id, berth_testkit::image::OCI_LAYER)],
        "amd64",
    );
    let target = Target {
        host: registry.host(),
        credential: None,
    };
    push_image(&image, &target, "big/files", "v1")
        .await
        .unwrap();
    println!(
        "\n1. one layer: {dir} as a {:.0} MB tar, {:.0} MB gzip",
        tar_bytes as f64 / 1e6,
        gz_bytes as f64 / 1e6
    );
    let gzip = best(3, || async {
        run(Command::new("sh")
            .arg("-c")
            .arg(format!("gzip -dc '{}' > /dev/null", gz_path.display())));
    })
    .await;
    let client = berth_oci::Client::new(&registry.url(), None, Default::default()).unwrap();
    let berth = best(3, || async {
        scan(&client, "big/files", "v1", &LayerStore::default())
            .await
            .expect("scan");
    })
    .await;
    // Where the time goes: the registry's answer alone, and inflating alone.
    let fetch = best(3, || async {
        use futures::StreamExt;
        let (_, mut body) = client
            .get_blob("big/files", &image.layers[0].digest)
            .await
            .unwrap();
        while let Some(chunk) = body.next().await {
            chunk.unwrap();
        }
    })
    .await;
    let inflate = best(3, || async {
        let mut d = flate2::read::GzDecoder::new(image.layers[0].bytes.as_slice());
        std::io::copy(&mut d, &mut std::io::sink()).unwrap();
    })
    .await;
    // Each run with a cache of its own: nothing of the image known beforehand.
    let trivy_time = best(2, || async {
        let fresh = tempfile::tempdir().unwrap();
        trivy_sbom(fresh.path(), &format!("{}/big/files:v1", registry.host()));
    })
    .await;
    println!(
        "   gzip -dc {:.2} s · Berth {:.2} s · Trivy {:.2} s",
        secs(gzip),
        secs(berth),
        secs(trivy_time)
    );
    println!(
        "   Berth's time: the registry's answer alone {:.2} s, inflating alone (flate2) {:.2} s",
        secs(fetch),
        secs(inflate)
    );
    println!(
        "   ratio vs gzip -dc {:.2}× (target ≥ 1.5×) · vs Trivy {:.2}× (target ≥ 2.5×)",
        secs(gzip) / secs(berth),
        secs(trivy_time) / secs(berth)
    );
}

/// This machine's dpkg database, os-release and Python distributions: a base layer as real
/// images have.
fn base_layer() -> berth_testkit::image::FileLayer {
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (
            "etc/os-release".into(),
            std::fs::read("/etc/os-release").unwrap(),
        ),
        (
            "etc/debian_version".into(),
            std::fs::read("/etc/debian_version").unwrap(),
        ),
        (
            "var/lib/dpkg/status".into(),
            std::fs::read("/var/lib/dpkg/status").unwrap(),
        ),
    ];
    for entry in std::fs::read_dir("/usr/lib/python3/dist-packages")
        .into_iter()
        .flatten()
        .flatten()
    {
        let metadata = entry.path().join("METADATA");
        if entry.file_name().to_string_lossy().ends_with(".dist-info") && metadata.is_file() {
            files.push((
                metadata
                    .to_string_lossy()
                    .trim_start_matches('/')
                    .to_string(),
                std::fs::read(&metadata).unwrap(),
            ));
        }
    }
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    files_layer(&refs, Compression::Gzip)
}

async fn shared_base(registry: &DockerRegistry, images: usize) {
    let base = base_layer();
    let target = Target {
        host: registry.host(),
        credential: None,
    };
    for i in 0..images {
        let own = files_layer(
            &[(
                &format!("srv/app/node_modules/app-{i}/package.json"),
                format!(r#"{{"name": "app-{i}", "version": "1.0.{i}"}}"#).as_bytes(),
            )],
            Compression::Gzip,
        );
        let image = Image::of_layers(vec![base.clone(), own], "amd64");
        push_image(&image, &target, &format!("shared/app-{i:03}"), "v1")
            .await
            .unwrap();
    }
    println!(
        "\n2. {images} images sharing a base layer ({} kB gzip: dpkg and Python)",
        base.0.bytes.len() / 1000
    );
    let client = berth_oci::Client::new(&registry.url(), None, Default::default()).unwrap();
    let store = LayerStore::default();
    let t = Instant::now();
    let mut read = 0;
    for i in 0..images {
        read += scan(&client, &format!("shared/app-{i:03}"), "v1", &store)
            .await
            .expect("scan")
            .layers_read;
    }
    let berth = t.elapsed();
    let cache = tempfile::tempdir().unwrap();
    let t = Instant::now();
    for i in 0..images {
        trivy_sbom(
            cache.path(),
            &format!("{}/shared/app-{i:03}:v1", registry.host()),
        );
    }
    let trivy_time = t.elapsed();
    println!(
        "   Berth {:.2} s ({read} layers read for {} layers named) · Trivy, one cache, {:.2} s",
        secs(berth),
        images * 2,
        secs(trivy_time)
    );
    println!(
        "   ratio {:.1}× (target ≥ 10×)",
        secs(trivy_time) / secs(berth)
    );
}

async fn rematch(reports: usize) {
    use berth_scan::entity::{layer, report};
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

    let db_file = berth_testkit::db::TestDatabase::sqlite().unwrap();
    let db = berth_db::connect(&db_file.url).await.unwrap();
    let shutdown = berth_runtime::Shutdown::new();
    let running = berth_scan::start(
        berth_scan::Deps {
            db: db.clone(),
            bus: berth_bus::open(None, "perf").await.unwrap(),
            cache: berth_cache::open(None, "perf").await.unwrap(),
            internal_token: None,
            token_signer: None,
            registry_addr: "http://127.0.0.1:1".into(),
            space_addr: "http://127.0.0.1:1".into(),
            work: true,
            secrets: None,
            mirror: None,
        },
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        shutdown.clone(),
    )
    .await
    .unwrap();
    // Fifty base layers (this machine's packages), and one small layer of each image.
    let base_tar = {
        let (blob, _, _) = base_layer();
        let mut tar = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(blob.bytes.as_slice()),
            &mut tar,
        )
        .unwrap();
        tar
    };
    let (base_inventory, _) =
        berth_scan::inventory::layer::read(base_tar.as_slice(), None).unwrap();
    let base_json = serde_json::to_string(&base_inventory).unwrap();
    let now = chrono::Utc::now();
    let bases: Vec<String> = (0..50).map(|i| format!("sha256:{:064x}", i)).collect();
    let mut layers: Vec<layer::ActiveModel> = bases
        .iter()
        .map(|d| layer::ActiveModel {
            digest: Set(d.clone()),
            inventory: Set(base_json.clone()),
            bytes: Set(1),
            read_at: Set(now),
        })
        .collect();
    let mut rows = Vec::new();
    for i in 0..reports {
        let own = files_layer(
            &[(
                "usr/lib/python3/dist-packages/requests-2.19.1.dist-info/METADATA",
                format!("Name: requests\nVersion: 2.19.{}\n", i % 2).as_bytes(),
            )],
            Compression::None,
        );
        let (own_inventory, _) =
            berth_scan::inventory::layer::read(own.0.bytes.as_slice(), None).unwrap();
        let own_digest = format!("sha256:{:064x}", 1_000_000 + i);
        layers.push(layer::ActiveModel {
            digest: Set(own_digest.clone()),
            inventory: Set(serde_json::to_string(&own_inventory).unwrap()),
            bytes: Set(1),
            read_at: Set(now),
        });
        let digest = format!("sha256:{:064x}", 2_000_000 + i);
        let platforms = serde_json::json!([{"platform": "", "digest": digest,
            "layers": [bases[i % bases.len()], own_digest]}]);
        rows.push(report::ActiveModel {
            digest: Set(digest),
            status: Set("complete".into()),
            error: Set(String::new()),
            platforms: Set(platforms.to_string()),
            findings: Set("[]".into()),
            summary: Set(r#"{"critical":0,"high":0,"medium":0,"low":0,"unknown":0}"#.into()),
            unsupported: Set("[]".into()),
            db_version: Set(0),
            updated_at: Set(now),
            scanner: Set("berth".into()),
        });
    }
    for chunk in layers.chunks(500) {
        layer::Entity::insert_many(chunk.to_vec())
            .exec(&db)
            .await
            .unwrap();
    }
    for chunk in rows.chunks(500) {
        report::Entity::insert_many(chunk.to_vec())
            .exec(&db)
            .await
            .unwrap();
    }
    println!("\n3. re-matching {reports} stored inventories (50 base layers of this machine's packages, one own layer each)");
    let t = Instant::now();
    let (_, version) = running
        .scanning
        .import(
            berth_scan::database::Format::Json,
            REQUESTS_RECORD.as_bytes(),
            None,
        )
        .await
        .unwrap();
    loop {
        let left = report::Entity::find()
            .filter(report::Column::DbVersion.lt(version as i64))
            .count(&db)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "{left} reports not re-matched"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = t.elapsed();
    let found = report::Entity::find()
        .filter(report::Column::Findings.ne("[]"))
        .count(&db)
        .await
        .unwrap_or(0);
    println!(
        "   import to every report re-matched: {:.2} s (target < 5 s); {found} reports now have findings",
        secs(elapsed)
    );
    shutdown.trigger();
}

async fn rss(registry: &DockerRegistry) {
    let work = tempfile::tempdir().unwrap();
    // 1 GiB of incompressible bytes and this machine's dpkg database, as one gzip layer.
    let data = work.path().join("data");
    std::fs::create_dir_all(data.join("var/lib/dpkg")).unwrap();
    std::fs::copy("/var/lib/dpkg/status", data.join("var/lib/dpkg/status")).unwrap();
    run(Command::new("sh").arg("-c").arg(format!(
        "head -c 1073741824 /dev/urandom > '{}'",
        data.join("blob.bin").display()
    )));
    let (blob, diff_id, tar_bytes) = layer_of_dir(&data, work.path());
    let image = Image::of_layers(
        vec![(blob, diff_id, berth_testkit::image::OCI_LAYER)],
        "amd64",
    );
    let target = Target {
        host: registry.host(),
        credential: None,
    };
    push_image(&image, &target, "big/gib", "v1").await.unwrap();
    drop(image);
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["rss", &registry.url(), "big/gib", "v1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (before, peak): (u64, u64) = (fields[0].parse().unwrap(), fields[1].parse().unwrap());
    println!(
        "\n4. scanning a {:.2} GiB layer in a process of its own: {} s, peak RSS {:.0} MiB (at start {:.0} MiB; target < 150 MiB)",
        tar_bytes as f64 / (1u64 << 30) as f64,
        fields[2],
        peak as f64 / 1024.0,
        before as f64 / 1024.0
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("rss") {
        return rss_child(&args[2], &args[3], &args[4]).await;
    }
    let images: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let reports: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let trivy = berth_testkit::trivy();
    let registry = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    println!(
        "scan benchmarks (release build; Trivy at {})",
        trivy.display()
    );
    // `BERTH_PERF_ONLY=3` (or `1,4`): only those parts.
    let only = std::env::var("BERTH_PERF_ONLY").unwrap_or_default();
    let part = |n: &str| only.is_empty() || only.split(',').any(|p| p.trim() == n);
    if part("1") {
        big_layer(&registry).await;
    }
    if part("2") {
        shared_base(&registry, images).await;
    }
    if part("3") {
        rematch(reports).await;
    }
    if part("4") {
        rss(&registry).await;
    }
}
