//! Push triggers: every `artifact.pushed` event runs the push policies whose source it matches,
//! for that one artifact, without listing anything.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use berth_bus::{Handler, HandlerError, Message, Subscription};
use berth_proto::v1::ArtifactPushed;

use crate::copy::Copier;
use crate::executions::Counts;
use crate::Replication;

/// The queue replication workers share for push events.
pub fn subscription() -> Subscription {
    Subscription::new("replication.pushes", &["artifact.pushed"])
}

pub struct PushHandler(pub Replication);

#[async_trait::async_trait]
impl Handler for PushHandler {
    async fn handle(&self, m: &Message) -> Result<(), HandlerError> {
        let event: ArtifactPushed = m
            .payload()
            .map_err(|e| HandlerError::Reject(format!("bad artifact.pushed payload: {e}")))?;
        self.0
            .on_push(&event)
            .await
            .map_err(|e| HandlerError::Retry(e.to_string()))
    }
}

impl Replication {
    /// Copies a pushed artifact for every push policy that selects it, one execution each.
    pub async fn on_push(&self, event: &ArtifactPushed) -> crate::error::Result<()> {
        for policy in self.list_policies().await? {
            let (_, spec) = self.policy(&policy.name).await?;
            let in_space = spec.source_space.is_empty()
                || event
                    .repository
                    .split_once('/')
                    .is_some_and(|(s, _)| s == spec.source_space);
            if spec.trigger != "push"
                || spec.source_registry != event.registry
                || !in_space
                || !spec.admits("repository", &event.repository)
                || !spec.admits("tag", &event.tag)
            {
                continue;
            }
            let row = self.start_execution(&policy.name).await?;
            let counts = Arc::new(Counts::default());
            counts.total.store(1, Ordering::Relaxed);
            let result = async {
                let (src, src_url) = self
                    .client(&spec.source_registry)
                    .await
                    .map_err(|e| e.to_string())?;
                let (dst, dst_url) = self
                    .client(&spec.destination_registry)
                    .await
                    .map_err(|e| e.to_string())?;
                let copier = Copier {
                    src,
                    dst,
                    same_registry: src_url == dst_url,
                };
                let dst_repo = spec.destination_repository(&event.repository);
                let outcome = copier
                    .copy_tag(&event.repository, &dst_repo, &event.tag, spec.overwrite)
                    .await;
                counts.record(&event.repository, &event.tag, outcome);
                Ok::<(), String>(())
            }
            .await;
            self.finish(row, &counts, result).await?;
        }
        Ok(())
    }
}
