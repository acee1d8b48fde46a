//! Spaces on Harbor are projects: created, flipped public/private and deleted through the
//! registry service (which holds the credentials), and a workspace's bindings on a Harbor are
//! one robot with pull on exactly its bound projects. Other kinds need none of this.

use berth_proto::v1::{EnsureProjectRequest, RemoveProjectRequest, SyncWorkspaceRobotRequest};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::directory::upstream;
use crate::entity::{binding, space};
use crate::error::Result;
use crate::tenancy::Tenancy;

impl Tenancy {
    async fn is_harbor(&self, registry: &str) -> Result<bool> {
        Ok(berth_proto::RegistryKind::Harbor.is(&self.directory.by_name(registry).await?.kind))
    }

    pub(crate) async fn ensure_project(
        &self,
        registry: &str,
        project: &str,
        public: bool,
        quota_bytes: u64,
    ) -> Result<()> {
        if !self.is_harbor(registry).await? {
            return Ok(());
        }
        let req = EnsureProjectRequest {
            registry: registry.into(),
            project: project.into(),
            public,
            quota_bytes,
        };
        self.directory
            .provisioning()
            .ensure_project(req)
            .await
            .map_err(upstream)?;
        Ok(())
    }

    pub(crate) async fn remove_project(&self, registry: &str, project: &str) -> Result<()> {
        if !self.is_harbor(registry).await? {
            return Ok(());
        }
        let req = RemoveProjectRequest {
            registry: registry.into(),
            project: project.into(),
        };
        self.directory
            .provisioning()
            .remove_project(req)
            .await
            .map_err(upstream)?;
        Ok(())
    }

    /// Makes the workspace's robot on `registry` pull exactly the projects bound to it now.
    /// Called after the change commits, never inside a transaction: a slow Harbor holds up
    /// only its own caller, not the service's database.
    pub(crate) async fn sync_robot(&self, registry: &str, workspace: &str) -> Result<()> {
        if !self.is_harbor(registry).await? {
            return Ok(());
        }
        let lock = self.robot_locks.of(registry, workspace);
        let _held = lock.lock().await;
        let bound: Vec<String> = binding::Entity::find()
            .filter(binding::Column::Workspace.eq(workspace))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|b| b.space_id)
            .collect();
        let projects: Vec<String> = space::Entity::find()
            .filter(space::Column::Registry.eq(registry))
            .filter(space::Column::Id.is_in(bound))
            .order_by_asc(space::Column::Name)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect();
        let req = SyncWorkspaceRobotRequest {
            registry: registry.into(),
            workspace: workspace.into(),
            projects,
        };
        self.directory
            .provisioning()
            .sync_workspace_robot(req)
            .await
            .map_err(upstream)?;
        Ok(())
    }

    /// [`Self::sync_robot`] where the change it follows stands whatever Harbor answers (the
    /// space or workspace is gone): a robot left with too much is logged for removal.
    pub(crate) async fn sync_robot_or_warn(&self, registry: &str, workspace: &str) {
        if let Err(e) = self.sync_robot(registry, workspace).await {
            tracing::warn!(
                registry, workspace, error = %e,
                "could not narrow the workspace's robot: remove it in the registry"
            );
        }
    }
}

type Lock = std::sync::Arc<tokio::sync::Mutex<()>>;

/// Per-(registry, workspace) locks of robot syncs.
#[derive(Clone, Default)]
pub struct RobotLocks(
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<(String, String), Lock>>>,
);

impl RobotLocks {
    fn of(&self, registry: &str, workspace: &str) -> Lock {
        self.0
            .lock()
            .expect("robot locks")
            .entry((registry.to_string(), workspace.to_string()))
            .or_default()
            .clone()
    }
}
