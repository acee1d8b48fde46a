//! Referrers (signatures, SBOMs): attaching an artifact to a manifest (its blob, OCI's empty
//! config and an image manifest whose `subject` is the manifest, put by digest), and the
//! referrers tag schema by which a registry without the referrers API (Distribution 2.8) lists
//! them: an index tagged `sha256-<hex>` of the manifest's digest.

use bytes::Bytes;

use crate::manifest::{self, Descriptor, Manifest};
use crate::{Client, OciError};

/// OCI's empty descriptor's content, the config of an artifact manifest.
const EMPTY: &[u8] = b"{}";
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";

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

fn once(bytes: Bytes) -> crate::BlobStream {
    Box::pin(futures::stream::once(async move { Ok(bytes) }))
}

impl Client {
    /// Attaches `content` (of `artifact_type`, e.g. `application/vnd.cyclonedx+json`) to
    /// `subject` in `repo`, with `annotations` on the referrer; answers its digest. Without
    /// the referrers API, the tag schema's index is rewritten with it added.
    pub async fn attach(
        &self,
        repo: &str,
        subject: &Descriptor,
        artifact_type: &str,
        content: Bytes,
        annotations: serde_json::Value,
    ) -> Result<String, OciError> {
        let blob_digest = crate::sha256_digest(&content);
        let empty_digest = crate::sha256_digest(EMPTY);
        for (digest, bytes) in [
            (&empty_digest, Bytes::from_static(EMPTY)),
            (&blob_digest, content.clone()),
        ] {
            if self.head_blob(repo, digest).await?.is_none() {
                self.put_blob(repo, digest, bytes.len() as u64, once(bytes))
                    .await?;
            }
        }
        let doc = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": manifest::OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": empty_digest, "size": EMPTY.len()},
            "layers": [{"mediaType": artifact_type, "digest": blob_digest, "size": content.len()}],
            "subject": {"mediaType": subject.media_type, "digest": subject.digest, "size": subject.size},
            "annotations": annotations,
        });
        let bytes = serde_json::to_vec(&doc).map_err(|e| OciError::Protocol(e.to_string()))?;
        let digest = crate::sha256_digest(&bytes);
        self.put_manifest(
            repo,
            &digest,
            manifest::OCI_MANIFEST,
            Bytes::from(bytes.clone()),
        )
        .await?;
        let mut listed = self.referrers(repo, &subject.digest).await?;
        if listed.iter().any(|d| d.digest == digest) {
            return Ok(digest);
        }
        listed.push(Descriptor {
            media_type: manifest::OCI_MANIFEST.into(),
            digest: digest.clone(),
            size: bytes.len() as u64,
            platform: None,
            artifact_type: Some(artifact_type.into()),
        });
        let index = referrers_index(&listed)?;
        self.put_manifest(
            repo,
            &subject.digest.replace(':', "-"),
            manifest::OCI_INDEX,
            Bytes::from(index.bytes),
        )
        .await?;
        Ok(digest)
    }
}
