//! Registry events.
//!
//! - `artifact.pushed`: every enabled push policy whose source selects the artifact gets an
//!   execution with exactly one task, queued without listing anything; what the policies
//!   recorded for that tag is forgotten, so the next full run looks at it again.
//! - `artifact.deleted`: records are forgotten, and policies with delete propagation delete the
//!   same manifest at their destination.

use berth_bus::{Handler, HandlerError, Message, Subscription};
use berth_oci::OciError;
use berth_proto::v1::{ArtifactDeleted, ArtifactPushed};
use sea_orm::{ActiveModelTrait, TransactionTrait};

use crate::error::Result;
use crate::executions::{db_error, new_execution, task_for, TaskJob, TASK};
use crate::policies::Spec;
use crate::Replication;

/// The queue replication workers share for registry events.
pub fn subscription() -> Subscription {
    Subscription::new(
        "replication.pushes",
        &["artifact.pushed", "artifact.deleted"],
    )
}

pub struct EventHandler(pub Replication);

#[async_trait::async_trait]
impl Handler for EventHandler {
    async fn handle(&self, m: &Message) -> std::result::Result<(), HandlerError> {
        let result = match m.kind.as_str() {
            "artifact.pushed" => {
                let event: ArtifactPushed = m
                    .payload()
                    .map_err(|e| HandlerError::Reject(format!("bad artifact.pushed: {e}")))?;
                self.0.on_push(&event).await
            }
            "artifact.deleted" => {
                let event: ArtifactDeleted = m
                    .payload()
                    .map_err(|e| HandlerError::Reject(format!("bad artifact.deleted: {e}")))?;
                self.0.on_delete(&event).await
            }
            _ => Ok(()),
        };
        result.map_err(|e| HandlerError::Retry(e.to_string()))
    }
}

/// Whether a policy's source selects `repository` (and `tag`, when given) of `registry`.
fn selects(spec: &Spec, registry: &str, repository: &str, tag: Option<&str>) -> bool {
    spec.source_registry == registry
        && spec.in_source_space(repository)
        && spec.admits("repository", repository)
        && tag.is_none_or(|t| spec.admits("tag", t))
}

impl Replication {
    /// Queues a one-task execution of every push policy that selects the pushed artifact.
    pub async fn on_push(&self, event: &ArtifactPushed) -> Result<()> {
        crate::records::notified(&self.db, &event.registry).await?;
        crate::records::forget(
            &self.db,
            &event.registry,
            &event.repository,
            Some(&event.tag),
        )
        .await?;
        for (row, spec) in self.specs().await? {
            let name = row.name;
            if spec.trigger != "push"
                || !spec.enabled
                || crate::plan::is_referrers_tag(&event.tag)
                || !selects(&spec, &event.registry, &event.repository, Some(&event.tag))
            {
                continue;
            }
            let mut e = new_execution(&name, "push", false);
            e.status = sea_orm::Set("running".into());
            e.total = sea_orm::Set(1);
            let tx = self.db.begin().await?;
            let e = e.insert(&tx).await?;
            let t = task_for(&e.id, &name, &spec, &event.repository, &event.tag);
            let pending = t.status.clone().unwrap() == "pending";
            let t = t.insert(&tx).await?;
            if pending {
                self.outbox
                    .enqueue(&tx, &Message::new(TASK, &TaskJob { task: t.id }))
                    .await
                    .map_err(db_error)?;
            }
            tx.commit().await?;
            self.outbox.notify();
            if !pending {
                self.finish_if_done(&e.id).await?;
            }
            tracing::info!(policy = %name, execution = %e.id, repository = %event.repository, tag = %event.tag, "push execution queued");
        }
        Ok(())
    }

    /// Forgets records of a deleted artifact and propagates the deletion where asked.
    pub async fn on_delete(&self, event: &ArtifactDeleted) -> Result<()> {
        let tag = (!event.tag.is_empty()).then_some(event.tag.as_str());
        crate::records::notified(&self.db, &event.registry).await?;
        crate::records::forget(&self.db, &event.registry, &event.repository, tag).await?;
        if event.digest.is_empty() {
            return Ok(());
        }
        for (row, spec) in self.specs().await? {
            let name = row.name;
            if !spec.delete_propagation
                || !spec.enabled
                || !selects(&spec, &event.registry, &event.repository, None)
            {
                continue;
            }
            let Ok(dst_repo) = spec.destination_repository(&event.repository) else {
                continue;
            };
            let dst = self.client(&spec.destination_registry).await?;
            match dst.delete_manifest(&dst_repo, &event.digest).await {
                Ok(()) | Err(OciError::NotFound(_)) => {
                    tracing::info!(policy = %name, repository = %dst_repo, digest = %event.digest, "deletion propagated")
                }
                Err(e) => {
                    tracing::warn!(policy = %name, repository = %dst_repo, digest = %event.digest, error = %e, "could not propagate a deletion")
                }
            }
        }
        Ok(())
    }
}
