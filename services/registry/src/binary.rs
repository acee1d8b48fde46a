//! The registry service as a process of its own, configured from the environment: what the
//! `berth-registry` binary and `berth serve registry` run.

use berth_config::{keys, ConfigError, EXIT_CONFIG};
use berth_runtime::boot;

/// Runs the registry service until a signal stops it; `binary` names the process in messages.
pub async fn run(binary: &str) -> anyhow::Result<()> {
    let settings = boot::settings(binary);
    let key = boot::require(binary, &settings.secret_key, keys::SECRET_KEY);
    let secrets = berth_auth::sealed::SecretBox::from_base64(&key).unwrap_or_else(|e| {
        eprintln!(
            "{binary}: {}",
            ConfigError::new(keys::SECRET_KEY, e.to_string())
        );
        std::process::exit(EXIT_CONFIG)
    });
    let internal_token = boot::require(binary, &settings.internal_token, keys::INTERNAL_TOKEN);
    let boot::Opened {
        db,
        bus,
        shutdown,
        listener,
    } = boot::open(binary, &settings, "registry").await?;
    let deps = crate::Deps {
        db,
        bus,
        secrets,
        internal_token: Some(internal_token),
        token_signer: boot::token_signer(binary, &settings),
        health_interval: settings.health_interval,
    };
    let running = crate::start(deps, listener, shutdown).await?;
    tracing::info!(addr = %running.addr, "registry service ready");
    running.task.await??;
    berth_telemetry::shutdown();
    Ok(())
}
