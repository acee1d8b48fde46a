//! Every gateway operation × (platform admin; admin, editor, viewer of the owning workspace;
//! the same roles in another workspace; unauthenticated): each cell as the rules say.

use berth_testkit::db::Backend;
use berth_tests::Suite;
use reqwest::Method;
use serde_json::{json, Value};

const WHO: [&str; 8] = [
    "admin",
    "blue-admin",
    "blue-editor",
    "blue-viewer",
    "green-admin",
    "green-editor",
    "green-viewer",
    "anonymous",
];

struct Op {
    method: Method,
    path: &'static str,
    body: Option<Value>,
    expect: [u16; 8],
    /// Run by the platform admin before each cell, so every cell starts from the same state.
    reset: Option<(Method, &'static str, Option<Value>)>,
}

fn op(method: Method, path: &'static str, body: Option<Value>, expect: [u16; 8]) -> Op {
    Op {
        method,
        path,
        body,
        expect,
        reset: None,
    }
}

async fn setup(suite: &Suite) -> Vec<Option<String>> {
    let admin = |m, p: &str, b| {
        let p = p.to_string();
        async move {
            let (status, body) = suite.admin(m, &p, b).await;
            assert!(status < 300, "{p}: {status} {body}");
        }
    };
    for ws in ["blue", "green"] {
        admin(
            Method::POST,
            "/api/v1/workspaces",
            Some(json!({"name": ws})),
        )
        .await;
        admin(
            Method::PUT,
            &format!("/api/v1/workspaces/{ws}/namespaces/{ws}-ns"),
            None,
        )
        .await;
        for role in ["admin", "editor", "viewer"] {
            let body = json!({"role": format!("workspace-{role}")});
            admin(
                Method::PUT,
                &format!("/api/v1/workspaces/{ws}/members/{ws}-{role}"),
                Some(body),
            )
            .await;
        }
    }
    admin(
        Method::POST,
        "/api/v1/registries",
        Some(json!({"name": "plat", "kind": "oci", "url": "http://127.0.0.1:1", "verify": false})),
    )
    .await;
    admin(Method::POST, "/api/v1/registries", Some(json!({"name": "own", "kind": "oci", "url": "http://127.0.0.1:2", "verify": false, "workspace": "blue"}))).await;
    for (name, visibility) in [
        ("pub", "public"),
        ("priv", "private"),
        ("green-priv", "private"),
    ] {
        admin(
            Method::POST,
            "/api/v1/registries/plat/spaces",
            Some(json!({"name": name, "visibility": visibility})),
        )
        .await;
    }
    admin(
        Method::PUT,
        "/api/v1/registries/plat/spaces/priv/bindings/blue",
        None,
    )
    .await;
    admin(
        Method::PUT,
        "/api/v1/registries/plat/spaces/green-priv/bindings/green",
        None,
    )
    .await;
    let mut tokens = vec![Some(berth_tests::ADMIN_TOKEN.to_string())];
    for who in &WHO[1..7] {
        tokens.push(Some(suite.token_for(who).await));
    }
    tokens.push(None);
    tokens
}

#[tokio::test]
async fn every_operation_for_every_role() {
    let suite = Suite::start(Backend::Sqlite).await;
    let tokens = setup(&suite).await;
    let all_read = [200, 200, 200, 200, 200, 200, 200, 401];
    let blue_read = [200, 200, 200, 200, 404, 404, 404, 401];
    let admin_only = |ok: u16| [ok, 403, 403, 403, 403, 403, 403, 401];
    let ops = vec![
        op(Method::GET, "/api/v1/registries/plat", None, all_read),
        op(Method::GET, "/api/v1/registries/own", None, blue_read),
        op(
            Method::GET,
            "/api/v1/registries/own/overview",
            None,
            [502, 502, 502, 502, 404, 404, 404, 401],
        ),
        op(
            Method::PATCH,
            "/api/v1/registries/own",
            Some(json!({"description": "x"})),
            [200, 200, 403, 403, 404, 404, 404, 401],
        ),
        op(
            Method::PATCH,
            "/api/v1/registries/plat",
            Some(json!({"description": "x"})),
            admin_only(200),
        ),
        op(
            Method::POST,
            "/api/v1/registries/plat/ping",
            None,
            admin_only(200),
        ),
        Op {
            reset: Some((Method::DELETE, "/api/v1/registries/blue-extra", None)),
            ..op(
                Method::POST,
                "/api/v1/registries",
                Some(
                    json!({"name": "blue-extra", "kind": "oci", "url": "http://127.0.0.1:3", "verify": false, "workspace": "blue"}),
                ),
                [201, 201, 403, 403, 404, 404, 404, 401],
            )
        },
        Op {
            reset: Some((Method::DELETE, "/api/v1/registries/plat-extra", None)),
            ..op(
                Method::POST,
                "/api/v1/registries",
                Some(
                    json!({"name": "plat-extra", "kind": "oci", "url": "http://127.0.0.1:4", "verify": false}),
                ),
                admin_only(201),
            )
        },
        op(Method::GET, "/api/v1/workspaces/blue", None, blue_read),
        // Reads cut to what the access rule lets each principal pull (plat is unreachable, so a
        // permitted read answers 502; a hidden one 404 before anything is asked of it).
        op(
            Method::GET,
            "/api/v1/registries/plat/repositories?space=pub",
            None,
            [502, 502, 502, 502, 502, 502, 502, 401],
        ),
        op(
            Method::GET,
            "/api/v1/registries/plat/repositories?space=priv",
            None,
            [502, 502, 502, 502, 404, 404, 404, 401],
        ),
        op(
            Method::GET,
            "/api/v1/registries/plat/repositories?space=green-priv",
            None,
            [502, 404, 404, 404, 502, 502, 502, 401],
        ),
        op(
            Method::GET,
            "/api/v1/registries/plat/repositories?space=nospace",
            None,
            [502, 404, 404, 404, 404, 404, 404, 401],
        ),
        op(
            Method::GET,
            "/api/v1/registries/plat/repositories/priv%2Fapp/artifacts",
            None,
            [502, 502, 502, 502, 404, 404, 404, 401],
        ),
        op(
            Method::GET,
            "/api/v1/registries/plat/repositories/green-priv%2Fapp/artifacts",
            None,
            [502, 404, 404, 404, 502, 502, 502, 401],
        ),
        op(
            Method::GET,
            "/api/v1/registries/plat/repositories/loose%2Fapp/artifacts",
            None,
            [502, 404, 404, 404, 404, 404, 404, 401],
        ),
        op(
            Method::GET,
            "/api/v1/registries/plat/repositories/toplevel/artifacts",
            None,
            [502, 404, 404, 404, 404, 404, 404, 401],
        ),
        op(
            Method::GET,
            "/api/v1/registries/own/repositories/anything%2Fapp/artifacts",
            None,
            [502, 502, 502, 502, 404, 404, 404, 401],
        ),
        op(
            Method::GET,
            "/api/v1/registries/plat/spaces/green-priv",
            None,
            [200, 404, 404, 404, 200, 200, 200, 401],
        ),
        // Replication copies with Berth's own credentials: platform admins only.
        op(
            Method::GET,
            "/api/v1/replication/policies",
            None,
            admin_only(200),
        ),
        op(
            Method::GET,
            "/api/v1/replication/executions",
            None,
            admin_only(200),
        ),
        op(
            Method::PATCH,
            "/api/v1/replication/policies/nope",
            Some(json!({"enabled": false})),
            admin_only(404),
        ),
        op(
            Method::GET,
            "/api/v1/replication/executions/nope/tasks",
            None,
            admin_only(404),
        ),
        op(
            Method::POST,
            "/api/v1/replication/executions/nope/cancel",
            None,
            admin_only(404),
        ),
        // Importing takes the right to manage the registry; an empty body is no archive.
        op(
            Method::POST,
            "/api/v1/registries/own/import?repository=team/app&tag=v1",
            None,
            [400, 400, 403, 403, 404, 404, 404, 401],
        ),
        Op {
            reset: Some((Method::DELETE, "/api/v1/workspaces/tmp", None)),
            ..op(
                Method::POST,
                "/api/v1/workspaces",
                Some(json!({"name": "tmp"})),
                admin_only(201),
            )
        },
        Op {
            reset: Some((
                Method::POST,
                "/api/v1/workspaces",
                Some(json!({"name": "doomed"})),
            )),
            ..op(
                Method::DELETE,
                "/api/v1/workspaces/doomed",
                None,
                [204, 403, 403, 403, 403, 403, 403, 401],
            )
        },
        op(
            Method::PUT,
            "/api/v1/workspaces/blue/namespaces/blue-extra-ns",
            None,
            [204, 403, 403, 403, 403, 403, 403, 401],
        ),
        op(
            Method::PUT,
            "/api/v1/workspaces/blue/members/dummy",
            Some(json!({"role": "workspace-viewer"})),
            [204, 204, 403, 403, 404, 404, 404, 401],
        ),
        Op {
            reset: Some((
                Method::PUT,
                "/api/v1/workspaces/blue/members/leaver",
                Some(json!({"role": "workspace-viewer"})),
            )),
            ..op(
                Method::DELETE,
                "/api/v1/workspaces/blue/members/leaver",
                None,
                [204, 204, 403, 403, 404, 404, 404, 401],
            )
        },
        op(
            Method::GET,
            "/api/v1/registries/plat/spaces/pub",
            None,
            all_read,
        ),
        op(
            Method::GET,
            "/api/v1/registries/plat/spaces/priv",
            None,
            blue_read,
        ),
        op(
            Method::GET,
            "/api/v1/registries/plat/spaces/green-priv",
            None,
            [200, 404, 404, 404, 200, 200, 200, 401],
        ),
        op(
            Method::GET,
            "/api/v1/registries/plat/spaces/priv/bindings",
            None,
            blue_read,
        ),
        op(
            Method::PATCH,
            "/api/v1/registries/plat/spaces/priv",
            Some(json!({"description": "x"})),
            [200, 403, 403, 403, 404, 404, 404, 401],
        ),
        Op {
            reset: Some((
                Method::DELETE,
                "/api/v1/registries/plat/spaces/priv/bindings/green",
                None,
            )),
            ..op(
                Method::PUT,
                "/api/v1/registries/plat/spaces/priv/bindings/green",
                None,
                [200, 403, 403, 403, 404, 404, 404, 401],
            )
        },
        Op {
            reset: Some((Method::DELETE, "/api/v1/registries/own/spaces/team", None)),
            ..op(
                Method::POST,
                "/api/v1/registries/own/spaces",
                Some(json!({"name": "team"})),
                [201, 201, 403, 403, 404, 404, 404, 401],
            )
        },
        Op {
            reset: Some((Method::DELETE, "/api/v1/registries/own/spaces/open", None)),
            ..op(
                Method::POST,
                "/api/v1/registries/own/spaces",
                Some(json!({"name": "open", "visibility": "public"})),
                [201, 403, 403, 403, 404, 404, 404, 401],
            )
        },
        Op {
            reset: Some((
                Method::POST,
                "/api/v1/registries/own/spaces",
                Some(json!({"name": "gone"})),
            )),
            ..op(
                Method::DELETE,
                "/api/v1/registries/own/spaces/gone",
                None,
                [204, 204, 403, 403, 404, 404, 404, 401],
            )
        },
        op(
            Method::POST,
            "/api/v1/access/check",
            Some(json!({"namespace": "blue-ns", "image": "127.0.0.1:1/priv/app:v1"})),
            blue_read,
        ),
        op(
            Method::GET,
            "/api/v1/registries/plat/spaces",
            None,
            all_read,
        ),
        // The registries behind these are unreachable: 502 where authorized, so the cell shows the
        // authorization decision (401/403/404) apart from the upstream failure.
        op(
            Method::GET,
            "/api/v1/namespaces/blue-ns/images",
            None,
            [502, 502, 502, 502, 404, 404, 404, 401],
        ),
        op(
            Method::POST,
            "/api/v1/registries/own/import-spaces",
            None,
            [502, 502, 403, 403, 404, 404, 404, 401],
        ),
        op(
            Method::GET,
            "/api/v1/namespaces/blue-ns/pull-secret",
            None,
            [200, 200, 200, 403, 404, 404, 404, 401],
        ),
        op(
            Method::DELETE,
            "/api/v1/namespaces/blue-ns/pull-secret",
            None,
            [204, 204, 204, 403, 404, 404, 404, 401],
        ),
        op(
            Method::POST,
            "/api/v1/registries/plat/login-command",
            None,
            [412, 412, 412, 412, 412, 412, 412, 401],
        ),
        op(
            Method::POST,
            "/api/v1/registries/own/login-command",
            None,
            [412, 412, 412, 412, 404, 404, 404, 401],
        ),
        Op {
            reset: Some((
                Method::PUT,
                "/api/v1/workspaces/blue/namespaces/leaving-ns",
                None,
            )),
            ..op(
                Method::DELETE,
                "/api/v1/workspaces/blue/namespaces/leaving-ns",
                None,
                [204, 403, 403, 403, 403, 403, 403, 401],
            )
        },
        op(Method::GET, "/api/v1/audit-events", None, admin_only(200)),
        op(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"principal": "someone"})),
            admin_only(201),
        ),
        op(Method::GET, "/api/v1/overview", None, admin_only(200)),
    ];
    let mut wrong = Vec::new();
    for o in &ops {
        for (i, token) in tokens.iter().enumerate() {
            if let Some((m, p, b)) = &o.reset {
                suite.admin(m.clone(), p, b.clone()).await;
            }
            let (status, body) = suite
                .call(token.as_deref(), o.method.clone(), o.path, o.body.clone())
                .await;
            if status != o.expect[i] {
                wrong.push(format!(
                    "{} {} as {}: got {status}, want {} ({body})",
                    o.method, o.path, WHO[i], o.expect[i]
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong cells:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // Lists show only what each may see.
    let names = |v: &Value, key: &str| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i[key].as_str().unwrap().to_string())
            .collect()
    };
    let (_, regs) = suite
        .call(
            tokens[6].as_deref(),
            Method::GET,
            "/api/v1/registries",
            None,
        )
        .await;
    assert!(!names(&regs, "name").contains(&"own".to_string()), "{regs}");
    let (_, regs) = suite
        .call(
            tokens[3].as_deref(),
            Method::GET,
            "/api/v1/registries",
            None,
        )
        .await;
    assert!(names(&regs, "name").contains(&"own".to_string()), "{regs}");
    let (_, ws) = suite
        .call(
            tokens[4].as_deref(),
            Method::GET,
            "/api/v1/workspaces",
            None,
        )
        .await;
    assert_eq!(names(&ws, "name"), vec!["green"]);
    let (_, spaces) = suite
        .call(
            tokens[5].as_deref(),
            Method::GET,
            "/api/v1/registries/plat/spaces",
            None,
        )
        .await;
    assert_eq!(names(&spaces, "name"), vec!["green-priv", "pub"]);
    // A bound space shows only the caller's own workspaces among its bindings.
    let (_, s) = suite
        .call(
            tokens[3].as_deref(),
            Method::GET,
            "/api/v1/registries/plat/spaces/priv",
            None,
        )
        .await;
    assert_eq!(s["workspaces"], json!(["blue"]), "{s}");
}
