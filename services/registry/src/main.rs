//! `berth-registry`: the registry service as its own process (production deployments).

use berth_config::{keys, ConfigError, EXIT_CONFIG};
use berth_runtime::boot;

const BINARY: &str = "berth-registry";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = boot::settings(BINARY);
    let key = boot::require(BINARY, &settings.secret_key, keys::SECRET_KEY);
    let secrets = berth_auth::sealed::SecretBox::from_base64(&key).unwrap_or_else(|e| {
        eprintln!(
            "{BINARY}: {}",
            ConfigError::new(keys::SECRET_KEY, e.to_string())
        );
        std::process::exit(EXIT_CONFIG)
    });
    let internal_token = boot::require(BINARY, &settings.internal_token, keys::INTERNAL_TOKEN);
    let db = berth_db::connect(&boot::database_url(&settings, "registry")?).await?;
    let bus = berth_bus::open(settings.backends.bus.as_deref(), &settings.namespace).await?;
    let shutdown = berth_runtime::Shutdown::new();
    shutdown.on_signals();
    let listener = tokio::net::TcpListener::bind(settings.listen).await?;
    let deps = berth_registry::Deps {
        db,
        bus,
        secrets,
        internal_token: Some(internal_token),
        token_signer: boot::token_signer(BINARY, &settings),
        health_interval: settings.health_interval,
    };
    let running = berth_registry::start(deps, listener, shutdown).await?;
    tracing::info!(addr = %running.addr, "registry service ready");
    running.task.await??;
    berth_telemetry::shutdown();
    Ok(())
}
