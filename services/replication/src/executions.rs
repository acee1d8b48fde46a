//! Executions: a run of a policy. The run lists only what the filters need, plans one task per
//! artifact (repository:tag), copies a few at a time and records counts and bytes as it goes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use berth_error::ApiError;
use berth_oci::{Client, ClientOptions, Credential, OciError};
use berth_proto::v1::{Execution, GetRegistryAccessRequest};
use chrono::Utc;
use futures::StreamExt;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::copy::{Copier, Outcome};
use crate::entity::execution;
use crate::error::{ReplicationError, Result};
use crate::policies::Spec;
use crate::Replication;

const ARTIFACTS_IN_FLIGHT: usize = 4;

fn timestamp(t: chrono::DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub fn to_proto(m: &execution::Model) -> Execution {
    Execution {
        id: m.id.clone(),
        policy: m.policy.clone(),
        status: m.status.clone(),
        total: m.total.max(0) as u64,
        succeeded: m.succeeded.max(0) as u64,
        failed: m.failed.max(0) as u64,
        skipped: m.skipped.max(0) as u64,
        bytes: m.bytes.max(0) as u64,
        started_at: Some(timestamp(m.started_at)),
        finished_at: m.finished_at.map(timestamp),
        error: m.error.clone(),
    }
}

/// Progress of an execution.
#[derive(Default)]
pub(crate) struct Counts {
    pub(crate) total: AtomicU64,
    pub(crate) succeeded: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) bytes: AtomicU64,
}

impl Counts {
    /// Counts the outcome of copying `repository:tag`.
    pub(crate) fn record(
        &self,
        repository: &str,
        tag: &str,
        outcome: std::result::Result<Outcome, OciError>,
    ) {
        match outcome {
            Ok(Outcome::Copied(b)) => {
                self.succeeded.fetch_add(1, Ordering::Relaxed);
                self.bytes.fetch_add(b, Ordering::Relaxed);
            }
            Ok(Outcome::UpToDate) | Ok(Outcome::Kept) => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::warn!(repository, tag, error = %e, "artifact copy failed");
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl Replication {
    pub(crate) async fn client(&self, registry: &str) -> Result<(Client, String)> {
        let access = self
            .provisioning
            .clone()
            .get_registry_access(GetRegistryAccessRequest {
                registry: registry.into(),
            })
            .await
            .map_err(|s| ReplicationError::Upstream(ApiError::from_status("registry service", &s)))?
            .into_inner();
        let credential = access.credential.map(|c| Credential {
            username: c.username,
            password: c.password,
        });
        let client = Client::new(
            &access.url,
            credential,
            ClientOptions {
                insecure: access.insecure,
                ..Default::default()
            },
        )
        .map_err(|e| ReplicationError::invalid("registry", e.to_string()))?;
        Ok((client, access.url))
    }

    /// Starts a run of `policy`; answers the execution at once.
    pub async fn run(&self, policy: &str) -> Result<Execution> {
        let (_, spec) = self.policy(policy).await?;
        let running = execution::Entity::find()
            .filter(execution::Column::Policy.eq(policy))
            .filter(execution::Column::Status.is_in(["pending", "running"]))
            .one(&self.db)
            .await?;
        if let Some(r) = running {
            return Err(ReplicationError::Conflict(format!(
                "policy {policy:?} is already running (execution {})",
                r.id
            )));
        }
        let row = self.start_execution(policy).await?;
        let this = self.clone();
        let started = row.clone();
        tokio::spawn(async move {
            let counts = Arc::new(Counts::default());
            let result = this.execute(&spec, counts.clone()).await;
            if let Err(e) = this.finish(started, &counts, result).await {
                tracing::error!(error = %e, "could not record the end of an execution");
            }
        });
        Ok(to_proto(&row))
    }

    /// Records a new running execution of `policy`.
    pub(crate) async fn start_execution(&self, policy: &str) -> Result<execution::Model> {
        let row = execution::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            policy: Set(policy.into()),
            status: Set("running".into()),
            total: Set(0),
            succeeded: Set(0),
            failed: Set(0),
            skipped: Set(0),
            bytes: Set(0),
            error: Set(String::new()),
            started_at: Set(Utc::now()),
            finished_at: Set(None),
        }
        .insert(&self.db)
        .await?;
        Ok(row)
    }

    /// Plans and copies; errors here fail the whole execution.
    async fn execute(&self, spec: &Spec, counts: Arc<Counts>) -> std::result::Result<(), String> {
        let (src, src_url) = self
            .client(&spec.source_registry)
            .await
            .map_err(|e| e.to_string())?;
        let (dst, dst_url) = self
            .client(&spec.destination_registry)
            .await
            .map_err(|e| e.to_string())?;
        let copier = Copier {
            src: src.clone(),
            dst,
            same_registry: src_url == dst_url,
        };
        let mut repos = src
            .catalog()
            .await
            .map_err(|e| format!("listing the source: {e}"))?;
        repos.retain(|r| {
            (spec.source_space.is_empty()
                || r.split_once('/')
                    .is_some_and(|(s, _)| s == spec.source_space))
                && spec.admits("repository", r)
        });
        let mut tasks = Vec::new();
        for repo in repos {
            let tags = match src.tags(&repo).await {
                Ok(t) => t,
                Err(OciError::NotFound(_)) => continue,
                Err(e) => return Err(format!("listing tags of {repo}: {e}")),
            };
            tasks.extend(
                tags.into_iter()
                    .filter(|t| spec.admits("tag", t))
                    .map(|t| (repo.clone(), t)),
            );
        }
        counts.total.store(tasks.len() as u64, Ordering::Relaxed);
        let overwrite = spec.overwrite;
        futures::stream::iter(tasks)
            .for_each_concurrent(ARTIFACTS_IN_FLIGHT, |(repo, tag)| {
                let (copier, counts) = (copier.clone(), counts.clone());
                let dst_repo = spec.destination_repository(&repo);
                async move {
                    let outcome = copier.copy_tag(&repo, &dst_repo, &tag, overwrite).await;
                    counts.record(&repo, &tag, outcome);
                }
            })
            .await;
        Ok(())
    }

    pub(crate) async fn finish(
        &self,
        row: execution::Model,
        counts: &Counts,
        result: std::result::Result<(), String>,
    ) -> Result<()> {
        let failed = counts.failed.load(Ordering::Relaxed);
        let mut m = row.into_active_model();
        m.total = Set(counts.total.load(Ordering::Relaxed) as i64);
        m.succeeded = Set(counts.succeeded.load(Ordering::Relaxed) as i64);
        m.failed = Set(failed as i64);
        m.skipped = Set(counts.skipped.load(Ordering::Relaxed) as i64);
        m.bytes = Set(counts.bytes.load(Ordering::Relaxed) as i64);
        m.finished_at = Set(Some(Utc::now()));
        match result {
            Ok(()) if failed == 0 => m.status = Set("succeeded".into()),
            Ok(()) => {
                m.status = Set("failed".into());
                m.error = Set(format!("{failed} artifacts failed to copy"));
            }
            Err(e) => {
                m.status = Set("failed".into());
                m.error = Set(e);
            }
        }
        let saved = m.update(&self.db).await?;
        metrics::counter!("berth_replication_bytes_total").increment(saved.bytes.max(0) as u64);
        tracing::info!(execution = %saved.id, policy = %saved.policy, status = %saved.status, total = saved.total, bytes = saved.bytes, "execution finished");
        Ok(())
    }

    pub async fn get_execution(&self, id: &str) -> Result<Execution> {
        execution::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .map(|m| to_proto(&m))
            .ok_or_else(|| ReplicationError::NotFound(format!("execution {id:?} not found")))
    }

    /// Executions, newest first, optionally of one policy.
    pub async fn list_executions(&self, policy: &str, limit: u64) -> Result<Vec<Execution>> {
        let mut q = execution::Entity::find()
            .order_by_desc(execution::Column::Id)
            .limit(limit);
        if !policy.is_empty() {
            q = q.filter(execution::Column::Policy.eq(policy));
        }
        Ok(q.all(&self.db).await?.iter().map(to_proto).collect())
    }
}
