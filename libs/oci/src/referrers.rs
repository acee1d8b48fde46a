//! The referrers tag schema: a registry without the referrers API (Distribution 2.8) lists a
//! manifest's referrers (signatures, SBOMs) in an index tagged `sha256-<hex>` of its digest.

use crate::manifest::{self, Descriptor, Manifest};
use crate::OciError;

/// An OCI index listing `referrers`, for the referrers tag schema.
pub fn referrers_index(referrers: &[Descriptor]) -> Result<Manifest, OciError> {
    let manifests: Vec<serde_json::Value> = referrers
        .iter()
        .map(|r| {
            let mut d = serde_json::json!({
                "mediaType": r.media_type,
                "digest": r.digest,
                "size": r.size,
            });
            if let Some(t) = &r.artifact_type {
                d["artifactType"] = serde_json::Value::String(t.clone());
            }
            d
        })
        .collect();
    let doc = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": manifest::OCI_INDEX,
        "manifests": manifests,
    });
    let bytes = serde_json::to_vec(&doc).map_err(|e| OciError::Protocol(e.to_string()))?;
    Manifest::parse(bytes, None).map_err(OciError::Protocol)
}
