//! Workspaces (tenants), the Kubernetes namespaces that belong to them, and their members.

use berth_proto::v1::{BindingChanged, Member, Workspace, WorkspaceRole};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};

use crate::entity::{binding, member, namespace, space, workspace};
use crate::error::{Result, SpaceError};
use crate::tenancy::{check, timestamp, Tenancy, ROLES};
use berth_error::validate::{dns_label, principal};

impl Tenancy {
    async fn workspace_proto(&self, w: workspace::Model) -> Result<Workspace> {
        let namespaces = namespace::Entity::find()
            .filter(namespace::Column::Workspace.eq(&w.name))
            .order_by_asc(namespace::Column::Namespace)
            .all(&self.db)
            .await?;
        let members = member::Entity::find()
            .filter(member::Column::Workspace.eq(&w.name))
            .order_by_asc(member::Column::Principal)
            .all(&self.db)
            .await?;
        Ok(Workspace {
            name: w.name,
            description: w.description,
            namespaces: namespaces.into_iter().map(|n| n.namespace).collect(),
            members: members
                .into_iter()
                .map(|m| Member {
                    principal: m.principal,
                    role: m.role,
                })
                .collect(),
            created_at: Some(timestamp(w.created_at)),
        })
    }

    pub async fn create_workspace(&self, name: &str, description: &str) -> Result<Workspace> {
        check("name", dns_label, name)?;
        if description.chars().count() > 1024 {
            return Err(SpaceError::invalid(
                "description",
                "must be at most 1024 characters",
            ));
        }
        let txn = self.db.begin().await?;
        if workspace::Entity::find_by_id(name.to_string())
            .one(&txn)
            .await?
            .is_some()
        {
            return Err(SpaceError::Conflict {
                field: "name",
                message: format!("workspace {name:?} already exists"),
            });
        }
        let saved = workspace::ActiveModel {
            name: Set(name.into()),
            description: Set(description.into()),
            created_at: Set(Utc::now()),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        self.workspace_proto(saved).await
    }

    pub async fn get_workspace(&self, name: &str) -> Result<Workspace> {
        let w = self.find_workspace(&self.db, name).await?;
        self.workspace_proto(w).await
    }

    /// Workspaces in name order, after `page_token`.
    pub async fn list_workspaces(
        &self,
        page_size: usize,
        page_token: &str,
    ) -> Result<(Vec<Workspace>, String)> {
        let mut q = workspace::Entity::find()
            .order_by_asc(workspace::Column::Name)
            .limit(page_size as u64 + 1);
        if !page_token.is_empty() {
            q = q.filter(workspace::Column::Name.gt(page_token));
        }
        let mut rows = q.all(&self.db).await?;
        let more = rows.len() > page_size;
        rows.truncate(page_size);
        let next = if more {
            rows.last().map(|w| w.name.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        let mut out = Vec::new();
        for w in rows {
            out.push(self.workspace_proto(w).await?);
        }
        Ok((out, next))
    }

    /// Deletes a workspace with its namespaces and members; refused while it is bound to spaces.
    /// Deletes a workspace with its namespaces and members; a bound one only with `cascade`,
    /// which removes its bindings in the same transaction.
    pub async fn delete_workspace(&self, name: &str, cascade: bool) -> Result<()> {
        let txn = self.db.begin().await?;
        self.find_workspace(&txn, name).await?;
        let bound = binding::Entity::find()
            .filter(binding::Column::Workspace.eq(name))
            .all(&txn)
            .await?;
        // Registries whose robot of this workspace goes once the workspace is gone.
        let mut robots = std::collections::BTreeSet::<String>::new();
        if !bound.is_empty() && cascade {
            binding::Entity::delete_many()
                .filter(binding::Column::Workspace.eq(name))
                .exec(&txn)
                .await?;
            let ids: Vec<String> = bound.iter().map(|b| b.space_id.clone()).collect();
            robots = space::Entity::find()
                .filter(space::Column::Id.is_in(ids))
                .all(&txn)
                .await?
                .into_iter()
                .map(|s| s.registry)
                .collect();
        } else if !bound.is_empty() {
            let ids: Vec<String> = bound.into_iter().map(|b| b.space_id).collect();
            let spaces = space::Entity::find()
                .filter(space::Column::Id.is_in(ids))
                .all(&txn)
                .await?;
            let names: Vec<String> = spaces
                .iter()
                .map(|s| format!("{}/{}", s.registry, s.name))
                .collect();
            return Err(SpaceError::Precondition(format!(
                "workspace {name:?} is bound to {}; unbind them first, or delete with ?cascade=true",
                names.join(", ")
            )));
        }
        namespace::Entity::delete_many()
            .filter(namespace::Column::Workspace.eq(name))
            .exec(&txn)
            .await?;
        member::Entity::delete_many()
            .filter(member::Column::Workspace.eq(name))
            .exec(&txn)
            .await?;
        workspace::Entity::delete_by_id(name.to_string())
            .exec(&txn)
            .await?;
        let event = BindingChanged {
            registry: String::new(),
            space: String::new(),
            workspace: name.into(),
            change: "workspace_deleted".into(),
        };
        self.enqueue(&txn, "binding.changed", &event).await?;
        txn.commit().await?;
        self.outbox.notify();
        for registry in robots {
            self.sync_robot_or_warn(&registry, name).await;
        }
        Ok(())
    }

    /// Puts a Kubernetes namespace into a workspace; a namespace belongs to one workspace only.
    pub async fn add_namespace(&self, workspace: &str, ns: &str) -> Result<()> {
        check("namespace", dns_label, ns)?;
        let txn = self.db.begin().await?;
        self.find_workspace(&txn, workspace).await?;
        match namespace::Entity::find_by_id(ns.to_string())
            .one(&txn)
            .await?
        {
            Some(existing) if existing.workspace == workspace => return Ok(()),
            Some(existing) => {
                return Err(SpaceError::Conflict {
                    field: "namespace",
                    message: format!(
                        "namespace {ns:?} already belongs to workspace {:?}",
                        existing.workspace
                    ),
                })
            }
            None => {}
        }
        namespace::ActiveModel {
            namespace: Set(ns.into()),
            workspace: Set(workspace.into()),
        }
        .insert(&txn)
        .await?;
        let event = BindingChanged {
            registry: String::new(),
            space: String::new(),
            workspace: workspace.into(),
            change: "namespace_added".into(),
        };
        self.enqueue(&txn, "binding.changed", &event).await?;
        txn.commit().await?;
        self.outbox.notify();
        Ok(())
    }

    pub async fn remove_namespace(&self, workspace: &str, ns: &str) -> Result<()> {
        let txn = self.db.begin().await?;
        self.find_workspace(&txn, workspace).await?;
        let deleted = namespace::Entity::delete_many()
            .filter(namespace::Column::Namespace.eq(ns))
            .filter(namespace::Column::Workspace.eq(workspace))
            .exec(&txn)
            .await?;
        if deleted.rows_affected == 0 {
            return Err(SpaceError::NotFound(format!(
                "namespace {ns:?} is not in workspace {workspace:?}"
            )));
        }
        let event = BindingChanged {
            registry: String::new(),
            space: String::new(),
            workspace: workspace.into(),
            change: "namespace_removed".into(),
        };
        self.enqueue(&txn, "binding.changed", &event).await?;
        txn.commit().await?;
        self.outbox.notify();
        Ok(())
    }

    /// The workspace a namespace belongs to.
    pub async fn workspace_of(&self, ns: &str) -> Result<Option<String>> {
        Ok(namespace::Entity::find_by_id(ns.to_string())
            .one(&self.db)
            .await?
            .map(|n| n.workspace))
    }

    /// Grants `role` in `workspace` to `principal` (replacing any role it had there).
    pub async fn set_member(&self, workspace: &str, who: &str, role: &str) -> Result<()> {
        check("principal", principal, who)?;
        if !ROLES.contains(&role) {
            return Err(SpaceError::invalid(
                "role",
                format!("must be one of {}", ROLES.join(", ")),
            ));
        }
        let txn = self.db.begin().await?;
        self.find_workspace(&txn, workspace).await?;
        member::Entity::delete_many()
            .filter(member::Column::Workspace.eq(workspace))
            .filter(member::Column::Principal.eq(who))
            .exec(&txn)
            .await?;
        member::ActiveModel {
            workspace: Set(workspace.into()),
            principal: Set(who.into()),
            role: Set(role.into()),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    pub async fn remove_member(&self, workspace: &str, who: &str) -> Result<()> {
        self.find_workspace(&self.db, workspace).await?;
        let deleted = member::Entity::delete_many()
            .filter(member::Column::Workspace.eq(workspace))
            .filter(member::Column::Principal.eq(who))
            .exec(&self.db)
            .await?;
        if deleted.rows_affected == 0 {
            return Err(SpaceError::NotFound(format!(
                "{who:?} is not a member of workspace {workspace:?}"
            )));
        }
        Ok(())
    }

    /// The workspaces `who` belongs to, with its role in each.
    pub async fn roles_of(&self, who: &str) -> Result<Vec<WorkspaceRole>> {
        let rows = member::Entity::find()
            .filter(member::Column::Principal.eq(who))
            .order_by_asc(member::Column::Workspace)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|m| WorkspaceRole {
                workspace: m.workspace,
                role: m.role,
            })
            .collect())
    }
}
