//! Start-up shared by the service binaries: settings (exit 64 on bad ones), telemetry, required
//! keys and the service's database URL.

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
    value.clone().unwrap_or_else(|| {
        eprintln!("{binary}: {}", ConfigError::new(key, "is required"));
        std::process::exit(EXIT_CONFIG)
    })
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
