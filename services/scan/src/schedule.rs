//! Scheduled scans: a space whose scan policy has a `cron` gets a sweep of the space at each
//! tick, in the policy's time zone (UTC when none is set). Every replica reads the spaces' scan
//! policies every [`REFRESH`] and checks them each second; a due tick is claimed with a lease in
//! the shared cache (`set_nx` on the space and the tick time), so it fires once across replicas.

use std::sync::Arc;
use std::time::Duration;

use berth_cache::Cache;
use berth_proto::v1::{ListRegistriesRequest, ListSpacesRequest};
use berth_runtime::cron::{due, parse, time_zone};
use berth_runtime::Shutdown;
use chrono::Utc;

use crate::{Result, Scanning};

const REFRESH: Duration = Duration::from_secs(10);
const LEASE: Duration = Duration::from_secs(3600);

/// A space with a scan schedule.
struct Scheduled {
    registry: String,
    space: String,
    cron: String,
    time_zone: String,
}

impl Scanning {
    /// Every space of every registry whose scan policy has a cron schedule.
    async fn scheduled(&self) -> Result<Vec<Scheduled>> {
        let mut registries = Vec::new();
        let mut token = String::new();
        loop {
            let page = self
                .registries
                .clone()
                .list_registries(ListRegistriesRequest {
                    page_size: 500,
                    page_token: token,
                    ..Default::default()
                })
                .await
                .map_err(berth_runtime::clients::registry_error)?
                .into_inner();
            registries.extend(page.registries);
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let mut out = Vec::new();
        for r in registries {
            let mut token = String::new();
            loop {
                let page = self
                    .spaces
                    .spaces
                    .clone()
                    .list_spaces(ListSpacesRequest {
                        registry: r.name.clone(),
                        page_size: 500,
                        page_token: token,
                    })
                    .await
                    .map_err(berth_runtime::clients::space_error)?
                    .into_inner();
                out.extend(page.spaces.into_iter().filter_map(|s| {
                    let policy = s.scan.filter(|p| !p.cron.is_empty())?;
                    Some(Scheduled {
                        registry: r.name.clone(),
                        space: s.name,
                        cron: policy.cron,
                        time_zone: policy.time_zone,
                    })
                }));
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
        }
        Ok(out)
    }
}

/// Fires scheduled sweeps until shutdown.
pub async fn run(scanning: Scanning, cache: Arc<dyn Cache>, shutdown: Shutdown) {
    let mut last = Utc::now();
    let mut spaces: Vec<Scheduled> = Vec::new();
    let mut refreshed: Option<tokio::time::Instant> = None;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = ticker.tick() => {}
        }
        if refreshed.is_none_or(|t| t.elapsed() >= REFRESH) {
            match scanning.scheduled().await {
                Ok(s) => {
                    spaces = s;
                    refreshed = Some(tokio::time::Instant::now());
                }
                Err(e) => tracing::warn!(error = %e, "scan scheduler cannot read scan policies"),
            }
        }
        let now = Utc::now();
        for s in &spaces {
            let (Ok(schedule), Ok(tz)) = (parse(&s.cron), time_zone(&s.time_zone)) else {
                continue;
            };
            let Some(tick) = due(&schedule, tz, last, now) else {
                continue;
            };
            // A tick while the space's last sweep is still going is skipped: a schedule
            // faster than its sweeps queues nothing more.
            match scanning.sweeping(&s.registry, &s.space).await {
                Ok(false) => {}
                Ok(true) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, space = %s.space, "scan cron cannot read sweeps, skipping tick");
                    continue;
                }
            }
            let lease = format!("scan-cron:{}/{}:{}", s.registry, s.space, tick.timestamp());
            match cache.set_nx(&lease, b"1", LEASE).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, space = %s.space, "scan cron lease unavailable, skipping tick");
                    continue;
                }
            }
            match scanning
                .create_sweep(&s.registry, &s.space, "schedule")
                .await
            {
                Ok(sweep) => {
                    tracing::info!(sweep = %sweep.id, registry = %s.registry, space = %s.space, %tick, "scheduled sweep started")
                }
                Err(e) => {
                    tracing::warn!(registry = %s.registry, space = %s.space, error = %e, "scheduled sweep failed to start")
                }
            }
        }
        last = now;
    }
}
