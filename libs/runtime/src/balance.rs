//! Calls balanced across the ready replicas of a service.
//!
//! A service's address (`BERTH_REGISTRY_ADDR`, …) is a comma-separated list of `http://host:port`
//! URLs; a host name may resolve to several addresses (a Kubernetes headless Service names every
//! ready pod). A watcher resolves the names and asks each address's gRPC health service every
//! [`PROBE_EVERY`]; only replicas answering `SERVING` take calls, each call going to the less
//! loaded of two (power of two choices). A replica that reports `NOT_SERVING` (stopping, or its
//! database down) leaves the rotation at the next probe; one that does not answer leaves after
//! three probes in a row (a busy replica is not dropped for one slow answer); calls that meet a
//! refused connection meanwhile are sent again elsewhere. Replicas come back the same way.
//!
//! Every call has a deadline ([`DEADLINE`]); a call made while no replica is ready waits at
//! most [`CONNECT_TIMEOUT`] for one, then fails `UNAVAILABLE` naming the service — never hangs.
//! Client-streaming calls (image imports) run as long as their upload.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// How long a call may wait for a ready replica.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a call (other than a streamed upload) may take.
pub const DEADLINE: Duration = Duration::from_secs(60);
/// How often each replica's health is asked.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Probes in a row a replica may leave unanswered before it leaves the rotation.
const UNANSWERED_LIMIT: u32 = 3;
/// Calls whose request streams (uploads): bounded by the upload, not by [`DEADLINE`].
const STREAMED_UPLOADS: &[&str] = &[
    "/berth.v1.ImportService/",
    "/berth.v1.VulnDbService/ImportVulnDb",
];

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A channel to every ready replica of one service.
#[derive(Clone)]
pub struct Balanced {
    channel: Channel,
    ready: watch::Receiver<usize>,
    /// What errors call the service: `registry service (http://…)`.
    callee: Arc<str>,
}

/// One `scheme://host:port` of a service's address list.
#[derive(Clone, Debug)]
struct Target {
    scheme: String,
    host: String,
    port: u16,
}

fn targets(addrs: &str) -> anyhow::Result<Vec<Target>> {
    let mut out = Vec::new();
    for addr in addrs.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        let uri: http::Uri = addr
            .parse()
            .map_err(|e| anyhow::anyhow!("{addr:?} is not a URL: {e}"))?;
        let scheme = uri.scheme_str().unwrap_or("http").to_string();
        let host = uri
            .host()
            .ok_or_else(|| anyhow::anyhow!("{addr:?} names no host"))?
            .trim_matches(['[', ']'])
            .to_string();
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        out.push(Target { scheme, host, port });
    }
    if out.is_empty() {
        anyhow::bail!("no address given");
    }
    Ok(out)
}

/// The endpoint settings of every internal connection: large flow-control windows (imports
/// stream through them), keepalive, a connect timeout.
pub(crate) fn endpoint(url: &str) -> anyhow::Result<Endpoint> {
    const KEEPALIVE: Duration = Duration::from_secs(30);
    Ok(Endpoint::from_shared(url.to_string())?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .tcp_keepalive(Some(KEEPALIVE))
        .http2_keep_alive_interval(KEEPALIVE)
        .keep_alive_while_idle(true)
        .initial_stream_window_size(crate::grpc::WINDOW)
        .initial_connection_window_size(crate::grpc::WINDOW * 2))
}

fn url(scheme: &str, addr: SocketAddr) -> String {
    format!("{scheme}://{addr}")
}

impl Balanced {
    /// Balances calls to `service` (a name for errors) across the ready replicas behind
    /// `addrs`; watches them until the last clone is dropped. Needs a Tokio runtime.
    pub fn new(service: &str, addrs: &str) -> anyhow::Result<Self> {
        let targets = targets(addrs).map_err(|e| anyhow::anyhow!("{service} address: {e}"))?;
        let (channel, changes) = Channel::balance_channel::<SocketAddr>(64);
        let (ready_tx, ready) = watch::channel(0);
        tokio::spawn(watch_replicas(targets, changes, ready_tx));
        Ok(Self {
            channel,
            ready,
            callee: format!("{service} ({addrs})").into(),
        })
    }

    /// Replicas ready to take calls now.
    pub fn ready(&self) -> usize {
        *self.ready.borrow()
    }
}

/// Resolves the targets and probes every address they name, keeping the balancer's set equal
/// to the replicas answering `SERVING`, until the balancer is gone.
async fn watch_replicas(
    targets: Vec<Target>,
    changes: mpsc::Sender<Change<SocketAddr, Endpoint>>,
    ready: watch::Sender<usize>,
) {
    let mut probes: HashMap<SocketAddr, (String, HealthClient<Channel>)> = HashMap::new();
    // What the balancer has been told it has.
    let mut applied: HashSet<SocketAddr> = HashSet::new();
    // Probes in a row each replica did not answer.
    let mut unanswered: HashMap<SocketAddr, u32> = HashMap::new();
    loop {
        let mut found: HashMap<SocketAddr, String> = HashMap::new();
        for t in &targets {
            let lookup = tokio::net::lookup_host((t.host.as_str(), t.port));
            match tokio::time::timeout(PROBE_TIMEOUT, lookup).await {
                Ok(Ok(addrs)) => found.extend(addrs.map(|a| (a, t.scheme.clone()))),
                Ok(Err(e)) => tracing::debug!(host = %t.host, error = %e, "cannot resolve"),
                Err(_) => tracing::debug!(host = %t.host, "resolving timed out"),
            }
        }
        // A name that does not resolve for a moment keeps the replicas it named.
        if found.is_empty() {
            found = probes
                .iter()
                .map(|(a, (scheme, _))| (*a, scheme.clone()))
                .collect();
        }
        probes.retain(|a, _| found.contains_key(a));
        unanswered.retain(|a, _| found.contains_key(a));
        for (addr, scheme) in &found {
            if !probes.contains_key(addr) {
                if let Ok(e) = endpoint(&url(scheme, *addr)) {
                    probes.insert(*addr, (scheme.clone(), HealthClient::new(e.connect_lazy())));
                }
            }
        }
        let checks = probes.iter().map(|(addr, (_, client))| {
            let mut client = client.clone();
            let addr = *addr;
            async move {
                let check = client.check(HealthCheckRequest {
                    service: String::new(),
                });
                // `Some(serving)` when the replica answered; `None` when it did not in time.
                let answer = match tokio::time::timeout(PROBE_TIMEOUT, check).await {
                    Ok(Ok(r)) => Some(r.into_inner().status == ServingStatus::Serving as i32),
                    // Nothing listens there any more: as definite as a NOT_SERVING.
                    Ok(Err(status)) if refused(&status) => Some(false),
                    _ => None,
                };
                (addr, answer)
            }
        });
        let mut now: HashSet<SocketAddr> = HashSet::new();
        for (addr, answer) in futures::future::join_all(checks).await {
            match answer {
                Some(serving) => {
                    unanswered.remove(&addr);
                    if serving {
                        now.insert(addr);
                    }
                }
                // A replica that says it is not serving leaves at once; one that does not
                // answer (busy, or gone) only after a few probes in a row: a loaded replica is
                // not dropped for one slow answer, and calls to a gone one fail over meanwhile.
                None => {
                    let missed = unanswered.entry(addr).or_insert(0);
                    *missed += 1;
                    if applied.contains(&addr) && *missed < UNANSWERED_LIMIT {
                        now.insert(addr);
                    }
                }
            }
        }
        ready.send_replace(now.len());
        // The balancer takes changes only while a call waits for it: never block on an idle
        // one; what does not fit now is offered again next round.
        for addr in now.difference(&applied).copied().collect::<Vec<_>>() {
            let Ok(e) = endpoint(&url(&probes[&addr].0, addr)) else {
                continue;
            };
            match changes.try_send(Change::Insert(addr, e)) {
                Ok(()) => {
                    applied.insert(addr);
                }
                Err(mpsc::error::TrySendError::Full(_)) => break,
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
        for addr in applied.difference(&now).copied().collect::<Vec<_>>() {
            match changes.try_send(Change::Remove(addr)) {
                Ok(()) => {
                    applied.remove(&addr);
                }
                Err(mpsc::error::TrySendError::Full(_)) => break,
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
        if changes.is_closed() {
            return;
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for Balanced {
    type Response = http::Response<tonic::body::Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    /// Always ready: a call waits for a replica (bounded) inside its own future, so calls
    /// given up never pile up in the channel's queue.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let mut channel = self.channel.clone();
        let mut ready = self.ready.clone();
        let callee = self.callee.clone();
        let bounded = !STREAMED_UPLOADS
            .iter()
            .any(|p| request.uri().path().starts_with(p));
        Box::pin(async move {
            let unavailable = || {
                Box::new(tonic::Status::unavailable(format!(
                    "no replica of the {callee} is ready (none answered its health check within {CONNECT_TIMEOUT:?})"
                ))) as BoxError
            };
            if !bounded {
                admit(&mut channel, &mut ready, unavailable).await?;
                return tower::Service::call(&mut channel, request)
                    .await
                    .map_err(Into::into);
            }
            // A request small enough to send again: a replica that died since the last probe
            // refuses the connection, and the call goes to another (the probe soon drops it).
            let (parts, body) = request.into_parts();
            let body = http_body_util::BodyExt::collect(body)
                .await
                .map_err(BoxError::from)?
                .to_bytes();
            let call = async {
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    admit(&mut channel, &mut ready, unavailable).await?;
                    let mut request = http::Request::new(tonic::body::Body::new(
                        http_body_util::Full::new(body.clone()),
                    ));
                    *request.method_mut() = parts.method.clone();
                    *request.uri_mut() = parts.uri.clone();
                    *request.version_mut() = parts.version;
                    *request.headers_mut() = parts.headers.clone();
                    *request.extensions_mut() = parts.extensions.clone();
                    match tower::Service::call(&mut channel, request).await {
                        Err(e) if attempt < FAILOVER_ATTEMPTS && refused(&e) => {
                            tokio::time::sleep(FAILOVER_PAUSE).await;
                        }
                        other => return other.map_err(BoxError::from),
                    }
                }
            };
            match tokio::time::timeout(DEADLINE, call).await {
                Ok(r) => r,
                Err(_) => Err(Box::new(tonic::Status::deadline_exceeded(format!(
                    "the {callee} did not answer within {DEADLINE:?}"
                ))) as BoxError),
            }
        })
    }
}

/// Tries of a call whose replica refused the connection (it died since the last probe).
const FAILOVER_ATTEMPTS: u32 = 4;
const FAILOVER_PAUSE: Duration = Duration::from_millis(300);

/// Waits (at most [`CONNECT_TIMEOUT`]) until a replica is ready and the channel takes a call.
async fn admit(
    channel: &mut Channel,
    ready: &mut watch::Receiver<usize>,
    unavailable: impl Fn() -> BoxError,
) -> Result<(), BoxError> {
    let admitted = async {
        ready
            .wait_for(|n| *n > 0)
            .await
            .map_err(|_| unavailable())?;
        tower::ServiceExt::ready(channel)
            .await
            .map_err(BoxError::from)?;
        Ok::<_, BoxError>(())
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, admitted).await {
        Ok(r) => r,
        Err(_) => Err(unavailable()),
    }
}

/// Whether a call failed before it was sent: its replica refused the connection, or the
/// connection closed while the request waited on it (hyper's "canceled"). Nothing reached a
/// replica, so it may be sent again elsewhere.
fn refused(mut error: &(dyn std::error::Error + 'static)) -> bool {
    loop {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        if error
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_canceled)
        {
            return true;
        }
        match error.source() {
            Some(next) => error = next,
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::targets;

    #[test]
    fn address_lists() {
        let t = targets("http://a:9000, http://10.0.0.2:9001,http://[::1]:9002").unwrap();
        let got: Vec<_> = t.iter().map(|t| (t.host.as_str(), t.port)).collect();
        assert_eq!(got, vec![("a", 9000), ("10.0.0.2", 9001), ("::1", 9002)]);
        assert!(targets("").is_err());
        assert!(targets("http://").is_err());
    }
}
