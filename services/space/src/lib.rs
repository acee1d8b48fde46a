//! The space service: registry spaces, workspaces (tenants) with their Kubernetes namespaces
//! and members, bindings of private spaces to workspaces, and the access rule.
//!
//! - [`tenancy`]: the domain's state and shared helpers; [`spaces`], [`workspaces`],
//!   [`bindings`] and [`access`] are its operations, one concept a module;
//! - [`directory`]: registries as the registry service knows them;
//! - [`grpc`]: `SpaceService`, `WorkspaceService`, `BindingService`, `AccessService`;
//! - [`entity`], [`migration`]: the `space_*` tables; [`error`]: errors mapped once.

pub mod access;
pub mod binary;
pub mod bindings;
pub mod directory;
pub mod entity;
pub mod error;
pub mod grpc;
pub mod harbor;
pub mod migration;
pub mod scan_policy;
pub mod selector;
pub mod spaces;
pub mod tenancy;
pub mod workspaces;

use std::net::SocketAddr;
use std::sync::Arc;

use berth_auth::internal::{Attacher, Verifier};
use berth_bus::outbox::Outbox;
use berth_bus::Bus;
use berth_proto::v1::access_service_server::AccessServiceServer;
use berth_proto::v1::binding_service_server::BindingServiceServer;
use berth_proto::v1::space_service_server::SpaceServiceServer;
use berth_proto::v1::workspace_service_server::WorkspaceServiceServer;
use berth_runtime::Shutdown;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

pub use tenancy::Tenancy;

pub const SERVICE_NAMES: [&str; 4] = [
    "berth.v1.SpaceService",
    "berth.v1.WorkspaceService",
    "berth.v1.BindingService",
    "berth.v1.AccessService",
];

pub struct Deps {
    pub db: DatabaseConnection,
    pub bus: Arc<dyn Bus>,
    pub internal_token: Option<String>,
    /// `http://host:port` of the registry service.
    pub registry_addr: String,
}

pub struct Running {
    pub addr: SocketAddr,
    pub tenancy: Tenancy,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Migrates, starts the outbox relay and serves gRPC on `listener`.
pub async fn start(
    deps: Deps,
    listener: TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<Running> {
    berth_telemetry::install_metrics();
    berth_db::migrate::<migration::Migrator>(&deps.db).await?;
    let directory = directory::Directory::new(berth_runtime::clients::RegistryClients::new(
        &deps.registry_addr,
        Attacher::new(deps.internal_token.as_deref()),
    )?);
    let outbox = Outbox::new("space");
    let tenancy = Tenancy::new(deps.db.clone(), outbox.clone(), directory);
    tokio::spawn(outbox.run_relay(deps.db.clone(), deps.bus.clone(), shutdown.token()));

    let api = grpc::SpaceApi {
        tenancy: tenancy.clone(),
    };
    let verifier = Verifier::new(deps.internal_token.as_deref());
    let routes = tonic::service::Routes::new(SpaceServiceServer::with_interceptor(
        api.clone(),
        verifier.clone(),
    ))
    .add_service(WorkspaceServiceServer::with_interceptor(
        api.clone(),
        verifier.clone(),
    ))
    .add_service(BindingServiceServer::with_interceptor(
        api.clone(),
        verifier.clone(),
    ))
    .add_service(AccessServiceServer::with_interceptor(api, verifier));
    let (routes, health) =
        berth_runtime::grpc::with_health_and_reflection(routes, &SERVICE_NAMES).await?;
    // Serving while the database answers: without the broker, writes wait in the outbox and
    // reads go on, so a broker outage must not take the service out of its callers' rotation.
    let db = deps.db.clone();
    health.serving_when(&shutdown, move || {
        let db = db.clone();
        async move { berth_db::ping(&db).await }
    });
    let addr = listener.local_addr()?;
    let task = tokio::spawn(berth_runtime::grpc::serve(listener, routes, shutdown));
    tracing::info!(%addr, "space service listening");
    Ok(Running {
        addr,
        tenancy,
        task,
    })
}
