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

use super::{fetch_registry, forward, from_registry, from_replication, from_space, request};
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
        .map_err(from_replication)?
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
            from_replication,
            |_| (),
        )
        .await?;
    }
    for space in spaces {
        let req = DeleteSpaceRequest {
            registry: name.into(),
            name: space.clone(),
            keep_project: true,
        };
        forward(
            s,
            p,
            "space.delete",
            &format!("registries/{name}/spaces/{space}"),
            s.space.spaces.clone().delete_space(request(p, req)),
            from_space,
            |_| (),
        )
        .await?;
    }
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
        from_registry,
        |_| (),
    )
    .await
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
    let owned: Vec<String> = s
        .registry
        .clone()
        .list_registries(request(
            p,
            ListRegistriesRequest {
                page_size: 500,
                page_token: String::new(),
                workspace: name.into(),
            },
        ))
        .await
        .map_err(from_registry)?
        .into_inner()
        .registries
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
        from_space,
        |_| (),
    )
    .await
}
