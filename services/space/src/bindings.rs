//! Bindings: a private space made pullable by a workspace's namespaces.

use berth_proto::v1::{Binding, BindingChanged};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};

use crate::entity::binding;
use crate::error::{Result, SpaceError};
use crate::tenancy::{timestamp, Tenancy};

impl Tenancy {
    pub async fn bind(&self, registry: &str, space_name: &str, workspace: &str) -> Result<Binding> {
        let txn = self.db.begin().await?;
        let s = self.find_space(&txn, registry, space_name).await?;
        self.find_workspace(&txn, workspace).await?;
        if s.visibility == "public" {
            return Err(SpaceError::Precondition(format!(
                "space {registry}/{space_name} is public: every namespace may pull it, binding is for private spaces"
            )));
        }
        let existing = binding::Entity::find_by_id((s.id.clone(), workspace.to_string()))
            .one(&txn)
            .await?;
        if existing.is_some() {
            return Err(SpaceError::Conflict {
                field: "workspace",
                message: format!(
                    "space {registry}/{space_name} is already bound to workspace {workspace:?}"
                ),
            });
        }
        let now = Utc::now();
        binding::ActiveModel {
            space_id: Set(s.id),
            workspace: Set(workspace.into()),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        let event = BindingChanged {
            registry: registry.into(),
            space: space_name.into(),
            workspace: workspace.into(),
            change: "bound".into(),
        };
        self.enqueue(&txn, "binding.changed", &event).await?;
        self.sync_robot(&txn, registry, workspace).await?;
        txn.commit().await?;
        self.outbox.notify();
        Ok(Binding {
            registry: registry.into(),
            space: space_name.into(),
            workspace: workspace.into(),
            created_at: Some(timestamp(now)),
        })
    }

    pub async fn unbind(&self, registry: &str, space_name: &str, workspace: &str) -> Result<()> {
        let txn = self.db.begin().await?;
        let s = self.find_space(&txn, registry, space_name).await?;
        let deleted = binding::Entity::delete_by_id((s.id, workspace.to_string()))
            .exec(&txn)
            .await?;
        if deleted.rows_affected == 0 {
            return Err(SpaceError::NotFound(format!(
                "space {registry}/{space_name} is not bound to workspace {workspace:?}"
            )));
        }
        let event = BindingChanged {
            registry: registry.into(),
            space: space_name.into(),
            workspace: workspace.into(),
            change: "unbound".into(),
        };
        self.enqueue(&txn, "binding.changed", &event).await?;
        self.sync_robot(&txn, registry, workspace).await?;
        txn.commit().await?;
        self.outbox.notify();
        Ok(())
    }

    pub async fn list_bindings(&self, registry: &str, space_name: &str) -> Result<Vec<Binding>> {
        let s = self.find_space(&self.db, registry, space_name).await?;
        let rows = binding::Entity::find()
            .filter(binding::Column::SpaceId.eq(&s.id))
            .order_by_asc(binding::Column::Workspace)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|b| Binding {
                registry: registry.into(),
                space: space_name.into(),
                workspace: b.workspace,
                created_at: Some(timestamp(b.created_at)),
            })
            .collect())
    }
}
