//! The health loop: every registry re-checked on an interval, once per interval across
//! replicas (each check is taken under a lease).

use std::time::Duration;

use berth_runtime::Shutdown;

use crate::Registries;

/// Checks every registry each `interval` until shutdown.
pub async fn run(registries: Registries, interval: Duration, shutdown: Shutdown) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = ticker.tick() => {}
        }
        if let Err(e) = registries.check_due(interval).await {
            tracing::warn!(error = %e, "health check round failed");
        }
    }
}
