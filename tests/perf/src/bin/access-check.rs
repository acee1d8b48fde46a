//! `CheckPull` through the gateway's HTTP API (embedded `berth up` backends: SQLite,
//! in-process bus and cache) against a bare axum handler doing the same JSON in and out, in the
//! same process and run. Targets: ≥ 0.5× the bare handler's requests/s, p99 under 2 ms. A
//! list call (`GET /api/v1/registries`, a hop to the registry service) under the same load:
//! p99 under 5 ms (a Nagle stall on any hop would put it above 40 ms).
//!
//! `cargo run --release -p berth-perf --bin access-check [-- SECONDS WORKERS]`

use std::time::Duration;

use axum::routing::post;
use axum::Json;
use berth_testkit::db::Backend;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let workers: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(16);
    let duration = Duration::from_secs(seconds);

    // The peer: a bare axum handler that parses the same body and answers the same shape.
    let app = axum::Router::new().route(
        "/check",
        post(|Json(body): Json<Value>| async move {
            let allowed = body["namespace"].is_string() && body["image"].is_string();
            Json(json!({"allowed": allowed, "reason": "bare handler"}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bare_url = format!("http://{}/check", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let suite = berth_tests::Suite::start(Backend::Sqlite).await;
    suite.seed_bound_space().await;
    let body = json!({"namespace": "blue-ns", "image": "127.0.0.1:1/priv/app:v1"});
    let (_, answer) = suite
        .admin(Method::POST, "/api/v1/access/check", Some(body.clone()))
        .await;
    assert_eq!(answer["allowed"], true, "{answer}");

    let b = body.clone();
    let bare = berth_perf::run(workers, duration, move |c| c.post(&bare_url).json(&b)).await;
    let berth_url = format!("{}/api/v1/access/check", suite.url);
    let berth = berth_perf::run(workers, duration, move |c| {
        c.post(&berth_url)
            .bearer_auth(berth_tests::ADMIN_TOKEN)
            .json(&body)
    })
    .await;
    let list_url = format!("{}/api/v1/registries", suite.url);
    let list = berth_perf::run(workers, duration, move |c| {
        c.get(&list_url).bearer_auth(berth_tests::ADMIN_TOKEN)
    })
    .await;
    let ratio = berth.rps() / bare.rps();
    println!("access-check ({workers} workers, {seconds} s each, same process)");
    println!("  bare axum handler  {bare}");
    println!("  berth CheckPull    {berth}");
    println!(
        "  ratio {ratio:.2} (target >= 0.50: {}), berth p99 {:.3} ms (target < 2 ms: {})",
        if ratio >= 0.5 { "met" } else { "NOT met" },
        berth.p99.as_secs_f64() * 1e3,
        if berth.p99 < Duration::from_millis(2) {
            "met"
        } else {
            "NOT met"
        },
    );
    println!("  berth list call    {list}");
    println!(
        "  list call p99 {:.3} ms (target < 5 ms: {})",
        list.p99.as_secs_f64() * 1e3,
        if list.p99 < Duration::from_millis(5) {
            "met"
        } else {
            "NOT met"
        },
    );
}
