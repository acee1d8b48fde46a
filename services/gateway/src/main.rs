//! `berth-gateway`: the gateway as its own process (production deployments).

use berth_config::keys;
use berth_runtime::boot;

const BINARY: &str = "berth-gateway";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = boot::settings(BINARY);
    let admin_token = boot::require(BINARY, &settings.admin_token, keys::ADMIN_TOKEN);
    let internal_token = boot::require(BINARY, &settings.internal_token, keys::INTERNAL_TOKEN);
    let registry_addr = boot::require(BINARY, &settings.registry_addr, keys::REGISTRY_ADDR);
    let space_addr = boot::require(BINARY, &settings.space_addr, keys::SPACE_ADDR);
    let replication_addr =
        boot::require(BINARY, &settings.replication_addr, keys::REPLICATION_ADDR);
    let db = berth_db::connect(&boot::database_url(&settings, "gateway")?).await?;
    let bus = berth_bus::open(settings.backends.bus.as_deref(), &settings.namespace).await?;
    let cache = berth_cache::open(settings.backends.cache.as_deref(), &settings.namespace).await?;
    let token_signer = match boot::token_signer(BINARY, &settings) {
        Some(s) => s,
        None => std::sync::Arc::new(berth_auth::registry_token::TokenSigner::load_or_create(
            &settings.data_dir,
            &settings.token_issuer,
        )?),
    };
    let shutdown = berth_runtime::Shutdown::new();
    shutdown.on_signals();
    let listener = tokio::net::TcpListener::bind(settings.listen).await?;
    let deps = berth_gateway::Deps {
        db,
        admin_token,
        internal_token: Some(internal_token),
        admission_token: settings.admission_token.clone(),
        platform_admins: settings.platform_admins.clone(),
        registry_addr,
        space_addr,
        replication_addr,
        token_signer,
        bus,
        cache,
    };
    let running = berth_gateway::start(deps, listener, shutdown).await?;
    tracing::info!(addr = %running.addr, "gateway ready");
    running.task.await??;
    berth_telemetry::shutdown();
    Ok(())
}
