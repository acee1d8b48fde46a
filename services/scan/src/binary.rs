//! The scan service as a process of its own, configured from the environment: what the
//! `berth-scan` binary and `berth serve scan` run.

use berth_config::keys;
use berth_runtime::boot;

/// Runs the scan service until a signal stops it; `binary` names the process in messages.
pub async fn run(binary: &str) -> anyhow::Result<()> {
    let settings = boot::settings(binary);
    let internal_token = boot::require(binary, &settings.internal_token, keys::INTERNAL_TOKEN);
    let registry_addr = boot::require(binary, &settings.registry_addr, keys::REGISTRY_ADDR);
    let space_addr = boot::require(binary, &settings.space_addr, keys::SPACE_ADDR);
    let boot::Opened {
        db,
        bus,
        shutdown,
        listener,
    } = boot::open(binary, &settings, "scan").await?;
    let cache = boot::cache(binary, &settings).await?;
    // Optional: without it, external scanners can be registered only without a credential.
    let secrets = settings.secret_key.as_deref().map(|key| {
        berth_auth::sealed::SecretBox::from_base64(key).unwrap_or_else(|e| {
            eprintln!(
                "{binary}: {}",
                berth_config::ConfigError::new(keys::SECRET_KEY, e.to_string())
            );
            std::process::exit(berth_config::EXIT_CONFIG)
        })
    });
    let deps = crate::Deps {
        db,
        bus,
        cache,
        internal_token: Some(internal_token),
        token_signer: boot::token_signer(binary, &settings),
        registry_addr,
        space_addr,
        work: true,
        secrets,
        mirror: settings.vulndb.clone(),
    };
    let running = crate::start(deps, listener, shutdown).await?;
    tracing::info!(addr = %running.addr, "scan service ready");
    running.task.await??;
    berth_telemetry::shutdown();
    Ok(())
}
