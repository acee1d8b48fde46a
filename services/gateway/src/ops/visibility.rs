//! What of a registry's contents a principal may see: the access rule applied to reads.
//!
//! Platform admins see everything, and so do the members of the workspace that integrated a
//! registry. On a platform registry anyone else sees the repositories of the spaces they may see
//! (public, or bound to one of their workspaces) and nothing outside a space: listings, counts
//! and overviews are cut to that, and a name outside it answers 404.

use std::collections::BTreeSet;

use berth_error::{ApiError, ApiResult};
use berth_proto::v1::{ListRegistriesRequest, ListSpacesRequest, Registry, Space};

use super::{registry_error, request, space_error};
use crate::authn::Principal;
use crate::authz::{authorize_space, Action, Owner};
use crate::state::AppState;

/// The contents of one registry a principal may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visible {
    All,
    Spaces(BTreeSet<String>),
}

impl Visible {
    /// Whether `repository` (its first path segment names the space) may be seen.
    pub fn repository(&self, repository: &str) -> bool {
        match self {
            Self::All => true,
            Self::Spaces(set) => repository
                .split_once('/')
                .is_some_and(|(space, _)| set.contains(space)),
        }
    }

    pub fn space(&self, space: &str) -> bool {
        match self {
            Self::All => true,
            Self::Spaces(set) => set.contains(space),
        }
    }

    /// `404` naming `what` unless `repository` may be seen.
    pub fn require_repository(&self, registry: &str, repository: &str) -> ApiResult<()> {
        if self.repository(repository) {
            Ok(())
        } else {
            Err(ApiError::not_found(format!(
                "repository {registry}/{repository} not found"
            )))
        }
    }
}

/// What `p` may see of `registry` (already authorized for reading).
pub async fn visible(s: &AppState, p: &Principal, registry: &Registry) -> ApiResult<Visible> {
    if p.platform_admin || !registry.workspace.is_empty() {
        return Ok(Visible::All);
    }
    let set = all_spaces(s, p, &registry.name)
        .await?
        .into_iter()
        .filter(|sp| authorize_space(p, Action::Read, Owner::Platform, sp).is_ok())
        .map(|sp| sp.name)
        .collect();
    Ok(Visible::Spaces(set))
}

/// Every space of `registry`, all pages of the space service.
pub async fn all_spaces(s: &AppState, p: &Principal, registry: &str) -> ApiResult<Vec<Space>> {
    let mut spaces = Vec::new();
    let mut token = String::new();
    loop {
        let page = s
            .space
            .spaces
            .clone()
            .list_spaces(request(
                p,
                ListSpacesRequest {
                    registry: registry.into(),
                    page_size: 500,
                    page_token: token,
                },
            ))
            .await
            .map_err(space_error)?
            .into_inner();
        spaces.extend(page.spaces);
        if page.next_page_token.is_empty() {
            return Ok(spaces);
        }
        token = page.next_page_token;
    }
}

/// Every registry (or every one `workspace` integrated), all pages of the registry service.
pub async fn all_registries(
    s: &AppState,
    p: &Principal,
    workspace: &str,
) -> ApiResult<Vec<Registry>> {
    let mut registries = Vec::new();
    let mut token = String::new();
    loop {
        let page = s
            .registry
            .clone()
            .list_registries(request(
                p,
                ListRegistriesRequest {
                    page_size: 500,
                    page_token: token,
                    workspace: workspace.into(),
                },
            ))
            .await
            .map_err(registry_error)?
            .into_inner();
        registries.extend(page.registries);
        if page.next_page_token.is_empty() {
            return Ok(registries);
        }
        token = page.next_page_token;
    }
}
