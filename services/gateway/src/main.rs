//! `berth-gateway`: the gateway as its own process (production deployments).

use berth_config::{keys, ConfigError, RawSettings, EXIT_CONFIG};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = berth_config::load_or_exit(RawSettings::default());
    berth_telemetry::init(
        "berth-gateway",
        match settings.log_format {
            berth_config::LogFormat::Json => berth_telemetry::Format::Json,
            berth_config::LogFormat::Plain => berth_telemetry::Format::Plain,
        },
    );
    let require = |value: &Option<String>, key: &str| -> String {
        value.clone().unwrap_or_else(|| {
            eprintln!("berth-gateway: {}", ConfigError::new(key, "is required"));
            std::process::exit(EXIT_CONFIG)
        })
    };
    let admin_token = require(&settings.admin_token, keys::ADMIN_TOKEN);
    let internal_token = require(&settings.internal_token, keys::INTERNAL_TOKEN);
    let registry_addr = require(&settings.registry_addr, keys::REGISTRY_ADDR);
    let space_addr = require(&settings.space_addr, keys::SPACE_ADDR);
    let replication_addr = require(&settings.replication_addr, keys::REPLICATION_ADDR);
    std::fs::create_dir_all(&settings.data_dir)?;
    let db_url = settings
        .backends
        .database
        .clone()
        .unwrap_or_else(|| berth_db::sqlite_url(&settings.data_dir, "gateway"));
    let db = berth_db::connect(&db_url).await?;
    let bus = berth_bus::open(settings.backends.bus.as_deref(), &settings.namespace).await?;
    let cache = berth_cache::open(settings.backends.cache.as_deref(), &settings.namespace).await?;
    let shutdown = berth_runtime::Shutdown::new();
    shutdown.on_signals();
    let listener = tokio::net::TcpListener::bind(settings.listen).await?;
    let running = berth_gateway::start(
        berth_gateway::Deps {
            db,
            admin_token,
            internal_token: Some(internal_token),
            platform_admins: settings.platform_admins.clone(),
            registry_addr,
            space_addr,
            replication_addr,
            token_signer: berth_auth::registry_token::TokenSigner::load_or_create(
                &settings.data_dir,
                &settings.token_issuer,
            )?,
            bus,
            cache,
        },
        listener,
        shutdown,
    )
    .await?;
    tracing::info!(addr = %running.addr, "gateway ready");
    running.task.await??;
    berth_telemetry::shutdown();
    Ok(())
}
