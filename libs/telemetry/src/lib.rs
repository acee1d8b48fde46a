//! Telemetry for every Berth binary: one call to [`init`] installs the log subscriber (`RUST_LOG`
//! filter, `warn,berth=info` by default, JSON or plain lines), OTLP trace export when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, the W3C trace-context propagator and the Prometheus
//! recorder whose text [`render_metrics`] serves. [`propagation`] carries trace context through
//! gRPC metadata and bus message headers.

mod process;
pub mod propagation;
mod snapshot;

pub use snapshot::SnapshotGauge;

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
        // Buckets make every histogram a Prometheus histogram (aggregatable across replicas
        // with `histogram_quantile`), not a summary: from half a millisecond to a minute.
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0, 60.0,
            ])
            .expect("buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_ok() {
            describe();
            metrics::gauge!("berth_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        }
        handle
    })
}

/// `# HELP` for every metric family Berth records.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_gauge!(
        "berth_build_info",
        "Always 1; the version label names the running build."
    );
    describe_histogram!(
        "berth_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP requests at the gateway by method, route and status."
    );
    describe_histogram!(
        "berth_grpc_request_duration_seconds",
        Unit::Seconds,
        "gRPC calls served, by grpc_service, grpc_method and grpc_code."
    );
    describe_histogram!(
        "berth_replication_phase_seconds",
        Unit::Seconds,
        "Time in each phase of replication (start, plan, queue, copy, record)."
    );
    describe_gauge!(
        "berth_replication_executions_active",
        "Replication executions pending or running (read from the database every 10 s)."
    );
    describe_gauge!(
        "berth_replication_tasks_pending",
        "Replication tasks waiting for a worker (read from the database every 10 s)."
    );
    describe_gauge!(
        "berth_replication_tasks_running",
        "Replication tasks this process is copying now."
    );
    describe_gauge!(
        "berth_outbox_pending",
        "Events written to a service's outbox and not yet published to the bus, by table."
    );
    describe_gauge!(
        "berth_dependency_up",
        "1 while the gateway's dependency (database, cache, bus) answers its probe."
    );
    describe_gauge!(
        "berth_service_replicas_ready",
        "Replicas of each internal service the gateway's balanced channel finds serving."
    );
    for (name, help) in [
        (
            "berth_bus_redelivered_total",
            "Messages the broker delivered again after a consumer took them and did not settle.",
        ),
        (
            "berth_bus_retries_total",
            "Messages a handler failed and that were scheduled for another attempt, by queue.",
        ),
        (
            "berth_replication_tasks_total",
            "Replication tasks ended, by status.",
        ),
        (
            "berth_replication_executions_total",
            "Replication executions ended, by status.",
        ),
        (
            "berth_replication_duplicate_deliveries_total",
            "Task deliveries dropped because a live claim held the task.",
        ),
        (
            "berth_replication_bytes_total",
            "Bytes copied by replication.",
        ),
        (
            "berth_registry_tokens_issued_total",
            "Registry tokens issued by the token service.",
        ),
        (
            "berth_registry_notifications_total",
            "Registry notifications received.",
        ),
        (
            "berth_outbox_published_total",
            "Outbox rows published to the bus, by table.",
        ),
        (
            "berth_bus_duplicates_total",
            "Messages acknowledged as already handled, by consumer.",
        ),
        (
            "berth_bus_dead_lettered_total",
            "Messages given up on and dead-lettered, by queue.",
        ),
        (
            "berth_admission_reviews_total",
            "Admission reviews answered, by outcome.",
        ),
        (
            "berth_admission_unauthenticated_total",
            "Admission requests refused for a missing or wrong token.",
        ),
        (
            "berth_access_cache_hits_total",
            "Access decisions answered from the cache.",
        ),
        (
            "berth_access_cache_misses_total",
            "Access decisions made uncached.",
        ),
    ] {
        describe_counter!(name, help);
    }
}

/// The Prometheus text exposition of every metric recorded in this process.
pub fn render_metrics() -> String {
    let mut text = install_metrics().render();
    text.push_str(&snapshot::render());
    text.push_str(&process::render());
    text
}

/// Flushes pending spans; called on shutdown.
pub fn shutdown() {
    if let Some(Some(provider)) = TRACER.get() {
        let _ = provider.shutdown();
    }
}
