//! Reports per artifact digest: the state of its scan, its findings (per platform of an index)
//! and their summary, and the platforms and layers they were matched from. A report is shared
//! by every tag, repository and registry holding the digest. A database update re-matches every
//! complete report from the stored layer inventories (no layer is read again) and emits
//! `scan.completed` for each whose findings changed.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use berth_bus::{Handler, HandlerError, Message, Subscription};
use berth_error::ApiError;
use berth_proto::v1::{DigestSummary, Finding as FindingProto, Report, ScanCompleted, Summary};
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};
use serde::{Deserialize, Serialize};

use crate::entity::report;
use crate::inventory::{Image, Layer};
use crate::matcher::{Finding, Index};
use crate::{db_error, Result, Scanning};

pub const REMATCH: &str = "scan.rematch";
/// Reports re-matched and written in one transaction.
const REMATCH_BATCH: usize = 500;
pub const COMPLETED: &str = "scan.completed";
/// The built-in scanner's name in reports and the scanner list.
pub const BUILTIN: &str = "berth";

/// The key of `digest`'s report by `scanner`: the digest itself for the built-in scanner's,
/// `SCANNER|DIGEST` for an external scanner's. A report is every holder's of the digest that
/// the same scanner judges, never another scanner's: a workspace whose registry an external
/// scanner judges cannot replace the report another registry's gate reads.
pub fn key(scanner: &str, digest: &str) -> String {
    if scanner == BUILTIN {
        digest.to_string()
    } else {
        format!("{scanner}|{digest}")
    }
}

/// The digest a report key is of.
pub fn digest_of_key(key: &str) -> &str {
    key.rsplit('|').next().unwrap_or(key)
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RematchJob {
    pub version: u64,
}

/// One finding as a report keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    #[serde(flatten)]
    pub finding: Finding,
    /// `os/arch[/variant]` of an index's image; empty for a single image.
    #[serde(default)]
    pub platform: String,
}

/// One platform of a scanned artifact: its image manifest and layers, bottom first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformRef {
    pub platform: String,
    pub digest: String,
    pub layers: Vec<String>,
}

/// Findings counted by severity, each vulnerability of a package once (an index's platforms
/// share most of theirs).
pub fn summarize(items: &[Item]) -> Summary {
    let mut seen = BTreeSet::new();
    let mut s = Summary::default();
    for i in items {
        let f = &i.finding;
        if !seen.insert((&f.id, &f.package, &f.installed)) {
            continue;
        }
        match f.severity.as_str() {
            "critical" => s.critical += 1,
            "high" => s.high += 1,
            "medium" => s.medium += 1,
            "low" => s.low += 1,
            _ => s.unknown += 1,
        }
    }
    s
}

/// The findings of each platform's image.
pub fn match_platforms(index: &Index, platforms: &[(PlatformRef, Image)]) -> Vec<Item> {
    let mut out = Vec::new();
    for (p, image) in platforms {
        out.extend(index.findings(image).into_iter().map(|finding| Item {
            finding,
            platform: p.platform.clone(),
        }));
    }
    out
}

/// Each platform's image, from the inventories of its layers in `known`.
fn composed(
    platforms: &[PlatformRef],
    known: &HashMap<String, Arc<Layer>>,
) -> Result<Vec<(PlatformRef, Image)>> {
    let mut out = Vec::new();
    for p in platforms {
        let layers: Option<Vec<(&str, &Layer)>> = p
            .layers
            .iter()
            .map(|d| known.get(d).map(|l| (d.as_str(), l.as_ref())))
            .collect();
        let Some(layers) = layers else {
            return Err(ApiError::failed_precondition(format!(
                "the layer inventories of {} are gone: scan it again",
                p.digest
            )));
        };
        out.push((p.clone(), Image::from_layers(layers)));
    }
    Ok(out)
}

/// A report re-matched: whether its findings changed, and the report to write.
type Rematched = (bool, report::Model);

/// Re-matches `batch` against `index`, on every core (composing and matching is the work).
fn rematched(
    batch: &[report::Model],
    known: &HashMap<String, Arc<Layer>>,
    index: &Index,
    version: u64,
) -> Vec<Option<Rematched>> {
    let one = |m: &report::Model| -> Option<Rematched> {
        let platforms = platforms_of(m);
        let images = match composed(&platforms, known) {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(digest = %m.digest, error = %e.message, "report not re-matched");
                return None;
            }
        };
        let items = match_platforms(index, &images);
        let unsupported: Vec<String> = serde_json::from_str(&m.unsupported).unwrap_or_default();
        let next = complete(&m.digest, &platforms, &items, &unsupported, version);
        Some((items != items_of(m), next))
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let size = batch.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = batch
            .chunks(size)
            .map(|chunk| scope.spawn(move || chunk.iter().map(one).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().expect("a re-match thread"))
            .collect()
    })
}

fn summary_json(s: &Summary) -> String {
    serde_json::json!({"critical": s.critical, "high": s.high, "medium": s.medium,
        "low": s.low, "unknown": s.unknown})
    .to_string()
}

pub fn summary_of(json: &str) -> Summary {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let n = |k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0) as u32;
    Summary {
        critical: n("critical"),
        high: n("high"),
        medium: n("medium"),
        low: n("low"),
        unknown: n("unknown"),
    }
}

pub fn items_of(m: &report::Model) -> Vec<Item> {
    serde_json::from_str(&m.findings).unwrap_or_default()
}

pub fn platforms_of(m: &report::Model) -> Vec<PlatformRef> {
    serde_json::from_str(&m.platforms).unwrap_or_default()
}

fn to_proto(m: &report::Model) -> Report {
    Report {
        digest: digest_of_key(&m.digest).to_string(),
        status: m.status.clone(),
        error: m.error.clone(),
        summary: Some(summary_of(&m.summary)),
        findings: items_of(m)
            .into_iter()
            .map(|i| FindingProto {
                id: i.finding.id,
                aliases: i.finding.aliases,
                package: i.finding.package,
                ecosystem: i.finding.ecosystem,
                installed: i.finding.installed,
                fixed: i.finding.fixed.unwrap_or_default(),
                severity: i.finding.severity.as_str().into(),
                score: i.finding.score,
                layer: i.finding.layer,
                platform: i.platform,
            })
            .collect(),
        db_version: m.db_version.max(0) as u64,
        updated_at: Some(crate::scans::timestamp(m.updated_at)),
        unsupported: serde_json::from_str(&m.unsupported).unwrap_or_default(),
        scanner: m.scanner.clone(),
    }
}

/// The completed-scan event of a report.
pub fn completed(m: &report::Model, registry: &str, repository: &str) -> Message {
    let s = summary_of(&m.summary);
    Message::new(
        COMPLETED,
        &ScanCompleted {
            digest: digest_of_key(&m.digest).to_string(),
            registry: registry.into(),
            repository: repository.into(),
            status: m.status.clone(),
            critical: s.critical,
            high: s.high,
            medium: s.medium,
            low: s.low,
            unknown: s.unknown,
        },
    )
}

/// A report row in a state without findings (queued, scanning, failed, unsupported).
pub fn bare(digest: &str, status: &str, error: &str) -> report::Model {
    report::Model {
        digest: digest.into(),
        status: status.into(),
        error: error.into(),
        platforms: "[]".into(),
        findings: "[]".into(),
        summary: summary_json(&Summary::default()),
        unsupported: "[]".into(),
        db_version: 0,
        updated_at: Utc::now(),
        scanner: BUILTIN.into(),
    }
}

/// A complete report.
pub fn complete(
    digest: &str,
    platforms: &[PlatformRef],
    items: &[Item],
    unsupported: &[String],
    db_version: u64,
) -> report::Model {
    report::Model {
        digest: digest.into(),
        status: "complete".into(),
        error: String::new(),
        platforms: serde_json::to_string(platforms).expect("serializes"),
        findings: serde_json::to_string(items).expect("serializes"),
        summary: summary_json(&summarize(items)),
        unsupported: serde_json::to_string(unsupported).expect("serializes"),
        db_version: db_version as i64,
        updated_at: Utc::now(),
        scanner: BUILTIN.into(),
    }
}

fn active(m: report::Model) -> report::ActiveModel {
    report::ActiveModel {
        digest: Set(m.digest),
        status: Set(m.status),
        error: Set(m.error),
        platforms: Set(m.platforms),
        findings: Set(m.findings),
        summary: Set(m.summary),
        unsupported: Set(m.unsupported),
        db_version: Set(m.db_version),
        updated_at: Set(m.updated_at),
        scanner: Set(m.scanner),
    }
}

/// Writes `m` over whatever the table holds for its digest.
pub async fn save<C: sea_orm::ConnectionTrait>(conn: &C, m: report::Model) -> Result<()> {
    use sea_orm::sea_query::OnConflict;
    report::Entity::insert(active(m))
        .on_conflict(
            OnConflict::column(report::Column::Digest)
                .update_columns([
                    report::Column::Status,
                    report::Column::Error,
                    report::Column::Platforms,
                    report::Column::Findings,
                    report::Column::Summary,
                    report::Column::Unsupported,
                    report::Column::DbVersion,
                    report::Column::UpdatedAt,
                    report::Column::Scanner,
                ])
                .to_owned(),
        )
        .exec(conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

impl Scanning {
    pub async fn report_row(&self, digest: &str) -> Result<Option<report::Model>> {
        report::Entity::find_by_id(digest)
            .one(&self.db)
            .await
            .map_err(db_error)
    }

    /// The report of `digest`; `NotFound` when it was never scanned.
    pub async fn get_report(&self, digest: &str) -> Result<Report> {
        self.report_row(digest)
            .await?
            .map(|m| to_proto(&m))
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "artifact {} has not been scanned",
                    digest_of_key(digest)
                ))
            })
    }

    /// The summaries of those of `digests` that have a report.
    pub async fn summaries(&self, digests: &[String]) -> Result<Vec<DigestSummary>> {
        let mut out = Vec::new();
        for chunk in digests.chunks(500) {
            for m in report::Entity::find()
                .filter(report::Column::Digest.is_in(chunk.iter().cloned()))
                .all(&self.db)
                .await
                .map_err(db_error)?
            {
                out.push(DigestSummary {
                    summary: Some(summary_of(&m.summary)),
                    digest: m.digest,
                    status: m.status,
                });
            }
        }
        Ok(out)
    }

    /// The images of a report's platforms, from the stored layer inventories.
    /// Reads the inventories of `platforms`' layers not in `known` into it, in one call.
    async fn prefetch(
        &self,
        platforms: &[PlatformRef],
        known: &mut HashMap<String, Arc<Layer>>,
    ) -> Result<()> {
        let missing: Vec<String> = platforms
            .iter()
            .flat_map(|p| p.layers.iter())
            .filter(|d| !known.contains_key(*d))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !missing.is_empty() {
            let found = self
                .layers
                .many(&missing)
                .await
                .map_err(|e| ApiError::unavailable(format!("layer inventories: {e}")))?;
            known.extend(found);
        }
        Ok(())
    }

    pub(crate) async fn images(
        &self,
        platforms: &[PlatformRef],
        known: &mut HashMap<String, Arc<Layer>>,
    ) -> Result<Vec<(PlatformRef, Image)>> {
        self.prefetch(platforms, known).await?;
        // Composing layers is CPU work (an image of many files and whiteouts): off the runtime.
        let (platforms, known) = (platforms.to_vec(), known.clone());
        tokio::task::spawn_blocking(move || composed(&platforms, &known))
            .await
            .map_err(|e| ApiError::internal(format!("composing the image: {e}")))?
    }

    /// The SBOM of `digest` in `format` (`cyclonedx` or `spdx`), of one platform of an index.
    pub async fn sbom(
        &self,
        digest: &str,
        format: &str,
        name: &str,
        platform: &str,
    ) -> Result<(String, &'static str)> {
        let media_type = match format {
            "" | "cyclonedx" => "application/vnd.cyclonedx+json",
            "spdx" => "application/spdx+json",
            other => {
                return Err(ApiError::invalid(
                    "format",
                    format!("must be \"cyclonedx\" or \"spdx\", not {other:?}"),
                ))
            }
        };
        let m = self.report_row(digest).await?.ok_or_else(|| {
            ApiError::not_found(format!("artifact {digest} has not been scanned"))
        })?;
        if m.status != "complete" {
            return Err(ApiError::failed_precondition(format!(
                "artifact {digest} has no complete scan ({})",
                m.status
            )));
        }
        if m.scanner != BUILTIN {
            return Err(ApiError::failed_precondition(format!(
                "artifact {digest} was scanned by the external scanner {:?}, whose reports \
                 carry findings but no inventory to make an SBOM from",
                m.scanner
            )));
        }
        let platforms = platforms_of(&m);
        let chosen = if platform.is_empty() {
            platforms
                .iter()
                .find(|p| p.platform == "linux/amd64")
                .or(platforms.first())
        } else {
            platforms.iter().find(|p| p.platform == platform)
        }
        .cloned()
        .ok_or_else(|| {
            ApiError::invalid(
                "platform",
                format!(
                    "{digest} has no image for {platform:?} (it has: {})",
                    platforms
                        .iter()
                        .map(|p| p.platform.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        let mut known = HashMap::new();
        let (_, image) = self
            .images(std::slice::from_ref(&chosen), &mut known)
            .await?
            .remove(0);
        let created = m
            .updated_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let subject = crate::sbom::Subject {
            name,
            digest,
            created: &created,
        };
        let doc = if media_type.contains("spdx") {
            crate::sbom::spdx(&image, &subject)
        } else {
            crate::sbom::cyclonedx(&image, &subject)
        };
        Ok((doc.to_string(), media_type))
    }

    /// Re-matches every complete report older than `version` against the current database,
    /// from stored inventories; answers how many reports' findings changed.
    pub async fn rematch(&self) -> Result<u64> {
        let started = std::time::Instant::now();
        let (version, index) = self.index().await?;
        let stale = report::Entity::find()
            .filter(report::Column::Status.eq("complete"))
            .filter(report::Column::DbVersion.lt(version as i64))
            // An external scanner's findings are its own: nothing here to re-match them from.
            .filter(report::Column::Scanner.eq(BUILTIN))
            .all(&self.db)
            .await
            .map_err(db_error)?;
        let mut known = HashMap::new();
        let mut changed = 0;
        let total = stale.len();
        // Written a batch a transaction: ten thousand reports are ten thousand rows, not ten
        // thousand commits.
        for batch in stale.chunks(REMATCH_BATCH) {
            // The batch's layer inventories in one read (each is read once per re-match).
            let wanted: Vec<PlatformRef> = batch.iter().flat_map(platforms_of).collect();
            self.prefetch(&wanted, &mut known).await?;
            let work = (batch.to_vec(), known.clone(), index.clone());
            let done = tokio::task::spawn_blocking(move || {
                let (batch, known, index) = work;
                let out = rematched(&batch, &known, &index, version);
                batch.into_iter().zip(out).collect::<Vec<_>>()
            })
            .await
            .map_err(|e| ApiError::unavailable(format!("re-match: {e}")))?;
            let next_of: Vec<(report::Model, bool, report::Model)> = done
                .into_iter()
                .filter_map(|(m, r)| r.map(|(differs, next)| (m, differs, next)))
                .collect();
            let txn = self.db.begin().await.map_err(db_error)?;
            // Only a report still at the version it was read at: a scan that finished
            // meanwhile wrote a newer one.
            let current: HashMap<String, report::Model> = report::Entity::find()
                .filter(
                    report::Column::Digest.is_in(next_of.iter().map(|(m, _, _)| m.digest.clone())),
                )
                .all(&txn)
                .await
                .map_err(db_error)?
                .into_iter()
                .map(|c| (c.digest.clone(), c))
                .collect();
            for (m, differs, next) in next_of {
                let m = &m;
                if current
                    .get(&m.digest)
                    .is_none_or(|c| c.db_version != m.db_version || c.status != "complete")
                {
                    continue;
                }
                if differs {
                    changed += 1;
                    self.outbox
                        .enqueue(&txn, &completed(&next, "", ""))
                        .await
                        .map_err(|e| ApiError::unavailable(format!("scan outbox: {e}")))?;
                }
                save(&txn, next).await?;
            }
            txn.commit().await.map_err(db_error)?;
        }
        if changed > 0 {
            self.outbox.notify();
        }
        tracing::info!(version, reports = total, changed, elapsed = ?started.elapsed(), "reports re-matched");
        metrics::histogram!("berth_scan_rematch_seconds").record(started.elapsed().as_secs_f64());
        Ok(changed)
    }
}

pub fn rematch_subscription() -> Subscription {
    Subscription::new(REMATCH, &[REMATCH])
}

/// Re-matches reports when the database moved on (one replica takes each job).
pub struct RematchHandler(pub Scanning);

#[async_trait::async_trait]
impl Handler for RematchHandler {
    async fn handle(&self, _m: &Message) -> std::result::Result<(), HandlerError> {
        match crate::scans::contained(self.0.rematch()).await {
            Ok(r) => r.map(|_| ()).map_err(|e| HandlerError::Retry(e.message)),
            Err(why) => {
                tracing::error!(%why, "re-match panicked");
                Err(HandlerError::Reject(why))
            }
        }
    }
}
