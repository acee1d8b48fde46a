//! `berth-replication`: the replication service as its own process.

use berth_config::{keys, ConfigError, RawSettings, EXIT_CONFIG};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = berth_config::load_or_exit(RawSettings::default());
    berth_telemetry::init(
        "berth-replication",
        match settings.log_format {
            berth_config::LogFormat::Json => berth_telemetry::Format::Json,
            berth_config::LogFormat::Plain => berth_telemetry::Format::Plain,
        },
    );
    let require = |value: &Option<String>, key: &str| -> String {
        value.clone().unwrap_or_else(|| {
            eprintln!(
                "berth-replication: {}",
                ConfigError::new(key, "is required")
            );
            std::process::exit(EXIT_CONFIG)
        })
    };
    let internal_token = require(&settings.internal_token, keys::INTERNAL_TOKEN);
    let registry_addr = require(&settings.registry_addr, keys::REGISTRY_ADDR);
    std::fs::create_dir_all(&settings.data_dir)?;
    let db_url = settings
        .backends
        .database
        .clone()
        .unwrap_or_else(|| berth_db::sqlite_url(&settings.data_dir, "replication"));
    let db = berth_db::connect(&db_url).await?;
    let shutdown = berth_runtime::Shutdown::new();
    shutdown.on_signals();
    let listener = tokio::net::TcpListener::bind(settings.listen).await?;
    let running = berth_replication::start(
        berth_replication::Deps {
            db,
            internal_token: Some(internal_token),
            registry_addr,
        },
        listener,
        shutdown,
    )
    .await?;
    tracing::info!(addr = %running.addr, "replication service ready");
    running.task.await??;
    berth_telemetry::shutdown();
    Ok(())
}
