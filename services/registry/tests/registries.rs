//! The registry domain against real registries, on PostgreSQL and on SQLite.

use std::sync::Arc;
use std::time::Duration;

use berth_auth::sealed::SecretBox;
use berth_bus::outbox::Outbox;
use berth_bus::{Bus, Handler, HandlerError, Message, Subscription};
use berth_proto::v1::{CreateRegistryRequest, Credential, UpdateRegistryRequest};
use berth_registry::error::RegistryError;
use berth_registry::Registries;
use berth_testkit::db::{Backend, TestDatabase};
use berth_testkit::image::{push_image, Image, Target};
use berth_testkit::registry::{DockerRegistry, RegistryOptions};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use tokio::sync::mpsc;

const USER: &str = "alice";
const PASSWORD: &str = "s3cr3t-Pa55word-for-tests";

async fn registries(db: &TestDatabase) -> (Registries, DatabaseConnection) {
    let conn = berth_db::connect(&db.url).await.unwrap();
    berth_db::migrate::<berth_registry::migration::Migrator>(&conn)
        .await
        .unwrap();
    let secrets = SecretBox::from_base64(&SecretBox::generate_key()).unwrap();
    (
        Registries::new(conn.clone(), secrets, Outbox::new("registry"), None),
        conn,
    )
}

fn create(name: &str, url: &str, password: Option<&str>) -> CreateRegistryRequest {
    CreateRegistryRequest {
        name: name.into(),
        kind: "distribution".into(),
        url: url.into(),
        credential: password.map(|p| Credential {
            username: USER.into(),
            password: p.into(),
        }),
        insecure: false,
        description: "test registry".into(),
        verify: None,
        token_service: String::new(),
        workspace: String::new(),
    }
}

async fn count(conn: &DatabaseConnection) -> i64 {
    let row = conn
        .query_one(Statement::from_string(
            conn.get_database_backend(),
            "SELECT COUNT(*) AS n FROM registry_registries",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

fn invalid_field(r: Result<impl std::fmt::Debug, RegistryError>) -> String {
    match r {
        Err(e) => berth_error::ApiError::from(e).field.unwrap_or_default(),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

async fn lifecycle(backend: Backend) {
    let db = TestDatabase::new(backend).await.unwrap();
    let (regs, conn) = registries(&db).await;
    let reg = DockerRegistry::start(RegistryOptions {
        htpasswd: Some((USER.into(), PASSWORD.into())),
        ..Default::default()
    })
    .await
    .unwrap();

    let created = regs
        .create(create("dist", &reg.url(), Some(PASSWORD)))
        .await
        .unwrap();
    assert_eq!(created.name, "dist");
    assert!(created.has_credential);
    assert_eq!(
        created.health.unwrap().status,
        berth_proto::v1::HealthStatus::Healthy as i32
    );

    // The password is stored sealed: no column holds it in plaintext.
    let columns = [
        "id",
        "name",
        "kind",
        "url",
        "description",
        "workspace",
        "credential_sealed",
        "token_service",
        "health_status",
        "health_error",
    ];
    let rows = conn
        .query_all(Statement::from_string(
            conn.get_database_backend(),
            format!("SELECT {} FROM registry_registries", columns.join(", ")),
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    for column in columns {
        let value: Option<String> = rows[0].try_get("", column).unwrap();
        assert!(
            !value.unwrap_or_default().contains(PASSWORD),
            "password found in column {column}"
        );
    }
    let sealed: Option<String> = rows[0].try_get("", "credential_sealed").unwrap();
    assert!(sealed.unwrap().starts_with("v1:"), "credential is sealed");

    // Duplicate name.
    let dup = regs
        .create(create("dist", &reg.url(), Some(PASSWORD)))
        .await;
    assert!(matches!(dup, Err(RegistryError::Duplicate(_))), "{dup:?}");

    // Wrong password: a clear authentication error on the credential, nothing stored.
    let bad = regs
        .create(create("wrong", &reg.url(), Some("not-the-password")))
        .await;
    let api = berth_error::ApiError::from(bad.unwrap_err());
    assert_eq!(api.field.as_deref(), Some("credential"));
    assert!(api.message.contains("authentication"), "{}", api.message);
    // Unreachable: names the URL, nothing stored.
    let port = berth_testkit::free_port();
    let gone = regs
        .create(create("gone", &format!("http://127.0.0.1:{port}"), None))
        .await;
    let api = berth_error::ApiError::from(gone.unwrap_err());
    assert_eq!(api.field.as_deref(), Some("url"));
    assert!(api.message.contains("refused"), "{}", api.message);
    assert_eq!(count(&conn).await, 1);

    // Update: description only needs no verification; a wrong new credential is refused.
    let upd = regs
        .update(UpdateRegistryRequest {
            name: "dist".into(),
            description: Some("changed".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(upd.description, "changed");
    let wrong = regs
        .update(UpdateRegistryRequest {
            name: "dist".into(),
            credential: Some(Credential {
                username: USER.into(),
                password: "nope".into(),
            }),
            ..Default::default()
        })
        .await;
    assert_eq!(invalid_field(wrong), "credential");
    assert_eq!(regs.get("dist").await.unwrap().description, "changed");

    // Overview of what we pushed.
    let image = Image::new(&[(11, 2000), (12, 3000)], "amd64");
    let target = Target {
        host: reg.host(),
        credential: Some((USER.into(), PASSWORD.into())),
    };
    push_image(&image, &target, "team-a/app", "v1")
        .await
        .unwrap();
    push_image(&image, &target, "team-a/app", "latest")
        .await
        .unwrap();
    let o = regs
        .overview("dist", &berth_registry::adapter::Spaces::All)
        .await
        .unwrap();
    let blobs: u64 = image.blobs().iter().map(|b| b.size()).sum();
    assert_eq!((o.spaces, o.repositories, o.artifacts), (1, 1, 1));
    assert_eq!(o.storage_bytes, blobs + image.manifest.size());
    let (arts, _) = regs.artifacts("dist", "team-a/app", 10, "").await.unwrap();
    assert_eq!(arts.len(), 1);
    assert_eq!(arts[0].digest, image.manifest.digest);
    assert_eq!(arts[0].tags, vec!["latest".to_string(), "v1".to_string()]);

    // Health: stopped → unhealthy with the error; the change is queued in the outbox.
    let mut reg = reg;
    reg.stop();
    let h = regs.ping("dist").await.unwrap();
    assert_eq!(h.status, berth_proto::v1::HealthStatus::Unhealthy as i32);
    assert!(h.error.contains("refused"), "{}", h.error);
    reg.restart().await.unwrap();
    let h = regs.ping("dist").await.unwrap();
    assert_eq!(h.status, berth_proto::v1::HealthStatus::Healthy as i32);

    // Delete.
    regs.delete("dist").await.unwrap();
    assert!(matches!(
        regs.get("dist").await,
        Err(RegistryError::NotFound(_))
    ));
    assert_eq!(count(&conn).await, 0);
}

#[tokio::test]
async fn lifecycle_on_postgres() {
    lifecycle(Backend::Postgres).await;
}

#[tokio::test]
async fn lifecycle_on_sqlite() {
    lifecycle(Backend::Sqlite).await;
}

/// Every field of create and update, each bad in every way we refuse: the error names the
/// field, and nothing is created or changed.
async fn bad_input(backend: Backend) {
    let db = TestDatabase::new(backend).await.unwrap();
    let (regs, conn) = registries(&db).await;
    let ok = |f: &dyn Fn(&mut CreateRegistryRequest)| {
        let mut r = create("good", "http://127.0.0.1:1", None);
        r.verify = Some(false);
        f(&mut r);
        r
    };
    let long = "x".repeat(64);
    let cases: Vec<(&str, CreateRegistryRequest)> = vec![
        ("name", ok(&|r| r.name = String::new())),
        ("name", ok(&|r| r.name = long.clone())),
        ("name", ok(&|r| r.name = "Has Spaces".into())),
        ("name", ok(&|r| r.name = "under_score".into())),
        ("name", ok(&|r| r.name = "-dash".into())),
        ("kind", ok(&|r| r.kind = String::new())),
        ("kind", ok(&|r| r.kind = "quay".into())),
        ("url", ok(&|r| r.url = String::new())),
        ("url", ok(&|r| r.url = "ftp://127.0.0.1".into())),
        ("url", ok(&|r| r.url = "not a url".into())),
        (
            "url",
            ok(&|r| r.url = format!("http://h/{}", "p".repeat(2100))),
        ),
        ("url", ok(&|r| r.url = "http://u:p@127.0.0.1".into())),
        ("description", ok(&|r| r.description = "d".repeat(1025))),
        ("description", ok(&|r| r.description = "bell\u{7}".into())),
        (
            "credential.username",
            ok(&|r| {
                r.credential = Some(Credential {
                    username: String::new(),
                    password: "p".into(),
                })
            }),
        ),
        (
            "credential.username",
            ok(&|r| {
                r.credential = Some(Credential {
                    username: "u".repeat(256),
                    password: "p".into(),
                })
            }),
        ),
        (
            "credential.password",
            ok(&|r| {
                r.credential = Some(Credential {
                    username: "u".into(),
                    password: String::new(),
                })
            }),
        ),
        (
            "credential.password",
            ok(&|r| {
                r.credential = Some(Credential {
                    username: "u".into(),
                    password: "p".repeat(4097),
                })
            }),
        ),
        (
            "token_service",
            ok(&|r| r.token_service = "keycloak".into()),
        ),
        ("workspace", ok(&|r| r.workspace = "Bad Workspace".into())),
    ];
    for (field, req) in cases {
        let got = invalid_field(regs.create(req).await);
        assert_eq!(got, field);
    }
    assert_eq!(count(&conn).await, 0, "nothing was created");

    regs.create(ok(&|_| {})).await.unwrap();
    let dup = regs.create(ok(&|_| {})).await;
    assert_eq!(
        berth_error::ApiError::from(dup.unwrap_err()).code,
        berth_error::ErrorCode::AlreadyExists
    );

    let upd = |f: &dyn Fn(&mut UpdateRegistryRequest)| {
        let mut r = UpdateRegistryRequest {
            name: "good".into(),
            verify: Some(false),
            ..Default::default()
        };
        f(&mut r);
        r
    };
    let cases: Vec<(&str, UpdateRegistryRequest)> = vec![
        ("url", upd(&|r| r.url = Some(String::new()))),
        ("url", upd(&|r| r.url = Some("gopher://x".into()))),
        (
            "description",
            upd(&|r| r.description = Some("d".repeat(1025))),
        ),
        (
            "credential.username",
            upd(&|r| {
                r.credential = Some(Credential {
                    username: String::new(),
                    password: "p".into(),
                })
            }),
        ),
        (
            "credential.password",
            upd(&|r| {
                r.credential = Some(Credential {
                    username: "u".into(),
                    password: String::new(),
                })
            }),
        ),
        (
            "clear_credential",
            upd(&|r| {
                r.clear_credential = true;
                r.credential = Some(Credential {
                    username: "u".into(),
                    password: "p".into(),
                });
            }),
        ),
    ];
    for (field, req) in cases {
        assert_eq!(invalid_field(regs.update(req).await), field);
    }
    let after = regs.get("good").await.unwrap();
    assert_eq!(after.url, "http://127.0.0.1:1");
    assert_eq!(after.description, "test registry");
    assert!(matches!(
        regs.update(UpdateRegistryRequest {
            name: "missing".into(),
            ..Default::default()
        })
        .await,
        Err(RegistryError::NotFound(_))
    ));
}

#[tokio::test]
async fn bad_input_on_postgres() {
    bad_input(Backend::Postgres).await;
}

#[tokio::test]
async fn bad_input_on_sqlite() {
    bad_input(Backend::Sqlite).await;
}

struct Forward(mpsc::UnboundedSender<Message>);

#[async_trait::async_trait]
impl Handler for Forward {
    async fn handle(&self, m: &Message) -> Result<(), HandlerError> {
        let _ = self.0.send(m.clone());
        Ok(())
    }
}

/// A health change is published as `registry.health_changed` through the outbox.
#[tokio::test]
async fn health_change_is_published() {
    let db = TestDatabase::sqlite().unwrap();
    let (regs, conn) = registries(&db).await;
    let bus = Arc::new(berth_bus::memory::MemoryBus::default());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _c = bus
        .subscribe(
            Subscription::new("watch", &["registry.health_changed"]),
            Arc::new(Forward(tx)),
        )
        .await
        .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(
        regs.outbox()
            .clone()
            .run_relay(conn, bus.clone() as Arc<dyn Bus>, stop.clone()),
    );

    let mut reg = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    regs.create(create("flaky", &reg.url(), None))
        .await
        .unwrap();
    reg.stop();
    regs.check_all().await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let p: berth_proto::v1::RegistryHealthChanged = m.payload().unwrap();
    assert_eq!(
        (p.registry.as_str(), p.previous.as_str(), p.current.as_str()),
        ("flaky", "healthy", "unhealthy")
    );
    // No change, no event.
    regs.check_all().await.unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(700), rx.recv())
        .await
        .is_err());
    stop.cancel();
}

/// Two replicas of the registry service over one database check each registry once per
/// round between them, not once each.
#[tokio::test]
async fn replicas_share_health_checks() {
    let db = TestDatabase::new(Backend::Postgres).await.unwrap();
    let (a, _) = registries(&db).await;
    let (b, _) = registries(&db).await;
    let one = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let two = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    a.create(create("one", &one.url(), None)).await.unwrap();
    a.create(create("two", &two.url(), None)).await.unwrap();
    let every = Duration::from_secs(60);
    for round in 0..3 {
        let (x, y) = tokio::join!(a.check_due(every), b.check_due(every));
        let (x, y) = (x.unwrap(), y.unwrap());
        let want = if round == 0 { 2 } else { 0 };
        assert_eq!(
            x + y,
            want,
            "round {round}: replica A checked {x}, replica B {y}"
        );
    }
}
