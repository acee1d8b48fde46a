//! Security regressions: every listing and count a principal sees is cut to what the access rule
//! lets it see, and page tokens reveal nothing.
//!
//! A real docker-registry `prod` holds `team1/app` (private, bound to green), `blue1/app`
//! (private, bound to blue), `pub/app` (public), `loose/app` (a path whose first segment is no
//! space) and `toplevel` (no space at all). A workspace-admin of blue must see `blue1` and `pub`
//! and nothing else, through every read: repositories (with and without `?space=`), artifacts,
//! the registry overview, spaces, workspaces, registries, and every page token.

use base64::Engine;
use berth_testkit::db::Backend;
use berth_testkit::image::{push_image, Image, Target};
use berth_testkit::registry::{DockerRegistry, RegistryOptions};
use berth_tests::Suite;
use reqwest::Method;
use serde_json::{json, Value};

struct World {
    suite: Suite,
    _prod: DockerRegistry,
    /// Workspace-admin of blue.
    blue_admin: String,
    /// Viewer of blue.
    blue_viewer: String,
}

async fn world() -> World {
    let suite = Suite::start(Backend::Sqlite).await;
    let prod = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let target = Target {
        host: prod.host(),
        credential: None,
    };
    for (i, repo) in [
        "team1/app",
        "blue1/app",
        "pub/app",
        "pub-x/app",
        "loose/app",
        "toplevel",
    ]
    .into_iter()
    .enumerate()
    {
        let image = Image::new(&[(100 + i as u64, 2_000)], "amd64");
        push_image(&image, &target, repo, "v1").await.unwrap();
    }
    suite
        .ok(
            Method::POST,
            "/api/v1/registries",
            Some(json!({"name": "prod", "kind": "distribution", "url": prod.url()})),
        )
        .await;
    suite.workspace("blue", "blue-ns").await;
    suite.workspace("green", "green-ns").await;
    for (space, visibility, bound) in [
        ("team1", "private", Some("green")),
        ("blue1", "private", Some("blue")),
        ("pub", "public", None),
        ("pub-x", "public", None),
    ] {
        suite
            .ok(
                Method::POST,
                "/api/v1/registries/prod/spaces",
                Some(json!({"name": space, "visibility": visibility})),
            )
            .await;
        if let Some(ws) = bound {
            suite
                .ok(
                    Method::PUT,
                    &format!("/api/v1/registries/prod/spaces/{space}/bindings/{ws}"),
                    None,
                )
                .await;
        }
    }
    let blue_admin = suite.member("blue", "blue-admin", "workspace-admin").await;
    let blue_viewer = suite
        .member("blue", "blue-viewer", "workspace-viewer")
        .await;
    World {
        suite,
        _prod: prod,
        blue_admin,
        blue_viewer,
    }
}

fn names(v: &Value, key: &str) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {v}"))
        .iter()
        .map(|i| i[key].as_str().unwrap().to_string())
        .collect()
}

/// Walks `path` one item per page as `token`: every name seen, and every page token handed out.
async fn walk(suite: &Suite, token: &str, path: &str, key: &str) -> (Vec<String>, Vec<String>) {
    let (mut seen, mut tokens) = (Vec::new(), Vec::new());
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut next = String::new();
    for _ in 0..50 {
        let url = if next.is_empty() {
            format!("{path}{sep}page_size=1")
        } else {
            format!("{path}{sep}page_size=1&page_token={next}")
        };
        let (status, v) = suite.call(Some(token), Method::GET, &url, None).await;
        assert_eq!(status, 200, "{url}: {v}");
        seen.extend(names(&v, key));
        match v["next_page_token"].as_str() {
            Some(t) if !t.is_empty() => {
                tokens.push(t.to_string());
                next = t.to_string();
            }
            _ => return (seen, tokens),
        }
    }
    panic!("{path} did not end");
}

/// Asserts no page token says anything of what blue may not see, even decoded.
fn reveal_nothing(tokens: &[String]) {
    for t in tokens {
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t)
            .map(|b| String::from_utf8_lossy(&b).to_string())
            .unwrap_or_default();
        for hidden in ["team1", "green", "loose", "toplevel"] {
            assert!(
                !t.contains(hidden) && !decoded.contains(hidden),
                "page token {t} reveals {hidden}"
            );
        }
    }
}

#[tokio::test]
async fn repositories_artifacts_and_overviews_show_only_what_may_be_pulled() {
    let w = world().await;
    let s = &w.suite;
    for who in [&w.blue_admin, &w.blue_viewer] {
        let (status, v) = s
            .call(
                Some(who),
                Method::GET,
                "/api/v1/registries/prod/repositories",
                None,
            )
            .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(
            names(&v, "name"),
            vec!["blue1/app", "pub-x/app", "pub/app"],
            "{v}"
        );
        for space in ["team1", "loose", "nope"] {
            let (status, e) = s
                .call(
                    Some(who),
                    Method::GET,
                    &format!("/api/v1/registries/prod/repositories?space={space}"),
                    None,
                )
                .await;
            assert_eq!(status, 404, "?space={space}: {e}");
        }
        let (status, v) = s
            .call(
                Some(who),
                Method::GET,
                "/api/v1/registries/prod/repositories?space=blue1",
                None,
            )
            .await;
        assert_eq!((status, names(&v, "name")), (200, vec!["blue1/app".into()]));
        for repo in ["team1%2Fapp", "loose%2Fapp", "toplevel"] {
            let (status, e) = s
                .call(
                    Some(who),
                    Method::GET,
                    &format!("/api/v1/registries/prod/repositories/{repo}/artifacts"),
                    None,
                )
                .await;
            assert_eq!(status, 404, "{repo}: {e}");
            assert!(
                !e.to_string().contains("sha256:"),
                "no digest of {repo}: {e}"
            );
        }
        let (status, v) = s
            .call(
                Some(who),
                Method::GET,
                "/api/v1/registries/prod/repositories/pub%2Fapp/artifacts",
                None,
            )
            .await;
        assert_eq!(status, 200, "{v}");
        let (status, o) = s
            .call(
                Some(who),
                Method::GET,
                "/api/v1/registries/prod/overview",
                None,
            )
            .await;
        assert_eq!(status, 200, "{o}");
        assert_eq!(
            (
                o["spaces"].as_u64(),
                o["repositories"].as_u64(),
                o["artifacts"].as_u64()
            ),
            (Some(3), Some(3), Some(3)),
            "blue counts only blue1, pub and pub-x: {o}"
        );
    }
    // The platform admin sees everything.
    let (_, v) = s
        .admin(Method::GET, "/api/v1/registries/prod/repositories", None)
        .await;
    assert_eq!(
        names(&v, "name"),
        vec![
            "blue1/app",
            "loose/app",
            "pub-x/app",
            "pub/app",
            "team1/app",
            "toplevel"
        ]
    );
    let (_, o) = s
        .admin(Method::GET, "/api/v1/registries/prod/overview", None)
        .await;
    assert_eq!(o["repositories"].as_u64(), Some(6), "{o}");
}

#[tokio::test]
async fn page_tokens_walk_only_what_the_caller_may_list() {
    let w = world().await;
    let s = &w.suite;
    let (repos, tokens) = walk(
        s,
        &w.blue_admin,
        "/api/v1/registries/prod/repositories",
        "name",
    )
    .await;
    assert_eq!(repos, vec!["blue1/app", "pub-x/app", "pub/app"]);
    reveal_nothing(&tokens);
    // The image selector pages through every space the namespace may pull, whatever their
    // names sort like ("pub-x" before "pub/").
    let (images, tokens) = walk(
        s,
        &w.blue_admin,
        "/api/v1/namespaces/blue-ns/images",
        "image",
    )
    .await;
    let host = w._prod.host();
    assert_eq!(
        images,
        vec![
            format!("{host}/blue1/app"),
            format!("{host}/pub-x/app"),
            format!("{host}/pub/app")
        ]
    );
    reveal_nothing(&tokens);
    let (spaces, tokens) = walk(s, &w.blue_viewer, "/api/v1/registries/prod/spaces", "name").await;
    assert_eq!(spaces, vec!["blue1", "pub", "pub-x"]);
    reveal_nothing(&tokens);
    // Many hidden workspaces: no empty page with a next token tells how many were skipped.
    for i in 0..30 {
        s.ok(
            Method::POST,
            "/api/v1/workspaces",
            Some(json!({"name": format!("hidden-{i:02}")})),
        )
        .await;
    }
    let (workspaces, tokens) = walk(s, &w.blue_viewer, "/api/v1/workspaces", "name").await;
    assert_eq!(workspaces, vec!["blue"]);
    assert!(tokens.len() <= 1, "{tokens:?}");
    reveal_nothing(&tokens);
    let (all, _) = walk(
        s,
        berth_tests::ADMIN_TOKEN,
        "/api/v1/registries/prod/repositories",
        "name",
    )
    .await;
    assert_eq!(all.len(), 6, "{all:?}");

    // A token is the caller's and the list's own, and cannot be made up.
    let (_, first) = s
        .call(
            Some(&w.blue_admin),
            Method::GET,
            "/api/v1/registries/prod/repositories?page_size=1",
            None,
        )
        .await;
    let token = first["next_page_token"].as_str().unwrap().to_string();
    for (who, path) in [
        (
            w.blue_viewer.as_str(),
            format!("/api/v1/registries/prod/repositories?page_size=1&page_token={token}"),
        ),
        (
            w.blue_admin.as_str(),
            format!("/api/v1/registries/prod/spaces?page_size=1&page_token={token}"),
        ),
        (
            w.blue_admin.as_str(),
            "/api/v1/registries/prod/repositories?page_size=1&page_token=team1%2Fapp".to_string(),
        ),
    ] {
        let (status, e) = s.call(Some(who), Method::GET, &path, None).await;
        assert_eq!(
            (status, e["error"]["field"].as_str()),
            (400, Some("page_token")),
            "{path}: {e}"
        );
    }
}

/// A namespace of another workspace and one that does not exist answer alike, everywhere a
/// namespace is named; access decisions tell a hidden space from a missing one by nothing.
#[tokio::test]
async fn namespaces_and_spaces_of_others_are_indistinguishable_from_none() {
    let w = world().await;
    let s = &w.suite;
    for path in ["images", "pull-secret"] {
        let mut answers = Vec::new();
        for ns in ["green-ns", "no-such-ns"] {
            let (status, e) = s
                .call(
                    Some(&w.blue_admin),
                    Method::GET,
                    &format!("/api/v1/namespaces/{ns}/{path}"),
                    None,
                )
                .await;
            answers.push((status, e.to_string().replace(ns, "NS")));
        }
        assert_eq!(answers[0], answers[1], "{path}");
        assert_eq!(answers[0].0, 404);
    }
    let mut reasons = Vec::new();
    for space in ["team1", "nosuch"] {
        let (status, d) = s
            .call(
                Some(&w.blue_admin),
                Method::POST,
                "/api/v1/access/check",
                Some(json!({"namespace": "blue-ns",
                            "image": format!("{}/{space}/app:v1", w._prod.host())})),
            )
            .await;
        assert_eq!(status, 200, "{d}");
        assert_eq!(d["allowed"], false);
        reasons.push(d["reason"].as_str().unwrap().replace(space, "SPACE"));
    }
    assert_eq!(reasons[0], reasons[1]);
    assert!(!reasons[0].contains("green"), "{}", reasons[0]);
}
