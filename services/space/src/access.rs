//! The access rule, decided in one place for `CheckPull`, the image selector, the token service
//! and the admission webhook.
//!
//! Namespace `N` may pull `registry/space/repo:tag` iff the space is public, or `N` belongs to a
//! workspace bound to the space, or the registry was integrated by `N`'s own workspace.
//! Repositories outside any defined space belong to no workspace. Every other answer is a deny
//! with a reason.

use berth_oci::Reference;
use berth_proto::v1::Registry;
use sea_orm::EntityTrait;
use sea_orm::{ColumnTrait, QueryFilter};

use crate::entity::{binding, member};
use crate::error::{Result, SpaceError};
use crate::tenancy::{check, Tenancy};

/// An answer of the access rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
    /// Set on an allow when the space gates pulls on scan reports: the scan service decides.
    pub gate: Option<berth_proto::v1::Gate>,
}

fn allow(reason: String) -> Decision {
    Decision {
        allowed: true,
        reason,
        gate: None,
    }
}

fn deny(reason: String) -> Decision {
    Decision {
        allowed: false,
        reason,
        gate: None,
    }
}

impl Tenancy {
    /// Whether namespace `ns` may pull `image`. An unknown namespace is `NotFound`; a malformed
    /// image is `InvalidArgument` naming `image`.
    pub async fn check_pull(&self, ns: &str, image: &str) -> Result<Decision> {
        self.check_pull_as(ns, image, false).await
    }

    /// [`Tenancy::check_pull`], optionally evaluating a namespace of no workspace as such
    /// (what the admission webhook needs for system namespaces).
    pub async fn check_pull_as(
        &self,
        ns: &str,
        image: &str,
        allow_unknown: bool,
    ) -> Result<Decision> {
        check("namespace", berth_error::validate::dns_label, ns)?;
        let reference = Reference::parse(image).map_err(|m| SpaceError::invalid("image", m))?;
        let workspace = self.workspace_of(ns).await?;
        if workspace.is_none() && !allow_unknown {
            return Err(SpaceError::NotFound(format!(
                "namespace {ns:?} belongs to no workspace"
            )));
        }
        self.decide(workspace.as_deref(), &reference).await
    }

    /// The rule for a caller in `workspace` (`None`: a namespace of no workspace).
    pub async fn decide(&self, workspace: Option<&str>, r: &Reference) -> Result<Decision> {
        let Some(registry) = self.directory.by_host(&r.host).await? else {
            return Ok(deny(format!(
                "registry {} is not integrated with Berth",
                r.host
            )));
        };
        let mut d = self.decide_at(workspace, &registry, &r.repository).await?;
        if d.allowed {
            let reference = r.digest.as_deref().or(r.tag.as_deref()).unwrap_or("latest");
            d.gate = self
                .gate_of(&registry.name, &r.repository, reference)
                .await?;
        }
        Ok(d)
    }

    /// The rule for a caller in `workspace` pulling `repository` from `registry`.
    pub async fn decide_at(
        &self,
        workspace: Option<&str>,
        registry: &Registry,
        repository: &str,
    ) -> Result<Decision> {
        // Denials say the same for what does not exist and for what the namespace may not see:
        // a reason names no other workspace's registry and tells no hidden space from none.
        let hidden = |at: &str| {
            deny(format!(
                "{at}/{repository} is in no space this namespace may pull from (a public space, \
                 or one bound to its workspace)"
            ))
        };
        if !registry.workspace.is_empty() {
            return Ok(if workspace == Some(registry.workspace.as_str()) {
                allow(format!(
                    "registry {} was integrated by workspace {}",
                    registry.name, registry.workspace
                ))
            } else {
                hidden(&crate::directory::host_of(&registry.url))
            });
        }
        let space_name = repository.split_once('/').map_or("", |(s, _)| s);
        if space_name.is_empty() {
            return Ok(hidden(&registry.name));
        }
        let space = match self.find_space(&self.db, &registry.name, space_name).await {
            Ok(s) => s,
            Err(SpaceError::NotFound(_)) => return Ok(hidden(&registry.name)),
            Err(e) => return Err(e),
        };
        if space.visibility == "public" {
            return Ok(allow(format!(
                "space {}/{} is public",
                registry.name, space.name
            )));
        }
        let Some(ws) = workspace else {
            return Ok(hidden(&registry.name));
        };
        let bound = binding::Entity::find_by_id((space.id, ws.to_string()))
            .one(&self.db)
            .await?
            .is_some();
        Ok(if bound {
            allow(format!(
                "space {}/{} is bound to workspace {ws}",
                registry.name, space.name
            ))
        } else {
            hidden(&registry.name)
        })
    }
}

/// Who asks the token service for access.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A namespace's pull credential: pull only, by the access rule.
    Namespace(String),
    /// A person or robot with its platform-admin flag.
    Principal { name: String, platform_admin: bool },
}

const WRITE_ROLES: [&str; 2] = ["workspace-admin", "workspace-editor"];

impl Tenancy {
    /// The subset of `requested` actions `subject` may take on `repository` of `registry`:
    /// pull by the access rule; push and delete for editors and admins of the workspace that
    /// owns the registry or is bound to the space; everything for platform admins.
    pub async fn grant(
        &self,
        registry: &str,
        repository: &str,
        subject: &Subject,
        requested: &[String],
    ) -> Result<(Vec<String>, String)> {
        let Ok(reg) = self.directory.by_name(registry).await else {
            return Ok((
                Vec::new(),
                format!("registry {registry:?} is not integrated with Berth"),
            ));
        };
        // Tokens are for registries that delegate their auth to Berth, and no other: a name
        // another registry trusts must not be served through one that does not.
        if reg.token_service != "berth" {
            return Ok((
                Vec::new(),
                format!("registry {registry:?} does not delegate its auth to Berth"),
            ));
        }
        let wants = |a: &str| requested.iter().any(|r| r == a || r == "*");
        let pick = |allowed: &[&str]| -> Vec<String> {
            requested
                .iter()
                .filter(|r| allowed.contains(&r.as_str()))
                .cloned()
                .collect()
        };
        match subject {
            Subject::Principal {
                platform_admin: true,
                ..
            } => Ok((requested.to_vec(), "platform admin".into())),
            Subject::Namespace(ns) => {
                let ws = self.workspace_of(ns).await?;
                let d = self.decide_at(ws.as_deref(), &reg, repository).await?;
                let granted = if d.allowed && wants("pull") {
                    vec!["pull".to_string()]
                } else {
                    Vec::new()
                };
                Ok((granted, d.reason))
            }
            Subject::Principal { name, .. } => {
                let roles: Vec<(String, String)> = member::Entity::find()
                    .filter(member::Column::Principal.eq(name.as_str()))
                    .all(&self.db)
                    .await?
                    .into_iter()
                    .map(|m| (m.workspace, m.role))
                    .collect();
                let role_in = |w: &str| {
                    roles
                        .iter()
                        .find(|(ws, _)| ws == w)
                        .map(|(_, r)| r.as_str())
                };
                // A workspace's own registry: its members pull, its editors and admins write.
                if !reg.workspace.is_empty() {
                    return Ok(match role_in(&reg.workspace) {
                        Some(r) if WRITE_ROLES.contains(&r) => (
                            pick(&["pull", "push", "delete"]),
                            format!("{r} of the owning workspace"),
                        ),
                        Some(r) => (pick(&["pull"]), format!("{r} of the owning workspace")),
                        None => (
                            Vec::new(),
                            format!("registry {registry} is private to another workspace"),
                        ),
                    });
                }
                let space_name = repository.split_once('/').map_or("", |(s, _)| s);
                let space = match self.find_space(&self.db, registry, space_name).await {
                    Ok(s) => s,
                    Err(crate::error::SpaceError::NotFound(_)) => {
                        return Ok((
                            Vec::new(),
                            format!("repository {repository} is outside any space"),
                        ))
                    }
                    Err(e) => return Err(e),
                };
                let bound: Vec<binding::Model> = binding::Entity::find()
                    .filter(binding::Column::SpaceId.eq(space.id.as_str()))
                    .all(&self.db)
                    .await?;
                // The best a principal has through the bindings: write where a binding grants
                // push and the principal edits that workspace, else pull as any member.
                let mut best: Option<(&str, bool)> = None;
                for b in &bound {
                    let Some(r) = role_in(&b.workspace) else {
                        continue;
                    };
                    let writes = b.push && WRITE_ROLES.contains(&r);
                    if best.is_none_or(|(_, w)| writes && !w) {
                        best = Some((r, writes));
                    }
                }
                let (granted, reason) = match best {
                    Some((r, true)) => (
                        pick(&["pull", "push", "delete"]),
                        format!("{r} of a workspace bound with push"),
                    ),
                    Some((r, false)) => (
                        pick(&["pull"]),
                        format!("{r} of a bound workspace (the binding grants pull only)"),
                    ),
                    None if space.visibility == "public" => {
                        (pick(&["pull"]), "public space".into())
                    }
                    None => (
                        Vec::new(),
                        format!(
                            "space {registry}/{space_name} is private and not bound to a workspace of {name}"
                        ),
                    ),
                };
                self.within_quota(&reg, &space, granted, reason).await
            }
        }
    }

    /// Drops `push` when the space is at or over its storage quota (deleting stays allowed, to
    /// make room). Harbor enforces its own project quotas, so only other kinds are measured.
    async fn within_quota(
        &self,
        reg: &Registry,
        space: &crate::entity::space::Model,
        granted: Vec<String>,
        reason: String,
    ) -> Result<(Vec<String>, String)> {
        if space.quota_bytes <= 0
            || berth_proto::RegistryKind::Harbor.is(&reg.kind)
            || !granted.iter().any(|a| a == "push" || a == "*")
        {
            return Ok((granted, reason));
        }
        let req = berth_proto::v1::GetRegistryOverviewRequest {
            name: reg.name.clone(),
            space: space.name.clone(),
            ..Default::default()
        };
        let usage = self
            .directory
            .client()
            .get_registry_overview(req)
            .await
            .map_err(crate::directory::upstream)?
            .into_inner()
            .overview
            .unwrap_or_default()
            .storage_bytes;
        if usage < space.quota_bytes as u64 {
            return Ok((granted, reason));
        }
        let kept = granted
            .into_iter()
            .filter(|a| a != "push" && a != "*")
            .collect();
        Ok((
            kept,
            format!(
                "space {}/{} is over its quota ({usage} of {} bytes used)",
                reg.name, space.name, space.quota_bytes
            ),
        ))
    }
}
