//! Credentials shared by Berth's services.
//!
//! - [`internal`]: the service credential that internal gRPC servers require and clients attach;
//! - [`tokens`]: random bearer tokens, stored only as hashes;
//! - [`sealed`]: AES-256-GCM sealing of secrets (registry passwords) at rest.

pub mod internal;
pub mod registry_token;
pub mod sealed;
pub mod tokens;
