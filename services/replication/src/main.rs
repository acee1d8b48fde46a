//! `berth-replication`: the replication service as its own process.

use berth_config::keys;
use berth_runtime::boot;

const BINARY: &str = "berth-replication";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = boot::settings(BINARY);
    let internal_token = boot::require(BINARY, &settings.internal_token, keys::INTERNAL_TOKEN);
    let registry_addr = boot::require(BINARY, &settings.registry_addr, keys::REGISTRY_ADDR);
    let db = berth_db::connect(&boot::database_url(&settings, "replication")?).await?;
    let shutdown = berth_runtime::Shutdown::new();
    shutdown.on_signals();
    let listener = tokio::net::TcpListener::bind(settings.listen).await?;
    let bus = berth_bus::open(settings.backends.bus.as_deref(), &settings.namespace).await?;
    let cache = berth_cache::open(settings.backends.cache.as_deref(), &settings.namespace).await?;
    let deps = berth_replication::Deps {
        db,
        bus,
        cache,
        internal_token: Some(internal_token),
        token_signer: boot::token_signer(BINARY, &settings),
        registry_addr,
        tuning: berth_replication::Tuning::from_settings(&settings.replication),
        work: settings.replication.workers > 0,
    };
    let running = berth_replication::start(deps, listener, shutdown).await?;
    tracing::info!(addr = %running.addr, "replication service ready");
    running.task.await??;
    berth_telemetry::shutdown();
    Ok(())
}
