//! The severity gate: the access rule's last step for a space whose scan policy sets one. An
//! artifact passes when its report is complete and holds nothing at or above the gate, except
//! what the allowlist (the space's entries and the platform-wide ones, unexpired) lets
//! through; an artifact without a complete report gets what the policy says of unscanned ones.

use std::collections::BTreeSet;

use berth_error::ApiError;
use berth_proto::v1::{EvaluateGateRequest, EvaluateGateResponse};
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::entity::{allow, report, subject};
use crate::reports::{items_of, platforms_of, Item};
use crate::severity::Severity;
use crate::{db_error, Result, Scanning};

/// Longest an answer may be cached.
const CACHE_SECONDS: u32 = 60;
/// Ids a deny names at most.
const NAMED: usize = 5;

fn gate_of(name: &str) -> Result<Severity> {
    match name {
        "critical" => Ok(Severity::Critical),
        "high" => Ok(Severity::High),
        "medium" => Ok(Severity::Medium),
        "low" => Ok(Severity::Low),
        other => Err(ApiError::invalid(
            "gate",
            format!("must be \"critical\", \"high\", \"medium\" or \"low\", not {other:?}"),
        )),
    }
}

fn answer(allowed: bool, reason: String, cache_seconds: u32) -> EvaluateGateResponse {
    EvaluateGateResponse {
        allowed,
        reason,
        cache_seconds,
    }
}

/// The findings of `items` the gate stops, each once, worst first.
fn blocking<'a>(
    items: &'a [Item],
    gate: Severity,
    allowed: &[allow::Model],
    used: &mut Vec<Option<chrono::DateTime<Utc>>>,
) -> Vec<&'a Item> {
    let mut seen = BTreeSet::new();
    let mut out: Vec<&Item> = Vec::new();
    for i in items.iter().filter(|i| i.finding.severity >= gate) {
        let f = &i.finding;
        let entry = allowed
            .iter()
            .find(|a| a.vulnerability_id == f.id || f.aliases.contains(&a.vulnerability_id));
        if let Some(a) = entry {
            // Recorded even without an expiry: the pass rests on it.
            used.push(a.expires_at);
            continue;
        }
        if seen.insert((&f.id, &f.package)) {
            out.push(i);
        }
    }
    out.sort_by(|a, b| {
        b.finding.severity.cmp(&a.finding.severity).then(
            b.finding
                .score
                .partial_cmp(&a.finding.score)
                .unwrap_or(std::cmp::Ordering::Equal),
        )
    });
    out
}

/// How a deny names what stopped it: the worst ids (with the CVE they alias).
fn named(stopped: &[&Item]) -> String {
    let mut ids: Vec<String> = Vec::new();
    for i in stopped {
        let f = &i.finding;
        let cve = f
            .aliases
            .iter()
            .find(|a| a.starts_with("CVE-") && **a != f.id);
        let id = match cve {
            Some(c) => format!("{} ({c}, {} in {})", f.id, f.severity.as_str(), f.package),
            None => format!("{} ({} in {})", f.id, f.severity.as_str(), f.package),
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
        if ids.len() == NAMED {
            break;
        }
    }
    let more = stopped.len().saturating_sub(ids.len());
    if more > 0 {
        format!("{} and {more} more", ids.join(", "))
    } else {
        ids.join(", ")
    }
}

/// Config media types of images a runtime runs.
const IMAGE_CONFIGS: &[&str] = &[
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// Whether `manifest` is something a runtime can run: an image whose config is an image
/// configuration, or an index (nested, to a bound) holding one. A referrers index (signatures,
/// SBOMs) is not; an index of images pushed under a `sha256-…` tag is.
async fn runnable(
    client: &berth_oci::Client,
    repository: &str,
    manifest: &berth_oci::Manifest,
) -> std::result::Result<bool, berth_oci::OciError> {
    let mut pending = vec![(manifest.clone(), 0usize)];
    while let Some((m, depth)) = pending.pop() {
        if !m.is_index() {
            if m.blobs()
                .first()
                .is_some_and(|c| IMAGE_CONFIGS.contains(&c.media_type.as_str()))
            {
                return Ok(true);
            }
            continue;
        }
        if depth >= crate::scanner::MAX_NESTING {
            // Deeper than any scan follows: judged as an artifact (so, unscanned).
            return Ok(true);
        }
        for child in m.children() {
            if child.platform.as_deref() == Some("unknown/unknown") {
                continue;
            }
            let c = client.manifest(repository, &child.digest).await?;
            pending.push((c, depth + 1));
        }
    }
    Ok(false)
}

/// The digests the tags of `repository` name now. A `sha256-…` tag of the referrers tag
/// schema is left out only when what it names cannot run (a referrers index): an image pushed
/// under such a tag is judged like any other.
async fn current_digests(
    client: &berth_oci::Client,
    registry: &str,
    repository: &str,
) -> Result<Vec<String>> {
    use futures::StreamExt;
    let tags = match client.tags(repository).await {
        Ok(t) => t,
        Err(berth_oci::OciError::NotFound(_)) => return Ok(Vec::new()),
        Err(e) => return Err(crate::scans::registry_error(registry, repository, "", e)),
    };
    let heads = futures::stream::iter(tags.into_iter().map(|t| async move {
        let referrers = berth_oci::reference::is_referrers_tag(&t);
        let found = if referrers {
            match client.manifest(repository, &t).await {
                Ok(m) => match runnable(client, repository, &m).await {
                    Ok(true) => Ok(Some(m.digest)),
                    Ok(false) => Ok(None),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            }
        } else {
            client
                .head_manifest(repository, &t)
                .await
                .map(|h| h.map(|d| d.digest))
        };
        (found, t)
    }))
    .buffer_unordered(8)
    .collect::<Vec<_>>()
    .await;
    let mut out = BTreeSet::new();
    for (found, tag) in heads {
        match found {
            Ok(Some(d)) => {
                out.insert(d);
            }
            // Untagged since it was listed, or not an artifact to run.
            Ok(None) | Err(berth_oci::OciError::NotFound(_)) => {}
            Err(e) => return Err(crate::scans::registry_error(registry, repository, &tag, e)),
        }
    }
    Ok(out.into_iter().collect())
}

impl Scanning {
    /// The findings of `digest` when a complete report covers it: its own, or, for a platform's
    /// image of a scanned index, the index's findings for that platform (an index is scanned
    /// as a whole; a pull may name one of its images).
    /// `scanner` is the one that judges the registry: its report, never another's, counts.
    async fn findings_of(&self, scanner: &str, digest: &str) -> Result<Option<Vec<Item>>> {
        if let Some(r) = self
            .report_row(&crate::reports::key(scanner, digest))
            .await?
            .filter(|m| m.status == "complete")
        {
            return Ok(Some(items_of(&r)));
        }
        let parents = report::Entity::find()
            .filter(report::Column::Status.eq("complete"))
            .filter(report::Column::Scanner.eq(scanner))
            .filter(report::Column::Platforms.contains(digest))
            .all(&self.db)
            .await
            .map_err(db_error)?;
        for parent in parents {
            if let Some(p) = platforms_of(&parent)
                .into_iter()
                .find(|p| p.digest == digest)
            {
                return Ok(Some(
                    items_of(&parent)
                        .into_iter()
                        .filter(|i| i.platform == p.platform)
                        .collect(),
                ));
            }
        }
        Ok(None)
    }

    pub async fn evaluate_gate(&self, r: &EvaluateGateRequest) -> Result<EvaluateGateResponse> {
        // No severity gate: only what the policy says of unscanned artifacts applies.
        let gate = if r.gate.is_empty() {
            None
        } else {
            Some(gate_of(&r.gate)?)
        };
        let deny_unscanned = match r.unscanned.as_str() {
            "" | "allow" => false,
            "deny" => true,
            other => {
                return Err(ApiError::invalid(
                    "unscanned",
                    format!("must be \"allow\" or \"deny\", not {other:?}"),
                ))
            }
        };
        let now = Utc::now();
        let allowed: Vec<allow::Model> = self
            .list_allowlist(&r.registry, &r.space)
            .await?
            .into_iter()
            .filter(|a| a.expires_at.is_none_or(|t| t > now))
            .collect();
        crate::scans::check_repository(&r.repository)?;
        let client = self.clients.get(&r.registry).await?.client;
        let digests: Vec<String> = if r.reference.is_empty() {
            // A repository as a whole (the token service): every artifact a tag names now,
            // since which one a token will pull is not known.
            current_digests(&client, &r.registry, &r.repository).await?
        } else {
            crate::scans::check_reference(&r.reference)?;
            // Asked of the registry even for a digest: a digest is judged only where it is
            // held, so knowing one from elsewhere reveals nothing of its report.
            match client.head_manifest(&r.repository, &r.reference).await {
                Ok(Some(m)) => vec![m.digest],
                // Not there (yet): nothing of it is scanned.
                Ok(None) | Err(berth_oci::OciError::NotFound(_)) => Vec::new(),
                Err(e) => {
                    return Err(crate::scans::registry_error(
                        &r.registry,
                        &r.repository,
                        &r.reference,
                        e,
                    ))
                }
            }
        };
        let at = if r.reference.is_empty() {
            r.repository.clone()
        } else {
            format!("{}:{}", r.repository, r.reference)
        };
        let scanner = self.scanner_name(&r.registry).await?;
        let mut digests = digests;
        // The digests Berth has seen in the repository (asked of as a whole only).
        let known: BTreeSet<String> = if r.reference.is_empty() {
            subject::Entity::find()
                .filter(subject::Column::Registry.eq(&r.registry))
                .filter(subject::Column::Repository.eq(&r.repository))
                .all(&self.db)
                .await
                .map_err(db_error)?
                .into_iter()
                .map(|m| m.digest)
                .collect()
        } else {
            BTreeSet::new()
        };
        if r.reference.is_empty() {
            // A repository-wide pull also opens manifests no tag names (a tag moved after its
            // scan, an image pushed by digest): every one Berth has seen here whose report
            // fails the gate is judged too, while the registry still holds it.
            if let Some(gate) = gate {
                let untagged: Vec<String> = known
                    .iter()
                    .filter(|d| !digests.contains(d))
                    .cloned()
                    .collect();
                for digest in untagged {
                    let Some(items) = self.findings_of(&scanner, &digest).await? else {
                        continue;
                    };
                    if blocking(&items, gate, &allowed, &mut Vec::new()).is_empty() {
                        continue;
                    }
                    match client.head_manifest(&r.repository, &digest).await {
                        Ok(Some(_)) => digests.push(digest),
                        Ok(None) | Err(berth_oci::OciError::NotFound(_)) => {}
                        Err(e) => {
                            return Err(crate::scans::registry_error(
                                &r.registry,
                                &r.repository,
                                &digest,
                                e,
                            ))
                        }
                    }
                }
            }
        }
        let mut used = Vec::new();
        let mut unscanned = 0;
        for digest in &digests {
            let Some(items) = self.findings_of(&scanner, digest).await? else {
                unscanned += 1;
                continue;
            };
            if r.reference.is_empty() && !known.contains(digest) {
                // Known here from now on: should its tag move, the manifest is still judged
                // while the repository holds it.
                crate::scans::seen(&self.db, &r.registry, &r.repository, digest).await?;
            }
            let Some(gate) = gate else {
                continue;
            };
            let stopped = blocking(&items, gate, &allowed, &mut used);
            if !stopped.is_empty() {
                return Ok(answer(
                    false,
                    format!(
                        "{at} ({digest}) has {} finding{} at or above the space's {} gate: {}",
                        stopped.len(),
                        if stopped.len() == 1 { "" } else { "s" },
                        r.gate,
                        named(&stopped)
                    ),
                    CACHE_SECONDS,
                ));
            }
        }
        let nothing_scanned = digests.is_empty() || unscanned == digests.len();
        // A tag's artifact must be scanned (a tag the registry does not hold is not), and so
        // must every artifact of a repository asked of as a whole.
        let unknown = unscanned > 0 || digests.is_empty();
        if deny_unscanned && unknown {
            return Ok(answer(
                false,
                format!("{at} has not been scanned, and the space denies unscanned artifacts"),
                // A scan ends with `scan.completed`, which orphans cached answers.
                CACHE_SECONDS,
            ));
        }
        // An allow that rests on an allowlist entry lasts until the entry expires.
        let cache = used
            .iter()
            .flatten()
            .map(|t| (*t - now).num_seconds().clamp(0, CACHE_SECONDS as i64) as u32)
            .min()
            .unwrap_or(CACHE_SECONDS);
        let reason = if nothing_scanned {
            format!("{at} has not been scanned; the space allows unscanned artifacts")
        } else if gate.is_none() {
            format!("{at} has been scanned")
        } else if used.is_empty() {
            format!(
                "{at} has no finding at or above the space's {} gate",
                r.gate
            )
        } else {
            format!(
                "{at} passes the space's {} gate with allowlisted findings",
                r.gate
            )
        };
        Ok(answer(true, reason, cache))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::Finding;

    fn item(id: &str, alias: &str, severity: Severity) -> Item {
        Item {
            finding: Finding {
                id: id.into(),
                aliases: vec![alias.into()],
                package: "libssl3".into(),
                ecosystem: "Debian:12".into(),
                installed: "3.0.0".into(),
                fixed: None,
                severity,
                score: None,
                layer: "sha256:l".into(),
            },
            platform: String::new(),
        }
    }

    #[test]
    fn gates_stop_at_or_above_and_allowlists_match_aliases() {
        let items = vec![
            item("DEBIAN-12-CVE-1-openssl", "CVE-1", Severity::Critical),
            item("GHSA-x", "CVE-2", Severity::Medium),
            item("DEBIAN-12-CVE-3-openssl", "CVE-3", Severity::High),
        ];
        let mut used = Vec::new();
        let stopped = blocking(&items, Severity::High, &[], &mut used);
        assert_eq!(stopped.len(), 2);
        assert_eq!(
            stopped[0].finding.id, "DEBIAN-12-CVE-1-openssl",
            "worst first"
        );
        assert!(named(&stopped).contains("CVE-1"), "{}", named(&stopped));
        let entry = |id: &str| allow::Model {
            vulnerability_id: id.into(),
            registry: String::new(),
            space: String::new(),
            expires_at: Some(Utc::now() + chrono::Duration::seconds(30)),
            reason: "r".into(),
            created_by: "p".into(),
            created_at: Utc::now(),
        };
        let allowed = [entry("CVE-1"), entry("DEBIAN-12-CVE-3-openssl")];
        assert!(blocking(&items, Severity::High, &allowed, &mut used).is_empty());
        assert_eq!(
            used.len(),
            2,
            "the entries relied on are counted for the cache"
        );
        assert_eq!(
            blocking(&items, Severity::Medium, &allowed, &mut used).len(),
            1
        );
    }
}
