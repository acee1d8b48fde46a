//! The admission webhook with real AdmissionReview v1 payloads: a Pod, a Deployment and a
//! CronJob, allowed and denied, with the reason in the response.

use berth_testkit::db::Backend;
use berth_tests::Suite;
use reqwest::Method;
use serde_json::{json, Value};

const REG: &str = "127.0.0.1:1";

async fn setup(suite: &Suite) {
    let steps: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            "/api/v1/registries".into(),
            Some(
                json!({"name": "dist", "kind": "distribution", "url": format!("http://{REG}"), "verify": false}),
            ),
        ),
        (
            Method::POST,
            "/api/v1/workspaces".into(),
            Some(json!({"name": "blue"})),
        ),
        (
            Method::POST,
            "/api/v1/workspaces".into(),
            Some(json!({"name": "green"})),
        ),
        (
            Method::PUT,
            "/api/v1/workspaces/blue/namespaces/blue-ns".into(),
            None,
        ),
        (
            Method::PUT,
            "/api/v1/workspaces/green/namespaces/green-ns".into(),
            None,
        ),
        (
            Method::POST,
            "/api/v1/registries/dist/spaces".into(),
            Some(json!({"name": "pub", "visibility": "public"})),
        ),
        (
            Method::POST,
            "/api/v1/registries/dist/spaces".into(),
            Some(json!({"name": "priv"})),
        ),
        (
            Method::PUT,
            "/api/v1/registries/dist/spaces/priv/bindings/blue".into(),
            None,
        ),
    ];
    for (m, p, b) in steps {
        let (status, body) = suite.admin(m, &p, b).await;
        assert!(status < 300, "{p}: {body}");
    }
}

fn review(kind: &str, namespace: &str, operation: &str, object: Value) -> Value {
    let (group, version) = match kind {
        "Pod" => ("", "v1"),
        "CronJob" | "Job" => ("batch", "v1"),
        _ => ("apps", "v1"),
    };
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())},
            "namespace": namespace,
            "operation": operation,
            "userInfo": {"username": "system:serviceaccount:ci:deployer"},
            "object": object,
            "dryRun": false
        }
    })
}

fn pod_spec(containers: &[&str], init: &[&str]) -> Value {
    let c = |images: &[&str]| {
        images
            .iter()
            .enumerate()
            .map(|(i, im)| json!({"name": format!("c{i}"), "image": im}))
            .collect::<Vec<_>>()
    };
    json!({"containers": c(containers), "initContainers": c(init), "restartPolicy": "Always"})
}

async fn admit(suite: &Suite, body: Value) -> Value {
    let resp = suite
        .http
        .post(format!("{}/admission/validate", suite.url))
        .bearer_auth(berth_tests::ADMISSION_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["kind"], "AdmissionReview");
    assert_eq!(v["response"]["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
    v["response"].clone()
}

#[tokio::test]
async fn pods_deployments_and_cronjobs_are_judged_by_the_access_rule() {
    let suite = Suite::start(Backend::Sqlite).await;
    setup(&suite).await;

    // A Pod of the bound workspace pulling the private and the public space: allowed.
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "blue-ns"},
        "spec": pod_spec(&[&format!("{REG}/priv/web:1.2")], &[&format!("{REG}/pub/migrate:1")]),
    });
    let r = admit(&suite, review("Pod", "blue-ns", "CREATE", pod)).await;
    assert_eq!(r["allowed"], true, "{r}");

    // A Deployment in another workspace's namespace: denied, naming the image and the reason.
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "green-ns"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec(&[&format!("{REG}/priv/web:1.2"), &format!("{REG}/pub/sidecar:3")], &[])}},
    });
    let r = admit(
        &suite,
        review("Deployment", "green-ns", "CREATE", deployment),
    )
    .await;
    assert_eq!(r["allowed"], false, "{r}");
    let message = r["status"]["message"].as_str().unwrap();
    assert_eq!(r["status"]["code"], 403);
    assert!(
        message.contains(&format!("image {REG}/priv/web:1.2")),
        "{message}"
    );
    assert!(
        message.contains("in no space this namespace may pull from"),
        "{message}"
    );
    assert!(
        !message.contains("sidecar"),
        "allowed images are not listed: {message}"
    );

    // A CronJob with an image from a registry Berth does not integrate (resolved as docker.io).
    let cronjob = json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "report", "namespace": "blue-ns"},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": pod_spec(&["nginx:1.25"], &[])}}}},
    });
    let r = admit(
        &suite,
        review("CronJob", "blue-ns", "CREATE", cronjob.clone()),
    )
    .await;
    assert_eq!(r["allowed"], false);
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("registry docker.io is not integrated"),
        "{r}"
    );
    // The same CronJob with a bound image is allowed; deleting it always is.
    let mut ok = cronjob.clone();
    ok["spec"]["jobTemplate"]["spec"]["template"]["spec"] =
        pod_spec(&[&format!("{REG}/priv/report:7")], &[]);
    assert_eq!(
        admit(&suite, review("CronJob", "blue-ns", "UPDATE", ok)).await["allowed"],
        true
    );
    assert_eq!(
        admit(&suite, review("CronJob", "blue-ns", "DELETE", cronjob)).await["allowed"],
        true
    );

    // A namespace of no workspace: public spaces only. Ephemeral containers are judged too.
    let mut debug = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dbg", "namespace": "kube-system"}, "spec": pod_spec(&[&format!("{REG}/pub/tool:1")], &[])});
    assert_eq!(
        admit(
            &suite,
            review("Pod", "kube-system", "CREATE", debug.clone())
        )
        .await["allowed"],
        true
    );
    debug["spec"]["ephemeralContainers"] =
        json!([{"name": "debugger", "image": format!("{REG}/priv/debug:1")}]);
    let r = admit(&suite, review("Pod", "kube-system", "UPDATE", debug)).await;
    assert_eq!(r["allowed"], false);
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("in no space this namespace may pull from"),
        "{r}"
    );

    // A malformed image is named; an object without pods passes; garbage is a 400.
    let bad = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": pod_spec(&["UPPER/Case"], &[])});
    let r = admit(&suite, review("Pod", "blue-ns", "CREATE", bad)).await;
    assert_eq!(r["allowed"], false);
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("UPPER/Case"),
        "{r}"
    );
    let cm =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}});
    assert_eq!(
        admit(&suite, review("ConfigMap", "blue-ns", "CREATE", cm)).await["allowed"],
        true
    );
    let resp = suite
        .http
        .post(format!("{}/admission/validate", suite.url))
        .bearer_auth(berth_tests::ADMISSION_TOKEN)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // Anyone else learns nothing: not whether the namespace exists, not why a pod would be
    // denied, not even whether the body is a review.
    let denied = review(
        "Pod",
        "green-ns",
        "CREATE",
        json!({"spec": pod_spec(&["127.0.0.1:1/priv/app:v1"], &[])}),
    );
    for bearer in [
        None,
        Some(berth_tests::ADMIN_TOKEN),
        Some("wrong-admission-token-000"),
    ] {
        for body in [denied.to_string(), "{}".to_string()] {
            let mut req = suite
                .http
                .post(format!("{}/admission/validate", suite.url))
                .body(body);
            if let Some(b) = bearer {
                req = req.bearer_auth(b);
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 401, "{bearer:?}");
            let text = resp.text().await.unwrap();
            for secret in ["priv", "green", "blue", "dist", "127.0.0.1"] {
                assert!(
                    !text.contains(secret),
                    "{bearer:?} learned {secret}: {text}"
                );
            }
        }
    }
    let _ = suite.admin(Method::GET, "/readyz", None).await;
}
