//! `berth up`: every service in one process, each on its own loopback port and still talking
//! gRPC, on embedded SQLite + in-process bus + in-process cache unless URLs are configured.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use berth_auth::sealed::SecretBox;
use berth_config::{keys, ConfigError, RawSettings, EXIT_CONFIG};
use clap::Args;

#[derive(Args)]
#[command(after_help = "\
Environment (the README's Configuration table says what each means):
  BERTH_DATABASE_URL, BERTH_BUS_URL, BERTH_CACHE_URL   PostgreSQL, RabbitMQ, Redis instead of
                                                       the embedded backends
  BERTH_NAMESPACE, BERTH_ADMIN_TOKEN, BERTH_INTERNAL_TOKEN, BERTH_ADMISSION_TOKEN,
  BERTH_SECRET_KEY, BERTH_TOKEN_ISSUER, BERTH_TOKEN_SIGNING_KEY_FILE, BERTH_PLATFORM_ADMINS,
  BERTH_HEALTH_INTERVAL_SECS, BERTH_REPLICATION_WORKERS, BERTH_REPLICATION_TASK_ATTEMPTS,
  BERTH_REPLICATION_TASK_TIMEOUT_SECS, BERTH_REPLICATION_VERIFY_SECS, BERTH_REPLICA,
  BERTH_LOG_FORMAT (auto|json|plain), RUST_LOG, OTEL_EXPORTER_OTLP_ENDPOINT")]
pub struct UpArgs {
    /// Where embedded databases, the admin token and the secret key live.
    #[arg(long, env = "BERTH_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Gateway address (HTTP/JSON and gRPC).
    #[arg(long, env = "BERTH_LISTEN")]
    listen: Option<String>,
    /// A TOML configuration file (keys as in the README).
    #[arg(long, env = "BERTH_CONFIG")]
    config: Option<PathBuf>,
}

/// The shortest bearer token a data-dir file may hold (as for the configured ones).
const TOKEN_MIN: usize = 16;

/// Reads a secret file, or creates it (mode 0600) with `make()`. A file holding fewer than
/// `min` characters is refused, as a configured token would be.
fn read_or_create(
    path: &Path,
    min: usize,
    make: impl FnOnce() -> String,
) -> anyhow::Result<(String, bool)> {
    if let Ok(s) = std::fs::read_to_string(path) {
        let s = s.trim().to_string();
        if !s.is_empty() {
            anyhow::ensure!(
                s.len() >= min,
                "{} holds {} characters, fewer than the {min} a token needs (remove the file to have one generated)",
                path.display(),
                s.len()
            );
            return Ok((s, false));
        }
    }
    let value = make();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    opts.open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok((value, true))
}

fn exit_config(e: ConfigError) -> ! {
    eprintln!("berth: {e}");
    std::process::exit(EXIT_CONFIG)
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let flags = RawSettings {
        data_dir: args.data_dir,
        listen: args.listen,
        ..Default::default()
    };
    let settings =
        berth_config::Settings::load(args.config.as_deref(), &berth_config::ProcessEnv, flags)
            .unwrap_or_else(|e| exit_config(e));
    berth_runtime::boot::telemetry("berth", settings.log_format);
    let started = Instant::now();
    let dir = &settings.data_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))?;
    let (admin_token, generated_admin) = match &settings.admin_token {
        Some(t) => (t.clone(), false),
        None => read_or_create(
            &dir.join("admin-token"),
            TOKEN_MIN,
            berth_auth::tokens::generate,
        )?,
    };
    // What a cluster's API server presents to the admission webhook.
    let admission_token = match &settings.admission_token {
        Some(t) => t.clone(),
        None => {
            read_or_create(
                &dir.join("admission-token"),
                TOKEN_MIN,
                berth_auth::tokens::generate,
            )?
            .0
        }
    };
    let secret_key = match &settings.secret_key {
        Some(k) => k.clone(),
        None => read_or_create(&dir.join("secret.key"), 0, SecretBox::generate_key)?.0,
    };
    let secrets = SecretBox::from_base64(&secret_key)
        .unwrap_or_else(|e| exit_config(ConfigError::new(keys::SECRET_KEY, e.to_string())));
    // Only this process's services talk to each other: a fresh credential per start will do.
    let internal_token = settings
        .internal_token
        .clone()
        .unwrap_or_else(berth_auth::tokens::generate);

    let backends = &settings.backends;
    let bus = berth_bus::open(backends.bus.as_deref(), &settings.namespace).await?;
    // Opened now so a wrong BERTH_CACHE_URL fails at start; access decisions use it.
    let cache = berth_cache::open(backends.cache.as_deref(), &settings.namespace).await?;
    anyhow::ensure!(cache.ping().await, "cache unavailable");
    // Every signer of the suite uses one key: given, or kept in the data dir.
    let token_signer = match berth_runtime::boot::token_signer("berth", &settings) {
        Some(s) => s,
        None => Arc::new(berth_auth::registry_token::TokenSigner::load_or_create(
            dir,
            &settings.token_issuer,
        )?),
    };

    let shutdown = berth_runtime::Shutdown::new();
    shutdown.on_signals();
    let gateway_listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let suite = berth_suite::start(
        berth_suite::Config {
            databases: berth_suite::Databases::shared_or_embedded(
                backends.database.as_deref(),
                dir,
            ),
            bus,
            cache,
            admin_token: admin_token.clone(),
            internal_token,
            admission_token: Some(admission_token),
            secrets,
            token_signer,
            platform_admins: settings.platform_admins.clone(),
            health_interval: settings.health_interval,
            replication: berth_replication::Tuning::from_settings(&settings.replication),
            replication_workers: settings.replication.workers > 0,
            vulndb: settings.vulndb.clone(),
        },
        gateway_listener,
        &shutdown,
    )
    .await?;
    let gateway_addr = suite.gateway;

    wait_ready(gateway_addr).await?;
    tracing::info!(listen = %gateway_addr, registry = %suite.registry, elapsed_ms = started.elapsed().as_millis() as u64, "berth ready");
    println!(
        "Berth is ready on http://{} (HTTP/JSON and gRPC)",
        gateway_addr
    );
    println!("  data dir:    {}", dir.display());
    if settings.admin_token.is_some() {
        println!("  admin token: (from {})", keys::ADMIN_TOKEN);
    } else {
        // Shown on the first start only: later starts point at the file (revoke or rotate it
        // by replacing the file, or set BERTH_ADMIN_TOKEN).
        if generated_admin {
            println!(
                "  admin token: {admin_token}   (generated, stored in {}; shown once)",
                dir.join("admin-token").display()
            );
        } else {
            println!(
                "  admin token: (stored in {})",
                dir.join("admin-token").display()
            );
        }
    }
    println!(
        "  admission:   POST /admission/validate with the bearer token in {}",
        if settings.admission_token.is_some() {
            keys::ADMISSION_TOKEN.to_string()
        } else {
            dir.join("admission-token").display().to_string()
        }
    );
    println!("  try:         BERTH_TOKEN=<admin token> berth registry list");

    shutdown.wait().await;
    let _ = tokio::time::timeout(berth_runtime::DRAIN_LIMIT, suite.stopped()).await;
    berth_telemetry::shutdown();
    Ok(())
}

/// Waits until the gateway's `/readyz` answers 200.
async fn wait_ready(addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("http://{addr}/readyz")).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            anyhow::bail!("services did not become ready within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a short token in the data dir was used as it was, although a configured
    /// token that short is refused.
    #[test]
    fn a_short_token_file_is_refused() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("berth-up-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("admin-token");
        std::fs::write(&path, "short\n").unwrap();
        let err = read_or_create(&path, TOKEN_MIN, || unreachable!()).unwrap_err();
        assert!(err.to_string().contains("fewer than the 16"), "{err}");
        std::fs::write(&path, "").unwrap();
        let (made, fresh) = read_or_create(&path, TOKEN_MIN, || "x".repeat(32)).unwrap();
        assert!(fresh && made.len() == 32);
        let (read, fresh) = read_or_create(&path, TOKEN_MIN, || unreachable!()).unwrap();
        assert!(!fresh && read == made);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
