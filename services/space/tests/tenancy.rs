//! The tenancy domain and the access rule, on PostgreSQL and on SQLite, with the registry
//! service running for real beside it.

use std::sync::Arc;
use std::time::Duration;

use berth_auth::sealed::SecretBox;
use berth_error::{ApiError, ErrorCode};
use berth_proto::v1::{CreateRegistryRequest, CreateSpaceRequest, UpdateSpaceRequest};
use berth_space::Tenancy;
use berth_testkit::db::{Backend, TestDatabase};

struct Fixture {
    tenancy: Tenancy,
    _dbs: (TestDatabase, TestDatabase),
    _stop: berth_runtime::Shutdown,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self._stop.trigger();
    }
}

/// A registry service holding `dist` (platform, at 127.0.0.1:5000) and `own` (integrated by
/// workspace `blue`, at 127.0.0.1:5001), and a space service beside it.
async fn fixture(backend: Backend) -> Fixture {
    let (rdb, sdb) = (
        TestDatabase::new(backend).await.unwrap(),
        TestDatabase::new(backend).await.unwrap(),
    );
    let bus = berth_bus::open(None, "t").await.unwrap();
    let stop = berth_runtime::Shutdown::new();
    let token = berth_auth::tokens::generate();
    let registry = berth_registry::start(
        berth_registry::Deps {
            db: berth_db::connect(&rdb.url).await.unwrap(),
            bus: Arc::clone(&bus),
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
    for (name, port, workspace) in [("dist", 5000, ""), ("own", 5001, "blue")] {
        registry
            .registries
            .create(CreateRegistryRequest {
                name: name.into(),
                kind: "distribution".into(),
                url: format!("http://127.0.0.1:{port}"),
                verify: Some(false),
                workspace: workspace.into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let space = berth_space::start(
        berth_space::Deps {
            db: berth_db::connect(&sdb.url).await.unwrap(),
            bus,
            internal_token: Some(token),
            registry_addr: format!("http://{}", registry.addr),
        },
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        stop.child(),
    )
    .await
    .unwrap();
    Fixture {
        tenancy: space.tenancy,
        _dbs: (rdb, sdb),
        _stop: stop,
    }
}

fn space(name: &str, visibility: &str) -> CreateSpaceRequest {
    CreateSpaceRequest {
        registry: "dist".into(),
        name: name.into(),
        visibility: visibility.into(),
        ..Default::default()
    }
}

fn api<T: std::fmt::Debug>(r: berth_space::error::Result<T>) -> ApiError {
    ApiError::from(r.expect_err("expected an error"))
}

async fn access_rule(backend: Backend) {
    let f = fixture(backend).await;
    let t = &f.tenancy;
    for ws in ["blue", "green"] {
        t.create_workspace(ws, "").await.unwrap();
    }
    t.add_namespace("blue", "blue-prod").await.unwrap();
    t.add_namespace("green", "green-prod").await.unwrap();
    t.create_space(space("pub", "public")).await.unwrap();
    t.create_space(space("priv", "private")).await.unwrap();
    t.create_space(space("other", "private")).await.unwrap();
    t.bind("dist", "priv", "blue", false).await.unwrap();

    // (namespace, image, allowed)
    let matrix = [
        ("blue-prod", "127.0.0.1:5000/pub/app:v1", true),
        ("green-prod", "127.0.0.1:5000/pub/app:v1", true),
        ("blue-prod", "127.0.0.1:5000/priv/app:v1", true),
        ("green-prod", "127.0.0.1:5000/priv/app:v1", false),
        ("blue-prod", "127.0.0.1:5000/other/app:v1", false),
        ("green-prod", "127.0.0.1:5000/other/app:v1", false),
        ("blue-prod", "127.0.0.1:5000/nospace/app:v1", false),
        ("blue-prod", "127.0.0.1:5000/toplevel:v1", false),
        ("blue-prod", "127.0.0.1:5001/anything/app:v1", true),
        ("green-prod", "127.0.0.1:5001/anything/app:v1", false),
        ("blue-prod", "nginx:1.25", false),
    ];
    for (ns, image, want) in matrix {
        let d = t.check_pull(ns, image).await.unwrap();
        assert_eq!(d.allowed, want, "{ns} pulling {image}: {}", d.reason);
        assert!(!d.reason.is_empty());
    }
    // A private space of others, a space that does not exist and a path outside any space
    // are denied alike: the reason tells none from the other.
    let mut reasons = Vec::new();
    for image in [
        "127.0.0.1:5000/priv/app:v1",
        "127.0.0.1:5000/nosuchspace/app:v1",
    ] {
        let d = t.check_pull("green-prod", image).await.unwrap();
        reasons.push(d.reason.replace("nosuchspace", "priv"));
    }
    assert_eq!(reasons[0], reasons[1]);
    assert_eq!(
        reasons[0],
        "dist/priv/app is in no space this namespace may pull from (a public space, or one bound to its workspace)"
    );
    let other = t
        .check_pull("green-prod", "127.0.0.1:5001/anything/app:v1")
        .await
        .unwrap();
    assert!(
        !other.reason.contains("registry own") && other.reason.starts_with("127.0.0.1:5001/"),
        "another workspace's registry goes unnamed: {}",
        other.reason
    );
    let d = t.check_pull("blue-prod", "nginx").await.unwrap();
    assert!(
        d.reason.contains("docker.io is not integrated"),
        "{}",
        d.reason
    );

    // Unbind: the next check is refused.
    t.unbind("dist", "priv", "blue").await.unwrap();
    assert!(
        !t.check_pull("blue-prod", "127.0.0.1:5000/priv/app:v1")
            .await
            .unwrap()
            .allowed
    );
    // Made public: everyone.
    t.update_space(UpdateSpaceRequest {
        registry: "dist".into(),
        name: "other".into(),
        visibility: Some("public".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let pinned = format!("127.0.0.1:5000/other/app@sha256:{}", "b".repeat(64));
    assert!(t.check_pull("green-prod", &pinned).await.unwrap().allowed);
}

#[tokio::test]
async fn access_rule_on_postgres() {
    access_rule(Backend::Postgres).await;
}

#[tokio::test]
async fn access_rule_on_sqlite() {
    access_rule(Backend::Sqlite).await;
}

async fn bad_input(backend: Backend) {
    let f = fixture(backend).await;
    let t = &f.tenancy;
    t.create_workspace("blue", "").await.unwrap();
    t.add_namespace("blue", "blue-prod").await.unwrap();
    t.create_space(space("pub", "public")).await.unwrap();
    t.create_space(space("priv", "private")).await.unwrap();

    // Unknown namespace; malformed image.
    let e = api(t.check_pull("nobody", "127.0.0.1:5000/pub/app").await);
    assert_eq!(e.code, ErrorCode::NotFound);
    assert!(e.message.contains("nobody"), "{e}");
    for bad in [
        "",
        "UPPER/app",
        "127.0.0.1:5000/pub/app:",
        "127.0.0.1:5000//x",
    ] {
        let e = api(t.check_pull("blue-prod", bad).await);
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::InvalidArgument, Some("image")),
            "{bad:?}"
        );
    }
    let e = api(t.check_pull("Bad_NS", "127.0.0.1:5000/pub/app").await);
    assert_eq!(e.field.as_deref(), Some("namespace"));

    // A public space may be bound (bindings carry push, and outlive visibility); binding
    // again is idempotent, and changes what the binding grants.
    let b = t.bind("dist", "pub", "blue", false).await.unwrap();
    assert!(!b.push);
    t.unbind("dist", "pub", "blue").await.unwrap();
    t.bind("dist", "priv", "blue", false).await.unwrap();
    let again = t.bind("dist", "priv", "blue", false).await.unwrap();
    assert!(!again.push);
    let pushing = t.bind("dist", "priv", "blue", true).await.unwrap();
    assert!(pushing.push);
    assert!(t.list_bindings("dist", "priv").await.unwrap()[0].push);
    let e = api(t.bind("dist", "priv", "nope", false).await);
    assert_eq!(e.code, ErrorCode::NotFound);

    // Deleting a bound workspace is refused and leaves everything in place.
    let e = api(t.delete_workspace("blue", false).await);
    assert_eq!(e.code, ErrorCode::FailedPrecondition);
    assert!(e.message.contains("dist/priv"), "{e}");
    assert_eq!(
        t.get_workspace("blue").await.unwrap().namespaces,
        vec!["blue-prod"]
    );
    assert!(
        t.check_pull("blue-prod", "127.0.0.1:5000/priv/app")
            .await
            .unwrap()
            .allowed
    );
    t.unbind("dist", "priv", "blue").await.unwrap();
    t.delete_workspace("blue", false).await.unwrap();
    assert_eq!(
        api(t.check_pull("blue-prod", "127.0.0.1:5000/pub/app").await).code,
        ErrorCode::NotFound
    );

    // Spaces: bad fields, unknown registry, duplicates.
    for (req, field) in [
        (space("Bad Name", "public"), "name"),
        (space("ok", "secret"), "visibility"),
        (
            CreateSpaceRequest {
                registry: "Nope!".into(),
                ..space("ok", "")
            },
            "registry",
        ),
        (
            CreateSpaceRequest {
                description: "d".repeat(1025),
                ..space("ok", "")
            },
            "description",
        ),
    ] {
        assert_eq!(api(t.create_space(req).await).field.as_deref(), Some(field));
    }
    assert_eq!(
        api(t
            .create_space(CreateSpaceRequest {
                registry: "ghost".into(),
                ..space("ok", "")
            })
            .await)
        .code,
        ErrorCode::NotFound
    );
    assert_eq!(
        api(t.create_space(space("pub", "")).await).code,
        ErrorCode::AlreadyExists
    );
    assert_eq!(
        t.list_spaces("dist").await.unwrap().len(),
        2,
        "nothing partial was created"
    );

    // Workspaces, namespaces, members.
    assert_eq!(
        api(t.create_workspace("Bad", "").await).field.as_deref(),
        Some("name")
    );
    t.create_workspace("green", "").await.unwrap();
    t.create_workspace("red", "").await.unwrap();
    assert_eq!(
        api(t.create_workspace("green", "").await).code,
        ErrorCode::AlreadyExists
    );
    t.add_namespace("green", "shared").await.unwrap();
    let e = api(t.add_namespace("red", "shared").await);
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::AlreadyExists, Some("namespace"))
    );
    assert_eq!(
        api(t.add_namespace("green", "kube_system").await)
            .field
            .as_deref(),
        Some("namespace")
    );
    assert_eq!(
        api(t.set_member("green", "alice", "owner").await)
            .field
            .as_deref(),
        Some("role")
    );
    assert_eq!(
        api(t.set_member("green", "has space", "workspace-viewer").await)
            .field
            .as_deref(),
        Some("principal")
    );
    t.set_member("green", "alice", "workspace-viewer")
        .await
        .unwrap();
    t.set_member("green", "alice", "workspace-admin")
        .await
        .unwrap();
    t.set_member("red", "alice", "workspace-editor")
        .await
        .unwrap();
    let roles: Vec<(String, String)> = t
        .roles_of("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.workspace, r.role))
        .collect();
    assert_eq!(
        roles,
        vec![
            ("green".into(), "workspace-admin".into()),
            ("red".into(), "workspace-editor".into())
        ]
    );
}

#[tokio::test]
async fn bad_input_on_postgres() {
    bad_input(Backend::Postgres).await;
}

#[tokio::test]
async fn bad_input_on_sqlite() {
    bad_input(Backend::Sqlite).await;
}
