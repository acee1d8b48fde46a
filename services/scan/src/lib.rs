//! The scan service (issue 11, in progress): what an image holds, read from its layers.
//!
//! - [`inventory`]: one streamed pass over each layer (gzip, zstd or uncompressed; nothing
//!   written to disk) finds the operating system and the packages its databases list, and the
//!   whiteouts and opaque directories that hide what lower layers hold; an image's inventory is
//!   its layers' inventories applied in order.
//! - [`scanner`]: an artifact's inventory read from its registry, per platform of an index, each
//!   layer read once across every image that shares it.
//!
//! - [`versions`]: each ecosystem's version order, exactly as its package manager orders.
//! - [`osv`]: vulnerability records in the OSV schema and whether one affects a package.
//! - [`severity`]: CVSS v3 base scores and severity bands.
//! - [`debian`]: records built from Debian packages' own changelogs.
//! - [`matcher`]: an image's packages matched against the records: findings and a summary.
//! - [`sbom`]: CycloneDX 1.6 and SPDX 2.3 JSON of an inventory, with package URLs.
//! - [`vulndb`]: the database: OSV exports (zip), OSV JSON and Debian-built records imported,
//!   newest of each record kept, versioned, with its status.
//!
//! The vulnerability database, reports, SBOMs, triggers, the gate and the service's API come
//! next, on the same skeleton as the other services.

pub mod debian;
pub mod inventory;
pub mod matcher;
pub mod osv;
pub mod sbom;
pub mod scanner;
pub mod severity;
pub mod versions;
pub mod vulndb;
