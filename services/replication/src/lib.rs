//! The replication service: policies that say what to copy between registries, and executions
//! that copy it.
//!
//! - [`policies`]: validation and storage; [`pattern`]: doublestar filters;
//! - [`executions`]: runs, their tasks and progress; [`plan`]: what a run copies;
//! - [`worker`]: the `replication.task` consumer; [`copy`]: the copy engine on the one OCI
//!   client, with [`flights`] (one copy of a blob at a time) and [`throttle`] (bandwidth and
//!   concurrency per policy);
//! - [`records`]: digests recorded per policy, for a fast no-op;
//! - [`triggers`]: push and delete events; [`scheduler`]: cron; [`sweeper`]: executions whose
//!   end a dead worker did not record;
//! - [`import`]: image archives (`docker save`, OCI layouts) streamed into a registry;
//! - [`grpc`]: `PolicyService` and `ExecutionService`;
//! - [`entity`], [`migration`]: the `replication_*` tables; [`error`]: errors mapped once.
//!
//! Registries are reached with what the registry service's provisioning answers (URL, TLS
//! option, credential), so credentials stay owned there.

pub mod binary;
pub mod copy;
pub mod deletes;
pub mod entity;
pub mod error;
pub mod executions;
pub mod flights;
pub mod grpc;
pub mod import;
pub mod migration;
pub mod pattern;
pub mod plan;
pub mod policies;
pub mod records;
pub mod scheduler;
pub mod sweeper;
pub mod throttle;
pub mod triggers;
pub mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use berth_bus::dedup::Deduplicating;
use berth_bus::outbox::Outbox;

use berth_auth::internal::{Attacher, Verifier};
use berth_proto::v1::execution_service_server::ExecutionServiceServer;
use berth_proto::v1::import_service_server::ImportServiceServer;
use berth_proto::v1::policy_service_server::PolicyServiceServer;
use berth_proto::v1::registry_provisioning_service_client::RegistryProvisioningServiceClient;
use berth_runtime::Shutdown;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

pub const SERVICE_NAMES: [&str; 3] = [
    "berth.v1.PolicyService",
    "berth.v1.ExecutionService",
    "berth.v1.ImportService",
];

/// How executions run.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Attempts per task before it fails.
    pub task_attempts: u32,
    /// Delay before a task's first retry; doubled for every later one.
    pub retry_backoff: Duration,
    /// Hard limit on one attempt of a task.
    pub task_timeout: Duration,
    /// Tasks this worker process copies at once.
    pub workers: u16,
    /// How long a recorded digest is trusted before the destination is asked again.
    pub verify_interval: Duration,
    /// Chunk size for large blobs (tests make it small); `None`: [`copy::CHUNK`].
    pub chunk_size: Option<u64>,
}

impl Tuning {
    /// Tuning from a process's settings.
    pub fn from_settings(s: &berth_config::ReplicationSettings) -> Self {
        Self {
            task_attempts: s.task_attempts,
            task_timeout: s.task_timeout,
            workers: s.workers,
            verify_interval: s.verify_interval,
            ..Self::default()
        }
    }
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            task_attempts: 5,
            retry_backoff: Duration::from_secs(2),
            task_timeout: Duration::from_secs(3600),
            workers: 8,
            verify_interval: Duration::from_secs(24 * 3600),
            chunk_size: None,
        }
    }
}

type Provisioning = RegistryProvisioningServiceClient<berth_runtime::clients::Intercepted>;

/// Policies, executions and what they share in this process.
#[derive(Clone)]
pub struct Replication {
    pub(crate) db: DatabaseConnection,
    pub(crate) provisioning: Provisioning,
    pub(crate) outbox: Outbox,
    pub(crate) tuning: Tuning,
    pub(crate) flights: Arc<flights::Flights>,
    pub(crate) throttles: Arc<throttle::Throttles>,
    pub(crate) clients: Arc<berth_runtime::reach::Clients>,
    /// This process's replica name, recorded on the tasks it runs.
    pub(crate) replica: Arc<str>,
    /// The cache replicas share (leases).
    pub(crate) cache: Arc<dyn berth_cache::Cache>,
    /// The scan service, for policies with a scan gate.
    pub(crate) scan: Option<berth_runtime::clients::ScanClients>,
}

pub struct Deps {
    pub db: DatabaseConnection,
    pub bus: Arc<dyn berth_bus::Bus>,
    /// Leases for cron ticks, shared by replicas.
    pub cache: Arc<dyn berth_cache::Cache>,
    pub internal_token: Option<String>,
    /// Signs Berth's own tokens for registries behind its token service.
    pub token_signer: Option<Arc<berth_auth::registry_token::TokenSigner>>,
    /// `http://host:port` of the registry service.
    pub registry_addr: String,
    /// `http://host:port` of the scan service (policies with a scan gate need it).
    pub scan_addr: Option<String>,
    pub tuning: Tuning,
    /// Consume tasks in this process (a control-plane-only replica sets it false).
    pub work: bool,
}

pub struct Running {
    pub addr: SocketAddr,
    pub replication: Replication,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Replication {
    pub(crate) async fn client(&self, registry: &str) -> error::Result<berth_oci::Client> {
        Ok(self.clients.get(registry).await?.client)
    }
}

/// Records how long one phase of an execution took (`start`: the hop from the run request to
/// planning; `plan`: surveying the source; `queue`: writing the tasks; `copy`: one task's
/// transfer; `record`: settling it), as `berth_replication_phase_seconds{phase}`: the
/// benchmark reads where the time goes off these.
pub(crate) fn phase(name: &'static str, since: std::time::Instant) {
    metrics::histogram!("berth_replication_phase_seconds", "phase" => name)
        .record(since.elapsed().as_secs_f64());
}

pub async fn start(
    deps: Deps,
    listener: TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<Running> {
    berth_telemetry::install_metrics();
    berth_db::migrate::<migration::Migrator>(&deps.db).await?;
    let attacher = Attacher::new(deps.internal_token.as_deref());
    let provisioning =
        berth_runtime::clients::RegistryClients::new(&deps.registry_addr, attacher.clone())?
            .provisioning;
    let scan = deps
        .scan_addr
        .as_deref()
        .map(|a| berth_runtime::clients::ScanClients::new(a, attacher))
        .transpose()?;
    let outbox = Outbox::new("replication");
    let replication = Replication {
        db: deps.db.clone(),
        provisioning: provisioning.clone(),
        outbox: outbox.clone(),
        tuning: deps.tuning.clone(),
        replica: berth_runtime::replica().into(),
        cache: deps.cache.clone(),
        scan,
        flights: Arc::new(flights::Flights::new(deps.cache.clone())),
        throttles: Arc::new(throttle::Throttles::new(deps.cache.clone())),
        clients: Arc::new(berth_runtime::reach::Clients::new(
            provisioning,
            deps.token_signer.clone(),
        )),
    };
    if !deps.bus.durable() {
        // The messages of the last process died with it: requeue what the tables say is left.
        replication.requeue_unfinished().await?;
    }
    let events = Deduplicating::new(
        triggers::EventHandler(replication.clone()),
        deps.cache.clone(),
        "replication.events",
    );
    let mut consumers = vec![
        deps.bus
            .subscribe(triggers::subscription(), Arc::new(events))
            .await?,
        deps.bus
            .subscribe(
                plan::subscription(),
                Arc::new(plan::PlanHandler(replication.clone())),
            )
            .await?,
    ];
    if deps.work {
        consumers.push(
            deps.bus
                .subscribe(
                    worker::subscription(&deps.tuning),
                    Arc::new(worker::TaskHandler(replication.clone())),
                )
                .await?,
        );
    }
    // Relayed only once every queue of this service is declared: an in-process bus drops what
    // is published to a queue nobody declared yet (the work requeued above, after a restart).
    tokio::spawn(outbox.run_relay(deps.db.clone(), deps.bus.clone(), shutdown.token()));
    let stop_consumers = shutdown.wait();
    tokio::spawn(async move {
        stop_consumers.await;
        for c in consumers {
            c.stop().await;
        }
    });
    tokio::spawn(sweeper::run(replication.clone(), shutdown.clone()));
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
    .add_service(ExecutionServiceServer::with_interceptor(
        api.clone(),
        verifier.clone(),
    ))
    .add_service(ImportServiceServer::with_interceptor(api, verifier));
    let (routes, health) =
        berth_runtime::grpc::with_health_and_reflection(routes, &SERVICE_NAMES).await?;
    let db = deps.db.clone();
    health.serving_when(&shutdown, move || {
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
