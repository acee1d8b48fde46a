//! The gateway as a process of its own, configured from the environment: what the
//! `berth-gateway` binary and `berth serve gateway` run.

use berth_config::keys;
use berth_runtime::boot;

/// Runs the gateway until a signal stops it; `binary` names the process in messages.
pub async fn run(binary: &str) -> anyhow::Result<()> {
    let settings = boot::settings(binary);
    let admin_token = boot::require(binary, &settings.admin_token, keys::ADMIN_TOKEN);
    let internal_token = boot::require(binary, &settings.internal_token, keys::INTERNAL_TOKEN);
    let registry_addr = boot::require(binary, &settings.registry_addr, keys::REGISTRY_ADDR);
    let space_addr = boot::require(binary, &settings.space_addr, keys::SPACE_ADDR);
    let replication_addr =
        boot::require(binary, &settings.replication_addr, keys::REPLICATION_ADDR);
    let scan_addr = boot::require(binary, &settings.scan_addr, keys::SCAN_ADDR);
    let token_signer = match boot::token_signer(binary, &settings) {
        Some(s) => s,
        // Replicas share a database; each would make a key of its own in its data dir, and a
        // registry trusts one key: every gateway must be given the same.
        None if settings.backends.database.is_some() => boot::missing(
            binary,
            keys::TOKEN_SIGNING_KEY_FILE,
            "is required with BERTH_DATABASE_URL: every gateway replica must sign registry \
             tokens with the same key",
        ),
        None => std::sync::Arc::new(berth_auth::registry_token::TokenSigner::load_or_create(
            &settings.data_dir,
            &settings.token_issuer,
        )?),
    };
    let boot::Opened {
        db,
        bus,
        shutdown,
        listener,
    } = boot::open(binary, &settings, "gateway").await?;
    let cache = boot::cache(binary, &settings).await?;
    let deps = crate::Deps {
        db,
        admin_token,
        internal_token: Some(internal_token),
        admission_token: settings.admission_token.clone(),
        platform_admins: settings.platform_admins.clone(),
        registry_addr,
        space_addr,
        replication_addr,
        scan_addr,
        token_signer,
        bus,
        cache,
    };
    let running = crate::start(deps, listener, shutdown).await?;
    tracing::info!(addr = %running.addr, "gateway ready");
    running.task.await??;
    berth_telemetry::shutdown();
    Ok(())
}
