//! The Harbor adapter against the Harbor v2.0 API emulator fronting a real docker-registry.

use berth_testkit::db::Backend;
use berth_testkit::harbor::HarborEmulator;
use berth_testkit::image::{push_image, push_index, storage_bytes, Image, Index, Target};
use berth_testkit::registry::{DockerRegistry, RegistryOptions};
use berth_tests::Suite;
use reqwest::Method;
use serde_json::json;

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
