//! Scan-all: a sweep scans every artifact of a registry, or of one of its spaces, by request
//! (`all`) or on a space's cron schedule (`schedule`).
//!
//! Creating a sweep records it and queues its planning as a job (`scan.sweep`, through the
//! outbox), so it survives restarts. Planning lists the repositories and artifacts through the
//! registry service (the same listing the API shows, Harbor included) and queues one scan per
//! digest on the bulk queue, recording which scan covers each digest (one already queued for the
//! digest covers it too, so a digest is never queued twice). Planning again after a crash skips
//! what it already recorded. Progress is the states of those scans, counted when read; a sweep is
//! complete once planned and none of its scans is queued or scanning.

use berth_bus::{Handler, HandlerError, Message, Subscription};
use berth_error::ApiError;
use berth_proto::v1::{ListArtifactsRequest, ListRepositoriesRequest, Sweep};
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use crate::entity::{scan, sweep, sweep_item};
use crate::scans::{outbox_error, timestamp};
use crate::{db_error, Result, Scanning};

pub const PLAN: &str = "scan.sweep";
const PAGE: i32 = 200;

#[derive(Debug, Serialize, Deserialize)]
pub struct PlanJob {
    pub sweep: String,
}

impl Scanning {
    /// Records a sweep of `registry` (every space when `space` is empty) and queues its planning.
    pub async fn create_sweep(&self, registry: &str, space: &str, trigger: &str) -> Result<Sweep> {
        berth_error::validate::dns_label(registry).map_err(|m| ApiError::invalid("registry", m))?;
        if !space.is_empty() {
            crate::scans::check_repository(space)
                .map_err(|e| ApiError::invalid("space", e.message))?;
            if space.contains('/') {
                return Err(ApiError::invalid("space", "a space is one path segment"));
            }
        }
        let trigger = if trigger.is_empty() { "all" } else { trigger };
        if !matches!(trigger, "all" | "schedule") {
            return Err(ApiError::invalid(
                "trigger",
                "must be \"all\" or \"schedule\"",
            ));
        }
        // An unknown registry is NotFound now, not a failed sweep later.
        self.clients.get(registry).await?;
        let txn = self.db.begin().await.map_err(db_error)?;
        let row = sweep::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            registry: Set(registry.into()),
            space: Set(space.into()),
            trigger: Set(trigger.into()),
            status: Set("planning".into()),
            error: Set(String::new()),
            artifacts: Set(0),
            created_at: Set(Utc::now()),
            finished_at: Set(None),
        }
        .insert(&txn)
        .await
        .map_err(db_error)?;
        self.outbox
            .enqueue(
                &txn,
                &Message::new(
                    PLAN,
                    &PlanJob {
                        sweep: row.id.clone(),
                    },
                ),
            )
            .await
            .map_err(outbox_error)?;
        txn.commit().await.map_err(db_error)?;
        self.outbox.notify();
        metrics::counter!("berth_scan_sweeps_total", "trigger" => trigger.to_string()).increment(1);
        tracing::info!(sweep = %row.id, %registry, %space, %trigger, "sweep queued");
        self.sweep_proto(row).await
    }

    /// Whether a sweep of `registry/space` is planning or running.
    pub(crate) async fn sweeping(&self, registry: &str, space: &str) -> Result<bool> {
        for row in sweep::Entity::find()
            .filter(sweep::Column::Registry.eq(registry))
            .filter(sweep::Column::Space.eq(space))
            .filter(sweep::Column::Status.is_in(["planning", "running"]))
            .all(&self.db)
            .await
            .map_err(db_error)?
        {
            // Read as the API does: a running sweep with nothing left is complete.
            let s = self.sweep_proto(row).await?;
            if matches!(s.status.as_str(), "planning" | "running") {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub async fn get_sweep(&self, id: &str) -> Result<Sweep> {
        let row = sweep::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(db_error)?
            .ok_or_else(|| ApiError::not_found(format!("sweep {id:?} not found")))?;
        self.sweep_proto(row).await
    }

    /// The sweep with its scans counted by state; ended once planned and nothing is left.
    async fn sweep_proto(&self, mut row: sweep::Model) -> Result<Sweep> {
        let scans: Vec<String> = sweep_item::Entity::find()
            .filter(sweep_item::Column::Sweep.eq(&row.id))
            .all(&self.db)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(|i| i.scan)
            .collect();
        let mut out = Sweep {
            id: row.id.clone(),
            registry: row.registry.clone(),
            space: row.space.clone(),
            trigger: row.trigger.clone(),
            error: row.error.clone(),
            artifacts: scans.len() as u64,
            ..Default::default()
        };
        for chunk in scans.chunks(500) {
            for s in scan::Entity::find()
                .filter(scan::Column::Id.is_in(chunk.iter().cloned()))
                .all(&self.db)
                .await
                .map_err(db_error)?
            {
                match s.status.as_str() {
                    "queued" => out.queued += 1,
                    "scanning" => out.scanning += 1,
                    "complete" => out.complete += 1,
                    "failed" => out.failed += 1,
                    _ => out.unsupported += 1,
                }
                out.bytes_read += s.bytes_read.max(0) as u64;
            }
        }
        if row.status == "running" && out.queued + out.scanning == 0 {
            let mut done = row.clone().into_active_model();
            done.status = Set("complete".into());
            done.finished_at = Set(Some(Utc::now()));
            row = done.update(&self.db).await.map_err(db_error)?;
        }
        out.status = row.status.clone();
        out.created_at = Some(timestamp(row.created_at));
        out.finished_at = row.finished_at.map(timestamp);
        Ok(out)
    }

    /// Plans sweep `id` (a job): lists the artifacts and queues their scans.
    pub async fn plan_sweep(&self, id: &str) -> Result<()> {
        let Some(row) = sweep::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(db_error)?
        else {
            return Ok(());
        };
        if row.status != "planning" {
            return Ok(());
        }
        let outcome = self.plan(&row).await;
        let mut end = row.into_active_model();
        match outcome {
            Ok(n) => {
                end.status = Set("running".into());
                end.artifacts = Set(n as i64);
            }
            // The registry is unreachable: retried by the bus, then left failed with the reason.
            Err(e) if e.code == berth_error::ErrorCode::Unavailable => return Err(e),
            Err(e) => {
                end.status = Set("failed".into());
                end.error = Set(e.message.clone());
                end.finished_at = Set(Some(Utc::now()));
            }
        }
        end.update(&self.db).await.map_err(db_error)?;
        Ok(())
    }

    async fn plan(&self, row: &sweep::Model) -> Result<usize> {
        let registries = self.registries.clone();
        let mut repositories = Vec::new();
        let mut token = String::new();
        loop {
            let page = registries
                .clone()
                .list_repositories(ListRepositoriesRequest {
                    registry: row.registry.clone(),
                    space: row.space.clone(),
                    page_size: PAGE,
                    page_token: token,
                })
                .await
                .map_err(berth_runtime::clients::registry_error)?
                .into_inner();
            repositories.extend(page.repositories.into_iter().map(|r| r.name));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let mut planned = 0;
        for repository in repositories {
            let mut token = String::new();
            loop {
                let page = registries
                    .clone()
                    .list_artifacts(ListArtifactsRequest {
                        registry: row.registry.clone(),
                        repository: repository.clone(),
                        page_size: PAGE,
                        page_token: token,
                    })
                    .await
                    .map_err(berth_runtime::clients::registry_error)?
                    .into_inner();
                for artifact in page.artifacts {
                    self.plan_one(row, &repository, &artifact.digest).await?;
                    planned += 1;
                }
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
        }
        Ok(planned)
    }

    /// Queues the scan of one artifact of a sweep, unless planning already did.
    async fn plan_one(&self, row: &sweep::Model, repository: &str, digest: &str) -> Result<()> {
        if sweep_item::Entity::find_by_id((row.id.clone(), digest.to_string()))
            .one(&self.db)
            .await
            .map_err(db_error)?
            .is_some()
        {
            return Ok(());
        }
        let scan = match self
            .create_scan(&row.registry, repository, digest, &row.trigger)
            .await
        {
            Ok(s) => s,
            // Deleted since it was listed: nothing to scan.
            Err(e) if e.code == berth_error::ErrorCode::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        sweep_item::Entity::insert(sweep_item::ActiveModel {
            sweep: Set(row.id.clone()),
            digest: Set(digest.into()),
            repository: Set(repository.into()),
            scan: Set(scan.id),
        })
        .on_conflict(
            OnConflict::columns([sweep_item::Column::Sweep, sweep_item::Column::Digest])
                .do_nothing()
                .to_owned(),
        )
        .do_nothing()
        .exec(&self.db)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    /// Queues again the planning an in-process bus lost with the last process.
    pub(crate) async fn requeue_planning(&self) -> anyhow::Result<()> {
        for m in sweep::Entity::find()
            .filter(sweep::Column::Status.eq("planning"))
            .all(&self.db)
            .await?
        {
            self.outbox
                .enqueue(&self.db, &Message::new(PLAN, &PlanJob { sweep: m.id }))
                .await?;
        }
        self.outbox.notify();
        Ok(())
    }
}

pub fn subscription() -> Subscription {
    let mut sub = Subscription::new(PLAN, &[PLAN]);
    sub.prefetch = 1;
    sub
}

pub struct PlanHandler(pub Scanning);

#[async_trait::async_trait]
impl Handler for PlanHandler {
    async fn handle(&self, m: &Message) -> std::result::Result<(), HandlerError> {
        let job: PlanJob = m
            .payload()
            .map_err(|e| HandlerError::Reject(format!("bad sweep job: {e}")))?;
        self.0
            .plan_sweep(&job.sweep)
            .await
            .map_err(|e| HandlerError::Retry(e.message))
    }
}
