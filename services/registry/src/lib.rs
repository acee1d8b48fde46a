//! The registry service: integrated registries, their credentials (sealed at rest), health and
//! what they hold.
//!
//! - [`registries`]: the domain (create/verify, read, update, delete, health, overview);
//! - [`adapter`]: how each kind of registry is read (Distribution API, Harbor API);
//! - [`grpc`]: `berth.v1.RegistryService`, thin handlers over the domain;
//! - [`health`]: the loop that re-checks every registry on an interval;
//! - [`entity`], [`migration`]: the `registry_*` tables; [`validate`]: input rules;
//!   [`error`]: the service's errors, mapped once to the API vocabulary.
//!
//! [`start`] runs it all on a listener; the `berth-registry` binary and `berth up` both use it.

pub mod adapter;
pub mod binary;
pub mod entity;
pub mod error;
pub mod grpc;
pub mod health;
pub mod migration;
pub mod projects;
pub mod registries;
pub mod validate;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use berth_auth::internal::Verifier;
use berth_auth::sealed::SecretBox;
use berth_bus::outbox::Outbox;
use berth_bus::Bus;
use berth_proto::v1::registry_provisioning_service_server::RegistryProvisioningServiceServer;
use berth_proto::v1::registry_service_server::RegistryServiceServer;
use berth_runtime::Shutdown;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

pub use registries::Registries;

/// Fully-qualified names of the gRPC services served, for health and reflection.
pub const SERVICE_NAMES: [&str; 2] = [
    "berth.v1.RegistryService",
    "berth.v1.RegistryProvisioningService",
];

/// What the service needs from its host process.
pub struct Deps {
    pub db: DatabaseConnection,
    pub bus: Arc<dyn Bus>,
    pub secrets: SecretBox,
    pub internal_token: Option<String>,
    /// Signs Berth's own tokens for registries behind its token service (`None`: such
    /// registries cannot be reached).
    pub token_signer: Option<Arc<berth_auth::registry_token::TokenSigner>>,
    pub health_interval: Duration,
}

/// A started registry service.
pub struct Running {
    pub addr: SocketAddr,
    pub registries: Registries,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Migrates, starts the outbox relay and the health loop, and serves gRPC on `listener`.
pub async fn start(
    deps: Deps,
    listener: TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<Running> {
    berth_telemetry::install_metrics();
    berth_db::migrate::<migration::Migrator>(&deps.db).await?;
    let outbox = Outbox::new("registry");
    let registries = Registries::new(
        deps.db.clone(),
        deps.secrets,
        outbox.clone(),
        deps.token_signer.clone(),
    );
    registries.backfill_hosts().await?;
    tokio::spawn(outbox.run_relay(deps.db.clone(), deps.bus.clone(), shutdown.token()));
    tokio::spawn(health::run(
        registries.clone(),
        deps.health_interval,
        shutdown.clone(),
    ));

    let api = grpc::RegistryApi {
        registries: registries.clone(),
    };
    let verifier = Verifier::new(deps.internal_token.as_deref());
    let routes = tonic::service::Routes::new(RegistryServiceServer::with_interceptor(
        api.clone(),
        verifier.clone(),
    ))
    .add_service(RegistryProvisioningServiceServer::with_interceptor(
        api, verifier,
    ));
    let (routes, health) =
        berth_runtime::grpc::with_health_and_reflection(routes, &SERVICE_NAMES).await?;
    let addr = listener.local_addr()?;
    // Serving while the database answers: without the broker, writes wait in the outbox and
    // reads go on, so a broker outage must not take the service out of its callers' rotation.
    let db = deps.db.clone();
    health.serving_when(&shutdown, move || {
        let db = db.clone();
        async move { berth_db::ping(&db).await }
    });
    let task = tokio::spawn(berth_runtime::grpc::serve(listener, routes, shutdown));
    tracing::info!(%addr, "registry service listening");
    Ok(Running {
        addr,
        registries,
        task,
    })
}
