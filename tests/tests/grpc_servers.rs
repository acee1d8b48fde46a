//! Every gRPC server answers `grpc.health.v1` and reflection; internal services refuse calls
//! without the internal credential; the gateway serves the same operations over gRPC.

use berth_proto::v1::registry_service_client::RegistryServiceClient;
use berth_proto::v1::{GetRegistryRequest, ListRegistriesRequest};
use berth_testkit::db::Backend;
use berth_tests::{Suite, ADMIN_TOKEN};
use futures::StreamExt;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::ServerReflectionRequest;

async fn channel(addr: std::net::SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn services(addr: std::net::SocketAddr) -> Vec<String> {
    let mut client = ServerReflectionClient::new(channel(addr).await);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(futures::stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.next().await.unwrap().unwrap();
    match resp.message_response {
        Some(MessageResponse::ListServicesResponse(l)) => {
            l.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

/// The services v1alpha reflection lists (what stock Python `grpcio-reflection` asks).
async fn services_v1alpha(addr: std::net::SocketAddr) -> Vec<String> {
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    let mut client = ServerReflectionClient::new(channel(addr).await);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(futures::stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    match stream.next().await.unwrap().unwrap().message_response {
        Some(MessageResponse::ListServicesResponse(l)) => {
            l.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

/// Reflection in both versions lists exactly what each server serves: the gateway's public port
/// advertises no internal service (it would answer UNIMPLEMENTED), and health answers for every
/// service advertised.
#[tokio::test]
async fn reflection_lists_only_served_services_in_both_versions() {
    let suite = Suite::start(Backend::Sqlite).await;
    for addr in [suite.gateway_addr, suite.registry_addr, suite.space_addr] {
        let mut v1 = services(addr).await;
        let mut v1alpha = services_v1alpha(addr).await;
        v1.sort();
        v1alpha.sort();
        assert_eq!(v1, v1alpha, "{addr}");
        let health = HealthClient::new(channel(addr).await);
        for name in v1.iter().filter(|n| n.starts_with("berth.")) {
            // Known to health (an unknown name is NOT_FOUND), and serving once the server's
            // dependencies answer.
            let serving = berth_testkit::wait_until(std::time::Duration::from_secs(5), || {
                let mut health = health.clone();
                let name = name.clone();
                async move {
                    let r = health
                        .check(HealthCheckRequest { service: name })
                        .await
                        .unwrap_or_else(|e| panic!("no health for a listed service: {e:?}"));
                    r.into_inner().status == ServingStatus::Serving as i32
                }
            })
            .await;
            assert!(serving, "{addr} {name}");
        }
    }
    let public = services(suite.gateway_addr).await;
    for internal in [
        "berth.v1.RegistryProvisioningService",
        "berth.v1.ImportService",
    ] {
        assert!(!public.contains(&internal.to_string()), "{public:?}");
    }
    let registry = services(suite.registry_addr).await;
    assert!(
        !registry.contains(&"berth.v1.TokenService".to_string()),
        "{registry:?}"
    );
}

#[tokio::test]
async fn every_server_answers_health_and_reflection() {
    let suite = Suite::start(Backend::Sqlite).await;
    for (addr, service) in [
        (suite.registry_addr, "berth.v1.RegistryService"),
        (suite.gateway_addr, "berth.v1.RegistryService"),
    ] {
        let health = HealthClient::new(channel(addr).await);
        for name in ["", service] {
            // Serving once the server's own dependencies answer (checked every 200 ms).
            let serving = berth_testkit::wait_until(std::time::Duration::from_secs(5), || {
                let mut health = health.clone();
                async move {
                    health
                        .check(HealthCheckRequest {
                            service: name.into(),
                        })
                        .await
                        .is_ok_and(|r| r.into_inner().status == ServingStatus::Serving as i32)
                }
            })
            .await;
            assert!(serving, "{addr} {name:?}");
        }
        let listed = services(addr).await;
        assert!(listed.contains(&service.to_string()), "{addr}: {listed:?}");
        assert!(
            listed.contains(&"grpc.health.v1.Health".to_string()),
            "{addr}: {listed:?}"
        );
    }
    assert!(services(suite.gateway_addr)
        .await
        .contains(&"berth.v1.TokenService".to_string()));
}

#[tokio::test]
async fn internal_services_refuse_calls_without_the_internal_credential() {
    let suite = Suite::start(Backend::Sqlite).await;
    let mut direct = RegistryServiceClient::new(channel(suite.registry_addr).await);
    let err = direct
        .list_registries(ListRegistriesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let mut req = tonic::Request::new(ListRegistriesRequest::default());
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", suite.internal_token).parse().unwrap(),
    );
    assert!(direct.list_registries(req).await.is_ok());
}

#[tokio::test]
async fn the_gateway_serves_the_same_operations_over_grpc() {
    let suite = Suite::start(Backend::Sqlite).await;
    let mut client = RegistryServiceClient::new(channel(suite.gateway_addr).await);
    // No token: unauthenticated.
    let err = client
        .get_registry(GetRegistryRequest { name: "x".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    // Admin: a missing registry is NotFound, exactly as over HTTP.
    let mut req = tonic::Request::new(GetRegistryRequest {
        name: "missing".into(),
    });
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {ADMIN_TOKEN}").parse().unwrap(),
    );
    let err = client.get_registry(req).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let (status, _) = suite
        .admin(reqwest::Method::GET, "/api/v1/registries/missing", None)
        .await;
    assert_eq!(status, 404);
    // Bad input over gRPC names the field in a BadRequest detail.
    let mut req = tonic::Request::new(berth_proto::v1::CreateRegistryRequest {
        name: "Bad Name".into(),
        kind: "oci".into(),
        url: "http://127.0.0.1:1".into(),
        verify: Some(false),
        ..Default::default()
    });
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {ADMIN_TOKEN}").parse().unwrap(),
    );
    let err = client.create_registry(req).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let e = berth_error_from(&err);
    assert_eq!(e.as_deref(), Some("name"));
}

fn berth_error_from(status: &tonic::Status) -> Option<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .and_then(|b| b.field_violations.first().map(|v| v.field.clone()))
}

#[tokio::test]
async fn platform_services_check_pulls_over_grpc_at_the_gateway() {
    use berth_proto::v1::access_service_client::AccessServiceClient;
    use berth_proto::v1::CheckPullRequest;

    let suite = Suite::start(Backend::Sqlite).await;
    suite.seed_bound_space().await;
    let mut client = AccessServiceClient::new(channel(suite.gateway_addr).await);
    let ask = |ns: &str, token: Option<&str>| {
        let mut req = tonic::Request::new(CheckPullRequest {
            namespace: ns.into(),
            image: "127.0.0.1:1/priv/app:v1".into(),
            allow_unknown_namespace: false,
        });
        if let Some(t) = token {
            req.metadata_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        req
    };
    let r = client
        .check_pull(ask("blue-ns", Some(ADMIN_TOKEN)))
        .await
        .unwrap()
        .into_inner();
    assert!(r.allowed, "{}", r.reason);
    assert_eq!(
        client
            .check_pull(ask("blue-ns", None))
            .await
            .unwrap_err()
            .code(),
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        client
            .check_pull(ask("nobody", Some(ADMIN_TOKEN)))
            .await
            .unwrap_err()
            .code(),
        tonic::Code::NotFound
    );
    // A principal outside the workspace does not learn of its namespace.
    let outsider = suite.token_for("mallory").await;
    assert_eq!(
        client
            .check_pull(ask("blue-ns", Some(&outsider)))
            .await
            .unwrap_err()
            .code(),
        tonic::Code::NotFound
    );
}

fn authed<T>(message: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {ADMIN_TOKEN}").parse().unwrap(),
    );
    req
}

#[tokio::test]
async fn replication_runs_and_streams_its_progress_over_the_gateways_grpc() {
    use berth_proto::v1::execution_service_client::ExecutionServiceClient;
    use berth_testkit::image::{push_image, Image, Target};
    use berth_testkit::registry::{DockerRegistry, RegistryOptions};

    let suite = Suite::start(Backend::Sqlite).await;
    let source = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let destination = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    for (name, url) in [("src", source.url()), ("dst", destination.url())] {
        let (status, body) = suite
            .admin(
                reqwest::Method::POST,
                "/api/v1/registries",
                Some(serde_json::json!({"name": name, "kind": "distribution", "url": url})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let target = Target {
        host: source.host(),
        credential: None,
    };
    for i in 0..3 {
        push_image(
            &Image::new(&[(300 + i, 20_000)], "amd64"),
            &target,
            &format!("apps/app-{i}"),
            "v1",
        )
        .await
        .unwrap();
    }
    let (status, body) = suite
        .admin(
            reqwest::Method::POST,
            "/api/v1/replication/policies",
            Some(serde_json::json!({
                "name": "dr",
                "source": {"registry": "src", "space": "apps"},
                "destination": {"registry": "dst"}
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let mut client = ExecutionServiceClient::new(channel(suite.gateway_addr).await);
    let e = client
        .run_policy(authed(berth_proto::v1::RunPolicyRequest {
            name: "dr".into(),
            verify: false,
        }))
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap();
    let mut stream = client
        .watch_execution(authed(berth_proto::v1::WatchExecutionRequest {
            id: e.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    let mut seen = Vec::new();
    while let Some(update) = stream.next().await {
        seen.push(update.unwrap().execution.unwrap());
    }
    let last = seen.last().expect("at least one update");
    assert_eq!(
        (last.status.as_str(), last.succeeded),
        ("succeeded", 3),
        "{seen:?}"
    );
    assert!(
        seen.windows(2)
            .all(|w| w[0].succeeded + w[0].skipped <= w[1].succeeded + w[1].skipped),
        "progress only grows: {seen:?}"
    );
    // Without a token the stream is refused.
    let err = client
        .watch_execution(berth_proto::v1::WatchExecutionRequest { id: e.id })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
}

/// gRPC `UpdatePolicy` with a field mask changes only the named fields, as the HTTP `PATCH`
/// does (both take one path); a bad path names `update_mask`.
#[tokio::test]
async fn update_policy_takes_a_field_mask_like_the_http_patch() {
    use berth_proto::v1::policy_service_client::PolicyServiceClient;
    use berth_proto::v1::{Endpoint, Policy, UpdatePolicyRequest};

    let suite = Suite::start(Backend::Sqlite).await;
    for name in ["src", "dst"] {
        suite
            .ok(
                reqwest::Method::POST,
                "/api/v1/registries",
                Some(serde_json::json!({"name": name, "kind": "oci",
                                        "url": format!("http://127.0.0.1:{}", if name == "src" {5} else {6}),
                                        "verify": false})),
            )
            .await;
    }
    let policy = serde_json::json!({
        "name": "dr", "source": {"registry": "src", "space": "apps"},
        "destination": {"registry": "dst"}, "concurrency": 3,
        "filters": [{"kind": "tag", "pattern": "v*"}],
    });
    suite
        .ok(
            reqwest::Method::POST,
            "/api/v1/replication/policies",
            Some(policy),
        )
        .await;
    let mut client = PolicyServiceClient::new(channel(suite.gateway_addr).await);
    let change = Policy {
        name: "dr".into(),
        source: Some(Endpoint {
            registry: "not-taken".into(),
            space: "libs".into(),
            replace_count: None,
        }),
        concurrency: 99,
        delete_propagation: true,
        ..Default::default()
    };
    let mask = |paths: &[&str]| {
        Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        })
    };
    let updated = client
        .update_policy(authed(UpdatePolicyRequest {
            policy: Some(change.clone()),
            update_mask: mask(&["source.space", "delete_propagation"]),
        }))
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    let src = updated.source.clone().unwrap();
    assert_eq!((src.registry.as_str(), src.space.as_str()), ("src", "libs"));
    assert!(updated.delete_propagation);
    assert_eq!(updated.concurrency, 3, "not in the mask");
    assert_eq!(updated.filters.len(), 1, "not in the mask");

    // The same change over HTTP reads back the same.
    let (_, before) = suite
        .admin(
            reqwest::Method::GET,
            "/api/v1/replication/policies/dr",
            None,
        )
        .await;
    let (status, after) = suite
        .admin(
            reqwest::Method::PATCH,
            "/api/v1/replication/policies/dr",
            Some(serde_json::json!({"source": {"space": "libs"}, "delete_propagation": true})),
        )
        .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(before, after, "PATCH and the masked update agree");
    let (status, after) = suite
        .admin(
            reqwest::Method::PATCH,
            "/api/v1/replication/policies/dr",
            Some(serde_json::json!({"concurrency": null, "filters": null})),
        )
        .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(
        (
            after["concurrency"].as_u64(),
            after["filters"].as_array().map(|f| f.len())
        ),
        (Some(0), Some(0)),
        "{after}"
    );

    // A schedule on a trigger that is not cron would be dropped: refused, naming it, and
    // nothing changes; created_at cannot change.
    let (_, unchanged) = suite
        .admin(
            reqwest::Method::GET,
            "/api/v1/replication/policies/dr",
            None,
        )
        .await;
    let (status, e) = suite
        .admin(
            reqwest::Method::PATCH,
            "/api/v1/replication/policies/dr",
            Some(serde_json::json!({"trigger": {"kind": "manual", "cron": "bad cron"}})),
        )
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (400, Some("trigger.cron")),
        "{e}"
    );
    let (_, kept) = suite
        .admin(
            reqwest::Method::GET,
            "/api/v1/replication/policies/dr",
            None,
        )
        .await;
    assert_eq!(kept, unchanged);
    // Without a kind the stored one (manual) holds: a schedule or time zone for it is refused.
    for (patch, field) in [
        (
            serde_json::json!({"trigger": {"cron": "5 * * * *"}}),
            "trigger.cron",
        ),
        (
            serde_json::json!({"trigger": {"kind": "push", "time_zone": "Europe/Paris"}}),
            "trigger.time_zone",
        ),
    ] {
        let (status, e) = suite
            .admin(
                reqwest::Method::PATCH,
                "/api/v1/replication/policies/dr",
                Some(patch),
            )
            .await;
        assert_eq!(
            (status, e["error"]["field"].as_str()),
            (400, Some(field)),
            "{e}"
        );
    }
    let (status, e) = suite
        .admin(
            reqwest::Method::PATCH,
            "/api/v1/replication/policies/dr",
            Some(serde_json::json!({"created_at": "2020-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (400, Some("created_at")),
        "{e}"
    );

    // Lists of executions take the page sizes the other lists take.
    for path in [
        "/api/v1/replication/executions?page_size=0",
        "/api/v1/replication/executions?page_size=100000",
        "/api/v1/replication/executions?page_size=abc",
    ] {
        let (status, e) = suite.admin(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 400, "{path}: {e}");
        assert!(
            e["error"]["field"] == "page_size" || e["error"]["field"] == "query",
            "{path}: {e}"
        );
    }

    let err = client
        .update_policy(authed(UpdatePolicyRequest {
            policy: Some(change),
            update_mask: mask(&["source.nope"]),
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("source.nope"), "{err:?}");
    let field = berth_error::ApiError::from_status("gateway", &err).field;
    assert_eq!(field.as_deref(), Some("update_mask"), "{err:?}");
}
