//! Planning an execution: list only what the filters need, skip what the policy's records say
//! is already at the destination, and queue one task per remaining artifact.
//!
//! - Repository filters that name repositories exactly skip the catalog; tag filters that name
//!   tags exactly skip the tag lists.
//! - A tag whose source digest (one `HEAD` at the source) equals the digest recorded for it is
//!   counted as skipped without asking the destination, unless the record is older than the
//!   verify interval or the run asked to verify.
//! - Planning is a job on the bus, so it survives a restart; tasks get ids derived from the
//!   artifact, so planning twice queues nothing twice.

use std::collections::HashMap;

use berth_bus::{Handler, HandlerError, Message, Subscription};
use berth_oci::{Client, OciError};
use chrono::Utc;
use futures::{stream, StreamExt, TryStreamExt};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::entity::execution;
use crate::error::{ReplicationError, Result};
use crate::executions::{enqueue_tasks, task_for, Counts, PlanJob, Status, ACTIVE, PLAN};
use crate::policies::Spec;
use crate::Replication;

const LISTING_IN_FLIGHT: usize = 48;

pub fn subscription() -> Subscription {
    Subscription::new("replication.plan", &[PLAN])
}

pub struct PlanHandler(pub Replication);

#[async_trait::async_trait]
impl Handler for PlanHandler {
    async fn handle(&self, m: &Message) -> std::result::Result<(), HandlerError> {
        let job: PlanJob = m
            .payload()
            .map_err(|e| HandlerError::Reject(format!("bad plan job: {e}")))?;
        match self.0.plan(&job.execution).await {
            Ok(()) => Ok(()),
            // The last delivery: fail the execution rather than leave it running forever.
            Err(e) if m.attempt >= subscription().max_attempts => {
                let error = format!("planning failed: {e}");
                self.0
                    .fail(&job.execution, &error)
                    .await
                    .map_err(|e| HandlerError::Retry(e.to_string()))
            }
            Err(e) => Err(HandlerError::Retry(e.to_string())),
        }
    }
}

/// Digests recorded for (repository, tag) that are fresh enough to use, and whether they are
/// trusted outright (the source notifies Berth of every change since the record was made).
type Recorded = HashMap<(String, String), (String, bool)>;

/// The artifacts a policy selects at the source, each with whether the destination already
/// has it according to the records: (repository, tag, known). Repositories are surveyed
/// concurrently, each listing its tags and then asking the source (`HEAD`) about the tags with
/// a record, so nothing waits for the slowest phase.
async fn survey(
    spec: &Spec,
    src: &Client,
    recorded: &Recorded,
) -> std::result::Result<Vec<(String, String, bool)>, String> {
    let repos = match spec.exact("repository") {
        Some(names) => names,
        None => src
            .catalog()
            .await
            .map_err(|e| format!("listing the source: {e}"))?,
    };
    let repos: Vec<String> = repos
        .into_iter()
        .filter(|r| spec.in_source_space(r) && spec.admits("repository", r))
        .collect();
    let exact_tags = spec.exact("tag");
    let listed: Vec<Vec<(String, String, bool)>> = stream::iter(repos)
        .map(|repo| {
            let exact_tags = exact_tags.clone();
            async move {
                let tags = match exact_tags {
                    Some(t) => t,
                    None => match src.tags(&repo).await {
                        Ok(t) => t,
                        Err(OciError::NotFound(_)) => Vec::new(),
                        Err(e) => return Err(format!("listing tags of {repo}: {e}")),
                    },
                };
                let tags = tags.into_iter().filter(|t| {
                    !berth_oci::reference::is_referrers_tag(t) && spec.admits("tag", t)
                });
                let checked = tags.map(|tag| {
                    let record = recorded.get(&(repo.clone(), tag.clone())).cloned();
                    let repo = repo.clone();
                    async move {
                        let known = match record {
                            Some((_, true)) => true,
                            Some((digest, false)) => src
                                .head_manifest(&repo, &tag)
                                .await
                                .ok()
                                .flatten()
                                .is_some_and(|h| h.digest == digest),
                            None => false,
                        };
                        (repo, tag, known)
                    }
                });
                Ok(futures::future::join_all(checked).await)
            }
        })
        .buffered(LISTING_IN_FLIGHT)
        .try_collect()
        .await?;
    Ok(listed.into_iter().flatten().collect())
}

impl Replication {
    /// Plans execution `id` (idempotent).
    pub async fn plan(&self, id: &str) -> Result<()> {
        let m = match self.execution_row(id).await {
            Ok(m) => m,
            Err(ReplicationError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        if m.status.is_final() {
            return Ok(());
        }
        // From the run's request to its planning: the hop through the outbox and the bus.
        if m.status == Status::Pending {
            let waited = (Utc::now() - m.started_at).to_std().unwrap_or_default();
            metrics::histogram!("berth_replication_phase_seconds", "phase" => "start")
                .record(waited.as_secs_f64());
        }
        execution::Entity::update_many()
            .col_expr(execution::Column::Status, Expr::value(Status::Running))
            .filter(execution::Column::Id.eq(id))
            .filter(execution::Column::Status.eq(Status::Pending))
            .exec(&self.db)
            .await?;
        let spec = match self.policy(&m.policy).await {
            Ok((_, spec)) => spec,
            Err(ReplicationError::NotFound(e)) => return self.fail(id, &e).await,
            Err(e) => return Err(e),
        };
        let src = match self.client(&spec.source_registry).await {
            Ok(c) => c,
            Err(ReplicationError::Upstream(e)) if e.code == berth_error::ErrorCode::NotFound => {
                return self
                    .fail(id, &format!("source registry: {}", e.message))
                    .await
            }
            Err(e) => return Err(e),
        };
        // Trust records younger than the verify interval, unless this run verifies. A
        // platform filter rewrites indexes, so the source digest says nothing there.
        let fresh_after = Utc::now()
            - chrono::Duration::from_std(self.tuning.verify_interval)
                .unwrap_or(chrono::Duration::hours(24));
        let recorded: Recorded = if m.verify || !spec.platforms.is_empty() {
            HashMap::new()
        } else {
            let since = crate::records::notifying_since(&self.db, &spec.source_registry).await?;
            crate::records::load(&self.db, &m.policy)
                .await?
                .into_iter()
                .filter(|(_, (_, at))| *at > fresh_after)
                .map(|(k, (digest, at))| (k, (digest, since.is_some_and(|s| s < at))))
                .collect()
        };
        let surveying = std::time::Instant::now();
        let artifacts = match survey(&spec, &src, &recorded).await {
            Ok(a) => a,
            Err(e) => return self.fail(id, &e).await,
        };
        crate::phase("plan", surveying);
        let mut tasks = Vec::new();
        let mut skipped = 0i64;
        for (repo, tag, known) in &artifacts {
            if *known {
                skipped += 1;
                continue;
            }
            let t = task_for(id, &m.policy, &spec, repo, tag);
            tasks.push(t);
        }
        execution::Entity::update_many()
            .col_expr(
                execution::Column::Total,
                Expr::value(artifacts.len() as i64),
            )
            .col_expr(execution::Column::Known, Expr::value(skipped))
            .filter(execution::Column::Id.eq(id))
            // A plan delivered again (after a failure midway) keeps the first counts: by now
            // its finished tasks have records and would count twice.
            .filter(execution::Column::Total.eq(0))
            .exec(&self.db)
            .await?;
        tracing::info!(execution = %id, artifacts = artifacts.len(), known = skipped, tasks = tasks.len(), survey_ms = surveying.elapsed().as_millis() as u64, "execution planned");
        if self.execution_row(id).await?.status != Status::Running {
            // Cancelled while the source was surveyed: queue nothing.
            return Ok(());
        }
        let queueing = std::time::Instant::now();
        enqueue_tasks(&self.db, &self.outbox, tasks).await?;
        crate::phase("queue", queueing);
        self.finish_if_done(id).await
    }

    /// Fails an execution before any task ran.
    pub(crate) async fn fail(&self, id: &str, error: &str) -> Result<()> {
        tracing::warn!(execution = %id, error, "execution failed");
        let m = self.execution_row(id).await?;
        let c = Counts {
            total: m.total.max(0) as u64,
            ..Default::default()
        };
        self.close(id, &ACTIVE, Status::Failed, error, c).await?;
        Ok(())
    }
}
