//! Lifecycle shared by every Berth binary.
//!
//! [`Shutdown`] turns SIGTERM/SIGINT into a cancellation that every server and worker watches;
//! a second SIGINT exits at once. [`grpc`] serves a set of tonic services together with
//! `grpc.health.v1` (starting `NOT_SERVING`) and reflection, one span and one latency sample per
//! RPC, and stops within the drain limit when shutdown is asked. [`clients`] builds the one kind
//! of channel between Berth's services and the typed clients of each.

pub mod balance;
pub mod boot;

/// This process's name as a replica: `BERTH_REPLICA`, else `{host name}-{pid}`.
pub fn replica() -> String {
    if let Ok(name) = std::env::var(berth_config::keys::REPLICA) {
        if !name.trim().is_empty() {
            return name.trim().to_string();
        }
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}-{}", std::process::id())
}

pub mod clients;
pub mod cron;
pub mod grpc;
pub mod harbor_scanner;
pub mod reach;

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How long servers and workers get to finish in-flight work after shutdown is asked.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(20);

/// The process-wide stop signal.
#[derive(Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels on the first SIGTERM or SIGINT; a second SIGINT exits the process immediately.
    pub fn on_signals(&self) {
        let token = self.token.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested, draining");
            token.cancel();
            let _ = tokio::signal::ctrl_c().await;
            tracing::warn!("second interrupt, exiting now");
            std::process::exit(130);
        });
    }

    pub fn trigger(&self) {
        self.token.cancel();
    }

    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once shutdown is asked.
    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        self.token.clone().cancelled_owned()
    }

    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// A child that can be stopped alone and stops with its parent.
    pub fn child(&self) -> Shutdown {
        Shutdown {
            token: self.token.child_token(),
        }
    }
}

/// Runs `server` (which stops accepting once shutdown is asked and then finishes what is in
/// flight) to its end, or until [`DRAIN_LIMIT`] after shutdown was asked, whichever is first.
pub async fn drained<F, E>(server: F, shutdown: &Shutdown) -> anyhow::Result<()>
where
    F: Future<Output = Result<(), E>>,
    E: Into<anyhow::Error>,
{
    tokio::pin!(server);
    let limit = {
        let stop = shutdown.wait();
        async move {
            stop.await;
            tokio::time::sleep(DRAIN_LIMIT).await
        }
    };
    tokio::select! {
        r = &mut server => r.map_err(Into::into),
        _ = limit => {
            tracing::warn!("drain limit reached, closing");
            Ok(())
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
