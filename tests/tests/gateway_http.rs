//! The gateway's HTTP/JSON API: authentication, the authorization rules of issue 2, the error
//! envelope, bad input naming the field with nothing created, OpenAPI, metrics and audit.

use berth_testkit::db::Backend;
use berth_tests::Suite;
use reqwest::Method;
use serde_json::{json, Value};

fn valid() -> Value {
    json!({"name": "reg", "kind": "distribution", "url": "http://127.0.0.1:1", "verify": false})
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

#[tokio::test]
async fn authentication_and_authorization() {
    let suite = Suite::start(Backend::Sqlite).await;
    // No token, a malformed header, an unknown token: 401 with the envelope.
    let (status, body) = suite
        .call(None, Method::GET, "/api/v1/registries", None)
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthenticated");
    let resp = suite
        .http
        .get(format!("{}/api/v1/registries", suite.url))
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("www-authenticate").is_some());
    let (status, _) = suite
        .call(Some("berth_0000"), Method::GET, "/api/v1/registries", None)
        .await;
    assert_eq!(status, 401);

    // An API token of a principal without the platform-admin role.
    let (status, body) = suite
        .admin(Method::POST, "/api/v1/registries", Some(valid()))
        .await;
    assert_eq!(status, 201, "{body}");
    let alice = suite.token_for("alice").await;
    let (status, _) = suite
        .call(Some(&alice), Method::GET, "/api/v1/registries/reg", None)
        .await;
    assert_eq!(
        status, 200,
        "authenticated principals read platform registries"
    );
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/registries",
            Some(with(valid(), "name", json!("other"))),
        ),
        (
            Method::PATCH,
            "/api/v1/registries/reg",
            Some(json!({"description": "x"})),
        ),
        (Method::DELETE, "/api/v1/registries/reg", None),
        (Method::POST, "/api/v1/registries/reg/ping", None),
        (Method::GET, "/api/v1/overview", None),
        (
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"principal": "mallory"})),
        ),
        (Method::GET, "/api/v1/audit-events", None),
    ] {
        let (status, body) = suite.call(Some(&alice), method.clone(), path, body).await;
        assert_eq!(status, 403, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "permission_denied");
    }
    // A token minted for the bootstrap principal is an admin token too.
    let admin2 = suite.token_for("admin").await;
    let (status, _) = suite
        .call(
            Some(&admin2),
            Method::DELETE,
            "/api/v1/registries/reg",
            None,
        )
        .await;
    assert_eq!(status, 204);

    // Token input.
    for (body, field) in [
        (json!({"principal": ""}), "principal"),
        (json!({"principal": "has space"}), "principal"),
        (json!({"principal": "bob", "ttl_seconds": 5}), "ttl_seconds"),
        (json!({"principal": "bob", "ttl_seconds": 0}), "ttl_seconds"),
        (
            json!({"principal": "bob", "ttl_seconds": -60}),
            "ttl_seconds",
        ),
        (
            json!({"principal": "bob", "ttl_seconds": "soon"}),
            "ttl_seconds",
        ),
        (json!({}), "principal"),
    ] {
        let (status, e) = suite
            .admin(Method::POST, "/api/v1/tokens", Some(body.clone()))
            .await;
        assert_eq!(
            (status, e["error"]["field"].as_str()),
            (400, Some(field)),
            "{body}: {e}"
        );
    }
}

#[tokio::test]
async fn bad_registry_input_names_the_field_and_creates_nothing() {
    let suite = Suite::start(Backend::Postgres).await;
    let long = "x".repeat(64);
    let cases: Vec<(Value, &str)> = vec![
        (with(valid(), "name", json!("")), "name"),
        (with(valid(), "name", json!(long)), "name"),
        (with(valid(), "name", json!("UPPER")), "name"),
        (with(valid(), "name", json!("white space")), "name"),
        (with(valid(), "name", json!(7)), "name"),
        (with(valid(), "kind", json!("")), "kind"),
        (with(valid(), "kind", json!("quay")), "kind"),
        (with(valid(), "url", json!("")), "url"),
        (with(valid(), "url", json!("ftp://127.0.0.1")), "url"),
        (with(valid(), "url", json!("127.0.0.1:5000")), "url"),
        (
            with(
                valid(),
                "url",
                json!(format!("http://h/{}", "p".repeat(2100))),
            ),
            "url",
        ),
        (
            with(valid(), "description", json!("d".repeat(1025))),
            "description",
        ),
        (with(valid(), "insecure", json!("yes")), "insecure"),
        (with(valid(), "verify", json!("no")), "verify"),
        (
            with(
                valid(),
                "credential",
                json!({"username": "", "password": "p"}),
            ),
            "credential.username",
        ),
        (
            with(
                valid(),
                "credential",
                json!({"username": "u", "password": ""}),
            ),
            "credential.password",
        ),
        (
            with(valid(), "credential", json!({"username": "u"})),
            "credential.password",
        ),
        (
            with(
                valid(),
                "credential",
                json!({"username": "u", "password": "p", "token": 1}),
            ),
            "credential.token",
        ),
        (
            with(valid(), "token_service", json!("keycloak")),
            "token_service",
        ),
        (with(valid(), "colour", json!("blue")), "colour"),
        (json!({"kind": "oci", "url": "http://x"}), "name"),
        (json!({"name": "a", "url": "http://x"}), "kind"),
        (json!({"name": "a", "kind": "oci"}), "url"),
    ];
    for (body, field) in cases {
        let (status, e) = suite
            .admin(Method::POST, "/api/v1/registries", Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}: {e}");
        assert_eq!(e["error"]["code"], "invalid_argument");
        assert_eq!(e["error"]["field"], field, "{body}: {e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains(field.split('.').next_back().unwrap()),
            "{e}"
        );
    }
    let resp = suite
        .http
        .post(format!("{}/api/v1/registries", suite.url))
        .bearer_auth(berth_tests::ADMIN_TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let (_, list) = suite.admin(Method::GET, "/api/v1/registries", None).await;
    assert_eq!(
        list,
        json!({"items": [], "next_page_token": null}),
        "nothing was created"
    );

    // Duplicate name: 409 naming the field.
    assert_eq!(
        suite
            .admin(Method::POST, "/api/v1/registries", Some(valid()))
            .await
            .0,
        201
    );
    let (status, e) = suite
        .admin(Method::POST, "/api/v1/registries", Some(valid()))
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (409, Some("name")),
        "{e}"
    );

    // Update: bad fields are refused and change nothing.
    for (body, field) in [
        (json!({"url": "gopher://x"}), "url"),
        (json!({"description": "d".repeat(1025)}), "description"),
        (json!({"insecure": 3}), "insecure"),
        (
            json!({"credential": {"username": "", "password": "p"}}),
            "credential.username",
        ),
        (json!({"name": "renamed"}), "name"),
    ] {
        let (status, e) = suite
            .admin(Method::PATCH, "/api/v1/registries/reg", Some(body.clone()))
            .await;
        assert_eq!(
            (status, e["error"]["field"].as_str()),
            (400, Some(field)),
            "{body}: {e}"
        );
    }
    let (_, r) = suite
        .admin(Method::GET, "/api/v1/registries/reg", None)
        .await;
    assert_eq!(r["url"], "http://127.0.0.1:1");
    let (status, _) = suite
        .admin(
            Method::PATCH,
            "/api/v1/registries/nope",
            Some(json!({"description": "x"})),
        )
        .await;
    assert_eq!(status, 404);

    // Paging parameters.
    let (status, e) = suite
        .admin(Method::GET, "/api/v1/registries?page_size=0", None)
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (400, Some("page_size"))
    );
}

#[tokio::test]
async fn listing_pages_openapi_metrics_and_audit() {
    let suite = Suite::start(Backend::Sqlite).await;
    for (port, name) in [(11, "a1"), (12, "a2"), (13, "a3")] {
        let body = with(valid(), "url", json!(format!("http://127.0.0.1:{port}")));
        assert_eq!(
            suite
                .admin(
                    Method::POST,
                    "/api/v1/registries",
                    Some(with(body, "name", json!(name)))
                )
                .await
                .0,
            201
        );
    }
    let (_, p1) = suite
        .admin(Method::GET, "/api/v1/registries?page_size=2", None)
        .await;
    assert_eq!(p1["items"].as_array().unwrap().len(), 2);
    let next = p1["next_page_token"].as_str().unwrap();
    let (_, p2) = suite
        .admin(
            Method::GET,
            &format!("/api/v1/registries?page_size=2&page_token={next}"),
            None,
        )
        .await;
    assert_eq!(p2["items"][0]["name"], "a3");
    assert!(p2["next_page_token"].is_null());
    let r = &p1["items"][0];
    for key in [
        "name",
        "kind",
        "url",
        "insecure",
        "description",
        "scope",
        "managed",
        "health",
        "created_at",
        "updated_at",
    ] {
        assert!(r.get(key).is_some(), "registry lacks {key}: {r}");
    }
    assert_eq!(
        r["health"]["status"], "unknown",
        "saved without verification"
    );

    let (status, doc) = suite
        .call(None, Method::GET, "/api/v1/openapi.json", None)
        .await;
    assert_eq!(status, 200);
    assert!(
        doc["paths"]["/api/v1/registries"]["post"].is_object(),
        "{doc}"
    );
    assert!(doc["paths"]["/api/v1/registries/{registry}/overview"]["get"].is_object());

    let (status, e) = suite.admin(Method::GET, "/api/v1/nothing-here", None).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    // A name no name can be is refused naming its path parameter, and not echoed.
    for (path, field) in [
        ("/api/v1/registries/bad%01name", "registry"),
        ("/api/v1/registries/a%20b/spaces", "registry"),
        ("/api/v1/workspaces/x%0Ay", "workspace"),
    ] {
        let r = suite
            .http
            .get(format!("{}{path}", suite.url))
            .bearer_auth(berth_tests::ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let e: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (status, e["error"]["field"].as_str()),
            (400, Some(field)),
            "{path}: {text}"
        );
        assert!(
            !text.contains('\u{1}') && !text.contains("\\u0001") && !text.contains("x\ny"),
            "{text}"
        );
    }
    let (status, e) = suite.admin(Method::PUT, "/api/v1/registries", None).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );

    let metrics = suite
        .http
        .get(format!("{}/metrics", suite.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("berth_http_request_duration_seconds"),
        "{metrics}"
    );
    // Every family is typed and explained; request durations are histograms (buckets that
    // aggregate across replicas), not summaries; the build is named.
    let typed: Vec<(&str, &str)> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    assert!(!typed.is_empty(), "{metrics}");
    for (family, _) in &typed {
        assert!(
            metrics.contains(&format!("# HELP {family} ")),
            "no HELP for {family}:\n{metrics}"
        );
    }
    assert!(
        typed.contains(&("berth_http_request_duration_seconds", "histogram")),
        "{typed:?}"
    );
    assert!(
        metrics.contains("berth_http_request_duration_seconds_bucket{"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("berth_build_info{") && l.ends_with(" 1")),
        "{metrics}"
    );

    let (_, audit) = suite.admin(Method::GET, "/api/v1/audit-events", None).await;
    let items = audit["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["action"], "registry.create");
    assert_eq!(items[0]["resource"], "registries/a3", "newest first");
    assert_eq!(items[0]["principal"], "admin");
    assert_eq!(items[0]["result"], "ok");
}

/// API tokens can be listed (with their last use, never the token) and revoked at once;
/// principals see and revoke only their own.
#[tokio::test]
async fn api_tokens_are_listed_and_revoked() {
    let suite = Suite::start(Backend::Sqlite).await;
    let alice = suite.token_for("alice").await;
    let bob = suite.token_for("bob").await;
    let (status, _) = suite
        .call(Some(&alice), Method::GET, "/api/v1/registries", None)
        .await;
    assert_eq!(status, 200);
    let (_, all) = suite.admin(Method::GET, "/api/v1/tokens", None).await;
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{all}");
    assert!(!all.to_string().contains(&alice), "tokens never read back");
    let alices = items.iter().find(|t| t["principal"] == "alice").unwrap();
    assert_eq!(alices["kind"], "api");
    let used = berth_testkit::wait_until(std::time::Duration::from_secs(3), || async {
        let (_, v) = suite
            .call(Some(&alice), Method::GET, "/api/v1/tokens", None)
            .await;
        v["items"][0]["last_used_at"].is_string()
    })
    .await;
    assert!(used, "last use is recorded");
    // alice sees only hers; she cannot revoke bob's (404, as if it did not exist).
    let (_, own) = suite
        .call(Some(&alice), Method::GET, "/api/v1/tokens", None)
        .await;
    assert_eq!(own["items"].as_array().unwrap().len(), 1, "{own}");
    let bobs = items.iter().find(|t| t["principal"] == "bob").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = suite
        .call(
            Some(&alice),
            Method::DELETE,
            &format!("/api/v1/tokens/{bobs}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = suite
        .admin(Method::DELETE, &format!("/api/v1/tokens/{bobs}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = suite
        .call(Some(&bob), Method::GET, "/api/v1/registries", None)
        .await;
    assert_eq!(status, 401, "a revoked token stops working at once");
    let id = alices["id"].as_str().unwrap();
    let (status, _) = suite
        .call(
            Some(&alice),
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 204, "anyone may revoke their own");
}

/// Regression: a person's token list was cut from a `LIKE` superset after the page was taken,
/// so names with `_`, `%`, `\` or another case ended pages early. Walking one token a page
/// yields exactly the caller's tokens, over both databases.
#[tokio::test]
async fn token_pages_hold_exactly_the_callers_tokens() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let suite = Suite::start(backend).await;
        let names = ["a_b", "axb", "A_B", "a%b", "a\\b", "a_b"];
        for _ in 0..3 {
            for name in names {
                suite.token_for(name).await;
            }
        }
        for (who, expected) in [("a_b", 6), ("a\\b", 3), ("a%b", 3)] {
            let token = suite.token_for(who).await;
            let mut seen = Vec::new();
            let mut page = String::new();
            for _ in 0..50 {
                let (status, v) = suite
                    .call(
                        Some(&token),
                        Method::GET,
                        &format!("/api/v1/tokens?page_size=1&page_token={page}"),
                        None,
                    )
                    .await;
                assert_eq!(status, 200, "{v}");
                for t in v["items"].as_array().unwrap() {
                    assert_eq!(t["principal"], who, "{v}");
                    seen.push(t["id"].as_str().unwrap().to_string());
                }
                match v["next_page_token"].as_str() {
                    // Sealed page tokens are URL-safe base64.
                    Some(next) if !next.is_empty() => page = next.to_string(),
                    _ => break,
                }
            }
            // Its own tokens, plus the one it calls with.
            assert_eq!(seen.len(), expected + 1, "{who}: {seen:?}");
        }
    }
}

/// What a fresh-eyes review found the first interface pass let through: names in a repository
/// path, names that are not UTF-8, lengths counted in bytes, validation answered before
/// authentication, arrays read as objects, query errors blaming the wrong parameter, a page
/// token not checked, a method name growing the metrics without bound, schedules given to a
/// trigger that drops them, and times in three formats.
#[tokio::test]
async fn edge_input_is_refused_naming_the_right_field() {
    let suite = Suite::start(Backend::Sqlite).await;
    let raw = |method: &str, path: &str, token: Option<&str>, body: Option<&str>| {
        let mut req = suite.http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", suite.url),
        );
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let kind = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let text = r.text().await.unwrap();
            (status, kind, text)
        }
    };
    let admin = Some(berth_tests::ADMIN_TOKEN);
    let long = "x".repeat(300);
    for (path, field) in [
        (
            "/api/v1/registries/r/repositories/lib/ngi%00nx/artifacts".to_string(),
            "repository",
        ),
        (
            "/api/v1/registries/r/repositories/a%20b/c/artifacts".into(),
            "repository",
        ),
        (
            format!("/api/v1/registries/r/repositories/team/{long}/artifacts"),
            "repository",
        ),
        ("/api/v1/workspaces/%FF%FE".into(), "workspace"),
        ("/api/v1/workspaces/a%EF%BB%BFb".into(), "workspace"),
        // A right-to-left override and a zero-width space: invisible, so no name.
        ("/api/v1/registries/x%E2%80%AEy".into(), "registry"),
        ("/api/v1/registries/x%E2%80%8By/spaces".into(), "registry"),
    ] {
        let (status, kind, text) = raw("GET", &path, admin, None).await;
        let e: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: {text}"));
        assert_eq!(
            (status, e["error"]["field"].as_str()),
            (400, Some(field)),
            "{path}: {text}"
        );
        assert!(kind.starts_with("application/json"), "{path}: {kind}");
        assert!(
            !text.contains("ngi") && !text.contains("a b") && !text.contains(&long),
            "echoed: {text}"
        );
        // Anonymous callers learn nothing but 401.
        let (status, _, _) = raw("GET", &path, None, None).await;
        assert_eq!(status, 401, "{path}");
    }
    // 200 characters of two bytes each are 200 characters, not 400.
    let wide = "%C3%A9".repeat(200);
    let (status, _, text) = raw(
        "PUT",
        &format!("/api/v1/workspaces/nowhere/members/{wide}"),
        admin,
        Some(r#"{"role": "workspace-viewer"}"#),
    )
    .await;
    assert_eq!(status, 404, "{text}");

    for (body, path) in [
        (r#"["arrays", "are not objects"]"#, "/api/v1/workspaces"),
        (r#"["bob", 3600]"#, "/api/v1/tokens"),
        (r#"{"name": "trailing"} garbage"#, "/api/v1/workspaces"),
        (r#"{"name": "one"}{"name": "two"}"#, "/api/v1/workspaces"),
        ("1", "/api/v1/workspaces"),
        ("null", "/api/v1/tokens"),
    ] {
        let (status, _, text) = raw("POST", path, admin, Some(body)).await;
        let e: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (status, e["error"]["field"].as_str()),
            (400, Some("body")),
            "{text}"
        );
    }
    let (_, _, list) = raw("GET", "/api/v1/workspaces", admin, None).await;
    assert!(
        !list.contains("arrays") && !list.contains("trailing") && !list.contains("\"one\""),
        "{list}"
    );
    // Notifications for a name no registry can have authenticate nobody, and the name is not
    // echoed (nor is a name that is not UTF-8 a plain-text error).
    for path in ["/hooks/harbor/a%FF", "/hooks/distribution/a%01b"] {
        let (status, kind, text) = raw("POST", path, Some("some-secret"), Some("{}")).await;
        assert_eq!(status, 401, "{path}: {text}");
        assert!(kind.starts_with("application/json"), "{path}: {kind}");
        assert!(
            !text.contains("a\\u{1}b") && !text.contains('\u{1}'),
            "{text}"
        );
    }
    let (status, _, text) = raw(
        "GET",
        "/api/v1/replication/executions/any/tasks?page_token=garbage",
        admin,
        None,
    )
    .await;
    assert!(status == 400 && text.contains("page_token"), "{text}");

    for (query, field) in [
        ("page_token=a&page_token=b", "page_token"),
        ("page_size=abc", "page_size"),
        ("page_size=0", "page_size"),
    ] {
        let (status, _, text) =
            raw("GET", &format!("/api/v1/registries?{query}"), admin, None).await;
        let e: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (status, e["error"]["field"].as_str()),
            (400, Some(field)),
            "{query}: {text}"
        );
        assert!(!text.contains("Failed to deserialize"), "{text}");
        assert!(!text.contains("invalid digit"), "{text}");
    }
    let (status, _, text) = raw("GET", "/api/v1/audit-events?page_token=!!", admin, None).await;
    assert_eq!(status, 400, "{text}");

    for _ in 0..3 {
        let (status, _, _) = raw("XYZZY", "/healthz", None, None).await;
        assert_eq!(status, 405);
    }
    let (_, _, metrics) = raw("GET", "/metrics", None, None).await;
    assert!(
        !metrics.contains("XYZZY"),
        "a method name became a label value"
    );
    assert!(metrics.contains("method=\"other\""), "{metrics}");
    // gRPC paths no service answers fold into one label too.
    let channel = tonic::transport::Endpoint::from_shared(suite.url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    for i in 0..3 {
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        grpc.ready().await.unwrap();
        let path = http::uri::PathAndQuery::try_from(format!("/made.Up{i}/Method{i}")).unwrap();
        let answer: Result<tonic::Response<()>, tonic::Status> = grpc
            .unary(
                tonic::Request::new(()),
                path,
                tonic_prost::ProstCodec::<(), ()>::default(),
            )
            .await;
        assert_eq!(answer.unwrap_err().code(), tonic::Code::Unimplemented);
    }
    let (_, _, metrics) = raw("GET", "/metrics", None, None).await;
    assert!(
        !metrics.contains("made.Up"),
        "a gRPC path became a label value"
    );

    let policy = r#"{"name": "p", "source": {"registry": "a"}, "destination": {"registry": "b"},
        "trigger": {"kind": "manual", "cron": "0 * * * *"}}"#;
    let (status, _, text) = raw("POST", "/api/v1/replication/policies", admin, Some(policy)).await;
    let e: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (400, Some("trigger.cron")),
        "{text}"
    );

    // One time format everywhere: RFC 3339, UTC, milliseconds.
    let (status, _, text) = raw(
        "POST",
        "/api/v1/tokens",
        admin,
        Some(r#"{"principal": "bob"}"#),
    )
    .await;
    assert_eq!(status, 201, "{text}");
    let token: Value = serde_json::from_str(&text).unwrap();
    let at = token["expires_at"].as_str().unwrap();
    assert!(
        at.len() == 24 && at.ends_with('Z') && at.as_bytes()[19] == b'.',
        "{at}"
    );
}
