//! Start-up shared by the service binaries: settings (exit 64 on bad ones), telemetry, required
//! keys, the service's database URL and the registry token signer.

use berth_config::{ConfigError, LogFormat, RawSettings, Settings, EXIT_CONFIG};

/// Loads settings and installs telemetry for `binary`.
pub fn settings(binary: &str) -> Settings {
    let settings = berth_config::load_or_exit(RawSettings::default());
    telemetry(binary, settings.log_format);
    settings
}

/// Installs telemetry with the configured log format.
pub fn telemetry(binary: &str, format: LogFormat) {
    berth_telemetry::init(
        binary,
        match format {
            LogFormat::Json => berth_telemetry::Format::Json,
            LogFormat::Plain => berth_telemetry::Format::Plain,
        },
    );
}

/// A setting the binary cannot run without; exits 64 naming the key when it is missing.
pub fn require(binary: &str, value: &Option<String>, key: &str) -> String {
    value
        .clone()
        .unwrap_or_else(|| missing(binary, key, "is required"))
}

/// A split service on a shared database (`BERTH_DATABASE_URL`) runs beside replicas, which it
/// can only share work with over a broker: exits 64 when `BERTH_BUS_URL` is missing there (an
/// in-process bus would let each replica requeue the others' work as its own).
pub fn require_shared_bus(binary: &str, settings: &Settings) {
    if settings.backends.database.is_some() && settings.backends.bus.is_none() {
        missing(
            binary,
            berth_config::keys::BUS_URL,
            "is required with BERTH_DATABASE_URL: replicas share work over the broker",
        )
    }
}

/// Exits 64 naming `key` and why the binary needs it.
pub fn missing(binary: &str, key: &str, why: &str) -> ! {
    eprintln!("{binary}: {}", ConfigError::new(key, why));
    std::process::exit(EXIT_CONFIG)
}

/// `BERTH_DATABASE_URL`, or the service's SQLite file in the data dir (created if needed).
pub fn database_url(settings: &Settings, service: &str) -> anyhow::Result<String> {
    std::fs::create_dir_all(&settings.data_dir)?;
    Ok(settings
        .backends
        .database
        .clone()
        .unwrap_or_else(|| berth_db::sqlite_url(&settings.data_dir, service)))
}

/// The registry token signer of `BERTH_TOKEN_SIGNING_KEY_FILE`, if set; exits 64 naming the key
/// when the file is not a PEM P-256 private key.
pub fn token_signer(
    binary: &str,
    settings: &Settings,
) -> Option<std::sync::Arc<berth_auth::registry_token::TokenSigner>> {
    let path = settings.token_signing_key_file.as_ref()?;
    match berth_auth::registry_token::TokenSigner::from_key_file(path, &settings.token_issuer) {
        Ok(s) => Some(std::sync::Arc::new(s)),
        Err(e) => {
            eprintln!(
                "{binary}: {}",
                ConfigError::new(berth_config::keys::TOKEN_SIGNING_KEY_FILE, e.to_string())
            );
            std::process::exit(EXIT_CONFIG)
        }
    }
}

/// What every split service opens once its required keys are there: its database (PostgreSQL
/// at `BERTH_DATABASE_URL`, or its SQLite file), the bus, shutdown on signals, and its
/// listener. (The services that use the cache open it with [`cache`].)
pub struct Opened {
    pub db: berth_db::DatabaseConnection,
    pub bus: std::sync::Arc<dyn berth_bus::Bus>,
    pub shutdown: crate::Shutdown,
    pub listener: tokio::net::TcpListener,
}

/// Opens what `service` runs on (see [`Opened`]), after [`require_shared_bus`].
pub async fn open(binary: &str, settings: &Settings, service: &str) -> anyhow::Result<Opened> {
    require_shared_bus(binary, settings);
    let db = berth_db::connect(&database_url(settings, service)?).await?;
    let bus = berth_bus::open(settings.backends.bus.as_deref(), &settings.namespace).await?;
    let shutdown = crate::Shutdown::new();
    shutdown.on_signals();
    let listener = tokio::net::TcpListener::bind(settings.listen).await?;
    Ok(Opened {
        db,
        bus,
        shutdown,
        listener,
    })
}

/// The cache at `BERTH_CACHE_URL`, or an in-process one in a process on its own. On a shared
/// database the replicas share leases and decisions through it: exits 64 when it is missing.
pub async fn cache(
    binary: &str,
    settings: &Settings,
) -> anyhow::Result<std::sync::Arc<dyn berth_cache::Cache>> {
    if settings.backends.database.is_some() && settings.backends.cache.is_none() {
        missing(
            binary,
            berth_config::keys::CACHE_URL,
            "is required with BERTH_DATABASE_URL: replicas share leases and cached decisions",
        )
    }
    berth_cache::open(settings.backends.cache.as_deref(), &settings.namespace).await
}
