//! Removing a registry or a workspace without leaving what depended on it behind.
//!
//! A registry's spaces (with their bindings) and the replication policies naming it, and a
//! workspace's bindings and the registries it integrated, would otherwise outlive them: a
//! registry integrated again under the same name would bring the old private grants back, and a
//! workspace's registry would be scoped to nobody. So removal refuses (`412`, naming what still
//! depends on it) unless asked to `cascade`, which removes the dependents first, each step
//! audited. Spaces are forgotten in Berth only: the registry itself (a Harbor project) is left
//! as it is.

use berth_error::{ApiError, ApiResult};
use berth_proto::v1::*;

use super::{fetch_registry, forward, registry_error, replication_error, request, space_error};
use crate::authn::Principal;
use crate::authz::{authorize, Action, Owner};
use crate::state::AppState;

/// The names of the registry's spaces and of the policies naming it.
async fn dependents_of_registry(
    s: &AppState,
    p: &Principal,
    registry: &str,
) -> ApiResult<(Vec<String>, Vec<String>)> {
    let spaces: Vec<String> = super::visibility::all_spaces(s, p, registry)
        .await?
        .into_iter()
        .map(|sp| sp.name)
        .collect();
    let policies = s
        .replication
        .policies
        .clone()
        .list_policies(request(p, ListPoliciesRequest::default()))
        .await
        .map_err(replication_error)?
        .into_inner()
        .policies
        .into_iter()
        .filter(|pol| {
            let names = |e: &Option<Endpoint>| e.as_ref().is_some_and(|e| e.registry == registry);
            names(&pol.source) || names(&pol.destination)
        })
        .map(|pol| pol.name)
        .collect();
    Ok((spaces, policies))
}

fn listed(what: &str, names: &[String]) -> Option<String> {
    (!names.is_empty()).then(|| format!("{what} {}", names.join(", ")))
}

/// Removes a registry from Berth (the registry itself is untouched).
///
/// Replication policies are a platform admin's: one naming the registry stops a workspace
/// admin's removal, cascade or not, without telling them its name. With `cascade`, its
/// spaces go, then the registry, then every space left of it: a space created meanwhile is
/// caught by that last sweep, or taken back by the space service, which asks for the registry
/// again after making one.
pub async fn delete_registry(
    s: &AppState,
    p: &Principal,
    name: &str,
    cascade: bool,
) -> ApiResult<()> {
    let r = fetch_registry(s, p, name).await?;
    authorize(
        p,
        Action::Manage,
        Owner::of(&r.workspace),
        &format!("registry {name:?}"),
    )?;
    let (spaces, policies) = dependents_of_registry(s, p, name).await?;
    if !policies.is_empty() && !p.platform_admin {
        return Err(ApiError::failed_precondition(format!(
            "registry {name:?} is named by replication policies, which a platform admin must remove first"
        )));
    }
    let has_dependents = !spaces.is_empty() || !policies.is_empty();
    if has_dependents && !cascade {
        let what: Vec<String> = [
            listed("spaces", &spaces),
            listed("replication policies", &policies),
        ]
        .into_iter()
        .flatten()
        .collect();
        return Err(ApiError::failed_precondition(format!(
            "registry {name:?} still has {}: remove them first, or delete with ?cascade=true",
            what.join(" and ")
        )));
    }
    for policy in policies {
        forward(
            s,
            p,
            "policy.delete",
            &format!("replication/policies/{policy}"),
            s.replication.policies.clone().delete_policy(request(
                p,
                DeletePolicyRequest {
                    name: policy.clone(),
                },
            )),
            replication_error,
            |_| (),
        )
        .await?;
    }
    forget_spaces(s, p, name, spaces).await?;
    forward(
        s,
        p,
        "registry.delete",
        &format!("registries/{name}"),
        s.registry.clone().delete_registry(request(
            p,
            DeleteRegistryRequest {
                name: name.to_string(),
                cascade,
            },
        )),
        registry_error,
        |_| (),
    )
    .await?;
    // Spaces made while this ran (the registry is gone now: no more can be).
    let late = super::visibility::all_spaces(s, p, name)
        .await?
        .into_iter()
        .map(|sp| sp.name)
        .collect();
    forget_spaces(s, p, name, late).await
}

/// Forgets `spaces` of `registry` in Berth, each audited; one already gone is no error.
async fn forget_spaces(
    s: &AppState,
    p: &Principal,
    registry: &str,
    spaces: Vec<String>,
) -> ApiResult<()> {
    for space in spaces {
        let req = DeleteSpaceRequest {
            registry: registry.into(),
            name: space.clone(),
            keep_project: true,
        };
        let out = forward(
            s,
            p,
            "space.delete",
            &format!("registries/{registry}/spaces/{space}"),
            s.space.spaces.clone().delete_space(request(p, req)),
            space_error,
            |_| (),
        )
        .await;
        match out {
            Err(e) if e.code == berth_error::ErrorCode::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

/// Deletes a workspace; one that is bound or integrated registries only with `cascade`, which
/// removes those registries (with their dependents) and its bindings too.
pub async fn delete_workspace(
    s: &AppState,
    p: &Principal,
    name: &str,
    cascade: bool,
) -> ApiResult<()> {
    authorize(p, Action::Admin, Owner::Platform, "deleting workspaces")?;
    let owned: Vec<String> = super::visibility::all_registries(s, p, name)
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect();
    if !owned.is_empty() && !cascade {
        return Err(ApiError::failed_precondition(format!(
            "workspace {name:?} integrated registries {}: remove them first, or delete with ?cascade=true",
            owned.join(", ")
        )));
    }
    for registry in owned {
        delete_registry(s, p, &registry, true).await?;
    }
    forward(
        s,
        p,
        "workspace.delete",
        &format!("workspaces/{name}"),
        s.space.workspaces.clone().delete_workspace(request(
            p,
            DeleteWorkspaceRequest {
                name: name.into(),
                cascade,
            },
        )),
        space_error,
        |_| (),
    )
    .await
}
