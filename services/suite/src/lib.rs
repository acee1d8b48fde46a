//! The one assembly of Berth's services. `berth up` and the cross-service tests both start the
//! suite here, so they cannot drift apart: each service is one entry in [`start`], on its own
//! loopback port, reaching the others over gRPC with the internal credential.
//!
//! A new service (reclaim) adds its database to [`Databases`], its entry to [`start`] and
//! its address to [`Running`]; nothing else wires it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use berth_auth::registry_token::TokenSigner;
use berth_auth::sealed::SecretBox;
use berth_runtime::Shutdown;
use tokio::net::TcpListener;

/// Database URL of each service (each owns its tables; they may share one server).
#[derive(Debug, Clone)]
pub struct Databases {
    pub gateway: String,
    pub registry: String,
    pub space: String,
    pub replication: String,
    pub scan: String,
}

impl Databases {
    /// The same URL for every service, or an SQLite file per service in `dir`.
    pub fn shared_or_embedded(url: Option<&str>, dir: &std::path::Path) -> Self {
        let of =
            |service: &str| url.map_or_else(|| berth_db::sqlite_url(dir, service), str::to_string);
        Self {
            gateway: of("gateway"),
            registry: of("registry"),
            space: of("space"),
            replication: of("replication"),
            scan: of("scan"),
        }
    }
}

/// Everything the suite is started with.
pub struct Config {
    pub databases: Databases,
    pub bus: Arc<dyn berth_bus::Bus>,
    pub cache: Arc<dyn berth_cache::Cache>,
    pub admin_token: String,
    /// Between Berth's own services only.
    pub internal_token: String,
    /// What the Kubernetes API server presents to the admission webhook.
    pub admission_token: Option<String>,
    /// Seals registry credentials at rest.
    pub secrets: SecretBox,
    /// Signs registry tokens: the gateway's token service and Berth's own calls to registries
    /// behind it.
    pub token_signer: Arc<TokenSigner>,
    pub platform_admins: Vec<String>,
    pub health_interval: Duration,
    pub replication: berth_replication::Tuning,
    /// Run replication workers in this process.
    pub replication_workers: bool,
    /// The OSV mirror the scan service fetches exports from, if any.
    pub vulndb: Option<berth_config::VulnDbMirror>,
}

/// A started suite.
pub struct Running {
    pub gateway: SocketAddr,
    pub registry: SocketAddr,
    pub space: SocketAddr,
    pub replication: SocketAddr,
    pub scan: SocketAddr,
    /// The registry domain, for tests that seed registries without the API.
    pub registries: berth_registry::registries::Registries,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    /// Waits until every service has stopped (after `shutdown` was triggered).
    pub async fn stopped(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn http(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// Starts every service, the gateway last on `gateway_listener`.
pub async fn start(
    cfg: Config,
    gateway_listener: TcpListener,
    shutdown: &Shutdown,
) -> anyhow::Result<Running> {
    let internal = Some(cfg.internal_token.clone());
    let signer = Some(Arc::clone(&cfg.token_signer));

    let registry = berth_registry::start(
        berth_registry::Deps {
            db: berth_db::connect(&cfg.databases.registry).await?,
            bus: Arc::clone(&cfg.bus),
            secrets: cfg.secrets.clone(),
            internal_token: internal.clone(),
            token_signer: signer.clone(),
            health_interval: cfg.health_interval,
        },
        TcpListener::bind(loopback()).await?,
        shutdown.child(),
    )
    .await?;

    let space = berth_space::start(
        berth_space::Deps {
            db: berth_db::connect(&cfg.databases.space).await?,
            bus: Arc::clone(&cfg.bus),
            internal_token: internal.clone(),
            registry_addr: http(registry.addr),
        },
        TcpListener::bind(loopback()).await?,
        shutdown.child(),
    )
    .await?;

    let scan = berth_scan::start(
        berth_scan::Deps {
            db: berth_db::connect(&cfg.databases.scan).await?,
            bus: Arc::clone(&cfg.bus),
            cache: Arc::clone(&cfg.cache),
            internal_token: internal.clone(),
            token_signer: signer.clone(),
            registry_addr: http(registry.addr),
            space_addr: http(space.addr),
            work: true,
            secrets: Some(cfg.secrets.clone()),
            mirror: cfg.vulndb.clone(),
        },
        TcpListener::bind(loopback()).await?,
        shutdown.child(),
    )
    .await?;

    let replication = berth_replication::start(
        berth_replication::Deps {
            db: berth_db::connect(&cfg.databases.replication).await?,
            bus: Arc::clone(&cfg.bus),
            cache: Arc::clone(&cfg.cache),
            internal_token: internal.clone(),
            token_signer: signer,
            registry_addr: http(registry.addr),
            scan_addr: Some(http(scan.addr)),
            tuning: cfg.replication,
            work: cfg.replication_workers,
        },
        TcpListener::bind(loopback()).await?,
        shutdown.child(),
    )
    .await?;

    let gateway = berth_gateway::start(
        berth_gateway::Deps {
            db: berth_db::connect(&cfg.databases.gateway).await?,
            admin_token: cfg.admin_token,
            internal_token: internal,
            admission_token: cfg.admission_token,
            platform_admins: cfg.platform_admins,
            registry_addr: http(registry.addr),
            space_addr: http(space.addr),
            replication_addr: http(replication.addr),
            scan_addr: http(scan.addr),
            token_signer: cfg.token_signer,
            bus: Arc::clone(&cfg.bus),
            cache: Arc::clone(&cfg.cache),
        },
        gateway_listener,
        shutdown.child(),
    )
    .await?;
    tracing::info!(
        gateway = %gateway.addr,
        registry = %registry.addr,
        space = %space.addr,
        replication = %replication.addr,
        scan = %scan.addr,
        "suite started"
    );
    Ok(Running {
        gateway: gateway.addr,
        registry: registry.addr,
        space: space.addr,
        replication: replication.addr,
        scan: scan.addr,
        registries: registry.registries,
        tasks: vec![
            gateway.task,
            registry.task,
            space.task,
            replication.task,
            scan.task,
        ],
    })
}
