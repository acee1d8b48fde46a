//! `berth-registry`: the registry service as its own process (production deployments).

use std::sync::Arc;

use berth_config::{keys, ConfigError, RawSettings, EXIT_CONFIG};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = berth_config::load_or_exit(RawSettings::default());
    berth_telemetry::init("berth-registry", log_format(&settings));
    let fail = |e: ConfigError| -> ! {
        eprintln!("berth-registry: {e}");
        std::process::exit(EXIT_CONFIG)
    };
    let key = settings
        .secret_key
        .clone()
        .unwrap_or_else(|| fail(ConfigError::new(keys::SECRET_KEY, "is required")));
    let secrets = berth_auth::sealed::SecretBox::from_base64(&key)
        .unwrap_or_else(|e| fail(ConfigError::new(keys::SECRET_KEY, e.to_string())));
    if settings.internal_token.is_none() {
        fail(ConfigError::new(keys::INTERNAL_TOKEN, "is required"));
    }
    std::fs::create_dir_all(&settings.data_dir)?;
    let db_url = settings
        .backends
        .database
        .clone()
        .unwrap_or_else(|| berth_db::sqlite_url(&settings.data_dir, "registry"));
    let db = berth_db::connect(&db_url).await?;
    let bus = berth_bus::open(settings.backends.bus.as_deref(), &settings.namespace).await?;
    let shutdown = berth_runtime::Shutdown::new();
    shutdown.on_signals();
    let listener = tokio::net::TcpListener::bind(settings.listen).await?;
    let running = berth_registry::start(
        berth_registry::Deps {
            db,
            bus: Arc::clone(&bus),
            secrets,
            internal_token: settings.internal_token.clone(),
            health_interval: settings.health_interval,
        },
        listener,
        shutdown,
    )
    .await?;
    tracing::info!(addr = %running.addr, "registry service ready");
    running.task.await??;
    berth_telemetry::shutdown();
    Ok(())
}

fn log_format(s: &berth_config::Settings) -> berth_telemetry::Format {
    match s.log_format {
        berth_config::LogFormat::Json => berth_telemetry::Format::Json,
        berth_config::LogFormat::Plain => berth_telemetry::Format::Plain,
    }
}
