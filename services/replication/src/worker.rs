//! Workers: consumers of the `replication.task` work queue. Every replication process is one;
//! they compete for tasks, so running more processes copies more at once.
//!
//! A delivery claims its task (a fresh claim token, one more attempt, a lease the worker renews
//! every tick) and copies it. Only the holder of the current claim may finish the task, so a
//! task redelivered after a worker died is finished once even if the old worker comes back. A
//! delivery of a task whose lease is live is a duplicate (a message published twice) and is
//! dropped; a task whose worker died holding it is claimed again once its lease has run out
//! (by the broker's redelivery, or by the sweeper that requeues it). While copying, the worker publishes the
//! bytes moved every half second and stops at once when the execution is cancelled; a task that
//! outlives the hard timeout is interrupted. Transient failures go back to the queue with
//! backoff until the attempt budget is spent; then the task fails with the last error.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use berth_bus::{Handler, HandlerError, Message, Subscription};
use berth_oci::OciError;
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::copy::{Copier, Outcome, CHUNK};
use crate::entity::{execution, task};
use crate::error::{ReplicationError, Result};
use crate::executions::{Action, Status, TaskJob, ACTIVE, TASK};
use crate::policies::Spec;
use crate::{Replication, Tuning};

const TICK: Duration = Duration::from_millis(500);
/// How long a claim holds its task without renewal. Replicas compare it with their own clocks:
/// it must exceed their skew by far.
pub(crate) const LEASE: Duration = Duration::from_secs(30);

/// How long a waiting task may go unclaimed before the sweeper sends it again. Tasks queued
/// behind many others may wait longer; they then get one more message (claims make it harmless).
const UNCLAIMED: Duration = Duration::from_secs(15 * 60);

pub(crate) fn unclaimed_grace() -> chrono::Duration {
    chrono::Duration::from_std(UNCLAIMED).expect("a short grace")
}

fn lease_from_now() -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(LEASE).expect("a short lease")
}

pub fn subscription(t: &Tuning) -> Subscription {
    let mut s = Subscription::new("replication.task", &[TASK]);
    s.prefetch = t.workers.max(1);
    s.backoff = t.retry_backoff;
    // The task counts its own attempts (redeliveries after a crash do not count at the bus);
    // the bus only must not give up first.
    s.max_attempts = t.task_attempts + 3;
    s
}

pub struct TaskHandler(pub Replication);

#[async_trait::async_trait]
impl Handler for TaskHandler {
    async fn handle(&self, m: &Message) -> std::result::Result<(), HandlerError> {
        let job: TaskJob = m
            .payload()
            .map_err(|e| HandlerError::Reject(format!("bad task job: {e}")))?;
        match self.0.work(&job.task).await {
            Ok(Step::Done) => Ok(()),
            Ok(Step::Retry(e)) => Err(HandlerError::Retry(e)),
            Err(e) => Err(HandlerError::Retry(e.to_string())),
        }
    }
}

/// What the queue should do with a task's message.
pub enum Step {
    Done,
    Retry(String),
}

/// Times the recording of a task's end (however `work` returns) as the `record` phase.
struct Recorded(std::time::Instant);

impl Drop for Recorded {
    fn drop(&mut self) {
        crate::phase("record", self.0);
    }
}

enum Ending {
    Copied(Outcome),
    /// A deletion was propagated.
    Deleted,
    /// A deletion was not propagated, for this reason.
    Left(String),
    Failed(OciError),
    TimedOut,
    Cancelled,
    /// Another delivery took the task over (this worker's lease ran out unrenewed): it is
    /// theirs to finish.
    Lost,
}

impl Replication {
    /// Runs one delivery of task `id`.
    pub async fn work(&self, id: &str) -> Result<Step> {
        let Some(t) = task::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
        else {
            return Ok(Step::Done);
        };
        if t.status.is_final() {
            return Ok(Step::Done);
        }
        if t.status == Status::Running && t.lease_until.is_some_and(|l| l >= Utc::now()) {
            return Ok(self.duplicate(&t));
        }
        let spec = match self.policy(&t.policy).await {
            Ok((_, spec)) => spec,
            Err(ReplicationError::NotFound(e)) => {
                self.settle(&t.id, &t.claim, Status::Failed, 0, "", &e)
                    .await?;
                self.finish_if_done(&t.execution).await?;
                return Ok(Step::Done);
            }
            Err(e) => return Err(e),
        };
        // Wait for a slot of the policy first, then look again: the execution may have been
        // cancelled meanwhile.
        let _slot = match self.throttles.slots(&t.policy, spec.concurrency) {
            Some(s) => Some(s.acquire_owned().await.expect("slots never close")),
            None => None,
        };
        // The claim itself refuses a task of a cancelled execution (one statement on the hot
        // path); only then is the task marked cancelled.
        let cancelled = Expr::exists(
            sea_orm::sea_query::Query::select()
                .expr(Expr::val(1))
                .from(execution::Entity)
                .and_where(
                    Expr::col((execution::Entity, execution::Column::Id))
                        .equals((task::Entity, task::Column::Execution)),
                )
                .and_where(execution::Column::Status.eq(Status::Cancelled))
                .to_owned(),
        );
        let claim = uuid::Uuid::now_v7().to_string();
        let now = Utc::now();
        let claimed = task::Entity::update_many()
            .col_expr(task::Column::Status, Expr::value(Status::Running))
            .col_expr(task::Column::Claim, Expr::value(claim.clone()))
            .col_expr(
                task::Column::Attempts,
                Expr::col(task::Column::Attempts).add(1),
            )
            .col_expr(task::Column::StartedAt, Expr::value(now))
            .col_expr(task::Column::LeaseUntil, Expr::value(lease_from_now()))
            .col_expr(task::Column::Worker, Expr::value(self.replica.as_ref()))
            .filter(task::Column::Id.eq(id))
            .filter(task::Column::Status.is_in(ACTIVE))
            // A running task under a live lease: another delivery holds it.
            .filter(
                sea_orm::Condition::any()
                    .add(task::Column::Status.eq(Status::Pending))
                    .add(task::Column::LeaseUntil.is_null())
                    .add(task::Column::LeaseUntil.lt(now)),
            )
            .filter(cancelled.not())
            .exec(&self.db)
            .await?
            .rows_affected;
        if claimed == 0 {
            if let Some(held) = task::Entity::find_by_id(id.to_string())
                .one(&self.db)
                .await?
                .filter(|h| h.status == Status::Running && h.lease_until.is_some_and(|l| l >= now))
            {
                return Ok(self.duplicate(&held));
            }
            if self.cancelled(&t.execution).await {
                task::Entity::update_many()
                    .col_expr(task::Column::Status, Expr::value(Status::Cancelled))
                    .col_expr(task::Column::FinishedAt, Expr::value(Utc::now()))
                    .filter(task::Column::Id.eq(id))
                    .filter(task::Column::Status.is_in(ACTIVE))
                    .exec(&self.db)
                    .await?;
            }
            return Ok(Step::Done);
        }
        let attempt = t.attempts + 1;
        let progress = Arc::new(AtomicU64::new(0));
        let copying = std::time::Instant::now();
        let ending = if t.action == Action::Delete {
            self.bounded(&t, &claim, None, self.propagate_delete(&spec, &t))
                .await
        } else {
            self.copy(&spec, &t, &claim, progress.clone()).await
        };
        crate::phase("copy", copying);
        if matches!(ending, Ending::Lost) {
            return Ok(Step::Done);
        }
        let _recorded = Recorded(std::time::Instant::now());
        // What a task records is what the destination holds: a copy that failed for good
        // after the destination got the artifact (an answer lost after the manifest was put)
        // is recorded as copied.
        let attempts = self.tuning.task_attempts as i32;
        let given_up = match &ending {
            Ending::Failed(e) => !(e.is_transient() && attempt < attempts),
            Ending::TimedOut => attempt >= attempts,
            _ => false,
        };
        let ending = if given_up && t.action == Action::Copy {
            match self.destination_holds(&spec, &t).await {
                Some(digest) => {
                    tracing::info!(task = %id, %digest, "the copy failed, but the destination holds the source's artifact");
                    Ending::Copied(Outcome::Copied { bytes: 0, digest })
                }
                None => ending,
            }
        } else {
            ending
        };
        let moved = progress.load(Ordering::Relaxed) as i64;
        let (status, digest, error, retry) = match ending {
            Ending::Deleted => (Status::Succeeded, t.digest.clone(), String::new(), false),
            Ending::Left(reason) => (Status::Skipped, String::new(), reason, false),
            Ending::Copied(Outcome::Copied { digest, .. }) => {
                (Status::Succeeded, digest, String::new(), false)
            }
            // On a later attempt an earlier one (of a worker that died, or whose settle was
            // lost) put the artifact there: this execution copied it.
            Ending::Copied(Outcome::UpToDate { digest }) if attempt > 1 => {
                (Status::Succeeded, digest, String::new(), false)
            }
            Ending::Copied(Outcome::UpToDate { digest }) => {
                (Status::Skipped, digest, String::new(), false)
            }
            Ending::Copied(Outcome::Kept { digest }) => (
                Status::Skipped,
                digest,
                "the destination tag points to another digest and the policy does not override"
                    .into(),
                false,
            ),
            Ending::Copied(Outcome::NoPlatform { digest }) => (
                Status::Skipped,
                digest,
                format!(
                    "the index has none of the platforms {}",
                    spec.platforms.join(", ")
                ),
                false,
            ),
            Ending::Copied(Outcome::Missing) => (
                Status::Skipped,
                String::new(),
                "the source has no such tag".into(),
                false,
            ),
            Ending::Cancelled => (Status::Cancelled, String::new(), "cancelled".into(), false),
            Ending::Lost => unreachable!("returned above"),
            Ending::TimedOut => (
                Status::Failed,
                String::new(),
                format!("timed out after {:?}", self.tuning.task_timeout),
                attempt < self.tuning.task_attempts as i32,
            ),
            Ending::Failed(e) => (
                Status::Failed,
                String::new(),
                e.to_string(),
                e.is_transient() && attempt < self.tuning.task_attempts as i32,
            ),
        };
        if retry {
            tracing::info!(task = %id, attempt, error = %error, "task failed, will retry");
            // A delete task keeps the digest it may delete for its next attempt.
            let keep = if t.action == Action::Delete {
                t.digest.as_str()
            } else {
                ""
            };
            self.settle(id, &claim, Status::Pending, moved, keep, &error)
                .await?;
            return Ok(Step::Retry(error));
        }
        let error = if status == Status::Failed && attempt > 1 {
            format!("{error} (after {attempt} attempts)")
        } else {
            error
        };
        if self
            .settle(id, &claim, status, moved, &digest, &error)
            .await?
        {
            if t.action == Action::Delete && status == Status::Succeeded {
                crate::records::forget_tag(&self.db, &t.policy, &t.source_repository, &t.reference)
                    .await?;
            } else if matches!(status, Status::Succeeded | Status::Skipped) && !digest.is_empty() {
                crate::records::remember(
                    &self.db,
                    &t.policy,
                    &spec.source_registry,
                    &t.source_repository,
                    &t.reference,
                    &digest,
                )
                .await?;
            }
            metrics::counter!("berth_replication_tasks_total", "status" => status.as_str())
                .increment(1);
            self.finish_if_done(&t.execution).await?;
        }
        Ok(Step::Done)
    }

    /// Copies the task's artifact, publishing progress, until done, cancelled or timed out.
    async fn copy(
        &self,
        spec: &Spec,
        t: &task::Model,
        claim: &str,
        progress: Arc<AtomicU64>,
    ) -> Ending {
        if !spec.scan_gate.is_empty() {
            match self.held_back(spec, t).await {
                Ok(None) => {}
                Ok(Some(reason)) => return Ending::Left(reason),
                Err(e) => {
                    return Ending::Failed(OciError::Connect {
                        host: "scan service".into(),
                        detail: e.to_string(),
                    })
                }
            }
        }
        let copy = async {
            // Inside the bounded loop: reaching the registry service renews nothing itself.
            let copier = match self.copier(spec, &t.policy, progress.clone()).await {
                Ok(c) => c,
                Err(e) => {
                    return Ending::Failed(OciError::Connect {
                        host: "registry service".into(),
                        detail: e.to_string(),
                    })
                }
            };
            match copier
                .copy_tag(
                    &t.source_repository,
                    &t.destination_repository,
                    &t.reference,
                    spec.overwrite,
                )
                .await
            {
                Ok(o) => Ending::Copied(o),
                Err(e) => Ending::Failed(e),
            }
        };
        self.bounded(t, claim, Some(&progress), copy).await
    }

    /// Runs `work` for task `t` under `claim` until it ends, the task times out or its
    /// execution is cancelled (checked every tick). Every tick renews the claim's lease and,
    /// with `progress`, publishes the bytes moved so far.
    async fn bounded(
        &self,
        t: &task::Model,
        claim: &str,
        progress: Option<&AtomicU64>,
        work: impl std::future::Future<Output = Ending>,
    ) -> Ending {
        // Tasks copying in this process, whichever way `bounded` returns.
        struct Running;
        impl Drop for Running {
            fn drop(&mut self) {
                metrics::gauge!("berth_replication_tasks_running").decrement(1.0);
            }
        }
        metrics::gauge!("berth_replication_tasks_running").increment(1.0);
        let _running = Running;
        let deadline = tokio::time::sleep(self.tuning.task_timeout);
        tokio::pin!(work, deadline);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + TICK, TICK);
        loop {
            tokio::select! {
                ending = &mut work => return ending,
                _ = &mut deadline => return Ending::TimedOut,
                _ = tick.tick() => {
                    // Renew the lease (and publish the bytes moved so far).
                    let mut renew = task::Entity::update_many()
                        .col_expr(task::Column::LeaseUntil, Expr::value(lease_from_now()))
                        .filter(task::Column::Id.eq(t.id.clone()))
                        .filter(task::Column::Claim.eq(claim));
                    if let Some(moved) = progress {
                        renew = renew.col_expr(
                            task::Column::Bytes,
                            Expr::value(moved.load(Ordering::Relaxed) as i64),
                        );
                    }
                    if let Ok(r) = renew.exec(&self.db).await {
                        if r.rows_affected == 0 {
                            tracing::warn!(task = %t.id, "lost the claim of a running task (its lease ran out): stopping");
                            return Ending::Lost;
                        }
                    }
                    if self.cancelled(&t.execution).await {
                        return Ending::Cancelled;
                    }
                }
            }
        }
    }

    /// Propagates a deletion (a `delete` task): only once the source confirms the tag is gone,
    /// and only what the policy put at the destination.
    async fn propagate_delete(&self, spec: &Spec, t: &task::Model) -> Ending {
        // The policy may have changed since the deletion was queued: it must still propagate
        // deletions, and still hold the record of what it put there from this source (a
        // policy that now reads or writes elsewhere forgot its records).
        if !spec.enabled || !spec.delete_propagation {
            return Ending::Left(
                "the policy no longer propagates deletions (changed after the deletion was queued)"
                    .into(),
            );
        }
        if !crate::triggers::selects(
            spec,
            &spec.source_registry,
            &t.source_repository,
            Some(&t.reference),
        ) {
            return Ending::Left(
                "the policy no longer selects this tag (changed after the deletion was queued)"
                    .into(),
            );
        }
        match crate::records::recorded(&self.db, &t.policy, &t.source_repository, &t.reference)
            .await
        {
            Ok(Some((registry, digest)))
                if registry == spec.source_registry && digest == t.digest => {}
            Ok(_) => {
                return Ending::Left(
                    "the policy's record of this tag changed after the deletion was queued (its registries changed, or it copied the tag again)"
                        .into(),
                )
            }
            Err(e) => {
                return Ending::Failed(OciError::Connect {
                    host: "replication database".into(),
                    detail: e.to_string(),
                })
            }
        }
        let clients = async {
            Ok::<_, ReplicationError>((
                self.clients.get(&spec.source_registry).await?.client,
                self.clients.get(&spec.destination_registry).await?.client,
            ))
        };
        let (src, dst) = match clients.await {
            Ok(c) => c,
            Err(e) => {
                return Ending::Failed(OciError::Connect {
                    host: "registry service".into(),
                    detail: e.to_string(),
                })
            }
        };
        match crate::deletes::propagate(
            &src,
            &dst,
            &t.source_repository,
            &t.destination_repository,
            &t.reference,
            &t.digest,
        )
        .await
        {
            Ok(crate::deletes::Deletion::Deleted) => Ending::Deleted,
            Ok(crate::deletes::Deletion::Left(reason)) => Ending::Left(reason),
            Err(e) => Ending::Failed(e),
        }
    }

    /// The digest the destination tag of copy task `t` points to, if it is the one the source
    /// tag points to now (not knowable under a platform filter, which rewrites indexes).
    async fn destination_holds(&self, spec: &Spec, t: &task::Model) -> Option<String> {
        if !spec.platforms.is_empty() {
            return None;
        }
        let src = self.clients.get(&spec.source_registry).await.ok()?.client;
        let dst = self
            .clients
            .get(&spec.destination_registry)
            .await
            .ok()?
            .client;
        let (s, d) = tokio::join!(
            src.head_manifest(&t.source_repository, &t.reference),
            dst.head_manifest(&t.destination_repository, &t.reference),
        );
        match (s, d) {
            (Ok(Some(s)), Ok(Some(d))) if s.digest == d.digest => Some(d.digest),
            _ => None,
        }
    }

    /// Drops a delivery of task `held`, which a live claim holds (the message was published
    /// twice, or the broker redelivered it while its first delivery still runs).
    fn duplicate(&self, held: &task::Model) -> Step {
        tracing::debug!(task = %held.id, worker = %held.worker, "dropped a delivery of a task another claim holds");
        metrics::counter!("berth_replication_duplicate_deliveries_total").increment(1);
        Step::Done
    }

    async fn cancelled(&self, execution_id: &str) -> bool {
        execution::Entity::find_by_id(execution_id.to_string())
            .one(&self.db)
            .await
            .ok()
            .flatten()
            .is_some_and(|e| e.status == Status::Cancelled)
    }

    /// A copier for a policy, with its registries' clients and this worker's shared state.
    pub(crate) async fn copier(
        &self,
        spec: &Spec,
        policy: &str,
        progress: Arc<AtomicU64>,
    ) -> Result<Copier> {
        let src = self.clients.get(&spec.source_registry).await?;
        let dst = self.clients.get(&spec.destination_registry).await?;
        Ok(Copier {
            same_registry: src.url == dst.url,
            // A mount from the repository itself both skips a blob it holds and opens the
            // upload of one it does not.
            mount_probe: berth_proto::RegistryKind::parse(&dst.kind)
                .is_some_and(berth_proto::RegistryKind::mounts_from_itself),
            src: src.client,
            dst: dst.client,
            dst_key: dst.url,
            platforms: spec.platforms.clone(),
            referrers: spec.copy_referrers,
            bandwidth: self.throttles.bandwidth(policy, spec.bandwidth_limit),
            flights: self.flights.clone(),
            progress,
            chunk: self.tuning.chunk_size.unwrap_or(CHUNK),
        })
    }

    /// Moves a task to `status` if `claim` still owns it; answers whether it did. A task put
    /// back to wait for a retry keeps a lease until its retry is due (and then some): if the
    /// retry message is lost (the channel that was to publish it died), the sweeper requeues
    /// the task once that lease runs out.
    async fn settle(
        &self,
        id: &str,
        claim: &str,
        status: Status,
        bytes: i64,
        digest: &str,
        error: &str,
    ) -> Result<bool> {
        let lease = (status == Status::Pending).then(|| {
            let wait = subscription(&self.tuning).max_backoff + LEASE;
            Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1))
        });
        let mut q = task::Entity::update_many()
            .col_expr(task::Column::Status, Expr::value(status))
            .col_expr(task::Column::Bytes, Expr::value(bytes))
            .col_expr(task::Column::Digest, Expr::value(digest))
            .col_expr(task::Column::Error, Expr::value(error))
            .col_expr(task::Column::LeaseUntil, Expr::value(lease))
            .filter(task::Column::Id.eq(id))
            .filter(task::Column::Claim.eq(claim))
            .filter(task::Column::Status.is_in(ACTIVE));
        if status.is_final() {
            q = q.col_expr(task::Column::FinishedAt, Expr::value(Utc::now()));
        }
        Ok(q.exec(&self.db).await?.rows_affected == 1)
    }
}

impl Replication {
    /// Why the policy's scan gate holds `t`'s artifact back, if it does: the scan service's
    /// verdict on the source artifact (unscanned artifacts are held back too).
    async fn held_back(
        &self,
        spec: &Spec,
        t: &task::Model,
    ) -> std::result::Result<Option<String>, berth_error::ApiError> {
        let Some(scan) = &self.scan else {
            return Err(berth_error::ApiError::failed_precondition(
                "the policy has a scan gate, but this replication service knows no scan \
                 service (BERTH_SCAN_ADDR)",
            ));
        };
        let space = t
            .source_repository
            .split_once('/')
            .map_or("", |(s, _)| s)
            .to_string();
        let verdict = scan
            .scans
            .clone()
            .evaluate_gate(berth_proto::v1::EvaluateGateRequest {
                registry: spec.source_registry.clone(),
                repository: t.source_repository.clone(),
                reference: t.reference.clone(),
                space,
                gate: spec.scan_gate.clone(),
                unscanned: "deny".into(),
            })
            .await
            .map_err(berth_runtime::clients::scan_error)?
            .into_inner();
        Ok((!verdict.allowed).then(|| format!("held back by the scan gate: {}", verdict.reason)))
    }
}
