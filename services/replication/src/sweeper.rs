//! Ends executions whose last task finished in a worker that died before recording the end,
//! and requeues tasks whose worker died holding them (their lease ran out unrenewed). Every
//! replica looks; both are conditional updates, so replicas racing each
//! other do each once. The sweep runs every ten seconds. On a bus that is not durable (embedded mode) the
//! unfinished work is also requeued at start ([`Replication::requeue_unfinished`]).

use std::time::Duration;

use berth_runtime::Shutdown;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::entity::{execution, task};
use crate::executions::Status;
use crate::Replication;

const EVERY: Duration = Duration::from_secs(10);

/// Sweeps until shutdown.
pub async fn run(replication: Replication, shutdown: Shutdown) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + EVERY, EVERY);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = ticker.tick() => {}
        }
        if let Err(e) = replication.requeue_unplanned().await {
            tracing::warn!(error = %e, "planning sweep failed");
        }
        if let Err(e) = replication.requeue_abandoned().await {
            tracing::warn!(error = %e, "task sweep failed");
        }
        if let Err(e) = replication.sweep().await {
            tracing::warn!(error = %e, "execution sweep failed");
        }
        replication.publish_activity().await;
    }
}

/// How long an execution may wait for its planning to start before it is queued again.
const UNPLANNED: Duration = Duration::from_secs(15 * 60);

impl Replication {
    /// Sets `berth_replication_executions_active` (pending or running) and
    /// `berth_replication_tasks_pending` from the database, so every replica reports the
    /// same numbers.
    pub async fn publish_activity(&self) {
        let executions = execution::Entity::find()
            .filter(execution::Column::Status.is_in(Status::ACTIVE))
            .count(&self.db)
            .await;
        let tasks = task::Entity::find()
            .filter(task::Column::Status.eq(Status::Pending))
            .count(&self.db)
            .await;
        if let (Ok(executions), Ok(tasks)) = (executions, tasks) {
            metrics::gauge!("berth_replication_executions_active").set(executions as f64);
            metrics::gauge!("berth_replication_tasks_pending").set(tasks as f64);
        }
    }

    /// Queues planning again for executions whose planning never started within
    /// [`UNPLANNED`] (its message was lost, or given up on while the database was down), at
    /// most once per that interval across replicas (a lease in the shared cache). Planning is
    /// idempotent.
    pub async fn requeue_unplanned(&self) -> crate::error::Result<u64> {
        use berth_bus::Message;

        use crate::executions::{db_error, PlanJob, PLAN};

        let before =
            chrono::Utc::now() - chrono::Duration::from_std(UNPLANNED).expect("a short interval");
        let waiting = execution::Entity::find()
            .filter(execution::Column::Status.eq(Status::Pending))
            .filter(execution::Column::StartedAt.lt(before))
            .all(&self.db)
            .await?;
        let mut requeued = 0;
        for e in waiting {
            let lease = format!("replication:replan:{}", e.id);
            if !matches!(self.cache.set_nx(&lease, b"1", UNPLANNED).await, Ok(true)) {
                continue;
            }
            let job = PlanJob {
                execution: e.id.clone(),
            };
            self.outbox
                .enqueue(&self.db, &Message::new(PLAN, &job))
                .await
                .map_err(db_error)?;
            requeued += 1;
            tracing::info!(execution = %e.id, "queued planning again: it never started");
        }
        if requeued > 0 {
            self.outbox.notify();
        }
        Ok(requeued)
    }

    /// Requeues every task a lease says nobody is working on: running tasks whose worker
    /// died (or lost the database) without renewing its lease, waiting tasks nobody claimed in
    /// time (a retry whose message was lost with its channel, a message given up on while the
    /// database was down), and running tasks claimed
    /// before leases existed that outlived the task timeout. The broker may redeliver too;
    /// whichever delivery comes first claims the task, and the other finds it held.
    pub async fn requeue_abandoned(&self) -> crate::error::Result<u64> {
        use berth_bus::Message;
        use sea_orm::sea_query::Expr;
        use sea_orm::{Condition, TransactionTrait};

        use crate::executions::{db_error, TaskJob, ACTIVE, TASK};

        let now = chrono::Utc::now();
        let before_leases = now
            - chrono::Duration::from_std(self.tuning.task_timeout)
                .unwrap_or(chrono::Duration::hours(1));
        let abandoned = || {
            Condition::any()
                .add(
                    Condition::all()
                        .add(task::Column::Status.is_in(ACTIVE))
                        .add(task::Column::LeaseUntil.lt(now)),
                )
                .add(
                    Condition::all()
                        .add(task::Column::Status.eq(Status::Running))
                        .add(task::Column::LeaseUntil.is_null())
                        .add(task::Column::StartedAt.lt(before_leases)),
                )
        };
        let found = task::Entity::find()
            .filter(abandoned())
            .all(&self.db)
            .await?;
        let mut requeued = 0;
        for t in found {
            let tx = self.db.begin().await?;
            let reset = task::Entity::update_many()
                .col_expr(task::Column::Status, Expr::value(Status::Pending))
                .col_expr(task::Column::Claim, Expr::value(""))
                .col_expr(
                    task::Column::LeaseUntil,
                    Expr::value(Some(now + crate::worker::unclaimed_grace())),
                )
                .filter(task::Column::Id.eq(t.id.clone()))
                .filter(abandoned())
                .exec(&tx)
                .await?
                .rows_affected;
            if reset == 1 {
                self.outbox
                    .enqueue(&tx, &Message::new(TASK, &TaskJob { task: t.id.clone() }))
                    .await
                    .map_err(db_error)?;
                requeued += 1;
                tracing::info!(task = %t.id, worker = %t.worker, status = t.status.as_str(), "requeued a task nobody holds");
            }
            tx.commit().await?;
        }
        if requeued > 0 {
            self.outbox.notify();
        }
        Ok(requeued)
    }

    /// Ends every running execution that is fully planned and has no task left to run.
    pub async fn sweep(&self) -> crate::error::Result<u64> {
        let running = execution::Entity::find()
            .filter(execution::Column::Status.eq(Status::Running))
            .filter(execution::Column::Total.gt(0))
            .all(&self.db)
            .await?;
        let mut ended = 0;
        for e in running {
            // Planned: every artifact is a task or was known. (Planning sets the total and the
            // known count before it queues the tasks.)
            let tasks = task::Entity::find()
                .filter(task::Column::Execution.eq(e.id.clone()))
                .count(&self.db)
                .await?;
            if tasks as i64 + e.known != e.total {
                continue;
            }
            self.finish_if_done(&e.id).await?;
            if self.execution_row(&e.id).await?.status != Status::Running {
                tracing::info!(execution = %e.id, "swept an execution whose end was not recorded");
                ended += 1;
            }
        }
        Ok(ended)
    }
}

impl Replication {
    /// Requeues the work the tables say is still to do: planning of executions not fully
    /// planned, and every task not finished (claims of the tasks that were running are void).
    /// Only for a bus whose messages did not survive the last process (embedded mode), where
    /// nothing else can still be doing that work; planning again queues nothing twice.
    pub async fn requeue_unfinished(&self) -> crate::error::Result<(u64, u64)> {
        use berth_bus::Message;
        use sea_orm::sea_query::Expr;
        use sea_orm::TransactionTrait;

        use crate::executions::{db_error, PlanJob, TaskJob, ACTIVE, PLAN, TASK};

        let open = execution::Entity::find()
            .filter(execution::Column::Status.is_in(ACTIVE))
            .all(&self.db)
            .await?;
        let (mut plans, mut tasks) = (0, 0);
        for e in open {
            let tx = self.db.begin().await?;
            let listed = task::Entity::find()
                .filter(task::Column::Execution.eq(e.id.clone()))
                .count(&tx)
                .await?;
            if e.total == 0 || listed as i64 + e.known != e.total {
                let job = PlanJob {
                    execution: e.id.clone(),
                };
                self.outbox
                    .enqueue(&tx, &Message::new(PLAN, &job))
                    .await
                    .map_err(db_error)?;
                plans += 1;
            }
            let unfinished = task::Entity::find()
                .filter(task::Column::Execution.eq(e.id.clone()))
                .filter(task::Column::Status.is_in(ACTIVE))
                .all(&tx)
                .await?;
            task::Entity::update_many()
                .col_expr(task::Column::Status, Expr::value(Status::Pending))
                .col_expr(task::Column::Claim, Expr::value(""))
                .col_expr(
                    task::Column::LeaseUntil,
                    Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
                )
                .filter(task::Column::Execution.eq(e.id.clone()))
                .filter(task::Column::Status.is_in(ACTIVE))
                .exec(&tx)
                .await?;
            for t in unfinished {
                self.outbox
                    .enqueue(&tx, &Message::new(TASK, &TaskJob { task: t.id }))
                    .await
                    .map_err(db_error)?;
                tasks += 1;
            }
            tx.commit().await?;
        }
        self.outbox.notify();
        if plans + tasks > 0 {
            tracing::info!(plans, tasks, "requeued unfinished work after a restart");
        }
        Ok((plans, tasks))
    }
}
