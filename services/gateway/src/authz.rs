//! Authorization: the one function that decides whether a principal may perform an action.

use berth_error::{ApiError, ApiResult};

use crate::authn::Principal;

/// Everything the gateway lets callers do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read platform registries, their health, repositories and overview.
    RegistryRead,
    /// Integrate, change, remove or ping a platform registry.
    RegistryWrite,
    /// Read the platform-wide overview.
    PlatformRead,
    /// Mint API tokens.
    TokenCreate,
    /// Read the audit trail.
    AuditRead,
}

/// Decides `action` for `principal`. Platform admins may do everything; any authenticated
/// principal may read platform registries (their names and health are not secret, and workspaces
/// need them to pull); everything else is reserved to platform admins.
pub fn authorize(principal: &Principal, action: Action) -> ApiResult<()> {
    if principal.platform_admin {
        return Ok(());
    }
    match action {
        Action::RegistryRead => Ok(()),
        Action::RegistryWrite | Action::PlatformRead | Action::TokenCreate | Action::AuditRead => {
            Err(ApiError::permission_denied(format!(
                "{} requires the platform-admin role",
                describe(action)
            )))
        }
    }
}

fn describe(action: Action) -> &'static str {
    match action {
        Action::RegistryRead => "reading registries",
        Action::RegistryWrite => "changing registries",
        Action::PlatformRead => "the platform overview",
        Action::TokenCreate => "creating API tokens",
        Action::AuditRead => "reading the audit trail",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_do_everything_others_only_read_registries() {
        let admin = Principal {
            name: "admin".into(),
            platform_admin: true,
        };
        let user = Principal {
            name: "alice".into(),
            platform_admin: false,
        };
        for a in [
            Action::RegistryRead,
            Action::RegistryWrite,
            Action::PlatformRead,
            Action::TokenCreate,
            Action::AuditRead,
        ] {
            assert!(authorize(&admin, a).is_ok());
            assert_eq!(
                authorize(&user, a).is_ok(),
                a == Action::RegistryRead,
                "{a:?}"
            );
        }
    }
}
