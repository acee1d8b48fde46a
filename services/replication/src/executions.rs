//! Executions: a run of a policy, and its tasks (one per artifact).
//!
//! A run records the execution and its planning job in one transaction (the job goes out through
//! the outbox); the planner ([`crate::plan`]) adds the tasks, workers ([`crate::worker`]) copy
//! them. Progress is read from the tasks while an execution runs, and stored on the execution
//! when it ends. One manual or cron execution per policy runs at a time; push executions (one
//! artifact each) may overlap.

use std::time::Duration;

use berth_bus::Message;
use berth_proto::v1::{Execution, Task};
use chrono::Utc;
use futures::Stream;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use crate::entity::{execution, task};
use crate::error::{ReplicationError, Result};
use crate::Replication;

/// Message type of planning jobs.
pub const PLAN: &str = "replication.plan";
/// Message type of copy tasks: the `replication.task` work queue.
pub const TASK: &str = "replication.task";

#[derive(Debug, Serialize, Deserialize)]
pub struct PlanJob {
    pub execution: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct TaskJob {
    pub task: String,
}

pub use crate::entity::{Action, Status};

/// Statuses of executions and tasks not yet ended.
pub const ACTIVE: [Status; 2] = Status::ACTIVE;

pub(crate) fn timestamp(t: chrono::DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// Counts of an execution.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub skipped: u64,
    pub bytes: u64,
}

#[derive(FromQueryResult)]
struct StatusRow {
    status: Status,
    n: i64,
    bytes: Option<i64>,
}

fn to_proto(m: &execution::Model, c: Counts) -> Execution {
    Execution {
        id: m.id.clone(),
        policy: m.policy.clone(),
        status: m.status.as_str().into(),
        total: c.total,
        succeeded: c.succeeded,
        failed: c.failed,
        skipped: c.skipped,
        bytes: c.bytes,
        started_at: Some(timestamp(m.started_at)),
        finished_at: m.finished_at.map(timestamp),
        error: m.error.clone(),
        trigger: m.trigger.clone(),
    }
}

fn stored(m: &execution::Model) -> Counts {
    Counts {
        total: m.total.max(0) as u64,
        succeeded: m.succeeded.max(0) as u64,
        failed: m.failed.max(0) as u64,
        skipped: m.skipped.max(0) as u64,
        bytes: m.bytes.max(0) as u64,
    }
}

pub(crate) fn task_to_proto(t: &task::Model) -> Task {
    Task {
        id: t.id.clone(),
        execution: t.execution.clone(),
        source_repository: t.source_repository.clone(),
        destination_repository: t.destination_repository.clone(),
        reference: t.reference.clone(),
        status: t.status.as_str().into(),
        attempts: t.attempts.max(0) as u32,
        bytes: t.bytes.max(0) as u64,
        digest: t.digest.clone(),
        error: t.error.clone(),
        started_at: t.started_at.map(timestamp),
        finished_at: t.finished_at.map(timestamp),
        worker: t.worker.clone(),
    }
}

/// A new task row for `execution`; its id is derived from the artifact, so planning twice adds
/// nothing.
pub(crate) fn new_task(
    execution: &str,
    policy: &str,
    source: &str,
    destination: &str,
    tag: &str,
) -> task::ActiveModel {
    let id = uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("{execution}\n{source}:{tag}").as_bytes(),
    );
    task::ActiveModel {
        id: Set(id.to_string()),
        execution: Set(execution.into()),
        policy: Set(policy.into()),
        source_repository: Set(source.into()),
        destination_repository: Set(destination.into()),
        reference: Set(tag.into()),
        status: Set(Status::Pending),
        attempts: Set(0),
        bytes: Set(0),
        digest: Set(String::new()),
        error: Set(String::new()),
        claim: Set(String::new()),
        started_at: Set(None),
        finished_at: Set(None),
        action: Set(Action::Copy),
        // A task nobody claims within this is requeued by the sweeper (its message was lost,
        // or given up on while the database was down); claims ignore it.
        lease_until: Set(Some(Utc::now() + crate::worker::unclaimed_grace())),
        worker: Set(String::new()),
    }
}

/// The task copying `source:tag` for a policy: to its destination repository, or already failed
/// when the policy's naming leaves nothing of the source path.
pub(crate) fn task_for(
    execution: &str,
    policy: &str,
    spec: &crate::policies::Spec,
    source: &str,
    tag: &str,
) -> task::ActiveModel {
    match spec.destination_repository(source) {
        Ok(dst) => new_task(execution, policy, source, &dst, tag),
        Err(e) => {
            let mut t = new_task(execution, policy, source, "", tag);
            t.status = Set(Status::Failed);
            t.error = Set(e);
            t.finished_at = Set(Some(Utc::now()));
            t
        }
    }
}

/// A new execution row.
pub(crate) fn new_execution(policy: &str, trigger: &str, verify: bool) -> execution::ActiveModel {
    execution::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        policy: Set(policy.into()),
        status: Set(Status::Pending),
        total: Set(0),
        succeeded: Set(0),
        failed: Set(0),
        skipped: Set(0),
        bytes: Set(0),
        error: Set(String::new()),
        started_at: Set(Utc::now()),
        finished_at: Set(None),
        trigger: Set(trigger.into()),
        known: Set(0),
        verify: Set(verify),
    }
}

impl Replication {
    /// Starts a run of `policy`; answers the pending execution at once.
    pub async fn run(&self, policy: &str, trigger: &str, verify: bool) -> Result<Execution> {
        let (_, spec) = self.policy(policy).await?;
        let running = execution::Entity::find()
            .filter(execution::Column::Policy.eq(policy))
            .filter(execution::Column::Status.is_in(ACTIVE))
            .filter(execution::Column::Trigger.ne("push"))
            .one(&self.db)
            .await?;
        if let Some(r) = running.filter(|_| !spec.allow_overlap) {
            return Err(ReplicationError::Conflict(format!(
                "policy {policy:?} is already running (execution {})",
                r.id
            )));
        }
        let tx = self.db.begin().await?;
        let row = new_execution(policy, trigger, verify).insert(&tx).await?;
        let job = Message::new(
            PLAN,
            &PlanJob {
                execution: row.id.clone(),
            },
        );
        self.outbox.enqueue(&tx, &job).await.map_err(db_error)?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(to_proto(&row, Counts::default()))
    }

    pub(crate) async fn execution_row(&self, id: &str) -> Result<execution::Model> {
        execution::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .ok_or_else(|| ReplicationError::NotFound(format!("execution {id:?} not found")))
    }

    /// Counts of an execution from its tasks (while it runs).
    pub(crate) async fn count(&self, m: &execution::Model) -> Result<Counts> {
        let rows = StatusRow::find_by_statement(
            self.db.get_database_backend().build(
                sea_orm::sea_query::Query::select()
                    .column(task::Column::Status)
                    .expr_as(
                        Expr::col(task::Column::Id).count(),
                        sea_orm::sea_query::Alias::new("n"),
                    )
                    // PostgreSQL sums BIGINT into NUMERIC; keep it an integer everywhere.
                    .expr_as(
                        Expr::cust("CAST(SUM(bytes) AS BIGINT)"),
                        sea_orm::sea_query::Alias::new("bytes"),
                    )
                    .from(task::Entity)
                    .and_where(Expr::col(task::Column::Execution).eq(m.id.clone()))
                    .group_by_col(task::Column::Status),
            ),
        )
        .all(&self.db)
        .await?;
        let mut c = Counts {
            total: m.total.max(0) as u64,
            skipped: m.known.max(0) as u64,
            ..Default::default()
        };
        for r in rows {
            let n = r.n.max(0) as u64;
            c.bytes += r.bytes.unwrap_or(0).max(0) as u64;
            match r.status {
                Status::Succeeded => c.succeeded += n,
                Status::Failed => c.failed += n,
                Status::Skipped => c.skipped += n,
                _ => {}
            }
        }
        Ok(c)
    }

    async fn describe(&self, m: &execution::Model) -> Result<Execution> {
        let counts = if m.finished_at.is_some() {
            stored(m)
        } else {
            self.count(m).await?
        };
        Ok(to_proto(m, counts))
    }

    pub async fn get_execution(&self, id: &str) -> Result<Execution> {
        let m = self.execution_row(id).await?;
        self.describe(&m).await
    }

    /// Executions, newest first, optionally of one policy.
    pub async fn list_executions(&self, policy: &str, limit: u64) -> Result<Vec<Execution>> {
        let mut q = execution::Entity::find()
            .order_by_desc(execution::Column::Id)
            .limit(limit);
        if !policy.is_empty() {
            q = q.filter(execution::Column::Policy.eq(policy));
        }
        let mut out = Vec::new();
        for m in q.all(&self.db).await? {
            out.push(self.describe(&m).await?);
        }
        Ok(out)
    }

    /// Tasks of an execution in id order, after `after`, optionally in one status.
    pub async fn list_tasks(
        &self,
        execution_id: &str,
        status: &str,
        after: &str,
        limit: u64,
    ) -> Result<Vec<Task>> {
        self.execution_row(execution_id).await?;
        let mut q = task::Entity::find()
            .filter(task::Column::Execution.eq(execution_id))
            .order_by_asc(task::Column::Id)
            .limit(limit);
        if !status.is_empty() {
            let Some(status) = Status::parse(status) else {
                return Err(ReplicationError::invalid(
                    "status",
                    "must be pending, running, succeeded, failed, cancelled or skipped",
                ));
            };
            q = q.filter(task::Column::Status.eq(status));
        }
        if !after.is_empty() {
            q = q.filter(task::Column::Id.gt(after));
        }
        Ok(q.all(&self.db).await?.iter().map(task_to_proto).collect())
    }

    /// Ends the execution when no task is left to run: succeeded, or failed if any task
    /// failed. Only the first caller to see it so records the end.
    pub(crate) async fn finish_if_done(&self, id: &str) -> Result<()> {
        let open = task::Entity::find()
            .filter(task::Column::Execution.eq(id))
            .filter(task::Column::Status.is_in(ACTIVE))
            .count(&self.db)
            .await?;
        if open > 0 {
            return Ok(());
        }
        let m = self.execution_row(id).await?;
        if m.status != Status::Running {
            return Ok(());
        }
        let c = self.count(&m).await?;
        // Only a cancel ends tasks `cancelled`; one that died before recording the
        // execution's end leaves it to this.
        let cancelled = task::Entity::find()
            .filter(task::Column::Execution.eq(id))
            .filter(task::Column::Status.eq(Status::Cancelled))
            .count(&self.db)
            .await?;
        let (status, error) = if cancelled > 0 {
            (Status::Cancelled, "cancelled".to_string())
        } else if c.failed > 0 {
            (
                Status::Failed,
                format!("{} of {} artifacts failed to copy", c.failed, c.total),
            )
        } else {
            (Status::Succeeded, String::new())
        };
        self.close(&m.id, &[Status::Running], status, &error, c)
            .await?;
        Ok(())
    }

    /// Records the end of an execution if it is still in one of `from`.
    pub(crate) async fn close(
        &self,
        id: &str,
        from: &[Status],
        status: Status,
        error: &str,
        c: Counts,
    ) -> Result<bool> {
        let done = execution::Entity::update_many()
            .col_expr(execution::Column::Status, Expr::value(status))
            .col_expr(execution::Column::Error, Expr::value(error))
            .col_expr(execution::Column::Total, Expr::value(c.total as i64))
            .col_expr(
                execution::Column::Succeeded,
                Expr::value(c.succeeded as i64),
            )
            .col_expr(execution::Column::Failed, Expr::value(c.failed as i64))
            .col_expr(execution::Column::Skipped, Expr::value(c.skipped as i64))
            .col_expr(execution::Column::Bytes, Expr::value(c.bytes as i64))
            .col_expr(execution::Column::FinishedAt, Expr::value(Utc::now()))
            .filter(execution::Column::Id.eq(id))
            .filter(execution::Column::Status.is_in(from.iter().copied()))
            .exec(&self.db)
            .await?
            .rows_affected
            == 1;
        if done {
            metrics::counter!("berth_replication_executions_total", "status" => status.as_str())
                .increment(1);
            metrics::counter!("berth_replication_bytes_total").increment(c.bytes);
            tracing::info!(execution = %id, status = status.as_str(), total = c.total, succeeded = c.succeeded, failed = c.failed, skipped = c.skipped, bytes = c.bytes, "execution finished");
        }
        Ok(done)
    }

    /// Cancels an execution: tasks not yet finished are cancelled, and workers interrupt the
    /// transfers they have in flight. Cancelling a finished execution changes nothing.
    pub async fn cancel(&self, id: &str) -> Result<Execution> {
        let m = self.execution_row(id).await?;
        if m.status.is_final() {
            return self.describe(&m).await;
        }
        task::Entity::update_many()
            .col_expr(task::Column::Status, Expr::value(Status::Cancelled))
            .col_expr(task::Column::FinishedAt, Expr::value(Utc::now()))
            .filter(task::Column::Execution.eq(id))
            .filter(task::Column::Status.is_in(ACTIVE))
            .exec(&self.db)
            .await?;
        let c = self.count(&m).await?;
        self.close(id, &ACTIVE, Status::Cancelled, "cancelled", c)
            .await?;
        self.get_execution(id).await
    }

    /// The execution now and whenever it changes, until it ends.
    pub fn watch(&self, id: String) -> impl Stream<Item = Result<Execution>> + Send + 'static {
        let this = self.clone();
        futures::stream::unfold(
            (this, id, None::<Execution>, false),
            |(this, id, last, done)| async move {
                if done {
                    return None;
                }
                loop {
                    let now = match this.get_execution(&id).await {
                        Ok(e) => e,
                        Err(e) => return Some((Err(e), (this, id, last, true))),
                    };
                    let ended = Status::parse(&now.status).is_none_or(Status::is_final);
                    if last.as_ref() != Some(&now) {
                        return Some((Ok(now.clone()), (this, id, Some(now), ended)));
                    }
                    if ended {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            },
        )
    }
}

pub(crate) fn db_error(e: anyhow::Error) -> ReplicationError {
    ReplicationError::Db(sea_orm::DbErr::Custom(e.to_string()))
}

/// Inserts tasks and their jobs in one transaction.
pub(crate) async fn enqueue_tasks(
    db: &DatabaseConnection,
    outbox: &berth_bus::outbox::Outbox,
    tasks: Vec<task::ActiveModel>,
) -> Result<()> {
    for chunk in tasks.chunks(200) {
        let tx = db.begin().await?;
        for t in chunk {
            let id = t.id.clone().unwrap();
            // One statement both skips a task planned before and adds a new one.
            let added = task::Entity::insert(t.clone())
                .on_conflict(
                    sea_orm::sea_query::OnConflict::column(task::Column::Id)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&tx)
                .await?;
            if added == 1 && t.status.clone().unwrap() == Status::Pending {
                outbox
                    .enqueue(&tx, &Message::new(TASK, &TaskJob { task: id }))
                    .await
                    .map_err(db_error)?;
            }
        }
        tx.commit().await?;
        outbox.notify();
    }
    Ok(())
}
