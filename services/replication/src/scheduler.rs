//! Cron triggers. Every replica checks the cron policies each second; a tick that is due is
//! claimed with a lease in the shared cache (`set_nx` on policy and tick time), so it fires once
//! across replicas. Schedules are read in the policy's time zone (UTC when none is set); 5
//! fields, or 6 with seconds first. Disabled policies do not fire.

use std::sync::Arc;
use std::time::Duration;

use berth_cache::Cache;
use berth_runtime::cron::{due, parse, time_zone};
use berth_runtime::Shutdown;
use chrono::Utc;

use crate::error::ReplicationError;
use crate::Replication;

const LEASE: Duration = Duration::from_secs(3600);

/// Fires cron policies until shutdown.
pub async fn run(replication: Replication, cache: Arc<dyn Cache>, shutdown: Shutdown) {
    let mut last = Utc::now();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = ticker.tick() => {}
        }
        let now = Utc::now();
        let policies = match replication.list_policies().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cron scheduler cannot read policies");
                continue;
            }
        };
        for p in policies {
            let Some(trigger) = p.trigger.as_ref().filter(|t| t.kind == "cron") else {
                continue;
            };
            if p.enabled == Some(false) {
                continue;
            }
            let (Ok(schedule), Ok(tz)) = (parse(&trigger.cron), time_zone(&trigger.time_zone))
            else {
                continue;
            };
            let Some(tick) = due(&schedule, tz, last, now) else {
                continue;
            };
            let lease = format!("cron:{}:{}", p.name, tick.timestamp());
            match cache.set_nx(&lease, b"1", LEASE).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, policy = %p.name, "cron lease unavailable, skipping tick");
                    continue;
                }
            }
            match replication.run(&p.name, "cron", false).await {
                Ok(e) => {
                    tracing::info!(policy = %p.name, execution = %e.id, %tick, "cron run started")
                }
                Err(ReplicationError::Conflict(_)) => {
                    tracing::info!(policy = %p.name, "cron tick skipped: still running")
                }
                Err(e) => tracing::warn!(policy = %p.name, error = %e, "cron run failed to start"),
            }
        }
        last = now;
    }
}
