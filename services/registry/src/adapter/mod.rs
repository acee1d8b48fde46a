//! What Berth reads from a registry, per kind: `distribution` and `oci` through the Distribution
//! API ([`distribution`]), `harbor` through Harbor's `/api/v2.0` ([`harbor`]).

pub mod distribution;
pub mod harbor;

use berth_oci::{Auth, OciError};
use berth_proto::v1::{Artifact, Overview, Repository};

/// A page of items and the token of the next page (empty on the last).
pub type Page<T> = (Vec<T>, String);

#[async_trait::async_trait]
pub trait Adapter: Send + Sync {
    /// Checks reachability, that the URL is a registry of this kind, and the credential.
    async fn ping(&self) -> Result<(), OciError>;
    /// Counts spaces, repositories, artifacts and storage; of one space when `space` is set.
    async fn overview(&self, spaces: &Spaces) -> Result<Overview, OciError>;
    /// Repositories, optionally of one space, in name order.
    async fn repositories(
        &self,
        space: &str,
        page_size: usize,
        page_token: &str,
    ) -> Result<Page<Repository>, OciError>;
    /// Artifacts of a repository (one per distinct tagged digest).
    async fn artifacts(
        &self,
        repository: &str,
        page_size: usize,
        page_token: &str,
    ) -> Result<Page<Artifact>, OciError>;
}

/// The adapter for a registry of `kind`.
pub fn for_kind(
    kind: &str,
    url: &str,
    auth: Auth,
    insecure: bool,
) -> Result<Box<dyn Adapter>, OciError> {
    let options = berth_oci::ClientOptions {
        insecure,
        ..Default::default()
    };
    let credential = match &auth {
        Auth::Password(c) => Some(c.clone()),
        _ => None,
    };
    let oci = berth_oci::Client::with_auth(url, auth, options)?;
    Ok(match berth_proto::RegistryKind::parse(kind) {
        Some(berth_proto::RegistryKind::Harbor) => {
            Box::new(harbor::Harbor::new(url, credential, insecure, oci)?)
        }
        _ => Box::new(distribution::Distribution::new(oci)),
    })
}

/// Which spaces an overview counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spaces {
    /// Every repository, in a space or not.
    All,
    /// Only repositories of these spaces (never those outside any space).
    Only(std::collections::BTreeSet<String>),
}

impl Spaces {
    pub fn one(space: &str) -> Self {
        Self::Only([space.to_string()].into())
    }

    /// Whether `repository` is counted.
    pub fn admits(&self, repository: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(set) => set.contains(space_of(repository)),
        }
    }
}

/// The space of a repository: its first path segment when it has more than one.
pub fn space_of(repository: &str) -> &str {
    match repository.split_once('/') {
        Some((first, _)) => first,
        None => "",
    }
}
