//! Telemetry for every Berth binary: one call to [`init`] installs the log subscriber (`RUST_LOG`
//! filter, `warn,berth=info` by default, JSON or plain lines), OTLP trace export when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, the W3C trace-context propagator and the Prometheus
//! recorder whose text [`render_metrics`] serves. [`propagation`] carries trace context through
//! gRPC metadata and bus message headers.

pub mod propagation;

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

static METRICS: OnceLock<PrometheusHandle> = OnceLock::new();
static TRACER: OnceLock<Option<SdkTracerProvider>> = OnceLock::new();

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Plain,
}

/// Installs logging, tracing and metrics once per process; later calls only return.
pub fn init(service: &str, format: Format) {
    install_metrics();
    let provider = TRACER.get_or_init(|| otlp_provider(service)).clone();
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,berth=info"));
    let fmt = match format {
        Format::Json => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .boxed(),
        Format::Plain => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .compact()
            .boxed(),
    };
    let otel = provider.map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer(service.to_string()))
            .boxed()
    });
    // A second init (tests, `berth up`) finds a subscriber already set; that is fine.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init();
}

fn otlp_provider(service: &str) -> Option<SdkTracerProvider> {
    std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok()?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| eprintln!("otlp exporter disabled: {e}"))
        .ok()?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service.to_string())
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    Some(provider)
}

/// Installs the process's Prometheus recorder (once); servers call it at start so metrics are
/// recorded even when [`init`] was not called (tests, embedding).
pub fn install_metrics() -> &'static PrometheusHandle {
    METRICS.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// The Prometheus text exposition of every metric recorded in this process.
pub fn render_metrics() -> String {
    install_metrics().render()
}

/// Flushes pending spans; called on shutdown.
pub fn shutdown() {
    if let Some(Some(provider)) = TRACER.get() {
        let _ = provider.shutdown();
    }
}
