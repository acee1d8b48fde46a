//! The gateway: Berth's only public entry point.
//!
//! One listener serves HTTP/JSON ([`http`]) and gRPC ([`grpc`]), told apart by content type.
//! Both authenticate the caller ([`authn`]), then call the one function per operation in
//! [`ops`], which authorizes ([`authz`]), forwards to the owning internal service with the
//! internal credential, and records mutations in the audit trail ([`store`]).

pub mod access_cache;
pub mod authn;
pub mod authz;
pub mod binary;
pub mod grpc;
mod grpc_replication;
mod grpc_scan;
mod grpc_tenancy;
pub mod http;
pub mod ops;
pub mod pages;
pub mod state;
pub mod store;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use berth_auth::internal::Attacher;
use berth_proto::v1::access_service_server::AccessServiceServer;
use berth_proto::v1::allowlist_service_server::AllowlistServiceServer;
use berth_proto::v1::audit_service_server::AuditServiceServer;
use berth_proto::v1::binding_service_server::BindingServiceServer;
use berth_proto::v1::execution_service_server::ExecutionServiceServer;
use berth_proto::v1::policy_service_server::PolicyServiceServer;
use berth_proto::v1::registry_service_server::RegistryServiceServer;
use berth_proto::v1::scan_service_server::ScanServiceServer;
use berth_proto::v1::scanner_service_server::ScannerServiceServer;
use berth_proto::v1::space_service_server::SpaceServiceServer;
use berth_proto::v1::token_service_server::TokenServiceServer;
use berth_proto::v1::vuln_db_service_server::VulnDbServiceServer;
use berth_proto::v1::workspace_service_server::WorkspaceServiceServer;
use berth_runtime::Shutdown;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tower::ServiceExt;

pub use state::AppState;

/// What the gateway needs from its host process.
pub struct Deps {
    pub db: DatabaseConnection,
    pub admin_token: String,
    pub internal_token: Option<String>,
    /// What the Kubernetes API server presents to `/admission/validate`.
    pub admission_token: Option<String>,
    pub platform_admins: Vec<String>,
    /// `http://host:port` of the registry service.
    pub registry_addr: String,
    /// `http://host:port` of the space service.
    pub space_addr: String,
    /// `http://host:port` of the replication service.
    pub replication_addr: String,
    /// `http://host:port` of the scan service.
    pub scan_addr: String,
    pub token_signer: Arc<berth_auth::registry_token::TokenSigner>,
    pub bus: Arc<dyn berth_bus::Bus>,
    pub cache: Arc<dyn berth_cache::Cache>,
}

pub struct Running {
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

fn is_grpc(req: &axum::extract::Request) -> bool {
    req.headers()
        .get(::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// Migrates the gateway's tables and serves HTTP/JSON and gRPC on `listener`.
pub async fn start(
    deps: Deps,
    listener: TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<Running> {
    berth_telemetry::install_metrics();
    berth_db::migrate::<store::Migrator>(&deps.db).await?;
    let attacher = Attacher::new(deps.internal_token.as_deref());
    let registry =
        berth_runtime::clients::RegistryClients::new(&deps.registry_addr, attacher.clone())?;
    let space = state::SpaceClients::new(&deps.space_addr, attacher.clone())?;
    let replication = state::ReplicationClients::new(&deps.replication_addr, attacher.clone())?;
    let scan = berth_runtime::clients::ScanClients::new(&deps.scan_addr, attacher)?;
    let state = AppState {
        db: deps.db,
        admin_token: Arc::from(deps.admin_token.as_str()),
        platform_admins: Arc::new(deps.platform_admins),
        provisioning: registry.provisioning,
        registry: registry.registries,
        channels: Arc::new(vec![
            ("registry", registry.channel),
            ("space", space.channel.clone()),
            ("replication", replication.channel.clone()),
            ("scan", scan.channel.clone()),
        ]),
        space,
        replication,
        scan,
        token_signer: deps.token_signer,
        access_cache: access_cache::AccessCache::new(deps.cache.clone()),
        bus: deps.bus.clone(),
        pages: pages::PageTokens::new(deps.internal_token.as_deref()),
        hook_secrets: http::hooks::HookSecrets::default(),
        admission_token: deps.admission_token.as_deref().map(Arc::from),
    };
    let follower = state.access_cache.follow(deps.bus.as_ref()).await?;
    let stop_following = shutdown.wait();
    tokio::spawn(async move {
        stop_following.await;
        follower.stop().await;
    });
    let api = grpc::PublicApi {
        state: state.clone(),
    };
    let routes = tonic::service::Routes::new(RegistryServiceServer::new(api.clone()))
        .add_service(TokenServiceServer::new(api.clone()))
        .add_service(AuditServiceServer::new(api.clone()))
        .add_service(WorkspaceServiceServer::new(api.clone()))
        .add_service(SpaceServiceServer::new(api.clone()))
        .add_service(BindingServiceServer::new(api.clone()))
        .add_service(AccessServiceServer::new(api.clone()))
        .add_service(PolicyServiceServer::new(api.clone()))
        .add_service(ExecutionServiceServer::new(api.clone()))
        .add_service(ScanServiceServer::new(api.clone()))
        .add_service(VulnDbServiceServer::new(api.clone()))
        .add_service(AllowlistServiceServer::new(api.clone()))
        .add_service(ScannerServiceServer::new(api));
    let (routes, health) = berth_runtime::grpc::with_health_and_reflection(
        routes,
        &[
            "berth.v1.RegistryService",
            "berth.v1.TokenService",
            "berth.v1.AuditService",
            "berth.v1.WorkspaceService",
            "berth.v1.SpaceService",
            "berth.v1.BindingService",
            "berth.v1.AccessService",
            "berth.v1.PolicyService",
            "berth.v1.ExecutionService",
            "berth.v1.ScanService",
            "berth.v1.VulnDbService",
            "berth.v1.AllowlistService",
            "berth.v1.ScannerService",
        ],
    )
    .await?;
    let probed = state.clone();
    health.serving_when(&shutdown, move || {
        let s = probed.clone();
        async move { http::system::readiness(&s).await.0 }
    });
    // gRPC beside HTTP on one port, with the tracing and metrics of every gRPC server.
    let grpc_router = routes
        .prepare()
        .into_axum_router()
        .layer(berth_runtime::grpc::trace_layer());
    let http_router = http::router(state);
    let app =
        Router::new().fallback_service(tower::service_fn(move |req: axum::extract::Request| {
            let (grpc, http) = (grpc_router.clone(), http_router.clone());
            async move {
                let resp = if is_grpc(&req) {
                    grpc.oneshot(req).await
                } else {
                    http.oneshot(req).await
                };
                Ok::<_, Infallible>(
                    resp.unwrap_or_else(|e: Infallible| match e {})
                        .map(Body::new),
                )
            }
        }));
    let addr = listener.local_addr()?;
    let stop = shutdown.wait();
    let task = tokio::spawn(async move {
        let server = std::future::IntoFuture::into_future(
            // No Nagle delay on answers (a small write waiting for an ACK is a 40 ms stall).
            axum::serve(
                axum::serve::ListenerExt::tap_io(listener, |tcp| {
                    let _ = tcp.set_nodelay(true);
                }),
                app,
            )
            .with_graceful_shutdown(stop),
        );
        berth_runtime::drained(server, &shutdown).await
    });
    tracing::info!(%addr, "gateway listening");
    Ok(Running { addr, task })
}
