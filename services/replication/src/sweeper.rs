//! Ends executions whose last task finished in a worker that died before recording the end.
//! Every replica looks every half minute; ending an execution is a conditional update, so
//! replicas racing each other record it once.

use std::time::Duration;

use berth_runtime::Shutdown;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::entity::{execution, task};
use crate::Replication;

const EVERY: Duration = Duration::from_secs(30);

/// Sweeps until shutdown.
pub async fn run(replication: Replication, shutdown: Shutdown) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + EVERY, EVERY);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = ticker.tick() => {}
        }
        if let Err(e) = replication.sweep().await {
            tracing::warn!(error = %e, "execution sweep failed");
        }
    }
}

impl Replication {
    /// Ends every running execution that is fully planned and has no task left to run.
    pub async fn sweep(&self) -> crate::error::Result<u64> {
        let running = execution::Entity::find()
            .filter(execution::Column::Status.eq("running"))
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
            if self.execution_row(&e.id).await?.status != "running" {
                tracing::info!(execution = %e.id, "swept an execution whose end was not recorded");
                ended += 1;
            }
        }
        Ok(ended)
    }
}
