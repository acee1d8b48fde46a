//! What the scan service forgets when a registry or a space goes: a name can be integrated
//! again (by another workspace, at another URL), and nothing of the old one may reach the new
//! one. On `registry.changed` the registry's cached client is dropped (a URL or credential
//! change applies at once); on its deletion the rows kept under its name go: the digests seen
//! in its repositories (which reports they may show), its allowlist entries, scans and sweeps,
//! and its place in external scanners' assignments. A space's deletion takes its allowlist
//! entries, sweeps and the digests seen in its repositories. Reports stay: they belong to
//! digests, and are shown only where a digest is held.

use berth_bus::{Handler, HandlerError, Message, Subscription};
use berth_proto::v1::{RegistryChanged, SpaceChanged};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use crate::entity::{allow, scan, scanner, subject, sweep, sweep_item};
use crate::{db_error, Result, Scanning};

pub fn subscription() -> Subscription {
    Subscription::new("scan.forget", &["registry.changed", "space.changed"])
}

impl Scanning {
    /// Drops every row kept under `registry` (and, with `space`, only that space's).
    pub async fn forget(&self, registry: &str, space: Option<&str>) -> Result<()> {
        let txn = self.db.begin().await.map_err(db_error)?;
        let in_space = |column: subject::Column| {
            let mut c = sea_orm::Condition::all();
            if let Some(s) = space {
                c = c.add(column.starts_with(format!("{s}/")));
            }
            c
        };
        subject::Entity::delete_many()
            .filter(subject::Column::Registry.eq(registry))
            .filter(in_space(subject::Column::Repository))
            .exec(&txn)
            .await
            .map_err(db_error)?;
        let mut entries = allow::Entity::delete_many().filter(allow::Column::Registry.eq(registry));
        if let Some(s) = space {
            entries = entries.filter(allow::Column::Space.eq(s));
        }
        entries.exec(&txn).await.map_err(db_error)?;
        let mut sweeps = sweep::Entity::find().filter(sweep::Column::Registry.eq(registry));
        if let Some(s) = space {
            sweeps = sweeps.filter(sweep::Column::Space.eq(s));
        }
        let ids: Vec<String> = sweeps
            .all(&txn)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(|m| m.id)
            .collect();
        sweep_item::Entity::delete_many()
            .filter(sweep_item::Column::Sweep.is_in(ids.clone()))
            .exec(&txn)
            .await
            .map_err(db_error)?;
        sweep::Entity::delete_many()
            .filter(sweep::Column::Id.is_in(ids))
            .exec(&txn)
            .await
            .map_err(db_error)?;
        let mut scans = scan::Entity::delete_many().filter(scan::Column::Registry.eq(registry));
        if let Some(s) = space {
            scans = scans.filter(scan::Column::Repository.starts_with(format!("{s}/")));
        }
        scans.exec(&txn).await.map_err(db_error)?;
        if space.is_none() {
            for s in scanner::Entity::find().all(&txn).await.map_err(db_error)? {
                let mut assigned: Vec<String> =
                    serde_json::from_str(&s.registries).unwrap_or_default();
                if assigned.iter().any(|r| r == registry) {
                    assigned.retain(|r| r != registry);
                    let mut m: scanner::ActiveModel = s.into();
                    m.registries =
                        sea_orm::Set(serde_json::to_string(&assigned).unwrap_or_default());
                    sea_orm::ActiveModelTrait::update(m, &txn)
                        .await
                        .map_err(db_error)?;
                }
            }
        }
        txn.commit().await.map_err(db_error)?;
        tracing::info!(
            registry,
            space,
            "scan rows of a removed registry or space forgotten"
        );
        Ok(())
    }
}

pub struct ForgetHandler(pub Scanning);

#[async_trait::async_trait]
impl Handler for ForgetHandler {
    async fn handle(&self, m: &Message) -> std::result::Result<(), HandlerError> {
        let retry = |e: berth_error::ApiError| HandlerError::Retry(e.message);
        match m.kind.as_str() {
            "registry.changed" => {
                let e: RegistryChanged = m
                    .payload()
                    .map_err(|e| HandlerError::Reject(format!("bad registry.changed: {e}")))?;
                self.0.clients.forget(&e.registry);
                if e.change == "deleted" {
                    self.0.forget(&e.registry, None).await.map_err(retry)?;
                }
            }
            "space.changed" => {
                let e: SpaceChanged = m
                    .payload()
                    .map_err(|e| HandlerError::Reject(format!("bad space.changed: {e}")))?;
                if e.change == "deleted" {
                    self.0
                        .forget(&e.registry, Some(&e.space))
                        .await
                        .map_err(retry)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
