//! Bindings: a space made pullable by a workspace's namespaces and members, and pushable by
//! its editors and admins where the binding says `push`.

use berth_proto::v1::{Binding, BindingChanged};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};

use crate::entity::binding;
use crate::error::{Result, SpaceError};
use crate::tenancy::{timestamp, Tenancy};

impl Tenancy {
    /// Binds a space to a workspace, or changes what the binding grants (`push`). Public spaces
    /// may be bound too: their bindings grant nothing more for pulls, but `push` still counts,
    /// and they are kept for when the space is made private again.
    pub async fn bind(
        &self,
        registry: &str,
        space_name: &str,
        workspace: &str,
        push: bool,
    ) -> Result<Binding> {
        let txn = self.db.begin().await?;
        let s = self.find_space(&txn, registry, space_name).await?;
        self.find_workspace(&txn, workspace).await?;
        let existing = binding::Entity::find_by_id((s.id.clone(), workspace.to_string()))
            .one(&txn)
            .await?;
        let before = existing.clone();
        let (saved, change) = match existing {
            Some(b) if b.push == push => {
                // Nothing changes: PUT is idempotent.
                txn.commit().await?;
                return Ok(to_proto(registry, space_name, b));
            }
            Some(b) => {
                let mut m: binding::ActiveModel = b.into();
                m.push = Set(push);
                (m.update(&txn).await?, "updated")
            }
            None => (
                binding::ActiveModel {
                    space_id: Set(s.id),
                    workspace: Set(workspace.into()),
                    created_at: Set(Utc::now()),
                    push: Set(push),
                }
                .insert(&txn)
                .await?,
                "bound",
            ),
        };
        let event = BindingChanged {
            registry: registry.into(),
            space: space_name.into(),
            workspace: workspace.into(),
            change: change.into(),
        };
        self.enqueue(&txn, "binding.changed", &event).await?;
        txn.commit().await?;
        self.outbox.notify();
        if let Err(e) = self.sync_robot(registry, workspace).await {
            // Harbor refused the robot: the binding goes back to what it was.
            self.restore_binding(registry, space_name, &saved, before)
                .await?;
            return Err(e);
        }
        Ok(to_proto(registry, space_name, saved))
    }

    /// Puts a binding back as it was before a change whose robot sync failed (`None`: there
    /// was none).
    async fn restore_binding(
        &self,
        registry: &str,
        space_name: &str,
        changed: &binding::Model,
        before: Option<binding::Model>,
    ) -> Result<()> {
        let txn = self.db.begin().await?;
        binding::Entity::delete_by_id((changed.space_id.clone(), changed.workspace.clone()))
            .exec(&txn)
            .await?;
        let change = match before {
            Some(b) => {
                let m: binding::ActiveModel = b.into();
                binding::Entity::insert(m.reset_all()).exec(&txn).await?;
                "updated"
            }
            None => "unbound",
        };
        let event = BindingChanged {
            registry: registry.into(),
            space: space_name.into(),
            workspace: changed.workspace.clone(),
            change: change.into(),
        };
        self.enqueue(&txn, "binding.changed", &event).await?;
        txn.commit().await?;
        self.outbox.notify();
        self.sync_robot_or_warn(registry, &changed.workspace).await;
        Ok(())
    }

    pub async fn unbind(&self, registry: &str, space_name: &str, workspace: &str) -> Result<()> {
        let txn = self.db.begin().await?;
        let s = self.find_space(&txn, registry, space_name).await?;
        let Some(before) = binding::Entity::find_by_id((s.id.clone(), workspace.to_string()))
            .one(&txn)
            .await?
        else {
            return Err(SpaceError::NotFound(format!(
                "space {registry}/{space_name} is not bound to workspace {workspace:?}"
            )));
        };
        binding::Entity::delete_by_id((s.id, workspace.to_string()))
            .exec(&txn)
            .await?;
        let event = BindingChanged {
            registry: registry.into(),
            space: space_name.into(),
            workspace: workspace.into(),
            change: "unbound".into(),
        };
        self.enqueue(&txn, "binding.changed", &event).await?;
        txn.commit().await?;
        self.outbox.notify();
        if let Err(e) = self.sync_robot(registry, workspace).await {
            // Harbor refused to narrow the robot: the binding stays, so nothing disagrees.
            let txn = self.db.begin().await?;
            let m: binding::ActiveModel = before.into();
            binding::Entity::insert(m.reset_all()).exec(&txn).await?;
            let event = BindingChanged {
                registry: registry.into(),
                space: space_name.into(),
                workspace: workspace.into(),
                change: "bound".into(),
            };
            self.enqueue(&txn, "binding.changed", &event).await?;
            txn.commit().await?;
            self.outbox.notify();
            // Harbor may have applied the change before it failed: the robot follows the
            // binding put back (or the failure is logged).
            self.sync_robot_or_warn(registry, workspace).await;
            return Err(e);
        }
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
            .map(|b| to_proto(registry, space_name, b))
            .collect())
    }
}

fn to_proto(registry: &str, space: &str, b: binding::Model) -> Binding {
    Binding {
        registry: registry.into(),
        space: space.into(),
        workspace: b.workspace,
        created_at: Some(timestamp(b.created_at)),
        push: b.push,
    }
}
