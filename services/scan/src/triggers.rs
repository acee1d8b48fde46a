//! Scans on push: an `artifact.pushed` event of a repository whose space's scan policy says
//! `on_push` queues a scan of the pushed digest (the tag when the registry named no digest).

use berth_bus::{Handler, HandlerError, Message, Subscription};
use berth_proto::v1::{ArtifactPushed, GetSpaceRequest};

use crate::{Result, Scanning};

pub fn subscription() -> Subscription {
    Subscription::new("scan.events", &["artifact.pushed"])
}

impl Scanning {
    /// The scan policy of the space `repository` of `registry` is in, if any.
    pub async fn policy_of(
        &self,
        registry: &str,
        repository: &str,
    ) -> Result<Option<berth_proto::v1::ScanPolicy>> {
        let Some((space, _)) = repository.split_once('/') else {
            return Ok(None);
        };
        match self
            .spaces
            .spaces
            .clone()
            .get_space(GetSpaceRequest {
                registry: registry.into(),
                name: space.into(),
            })
            .await
        {
            Ok(r) => Ok(r.into_inner().space.and_then(|s| s.scan)),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
            Err(s) => Err(berth_runtime::clients::space_error(s)),
        }
    }

    pub async fn on_push(&self, e: &ArtifactPushed) -> Result<()> {
        if !self
            .policy_of(&e.registry, &e.repository)
            .await?
            .is_some_and(|p| p.on_push)
        {
            return Ok(());
        }
        let reference = if e.digest.is_empty() {
            &e.tag
        } else {
            &e.digest
        };
        match self
            .create_scan(&e.registry, &e.repository, reference, "push")
            .await
        {
            Ok(s) => {
                tracing::info!(scan = %s.id, registry = %e.registry, repository = %e.repository, "scan on push queued");
                Ok(())
            }
            // Deleted again before the event arrived: nothing to scan.
            Err(err) if err.code == berth_error::ErrorCode::NotFound => Ok(()),
            Err(err) => Err(err),
        }
    }
}

pub struct EventHandler(pub Scanning);

#[async_trait::async_trait]
impl Handler for EventHandler {
    async fn handle(&self, m: &Message) -> std::result::Result<(), HandlerError> {
        if m.kind != "artifact.pushed" {
            return Ok(());
        }
        let event: ArtifactPushed = m
            .payload()
            .map_err(|e| HandlerError::Reject(format!("bad artifact.pushed: {e}")))?;
        self.0
            .on_push(&event)
            .await
            .map_err(|e| HandlerError::Retry(e.message))
    }
}
