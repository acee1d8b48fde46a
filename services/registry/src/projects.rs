//! Harbor projects for spaces and Harbor robots for workspaces. Other kinds keep spaces as path
//! prefixes and pull credentials in Berth's token service, so these are no-ops for them.

use berth_oci::OciError;
use berth_proto::v1::RobotCredential;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::adapter::harbor::Harbor;
use crate::entity::{robot, Model};
use crate::error::{RegistryError, Result};
use crate::registries::Registries;

impl Registries {
    /// The Harbor client of a registry, or `None` for other kinds.
    async fn harbor(&self, name: &str) -> Result<Option<(Model, Harbor)>> {
        let m = self.model(name).await?;
        if !berth_proto::RegistryKind::Harbor.is(&m.kind) {
            return Ok(None);
        }
        let credential = self.credential_of(&m)?;
        let oci = berth_oci::Client::new(
            &m.url,
            credential.clone(),
            berth_oci::ClientOptions {
                insecure: m.insecure,
                ..Default::default()
            },
        )
        .map_err(|error| RegistryError::Upstream {
            registry: m.name.clone(),
            error,
        })?;
        let harbor = Harbor::new(&m.url, credential, m.insecure, oci).map_err(|error| {
            RegistryError::Upstream {
                registry: m.name.clone(),
                error,
            }
        })?;
        Ok(Some((m, harbor)))
    }

    fn upstream(registry: &str) -> impl Fn(OciError) -> RegistryError + '_ {
        move |error| RegistryError::Upstream {
            registry: registry.to_string(),
            error,
        }
    }

    /// Creates the Harbor project of a space, or sets its public flag and storage quota.
    /// Answers whether the registry is a Harbor.
    pub async fn ensure_project(
        &self,
        registry: &str,
        project: &str,
        public: bool,
        quota_bytes: u64,
    ) -> Result<bool> {
        let Some((_, harbor)) = self.harbor(registry).await? else {
            return Ok(false);
        };
        harbor
            .ensure_project(project, public, quota_bytes)
            .await
            .map_err(Self::upstream(registry))?;
        tracing::info!(
            registry,
            project,
            public,
            quota_bytes,
            "harbor project ensured"
        );
        Ok(true)
    }

    pub async fn remove_project(&self, registry: &str, project: &str) -> Result<()> {
        let Some((_, harbor)) = self.harbor(registry).await? else {
            return Ok(());
        };
        harbor
            .delete_project(project)
            .await
            .map_err(Self::upstream(registry))
    }

    /// Keeps the workspace's robot pulling exactly `projects`; deletes it when there are none.
    pub async fn sync_robot(
        &self,
        registry: &str,
        workspace: &str,
        projects: &[String],
    ) -> Result<String> {
        let Some((_, harbor)) = self.harbor(registry).await? else {
            return Ok(String::new());
        };
        let upstream = Self::upstream(registry);
        let existing = robot::Entity::find_by_id((registry.to_string(), workspace.to_string()))
            .one(&self.db)
            .await?;
        match (existing, projects.is_empty()) {
            (None, true) => Ok(String::new()),
            (Some(r), true) => {
                harbor.delete_robot(r.robot_id).await.map_err(upstream)?;
                robot::Entity::delete_by_id((registry.to_string(), workspace.to_string()))
                    .exec(&self.db)
                    .await?;
                tracing::info!(registry, workspace, robot = %r.robot_name, "harbor robot deleted");
                Ok(String::new())
            }
            (Some(r), false) => {
                harbor
                    .update_robot(r.robot_id, &r.robot_name, projects)
                    .await
                    .map_err(upstream)?;
                Ok(r.robot_name)
            }
            (None, false) => {
                let created = harbor
                    .create_robot(&format!("berth-{workspace}"), projects)
                    .await
                    .map_err(upstream)?;
                robot::ActiveModel {
                    registry: Set(registry.to_string()),
                    workspace: Set(workspace.to_string()),
                    robot_id: Set(created.id),
                    robot_name: Set(created.name.clone()),
                    secret_sealed: Set(self.secrets().seal(&created.secret)),
                }
                .insert(&self.db)
                .await?;
                tracing::info!(registry, workspace, robot = %created.name, "harbor robot created");
                Ok(created.name)
            }
        }
    }

    /// The workspace's robot credentials, with the host each is for.
    pub async fn robot_credentials(&self, workspace: &str) -> Result<Vec<RobotCredential>> {
        let rows = robot::Entity::find()
            .filter(robot::Column::Workspace.eq(workspace))
            .all(&self.db)
            .await?;
        let mut out = Vec::new();
        for r in rows {
            let Ok(m) = self.model(&r.registry).await else {
                continue;
            };
            let host = m
                .url
                .split_once("://")
                .map_or(m.url.as_str(), |(_, h)| h)
                .split('/')
                .next()
                .unwrap_or_default()
                .to_string();
            out.push(RobotCredential {
                registry: r.registry.clone(),
                host,
                username: r.robot_name.clone(),
                password: self.secrets().open(&r.secret_sealed)?,
            });
        }
        Ok(out)
    }

    /// Forgets a deleted registry's robots (Harbor keeps them; the registry left Berth).
    pub async fn forget_robots(&self, registry: &str) -> Result<()> {
        robot::Entity::delete_many()
            .filter(robot::Column::Registry.eq(registry))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The spaces a registry already has: Harbor projects with their public flag, or the first
    /// path segments of its repositories (private).
    pub async fn discover_spaces(&self, registry: &str) -> Result<Vec<(String, bool)>> {
        if let Some((_, harbor)) = self.harbor(registry).await? {
            return harbor
                .projects_with_visibility()
                .await
                .map_err(Self::upstream(registry));
        }
        let mut spaces = std::collections::BTreeSet::new();
        let mut token = String::new();
        loop {
            let (repos, next) = self.repositories(registry, "", 500, &token).await?;
            spaces.extend(repos.into_iter().map(|r| r.space).filter(|s| !s.is_empty()));
            if next.is_empty() {
                break;
            }
            token = next;
        }
        Ok(spaces.into_iter().map(|s| (s, false)).collect())
    }

    /// URL, TLS option, credential and kind of a registry, and whether it sits behind Berth's
    /// token service (then there is no credential: the caller signs its own tokens).
    pub async fn access(&self, registry: &str) -> Result<Access> {
        let m = self.model(registry).await?;
        Ok(Access {
            credential: self.credential_of(&m)?,
            berth_token_service: m.token_service == "berth",
            url: m.url,
            insecure: m.insecure,
            kind: m.kind,
        })
    }
}

/// How Berth's own workers reach a registry.
pub struct Access {
    pub url: String,
    pub insecure: bool,
    pub credential: Option<berth_oci::Credential>,
    pub kind: String,
    pub berth_token_service: bool,
}
