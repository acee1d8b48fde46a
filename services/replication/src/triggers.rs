//! Registry events.
//!
//! - `artifact.pushed`: every enabled push policy whose source selects the artifact gets an
//!   execution with exactly one task, queued without listing anything; what the policies
//!   recorded for that tag is marked unverified, so the next full run looks at it again (the
//!   record itself stays: it is what a later deletion may remove at the destination).
//! - `artifact.deleted`: records are forgotten, and policies with delete propagation delete the
//!   same manifest at their destination.

use berth_bus::{Handler, HandlerError, Message, Subscription};
use berth_proto::v1::{ArtifactDeleted, ArtifactPushed};
use sea_orm::{ActiveModelTrait, TransactionTrait};

use crate::error::Result;
use crate::executions::{db_error, new_execution, task_for, Action, Status, TaskJob, TASK};
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
pub(crate) fn selects(spec: &Spec, registry: &str, repository: &str, tag: Option<&str>) -> bool {
    spec.source_registry == registry
        && spec.in_source_space(repository)
        && spec.admits("repository", repository)
        && tag.is_none_or(|t| spec.admits("tag", t))
}

impl Replication {
    /// Queues a one-task execution of every push policy that selects the pushed artifact.
    pub async fn on_push(&self, event: &ArtifactPushed) -> Result<()> {
        crate::records::notified(&self.db, &event.registry).await?;
        crate::records::stale(&self.db, &event.registry, &event.repository, &event.tag).await?;
        for (row, spec) in self.specs().await? {
            let name = row.name;
            if spec.trigger != "push"
                || !spec.enabled
                || berth_oci::reference::is_referrers_tag(&event.tag)
                || !selects(&spec, &event.registry, &event.repository, Some(&event.tag))
            {
                continue;
            }
            let mut e = new_execution(&name, "push", false);
            e.status = sea_orm::Set(Status::Running);
            e.total = sea_orm::Set(1);
            let tx = self.db.begin().await?;
            let e = e.insert(&tx).await?;
            let t = task_for(&e.id, &name, &spec, &event.repository, &event.tag);
            let pending = t.status.clone().unwrap() == Status::Pending;
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

    /// Propagates a deletion where policies ask for it, then forgets the records it touches.
    ///
    /// Each tag a propagating policy put at the destination from this repository (the deleted
    /// tag, or every recorded one when only a manifest digest was deleted) becomes a `delete`
    /// task, retried like copies: it deletes the tag at the destination only once the source
    /// confirms the tag is gone, and only while the destination tag holds what the policy put
    /// there.
    pub async fn on_delete(&self, event: &ArtifactDeleted) -> Result<()> {
        let tag = (!event.tag.is_empty()).then_some(event.tag.as_str());
        crate::records::notified(&self.db, &event.registry).await?;
        let mut propagating = Vec::new();
        for (row, spec) in self.specs().await? {
            let name = row.name;
            if !spec.delete_propagation
                || !spec.enabled
                || !selects(&spec, &event.registry, &event.repository, tag)
            {
                continue;
            }
            let Ok(dst_repo) = spec.destination_repository(&event.repository) else {
                continue;
            };
            let recorded: Vec<(String, String)> = crate::records::load(&self.db, &name)
                .await?
                .into_iter()
                .filter(|((repo, t), _)| {
                    repo == &event.repository && tag.is_none_or(|want| t == want)
                })
                .map(|((_, t), (digest, _))| (t, digest))
                .collect();
            if recorded.is_empty() {
                continue;
            }
            let mut e = new_execution(&name, "delete", false);
            e.status = sea_orm::Set(Status::Running);
            e.total = sea_orm::Set(recorded.len() as i64);
            let tx = self.db.begin().await?;
            let e = e.insert(&tx).await?;
            for (t, digest) in &recorded {
                let mut task =
                    crate::executions::new_task(&e.id, &name, &event.repository, &dst_repo, t);
                task.action = sea_orm::Set(Action::Delete);
                task.digest = sea_orm::Set(digest.clone());
                let task = task.insert(&tx).await?;
                self.outbox
                    .enqueue(&tx, &Message::new(TASK, &TaskJob { task: task.id }))
                    .await
                    .map_err(db_error)?;
            }
            tx.commit().await?;
            self.outbox.notify();
            tracing::info!(policy = %name, execution = %e.id, repository = %event.repository, tags = recorded.len(), "deletion propagation queued");
            propagating.push(name);
        }
        // The propagating policies' delete tasks forget their records once the tag is gone.
        crate::records::forget_except(
            &self.db,
            &event.registry,
            &event.repository,
            tag,
            &propagating,
        )
        .await?;
        Ok(())
    }
}
