//! The one OCI Distribution client of Berth, on reqwest.
//!
//! [`Client`] speaks the Distribution API to one registry: `/v2/` ping, Basic and Bearer-challenge
//! auth with a token cache per scope ([`auth`]), catalog and tag listing that follows `Link`
//! pagination, manifests (OCI and Docker v2, images and indexes) with digest verification
//! ([`manifest`]), blobs streamed in and out, cross-repository mount and referrers. Errors say
//! what failed in terms an operator can act on ([`OciError`]).

pub mod auth;
mod client;
mod error;
pub mod manifest;
mod pagination;
pub mod reference;
mod referrers;

pub use client::{Auth, BlobStream, Client, ClientOptions, Credential, Mount, TokenMinter};
pub use error::OciError;
pub use manifest::{Descriptor, Manifest, ManifestKind};
pub use reference::Reference;
pub use referrers::referrers_index;

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}
