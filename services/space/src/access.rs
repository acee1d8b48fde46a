//! The access rule, decided in one place for `CheckPull`, the image selector, the token service
//! and the admission webhook.
//!
//! Namespace `N` may pull `registry/space/repo:tag` iff the space is public, or `N` belongs to a
//! workspace bound to the space, or the registry was integrated by `N`'s own workspace.
//! Repositories outside any defined space belong to no workspace. Every other answer is a deny
//! with a reason.

use berth_oci::Reference;
use sea_orm::EntityTrait;

use crate::entity::binding;
use crate::error::{Result, SpaceError};
use crate::tenancy::{check, Tenancy};

/// An answer of the access rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
}

fn allow(reason: String) -> Decision {
    Decision {
        allowed: true,
        reason,
    }
}

fn deny(reason: String) -> Decision {
    Decision {
        allowed: false,
        reason,
    }
}

impl Tenancy {
    /// Whether namespace `ns` may pull `image`. An unknown namespace is `NotFound`; a malformed
    /// image is `InvalidArgument` naming `image`.
    pub async fn check_pull(&self, ns: &str, image: &str) -> Result<Decision> {
        check("namespace", berth_error::validate::dns_label, ns)?;
        let reference = Reference::parse(image).map_err(|m| SpaceError::invalid("image", m))?;
        let workspace = self.workspace_of(ns).await?.ok_or_else(|| {
            SpaceError::NotFound(format!("namespace {ns:?} belongs to no workspace"))
        })?;
        self.decide(Some(&workspace), &reference).await
    }

    /// The rule for a caller in `workspace` (`None`: a namespace of no workspace).
    pub async fn decide(&self, workspace: Option<&str>, r: &Reference) -> Result<Decision> {
        let Some(registry) = self.directory.by_host(&r.host).await? else {
            return Ok(deny(format!(
                "registry {} is not integrated with Berth",
                r.host
            )));
        };
        if !registry.workspace.is_empty() {
            return Ok(if workspace == Some(registry.workspace.as_str()) {
                allow(format!(
                    "registry {} was integrated by workspace {}",
                    registry.name, registry.workspace
                ))
            } else {
                deny(format!(
                    "registry {} is private to another workspace",
                    registry.name
                ))
            });
        }
        let space_name = r.space();
        let outside = || {
            deny(format!(
                "repository {} is outside any space: only platform admins may pull it",
                r.repository
            ))
        };
        if space_name.is_empty() {
            return Ok(outside());
        }
        let space = match self.find_space(&self.db, &registry.name, space_name).await {
            Ok(s) => s,
            Err(SpaceError::NotFound(_)) => return Ok(outside()),
            Err(e) => return Err(e),
        };
        let full = format!("{}/{}", registry.name, space.name);
        if space.visibility == "public" {
            return Ok(allow(format!("space {full} is public")));
        }
        let Some(ws) = workspace else {
            return Ok(deny(format!(
                "space {full} is private and the namespace belongs to no workspace"
            )));
        };
        let bound = binding::Entity::find_by_id((space.id, ws.to_string()))
            .one(&self.db)
            .await?
            .is_some();
        Ok(if bound {
            allow(format!("space {full} is bound to workspace {ws}"))
        } else {
            deny(format!(
                "space {full} is private and not bound to workspace {ws}"
            ))
        })
    }
}
