//! Policies and executions against two real docker-registry processes.

use std::time::Duration;

use berth_auth::sealed::SecretBox;
use berth_proto::v1::{CreateRegistryRequest, Credential, Endpoint, Filter, Policy};
use berth_replication::error::ReplicationError;
use berth_testkit::db::TestDatabase;
use berth_testkit::image::{push_image, push_index, Image, Index, Target};
use berth_testkit::proxy::TcpProxy;
use berth_testkit::registry::{DockerRegistry, RegistryOptions};

struct Fixture {
    replication: berth_replication::Replication,
    /// The registry service's registries, to integrate more.
    registries: berth_registry::Registries,
    source: DockerRegistry,
    destination: DockerRegistry,
    /// Stands between Berth and the destination: cut it to take the destination away.
    proxy: TcpProxy,
    stop: berth_runtime::Shutdown,
    _dbs: (TestDatabase, TestDatabase),
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.stop.trigger();
    }
}

async fn fixture() -> Fixture {
    fixture_with(3).await
}

/// Two registries integrated as `src` and `dst` (through a proxy), and a replication service
/// whose tasks get `attempts` attempts.
async fn fixture_with(attempts: u32) -> Fixture {
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
            token_signer: None,
            health_interval: Duration::from_secs(3600),
        },
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        stop.child(),
    )
    .await
    .unwrap();
    let proxy = TcpProxy::start(([127, 0, 0, 1], destination.port).into())
        .await
        .unwrap();
    for (name, url, credential) in [
        ("src", source.url(), None),
        (
            "dst",
            format!("http://127.0.0.1:{}", proxy.port),
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
            token_signer: None,
            registry_addr: format!("http://{}", registry.addr),
            scan_addr: None,
            tuning: berth_replication::Tuning {
                task_attempts: attempts,
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
        registries: registry.registries.clone(),
        source,
        destination,
        proxy,
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
            "filters[0].kind",
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
            "filters[0].pattern",
        ),
        (
            // A character no tag has: the pattern could never match.
            policy(
                "e2",
                vec![
                    Filter {
                        kind: "repository".into(),
                        pattern: "team/**".into(),
                        exclude: false,
                    },
                    Filter {
                        kind: "tag".into(),
                        pattern: "v1.[0-9]".into(),
                        exclude: false,
                    },
                ],
            ),
            "filters[1].pattern",
        ),
        (
            // Within one registry, a source of the whole registry holds the destination: each
            // run would copy the previous run's copies one level deeper.
            Policy {
                source: Some(Endpoint {
                    registry: "src".into(),
                    space: String::new(),
                    ..Default::default()
                }),
                destination: Some(Endpoint {
                    registry: "src".into(),
                    space: "mirror".into(),
                    ..Default::default()
                }),
                ..policy("e3", vec![])
            },
            "source.space",
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
        (
            Policy {
                destination: Some(Endpoint {
                    registry: "dst".into(),
                    space: "m".into(),
                    replace_count: Some(-2),
                }),
                ..policy("j", vec![])
            },
            "destination.replace_count",
        ),
        (
            Policy {
                destination: Some(Endpoint {
                    registry: "dst".into(),
                    space: "m".into(),
                    replace_count: Some(2),
                }),
                ..policy(
                    "k",
                    vec![Filter {
                        kind: "repository".into(),
                        pattern: "team/app".into(),
                        exclude: false,
                    }],
                )
            },
            "destination.replace_count",
        ),
        (
            Policy {
                trigger: Some(berth_proto::v1::Trigger {
                    kind: "cron".into(),
                    cron: "0 * * * *".into(),
                    time_zone: "Mars/Olympus".into(),
                }),
                ..policy("l", vec![])
            },
            "trigger.time_zone",
        ),
        (
            Policy {
                platforms: vec!["linux".into()],
                ..policy("m", vec![])
            },
            "platforms",
        ),
        (
            Policy {
                concurrency: 1000,
                ..policy("n", vec![])
            },
            "concurrency",
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

impl Fixture {
    fn dst(&self) -> berth_oci::Client {
        berth_oci::Client::new(
            &self.destination.url(),
            Some(berth_oci::Credential {
                username: "copier".into(),
                password: "copier-pass".into(),
            }),
            Default::default(),
        )
        .unwrap()
    }

    fn src_target(&self) -> Target {
        Target {
            host: self.source.host(),
            credential: None,
        }
    }

    async fn run(&self, policy: &str, verify: bool) -> berth_proto::v1::Execution {
        let e = self
            .replication
            .run(policy, "manual", verify)
            .await
            .unwrap();
        finished(&self.replication, &e.id).await
    }

    async fn tasks(&self, execution: &str) -> Vec<berth_proto::v1::Task> {
        self.replication
            .list_tasks(execution, "", "", 1000)
            .await
            .unwrap()
    }
}

fn index_entry(image: &Image) -> (&'static str, String, u64) {
    (
        berth_testkit::image::OCI_MANIFEST,
        image.manifest.digest.clone(),
        image.manifest.size(),
    )
}

#[tokio::test]
async fn multi_arch_indexes_arrive_with_their_signatures_and_platforms_can_be_picked() {
    let f = fixture().await;
    let amd = Image::new(&[(71, 5_000)], "amd64");
    let arm = Image::new(&[(72, 5_000)], "arm64");
    let multi = Index::new(vec![amd.clone(), arm.clone()]);
    push_index(&multi, &f.src_target(), "team/multi", "v1")
        .await
        .unwrap();
    let index_subject = (
        berth_testkit::image::OCI_INDEX,
        multi.manifest.digest.as_str(),
        multi.manifest.size(),
    );
    let sig = berth_testkit::image::push_referrer(&f.source.url(), "team/multi", index_subject, 1)
        .await
        .unwrap();
    let (t, d, n) = index_entry(&amd);
    let amd_sig = berth_testkit::image::push_referrer(&f.source.url(), "team/multi", (t, &d, n), 2)
        .await
        .unwrap();

    let p = policy(
        "signed",
        vec![Filter {
            kind: "tag".into(),
            pattern: "v1".into(),
            exclude: false,
        }],
    );
    // Referrers travel by default: the policy leaves `copy_referrers` unset.
    assert_eq!(p.copy_referrers, None);
    f.replication.create_policy(p).await.unwrap();
    let e = f.run("signed", false).await;
    assert_eq!((e.status.as_str(), e.succeeded), ("succeeded", 1), "{e:?}");
    let dst = f.dst();
    assert_eq!(
        dst.manifest("mirror/multi", "v1").await.unwrap().digest,
        multi.manifest.digest
    );
    for m in [&sig, &amd_sig] {
        assert_eq!(
            dst.manifest("mirror/multi", &m.digest)
                .await
                .unwrap()
                .digest,
            m.digest,
            "the signature arrives unchanged"
        );
    }
    let found = dst
        .referrers("mirror/multi", &multi.manifest.digest)
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|d| d.digest.clone()).collect::<Vec<_>>(),
        vec![sig.digest.clone()],
        "the destination lists the index's signature"
    );
    let found = dst.referrers("mirror/multi", &d).await.unwrap();
    assert_eq!(found.len(), 1, "and the amd64 image's");

    // Only amd64: the index is rewritten with one entry; the arm64 image stays behind.
    let mut p = policy("amd64-only", vec![]);
    p.destination = Some(Endpoint {
        registry: "dst".into(),
        space: "amd".into(),
        ..Default::default()
    });
    p.platforms = vec!["linux/amd64".into()];
    p.copy_referrers = Some(false);
    f.replication.create_policy(p).await.unwrap();
    let e = f.run("amd64-only", false).await;
    assert_eq!(
        (e.status.as_str(), e.succeeded),
        ("succeeded", 1),
        "{e:?} {:?}",
        f.tasks(&e.id).await
    );
    let copied = dst.manifest("amd/multi", "v1").await.unwrap();
    let children = copied.children();
    assert_eq!(children.len(), 1, "{children:?}");
    assert_eq!(children[0].digest, amd.manifest.digest);
    assert!(dst
        .head_manifest("amd/multi", &arm.manifest.digest)
        .await
        .unwrap()
        .is_none());
    assert!(
        dst.head_manifest("amd/multi", &amd_sig.digest)
            .await
            .unwrap()
            .is_none(),
        "copy_referrers: false leaves signatures behind"
    );
    // The rewritten index is remembered too: a second run moves nothing.
    let again = f.run("amd64-only", false).await;
    assert_eq!((again.succeeded, again.bytes), (0, 0), "{again:?}");
}

#[tokio::test]
async fn recorded_digests_skip_without_asking_the_destination_and_verify_rechecks() {
    let f = fixture().await;
    // One layer is larger than the chunk size (64 KiB here), so it goes up in chunks.
    let big = Image::new(&[(81, 300_000), (82, 2_000)], "amd64");
    let small = Image::new(&[(81, 300_000), (83, 2_000)], "amd64");
    push_image(&big, &f.src_target(), "team/big", "v1")
        .await
        .unwrap();
    push_image(&small, &f.src_target(), "team/small", "v1")
        .await
        .unwrap();
    let mut p = policy("flat", vec![]);
    p.destination = Some(Endpoint {
        registry: "dst".into(),
        space: "flat".into(),
        replace_count: Some(-1),
    });
    f.replication.create_policy(p).await.unwrap();
    let first = f.run("flat", false).await;
    assert_eq!(
        (first.status.as_str(), first.total, first.succeeded),
        ("succeeded", 2, 2),
        "{first:?}"
    );
    let dst = f.dst();
    assert_eq!(
        dst.manifest("flat/big", "v1").await.unwrap().digest,
        big.manifest.digest,
        "the chunked layer arrives intact (the registry checked its digest)"
    );
    assert_eq!(
        dst.manifest("flat/small", "v1").await.unwrap().digest,
        small.manifest.digest
    );
    let shared = &big.layers[0];
    assert!(
        first.bytes < 2 * shared.size(),
        "the shared layer crossed once, then was mounted: {first:?}"
    );

    // The second run trusts the records: no task at all, nothing moved.
    let second = f.run("flat", false).await;
    assert_eq!(
        (second.status.as_str(), second.skipped, second.bytes),
        ("succeeded", 2, 0),
        "{second:?}"
    );
    assert!(f.tasks(&second.id).await.is_empty(), "no task was queued");

    // A verify run asks the destination again; a changed source tag is seen without verify.
    let verify = f.run("flat", true).await;
    assert_eq!((verify.skipped, verify.bytes), (2, 0), "{verify:?}");
    assert_eq!(f.tasks(&verify.id).await.len(), 2);
    push_image(&small, &f.src_target(), "team/big", "v1")
        .await
        .unwrap();
    let p = f
        .replication
        .update_policy(Policy {
            r#override: true,
            ..f.replication.get_policy("flat").await.unwrap()
        })
        .await
        .unwrap();
    assert!(p.r#override);
    let changed = f.run("flat", false).await;
    assert_eq!((changed.succeeded, changed.skipped), (1, 1), "{changed:?}");
    assert_eq!(
        dst.manifest("flat/big", "v1").await.unwrap().digest,
        small.manifest.digest
    );
}

#[tokio::test]
async fn cancelling_interrupts_transfers_in_flight() {
    let f = fixture().await;
    push_image(
        &Image::new(&[(84, 400_000)], "amd64"),
        &f.src_target(),
        "team/slow",
        "v1",
    )
    .await
    .unwrap();
    let mut p = policy("slow", vec![]);
    p.bandwidth_limit = 40_000;
    f.replication.create_policy(p).await.unwrap();
    let e = f.replication.run("slow", "manual", false).await.unwrap();
    let moving = berth_testkit::wait_until(Duration::from_secs(10), || async {
        f.replication
            .get_execution(&e.id)
            .await
            .is_ok_and(|e| e.bytes > 0)
    })
    .await;
    assert!(moving, "the transfer started");
    let started = std::time::Instant::now();
    let cancelled = f.replication.cancel(&e.id).await.unwrap();
    assert_eq!(cancelled.status, "cancelled");
    // The worker lets go within a tick; nothing lands at the destination.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let tasks = f.tasks(&e.id).await;
    assert_eq!(tasks[0].status, "cancelled", "{tasks:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(f
        .dst()
        .head_manifest("mirror/slow", "v1")
        .await
        .unwrap()
        .is_none());
    // A cancelled execution no longer blocks the policy.
    let second = f.replication.run("slow", "manual", false).await.unwrap();
    // Configured to overlap, a policy may run again while an execution is active.
    let overlapping = Policy {
        allow_overlap: true,
        ..f.replication.get_policy("slow").await.unwrap()
    };
    f.replication.update_policy(overlapping).await.unwrap();
    assert!(
        f.replication.run("slow", "manual", false).await.is_ok(),
        "overlap allowed"
    );
    f.replication.cancel(&second.id).await.unwrap();
}

/// Regression: the progress tick took the policy's concurrency slot a second time, so with
/// `concurrency: 1` any task longer than a tick hung forever.
#[tokio::test]
async fn concurrency_one_tasks_longer_than_a_tick_complete_and_cancel() {
    let f = fixture().await;
    for (seed, repo) in [(91, "team/long"), (92, "team/cut")] {
        push_image(
            &Image::new(&[(seed, 120_000)], "amd64"),
            &f.src_target(),
            repo,
            "v1",
        )
        .await
        .unwrap();
    }
    let mut p = policy("one", vec![repo_filter("team/long")]);
    p.concurrency = 1;
    // About three seconds of copying: several progress ticks.
    p.bandwidth_limit = 40_000;
    f.replication.create_policy(p).await.unwrap();
    let e = f.replication.run("one", "manual", false).await.unwrap();
    let done = finished(&f.replication, &e.id).await;
    assert_eq!(done.status, "succeeded", "{done:?}");
    assert_eq!(done.succeeded, 1);

    let mut p = policy("two", vec![repo_filter("team/cut")]);
    p.concurrency = 1;
    p.bandwidth_limit = 20_000;
    f.replication.create_policy(p).await.unwrap();
    let e = f.replication.run("two", "manual", false).await.unwrap();
    let moving = berth_testkit::wait_until(Duration::from_secs(10), || async {
        f.replication
            .get_execution(&e.id)
            .await
            .is_ok_and(|e| e.bytes > 0)
    })
    .await;
    assert!(moving, "the transfer started");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    f.replication.cancel(&e.id).await.unwrap();
    let let_go = berth_testkit::wait_until(Duration::from_secs(5), || async {
        f.tasks(&e.id).await[0].status == "cancelled"
    })
    .await;
    assert!(
        let_go,
        "the task let go of its slot and stopped: {:?}",
        f.tasks(&e.id).await
    );
}

/// Regression: tags of a repository sharing layers (`v1`, `v2`, `v3` on one base) failed to
/// copy now and then: a second write of a blob already committed in the repository made
/// Distribution refuse a sibling's manifest (`DIGEST_INVALID`, `MANIFEST_BLOB_UNKNOWN`).
#[tokio::test]
async fn tags_sharing_layers_all_arrive_with_their_digests() {
    let f = fixture().await;
    let data = berth_testkit::image::shared_layer_dataset("team", 30, 3);
    berth_testkit::image::push_dataset(&data, &f.src_target())
        .await
        .unwrap();
    f.replication
        .create_policy(policy("shared", vec![]))
        .await
        .unwrap();
    let e = f.run("shared", false).await;
    let failed: Vec<_> = f
        .tasks(&e.id)
        .await
        .into_iter()
        .filter(|t| t.status != "succeeded")
        .collect();
    assert_eq!(
        (e.status.as_str(), e.succeeded, e.failed),
        ("succeeded", 90, 0),
        "{failed:?}"
    );
    let dst = f.dst();
    for (repo, tag, image) in &data {
        let copied = repo.replacen("team/", "mirror/", 1);
        assert_eq!(
            dst.manifest(&copied, tag).await.unwrap().digest,
            image.manifest.digest,
            "{copied}:{tag}"
        );
    }
}

#[tokio::test]
async fn a_destination_outage_is_retried_until_it_returns() {
    let f = fixture_with(8).await;
    let image = Image::new(&[(85, 20_000)], "amd64");
    push_image(&image, &f.src_target(), "team/app", "v1")
        .await
        .unwrap();
    f.replication
        .create_policy(policy("dr", vec![]))
        .await
        .unwrap();
    f.proxy.cut();
    let e = f.replication.run("dr", "manual", false).await.unwrap();
    let retried = berth_testkit::wait_until(Duration::from_secs(10), || async {
        f.tasks(&e.id)
            .await
            .first()
            .is_some_and(|t| t.attempts >= 2)
    })
    .await;
    assert!(
        retried,
        "the task was retried while the destination was away"
    );
    f.proxy.restore().await.unwrap();
    let done = finished(&f.replication, &e.id).await;
    assert_eq!(
        (done.status.as_str(), done.succeeded),
        ("succeeded", 1),
        "{done:?}"
    );
    assert_eq!(
        f.dst().manifest("mirror/app", "v1").await.unwrap().digest,
        image.manifest.digest
    );
}

#[tokio::test]
async fn a_destination_that_stays_away_fails_the_task_with_a_clear_error() {
    let f = fixture_with(3).await;
    push_image(
        &Image::new(&[(86, 2_000)], "amd64"),
        &f.src_target(),
        "team/app",
        "v1",
    )
    .await
    .unwrap();
    f.replication
        .create_policy(policy("dr", vec![]))
        .await
        .unwrap();
    f.proxy.cut();
    let e = f.run("dr", false).await;
    assert_eq!((e.status.as_str(), e.failed), ("failed", 1), "{e:?}");
    let task = &f.tasks(&e.id).await[0];
    assert_eq!(task.attempts, 3);
    assert!(
        task.error.contains("after 3 attempts") && task.error.contains("127.0.0.1"),
        "{}",
        task.error
    );
}

#[tokio::test]
async fn a_notifying_source_is_trusted_until_it_announces_a_change() {
    let f = fixture().await;
    let v1 = Image::new(&[(89, 3_000)], "amd64");
    let v2 = Image::new(&[(90, 3_000)], "amd64");
    push_image(&v1, &f.src_target(), "team/app", "v1")
        .await
        .unwrap();
    let mut p = policy("trusting", vec![]);
    p.r#override = true;
    f.replication.create_policy(p).await.unwrap();
    // The source starts sending notifications (here: one push event).
    let pushed = |digest: &str| berth_proto::v1::ArtifactPushed {
        registry: "src".into(),
        repository: "team/app".into(),
        tag: "v1".into(),
        digest: digest.into(),
        ..Default::default()
    };
    f.replication
        .on_push(&pushed(&v1.manifest.digest))
        .await
        .unwrap();
    assert_eq!(f.run("trusting", false).await.succeeded, 1);

    // Retagged behind Berth's back (no event): the record is trusted, nothing is asked.
    push_image(&v2, &f.src_target(), "team/app", "v1")
        .await
        .unwrap();
    let trusted = f.run("trusting", false).await;
    assert_eq!((trusted.skipped, trusted.succeeded), (1, 0), "{trusted:?}");
    // The event arrives: the record is forgotten and the next run copies the new digest.
    f.replication
        .on_push(&pushed(&v2.manifest.digest))
        .await
        .unwrap();
    let copied = f.run("trusting", false).await;
    assert_eq!(copied.succeeded, 1, "{copied:?}");
    assert_eq!(
        f.dst().manifest("mirror/app", "v1").await.unwrap().digest,
        v2.manifest.digest
    );
    // A verify run asks everything again.
    push_image(&v1, &f.src_target(), "team/app", "v1")
        .await
        .unwrap();
    let verified = f.run("trusting", true).await;
    assert_eq!(verified.succeeded, 1, "{verified:?}");
}

#[tokio::test]
async fn exact_tags_skip_the_tag_lists_and_absent_ones_are_skipped_not_failed() {
    let f = fixture().await;
    push_image(
        &Image::new(&[(92, 2_000)], "amd64"),
        &f.src_target(),
        "team/has",
        "v1",
    )
    .await
    .unwrap();
    push_image(
        &Image::new(&[(93, 2_000)], "amd64"),
        &f.src_target(),
        "team/lacks",
        "v2",
    )
    .await
    .unwrap();
    f.replication
        .create_policy(policy(
            "exact",
            vec![Filter {
                kind: "tag".into(),
                pattern: "v1".into(),
                exclude: false,
            }],
        ))
        .await
        .unwrap();
    let e = f.run("exact", false).await;
    assert_eq!(
        (e.status.as_str(), e.total, e.succeeded, e.skipped, e.failed),
        ("succeeded", 2, 1, 1, 0),
        "{e:?}"
    );
    let tasks = f.tasks(&e.id).await;
    let lacking = tasks
        .iter()
        .find(|t| t.source_repository == "team/lacks")
        .unwrap();
    assert_eq!(lacking.error, "the source has no such tag");
}

#[tokio::test]
async fn cancelled_tasks_that_have_not_started_never_start() {
    let f = fixture().await;
    for (i, repo) in ["team/one", "team/two"].iter().enumerate() {
        push_image(
            &Image::new(&[(94 + i as u64, 200_000)], "amd64"),
            &f.src_target(),
            repo,
            "v1",
        )
        .await
        .unwrap();
    }
    let mut p = policy("one-at-a-time", vec![]);
    p.concurrency = 1;
    p.bandwidth_limit = 50_000;
    f.replication.create_policy(p).await.unwrap();
    let e = f
        .replication
        .run("one-at-a-time", "manual", false)
        .await
        .unwrap();
    let moving = berth_testkit::wait_until(Duration::from_secs(10), || async {
        f.replication
            .get_execution(&e.id)
            .await
            .is_ok_and(|e| e.bytes > 0)
    })
    .await;
    assert!(moving, "the first transfer started");
    f.replication.cancel(&e.id).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let tasks = f.tasks(&e.id).await;
    assert!(tasks.iter().all(|t| t.status == "cancelled"), "{tasks:?}");
    assert!(
        tasks.iter().any(|t| t.bytes == 0),
        "the waiting task never moved a byte: {tasks:?}"
    );
    let dst = f.dst();
    for repo in ["mirror/one", "mirror/two"] {
        assert!(dst.head_manifest(repo, "v1").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn the_sweeper_ends_executions_whose_end_a_dead_worker_did_not_record() {
    use sea_orm::ConnectionTrait;
    let f = fixture().await;
    push_image(
        &Image::new(&[(96, 2_000)], "amd64"),
        &f.src_target(),
        "team/app",
        "v1",
    )
    .await
    .unwrap();
    f.replication
        .create_policy(policy("swept", vec![]))
        .await
        .unwrap();
    let e = f.run("swept", false).await;
    assert_eq!(e.status, "succeeded");
    // The worker settled the last task, then died before recording the execution's end.
    let db = berth_db::connect(&f._dbs.1.url).await.unwrap();
    db.execute_unprepared(&format!(
        "UPDATE replication_executions SET status = 'running', finished_at = NULL WHERE id = '{}'",
        e.id
    ))
    .await
    .unwrap();
    assert_eq!(
        f.replication.get_execution(&e.id).await.unwrap().status,
        "running"
    );
    assert_eq!(f.replication.sweep().await.unwrap(), 1);
    let swept = f.replication.get_execution(&e.id).await.unwrap();
    assert_eq!(
        (swept.status.as_str(), swept.succeeded),
        ("succeeded", 1),
        "{swept:?}"
    );
    // Nothing else to sweep.
    assert_eq!(f.replication.sweep().await.unwrap(), 0);
}

#[tokio::test]
async fn planning_again_changes_neither_tasks_nor_counts() {
    use sea_orm::ConnectionTrait;
    let f = fixture().await;
    push_image(
        &Image::new(&[(97, 2_000)], "amd64"),
        &f.src_target(),
        "team/app",
        "v1",
    )
    .await
    .unwrap();
    f.replication
        .create_policy(policy("replanned", vec![]))
        .await
        .unwrap();
    let e = f.run("replanned", false).await;
    assert_eq!((e.total, e.succeeded, e.skipped), (1, 1, 0), "{e:?}");
    // As if the planning job were delivered again after failing midway: the execution is still
    // running, its task done and recorded.
    let db = berth_db::connect(&f._dbs.1.url).await.unwrap();
    db.execute_unprepared(&format!(
        "UPDATE replication_executions SET status = 'running', finished_at = NULL WHERE id = '{}'",
        e.id
    ))
    .await
    .unwrap();
    f.replication.plan(&e.id).await.unwrap();
    let again = f.replication.get_execution(&e.id).await.unwrap();
    assert_eq!(
        (
            again.status.as_str(),
            again.total,
            again.succeeded,
            again.skipped
        ),
        ("succeeded", 1, 1, 0),
        "{again:?}"
    );
    assert_eq!(f.tasks(&e.id).await.len(), 1);
}

fn repo_filter(pattern: &str) -> Filter {
    Filter {
        kind: "repository".into(),
        pattern: pattern.into(),
        exclude: false,
    }
}

/// Regression: a failed delete was acked and lost, deleting by digest removed other tags on
/// the same digest, and the source was never asked. Deletions now propagate as retried tasks
/// that delete only the tag the policy put there, once the source confirms it is gone.
#[tokio::test]
async fn deletions_propagate_only_what_the_policy_put_once_gone_at_the_source() {
    let f = fixture_with(10).await;
    let image = Image::new(&[(93, 6_000)], "amd64");
    for tag in ["v1", "v2"] {
        push_image(&image, &f.src_target(), "team/del", tag)
            .await
            .unwrap();
    }
    let mut p = policy("prop", vec![repo_filter("team/del")]);
    p.delete_propagation = true;
    f.replication.create_policy(p).await.unwrap();
    let e = f.run("prop", false).await;
    assert_eq!(e.succeeded, 2, "{e:?}");
    let (src, dst) = (
        berth_oci::Client::new(&f.source.url(), None, Default::default()).unwrap(),
        f.dst(),
    );
    // A tag at the destination the policy did not put there, on the same digest.
    let m = dst.manifest("mirror/del", "v1").await.unwrap();
    dst.put_manifest(
        "mirror/del",
        "keep",
        &m.media_type,
        bytes::Bytes::from(m.bytes.clone()),
    )
    .await
    .unwrap();
    let deleted = |tag: &str| berth_proto::v1::ArtifactDeleted {
        registry: "src".into(),
        repository: "team/del".into(),
        tag: tag.into(),
        digest: String::new(),
    };
    let digest_at = |tag: &'static str| {
        let dst = dst.clone();
        async move {
            dst.head_manifest("mirror/del", tag)
                .await
                .unwrap()
                .map(|d| d.digest)
        }
    };
    let last_execution = || async {
        let all = f.replication.list_executions("prop", 10).await.unwrap();
        finished(&f.replication, &all[0].id).await
    };

    // v1 goes at the source (v2 stays, same digest): only v1 goes at the destination.
    berth_replication::deletes::delete_tag(&src, "team/del", "v1", &m.digest)
        .await
        .unwrap();
    assert!(src.head_manifest("team/del", "v2").await.unwrap().is_some());
    assert!(src.head_manifest("team/del", "v1").await.unwrap().is_none());
    f.replication.on_delete(&deleted("v1")).await.unwrap();
    let e = last_execution().await;
    assert_eq!((e.trigger.as_str(), e.succeeded), ("delete", 1), "{e:?}");
    assert_eq!(digest_at("v1").await, None);
    for tag in ["v2", "keep"] {
        assert_eq!(digest_at(tag).await, Some(m.digest.clone()), "{tag} stays");
    }

    // An event for a tag the source still has deletes nothing.
    f.replication.on_delete(&deleted("v2")).await.unwrap();
    let e = last_execution().await;
    assert_eq!((e.succeeded, e.skipped), (0, 1), "{e:?}");
    assert_eq!(digest_at("v2").await, Some(m.digest.clone()));

    // The destination away while v2's deletion propagates: retried until it returns.
    berth_replication::deletes::delete_tag(&src, "team/del", "v2", &m.digest)
        .await
        .unwrap();
    assert_eq!(
        src.head_manifest("team/del", "v2").await.unwrap(),
        None,
        "{:?}",
        src.tags("team/del").await
    );
    f.proxy.cut();
    f.replication.on_delete(&deleted("v2")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    f.proxy.restore().await.unwrap();
    let e = last_execution().await;
    assert_eq!(
        (e.status.as_str(), e.succeeded),
        ("succeeded", 1),
        "{e:?} {:?}",
        f.tasks(&e.id).await
    );
    assert_eq!(digest_at("v2").await, None);
    assert_eq!(
        digest_at("keep").await,
        Some(m.digest.clone()),
        "a tag the policy did not put there stays"
    );
}

/// Regression: propagating a deletion deleted the manifest by digest even when an index at the
/// destination names it (here through a nested index), which broke the index.
#[tokio::test]
async fn a_propagated_deletion_keeps_what_an_index_at_the_destination_names() {
    let f = fixture().await;
    let image = Image::new(&[(94, 6_000)], "amd64");
    push_image(&image, &f.src_target(), "team/child", "v1")
        .await
        .unwrap();
    let mut p = policy("child", vec![repo_filter("team/child")]);
    p.delete_propagation = true;
    f.replication.create_policy(p).await.unwrap();
    let e = f.run("child", false).await;
    assert_eq!(e.succeeded, 1, "{e:?}");
    let (src, dst) = (
        berth_oci::Client::new(&f.source.url(), None, Default::default()).unwrap(),
        f.dst(),
    );
    // Someone at the destination built an index of indexes on the copied image.
    let digest = image.manifest.digest.clone();
    let chain = berth_testkit::image::index_chain(&image, 2);
    for (b, reference) in chain.iter().zip([chain[0].digest.as_str(), "multi"]) {
        dst.put_manifest(
            "mirror/child",
            reference,
            berth_testkit::image::OCI_INDEX,
            bytes::Bytes::from(b.bytes.clone()),
        )
        .await
        .unwrap();
    }

    berth_replication::deletes::delete_tag(&src, "team/child", "v1", &digest)
        .await
        .unwrap();
    f.replication
        .on_delete(&berth_proto::v1::ArtifactDeleted {
            registry: "src".into(),
            repository: "team/child".into(),
            tag: "v1".into(),
            digest: String::new(),
        })
        .await
        .unwrap();
    let all = f.replication.list_executions("child", 10).await.unwrap();
    let e = finished(&f.replication, &all[0].id).await;
    assert_eq!((e.trigger.as_str(), e.succeeded), ("delete", 1), "{e:?}");
    assert_eq!(dst.head_manifest("mirror/child", "v1").await.unwrap(), None);
    let child = dst.head_manifest("mirror/child", &digest).await.unwrap();
    assert!(child.is_some(), "the nested index's grandchild stays");
    let multi = dst.manifest("mirror/child", "multi").await.unwrap();
    assert_eq!(multi.children()[0].digest, chain[0].digest);
}

/// Regression: a queued deletion ran after the policy stopped propagating deletions.
#[tokio::test]
async fn a_queued_deletion_obeys_the_policy_as_it_is_when_it_runs() {
    let f = fixture_with(10).await;
    // Propagation turned off, or the tag filtered out, while the deletion waits.
    for (i, name) in ["off", "filtered"].into_iter().enumerate() {
        let repo = format!("team/{name}");
        let image = Image::new(&[(95 + 100 * i as u64, 6_000)], "amd64");
        push_image(&image, &f.src_target(), &repo, "v1")
            .await
            .unwrap();
        let mut p = policy(name, vec![repo_filter(&repo)]);
        p.delete_propagation = true;
        f.replication.create_policy(p).await.unwrap();
        let e = f.run(name, false).await;
        assert_eq!(e.succeeded, 1, "{e:?}");
        let src = berth_oci::Client::new(&f.source.url(), None, Default::default()).unwrap();
        let digest = image.manifest.digest.clone();
        berth_replication::deletes::delete_tag(&src, &repo, "v1", &digest)
            .await
            .unwrap();
        // The destination is away: the delete task waits for its next attempt...
        f.proxy.cut();
        f.replication
            .on_delete(&berth_proto::v1::ArtifactDeleted {
                registry: "src".into(),
                repository: repo.clone(),
                tag: "v1".into(),
                digest: String::new(),
            })
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
        // ...while the policy changes.
        let mut changed = f.replication.get_policy(name).await.unwrap();
        if name == "off" {
            changed.delete_propagation = false;
        } else {
            changed.filters.push(Filter {
                kind: "tag".into(),
                pattern: "v1".into(),
                exclude: true,
            });
        }
        f.replication.update_policy(changed).await.unwrap();
        f.proxy.restore().await.unwrap();
        let all = f.replication.list_executions(name, 10).await.unwrap();
        let e = finished(&f.replication, &all[0].id).await;
        assert_eq!(
            (e.trigger.as_str(), e.succeeded, e.skipped),
            ("delete", 0, 1),
            "{name}: {e:?}"
        );
        let tasks = f.tasks(&e.id).await;
        let why = if name == "off" {
            "no longer propagates"
        } else {
            "no longer selects"
        };
        assert!(tasks[0].error.contains(why), "{tasks:?}");
        assert_eq!(
            f.dst()
                .head_manifest(&format!("mirror/{name}"), "v1")
                .await
                .unwrap()
                .map(|d| d.digest),
            Some(digest)
        );
    }
}

/// Regression: a push at the source forgot every policy's record of the tag, so a deletion
/// after it never propagated (the record is the proof of what the policy put there).
#[tokio::test]
async fn a_push_before_a_deletion_does_not_stop_its_propagation() {
    let f = fixture().await;
    let first = Image::new(&[(96, 6_000)], "amd64");
    push_image(&first, &f.src_target(), "team/again", "v1")
        .await
        .unwrap();
    let mut p = policy("again", vec![repo_filter("team/again")]);
    p.delete_propagation = true;
    f.replication.create_policy(p).await.unwrap();
    let e = f.run("again", false).await;
    assert_eq!(e.succeeded, 1, "{e:?}");
    // v1 is pushed again at the source (the policy is manual: nothing is copied)...
    let second = Image::new(&[(97, 6_000)], "amd64");
    push_image(&second, &f.src_target(), "team/again", "v1")
        .await
        .unwrap();
    f.replication
        .on_push(&berth_proto::v1::ArtifactPushed {
            registry: "src".into(),
            repository: "team/again".into(),
            tag: "v1".into(),
            digest: second.manifest.digest.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    // ...then deleted there: what the policy put at the destination goes too.
    let src = berth_oci::Client::new(&f.source.url(), None, Default::default()).unwrap();
    berth_replication::deletes::delete_tag(&src, "team/again", "v1", &second.manifest.digest)
        .await
        .unwrap();
    f.replication
        .on_delete(&berth_proto::v1::ArtifactDeleted {
            registry: "src".into(),
            repository: "team/again".into(),
            tag: "v1".into(),
            digest: String::new(),
        })
        .await
        .unwrap();
    let all = f.replication.list_executions("again", 10).await.unwrap();
    assert_eq!(all[0].trigger, "delete", "{all:?}");
    let e = finished(&f.replication, &all[0].id).await;
    assert_eq!(e.succeeded, 1, "{e:?}");
    assert_eq!(
        f.dst().head_manifest("mirror/again", "v1").await.unwrap(),
        None
    );
}

/// Regression: a process that died in the middle of a cancel (tasks cancelled, the execution's
/// end not recorded) had its execution swept to `succeeded`.
#[tokio::test]
async fn an_execution_whose_cancel_was_cut_short_is_swept_cancelled() {
    use sea_orm::ConnectionTrait;
    let f = fixture().await;
    push_image(
        &Image::new(&[(98, 2_000)], "amd64"),
        &f.src_target(),
        "team/cut",
        "v1",
    )
    .await
    .unwrap();
    f.replication
        .create_policy(policy("cut", vec![repo_filter("team/cut")]))
        .await
        .unwrap();
    let e = f.run("cut", false).await;
    assert_eq!(e.status, "succeeded");
    // As a cancel leaves it when the process dies after cancelling the tasks.
    let db = berth_db::connect(&f._dbs.1.url).await.unwrap();
    for sql in [
        format!("UPDATE replication_executions SET status = 'running', finished_at = NULL WHERE id = '{}'", e.id),
        format!("UPDATE replication_tasks SET status = 'cancelled' WHERE execution = '{}'", e.id),
    ] {
        db.execute_unprepared(&sql).await.unwrap();
    }
    assert_eq!(f.replication.sweep().await.unwrap(), 1);
    let swept = f.replication.get_execution(&e.id).await.unwrap();
    assert_eq!(swept.status, "cancelled", "{swept:?}");
}

/// Regression: a source chain of thousands of indexes overflowed the worker's stack and
/// killed the process (again at every start, as the task was requeued). The task fails with a
/// clear error instead; a chain of two copies.
#[tokio::test]
async fn a_chain_of_indexes_too_deep_fails_its_task_and_nothing_else() {
    let f = fixture().await;
    let image = Image::new(&[(99, 2_000)], "amd64");
    push_image(&image, &f.src_target(), "team/deep", "base")
        .await
        .unwrap();
    let src = berth_oci::Client::new(&f.source.url(), None, Default::default()).unwrap();
    for (tag, levels) in [("deep", 40), ("two", 2)] {
        let chain = berth_testkit::image::index_chain(&image, levels);
        for (i, b) in chain.iter().enumerate() {
            let reference = if i + 1 == chain.len() {
                tag.to_string()
            } else {
                b.digest.clone()
            };
            src.put_manifest(
                "team/deep",
                &reference,
                berth_testkit::image::OCI_INDEX,
                bytes::Bytes::from(b.bytes.clone()),
            )
            .await
            .unwrap();
        }
    }
    let mut p = policy("deep", vec![repo_filter("team/deep")]);
    p.filters.push(Filter {
        kind: "tag".into(),
        pattern: "base".into(),
        exclude: true,
    });
    f.replication.create_policy(p).await.unwrap();
    let e = f.run("deep", false).await;
    assert_eq!(
        (e.status.as_str(), e.succeeded, e.failed),
        ("failed", 1, 1),
        "{e:?}"
    );
    let tasks = f.tasks(&e.id).await;
    let deep = tasks.iter().find(|t| t.reference == "deep").unwrap();
    assert!(deep.error.contains("more than 8 deep"), "{deep:?}");
    assert!(f
        .dst()
        .head_manifest("mirror/deep", "two")
        .await
        .unwrap()
        .is_some());
}

/// Plays another replica holding task `id` with a lease until `lease` (and its execution
/// running), through the replication service's own database.
async fn hold(f: &Fixture, id: &str, execution: &str, lease: chrono::DateTime<chrono::Utc>) {
    use berth_replication::entity::{execution, task, Status};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let db = berth_db::connect(&f._dbs.1.url).await.unwrap();
    task::Entity::update_many()
        .col_expr(task::Column::Status, Expr::value(Status::Running))
        .col_expr(task::Column::Claim, Expr::value("elsewhere"))
        .col_expr(task::Column::Worker, Expr::value("replica-b"))
        .col_expr(task::Column::LeaseUntil, Expr::value(lease))
        .filter(task::Column::Id.eq(id))
        .exec(&db)
        .await
        .unwrap();
    execution::Entity::update_many()
        .col_expr(execution::Column::Status, Expr::value(Status::Running))
        .filter(execution::Column::Id.eq(execution))
        .exec(&db)
        .await
        .unwrap();
    db.close().await.unwrap();
}

/// A delivery of a task that another replica's live claim holds is dropped, not run a second
/// time; once that claim's lease has run out unrenewed (its worker died), the task is claimed
/// again, and the sweeper requeues such a task on its own.
#[tokio::test]
async fn a_task_held_by_a_live_claim_is_not_run_twice() {
    let f = fixture().await;
    let src = Target {
        host: f.source.host(),
        credential: None,
    };
    push_image(
        &Image::new(&[(31, 2_000)], "amd64"),
        &src,
        "team/held",
        "v1",
    )
    .await
    .unwrap();
    f.replication
        .create_policy(policy("held", vec![]))
        .await
        .unwrap();
    let e = f.replication.run("held", "manual", false).await.unwrap();
    let e = finished(&f.replication, &e.id).await;
    assert_eq!(e.succeeded, 1, "{e:?}");
    let task = f.replication.list_tasks(&e.id, "", "", 10).await.unwrap()[0].clone();
    assert_eq!(task.attempts, 1);
    assert!(
        !task.worker.is_empty(),
        "the task names the replica that ran it"
    );

    // Another replica holds the task now (its lease is live); a delivery here is dropped.
    let now = chrono::Utc::now();
    hold(&f, &task.id, &e.id, now + chrono::Duration::seconds(60)).await;
    f.replication.work(&task.id).await.unwrap();
    let again = f.replication.list_tasks(&e.id, "", "", 10).await.unwrap()[0].clone();
    assert_eq!(
        (again.status.as_str(), again.attempts, again.worker.as_str()),
        ("running", 1, "replica-b"),
        "the delivery left the held task alone"
    );

    // replica-b died: its lease runs out, and the sweeper requeues the task, which runs once
    // more and ends the execution.
    hold(&f, &task.id, &e.id, now - chrono::Duration::seconds(1)).await;
    assert_eq!(f.replication.requeue_abandoned().await.unwrap(), 1);
    assert_eq!(
        f.replication.requeue_abandoned().await.unwrap(),
        0,
        "requeued once"
    );
    let done = finished(&f.replication, &e.id).await;
    let after = f.replication.list_tasks(&e.id, "", "", 10).await.unwrap()[0].clone();
    assert_eq!(
        (done.status.as_str(), after.status.as_str(), after.attempts),
        ("succeeded", "succeeded", 2),
        "{done:?} {after:?}"
    );
    assert_ne!(after.worker, "replica-b");
}

/// What a task records is what the destination holds: a copy told "refused" after the
/// destination had stored its manifest is recorded as copied, not as failed.
#[tokio::test]
async fn a_copy_whose_answer_was_lost_records_what_the_destination_holds() {
    let f = fixture_with(1).await;
    let front = berth_testkit::front::LossyFront::start(&f.destination.url())
        .await
        .unwrap();
    f.registries
        .create(CreateRegistryRequest {
            name: "lossy".into(),
            kind: "distribution".into(),
            url: front.url(),
            credential: Some(Credential {
                username: "copier".into(),
                password: "copier-pass".into(),
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let src = Target {
        host: f.source.host(),
        credential: None,
    };
    push_image(
        &Image::new(&[(41, 3_000)], "amd64"),
        &src,
        "team/lost",
        "v1",
    )
    .await
    .unwrap();
    front.lose_manifest_puts(true);
    f.replication
        .create_policy(Policy {
            destination: Some(Endpoint {
                registry: "lossy".into(),
                space: "mirror".into(),
                ..Default::default()
            }),
            ..policy("lost", vec![])
        })
        .await
        .unwrap();
    let e = f.replication.run("lost", "manual", false).await.unwrap();
    let e = finished(&f.replication, &e.id).await;
    let tasks = f.replication.list_tasks(&e.id, "", "", 10).await.unwrap();
    assert_eq!(
        (e.status.as_str(), e.succeeded, e.failed),
        ("succeeded", 1, 0),
        "{e:?} {tasks:?}"
    );
    let dst = berth_oci::Client::new(
        &f.destination.url(),
        Some(berth_oci::Credential {
            username: "copier".into(),
            password: "copier-pass".into(),
        }),
        Default::default(),
    )
    .unwrap();
    let held = dst.head_manifest("mirror/lost", "v1").await.unwrap();
    assert_eq!(
        held.map(|d| d.digest),
        Some(tasks[0].digest.clone()),
        "the recorded digest is the one the destination holds"
    );
}

/// An execution whose planning message was lost (given up on while the database was down)
/// stays `pending`; the sweeper queues its planning again once it has waited too long, once.
#[tokio::test]
async fn an_execution_whose_planning_never_started_is_planned() {
    use berth_replication::entity::{execution, Status};
    use sea_orm::{ActiveModelTrait, Set};

    let f = fixture().await;
    let src = Target {
        host: f.source.host(),
        credential: None,
    };
    push_image(
        &Image::new(&[(51, 2_000)], "amd64"),
        &src,
        "team/late",
        "v1",
    )
    .await
    .unwrap();
    f.replication
        .create_policy(policy("late", vec![]))
        .await
        .unwrap();
    // The row of a run whose plan message never arrived, requested 20 minutes ago.
    let db = berth_db::connect(&f._dbs.1.url).await.unwrap();
    let id = uuid::Uuid::now_v7().to_string();
    execution::ActiveModel {
        id: Set(id.clone()),
        policy: Set("late".into()),
        status: Set(Status::Pending),
        total: Set(0),
        succeeded: Set(0),
        failed: Set(0),
        skipped: Set(0),
        bytes: Set(0),
        error: Set(String::new()),
        started_at: Set(chrono::Utc::now() - chrono::Duration::minutes(20)),
        finished_at: Set(None),
        trigger: Set("manual".into()),
        known: Set(0),
        verify: Set(false),
    }
    .insert(&db)
    .await
    .unwrap();
    db.close().await.unwrap();
    assert_eq!(f.replication.requeue_unplanned().await.unwrap(), 1);
    assert_eq!(
        f.replication.requeue_unplanned().await.unwrap(),
        0,
        "queued once per interval"
    );
    let done = finished(&f.replication, &id).await;
    assert_eq!(
        (done.status.as_str(), done.succeeded),
        ("succeeded", 1),
        "{done:?}"
    );
}
