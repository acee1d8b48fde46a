//! Security regressions: Berth's own secrets never leave the suite.
//!
//! A workspace-admin may integrate a registry of their own "behind Berth's token service" at a
//! URL they control. Berth must send that host nothing reusable: no internal credential, no
//! password, no call to a realm the host names; only tokens it signed for that registry alone.
//! The internal credential opens nothing at `/auth/token`, and a token minted for one registry
//! is refused by another.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use berth_testkit::db::Backend;
use berth_testkit::registry::{DockerRegistry, RegistryOptions, TokenAuth};
use berth_tests::Suite;
use reqwest::Method;
use serde_json::{json, Value};

/// What a hostile registry answers to every request.
#[derive(Clone, Copy)]
enum Challenge {
    /// `401 WWW-Authenticate: Basic`: asks for a password.
    Basic,
    /// `401 WWW-Authenticate: Bearer realm=<its own /steal>`: a foreign token service.
    ForeignRealm,
}

#[derive(Clone)]
struct Hostile {
    challenge: Challenge,
    port: u16,
    /// Every request seen: (path, authorization header).
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

async fn hostile(State(h): State<Hostile>, req: Request) -> Response {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let path = req.uri().to_string();
    h.seen.lock().unwrap().push((path.clone(), auth));
    if path.starts_with("/steal") {
        return axum::Json(json!({"token": "stolen", "expires_in": 300})).into_response();
    }
    let value = match h.challenge {
        Challenge::Basic => "Basic realm=\"hostile\"".to_string(),
        Challenge::ForeignRealm => format!(
            "Bearer realm=\"http://127.0.0.1:{}/steal\",service=\"hostile\",scope=\"registry:catalog:*\"",
            h.port
        ),
    };
    (
        http::StatusCode::UNAUTHORIZED,
        [
            ("www-authenticate", value),
            ("docker-distribution-api-version", "registry/2.0".into()),
        ],
        axum::Json(json!({"errors": [{"code": "UNAUTHORIZED"}]})),
    )
        .into_response()
}

async fn start_hostile(challenge: Challenge) -> Hostile {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let h = Hostile {
        challenge,
        port: listener.local_addr().unwrap().port(),
        seen: Arc::default(),
    };
    let app = axum::Router::new().fallback(hostile).with_state(h.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    h
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_hostile_registry_behind_the_token_service_receives_no_secret() {
    let suite = Suite::start(Backend::Sqlite).await;
    suite.workspace("blue", "blue-ns").await;
    let mallory = suite.member("blue", "mallory", "workspace-admin").await;
    for (name, challenge) in [
        ("evil-basic", Challenge::Basic),
        ("evil-realm", Challenge::ForeignRealm),
    ] {
        let h = start_hostile(challenge).await;
        let url = format!("http://127.0.0.1:{}", h.port);
        // On create (verified), then unverified so health checks, pings and listings run.
        let (status, _) = suite
            .call(
                Some(&mallory),
                Method::POST,
                "/api/v1/registries",
                Some(json!({"name": name, "kind": "distribution", "url": url,
                            "token_service": "berth", "workspace": "blue"})),
            )
            .await;
        assert!(status >= 400, "{name}: verification cannot succeed");
        let (status, v) = suite
            .call(
                Some(&mallory),
                Method::POST,
                "/api/v1/registries",
                Some(json!({"name": name, "kind": "distribution", "url": url,
                            "token_service": "berth", "workspace": "blue", "verify": false})),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        for path in [
            format!("/api/v1/registries/{name}/ping"),
            format!("/api/v1/registries/{name}/repositories"),
            format!("/api/v1/registries/{name}/overview"),
        ] {
            let method = if path.ends_with("ping") {
                Method::POST
            } else {
                Method::GET
            };
            let _ = suite.call(Some(&mallory), method, &path, None).await;
        }
        let seen = h.seen.lock().unwrap().clone();
        assert!(!seen.is_empty(), "{name}: Berth did reach the registry");
        for (path, auth) in &seen {
            assert!(
                !path.starts_with("/steal"),
                "{name}: Berth called the realm the registry named: {path}"
            );
            assert!(
                !auth.to_ascii_lowercase().starts_with("basic"),
                "{name}: Berth sent a password to {path}: {auth}"
            );
            for secret in [
                suite.internal_token.as_str(),
                berth_tests::ADMIN_TOKEN,
                &mallory,
            ] {
                assert!(
                    !auth.contains(secret),
                    "{name}: a Berth secret went to {path}"
                );
            }
            if let Some(jwt) = auth.strip_prefix("Bearer ") {
                let c = claims(jwt);
                assert_eq!(c["aud"], name, "{name}: a token for another audience: {c}");
                assert!(
                    c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap() <= 300,
                    "short-lived: {c}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_internal_credential_opens_nothing_at_the_token_service() {
    let suite = Suite::start(Backend::Sqlite).await;
    for user in ["berth-internal", "berth"] {
        let resp = suite
            .http
            .get(format!(
                "{}/auth/token?service=any&scope=repository:a/b:pull,push,delete",
                suite.url
            ))
            .basic_auth(user, Some(&suite.internal_token))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{user} with the internal credential");
    }
}

/// Two real registries behind Berth's token service, `one` and `two`: Berth reaches each with
/// tokens it signs itself, and a token for `one` opens nothing at `two`.
#[tokio::test]
async fn a_token_minted_for_one_registry_is_refused_by_another() {
    let suite = Suite::start(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("berth.pem");
    std::fs::write(&bundle, suite.token_signer.certificate_pem()).unwrap();
    let mut registries = Vec::new();
    for service in ["one", "two"] {
        let reg = DockerRegistry::start(RegistryOptions {
            token: Some(TokenAuth {
                realm: format!("{}/auth/token", suite.url),
                service: service.into(),
                issuer: "berth".into(),
                rootcertbundle: bundle.clone(),
            }),
            ..Default::default()
        })
        .await
        .unwrap();
        let (status, v) = suite
            .admin(
                Method::POST,
                "/api/v1/registries",
                Some(
                    json!({"name": service, "kind": "distribution", "url": reg.url(),
                            "token_service": "berth"}),
                ),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        assert_eq!(v["health"]["status"], "healthy", "{v}");
        registries.push(reg);
    }
    // Berth's own minted token for `one`, with the widest scope a caller could want.
    let minter = berth_auth::registry_token::Minter::new(suite.token_signer.clone(), "one");
    let token = berth_oci::TokenMinter::mint(&minter, "registry:catalog:*");
    let catalog = |port: u16| {
        let token = token.clone();
        async move {
            reqwest::Client::new()
                .get(format!("http://127.0.0.1:{port}/v2/_catalog"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(catalog(registries[0].port).await, 200, "valid where minted");
    assert_eq!(catalog(registries[1].port).await, 401, "refused elsewhere");
    // And a token the token service issues for `one` is refused by `two` too.
    let resp = suite
        .http
        .get(format!(
            "{}/auth/token?service=one&scope=registry:catalog:*",
            suite.url
        ))
        .basic_auth("admin", Some(suite.token_for("admin").await))
        .send()
        .await
        .unwrap();
    let issued: Value = resp.json().await.unwrap();
    let issued = issued["token"].as_str().unwrap().to_string();
    let status = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{}/v2/_catalog",
            registries[1].port
        ))
        .bearer_auth(issued)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
}

/// A login credential works at the registry it was issued for only: a workspace's own registry
/// (at a URL its admins control) that harvests a member's login gains nothing at another.
#[tokio::test]
async fn a_login_credential_opens_only_its_own_registry() {
    let suite = Suite::start(Backend::Sqlite).await;
    suite.seed_bound_space().await;
    let editor = suite
        .member("blue", "blue-editor", "workspace-editor")
        .await;
    for (name, port) in [("harvest", 31), ("other", 32)] {
        suite
            .ok(
                Method::POST,
                "/api/v1/registries",
                Some(
                    json!({"name": name, "kind": "distribution", "verify": false,
                            "url": format!("http://127.0.0.1:{port}"), "token_service": "berth"}),
                ),
            )
            .await;
    }
    let (status, login) = suite
        .call(
            Some(&editor),
            Method::POST,
            "/api/v1/registries/harvest/login-command",
            None,
        )
        .await;
    assert_eq!(status, 200, "{login}");
    let password = login["password"].as_str().unwrap().to_string();
    let token_at = |service: &str| {
        let (suite, password, service) = (&suite, password.clone(), service.to_string());
        async move {
            suite
                .http
                .get(format!(
                    "{}/auth/token?service={service}&scope=repository:priv/app:pull",
                    suite.url
                ))
                .basic_auth("blue-editor", Some(password))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(token_at("harvest").await, 200);
    for service in ["other", "dist"] {
        assert_eq!(token_at(service).await, 401, "{service}");
    }
}

/// The name of a removed registry behind Berth's token service stays with its owner: the
/// registry configured with `service: NAME` may still trust Berth's tokens for it. And the
/// token service serves only registries that delegate their auth to Berth.
#[tokio::test]
async fn a_retired_token_service_name_cannot_change_hands() {
    let suite = Suite::start(Backend::Sqlite).await;
    suite.workspace("blue", "blue-ns").await;
    let mallory = suite.member("blue", "mallory", "workspace-admin").await;
    let registry = |name: &str, port: u16, workspace: Option<&str>| {
        let mut body = json!({"name": name, "kind": "distribution", "verify": false,
                              "url": format!("http://127.0.0.1:{port}"), "token_service": "berth"});
        if let Some(w) = workspace {
            body["workspace"] = json!(w);
        }
        body
    };
    suite
        .ok(
            Method::POST,
            "/api/v1/registries",
            Some(registry("dist", 41, None)),
        )
        .await;
    suite
        .ok(Method::DELETE, "/api/v1/registries/dist", None)
        .await;
    let (status, e) = suite
        .call(
            Some(&mallory),
            Method::POST,
            "/api/v1/registries",
            Some(registry("dist", 42, Some("blue"))),
        )
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (409, Some("name")),
        "{e}"
    );
    // A workspace takes back its own; the platform any.
    suite
        .call(
            Some(&mallory),
            Method::POST,
            "/api/v1/registries",
            Some(registry("blue-reg", 43, Some("blue"))),
        )
        .await;
    suite
        .ok(Method::DELETE, "/api/v1/registries/blue-reg", None)
        .await;
    let (status, _) = suite
        .call(
            Some(&mallory),
            Method::POST,
            "/api/v1/registries",
            Some(registry("blue-reg", 43, Some("blue"))),
        )
        .await;
    assert_eq!(status, 201);
    suite
        .ok(
            Method::POST,
            "/api/v1/registries",
            Some(registry("dist", 41, None)),
        )
        .await;

    // A registry with its own auth gets no tokens from Berth, for anyone but an admin.
    let mut own = registry("plain", 44, Some("blue"));
    own.as_object_mut().unwrap().remove("token_service");
    let (status, _) = suite
        .call(
            Some(&mallory),
            Method::POST,
            "/api/v1/registries",
            Some(own),
        )
        .await;
    assert_eq!(status, 201);
    let resp = suite
        .http
        .get(format!(
            "{}/auth/token?service=plain&scope=repository:any/app:pull,push",
            suite.url
        ))
        .basic_auth("mallory", Some(&mallory))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    let c = claims(body["token"].as_str().unwrap());
    assert_eq!(c["access"][0]["actions"], json!([]), "{c}");
}
