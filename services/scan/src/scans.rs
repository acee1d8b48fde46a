//! Scan requests and the worker that runs them.
//!
//! A request resolves its reference to a digest at once (an unknown tag is `NotFound`), records
//! the scan and queues a job in the same transaction (the outbox): `scan.request` for requests
//! and pushes, `scan.request.bulk` for schedules and scan-all, each consumed on its own, so
//! thousands of bulk jobs never stand before a push. Jobs are idempotent by digest: a digest
//! whose report is complete at the current database version is not read again, and a digest
//! already queued or being scanned is not queued twice.

use berth_bus::{Handler, HandlerError, Message, Subscription};
use berth_error::ApiError;
use berth_proto::v1::Scan as ScanProto;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};

use crate::entity::{report, scan, subject};
use crate::reports::{self, PlatformRef};
use crate::scanner::{self, ScanError};
use crate::{db_error, Result, Scanning};

pub const REQUEST: &str = "scan.request";
pub const BULK: &str = "scan.request.bulk";
pub const TRIGGERS: [&str; 4] = ["request", "push", "schedule", "all"];

#[derive(Debug, Serialize, Deserialize)]
pub struct ScanJob {
    pub scan: String,
}

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub(crate) fn outbox_error(e: anyhow::Error) -> ApiError {
    ApiError::unavailable(format!("scan outbox: {e}"))
}

/// The queue a trigger's jobs go on.
fn queue_of(trigger: &str) -> &'static str {
    if matches!(trigger, "schedule" | "all") {
        BULK
    } else {
        REQUEST
    }
}

/// A repository name as registries accept it.
pub(crate) fn check_repository(repository: &str) -> Result<()> {
    let ok = !repository.is_empty()
        && repository.len() <= 255
        && repository.split('/').all(|part| {
            // A path component: lowercase alphanumerics, separated (not led or ended) by
            // `.`, `_` or `-` (so never `.` or `..`).
            part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "repository",
            format!("{repository:?} is not a repository name (lowercase path segments)"),
        ))
    }
}

pub(crate) fn check_reference(reference: &str) -> Result<()> {
    let digest = reference.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    });
    let tag = !reference.is_empty()
        && reference.len() <= 128
        && reference
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && reference
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if digest || tag {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "reference",
            format!("{reference:?} is neither a tag nor a sha256 digest"),
        ))
    }
}

pub fn to_proto(m: &scan::Model, summary: Option<berth_proto::v1::Summary>) -> ScanProto {
    ScanProto {
        id: m.id.clone(),
        registry: m.registry.clone(),
        repository: m.repository.clone(),
        reference: m.reference.clone(),
        digest: m.digest.clone(),
        status: m.status.clone(),
        error: m.error.clone(),
        trigger: m.trigger.clone(),
        summary,
        created_at: Some(timestamp(m.created_at)),
        finished_at: m.finished_at.map(timestamp),
        layers_read: m.layers_read.max(0) as u64,
        layers_known: m.layers_known.max(0) as u64,
        bytes_read: m.bytes_read.max(0) as u64,
    }
}

/// Records that `digest` was seen at `registry/repository`.
pub(crate) async fn seen<C: sea_orm::ConnectionTrait>(
    conn: &C,
    registry: &str,
    repository: &str,
    digest: &str,
) -> Result<()> {
    subject::Entity::insert(subject::ActiveModel {
        registry: Set(registry.into()),
        repository: Set(repository.into()),
        digest: Set(digest.into()),
        seen_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([
            subject::Column::Registry,
            subject::Column::Repository,
            subject::Column::Digest,
        ])
        .update_column(subject::Column::SeenAt)
        .to_owned(),
    )
    .exec(conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

impl Scanning {
    /// Queues a scan of `registry/repository:reference`.
    pub async fn create_scan(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
        trigger: &str,
    ) -> Result<ScanProto> {
        berth_error::validate::dns_label(registry).map_err(|m| ApiError::invalid("registry", m))?;
        check_repository(repository)?;
        check_reference(reference)?;
        let trigger = if trigger.is_empty() {
            "request"
        } else {
            trigger
        };
        if !TRIGGERS.contains(&trigger) {
            return Err(ApiError::invalid(
                "trigger",
                format!("must be one of {TRIGGERS:?}"),
            ));
        }
        let client = self.clients.get(registry).await?.client;
        let digest = client
            .manifest(repository, reference)
            .await
            .map_err(|e| registry_error(registry, repository, reference, e))?
            .digest;
        let (scanner, key) = self.report_key(registry, &digest).await?;
        let txn = self.db.begin().await.map_err(db_error)?;
        seen(&txn, registry, repository, &digest).await?;
        // One scan of a digest at a time in a repository: a push of five tags of one image is
        // one scan. (Another repository's running scan is not answered: it would name that
        // repository to whoever asks; its layers are read once all the same.)
        if let Some(running) = scan::Entity::find()
            .filter(scan::Column::Digest.eq(&digest))
            .filter(scan::Column::Registry.eq(registry))
            .filter(scan::Column::Repository.eq(repository))
            .filter(scan::Column::Status.is_in(["queued", "scanning"]))
            .one(&txn)
            .await
            .map_err(db_error)?
        {
            // A push or a request finding its digest queued behind a sweep queues it again
            // where it is urgent: whichever job runs first scans, the other finds it done.
            if running.status == "queued"
                && queue_of(&running.trigger) == BULK
                && queue_of(trigger) == REQUEST
            {
                self.outbox
                    .enqueue(
                        &txn,
                        &Message::new(
                            REQUEST,
                            &ScanJob {
                                scan: running.id.clone(),
                            },
                        ),
                    )
                    .await
                    .map_err(outbox_error)?;
            }
            txn.commit().await.map_err(db_error)?;
            self.outbox.notify();
            return Ok(to_proto(&running, None));
        }
        let now = Utc::now();
        let row = scan::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            registry: Set(registry.into()),
            repository: Set(repository.into()),
            reference: Set(reference.into()),
            digest: Set(digest.clone()),
            status: Set("queued".into()),
            error: Set(String::new()),
            trigger: Set(trigger.into()),
            layers_read: Set(0),
            layers_known: Set(0),
            bytes_read: Set(0),
            created_at: Set(now),
            finished_at: Set(None),
        }
        .insert(&txn)
        .await
        .map_err(db_error)?;
        // A digest never scanned reads as queued; a complete report stays readable until the
        // new one replaces it.
        if crate::entity::report::Entity::find_by_id(&key)
            .one(&txn)
            .await
            .map_err(db_error)?
            .is_none()
        {
            let mut queued = reports::bare(&key, "queued", "");
            queued.scanner = scanner;
            reports::save(&txn, queued).await?;
        }
        self.outbox
            .enqueue(
                &txn,
                &Message::new(
                    queue_of(trigger),
                    &ScanJob {
                        scan: row.id.clone(),
                    },
                ),
            )
            .await
            .map_err(outbox_error)?;
        txn.commit().await.map_err(db_error)?;
        self.outbox.notify();
        metrics::counter!("berth_scan_requests_total", "trigger" => trigger.to_string())
            .increment(1);
        Ok(to_proto(&row, None))
    }

    /// `NotFound` unless `registry/repository` holds `digest` (Berth scanned it there, or the
    /// registry says so now): a report is only shown to whom may see an artifact that has it.
    pub async fn held_at(&self, registry: &str, repository: &str, digest: &str) -> Result<()> {
        check_repository(repository)?;
        let missing = || {
            ApiError::not_found(format!(
                "artifact {registry}/{repository}@{digest} not found"
            ))
        };
        if registry.is_empty() || repository.is_empty() {
            return Err(ApiError::invalid("repository", "is required"));
        }
        let known = subject::Entity::find_by_id((
            registry.to_string(),
            repository.to_string(),
            digest.to_string(),
        ))
        .one(&self.db)
        .await
        .map_err(db_error)?;
        if known.is_some() {
            return Ok(());
        }
        let client = self.clients.get(registry).await?.client;
        match client.manifest(repository, digest).await {
            Ok(_) => seen(&self.db, registry, repository, digest).await,
            Err(berth_oci::OciError::NotFound(_)) => Err(missing()),
            Err(e) => Err(registry_error(registry, repository, digest, e)),
        }
    }

    pub async fn get_scan(&self, id: &str) -> Result<ScanProto> {
        let m = scan::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(db_error)?
            .ok_or_else(|| ApiError::not_found(format!("scan {id:?} not found")))?;
        let summary = match m.status.as_str() {
            "complete" => self
                .report_row(&m.digest)
                .await?
                .map(|r| reports::summary_of(&r.summary)),
            _ => None,
        };
        Ok(to_proto(&m, summary))
    }

    /// Queues again what an in-process bus lost with the last process.
    pub(crate) async fn requeue_unfinished(&self) -> anyhow::Result<()> {
        let left = scan::Entity::find()
            .filter(scan::Column::Status.is_in(["queued", "scanning"]))
            .order_by_asc(scan::Column::CreatedAt)
            .all(&self.db)
            .await?;
        for m in left {
            self.outbox
                .enqueue(
                    &self.db,
                    &Message::new(queue_of(&m.trigger), &ScanJob { scan: m.id }),
                )
                .await?;
        }
        self.outbox.notify();
        Ok(())
    }

    /// Scan `id` if it is still queued or scanning.
    async fn unfinished(&self, id: &str) -> Result<Option<scan::Model>> {
        Ok(scan::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(db_error)?
            .filter(|m| matches!(m.status.as_str(), "queued" | "scanning")))
    }

    /// Runs scan `id` (a job); done when the scan ended, either way.
    pub async fn work(&self, id: &str) -> Result<()> {
        let Some(m) = self.unfinished(id).await? else {
            return Ok(());
        };
        let started = std::time::Instant::now();
        let (version, index) = self.index().await?;
        let external = self.scanner_for(&m.registry).await?;
        let scanner = external
            .as_ref()
            .map_or(reports::BUILTIN.to_string(), |a| a.name.clone());
        // The report this scan writes: its scanner's of the digest.
        let key = reports::key(&scanner, &m.digest);
        let bare = |status: &str, error: &str| {
            let mut r = reports::bare(&key, status, error);
            r.scanner = scanner.clone();
            r
        };
        // Idempotent by digest: a report the built-in scanner completed at this database
        // version answers (an external scanner is asked again: its database is its own).
        if let Some(r) = self.report_row(&key).await? {
            if external.is_none() && r.status == "complete" && r.db_version as u64 == version {
                return self.finish(m, "complete", "", None, &r).await;
            }
        }
        let mut running = m.clone().into_active_model();
        running.status = Set("scanning".into());
        running.update(&self.db).await.map_err(db_error)?;
        if self
            .report_row(&key)
            .await?
            .is_none_or(|r| r.status != "complete")
        {
            reports::save(&self.db, bare("scanning", "")).await?;
        }
        let reached = match self.clients.get(&m.registry).await {
            Ok(r) => r,
            Err(e) => {
                let r = bare("failed", &e.message);
                return self.finish(m, "failed", &e.message, None, &r).await;
            }
        };
        if let Some(adapter) = external {
            return self.scan_externally(m, &reached, &adapter, version).await;
        }
        let client = reached.client;
        let outcome = scanner::scan(&client, &m.repository, &m.digest, self.layers.as_ref()).await;
        let scanned = match outcome {
            Ok(s) => s,
            Err(ScanError::Store(e)) => return Err(ApiError::unavailable(e)),
            Err(ScanError::Unsupported(why)) => {
                let r = reports::bare(&m.digest, "unsupported", &why);
                return self.finish(m, "unsupported", &why, None, &r).await;
            }
            Err(e) => {
                let why = e.to_string();
                let r = reports::bare(&m.digest, "failed", &why);
                return self.finish(m, "failed", &why, None, &r).await;
            }
        };
        let mut unsupported: Vec<String> = Vec::new();
        let platforms: Vec<(PlatformRef, crate::inventory::Image)> = scanned
            .platforms
            .iter()
            .map(|p| {
                unsupported.extend(p.image.unsupported.iter().cloned());
                (
                    PlatformRef {
                        platform: p.platform.clone(),
                        digest: p.digest.clone(),
                        layers: p.layers.clone(),
                    },
                    p.image.clone(),
                )
            })
            .collect();
        unsupported.sort();
        unsupported.dedup();
        let items = reports::match_platforms(&index, &platforms);
        let refs: Vec<PlatformRef> = platforms.into_iter().map(|(p, _)| p).collect();
        let report = reports::complete(&m.digest, &refs, &items, &unsupported, version);
        metrics::histogram!("berth_scan_seconds").record(started.elapsed().as_secs_f64());
        let (registry, repository, digest) =
            (m.registry.clone(), m.repository.clone(), m.digest.clone());
        self.finish(m, "complete", "", Some(&scanned), &report)
            .await?;
        // The space may want the SBOM attached to the image; a failure to do so is logged, the
        // scan stands.
        let attach = self
            .policy_of(&registry, &repository)
            .await
            .map(|p| p.is_some_and(|p| p.attach_sbom));
        if matches!(attach, Ok(true)) {
            match self.attach_sboms(&registry, &repository, &digest).await {
                Ok(made) if !made.is_empty() => {
                    tracing::info!(%registry, %repository, %digest, referrers = ?made, "SBOM attached")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(%registry, %repository, %digest, error = %e, "SBOM not attached")
                }
            }
        }
        Ok(())
    }

    /// Has `adapter` scan `m` (each platform's image of an index) and keeps its findings.
    async fn scan_externally(
        &self,
        m: scan::Model,
        reached: &berth_runtime::reach::Reached,
        adapter: &crate::external::Adapter,
        version: u64,
    ) -> Result<()> {
        let key = reports::key(&adapter.name, &m.digest);
        let bare = |status: &str, error: &str| {
            let mut r = reports::bare(&key, status, error);
            r.scanner = adapter.name.clone();
            r
        };
        let top = match reached.client.manifest(&m.repository, &m.digest).await {
            Ok(t) => t,
            Err(e) => {
                let why = e.to_string();
                let r = bare("failed", &why);
                return self.finish(m, "failed", &why, None, &r).await;
            }
        };
        let targets: Vec<(String, String, String)> = if top.is_index() {
            top.children()
                .into_iter()
                .filter_map(|c| {
                    let platform = c.platform.unwrap_or_default();
                    (platform != "unknown/unknown").then_some((platform, c.digest, c.media_type))
                })
                .collect()
        } else {
            vec![(String::new(), top.digest.clone(), top.media_type.clone())]
        };
        if targets.is_empty() {
            let why = "the index names no image for a platform";
            let r = bare("unsupported", why);
            return self.finish(m, "unsupported", why, None, &r).await;
        }
        let mut items = Vec::new();
        let mut platforms = Vec::new();
        for (platform, digest, media_type) in targets {
            platforms.push((platform.clone(), digest.clone()));
            let found = adapter
                .scan(
                    &reached.url,
                    reached.pull_authorization(&m.repository),
                    &m.repository,
                    &digest,
                    &media_type,
                )
                .await;
            match found {
                Ok(found) => items.extend(found.into_iter().map(|mut i| {
                    i.platform = platform.clone();
                    i
                })),
                Err(why) => {
                    let why = format!("external scanner {}: {why}", adapter.name);
                    let r = bare("failed", &why);
                    return self.finish(m, "failed", &why, None, &r).await;
                }
            }
        }
        // The platforms (no layers: an external report has no inventory) let a pull of one of
        // an index's images by its own digest meet the index's findings.
        let refs: Vec<PlatformRef> = platforms
            .iter()
            .map(|(platform, digest)| PlatformRef {
                platform: platform.clone(),
                digest: digest.clone(),
                layers: Vec::new(),
            })
            .collect();
        let mut report = reports::complete(&key, &refs, &items, &[], version);
        report.scanner = adapter.name.clone();
        self.finish(m, "complete", "", None, &report).await
    }

    /// Ends scan `m` with `status`, writes `report` and emits `scan.completed`, at once.
    async fn finish(
        &self,
        m: scan::Model,
        status: &str,
        error: &str,
        scanned: Option<&scanner::Scanned>,
        report: &crate::entity::report::Model,
    ) -> Result<()> {
        let txn = self.db.begin().await.map_err(db_error)?;
        let (registry, repository) = (m.registry.clone(), m.repository.clone());
        let mut row = m.into_active_model();
        row.status = Set(status.into());
        row.error = Set(error.into());
        row.finished_at = Set(Some(Utc::now()));
        if let Some(s) = scanned {
            row.layers_read = Set(s.layers_read as i64);
            row.layers_known = Set(s.layers_known as i64);
            row.bytes_read = Set(s.bytes_read as i64);
        }
        let scan_id = row.id.clone().unwrap();
        row.update(&txn).await.map_err(db_error)?;
        // The report is every holder's of the digest: a failure keeps a complete report, and
        // the reason (which names the repository it failed in) stays on the scan.
        let keep = status != "complete"
            && report::Entity::find_by_id(&report.digest)
                .one(&txn)
                .await
                .map_err(db_error)?
                .is_some_and(|r| r.status == "complete");
        let mut report = report.clone();
        if status == "failed" {
            report.error = format!("scan {scan_id} failed");
        }
        if keep {
            txn.commit().await.map_err(db_error)?;
            metrics::counter!("berth_scans_total", "status" => status.to_string()).increment(1);
            return Ok(());
        }
        reports::save(&txn, report.clone()).await?;
        self.outbox
            .enqueue(&txn, &reports::completed(&report, &registry, &repository))
            .await
            .map_err(outbox_error)?;
        txn.commit().await.map_err(db_error)?;
        self.outbox.notify();
        metrics::counter!("berth_scans_total", "status" => status.to_string()).increment(1);
        Ok(())
    }
}

/// Runs `work`, turning a panic into its message (a job must end either way).
pub async fn contained<T>(
    work: impl std::future::Future<Output = T>,
) -> std::result::Result<T, String> {
    use futures::FutureExt;
    std::panic::AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .map_err(|p| {
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".into())
        })
}

impl Scanning {
    /// Ends scan `id` failed with `why`, if it has not ended.
    pub(crate) async fn fail(&self, id: &str, why: &str) -> Result<()> {
        let Some(m) = self.unfinished(id).await? else {
            return Ok(());
        };
        let r = reports::bare(&m.digest, "failed", why);
        self.finish(m, "failed", why, None, &r).await
    }
}

/// What a registry's answer about `repository:reference` means to a caller.
pub fn registry_error(
    registry: &str,
    repository: &str,
    reference: &str,
    e: berth_oci::OciError,
) -> ApiError {
    if matches!(e, berth_oci::OciError::NotFound(_)) {
        ApiError::not_found(format!(
            "{repository}:{reference} not found in registry {registry}"
        ))
    } else {
        ApiError::new(
            berth_error::ErrorCode::UpstreamUnavailable,
            format!("registry {registry}: {e}"),
        )
    }
}

/// The two job queues: requests and pushes; schedules and scan-all (one at a time).
pub fn subscriptions() -> Vec<(Subscription, &'static str)> {
    let mut urgent = Subscription::new(REQUEST, &[REQUEST]);
    urgent.prefetch = 2;
    let mut bulk = Subscription::new(BULK, &[BULK]);
    bulk.prefetch = 1;
    vec![(urgent, REQUEST), (bulk, BULK)]
}

pub struct JobHandler(pub Scanning, pub &'static str);

#[async_trait::async_trait]
impl Handler for JobHandler {
    async fn handle(&self, m: &Message) -> std::result::Result<(), HandlerError> {
        let job: ScanJob = m
            .payload()
            .map_err(|e| HandlerError::Reject(format!("bad scan job: {e}")))?;
        match contained(self.0.work(&job.scan)).await {
            Ok(r) => r.map_err(|e| HandlerError::Retry(e.message)),
            // A fault of Berth's on this artifact: the scan ends failed rather than scanning
            // for ever (and never answers "queued" to whoever asks again).
            Err(why) => {
                tracing::error!(scan = %job.scan, %why, "scan panicked");
                self.0
                    .fail(&job.scan, &format!("internal error: {why}"))
                    .await
                    .map_err(|e| HandlerError::Retry(e.message))?;
                Err(HandlerError::Reject(why))
            }
        }
    }
}
