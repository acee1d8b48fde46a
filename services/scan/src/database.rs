//! The vulnerability database in the service's tables: one OSV record a row (the newest of each
//! id kept, [`crate::vulndb::replaces`]), a version bumped by every import that changes
//! something, and the in-memory [`Index`] scans match against, rebuilt when another replica
//! (or this one) moved the version on.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use berth_bus::Message;
use berth_error::ApiError;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set, TransactionTrait};

use crate::entity::{database, record};
use crate::matcher::Index;
use crate::osv::Record;
use crate::vulndb::{self, ImportError};
use crate::{db_error, Result, Scanning};

const ROW: &str = "osv";
/// Rows written per statement (SQLite binds at most 32766 values).
const BATCH: usize = 500;

/// What kind of body an import is, by its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Zip,
    Json,
    Deb,
}

impl Format {
    /// The format a `Content-Type` names (parameters such as `charset` ignored).
    pub fn of(content_type: &str) -> Result<Self> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/zip" | "application/x-zip-compressed" => Ok(Self::Zip),
            "application/json" => Ok(Self::Json),
            "application/vnd.debian.binary-package" | "application/x-debian-package" => {
                Ok(Self::Deb)
            }
            _ => Err(ApiError::invalid(
                "Content-Type",
                format!(
                    "{content_type:?} is not an import Berth reads: application/zip (an OSV \
                     export), application/json (OSV records) or \
                     application/vnd.debian.binary-package (a .deb)"
                ),
            )),
        }
    }
}

/// The index of one database version, loaded once per version in each process.
#[derive(Default)]
pub struct Loaded {
    current: tokio::sync::Mutex<Option<(u64, Arc<Index>)>>,
}

/// The database's version and when it last changed.
pub async fn version(db: &sea_orm::DatabaseConnection) -> Result<(u64, Option<DateTime<Utc>>)> {
    Ok(database::Entity::find_by_id(ROW)
        .one(db)
        .await
        .map_err(db_error)?
        .map_or((0, None), |m| (m.version.max(0) as u64, m.updated_at)))
}

/// What `GET /api/v1/vulndb` reports.
pub struct Status {
    pub records: u64,
    pub ecosystems: BTreeMap<String, u64>,
    pub updated_at: Option<DateTime<Utc>>,
    pub version: u64,
}

impl Scanning {
    /// The index of the current database version (and that version).
    pub async fn index(&self) -> Result<(u64, Arc<Index>)> {
        let (v, _) = version(&self.db).await?;
        let mut current = self.database.current.lock().await;
        if let Some((loaded, index)) = current.as_ref() {
            if *loaded == v {
                return Ok((v, index.clone()));
            }
        }
        let started = std::time::Instant::now();
        let rows: Vec<String> = record::Entity::find()
            .select_only()
            .column(record::Column::Record)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(db_error)?;
        let records: Vec<Record> = rows
            .iter()
            .filter_map(|r| serde_json::from_str(r).ok())
            .collect();
        let index = Arc::new(Index::new(records));
        tracing::info!(version = v, records = index.len(), elapsed = ?started.elapsed(), "vulnerability index loaded");
        *current = Some((v, index.clone()));
        Ok((v, index))
    }

    /// Imports `body` (of `format`; `release` names the Debian release of a `.deb`'s records
    /// when its changelog does not say). Answers how many records were added or replaced, and
    /// the version after. A change queues the re-match of every stored report.
    pub async fn import(
        &self,
        format: Format,
        body: &[u8],
        release: Option<&str>,
    ) -> Result<(u64, u64)> {
        let parsed = match format {
            Format::Zip => vulndb::parse_zip(body),
            Format::Json => vulndb::parse_json(body),
            Format::Deb => vulndb::parse_deb(body, release),
        }
        .map_err(|e: ImportError| {
            ApiError::invalid(
                "body",
                e.to_string().trim_start_matches("body: ").to_string(),
            )
        })?;
        // The newest of each id within the import itself.
        let mut incoming: HashMap<String, Record> = HashMap::with_capacity(parsed.len());
        for r in parsed {
            vulndb::check_record(&r).map_err(|m| ApiError::invalid("body", m))?;
            match incoming.get(&r.id) {
                Some(old) if !vulndb::replaces(old, &r) => {}
                _ => {
                    incoming.insert(r.id.clone(), r);
                }
            }
        }
        let ids: Vec<String> = incoming.keys().cloned().collect();
        let mut stored: HashMap<String, Record> = HashMap::new();
        for chunk in ids.chunks(BATCH) {
            let rows: Vec<(String, String)> = record::Entity::find()
                .select_only()
                .column(record::Column::Id)
                .column(record::Column::Record)
                .filter(record::Column::Id.is_in(chunk.iter().cloned()))
                .into_tuple()
                .all(&self.db)
                .await
                .map_err(db_error)?;
            for (id, json) in rows {
                if let Ok(r) = serde_json::from_str(&json) {
                    stored.insert(id, r);
                }
            }
        }
        let changed: Vec<record::ActiveModel> = incoming
            .into_values()
            .filter(|r| stored.get(&r.id).is_none_or(|old| vulndb::replaces(old, r)))
            .map(|r| record::ActiveModel {
                id: Set(r.id.clone()),
                modified: Set(r.modified.clone()),
                ecosystems: Set(vulndb::ecosystems_of(&r).join(",")),
                record: Set(serde_json::to_string(&r).expect("a record serializes")),
            })
            .collect();
        let imported = changed.len() as u64;
        if imported == 0 {
            let (v, _) = version(&self.db).await?;
            return Ok((0, v));
        }
        let txn = self.db.begin().await.map_err(db_error)?;
        let mut rows = changed.into_iter().peekable();
        while rows.peek().is_some() {
            let batch: Vec<_> = rows.by_ref().take(BATCH).collect();
            record::Entity::insert_many(batch)
                .on_conflict(
                    OnConflict::column(record::Column::Id)
                        .update_columns([
                            record::Column::Modified,
                            record::Column::Ecosystems,
                            record::Column::Record,
                        ])
                        .to_owned(),
                )
                .exec(&txn)
                .await
                .map_err(db_error)?;
        }
        let now = Utc::now();
        let current = database::Entity::find_by_id(ROW)
            .lock_exclusive()
            .one(&txn)
            .await
            .map_err(db_error)?;
        let next = current.as_ref().map_or(1, |m| m.version + 1);
        let row = database::ActiveModel {
            id: Set(ROW.into()),
            version: Set(next),
            updated_at: Set(Some(now)),
        };
        if current.is_some() {
            database::Entity::update(row)
                .exec(&txn)
                .await
                .map_err(db_error)?;
        } else {
            database::Entity::insert(row)
                .exec(&txn)
                .await
                .map_err(db_error)?;
        }
        self.outbox
            .enqueue(
                &txn,
                &Message::new(
                    crate::reports::REMATCH,
                    &crate::reports::RematchJob {
                        version: next as u64,
                    },
                ),
            )
            .await
            .map_err(|e| ApiError::unavailable(format!("scan outbox: {e}")))?;
        txn.commit().await.map_err(db_error)?;
        self.outbox.notify();
        metrics::counter!("berth_scan_records_imported_total").increment(imported);
        Ok((imported, next as u64))
    }

    pub async fn status(&self) -> Result<Status> {
        let rows: Vec<String> = record::Entity::find()
            .select_only()
            .column(record::Column::Ecosystems)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(db_error)?;
        let mut ecosystems = BTreeMap::new();
        for r in &rows {
            for e in r.split(',').filter(|e| !e.is_empty()) {
                *ecosystems.entry(e.to_string()).or_default() += 1;
            }
        }
        let (version, updated_at) = version(&self.db).await?;
        Ok(Status {
            records: rows.len() as u64,
            ecosystems,
            updated_at,
            version,
        })
    }
}
