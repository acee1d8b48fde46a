//! The Harbor adapter against the Harbor v2.0 API emulator fronting a real docker-registry.

use base64::Engine;
use berth_testkit::db::Backend;
use berth_testkit::harbor::HarborEmulator;
use berth_testkit::image::{push_image, push_index, storage_bytes, Image, Index, Target};
use berth_testkit::registry::{DockerRegistry, RegistryOptions};
use berth_tests::Suite;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn harbor_registry_is_integrated_through_its_api() {
    let backend = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let target = Target {
        host: backend.host(),
        credential: None,
    };
    let web = Image::new(&[(21, 20_000), (22, 5_000)], "amd64");
    let api = Image::new(&[(21, 20_000), (23, 6_000)], "amd64");
    let base = Index::new(vec![
        Image::new(&[(24, 3_000)], "amd64"),
        Image::new(&[(25, 3_000)], "arm64"),
    ]);
    push_image(&web, &target, "shop/web", "1.0").await.unwrap();
    push_image(&api, &target, "shop/backend/api", "1.0")
        .await
        .unwrap();
    push_image(&api, &target, "shop/backend/api", "1.1")
        .await
        .unwrap();
    push_index(&base, &target, "infra/base", "v1")
        .await
        .unwrap();
    let harbor = HarborEmulator::start(&backend.url(), "admin", "Harbor12345")
        .await
        .unwrap();

    let suite = Suite::start(Backend::Sqlite).await;
    let body = |password: &str| json!({"name": "harbor", "kind": "harbor", "url": harbor.url, "credential": {"username": "admin", "password": password}});
    let (status, e) = suite
        .admin(Method::POST, "/api/v1/registries", Some(body("wrong")))
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (400, Some("credential")),
        "{e}"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("authentication"),
        "{e}"
    );
    let (status, r) = suite
        .admin(
            Method::POST,
            "/api/v1/registries",
            Some(body("Harbor12345")),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["health"]["status"], "healthy");

    // Import: Harbor's projects become spaces, with their public flag; a second import adds nothing.
    let (status, imported) = suite
        .admin(
            Method::POST,
            "/api/v1/registries/harbor/import-spaces",
            None,
        )
        .await;
    assert_eq!(status, 200, "{imported}");
    let names: Vec<&str> = imported["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["infra", "shop"]);
    assert_eq!(imported["items"][0]["visibility"], "private");
    let (_, again) = suite
        .admin(
            Method::POST,
            "/api/v1/registries/harbor/import-spaces",
            None,
        )
        .await;
    assert_eq!(again["items"], json!([]));

    // A plain registry is not a Harbor.
    let (status, e) = suite
        .admin(
            Method::POST,
            "/api/v1/registries",
            Some(json!({"name": "fake", "kind": "harbor", "url": backend.url()})),
        )
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (400, Some("url")),
        "{e}"
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("not a"),
        "{e}"
    );

    // Overview from Harbor's statistics and repositories: per-project storage.
    // Harbor counts storage per project.
    let storage = storage_bytes(&[&web, &api], &[]) + storage_bytes(&[], &[&base]);
    let (status, o) = suite
        .admin(Method::GET, "/api/v1/registries/harbor/overview", None)
        .await;
    assert_eq!(status, 200, "{o}");
    // web, api (two tags of one digest) and the base index.
    assert_eq!(
        o,
        json!({"spaces": 2, "repositories": 3, "artifacts": 3, "storage_bytes": storage})
    );

    let (_, repos) = suite
        .admin(
            Method::GET,
            "/api/v1/registries/harbor/repositories?space=shop",
            None,
        )
        .await;
    let names: Vec<&str> = repos["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["shop/backend/api", "shop/web"]);
    assert_eq!(repos["items"][0]["artifact_count"], 1);

    // A repository nested below the project (its name path-encoded twice on the way to Harbor).
    let (status, arts) = suite
        .admin(
            Method::GET,
            "/api/v1/registries/harbor/repositories/shop/backend/api/artifacts",
            None,
        )
        .await;
    assert_eq!(status, 200, "{arts}");
    assert_eq!(arts["items"][0]["digest"], api.manifest.digest);
    assert_eq!(arts["items"][0]["tags"], json!(["1.0", "1.1"]));
    let (_, arts) = suite
        .admin(
            Method::GET,
            "/api/v1/registries/harbor/repositories/infra/base/artifacts",
            None,
        )
        .await;
    assert_eq!(
        arts["items"][0]["platforms"],
        json!(["linux/amd64", "linux/arm64"])
    );
}

/// Spaces are Harbor projects; a workspace's bindings are one robot pulling exactly its bound
/// projects, created on bind and deleted on the last unbind; visibility flips `public`.
#[tokio::test]
async fn harbor_projects_and_robots_follow_spaces_and_bindings() {
    let backend = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let direct = Target {
        host: backend.host(),
        credential: None,
    };
    let image = Image::new(&[(51, 2_000)], "amd64");
    push_image(&image, &direct, "shop/web", "1.0")
        .await
        .unwrap();
    push_image(&image, &direct, "other/web", "1.0")
        .await
        .unwrap();
    let harbor = HarborEmulator::start(&backend.url(), "admin", "Harbor12345")
        .await
        .unwrap();
    let host = harbor.url.trim_start_matches("http://").to_string();
    let api = reqwest::Client::new();
    let harbor_get = |path: &str| {
        let req = api
            .get(format!("{}/api/v2.0{path}", harbor.url))
            .basic_auth("admin", Some("Harbor12345"));
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let public_of = |projects: &Value, name: &str| -> Option<String> {
        projects
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["metadata"]["public"].as_str().unwrap().to_string())
    };

    let suite = Suite::start(Backend::Sqlite).await;
    let ok = |m: Method, p: &str, b: Option<Value>| {
        let p = p.to_string();
        let suite = &suite;
        async move {
            let (status, body) = suite.admin(m, &p, b).await;
            assert!(status < 300, "{p}: {status} {body}");
            body
        }
    };
    ok(Method::POST, "/api/v1/registries", Some(json!({"name": "harbor", "kind": "harbor", "url": harbor.url, "credential": {"username": "admin", "password": "Harbor12345"}}))).await;
    ok(
        Method::POST,
        "/api/v1/workspaces",
        Some(json!({"name": "blue"})),
    )
    .await;
    ok(
        Method::PUT,
        "/api/v1/workspaces/blue/namespaces/blue-ns",
        None,
    )
    .await;

    // A space is a project; its visibility is the project's public flag.
    ok(
        Method::POST,
        "/api/v1/registries/harbor/spaces",
        Some(json!({"name": "team"})),
    )
    .await;
    assert_eq!(
        public_of(&harbor_get("/projects?page_size=100").await, "team").as_deref(),
        Some("false")
    );
    ok(
        Method::PATCH,
        "/api/v1/registries/harbor/spaces/team",
        Some(json!({"visibility": "public"})),
    )
    .await;
    assert_eq!(
        public_of(&harbor_get("/projects?page_size=100").await, "team").as_deref(),
        Some("true")
    );
    ok(
        Method::PATCH,
        "/api/v1/registries/harbor/spaces/team",
        Some(json!({"visibility": "private"})),
    )
    .await;
    assert_eq!(
        public_of(&harbor_get("/projects?page_size=100").await, "team").as_deref(),
        Some("false")
    );

    // The space's quota is the project's quota in Harbor (-1: none).
    let quota_of = |name: &'static str| {
        let harbor_get = &harbor_get;
        async move {
            let id = harbor_get(&format!("/projects/{name}")).await["project_id"]
                .as_i64()
                .unwrap();
            harbor_get(&format!("/quotas?reference=project&reference_id={id}")).await[0]["hard"]
                ["storage"]
                .as_i64()
                .unwrap()
        }
    };
    assert_eq!(quota_of("team").await, -1);
    ok(
        Method::PATCH,
        "/api/v1/registries/harbor/spaces/team",
        Some(json!({"quota_bytes": 5_000_000})),
    )
    .await;
    assert_eq!(quota_of("team").await, 5_000_000);
    ok(
        Method::PATCH,
        "/api/v1/registries/harbor/spaces/team",
        Some(json!({"quota_bytes": 0})),
    )
    .await;
    assert_eq!(quota_of("team").await, -1);

    // Bind: a robot with pull on the project; the namespace's pull secret carries it.
    ok(
        Method::POST,
        "/api/v1/registries/harbor/spaces",
        Some(json!({"name": "shop"})),
    )
    .await;
    ok(
        Method::PUT,
        "/api/v1/registries/harbor/spaces/shop/bindings/blue",
        None,
    )
    .await;
    let robots = harbor_get("/robots").await;
    assert_eq!(
        robots,
        json!([{"id": 1, "name": "robot$berth-blue", "projects": ["shop"]}])
    );
    ok(
        Method::PUT,
        "/api/v1/registries/harbor/spaces/team/bindings/blue",
        None,
    )
    .await;
    assert_eq!(
        harbor_get("/robots").await[0]["projects"],
        json!(["shop", "team"]),
        "one robot per workspace"
    );
    let secret = ok(Method::GET, "/api/v1/namespaces/blue-ns/pull-secret", None).await;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(secret["data"][".dockerconfigjson"].as_str().unwrap())
        .unwrap();
    let config: Value = serde_json::from_slice(&raw).unwrap();
    let (user, pass) = (
        config["auths"][&host]["username"]
            .as_str()
            .unwrap()
            .to_string(),
        config["auths"][&host]["password"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    assert_eq!(user, "robot$berth-blue");
    let pull = |image: &str| {
        let (user, pass, host, image) =
            (user.clone(), pass.clone(), host.clone(), image.to_string());
        async move { berth_testkit::image::can_pull(&host, &image, &user, &pass).await }
    };
    assert!(
        pull("shop/web:1.0").await,
        "the robot pulls its bound project"
    );
    assert!(!pull("other/web:1.0").await, "and nothing else");

    // Unbind: the robot follows; after the last binding it is deleted and pulls stop.
    ok(
        Method::DELETE,
        "/api/v1/registries/harbor/spaces/team/bindings/blue",
        None,
    )
    .await;
    assert_eq!(harbor_get("/robots").await[0]["projects"], json!(["shop"]));
    ok(
        Method::DELETE,
        "/api/v1/registries/harbor/spaces/shop/bindings/blue",
        None,
    )
    .await;
    assert_eq!(harbor_get("/robots").await, json!([]));
    assert!(!pull("shop/web:1.0").await, "a deleted robot pulls nothing");

    // Harbor refuses to delete a project with repositories: the space stays.
    let (status, e) = suite
        .admin(
            Method::DELETE,
            "/api/v1/registries/harbor/spaces/shop",
            None,
        )
        .await;
    assert_eq!(status, 412, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("contains repositories"),
        "{e}"
    );
    assert_eq!(
        suite
            .admin(Method::GET, "/api/v1/registries/harbor/spaces/shop", None)
            .await
            .0,
        200
    );
    ok(
        Method::DELETE,
        "/api/v1/registries/harbor/spaces/team",
        None,
    )
    .await;
    assert_eq!(
        public_of(&harbor_get("/projects?page_size=100").await, "team"),
        None
    );
}

/// Regression: robot syncs went out to Harbor inside the space service's transaction, so one
/// slow Harbor froze every space, binding and access call of the suite (embedded SQLite has a
/// single connection). Now a slow Harbor holds up only its own caller; and when Harbor
/// refuses, the binding goes back to what it was.
#[tokio::test]
async fn a_slow_harbor_holds_up_only_its_own_binding() {
    let (_backend, harbor, suite, registry) = harbor_suite("harbor").await;
    suite
        .ok(Method::POST, "/api/v1/registries", Some(registry))
        .await;
    suite
        .ok(
            Method::POST,
            "/api/v1/registries",
            Some(json!({"name": "other", "kind": "oci", "url": "http://127.0.0.1:7", "verify": false})),
        )
        .await;
    suite.workspace("blue", "blue-ns").await;
    suite
        .ok(
            Method::POST,
            "/api/v1/registries/harbor/spaces",
            Some(json!({"name": "s1", "visibility": "private"})),
        )
        .await;
    harbor.slow_robots(std::time::Duration::from_secs(3));
    let bind = suite.admin(
        Method::PUT,
        "/api/v1/registries/harbor/spaces/s1/bindings/blue",
        Some(json!({})),
    );
    let others = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let started = std::time::Instant::now();
        let (status, v) = suite
            .admin(
                Method::POST,
                "/api/v1/registries/other/spaces",
                Some(json!({"name": "quick", "visibility": "private"})),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        let (status, _) = suite
            .admin(Method::GET, "/api/v1/registries/other/spaces", None)
            .await;
        assert_eq!(status, 200);
        started.elapsed()
    };
    let ((status, v), took) = tokio::join!(bind, others);
    assert!(status < 300, "{status} {v}");
    assert!(
        took < std::time::Duration::from_secs(1),
        "an unrelated call waited {took:?} for the slow Harbor"
    );
    harbor.slow_robots(std::time::Duration::ZERO);
    let (_, bindings) = suite
        .admin(
            Method::GET,
            "/api/v1/registries/harbor/spaces/s1/bindings",
            None,
        )
        .await;
    assert_eq!(bindings["items"][0]["workspace"], "blue", "{bindings}");
}

/// Regression: a space created on a slow Harbor while its registry was removed and integrated
/// again under the same name came back with the new registry (the check after creating it
/// asked only whether a registry of that name existed).
#[tokio::test]
async fn a_space_made_for_a_removed_registry_does_not_join_its_successor() {
    let (_backend, harbor, suite, registry) = harbor_suite("hreg").await;
    suite
        .ok(Method::POST, "/api/v1/registries", Some(registry.clone()))
        .await;
    harbor.slow_projects(std::time::Duration::from_secs(2));
    let create = suite.admin(
        Method::POST,
        "/api/v1/registries/hreg/spaces",
        Some(json!({"name": "late", "visibility": "private"})),
    );
    let replace = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let (status, e) = suite
            .admin(Method::DELETE, "/api/v1/registries/hreg?cascade=true", None)
            .await;
        assert_eq!(status, 204, "{e}");
        // The directory cache of the space service forgets within its 2 s anyway.
        suite
            .ok(Method::POST, "/api/v1/registries", Some(registry.clone()))
            .await;
    };
    let ((status, v), ()) = tokio::join!(create, replace);
    assert_eq!(status, 404, "{v}");
    let (_, spaces) = suite
        .admin(Method::GET, "/api/v1/registries/hreg/spaces", None)
        .await;
    assert_eq!(spaces["items"], json!([]), "{spaces}");
}

/// A docker-registry behind a Harbor emulator, a suite, and the body integrating that Harbor
/// as `name`.
async fn harbor_suite(name: &str) -> (DockerRegistry, HarborEmulator, Suite, Value) {
    let backend = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let harbor = HarborEmulator::start(&backend.url(), "admin", "Harbor12345")
        .await
        .unwrap();
    let suite = Suite::start(Backend::Sqlite).await;
    let registry = json!({"name": name, "kind": "harbor", "url": harbor.url,
                          "credential": {"username": "admin", "password": "Harbor12345"}});
    (backend, harbor, suite, registry)
}

/// When Harbor refuses the robot change (now made after the binding commits), the binding is
/// put back as it was and the call fails: no binding without its robot, nor the reverse.
#[tokio::test]
async fn a_binding_harbor_refuses_is_put_back() {
    let (_backend, harbor, suite, registry) = harbor_suite("harbor").await;
    suite
        .ok(Method::POST, "/api/v1/registries", Some(registry))
        .await;
    suite.workspace("blue", "blue-ns").await;
    for space in ["s1", "s2"] {
        suite
            .ok(
                Method::POST,
                "/api/v1/registries/harbor/spaces",
                Some(json!({"name": space, "visibility": "private"})),
            )
            .await;
    }
    let bindings = |space: &'static str| {
        let suite = &suite;
        async move {
            let (_, v) = suite
                .admin(
                    Method::GET,
                    &format!("/api/v1/registries/harbor/spaces/{space}/bindings"),
                    None,
                )
                .await;
            v["items"].as_array().unwrap().len()
        }
    };
    suite
        .ok(
            Method::PUT,
            "/api/v1/registries/harbor/spaces/s1/bindings/blue",
            None,
        )
        .await;
    harbor.fail_robots(true);
    let (status, e) = suite
        .admin(
            Method::PUT,
            "/api/v1/registries/harbor/spaces/s2/bindings/blue",
            None,
        )
        .await;
    assert!(status >= 500, "{status} {e}");
    assert_eq!(bindings("s2").await, 0, "the refused binding is gone");
    let (status, e) = suite
        .admin(
            Method::DELETE,
            "/api/v1/registries/harbor/spaces/s1/bindings/blue",
            None,
        )
        .await;
    assert!(status >= 500, "{status} {e}");
    assert_eq!(bindings("s1").await, 1, "the refused unbinding is undone");
    harbor.fail_robots(false);
    let (status, _) = suite
        .admin(
            Method::DELETE,
            "/api/v1/registries/harbor/spaces/s1/bindings/blue",
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(bindings("s1").await, 0);
}
