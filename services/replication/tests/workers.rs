//! Competing workers over RabbitMQ: one replication service in this process and one as its own
//! `berth-replication` process, sharing a PostgreSQL database, a RabbitMQ namespace and Redis.
//! Mid-execution the other process is killed (SIGKILL) and the broker is cut off from everyone
//! for a while; the execution still completes with every artifact copied once.

use std::process::{Command, Stdio};
use std::time::Duration;

use berth_auth::sealed::SecretBox;
use berth_proto::v1::{CreateRegistryRequest, Endpoint, Policy};
use berth_testkit::db::{Backend, TestDatabase};
use berth_testkit::image::{push_image, Image, Target};
use berth_testkit::proxy::TcpProxy;
use berth_testkit::registry::{DockerRegistry, RegistryOptions};

const IMAGES: usize = 12;

/// Kills the child on drop, so a failing test leaves no process behind.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_killed_worker_and_a_broker_outage_lose_no_task() {
    let source = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let destination = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let stop = berth_runtime::Shutdown::new();
    let token = berth_auth::tokens::generate();
    let rdb = TestDatabase::sqlite().unwrap();
    let registry = berth_registry::start(
        berth_registry::Deps {
            db: berth_db::connect(&rdb.url).await.unwrap(),
            bus: berth_bus::open(None, "t").await.unwrap(),
            secrets: SecretBox::from_base64(&SecretBox::generate_key()).unwrap(),
            internal_token: Some(token.clone()),
            token_signer: None,
            health_interval: Duration::from_secs(3600),
        },
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        stop.child(),
    )
    .await
    .unwrap();
    for (name, url) in [("src", source.url()), ("dst", destination.url())] {
        registry
            .registries
            .create(CreateRegistryRequest {
                name: name.into(),
                kind: "distribution".into(),
                url,
                ..Default::default()
            })
            .await
            .unwrap();
    }

    // Everyone reaches the broker through this proxy; cutting it is a broker outage.
    let broker = TcpProxy::start(([127, 0, 0, 1], 5672).into())
        .await
        .unwrap();
    let bus_url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", broker.port);
    let namespace = berth_testkit::unique("workers");
    let db = TestDatabase::new(Backend::Postgres).await.unwrap();
    let here = berth_replication::start(
        berth_replication::Deps {
            db: berth_db::connect(&db.url).await.unwrap(),
            bus: berth_bus::open(Some(&bus_url), &namespace).await.unwrap(),
            cache: berth_cache::open(Some("redis://127.0.0.1:6379"), &namespace)
                .await
                .unwrap(),
            internal_token: Some(token.clone()),
            token_signer: None,
            registry_addr: format!("http://{}", registry.addr),
            scan_addr: None,
            tuning: berth_replication::Tuning {
                workers: 2,
                retry_backoff: Duration::from_millis(200),
                ..Default::default()
            },
            work: true,
        },
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        stop.child(),
    )
    .await
    .unwrap();
    let mut other = Child(
        Command::new(env!("CARGO_BIN_EXE_berth-replication"))
            .env("BERTH_DATABASE_URL", &db.url)
            .env("BERTH_BUS_URL", &bus_url)
            .env("BERTH_CACHE_URL", "redis://127.0.0.1:6379")
            .env("BERTH_NAMESPACE", &namespace)
            .env("BERTH_INTERNAL_TOKEN", &token)
            .env("BERTH_REGISTRY_ADDR", format!("http://{}", registry.addr))
            .env("BERTH_LISTEN", "127.0.0.1:0")
            .env("BERTH_REPLICATION_WORKERS", "4")
            .env("BERTH_LOG_FORMAT", "plain")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );

    let target = Target {
        host: source.host(),
        credential: None,
    };
    let images: Vec<Image> = (0..IMAGES)
        .map(|i| Image::new(&[(500, 40_000), (501 + i as u64, 120_000)], "amd64"))
        .collect();
    for (i, image) in images.iter().enumerate() {
        push_image(image, &target, &format!("apps/app-{i}"), "v1")
            .await
            .unwrap();
    }
    let r = here.replication.clone();
    r.create_policy(Policy {
        name: "dr".into(),
        source: Some(Endpoint {
            registry: "src".into(),
            space: "apps".into(),
            ..Default::default()
        }),
        destination: Some(Endpoint {
            registry: "dst".into(),
            space: "dr".into(),
            ..Default::default()
        }),
        // Slow enough that both processes hold tasks when the other one dies.
        bandwidth_limit: 300_000,
        ..Default::default()
    })
    .await
    .unwrap();
    let e = r.run("dr", "manual", false).await.unwrap();
    let busy = berth_testkit::wait_until(Duration::from_secs(20), || async {
        r.list_tasks(&e.id, "running", "", 100)
            .await
            .is_ok_and(|t| t.len() >= 3)
    })
    .await;
    assert!(
        busy,
        "both workers took tasks: {:?} {:?}",
        r.get_execution(&e.id).await,
        r.list_tasks(&e.id, "", "", 100).await
    );
    other.0.kill().unwrap();
    other.0.wait().unwrap();
    broker.cut();
    tokio::time::sleep(Duration::from_secs(2)).await;
    broker.restore().await.unwrap();

    let mut done = None;
    for _ in 0..600 {
        let now = r.get_execution(&e.id).await.unwrap();
        if now.status != "running" && now.status != "pending" {
            done = Some(now);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let done = done.expect("the execution finished");
    assert_eq!(
        (
            done.status.as_str(),
            done.total,
            done.succeeded,
            done.failed
        ),
        ("succeeded", IMAGES as u64, IMAGES as u64, 0),
        "{done:?}"
    );
    // The shared base layer crossed once, not once per worker: the other images mounted it,
    // whichever worker copied them (what a killed worker moved is not counted).
    let own: u64 = images
        .iter()
        .map(|i| i.layers[1].size() + i.config.size() + i.manifest.size())
        .sum();
    let base = images[0].layers[0].size();
    assert!(
        done.bytes <= own + base,
        "{} bytes moved; own layers, configs and manifests {own}, base {base}",
        done.bytes
    );
    let tasks = r.list_tasks(&e.id, "", "", 100).await.unwrap();
    assert_eq!(tasks.len(), IMAGES, "one task per artifact, none lost");
    assert!(tasks.iter().all(|t| t.status == "succeeded"), "{tasks:?}");
    assert!(
        tasks.iter().any(|t| t.attempts > 1),
        "some task was taken over after the kill or the outage: {tasks:?}"
    );
    let dst = berth_oci::Client::new(&destination.url(), None, Default::default()).unwrap();
    for (i, image) in images.iter().enumerate() {
        assert_eq!(
            dst.manifest(&format!("dr/app-{i}"), "v1")
                .await
                .unwrap()
                .digest,
            image.manifest.digest
        );
    }
    stop.trigger();
}
