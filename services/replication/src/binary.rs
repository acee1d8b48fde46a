//! The replication service as a process of its own, configured from the environment: what the
//! `berth-replication` binary and `berth serve replication` run.

use berth_config::keys;
use berth_runtime::boot;

/// Runs the replication service until a signal stops it; `binary` names the process in messages.
pub async fn run(binary: &str) -> anyhow::Result<()> {
    let settings = boot::settings(binary);
    let internal_token = boot::require(binary, &settings.internal_token, keys::INTERNAL_TOKEN);
    let registry_addr = boot::require(binary, &settings.registry_addr, keys::REGISTRY_ADDR);
    let boot::Opened {
        db,
        bus,
        shutdown,
        listener,
    } = boot::open(binary, &settings, "replication").await?;
    let cache = boot::cache(binary, &settings).await?;
    let deps = crate::Deps {
        db,
        bus,
        cache,
        internal_token: Some(internal_token),
        token_signer: boot::token_signer(binary, &settings),
        registry_addr,
        scan_addr: settings.scan_addr.clone(),
        tuning: crate::Tuning::from_settings(&settings.replication),
        work: settings.replication.workers > 0,
    };
    let running = crate::start(deps, listener, shutdown).await?;
    tracing::info!(addr = %running.addr, "replication service ready");
    running.task.await??;
    berth_telemetry::shutdown();
    Ok(())
}
