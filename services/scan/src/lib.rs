//! The scan service: what each artifact of every integrated registry holds, matched against an
//! offline vulnerability database, kept as a report per digest, and the gate the access rule
//! asks of those reports.
//!
//! What an image holds:
//! - [`inventory`]: one streamed pass over each layer (gzip, zstd or uncompressed; nothing
//!   written to disk) finds the operating system and the packages its databases list, and the
//!   whiteouts and opaque directories that hide what lower layers hold; an image's inventory is
//!   its layers' inventories applied in order.
//! - [`scanner`]: an artifact's inventory read from its registry, per platform of an index, each
//!   layer read once across every image that shares it ([`layers`] keeps them by digest).
//!
//! What is known about vulnerabilities:
//! - [`versions`]: each ecosystem's version order, exactly as its package manager orders
//!   ([`maven`]: Maven's `ComparableVersion`).
//! - [`osv`]: vulnerability records in the OSV schema and whether one affects a package.
//! - [`severity`]: CVSS v3 base scores and severity bands.
//! - [`debian`], [`deb`]: records built from Debian packages' own changelogs.
//! - [`vulndb`]: parsing imports (OSV zips, OSV JSON, `.deb`), and which record is newest;
//!   [`database`]: the records in the service's tables, versioned, and the index scans use.
//! - [`matcher`]: an image's packages matched against the records: findings and a summary.
//!
//! What the service does with them:
//! - [`scans`]: scan requests, jobs on the `scan.request` queue (`scan.request.bulk` for
//!   schedules and scan-all, so they never hold up a push or a request), and the worker;
//! - [`reports`]: reports per digest, re-matched when the database changes;
//! - [`sbom`]: CycloneDX 1.6 and SPDX 2.3 JSON of an inventory, with package URLs;
//!   [`attach`]: those SBOMs attached to their images as OCI referrers;
//! - [`allowlist`], [`gate`]: the severity gate of a space's scan policy;
//! - [`sweeps`]: scan-all of a registry or a space; [`schedule`]: sweeps on a space's cron;
//! - [`scanners`], [`external`]: external scanners (Harbor's pluggable scanner API), each
//!   scanning the registries assigned to it;
//! - [`triggers`]: scans on push; [`grpc`]: `ScanService`, `VulnDbService`, `AllowlistService`,
//!   `ScannerService`;
//! - [`entity`], [`migration`]: the `scan_*` tables.

pub mod allowlist;
pub mod attach;
pub mod binary;
pub mod database;
pub mod deb;
pub mod debian;
pub mod entity;
pub mod external;
pub mod forget;
pub mod gate;
pub mod grpc;
pub mod inventory;
pub mod layers;
pub mod matcher;
pub mod maven;
pub mod migration;
pub mod mirror;
pub mod osv;
pub mod reports;
pub mod sbom;
pub mod scanner;
pub mod scanners;
pub mod scans;
pub mod schedule;
pub mod severity;
pub mod sweeps;
pub mod triggers;
pub mod versions;
pub mod vulndb;

use std::net::SocketAddr;
use std::sync::Arc;

use berth_auth::internal::{Attacher, Verifier};
use berth_bus::dedup::Deduplicating;
use berth_bus::outbox::Outbox;
use berth_error::ApiError;
use berth_proto::v1::allowlist_service_server::AllowlistServiceServer;
use berth_proto::v1::scan_service_server::ScanServiceServer;
use berth_proto::v1::scanner_service_server::ScannerServiceServer;
use berth_proto::v1::vuln_db_service_server::VulnDbServiceServer;
use berth_runtime::Shutdown;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

pub const SERVICE_NAMES: [&str; 4] = [
    "berth.v1.ScanService",
    "berth.v1.VulnDbService",
    "berth.v1.AllowlistService",
    "berth.v1.ScannerService",
];

pub type Result<T> = std::result::Result<T, ApiError>;

/// A database error as callers see it (the detail goes to the log only).
pub(crate) fn db_error(e: sea_orm::DbErr) -> ApiError {
    tracing::error!(error = %e, "scan database error");
    ApiError::unavailable("scan service database unavailable")
}

/// What every part of the service shares in this process.
#[derive(Clone)]
pub struct Scanning {
    pub(crate) db: DatabaseConnection,
    pub(crate) outbox: Outbox,
    pub(crate) clients: Arc<berth_runtime::reach::Clients>,
    /// The space service (scan policies, for scans on push and schedules).
    pub(crate) spaces: berth_runtime::clients::SpaceClients,
    /// The registry service's listings (what a sweep scans).
    pub(crate) registries: berth_proto::v1::registry_service_client::RegistryServiceClient<
        berth_runtime::clients::Intercepted,
    >,
    pub(crate) database: Arc<database::Loaded>,
    pub(crate) layers: Arc<layers::TableLayers>,
    /// Seals external scanners' credentials (none: registrations without one only).
    pub(crate) secrets: Option<berth_auth::sealed::SecretBox>,
    /// The OSV mirror exports are fetched from, if configured.
    pub(crate) mirror: Option<berth_config::VulnDbMirror>,
}

pub struct Deps {
    pub db: DatabaseConnection,
    pub bus: Arc<dyn berth_bus::Bus>,
    /// Message de-duplication (by id) shared by replicas.
    pub cache: Arc<dyn berth_cache::Cache>,
    pub internal_token: Option<String>,
    /// Signs Berth's own tokens for registries behind its token service.
    pub token_signer: Option<Arc<berth_auth::registry_token::TokenSigner>>,
    /// `http://host:port` of the registry service.
    pub registry_addr: String,
    /// `http://host:port` of the space service.
    pub space_addr: String,
    /// Consume scan jobs in this process.
    pub work: bool,
    /// Seals external scanners' credentials at rest (`BERTH_SECRET_KEY`).
    pub secrets: Option<berth_auth::sealed::SecretBox>,
    /// The OSV mirror to fetch exports from (`BERTH_VULNDB_MIRROR`).
    pub mirror: Option<berth_config::VulnDbMirror>,
}

pub struct Running {
    pub addr: SocketAddr,
    pub scanning: Scanning,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub async fn start(
    deps: Deps,
    listener: TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<Running> {
    berth_telemetry::install_metrics();
    berth_db::migrate::<migration::Migrator>(&deps.db).await?;
    let attacher = Attacher::new(deps.internal_token.as_deref());
    let registry =
        berth_runtime::clients::RegistryClients::new(&deps.registry_addr, attacher.clone())?;
    let spaces = berth_runtime::clients::SpaceClients::new(&deps.space_addr, attacher)?;
    let outbox = Outbox::new("scan");
    let scanning = Scanning {
        db: deps.db.clone(),
        outbox: outbox.clone(),
        clients: Arc::new(berth_runtime::reach::Clients::new(
            registry.provisioning,
            deps.token_signer.clone(),
        )),
        spaces,
        registries: registry.registries,
        database: Arc::default(),
        layers: Arc::new(layers::TableLayers::new(deps.db.clone())),
        secrets: deps.secrets.clone(),
        mirror: deps.mirror.clone(),
    };
    if !deps.bus.durable() {
        // The messages of the last process died with it: requeue what the tables say is left.
        scanning.requeue_unfinished().await?;
        scanning.requeue_planning().await?;
    }
    let events = Deduplicating::new(
        triggers::EventHandler(scanning.clone()),
        deps.cache.clone(),
        "scan.events",
    );
    let mut consumers = vec![
        deps.bus
            .subscribe(triggers::subscription(), Arc::new(events))
            .await?,
        deps.bus
            .subscribe(
                reports::rematch_subscription(),
                Arc::new(reports::RematchHandler(scanning.clone())),
            )
            .await?,
        deps.bus
            .subscribe(
                forget::subscription(),
                Arc::new(forget::ForgetHandler(scanning.clone())),
            )
            .await?,
    ];
    if deps.work {
        consumers.push(
            deps.bus
                .subscribe(
                    sweeps::subscription(),
                    Arc::new(sweeps::PlanHandler(scanning.clone())),
                )
                .await?,
        );
        for (sub, name) in scans::subscriptions() {
            consumers.push(
                deps.bus
                    .subscribe(sub, Arc::new(scans::JobHandler(scanning.clone(), name)))
                    .await?,
            );
        }
    }
    // Relayed only once every queue of this service is declared: an in-process bus drops what
    // is published to a queue nobody declared yet (the work requeued above, after a restart).
    tokio::spawn(outbox.run_relay(deps.db.clone(), deps.bus.clone(), shutdown.token()));
    tokio::spawn(schedule::run(
        scanning.clone(),
        deps.cache.clone(),
        shutdown.clone(),
    ));
    if let Some(mirror) = deps.mirror.clone() {
        tokio::spawn(mirror::run(
            scanning.clone(),
            mirror,
            deps.cache.clone(),
            shutdown.clone(),
        ));
    }
    let stop_consumers = shutdown.wait();
    tokio::spawn(async move {
        stop_consumers.await;
        for c in consumers {
            c.stop().await;
        }
    });
    let api = grpc::ScanApi {
        scanning: scanning.clone(),
    };
    let verifier = Verifier::new(deps.internal_token.as_deref());
    let routes = tonic::service::Routes::new(ScanServiceServer::with_interceptor(
        api.clone(),
        verifier.clone(),
    ))
    .add_service(VulnDbServiceServer::with_interceptor(
        api.clone(),
        verifier.clone(),
    ))
    .add_service(AllowlistServiceServer::with_interceptor(
        api.clone(),
        verifier.clone(),
    ))
    .add_service(ScannerServiceServer::with_interceptor(api, verifier));
    let (routes, health) =
        berth_runtime::grpc::with_health_and_reflection(routes, &SERVICE_NAMES).await?;
    let db = deps.db.clone();
    health.serving_when(&shutdown, move || {
        let db = db.clone();
        async move { berth_db::ping(&db).await }
    });
    let addr = listener.local_addr()?;
    let task = tokio::spawn(berth_runtime::grpc::serve(listener, routes, shutdown));
    tracing::info!(%addr, "scan service listening");
    Ok(Running {
        addr,
        scanning,
        task,
    })
}
