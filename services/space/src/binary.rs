//! The space service as a process of its own, configured from the environment: what the
//! `berth-space` binary and `berth serve space` run.

use berth_config::keys;
use berth_runtime::boot;

/// Runs the space service until a signal stops it; `binary` names the process in messages.
pub async fn run(binary: &str) -> anyhow::Result<()> {
    let settings = boot::settings(binary);
    let internal_token = boot::require(binary, &settings.internal_token, keys::INTERNAL_TOKEN);
    let registry_addr = boot::require(binary, &settings.registry_addr, keys::REGISTRY_ADDR);
    let boot::Opened {
        db,
        bus,
        shutdown,
        listener,
    } = boot::open(binary, &settings, "space").await?;
    let deps = crate::Deps {
        db,
        bus,
        internal_token: Some(internal_token),
        registry_addr,
    };
    let running = crate::start(deps, listener, shutdown).await?;
    tracing::info!(addr = %running.addr, "space service ready");
    running.task.await??;
    berth_telemetry::shutdown();
    Ok(())
}
