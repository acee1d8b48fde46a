//! The replication service: policies that say what to copy between registries, and executions
//! that copy it.
//!
//! - [`policies`]: validation and storage; [`pattern`]: doublestar filters;
//! - [`executions`]: planning a run and recording its progress;
//! - [`copy`]: the copy engine on the one OCI client;
//! - [`grpc`]: `PolicyService` and `ExecutionService`;
//! - [`entity`], [`migration`]: the `replication_*` tables; [`error`]: errors mapped once.
//!
//! Registries are reached with what the registry service's provisioning answers (URL, TLS
//! option, credential), so credentials stay owned there.

pub mod copy;
pub mod entity;
pub mod error;
pub mod executions;
pub mod grpc;
pub mod migration;
pub mod pattern;
pub mod policies;
pub mod scheduler;
pub mod triggers;

use std::net::SocketAddr;
use std::time::Duration;

use berth_auth::internal::{Attacher, Verifier};
use berth_proto::v1::execution_service_server::ExecutionServiceServer;
use berth_proto::v1::policy_service_server::PolicyServiceServer;
use berth_proto::v1::registry_provisioning_service_client::RegistryProvisioningServiceClient;
use berth_runtime::Shutdown;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub const SERVICE_NAMES: [&str; 2] = ["berth.v1.PolicyService", "berth.v1.ExecutionService"];

/// Policies, executions and the clients they need.
#[derive(Clone)]
pub struct Replication {
    pub(crate) db: DatabaseConnection,
    pub(crate) provisioning:
        RegistryProvisioningServiceClient<InterceptedService<Channel, Attacher>>,
}

pub struct Deps {
    pub db: DatabaseConnection,
    pub bus: std::sync::Arc<dyn berth_bus::Bus>,
    /// Leases for cron ticks, shared by replicas.
    pub cache: std::sync::Arc<dyn berth_cache::Cache>,
    pub internal_token: Option<String>,
    /// `http://host:port` of the registry service.
    pub registry_addr: String,
}

pub struct Running {
    pub addr: SocketAddr,
    pub replication: Replication,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub async fn start(
    deps: Deps,
    listener: TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<Running> {
    berth_telemetry::install_metrics();
    berth_db::migrate::<migration::Migrator>(&deps.db).await?;
    let channel = tonic::transport::Endpoint::from_shared(deps.registry_addr.clone())?
        .connect_timeout(Duration::from_secs(5))
        .connect_lazy();
    let provisioning = RegistryProvisioningServiceClient::with_interceptor(
        channel,
        Attacher::new(deps.internal_token.as_deref()),
    );
    let replication = Replication {
        db: deps.db.clone(),
        provisioning,
    };
    let pushes = deps
        .bus
        .subscribe(
            triggers::subscription(),
            std::sync::Arc::new(triggers::PushHandler(replication.clone())),
        )
        .await?;
    let stop_pushes = shutdown.wait();
    tokio::spawn(async move {
        stop_pushes.await;
        pushes.stop().await;
    });
    tokio::spawn(scheduler::run(
        replication.clone(),
        deps.cache.clone(),
        shutdown.clone(),
    ));
    let api = grpc::ReplicationApi {
        replication: replication.clone(),
    };
    let verifier = Verifier::new(deps.internal_token.as_deref());
    let routes = tonic::service::Routes::new(PolicyServiceServer::with_interceptor(
        api.clone(),
        verifier.clone(),
    ))
    .add_service(ExecutionServiceServer::with_interceptor(api, verifier));
    let (routes, health) =
        berth_runtime::grpc::with_health_and_reflection(routes, &SERVICE_NAMES).await?;
    let db = deps.db.clone();
    health.serving_when(move || {
        let db = db.clone();
        async move { berth_db::ping(&db).await }
    });
    let addr = listener.local_addr()?;
    let task = tokio::spawn(berth_runtime::grpc::serve(listener, routes, shutdown));
    tracing::info!(%addr, "replication service listening");
    Ok(Running {
        addr,
        replication,
        task,
    })
}
