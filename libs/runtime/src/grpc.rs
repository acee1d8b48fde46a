//! Serving tonic services with health, reflection, tracing and metrics.

use std::time::Duration;

use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;
use tower_http::trace::TraceLayer;

use crate::Shutdown;

/// The health of one gRPC server: `NOT_SERVING` until [`Health::serving`] is called.
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
    services: Vec<String>,
}

impl Health {
    /// Marks the server and every named service as serving (or not).
    pub async fn set(&self, serving: bool) {
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.reporter.set_service_status("", status).await;
        for name in &self.services {
            self.reporter.set_service_status(name, status).await;
        }
    }

    pub async fn serving(&self) {
        self.set(true).await
    }

    /// Follows `probe` until shutdown: `SERVING` while it answers true, `NOT_SERVING` while
    /// it does not. A server is ready when its dependencies answer, not merely when it
    /// listens, and stops being ready when they stop. Checked every 200 ms until first ready,
    /// then every [`RECHECK`].
    pub fn serving_when<F, Fut>(self, shutdown: &Shutdown, probe: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = bool> + Send,
    {
        let stop = shutdown.token();
        tokio::spawn(async move {
            let mut serving = false;
            while !stop.is_cancelled() {
                let up = probe().await;
                if up != serving {
                    self.set(up).await;
                    serving = up;
                    if !up {
                        tracing::warn!("a dependency stopped answering: not serving");
                    }
                }
                let pause = if serving {
                    RECHECK
                } else {
                    Duration::from_millis(200)
                };
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(pause) => {}
                }
            }
            // Stopping: callers take this replica out of their rotation while it still serves
            // (see [`serve`]).
            self.set(false).await;
        });
    }
}

/// How often a serving server checks its dependencies again.
pub const RECHECK: Duration = Duration::from_secs(2);

/// The services every server has besides its own.
const REFLECTED: [&str; 3] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Adds health (all `NOT_SERVING` at first) and reflection to `routes`. `services` are the
/// fully-qualified names whose health is reported, e.g. `berth.v1.RegistryService`.
pub async fn with_health_and_reflection(
    routes: Routes,
    services: &[&str],
) -> anyhow::Result<(Routes, Health)> {
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let health = Health {
        reporter,
        services: services.iter().map(|s| s.to_string()).collect(),
    };
    health.set(false).await;
    // Reflection in both versions (stock Python `grpcio-reflection` speaks only v1alpha), listing
    // exactly the services this server serves: never one that would answer UNIMPLEMENTED here.
    let reflection = || {
        let mut builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(berth_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
        for name in services.iter().copied().chain(REFLECTED) {
            builder = builder.with_service_name(name);
        }
        builder
    };
    let routes = routes
        .add_service(health_service)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?);
    Ok((routes, health))
}

/// HTTP/2 flow-control window of Berth's gRPC servers and clients.
pub const WINDOW: u32 = 4 * 1024 * 1024;

/// One span per RPC (adopting the caller's trace context).
#[derive(Clone, Copy, Debug)]
pub struct RpcSpan;

impl<B> tower_http::trace::MakeSpan<B> for RpcSpan {
    fn make_span(&mut self, req: &http::Request<B>) -> tracing::Span {
        let span = tracing::info_span!("rpc", path = %req.uri().path());
        berth_telemetry::propagation::adopt_from_headers(&span, req.headers());
        span
    }
}

/// One latency sample per RPC in `berth_grpc_request_duration_seconds`, labelled by
/// `grpc_service`, `grpc_method` and `grpc_code` (the canonical status name, `OK`,
/// `NOT_FOUND`, …), as the gRPC ecosystem's interceptors label them.
#[derive(Clone, Copy, Debug, Default)]
pub struct RpcMetricsLayer;

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics { inner }
    }
}

#[derive(Clone, Debug)]
pub struct RpcMetrics<S> {
    inner: S,
}

impl<S, B, RB> tower::Service<http::Request<B>> for RpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let is_grpc = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
        let path = is_grpc.then(|| req.uri().path().to_string());
        let started = std::time::Instant::now();
        let call = self.inner.call(req);
        Box::pin(async move {
            let res = call.await;
            if let (Some(path), Ok(r)) = (path, &res) {
                // A unary answer carries its status in the trailers when it is OK and in the
                // headers (trailers-only) when it is an error.
                let code = r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .unwrap_or(0);
                // A path no service answers (UNIMPLEMENTED) is the caller's invention: one
                // label for all of them, so callers cannot grow the series without bound.
                let (service, method) = match path.trim_start_matches('/').split_once('/') {
                    Some(names) if code != 12 => names,
                    _ => ("other", "other"),
                };
                metrics::histogram!(
                    "berth_grpc_request_duration_seconds",
                    "grpc_service" => service.to_string(),
                    "grpc_method" => method.to_string(),
                    "grpc_code" => code_name(code),
                )
                .record(started.elapsed().as_secs_f64());
            }
            res
        })
    }
}

/// The canonical name of a gRPC status code.
pub fn code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

/// The tracing and metrics every gRPC server of Berth's has (the gateway's too, which serves
/// gRPC beside HTTP on one port).
pub type RpcTrace = tower::layer::util::Stack<
    RpcMetricsLayer,
    tower::layer::util::Stack<
        TraceLayer<
            tower_http::classify::SharedClassifier<tower_http::classify::GrpcErrorsAsFailures>,
            RpcSpan,
        >,
        tower::layer::util::Identity,
    >,
>;

pub fn trace_layer() -> RpcTrace {
    use tower_http::classify::{GrpcCode, GrpcErrorsAsFailures, SharedClassifier};
    // A caller's mistake (not found, bad argument, refused) is an answer, not a failure of
    // the server: only the rest is logged as an error.
    let answers = [
        GrpcCode::InvalidArgument,
        GrpcCode::NotFound,
        GrpcCode::AlreadyExists,
        GrpcCode::PermissionDenied,
        GrpcCode::FailedPrecondition,
        GrpcCode::Unauthenticated,
        GrpcCode::Cancelled,
    ];
    let classifier = answers
        .into_iter()
        .fold(GrpcErrorsAsFailures::new(), |c, code| c.with_success(code));
    let trace = TraceLayer::new(SharedClassifier::new(classifier)).make_span_with(RpcSpan);
    tower::ServiceBuilder::new()
        .layer(trace)
        .layer(RpcMetricsLayer)
        .into_inner()
}

/// How long a stopping server keeps accepting calls after it reports `NOT_SERVING`: long
/// enough for every caller's health probe ([`crate::balance::PROBE_EVERY`]) to see it twice,
/// so no call is sent to a replica that is gone.
pub const STOP_DELAY: Duration = Duration::from_millis(2_500);

/// Serves `routes` and `/metrics` on `listener` until `shutdown` (and [`STOP_DELAY`] after it),
/// then drains for at most [`DRAIN_LIMIT`].
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    // No Nagle delay on answers (a small write waiting for an ACK is a 40 ms stall).
    let incoming = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        |conn| {
            conn.inspect(|tcp| {
                let _ = tcp.set_nodelay(true);
            })
        },
    );
    let stop = {
        let asked = shutdown.wait();
        async move {
            asked.await;
            tokio::time::sleep(STOP_DELAY).await
        }
    };
    // Large flow-control windows: streamed uploads (image imports) are not held to 64 KiB a
    // round trip.
    // `/metrics` beside the gRPC services, over HTTP/1.1 too (Prometheus scrapes that way).
    let routes = Routes::from(routes.prepare().into_axum_router().route(
        "/metrics",
        axum::routing::get(|| async {
            (
                [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                berth_telemetry::render_metrics(),
            )
        }),
    ));
    let server = tonic::transport::Server::builder()
        .accept_http1(true)
        .initial_stream_window_size(WINDOW)
        .initial_connection_window_size(WINDOW * 2)
        .layer(trace_layer())
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, stop);
    crate::drained(server, &shutdown).await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;

    use super::*;

    #[tokio::test]
    async fn health_follows_its_dependencies_both_ways() {
        let shutdown = Shutdown::new();
        let (routes, health) = with_health_and_reflection(Routes::default(), &["test.Service"])
            .await
            .unwrap();
        let up = Arc::new(AtomicBool::new(false));
        let probe = up.clone();
        health.serving_when(&shutdown, move || {
            let up = probe.clone();
            async move { up.load(Ordering::SeqCst) }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(listener, routes, shutdown.clone()));
        let client = HealthClient::new(crate::clients::channel(&format!("http://{addr}")).unwrap());
        let serving = || {
            let mut client = client.clone();
            async move {
                client
                    .check(HealthCheckRequest {
                        service: "test.Service".into(),
                    })
                    .await
                    .map(|r| r.into_inner().status == ServingStatus::Serving as i32)
                    .unwrap_or(false)
            }
        };
        let becomes = |want: bool, within: Duration| async move {
            let end = tokio::time::Instant::now() + within;
            while tokio::time::Instant::now() < end {
                if serving().await == want {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            false
        };
        assert!(becomes(false, Duration::from_millis(100)).await);
        up.store(true, Ordering::SeqCst);
        assert!(
            becomes(true, Duration::from_secs(2)).await,
            "serving once up"
        );
        up.store(false, Ordering::SeqCst);
        assert!(
            becomes(false, RECHECK + Duration::from_secs(2)).await,
            "not serving once a dependency is down"
        );
        shutdown.trigger();
    }
}
