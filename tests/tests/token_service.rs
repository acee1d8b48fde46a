//! Private spaces on a plain docker-registry: the registry runs with `auth: token` pointing at
//! Berth, and skopeo pulls and pushes with namespace pull credentials and people's API tokens.

use std::time::Duration;

use base64::Engine;
use berth_testkit::db::Backend;
use berth_testkit::image::{can_pull, push_image, Image, Target};
use berth_testkit::registry::{DockerRegistry, RegistryOptions, TokenAuth};
use berth_tests::Suite;
use reqwest::Method;
use serde_json::{json, Value};

async fn ok(suite: &Suite, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, v) = suite.admin(method, path, body).await;
    assert!(status < 300, "{path}: {status} {v}");
    v
}

/// User and password of the pull secret Berth issues for `ns` at `host`.
async fn pull_credential(suite: &Suite, ns: &str, host: &str) -> (String, String) {
    let secret = ok(
        suite,
        Method::GET,
        &format!("/api/v1/namespaces/{ns}/pull-secret"),
        None,
    )
    .await;
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
    assert_eq!(secret["metadata"]["namespace"], ns);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(secret["data"][".dockerconfigjson"].as_str().unwrap())
        .unwrap();
    let config: Value = serde_json::from_slice(&raw).unwrap();
    let entry = &config["auths"][host];
    (
        entry["username"].as_str().unwrap().to_string(),
        entry["password"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn token_mode_registry_enforces_the_access_rule() {
    let suite = Suite::start(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let cert = suite
        .http
        .get(format!("{}/auth/certificate", suite.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(cert.contains("BEGIN CERTIFICATE"));
    std::fs::write(dir.path().join("berth.pem"), &cert).unwrap();
    let reg = DockerRegistry::start(RegistryOptions {
        token: Some(TokenAuth {
            realm: format!("{}/auth/token", suite.url),
            service: "tokreg".into(),
            issuer: "berth".into(),
            rootcertbundle: dir.path().join("berth.pem"),
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let host = reg.host();

    // Berth reaches the registry with its own tokens: no credential needed.
    let r = ok(&suite, Method::POST, "/api/v1/registries", Some(json!({"name": "tokreg", "kind": "distribution", "url": reg.url(), "token_service": "berth"}))).await;
    assert_eq!(r["health"]["status"], "healthy", "{r}");
    for ws in ["blue", "green"] {
        ok(
            &suite,
            Method::POST,
            "/api/v1/workspaces",
            Some(json!({"name": ws})),
        )
        .await;
        ok(
            &suite,
            Method::PUT,
            &format!("/api/v1/workspaces/{ws}/namespaces/{ws}-ns"),
            None,
        )
        .await;
    }
    for (who, ws, role) in [
        ("blue-editor", "blue", "workspace-editor"),
        ("blue-viewer", "blue", "workspace-viewer"),
        ("green-editor", "green", "workspace-editor"),
    ] {
        ok(
            &suite,
            Method::PUT,
            &format!("/api/v1/workspaces/{ws}/members/{who}"),
            Some(json!({"role": role})),
        )
        .await;
    }
    for (name, visibility) in [("pub", "public"), ("priv", "private"), ("other", "private")] {
        ok(
            &suite,
            Method::POST,
            "/api/v1/registries/tokreg/spaces",
            Some(json!({"name": name, "visibility": visibility})),
        )
        .await;
    }
    ok(
        &suite,
        Method::PUT,
        "/api/v1/registries/tokreg/spaces/priv/bindings/blue",
        None,
    )
    .await;

    // A platform admin pushes the images.
    let admin = suite.token_for("admin").await;
    let image = Image::new(&[(41, 4_000)], "amd64");
    let as_admin = Target {
        host: host.clone(),
        credential: Some(("admin".into(), admin.clone())),
    };
    for space in ["pub", "priv", "other"] {
        push_image(&image, &as_admin, &format!("{space}/app"), "v1")
            .await
            .unwrap();
    }

    // Pull: public × private-bound × private-unbound, for the bound and the other workspace.
    let blue = pull_credential(&suite, "blue-ns", &host).await;
    let green = pull_credential(&suite, "green-ns", &host).await;
    assert_eq!(blue.0, "namespace/blue-ns");
    for (space, blue_ok, green_ok) in [
        ("pub", true, true),
        ("priv", true, false),
        ("other", false, false),
    ] {
        let image = format!("{space}/app:v1");
        assert_eq!(
            can_pull(&host, &image, &blue.0, &blue.1).await,
            blue_ok,
            "blue-ns pulling {image}"
        );
        assert_eq!(
            can_pull(&host, &image, &green.0, &green.1).await,
            green_ok,
            "green-ns pulling {image}"
        );
    }
    assert!(
        !can_pull(&host, "priv/app:v1", &blue.0, "berth_wrong").await,
        "a wrong password pulls nothing"
    );

    // A binding grants pull only unless it says push: the bound workspace's editor may not
    // push or delete yet.
    let pushed = Image::new(&[(42, 3_000)], "amd64");
    let blue_editor = Target {
        host: host.clone(),
        credential: Some(("blue-editor".into(), suite.token_for("blue-editor").await)),
    };
    assert!(
        push_image(&pushed, &blue_editor, "priv/pushed", "early")
            .await
            .is_err(),
        "a pull-only binding lets no editor push"
    );
    ok(
        &suite,
        Method::PUT,
        "/api/v1/registries/tokreg/spaces/priv/bindings/blue",
        Some(json!({"push": true})),
    )
    .await;

    // Push: editor of a workspace bound with push yes; its viewer and an outsider no; a
    // namespace never.
    for (who, allowed) in [
        ("blue-editor", true),
        ("blue-viewer", false),
        ("green-editor", false),
    ] {
        let token = suite.token_for(who).await;
        let target = Target {
            host: host.clone(),
            credential: Some((who.into(), token)),
        };
        let result = push_image(&pushed, &target, "priv/pushed", who).await;
        assert_eq!(result.is_ok(), allowed, "{who} pushing to priv: {result:?}");
    }
    let target = Target {
        host: host.clone(),
        credential: Some(blue.clone()),
    };
    assert!(
        push_image(&pushed, &target, "priv/pushed", "ns")
            .await
            .is_err(),
        "pull credentials cannot push"
    );
    // Pull credentials do not open the API.
    let (status, _) = suite
        .call(Some(&blue.1), Method::GET, "/api/v1/registries", None)
        .await;
    assert_eq!(status, 401);

    // A person's login command: a short-lived credential worth what the person may do.
    let editor = suite.token_for("blue-editor").await;
    let (status, login) = suite
        .call(
            Some(&editor),
            Method::POST,
            "/api/v1/registries/tokreg/login-command",
            None,
        )
        .await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["host"], host.as_str());
    assert_eq!(login["username"], "blue-editor");
    let login_password = login["password"].as_str().unwrap().to_string();
    let target = Target {
        host: host.clone(),
        credential: Some(("blue-editor".into(), login_password.clone())),
    };
    push_image(&pushed, &target, "priv/pushed", "login")
        .await
        .unwrap();
    assert!(!can_pull(&host, "other/app:v1", "blue-editor", &login_password).await);
    let (status, _) = suite
        .call(
            Some(&login_password),
            Method::GET,
            "/api/v1/registries",
            None,
        )
        .await;
    assert_eq!(status, 401, "login credentials do not open the API");

    // Quota: pushes are refused once the space holds its quota; pulls go on.
    ok(
        &suite,
        Method::POST,
        "/api/v1/registries/tokreg/spaces",
        Some(json!({"name": "small", "quota_bytes": 3000})),
    )
    .await;
    ok(
        &suite,
        Method::PUT,
        "/api/v1/registries/tokreg/spaces/small/bindings/blue",
        Some(json!({"push": true})),
    )
    .await;
    let as_editor = Target {
        host: host.clone(),
        credential: Some(("blue-editor".into(), editor.clone())),
    };
    push_image(
        &Image::new(&[(43, 4_000)], "amd64"),
        &as_editor,
        "small/first",
        "v1",
    )
    .await
    .unwrap();
    let refused = push_image(
        &Image::new(&[(44, 1_000)], "amd64"),
        &as_editor,
        "small/second",
        "v1",
    )
    .await;
    assert!(
        refused.is_err(),
        "a push into a space over its quota is refused"
    );
    assert!(can_pull(&host, "small/first:v1", "blue-editor", &editor).await);
    ok(
        &suite,
        Method::PATCH,
        "/api/v1/registries/tokreg/spaces/small",
        Some(json!({"quota_bytes": 1_000_000})),
    )
    .await;
    push_image(
        &Image::new(&[(44, 1_000)], "amd64"),
        &as_editor,
        "small/second",
        "v1",
    )
    .await
    .unwrap();
    ok(
        &suite,
        Method::DELETE,
        "/api/v1/registries/tokreg/spaces/small/bindings/blue",
        None,
    )
    .await;

    // The image selector shows each namespace exactly what it may pull, with digests.
    let images = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["image"].as_str().unwrap().to_string())
            .collect()
    };
    let (status, blue_images) = suite
        .admin(Method::GET, "/api/v1/namespaces/blue-ns/images", None)
        .await;
    assert_eq!(status, 200, "{blue_images}");
    assert_eq!(
        images(&blue_images),
        vec![
            format!("{host}/priv/app"),
            format!("{host}/priv/pushed"),
            format!("{host}/pub/app")
        ]
    );
    assert_eq!(
        blue_images["items"][0]["tags"],
        json!([{"tag": "v1", "digest": image.manifest.digest, "vulnerabilities": null}])
    );
    let (_, green_images) = suite
        .admin(Method::GET, "/api/v1/namespaces/green-ns/images", None)
        .await;
    assert_eq!(images(&green_images), vec![format!("{host}/pub/app")]);
    let (_, page) = suite
        .admin(
            Method::GET,
            "/api/v1/namespaces/blue-ns/images?page_size=2",
            None,
        )
        .await;
    let next = page["next_page_token"].as_str().unwrap().to_string();
    let (_, rest) = suite
        .admin(
            Method::GET,
            &format!("/api/v1/namespaces/blue-ns/images?page_size=2&page_token={next}"),
            None,
        )
        .await;
    assert_eq!(images(&rest), vec![format!("{host}/pub/app")]);
    let (status, _) = suite
        .call(
            Some(&editor),
            Method::GET,
            "/api/v1/namespaces/green-ns/images",
            None,
        )
        .await;
    assert_eq!(
        status, 404,
        "another workspace's namespace does not exist for blue"
    );

    // Unbind: the same namespace's next pull is refused within a second.
    ok(
        &suite,
        Method::DELETE,
        "/api/v1/registries/tokreg/spaces/priv/bindings/blue",
        None,
    )
    .await;
    let started = std::time::Instant::now();
    let refused = berth_testkit::wait_until(Duration::from_secs(1), || {
        let (host, blue) = (host.clone(), blue.clone());
        async move { !can_pull(&host, "priv/app:v1", &blue.0, &blue.1).await }
    })
    .await;
    assert!(refused, "still pulling after unbind");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // Revoked credentials stop working.
    ok(
        &suite,
        Method::DELETE,
        "/api/v1/namespaces/blue-ns/pull-secret",
        None,
    )
    .await;
    assert!(!can_pull(&host, "pub/app:v1", &blue.0, &blue.1).await);
}
