//! Policies and executions against two real docker-registry processes.

use std::time::Duration;

use berth_auth::sealed::SecretBox;
use berth_proto::v1::{CreateRegistryRequest, Credential, Endpoint, Filter, Policy};
use berth_replication::error::ReplicationError;
use berth_testkit::db::TestDatabase;
use berth_testkit::image::{push_image, push_index, Image, Index, Target};
use berth_testkit::registry::{DockerRegistry, RegistryOptions};

struct Fixture {
    replication: berth_replication::Replication,
    source: DockerRegistry,
    destination: DockerRegistry,
    stop: berth_runtime::Shutdown,
    _dbs: (TestDatabase, TestDatabase),
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.stop.trigger();
    }
}

async fn fixture() -> Fixture {
    let source = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let destination = DockerRegistry::start(RegistryOptions {
        htpasswd: Some(("copier".into(), "copier-pass".into())),
        ..Default::default()
    })
    .await
    .unwrap();
    let (rdb, pdb) = (
        TestDatabase::sqlite().unwrap(),
        TestDatabase::sqlite().unwrap(),
    );
    let stop = berth_runtime::Shutdown::new();
    let token = berth_auth::tokens::generate();
    let registry = berth_registry::start(
        berth_registry::Deps {
            db: berth_db::connect(&rdb.url).await.unwrap(),
            bus: berth_bus::open(None, "t").await.unwrap(),
            secrets: SecretBox::from_base64(&SecretBox::generate_key()).unwrap(),
            internal_token: Some(token.clone()),
            health_interval: Duration::from_secs(3600),
        },
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        stop.child(),
    )
    .await
    .unwrap();
    for (name, url, credential) in [
        ("src", source.url(), None),
        (
            "dst",
            destination.url(),
            Some(Credential {
                username: "copier".into(),
                password: "copier-pass".into(),
            }),
        ),
    ] {
        registry
            .registries
            .create(CreateRegistryRequest {
                name: name.into(),
                kind: "distribution".into(),
                url,
                credential,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let running = berth_replication::start(
        berth_replication::Deps {
            db: berth_db::connect(&pdb.url).await.unwrap(),
            bus: berth_bus::open(None, "t").await.unwrap(),
            cache: berth_cache::open(None, "t").await.unwrap(),
            internal_token: Some(token),
            registry_addr: format!("http://{}", registry.addr),
            tuning: berth_replication::Tuning {
                task_attempts: 3,
                retry_backoff: Duration::from_millis(200),
                chunk_size: Some(64 * 1024),
                ..Default::default()
            },
            work: true,
        },
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        stop.child(),
    )
    .await
    .unwrap();
    Fixture {
        replication: running.replication,
        source,
        destination,
        stop,
        _dbs: (rdb, pdb),
    }
}

fn policy(name: &str, filters: Vec<Filter>) -> Policy {
    Policy {
        name: name.into(),
        source: Some(Endpoint {
            registry: "src".into(),
            space: "team".into(),
            ..Default::default()
        }),
        destination: Some(Endpoint {
            registry: "dst".into(),
            space: "mirror".into(),
            ..Default::default()
        }),
        filters,
        ..Default::default()
    }
}

async fn finished(r: &berth_replication::Replication, id: &str) -> berth_proto::v1::Execution {
    for _ in 0..400 {
        let e = r.get_execution(id).await.unwrap();
        if e.status != "running" && e.status != "pending" {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("execution {id} did not finish");
}

#[tokio::test]
async fn copies_what_the_filters_select_with_identical_digests_then_nothing() {
    let f = fixture().await;
    let src = Target {
        host: f.source.host(),
        credential: None,
    };
    let app = Image::new(&[(61, 30_000), (62, 8_000)], "amd64");
    let lib = Image::new(&[(61, 30_000), (63, 5_000)], "amd64");
    let multi = Index::new(vec![
        Image::new(&[(64, 4_000)], "amd64"),
        Image::new(&[(65, 4_000)], "arm64"),
    ]);
    push_image(&app, &src, "team/app", "v1").await.unwrap();
    push_image(&app, &src, "team/app", "latest").await.unwrap();
    push_image(&lib, &src, "team/lib", "v2").await.unwrap();
    push_index(&multi, &src, "team/multi", "v3").await.unwrap();
    push_image(&app, &src, "other/app", "v1").await.unwrap();

    let filters = vec![Filter {
        kind: "tag".into(),
        pattern: "v*".into(),
        exclude: false,
    }];
    f.replication
        .create_policy(policy("mirror", filters))
        .await
        .unwrap();
    let started = f.replication.run("mirror", "manual", false).await.unwrap();
    assert_eq!(started.status, "pending");
    let e = finished(&f.replication, &started.id).await;
    assert_eq!(
        (e.status.as_str(), e.total, e.succeeded, e.failed, e.skipped),
        ("succeeded", 3, 3, 0, 0),
        "{e:?}"
    );
    assert!(e.bytes > 50_000, "{e:?}");

    let dst = berth_oci::Client::new(
        &f.destination.url(),
        Some(berth_oci::Credential {
            username: "copier".into(),
            password: "copier-pass".into(),
        }),
        Default::default(),
    )
    .unwrap();
    assert_eq!(
        dst.manifest("mirror/app", "v1").await.unwrap().digest,
        app.manifest.digest
    );
    assert_eq!(
        dst.manifest("mirror/lib", "v2").await.unwrap().digest,
        lib.manifest.digest
    );
    assert_eq!(
        dst.manifest("mirror/multi", "v3").await.unwrap().digest,
        multi.manifest.digest
    );
    for child in &multi.images {
        assert_eq!(
            dst.manifest("mirror/multi", &child.manifest.digest)
                .await
                .unwrap()
                .digest,
            child.manifest.digest
        );
    }
    assert!(
        dst.head_manifest("mirror/app", "latest")
            .await
            .unwrap()
            .is_none(),
        "filtered out"
    );
    let mut catalog = dst.catalog().await.unwrap();
    catalog.sort();
    assert_eq!(
        catalog,
        vec!["mirror/app", "mirror/lib", "mirror/multi"],
        "nothing else is copied"
    );

    // A second run copies nothing.
    let again = finished(
        &f.replication,
        &f.replication
            .run("mirror", "manual", false)
            .await
            .unwrap()
            .id,
    )
    .await;
    assert_eq!(
        (
            again.status.as_str(),
            again.succeeded,
            again.skipped,
            again.bytes
        ),
        ("succeeded", 0, 3, 0),
        "{again:?}"
    );
    assert_eq!(
        f.replication
            .list_executions("mirror", 10)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn bad_policies_name_the_field() {
    let f = fixture().await;
    let cases = vec![
        (
            Policy {
                name: "Bad Name".into(),
                ..policy("x", vec![])
            },
            "name",
        ),
        (
            Policy {
                source: Some(Endpoint {
                    registry: "nope".into(),
                    space: String::new(),
                    ..Default::default()
                }),
                ..policy("a", vec![])
            },
            "source.registry",
        ),
        (
            Policy {
                destination: Some(Endpoint {
                    registry: "ghost".into(),
                    space: String::new(),
                    ..Default::default()
                }),
                ..policy("b", vec![])
            },
            "destination.registry",
        ),
        (
            Policy {
                destination: Some(Endpoint {
                    registry: "dst".into(),
                    space: "Bad Space".into(),
                    ..Default::default()
                }),
                ..policy("c", vec![])
            },
            "destination.space",
        ),
        (
            policy(
                "d",
                vec![Filter {
                    kind: "label".into(),
                    pattern: "x".into(),
                    exclude: false,
                }],
            ),
            "filters.kind",
        ),
        (
            policy(
                "e",
                vec![Filter {
                    kind: "tag".into(),
                    pattern: "".into(),
                    exclude: false,
                }],
            ),
            "filters.pattern",
        ),
        (
            Policy {
                trigger: Some(berth_proto::v1::Trigger {
                    kind: "cron".into(),
                    cron: "every day".into(),
                    ..Default::default()
                }),
                ..policy("g", vec![])
            },
            "trigger.cron",
        ),
        (
            Policy {
                trigger: Some(berth_proto::v1::Trigger {
                    kind: "hourly".into(),
                    cron: String::new(),
                    ..Default::default()
                }),
                ..policy("h", vec![])
            },
            "trigger.kind",
        ),
        (
            Policy {
                destination: Some(Endpoint {
                    registry: "src".into(),
                    space: "team".into(),
                    ..Default::default()
                }),
                ..policy("i", vec![])
            },
            "destination",
        ),
    ];
    for (p, field) in cases {
        match f.replication.create_policy(p).await {
            Err(ReplicationError::Invalid { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{field}: expected an invalid field, got {other:?}"),
        }
    }
    assert!(
        f.replication.list_policies().await.unwrap().is_empty(),
        "nothing was created"
    );
}

#[tokio::test]
async fn a_cron_policy_fires_on_time() {
    let f = fixture().await;
    let src = Target {
        host: f.source.host(),
        credential: None,
    };
    push_image(
        &Image::new(&[(91, 3_000)], "amd64"),
        &src,
        "team/cron",
        "v1",
    )
    .await
    .unwrap();
    let mut p = policy("every-second", vec![]);
    p.trigger = Some(berth_proto::v1::Trigger {
        kind: "cron".into(),
        cron: "* * * * * *".into(),
        ..Default::default()
    });
    f.replication.create_policy(p).await.unwrap();
    let fired = berth_testkit::wait_until(Duration::from_secs(8), || {
        let r = f.replication.clone();
        async move {
            r.list_executions("every-second", 10)
                .await
                .unwrap()
                .iter()
                .any(|e| e.status == "succeeded" && e.succeeded == 1)
        }
    })
    .await;
    assert!(fired, "the cron policy did not run");
    let dst = berth_oci::Client::new(
        &f.destination.url(),
        Some(berth_oci::Credential {
            username: "copier".into(),
            password: "copier-pass".into(),
        }),
        Default::default(),
    )
    .unwrap();
    assert!(dst
        .head_manifest("mirror/cron", "v1")
        .await
        .unwrap()
        .is_some());
}
