//! Serving tonic services with health, reflection, tracing and metrics.

use std::time::Duration;

use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;
use tower_http::trace::TraceLayer;

use crate::{Shutdown, DRAIN_LIMIT};

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

    /// Marks serving once `probe` answers true (checked every 200 ms): a server is ready when
    /// its dependencies answer, not merely when it listens.
    pub fn serving_when<F, Fut>(self, probe: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = bool> + Send,
    {
        tokio::spawn(async move {
            while !probe().await {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            self.serving().await;
        });
    }
}

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
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(berth_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let routes = routes.add_service(health_service).add_service(reflection);
    Ok((routes, health))
}

/// Serves `routes` on `listener` until `shutdown`, then drains for at most [`DRAIN_LIMIT`].
/// HTTP/2 flow-control window of Berth's gRPC servers and clients.
pub const WINDOW: u32 = 4 * 1024 * 1024;

pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let trace = TraceLayer::new_for_grpc()
        .make_span_with(|req: &http::Request<_>| {
            let span = tracing::info_span!("rpc", path = %req.uri().path());
            berth_telemetry::propagation::adopt_from_headers(&span, req.headers());
            span
        })
        .on_response(
            |res: &http::Response<_>, latency: Duration, _span: &tracing::Span| {
                let status = res
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("0")
                    .to_string();
                metrics::histogram!("berth_grpc_request_seconds", "grpc_status" => status)
                    .record(latency.as_secs_f64());
            },
        );
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let stop = shutdown.wait();
    // Large flow-control windows: streamed uploads (image imports) are not held to 64 KiB a
    // round trip.
    let server = tonic::transport::Server::builder()
        .initial_stream_window_size(WINDOW)
        .initial_connection_window_size(WINDOW * 2)
        .layer(trace)
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, stop);
    tokio::pin!(server);
    tokio::select! {
        r = &mut server => r?,
        _ = async { shutdown.wait().await; tokio::time::sleep(DRAIN_LIMIT).await } => {
            tracing::warn!("grpc drain limit reached, closing");
        }
    }
    Ok(())
}
