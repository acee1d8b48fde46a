//! Authorization: the one place that decides whether a principal may act on a resource.
//!
//! A resource is owned by the platform or by one workspace. Platform admins may do everything.
//! Anyone authenticated may read platform-owned registries. A workspace's members (any role)
//! may read what it owns, its workspace-admins may change it, and to everyone else it does not
//! exist: `404`, not `403`, so names do not leak. A space is also readable when it is public or
//! bound to one of the principal's workspaces.

use berth_error::{ApiError, ApiResult};
use berth_proto::v1::Space;

use crate::authn::Principal;

pub const WORKSPACE_ADMIN: &str = "workspace-admin";

/// Who owns a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner<'a> {
    Platform,
    Workspace(&'a str),
}

impl<'a> Owner<'a> {
    /// The owner named by a registry's `workspace` field (empty: the platform).
    pub fn of(workspace: &'a str) -> Self {
        if workspace.is_empty() {
            Self::Platform
        } else {
            Self::Workspace(workspace)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See the resource.
    Read,
    /// Change the resource.
    Manage,
    /// Platform-admin operations (tokens, audit, workspaces, namespaces, platform overview).
    Admin,
}

/// Decides `action` on `what`, owned by `owner`, for `principal`.
pub fn authorize(p: &Principal, action: Action, owner: Owner, what: &str) -> ApiResult<()> {
    if p.platform_admin {
        return Ok(());
    }
    let denied = || {
        ApiError::permission_denied(format!("changing {what} requires the workspace-admin role"))
    };
    match (action, owner) {
        (Action::Admin, _) => Err(ApiError::permission_denied(format!(
            "{what} requires the platform-admin role"
        ))),
        (Action::Read, Owner::Platform) => Ok(()),
        (Action::Manage, Owner::Platform) => Err(ApiError::permission_denied(format!(
            "changing {what} requires the platform-admin role"
        ))),
        (action, Owner::Workspace(w)) => match p.roles.get(w) {
            None => Err(ApiError::not_found(format!("{what} not found"))),
            Some(_) if action == Action::Read => Ok(()),
            Some(role) if role == WORKSPACE_ADMIN => Ok(()),
            Some(_) => Err(denied()),
        },
    }
}

/// Decides `action` on a space whose registry is owned by `owner`.
pub fn authorize_space(
    p: &Principal,
    action: Action,
    owner: Owner,
    space: &Space,
) -> ApiResult<()> {
    let what = format!("space {}/{}", space.registry, space.name);
    let visible = p.platform_admin
        || space.visibility == "public"
        || matches!(owner, Owner::Workspace(w) if p.roles.contains_key(w))
        || space.workspaces.iter().any(|w| p.roles.contains_key(w));
    if !visible {
        return Err(ApiError::not_found(format!("{what} not found")));
    }
    match action {
        Action::Read => Ok(()),
        _ => authorize(p, action, owner, &what),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn who(admin: bool, roles: &[(&str, &str)]) -> Principal {
        Principal {
            name: "p".into(),
            platform_admin: admin,
            roles: roles
                .iter()
                .map(|(w, r)| (w.to_string(), r.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn owners_roles_and_hiding() {
        let admin = who(true, &[]);
        let ws_admin = who(false, &[("blue", "workspace-admin")]);
        let viewer = who(false, &[("blue", "workspace-viewer")]);
        let outsider = who(false, &[("green", "workspace-admin")]);
        let blue = Owner::Workspace("blue");
        for a in [Action::Read, Action::Manage, Action::Admin] {
            assert!(authorize(&admin, a, blue, "x").is_ok());
        }
        assert!(authorize(&ws_admin, Action::Manage, blue, "x").is_ok());
        assert!(authorize(&viewer, Action::Read, blue, "x").is_ok());
        assert_eq!(
            authorize(&viewer, Action::Manage, blue, "x")
                .unwrap_err()
                .code
                .http(),
            403
        );
        assert_eq!(
            authorize(&outsider, Action::Read, blue, "x")
                .unwrap_err()
                .code
                .http(),
            404
        );
        assert_eq!(
            authorize(&outsider, Action::Manage, blue, "x")
                .unwrap_err()
                .code
                .http(),
            404
        );
        assert!(authorize(&outsider, Action::Read, Owner::Platform, "x").is_ok());
        assert_eq!(
            authorize(&ws_admin, Action::Manage, Owner::Platform, "x")
                .unwrap_err()
                .code
                .http(),
            403
        );
        assert_eq!(
            authorize(&ws_admin, Action::Admin, Owner::Platform, "x")
                .unwrap_err()
                .code
                .http(),
            403
        );
    }

    #[test]
    fn spaces_are_visible_when_public_bound_or_owned() {
        let space = |visibility: &str, bound: &[&str]| Space {
            registry: "r".into(),
            name: "s".into(),
            visibility: visibility.into(),
            workspaces: bound.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let viewer = who(false, &[("blue", "workspace-viewer")]);
        assert!(authorize_space(
            &viewer,
            Action::Read,
            Owner::Platform,
            &space("public", &[])
        )
        .is_ok());
        assert!(authorize_space(
            &viewer,
            Action::Read,
            Owner::Platform,
            &space("private", &["blue"])
        )
        .is_ok());
        assert_eq!(
            authorize_space(
                &viewer,
                Action::Read,
                Owner::Platform,
                &space("private", &["green"])
            )
            .unwrap_err()
            .code
            .http(),
            404
        );
        assert_eq!(
            authorize_space(
                &viewer,
                Action::Manage,
                Owner::Platform,
                &space("private", &["blue"])
            )
            .unwrap_err()
            .code
            .http(),
            403
        );
        assert!(authorize_space(
            &viewer,
            Action::Read,
            Owner::Workspace("blue"),
            &space("private", &[])
        )
        .is_ok());
    }
}
