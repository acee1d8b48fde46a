//! Calls between services are balanced across every ready replica named by an address list,
//! fail over when a replica goes away, and fail fast (`UNAVAILABLE`, naming the service) when
//! none is left — never hang.

use std::time::{Duration, Instant};

use berth_auth::internal::Attacher;
use berth_auth::sealed::SecretBox;
use berth_proto::v1::{CreateRegistryRequest, ListRegistriesRequest};
use berth_runtime::clients::RegistryClients;
use berth_testkit::db::TestDatabase;
use berth_testkit::registry::{DockerRegistry, RegistryOptions};

/// A replica of the registry service with a database of its own holding one registry named
/// `name`, so an answer tells which replica gave it.
async fn replica(
    name: &str,
    upstream: &DockerRegistry,
    token: &str,
) -> (
    berth_runtime::Shutdown,
    std::net::SocketAddr,
    TestDatabase,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let db = TestDatabase::sqlite().unwrap();
    let stop = berth_runtime::Shutdown::new();
    let running = berth_registry::start(
        berth_registry::Deps {
            db: berth_db::connect(&db.url).await.unwrap(),
            bus: berth_bus::open(None, "t").await.unwrap(),
            secrets: SecretBox::from_base64(&SecretBox::generate_key()).unwrap(),
            internal_token: Some(token.into()),
            token_signer: None,
            health_interval: Duration::from_secs(3600),
        },
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        stop.clone(),
    )
    .await
    .unwrap();
    running
        .registries
        .create(CreateRegistryRequest {
            name: name.into(),
            kind: "distribution".into(),
            url: upstream.url(),
            ..Default::default()
        })
        .await
        .unwrap();
    (stop, running.addr, db, running.task)
}

struct Pair {
    a: (
        berth_runtime::Shutdown,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    ),
    b: (
        berth_runtime::Shutdown,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    ),
    clients: RegistryClients,
    _keep: (DockerRegistry, TestDatabase, TestDatabase),
}

/// Two replicas, `replica-a` and `replica-b`, and clients given both addresses, once both are
/// seen ready.
async fn two_replicas(separator: &str) -> Pair {
    let upstream = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let token = berth_auth::tokens::generate();
    let (stop_a, a, da, ta) = replica("replica-a", &upstream, &token).await;
    let (stop_b, b, db, tb) = replica("replica-b", &upstream, &token).await;
    let clients = RegistryClients::new(
        &format!("http://{a}{separator}http://{b}"),
        Attacher::new(Some(&token)),
    )
    .unwrap();
    let started = Instant::now();
    while clients.channel.ready() < 2 {
        assert!(started.elapsed() < Duration::from_secs(10), "both ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Pair {
        a: (stop_a, ta),
        b: (stop_b, tb),
        clients,
        _keep: (upstream, da, db),
    }
}

async fn who_answers(clients: &RegistryClients) -> Result<String, tonic::Status> {
    let r = clients
        .registries
        .clone()
        .list_registries(ListRegistriesRequest::default())
        .await?;
    Ok(r.into_inner().registries[0].name.clone())
}

#[tokio::test]
async fn calls_are_balanced_fail_over_and_fail_fast() {
    let Pair {
        a: (stop_a, _),
        b: (stop_b, _),
        clients,
        _keep,
    } = two_replicas(", ").await;
    let mut answers = std::collections::HashMap::new();
    for _ in 0..60 {
        *answers
            .entry(who_answers(&clients).await.unwrap())
            .or_insert(0) += 1;
    }
    assert!(
        answers.get("replica-a").copied().unwrap_or(0) >= 5
            && answers.get("replica-b").copied().unwrap_or(0) >= 5,
        "calls spread over both replicas: {answers:?}"
    );

    // Replica B stops (as in a rolling update): it reports NOT_SERVING first and keeps
    // answering while callers take it out, so no call fails meanwhile; then every call lands
    // on A.
    stop_b.trigger();
    let stopping = Instant::now();
    let mut during = 0;
    while stopping.elapsed() < berth_runtime::grpc::STOP_DELAY + Duration::from_secs(2) {
        who_answers(&clients)
            .await
            .unwrap_or_else(|e| panic!("a call failed while replica B stopped: {e:?}"));
        during += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(during > 20);
    for _ in 0..20 {
        assert_eq!(who_answers(&clients).await.unwrap(), "replica-a");
    }

    // No replica left: a call fails UNAVAILABLE naming the service, within seconds.
    stop_a.trigger();
    tokio::time::sleep(berth_runtime::grpc::STOP_DELAY + Duration::from_secs(3)).await;
    let asked = Instant::now();
    let err = who_answers(&clients).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    assert!(err.message().contains("registry service"), "{err:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "failed fast: {:?}",
        asked.elapsed()
    );
}

/// A replica that dies without stopping (its server gone at once, as with SIGKILL): calls that
/// meet its refused connections go to the other replica, none fails.
#[tokio::test]
async fn calls_fail_over_from_a_replica_that_died() {
    let Pair {
        a: _a,
        b: (_stop_b, server_b),
        clients,
        _keep,
    } = two_replicas(",").await;
    for _ in 0..10 {
        who_answers(&clients).await.unwrap();
    }
    server_b.abort();
    let _ = server_b.await;
    let mut answered = std::collections::HashMap::new();
    for i in 0..100 {
        let who = who_answers(&clients)
            .await
            .unwrap_or_else(|e| panic!("call {i} after replica B died: {e:?}"));
        *answered.entry(who).or_insert(0) += 1;
    }
    assert_eq!(answered.get("replica-a"), Some(&100), "{answered:?}");
}
