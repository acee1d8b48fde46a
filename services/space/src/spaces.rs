//! Spaces: create, read, change, delete. On Distribution and OCI registries a space is the
//! first path segment of repository names, tracked by Berth.

use berth_proto::v1::{CreateSpaceRequest, Registry, Space, SpaceChanged, UpdateSpaceRequest};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};

use crate::entity::{binding, space};
use crate::error::{Result, SpaceError};
use crate::tenancy::{check, timestamp, Tenancy};

fn visibility(value: &str) -> Result<&'static str> {
    match value {
        "" | "private" => Ok("private"),
        "public" => Ok("public"),
        other => Err(SpaceError::invalid(
            "visibility",
            format!("must be \"public\" or \"private\", not {other:?}"),
        )),
    }
}

fn quota(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| SpaceError::invalid("quota_bytes", "is too large"))
}

fn description(value: &str) -> Result<()> {
    if value.chars().count() > 1024 || value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(SpaceError::invalid(
            "description",
            "must be at most 1024 characters without control characters",
        ));
    }
    Ok(())
}

impl Tenancy {
    pub(crate) async fn to_proto(&self, m: &space::Model) -> Result<Space> {
        let bound = binding::Entity::find()
            .filter(binding::Column::SpaceId.eq(&m.id))
            .order_by_asc(binding::Column::Workspace)
            .all(&self.db)
            .await?;
        Ok(Space {
            registry: m.registry.clone(),
            name: m.name.clone(),
            visibility: m.visibility.clone(),
            quota_bytes: m.quota_bytes.max(0) as u64,
            description: m.description.clone(),
            created_at: Some(timestamp(m.created_at)),
            updated_at: Some(timestamp(m.updated_at)),
            workspaces: bound.into_iter().map(|b| b.workspace).collect(),
            scan: crate::scan_policy::of(m),
        })
    }

    pub async fn create_space(&self, req: CreateSpaceRequest) -> Result<Space> {
        check("registry", berth_error::validate::dns_label, &req.registry)?;
        check("name", berth_error::validate::path_component, &req.name)?;
        let visibility = visibility(&req.visibility)?;
        let quota = quota(req.quota_bytes)?;
        description(&req.description)?;
        let scan = req
            .scan
            .as_ref()
            .map(crate::scan_policy::validated)
            .transpose()?;
        // Asked of the registry service itself, not the cached list: a name deleted and
        // integrated again a moment ago is the new registry.
        let registry = self
            .directory
            .current(&req.registry)
            .await?
            .ok_or_else(|| {
                SpaceError::NotFound(format!("registry {:?} not found", req.registry))
            })?;
        if self
            .find_space(&self.db, &req.registry, &req.name)
            .await
            .is_ok()
        {
            return Err(SpaceError::Conflict {
                field: "name",
                message: format!("space {}/{} already exists", req.registry, req.name),
            });
        }
        self.ensure_project(
            &req.registry,
            &req.name,
            visibility == "public",
            req.quota_bytes,
        )
        .await?;
        let now = Utc::now();
        let txn = self.db.begin().await?;
        if self
            .find_space(&txn, &req.registry, &req.name)
            .await
            .is_ok()
        {
            return Err(SpaceError::Conflict {
                field: "name",
                message: format!("space {}/{} already exists", req.registry, req.name),
            });
        }
        let saved = space::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            registry: Set(req.registry.clone()),
            name: Set(req.name.clone()),
            visibility: Set(visibility.into()),
            quota_bytes: Set(quota),
            description: Set(req.description),
            created_at: Set(now),
            updated_at: Set(now),
            scan_policy: Set(scan
                .as_ref()
                .map(crate::scan_policy::to_json)
                .unwrap_or_default()),
        }
        .insert(&txn)
        .await?;
        self.enqueue(
            &txn,
            "space.changed",
            &SpaceChanged {
                registry: req.registry,
                space: req.name,
                change: "created".into(),
            },
        )
        .await?;
        txn.commit().await?;
        self.outbox.notify();
        self.unless_registry_gone(&saved, &registry).await?;
        self.to_proto(&saved).await
    }

    /// Takes a just-made space back if its registry was removed meanwhile (or replaced by
    /// another of the same name). Removal deletes the registry and then every space left of it, so a space committed before this
    /// check saw its registry is found by that sweep, and one after is taken back here.
    async fn unless_registry_gone(&self, saved: &space::Model, made_for: &Registry) -> Result<()> {
        let now = self.directory.current(&saved.registry).await?;
        if now.is_some_and(|r| r.created_at == made_for.created_at) {
            return Ok(());
        }
        self.delete_space(&saved.registry, &saved.name, true)
            .await?;
        Err(SpaceError::NotFound(format!(
            "registry {:?} not found",
            saved.registry
        )))
    }

    pub async fn get_space(&self, registry: &str, name: &str) -> Result<Space> {
        let m = self.find_space(&self.db, registry, name).await?;
        self.to_proto(&m).await
    }

    /// Spaces of one registry (or of all), in (registry, name) order.
    pub async fn list_spaces(&self, registry: &str) -> Result<Vec<Space>> {
        let mut q = space::Entity::find()
            .order_by_asc(space::Column::Registry)
            .order_by_asc(space::Column::Name);
        if !registry.is_empty() {
            q = q.filter(space::Column::Registry.eq(registry));
        }
        let mut out = Vec::new();
        for m in q.all(&self.db).await? {
            out.push(self.to_proto(&m).await?);
        }
        Ok(out)
    }

    pub async fn update_space(&self, req: UpdateSpaceRequest) -> Result<Space> {
        let current = self.find_space(&self.db, &req.registry, &req.name).await?;
        let mut m = current.clone().into_active_model();
        // Bindings survive visibility changes: a public space ignores them for pulls only.
        if let Some(v) = &req.visibility {
            let v = visibility(v)?;
            m.visibility = Set(v.into());
        }
        if let Some(q) = req.quota_bytes {
            m.quota_bytes = Set(quota(q)?);
        }
        if let Some(d) = &req.description {
            description(d)?;
            m.description = Set(d.clone());
        }
        if let Some(p) = &req.scan {
            m.scan_policy = Set(crate::scan_policy::to_json(&crate::scan_policy::validated(
                p,
            )?));
        } else if req.clear_scan {
            m.scan_policy = Set(String::new());
        }
        m.updated_at = Set(Utc::now());
        if req.visibility.is_some() || req.quota_bytes.is_some() {
            let public = req
                .visibility
                .as_deref()
                .map_or(current.visibility == "public", |v| v == "public");
            let quota_bytes = req.quota_bytes.unwrap_or(current.quota_bytes.max(0) as u64);
            self.ensure_project(&req.registry, &req.name, public, quota_bytes)
                .await?;
        }
        let txn = self.db.begin().await?;
        let saved = m.update(&txn).await?;
        self.enqueue(
            &txn,
            "space.changed",
            &SpaceChanged {
                registry: req.registry,
                space: req.name,
                change: "updated".into(),
            },
        )
        .await?;
        txn.commit().await?;
        self.outbox.notify();
        self.to_proto(&saved).await
    }

    /// Deletes a space and its bindings (the repositories themselves are untouched).
    pub async fn delete_space(&self, registry: &str, name: &str, keep_project: bool) -> Result<()> {
        let txn = self.db.begin().await?;
        let m = self.find_space(&txn, registry, name).await?;
        // Harbor refuses to delete a project that still holds repositories: nothing changes then.
        if !keep_project {
            self.remove_project(registry, name).await?;
        }
        let unbound = binding::Entity::find()
            .filter(binding::Column::SpaceId.eq(&m.id))
            .all(&txn)
            .await?;
        binding::Entity::delete_many()
            .filter(binding::Column::SpaceId.eq(&m.id))
            .exec(&txn)
            .await?;
        space::Entity::delete_by_id(m.id).exec(&txn).await?;
        self.enqueue(
            &txn,
            "space.changed",
            &SpaceChanged {
                registry: registry.into(),
                space: name.into(),
                change: "deleted".into(),
            },
        )
        .await?;
        txn.commit().await?;
        self.outbox.notify();
        // Keeping the project keeps no grant: the robots of the unbound workspaces narrow
        // either way, after the space is gone (a registry that cannot be reached does not
        // bring it back; the leftover robot is logged).
        for b in unbound {
            self.sync_robot_or_warn(registry, &b.workspace).await;
        }
        Ok(())
    }

    /// Records the spaces a registry already has; existing spaces are left as they are.
    pub async fn import_spaces(&self, registry: &str) -> Result<Vec<Space>> {
        check("registry", berth_error::validate::dns_label, registry)?;
        let made_for = self.directory.by_name(registry).await?;
        let discovered = self
            .directory
            .provisioning()
            .discover_spaces(berth_proto::v1::DiscoverSpacesRequest {
                registry: registry.into(),
            })
            .await
            .map_err(crate::directory::upstream)?
            .into_inner()
            .spaces;
        let mut imported = Vec::new();
        for d in discovered {
            if berth_error::validate::path_component(&d.name).is_err()
                || self.find_space(&self.db, registry, &d.name).await.is_ok()
            {
                continue;
            }
            let now = Utc::now();
            let txn = self.db.begin().await?;
            let saved = space::ActiveModel {
                id: Set(uuid::Uuid::now_v7().to_string()),
                registry: Set(registry.into()),
                name: Set(d.name.clone()),
                visibility: Set(if d.public { "public" } else { "private" }.into()),
                quota_bytes: Set(0),
                description: Set("imported".into()),
                created_at: Set(now),
                updated_at: Set(now),
                scan_policy: Set(String::new()),
            }
            .insert(&txn)
            .await?;
            self.enqueue(
                &txn,
                "space.changed",
                &SpaceChanged {
                    registry: registry.into(),
                    space: d.name,
                    change: "created".into(),
                },
            )
            .await?;
            txn.commit().await?;
            self.unless_registry_gone(&saved, &made_for).await?;
            imported.push(self.to_proto(&saved).await?);
        }
        self.outbox.notify();
        Ok(imported)
    }
}
