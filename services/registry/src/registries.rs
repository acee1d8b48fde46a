//! The registry domain: integrate, verify, read back, check health, count. Knows nothing of
//! gRPC; [`crate::grpc`] is a thin layer over it.

use std::time::{Duration, Instant};

use berth_auth::sealed::SecretBox;
use berth_bus::outbox::Outbox;
use berth_bus::Message;
use std::sync::Arc;

use berth_auth::registry_token::{Minter, TokenSigner};
use berth_oci::{Auth, Credential, OciError};
use berth_proto::v1::{
    Artifact, CreateRegistryRequest, HealthStatus, Overview, Registry, RegistryChanged,
    RegistryHealth, RegistryHealthChanged, Repository, UpdateRegistryRequest,
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use crate::adapter::{self, Adapter, Page};
use crate::entity::{self, Column, Entity, Model};
use crate::error::{RegistryError, Result};
use crate::validate;

const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 500;

#[derive(Serialize, Deserialize)]
struct StoredCredential {
    username: String,
    password: String,
}

/// The result of one health check.
#[derive(Debug, Clone)]
pub struct Check {
    pub status: &'static str,
    pub latency_ms: u32,
    pub error: String,
    pub at: DateTime<Utc>,
}

/// Registries and everything Berth knows of them.
#[derive(Clone)]
pub struct Registries {
    pub(crate) db: DatabaseConnection,
    secrets: SecretBox,
    outbox: Outbox,
    /// Signs Berth's own tokens for registries that delegate their auth to its token service.
    token_signer: Option<Arc<TokenSigner>>,
}

pub fn page_size(requested: i32) -> usize {
    match requested {
        n if n <= 0 => DEFAULT_PAGE,
        n => (n as usize).min(MAX_PAGE),
    }
}

fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

fn health_status(s: &str) -> HealthStatus {
    match s {
        "healthy" => HealthStatus::Healthy,
        "unhealthy" => HealthStatus::Unhealthy,
        _ => HealthStatus::Unknown,
    }
}

/// The API form of a stored registry: everything but the credential.
pub fn to_proto(m: &Model) -> Registry {
    Registry {
        name: m.name.clone(),
        kind: m.kind.clone(),
        url: m.url.clone(),
        insecure: m.insecure,
        description: m.description.clone(),
        workspace: m.workspace.clone(),
        managed: m.managed,
        health: Some(RegistryHealth {
            status: health_status(&m.health_status) as i32,
            checked_at: m.health_checked_at.map(timestamp),
            latency_ms: m.health_latency_ms.max(0) as u32,
            error: m.health_error.clone(),
        }),
        created_at: Some(timestamp(m.created_at)),
        updated_at: Some(timestamp(m.updated_at)),
        has_credential: m.credential_sealed.is_some(),
        token_service: m.token_service.clone(),
    }
}

fn check_to_proto(c: &Check) -> RegistryHealth {
    RegistryHealth {
        status: health_status(c.status) as i32,
        checked_at: Some(timestamp(c.at)),
        latency_ms: c.latency_ms,
        error: c.error.clone(),
    }
}

impl Registries {
    pub fn new(
        db: DatabaseConnection,
        secrets: SecretBox,
        outbox: Outbox,
        token_signer: Option<Arc<TokenSigner>>,
    ) -> Self {
        Self {
            db,
            secrets,
            outbox,
            token_signer,
        }
    }

    /// How Berth authenticates to a registry: behind Berth's own token service with tokens it
    /// signs for that registry alone (never a reusable secret), otherwise with its credential.
    pub(crate) fn auth(
        &self,
        name: &str,
        token_service: &str,
        credential: Option<Credential>,
    ) -> Result<Auth> {
        if token_service != "berth" {
            return Ok(credential.into());
        }
        let signer = self.token_signer.clone().ok_or_else(|| {
            RegistryError::Precondition(format!(
                "registry {name} delegates its auth to Berth's token service, but this registry \
                 service has no token signing key (BERTH_TOKEN_SIGNING_KEY_FILE)"
            ))
        })?;
        Ok(Auth::Minted(Arc::new(Minter::new(signer, name))))
    }

    /// [`Registries::auth`] of a stored registry.
    pub(crate) fn auth_of(&self, m: &Model) -> Result<Auth> {
        let credential = self.credential_of(m)?;
        self.auth(&m.name, &m.token_service, credential)
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The stored credential of a registry (none for one behind Berth's token service).
    pub(crate) fn credential_of(&self, m: &Model) -> Result<Option<Credential>> {
        if m.token_service == "berth" {
            return Ok(None);
        }
        let Some(sealed) = &m.credential_sealed else {
            return Ok(None);
        };
        let stored: StoredCredential = serde_json::from_str(&self.secrets.open(sealed)?)
            .map_err(|_| RegistryError::Seal(berth_auth::sealed::SealError::Corrupt))?;
        Ok(Some(Credential {
            username: stored.username,
            password: stored.password,
        }))
    }

    fn seal(&self, username: &str, password: &str) -> String {
        let json = serde_json::to_string(&StoredCredential {
            username: username.to_string(),
            password: password.to_string(),
        })
        .expect("credential serializes");
        self.secrets.seal(&json)
    }

    fn adapter(&self, m: &Model) -> Result<Box<dyn Adapter>> {
        let auth = self.auth_of(m)?;
        adapter::for_kind(&m.kind, &m.url, auth, m.insecure).map_err(|error| {
            RegistryError::Upstream {
                registry: m.name.clone(),
                error,
            }
        })
    }

    pub(crate) fn secrets(&self) -> &SecretBox {
        &self.secrets
    }

    /// Refuses `host` when another registry than `except` serves it. The message names the other
    /// registry only to a caller in the same scope (a workspace learns no platform names).
    async fn ensure_host_free(&self, host: &str, scope: &str, except: Option<&str>) -> Result<()> {
        let taken = Entity::find()
            .filter(Column::Host.eq(host))
            .one(&self.db)
            .await?;
        match taken {
            Some(other) if Some(other.id.as_str()) != except => {
                let whom = if other.workspace == scope {
                    format!("registry {:?}", other.name)
                } else {
                    "another registry".to_string()
                };
                Err(RegistryError::HostTaken(format!(
                    "host {host} is already integrated as {whom}: a host maps to exactly one registry"
                )))
            }
            _ => Ok(()),
        }
    }

    /// Sets the secret `name`'s notifications authenticate with (`secret`, or a generated one
    /// when empty) and answers it; the old one stops working.
    pub async fn rotate_hook_secret(&self, name: &str, secret: &str) -> Result<String> {
        let m = self.find(name).await?;
        let secret = if secret.is_empty() {
            berth_auth::tokens::generate()
        } else {
            validate::hook_secret(secret)?;
            secret.to_string()
        };
        let mut a = m.into_active_model();
        a.hook_secret_hash = Set(berth_auth::tokens::hash(&secret));
        a.updated_at = Set(Utc::now());
        a.update(&self.db).await?;
        tracing::info!(registry = %name, "hook secret rotated");
        Ok(secret)
    }

    /// Whether `secret` is `name`'s hook secret.
    pub async fn verify_hook_secret(&self, name: &str, secret: &str) -> Result<bool> {
        let m = self.find(name).await?;
        Ok(!m.hook_secret_hash.is_empty()
            && berth_auth::internal::constant_time_eq(
                m.hook_secret_hash.as_bytes(),
                berth_auth::tokens::hash(secret).as_bytes(),
            ))
    }

    /// Fills in the host of registries stored before hosts were recorded. A host that two of
    /// them share stays unknown on the later one (and is logged), so nothing fails to start.
    pub async fn backfill_hosts(&self) -> Result<()> {
        let unknown = Entity::find()
            .filter(Column::Host.eq(""))
            .order_by_asc(Column::CreatedAt)
            .all(&self.db)
            .await?;
        for m in unknown {
            let Some(host) = berth_oci::reference::host_of_url(&m.url) else {
                continue;
            };
            if self
                .ensure_host_free(&host, &m.workspace, Some(&m.id))
                .await
                .is_err()
            {
                tracing::warn!(registry = %m.name, %host, "registry shares its host with another; remove one");
                continue;
            }
            let mut a = m.into_active_model();
            a.host = Set(host);
            a.update(&self.db).await?;
        }
        Ok(())
    }

    /// The stored model of a registry.
    pub(crate) async fn model(&self, name: &str) -> Result<Model> {
        self.find(name).await
    }

    async fn find(&self, name: &str) -> Result<Model> {
        Entity::find()
            .filter(Column::Name.eq(name))
            .one(&self.db)
            .await?
            .ok_or_else(|| RegistryError::NotFound(name.to_string()))
    }

    /// Answers the registry named `name`.
    pub async fn get(&self, name: &str) -> Result<Registry> {
        validate::name("name", name).map_err(|_| RegistryError::NotFound(name.to_string()))?;
        Ok(to_proto(&self.find(name).await?))
    }

    /// Integrates a registry, verifying it first unless `verify` is false.
    pub async fn create(&self, req: CreateRegistryRequest) -> Result<Registry> {
        validate::name("name", &req.name)?;
        validate::kind(&req.kind)?;
        let url = validate::url(&req.url)?;
        validate::description(&req.description)?;
        validate::token_service(&req.token_service, &req.kind)?;
        if !req.workspace.is_empty() {
            validate::name("workspace", &req.workspace)?;
        }
        let credential = match &req.credential {
            Some(c) if !(c.username.is_empty() && c.password.is_empty()) => {
                validate::credential(&c.username, &c.password)?;
                Some(Credential {
                    username: c.username.clone(),
                    password: c.password.clone(),
                })
            }
            _ => None,
        };
        if Entity::find()
            .filter(Column::Name.eq(&req.name))
            .one(&self.db)
            .await?
            .is_some()
        {
            return Err(RegistryError::Duplicate(req.name));
        }
        if let Some(r) = entity::retired::Entity::find_by_id(req.name.clone())
            .one(&self.db)
            .await?
        {
            // The platform may take any name back; a workspace only its own.
            if !req.workspace.is_empty() && r.workspace != req.workspace {
                return Err(RegistryError::Retired(req.name));
            }
        }
        let check = if req.verify.unwrap_or(true) {
            let auth = self.auth(&req.name, &req.token_service, credential.clone())?;
            let adapter = adapter::for_kind(&req.kind, &url, auth, req.insecure)
                .map_err(RegistryError::verify)?;
            let started = Instant::now();
            adapter.ping().await.map_err(RegistryError::verify)?;
            Some(Check {
                status: "healthy",
                latency_ms: started.elapsed().as_millis() as u32,
                error: String::new(),
                at: Utc::now(),
            })
        } else {
            None
        };
        // After verifying, so a wrong credential is reported as such first.
        let host = berth_oci::reference::host_of_url(&url)
            .ok_or_else(|| RegistryError::invalid("url", "must name a host"))?;
        self.ensure_host_free(&host, &req.workspace, None).await?;
        let now = Utc::now();
        let model = entity::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            name: Set(req.name.clone()),
            kind: Set(req.kind.clone()),
            url: Set(url),
            insecure: Set(req.insecure),
            description: Set(req.description.clone()),
            workspace: Set(req.workspace.clone()),
            managed: Set(false),
            credential_sealed: Set(credential
                .as_ref()
                .map(|c| self.seal(&c.username, &c.password))),
            token_service: Set(req.token_service.clone()),
            host: Set(host.clone()),
            hook_secret_hash: Set(String::new()),
            health_status: Set(check.as_ref().map_or("unknown", |c| c.status).to_string()),
            health_checked_at: Set(check.as_ref().map(|c| c.at)),
            health_latency_ms: Set(check.as_ref().map_or(0, |c| c.latency_ms as i32)),
            health_error: Set(String::new()),
            health_lease_until: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let txn = self.db.begin().await?;
        let saved = match model.insert(&txn).await {
            Ok(m) => m,
            // Lost a race with a concurrent create of the same name or host.
            Err(e) if e.to_string().to_lowercase().contains("unique") => {
                drop(txn);
                self.ensure_host_free(&host, &req.workspace, None).await?;
                return Err(RegistryError::Duplicate(req.name));
            }
            Err(e) => return Err(e.into()),
        };
        self.enqueue(
            &txn,
            "registry.changed",
            &RegistryChanged {
                registry: saved.name.clone(),
                change: "created".into(),
            },
        )
        .await?;
        txn.commit().await?;
        self.outbox.notify();
        tracing::info!(registry = %saved.name, kind = %saved.kind, "registry integrated");
        Ok(to_proto(&saved))
    }

    /// Changes a registry; a new URL or credential is verified unless `verify` is false.
    pub async fn update(&self, req: UpdateRegistryRequest) -> Result<Registry> {
        validate::name("name", &req.name).map_err(|_| RegistryError::NotFound(req.name.clone()))?;
        let current = self.find(&req.name).await?;
        let url = match &req.url {
            Some(u) => Some(validate::url(u)?),
            None => None,
        };
        let new_host = match &url {
            Some(u) => {
                let host = berth_oci::reference::host_of_url(u)
                    .ok_or_else(|| RegistryError::invalid("url", "must name a host"))?;
                self.ensure_host_free(&host, &current.workspace, Some(&current.id))
                    .await?;
                Some(host)
            }
            None => None,
        };
        if let Some(d) = &req.description {
            validate::description(d)?;
        }
        let new_credential = match &req.credential {
            Some(c) => {
                validate::credential(&c.username, &c.password)?;
                Some(Credential {
                    username: c.username.clone(),
                    password: c.password.clone(),
                })
            }
            None => None,
        };
        if req.clear_credential && new_credential.is_some() {
            return Err(RegistryError::invalid(
                "clear_credential",
                "cannot be set together with credential",
            ));
        }
        let connection_changed = url.is_some()
            || new_credential.is_some()
            || req.clear_credential
            || req.insecure.is_some();
        let mut check = None;
        if connection_changed && req.verify.unwrap_or(true) {
            let credential = if req.clear_credential {
                None
            } else if new_credential.is_some() {
                new_credential.clone()
            } else {
                self.credential_of(&current)?
            };
            let auth = self.auth(&current.name, &current.token_service, credential)?;
            let target_url = url.clone().unwrap_or_else(|| current.url.clone());
            let insecure = req.insecure.unwrap_or(current.insecure);
            let adapter = adapter::for_kind(&current.kind, &target_url, auth, insecure)
                .map_err(RegistryError::verify)?;
            let started = Instant::now();
            adapter.ping().await.map_err(RegistryError::verify)?;
            check = Some(Check {
                status: "healthy",
                latency_ms: started.elapsed().as_millis() as u32,
                error: String::new(),
                at: Utc::now(),
            });
        }
        let mut model = current.into_active_model();
        if let Some(u) = url {
            model.url = Set(u);
        }
        if let Some(h) = new_host {
            model.host = Set(h);
        }
        if let Some(i) = req.insecure {
            model.insecure = Set(i);
        }
        if let Some(d) = req.description {
            model.description = Set(d);
        }
        if let Some(c) = &new_credential {
            model.credential_sealed = Set(Some(self.seal(&c.username, &c.password)));
        }
        if req.clear_credential {
            model.credential_sealed = Set(None);
        }
        if let Some(c) = &check {
            model.health_status = Set(c.status.to_string());
            model.health_checked_at = Set(Some(c.at));
            model.health_latency_ms = Set(c.latency_ms as i32);
            model.health_error = Set(String::new());
        } else if connection_changed {
            model.health_status = Set("unknown".into());
        }
        model.updated_at = Set(Utc::now());
        let txn = self.db.begin().await?;
        let saved = match model.update(&txn).await {
            Ok(m) => m,
            // Lost a race with another registry moving onto the same host.
            Err(e) if e.to_string().to_lowercase().contains("unique") => {
                return Err(RegistryError::HostTaken(
                    "the host was just integrated as another registry: a host maps to exactly \
                     one registry"
                        .into(),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        self.enqueue(
            &txn,
            "registry.changed",
            &RegistryChanged {
                registry: saved.name.clone(),
                change: "updated".into(),
            },
        )
        .await?;
        txn.commit().await?;
        self.outbox.notify();
        Ok(to_proto(&saved))
    }

    /// Removes a registry from Berth (the registry itself is untouched).
    pub async fn delete(&self, name: &str) -> Result<()> {
        validate::name("name", name).map_err(|_| RegistryError::NotFound(name.to_string()))?;
        let current = self.find(name).await?;
        let txn = self.db.begin().await?;
        if current.token_service == "berth" {
            // Registries configured with `service: NAME` may go on trusting Berth's tokens for
            // the name: keep it from other owners.
            entity::retired::Entity::delete_by_id(current.name.clone())
                .exec(&txn)
                .await?;
            entity::retired::ActiveModel {
                name: Set(current.name.clone()),
                workspace: Set(current.workspace.clone()),
                retired_at: Set(Utc::now()),
            }
            .insert(&txn)
            .await?;
        }
        entity::robot::Entity::delete_many()
            .filter(entity::robot::Column::Registry.eq(&current.name))
            .exec(&txn)
            .await?;
        Entity::delete_by_id(current.id).exec(&txn).await?;
        self.enqueue(
            &txn,
            "registry.changed",
            &RegistryChanged {
                registry: name.to_string(),
                change: "deleted".into(),
            },
        )
        .await?;
        txn.commit().await?;
        self.outbox.notify();
        tracing::info!(registry = %name, "registry removed");
        self.publish_health().await;
        Ok(())
    }

    /// Sets `berth_registry_up` from the stored health of every registry, so the gauge has a
    /// series for each registry that exists and none for one deleted, whichever replica checked
    /// it.
    pub async fn publish_health(&self) {
        let gauge = berth_telemetry::SnapshotGauge::named(
            "berth_registry_up",
            "1 while a registry's last health check passed, 0 after it failed.",
        );
        match Entity::find().all(&self.db).await {
            Ok(all) => gauge.replace(
                all.into_iter()
                    .filter(|m| m.health_checked_at.is_some())
                    .map(|m| {
                        let up = if m.health_status == "healthy" {
                            1.0
                        } else {
                            0.0
                        };
                        (vec![("registry", m.name)], up)
                    })
                    .collect(),
            ),
            Err(e) => tracing::warn!(error = %e, "could not read registry health for metrics"),
        }
    }

    /// Lists registries in name order; `workspace` narrows to one workspace's own.
    pub async fn list(
        &self,
        page_size: usize,
        page_token: &str,
        workspace: &str,
    ) -> Result<Page<Registry>> {
        let mut q = Entity::find()
            .order_by_asc(Column::Name)
            .limit(page_size as u64 + 1);
        if !page_token.is_empty() {
            q = q.filter(Column::Name.gt(page_token));
        }
        if !workspace.is_empty() {
            q = q.filter(Column::Workspace.eq(workspace));
        }
        let mut rows = q.all(&self.db).await?;
        let more = rows.len() > page_size;
        rows.truncate(page_size);
        let next = if more {
            rows.last().map(|m| m.name.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok((rows.iter().map(to_proto).collect(), next))
    }

    async fn enqueue<C: sea_orm::ConnectionTrait>(
        &self,
        conn: &C,
        kind: &str,
        payload: &impl Serialize,
    ) -> Result<()> {
        self.outbox
            .enqueue(conn, &Message::new(kind, payload))
            .await
            .map_err(|e| RegistryError::Internal(format!("outbox: {e}")))
    }

    /// Checks one registry now, without recording the result.
    pub async fn check(&self, m: &Model) -> Check {
        let started = Instant::now();
        let result = match self.adapter(m) {
            Ok(a) => tokio::time::timeout(Duration::from_secs(15), a.ping())
                .await
                .unwrap_or_else(|_| Err(OciError::Timeout(m.url.clone()))),
            Err(e) => Err(OciError::Protocol(e.to_string())),
        };
        let latency_ms = started.elapsed().as_millis() as u32;
        match result {
            Ok(()) => Check {
                status: "healthy",
                latency_ms,
                error: String::new(),
                at: Utc::now(),
            },
            Err(e) => Check {
                status: "unhealthy",
                latency_ms,
                error: e.to_string(),
                at: Utc::now(),
            },
        }
    }

    /// Records a check; a changed status publishes `registry.health_changed` with the update.
    pub async fn record(&self, m: &Model, check: &Check) -> Result<()> {
        let previous = m.health_status.clone();
        let mut model = m.clone().into_active_model();
        model.health_status = Set(check.status.to_string());
        model.health_checked_at = Set(Some(check.at));
        model.health_latency_ms = Set(check.latency_ms as i32);
        model.health_error = Set(check.error.clone());
        let txn = self.db.begin().await?;
        // The registry may have been deleted while it was being checked.
        if Entity::find_by_id(m.id.clone()).one(&txn).await?.is_none() {
            return Ok(());
        }
        model.update(&txn).await?;
        if previous != check.status {
            let event = RegistryHealthChanged {
                registry: m.name.clone(),
                previous: previous.clone(),
                current: check.status.to_string(),
                error: check.error.clone(),
                checked_at: check.at.to_rfc3339(),
            };
            self.enqueue(&txn, "registry.health_changed", &event)
                .await?;
            tracing::info!(registry = %m.name, from = %previous, to = %check.status, error = %check.error, "registry health changed");
        }
        txn.commit().await?;
        if previous != check.status {
            self.outbox.notify();
        }
        Ok(())
    }

    /// Checks a registry now and records the result.
    pub async fn ping(&self, name: &str) -> Result<RegistryHealth> {
        validate::name("name", name).map_err(|_| RegistryError::NotFound(name.to_string()))?;
        let m = self.find(name).await?;
        let check = self.check(&m).await;
        self.record(&m, &check).await?;
        self.publish_health().await;
        Ok(check_to_proto(&check))
    }

    /// Checks every registry, a few at a time.
    pub async fn check_all(&self) -> Result<()> {
        let all = Entity::find().all(&self.db).await?;
        self.check_each(all).await;
        Ok(())
    }

    /// Checks each registry whose check is due, across replicas: a replica checks a registry
    /// only if it takes the registry's check lease (for `every`, less a tenth so the next round
    /// finds it free) just before checking it, so replicas together check each registry once
    /// per round. Answers how many this replica checked.
    pub async fn check_due(&self, every: Duration) -> Result<usize> {
        let lease =
            chrono::Duration::from_std(every.mul_f64(0.9)).unwrap_or(chrono::Duration::minutes(1));
        let all = Entity::find().all(&self.db).await?;
        let checked = std::sync::atomic::AtomicUsize::new(0);
        futures::stream::iter(all)
            .for_each_concurrent(8, |m| {
                let checked = &checked;
                async move {
                    let now = Utc::now();
                    let taken = Entity::update_many()
                        .col_expr(Column::HealthLeaseUntil, Expr::value(now + lease))
                        .filter(Column::Id.eq(m.id.clone()))
                        .filter(
                            Condition::any()
                                .add(Column::HealthLeaseUntil.is_null())
                                .add(Column::HealthLeaseUntil.lt(now)),
                        )
                        .exec(&self.db)
                        .await;
                    if !matches!(taken, Ok(r) if r.rows_affected == 1) {
                        return;
                    }
                    checked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    self.check_and_record(&m).await;
                }
            })
            .await;
        self.publish_health().await;
        Ok(checked.into_inner())
    }

    async fn check_and_record(&self, m: &Model) {
        let check = self.check(m).await;
        if let Err(e) = self.record(m, &check).await {
            tracing::warn!(registry = %m.name, error = %e, "could not record health");
        }
    }

    async fn check_each(&self, registries: Vec<Model>) {
        futures::stream::iter(registries)
            .for_each_concurrent(8, |m| async move { self.check_and_record(&m).await })
            .await;
    }

    pub async fn overview(&self, name: &str, spaces: &adapter::Spaces) -> Result<Overview> {
        validate::name("name", name).map_err(|_| RegistryError::NotFound(name.to_string()))?;
        let m = self.find(name).await?;
        self.adapter(&m)?
            .overview(spaces)
            .await
            .map_err(|error| RegistryError::Upstream {
                registry: m.name.clone(),
                error,
            })
    }

    /// Totals over every registry; unreachable registries are left out (and logged).
    pub async fn platform_overview(&self) -> Result<(Overview, u64)> {
        let all = Entity::find().all(&self.db).await?;
        let count = all.len() as u64;
        let parts: Vec<Option<Overview>> = futures::stream::iter(all)
            .map(|m| async move {
                match self.adapter(&m) {
                    Ok(a) => match a.overview(&adapter::Spaces::All).await {
                        Ok(o) => Some(o),
                        Err(e) => {
                            tracing::warn!(registry = %m.name, error = %e, "registry left out of the platform overview");
                            None
                        }
                    },
                    Err(_) => None,
                }
            })
            .buffer_unordered(4)
            .collect()
            .await;
        let mut total = Overview::default();
        for o in parts.into_iter().flatten() {
            total.spaces += o.spaces;
            total.repositories += o.repositories;
            total.artifacts += o.artifacts;
            total.storage_bytes += o.storage_bytes;
        }
        Ok((total, count))
    }

    pub async fn repositories(
        &self,
        registry: &str,
        space: &str,
        page_size: usize,
        page_token: &str,
    ) -> Result<Page<Repository>> {
        validate::name("registry", registry)
            .map_err(|_| RegistryError::NotFound(registry.to_string()))?;
        let m = self.find(registry).await?;
        self.adapter(&m)?
            .repositories(space, page_size, page_token)
            .await
            .map_err(|error| RegistryError::Upstream {
                registry: m.name.clone(),
                error,
            })
    }

    pub async fn artifacts(
        &self,
        registry: &str,
        repository: &str,
        page_size: usize,
        page_token: &str,
    ) -> Result<Page<Artifact>> {
        validate::name("registry", registry)
            .map_err(|_| RegistryError::NotFound(registry.to_string()))?;
        validate::repository(repository)?;
        let m = self.find(registry).await?;
        self.adapter(&m)?
            .artifacts(repository, page_size, page_token)
            .await
            .map_err(|error| RegistryError::Upstream {
                registry: m.name.clone(),
                error,
            })
    }

    /// Every stored model (for the health loop and tests).
    pub async fn all(&self) -> Result<Vec<Model>> {
        Ok(Entity::find().all(&self.db).await?)
    }
}
