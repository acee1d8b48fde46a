//! The allowlist: vulnerabilities a gate lets through, platform-wide or for one space, until an
//! optional expiry. An entry names a vulnerability by any of its ids: a record's own id or one
//! of its aliases (`CVE-2024-1234` covers `DEBIAN-12-CVE-2024-1234-openssl`).

use berth_error::ApiError;
use berth_proto::v1::{AllowlistChanged, AllowlistEntry};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};

use crate::entity::allow;
use crate::scans::timestamp;
use crate::{db_error, Result, Scanning};

pub const CHANGED: &str = "allowlist.changed";

fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "vulnerability_id",
            format!(
                "{id:?} is not a vulnerability id (such as CVE-2024-3094 or GHSA-xxxx-xxxx-xxxx)"
            ),
        ))
    }
}

/// Registry and space: both empty (platform-wide) or both set.
fn check_scope(registry: &str, space: &str) -> Result<()> {
    match (registry.is_empty(), space.is_empty()) {
        (true, true) => Ok(()),
        (false, false) => {
            berth_error::validate::dns_label(registry)
                .map_err(|m| ApiError::invalid("registry", m))?;
            berth_error::validate::path_component(space).map_err(|m| ApiError::invalid("space", m))
        }
        (false, true) => Err(ApiError::invalid(
            "space",
            "is required with registry (an entry is platform-wide, or for one space)",
        )),
        (true, false) => Err(ApiError::invalid("registry", "is required with space")),
    }
}

pub fn to_proto(m: &allow::Model) -> AllowlistEntry {
    AllowlistEntry {
        vulnerability_id: m.vulnerability_id.clone(),
        registry: m.registry.clone(),
        space: m.space.clone(),
        expires_at: m.expires_at.map(timestamp),
        reason: m.reason.clone(),
        created_by: m.created_by.clone(),
        created_at: Some(timestamp(m.created_at)),
    }
}

fn time_of(t: &prost_types::Timestamp) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32)
        .ok_or_else(|| ApiError::invalid("expires_at", "is not a time"))
}

impl Scanning {
    pub async fn put_allowlist_entry(&self, e: AllowlistEntry) -> Result<AllowlistEntry> {
        check_id(&e.vulnerability_id)?;
        check_scope(&e.registry, &e.space)?;
        let reason = e.reason.trim();
        if reason.is_empty() || reason.chars().count() > 1024 {
            return Err(ApiError::invalid(
                "reason",
                "is required (why the vulnerability may pass), at most 1024 characters",
            ));
        }
        let expires_at = e.expires_at.as_ref().map(time_of).transpose()?;
        if expires_at.is_some_and(|t| t <= Utc::now()) {
            return Err(ApiError::invalid(
                "expires_at",
                "is in the past (an entry that lets nothing through); leave it out for an \
                 entry that never expires",
            ));
        }
        let row = allow::Model {
            vulnerability_id: e.vulnerability_id.clone(),
            registry: e.registry.clone(),
            space: e.space.clone(),
            expires_at,
            reason: reason.to_string(),
            created_by: e.created_by.clone(),
            created_at: Utc::now(),
        };
        let txn = self.db.begin().await.map_err(db_error)?;
        allow::Entity::insert(allow::ActiveModel {
            vulnerability_id: Set(row.vulnerability_id.clone()),
            registry: Set(row.registry.clone()),
            space: Set(row.space.clone()),
            expires_at: Set(row.expires_at),
            reason: Set(row.reason.clone()),
            created_by: Set(row.created_by.clone()),
            created_at: Set(row.created_at),
        })
        .on_conflict(
            OnConflict::columns([
                allow::Column::VulnerabilityId,
                allow::Column::Registry,
                allow::Column::Space,
            ])
            .update_columns([
                allow::Column::ExpiresAt,
                allow::Column::Reason,
                allow::Column::CreatedBy,
                allow::Column::CreatedAt,
            ])
            .to_owned(),
        )
        .exec(&txn)
        .await
        .map_err(db_error)?;
        self.changed(&txn, &row).await?;
        txn.commit().await.map_err(db_error)?;
        self.outbox.notify();
        Ok(to_proto(&row))
    }

    async fn changed(&self, txn: &sea_orm::DatabaseTransaction, m: &allow::Model) -> Result<()> {
        self.outbox
            .enqueue(
                txn,
                &berth_bus::Message::new(
                    CHANGED,
                    &AllowlistChanged {
                        vulnerability_id: m.vulnerability_id.clone(),
                        registry: m.registry.clone(),
                        space: m.space.clone(),
                    },
                ),
            )
            .await
            .map_err(|e| ApiError::unavailable(format!("scan outbox: {e}")))
    }

    async fn find_entry(&self, id: &str, registry: &str, space: &str) -> Result<allow::Model> {
        check_id(id)?;
        check_scope(registry, space)?;
        allow::Entity::find_by_id((id.to_string(), registry.to_string(), space.to_string()))
            .one(&self.db)
            .await
            .map_err(db_error)?
            .ok_or_else(|| {
                let scope = if registry.is_empty() {
                    "platform-wide".to_string()
                } else {
                    format!("for {registry}/{space}")
                };
                ApiError::not_found(format!("no allowlist entry {scope} for {id}"))
            })
    }

    pub async fn get_allowlist_entry(
        &self,
        id: &str,
        registry: &str,
        space: &str,
    ) -> Result<AllowlistEntry> {
        Ok(to_proto(&self.find_entry(id, registry, space).await?))
    }

    pub async fn delete_allowlist_entry(
        &self,
        id: &str,
        registry: &str,
        space: &str,
    ) -> Result<()> {
        let m = self.find_entry(id, registry, space).await?;
        let txn = self.db.begin().await.map_err(db_error)?;
        allow::Entity::delete_by_id((
            m.vulnerability_id.clone(),
            m.registry.clone(),
            m.space.clone(),
        ))
        .exec(&txn)
        .await
        .map_err(db_error)?;
        self.changed(&txn, &m).await?;
        txn.commit().await.map_err(db_error)?;
        self.outbox.notify();
        Ok(())
    }

    /// Entries of one space and the platform-wide ones (`registry` empty: every entry).
    pub async fn list_allowlist(&self, registry: &str, space: &str) -> Result<Vec<allow::Model>> {
        let mut q = allow::Entity::find();
        if !registry.is_empty() {
            q = q.filter(
                Condition::any()
                    .add(
                        Condition::all()
                            .add(allow::Column::Registry.eq(registry))
                            .add(allow::Column::Space.eq(space)),
                    )
                    .add(allow::Column::Registry.eq("")),
            );
        }
        q.order_by_asc(allow::Column::VulnerabilityId)
            .all(&self.db)
            .await
            .map_err(db_error)
    }
}
