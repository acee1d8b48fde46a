//! Manifests: OCI and Docker v2 images and indexes, read with `oci-spec` types.

use oci_spec::image::{ImageIndex, ImageManifest};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Every manifest type Berth asks for, for the `Accept` header.
pub const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// How deep indexes may nest (an index of indexes is 2): deeper trees are refused, so a
/// hostile chain of indexes cannot exhaust a walker's stack.
pub const MAX_NESTING: u32 = 8;

/// The error for a tree nested deeper than [`MAX_NESTING`].
pub fn too_deep(digest: &str) -> crate::OciError {
    crate::OciError::Protocol(format!(
        "manifest {digest} nests indexes more than {MAX_NESTING} deep"
    ))
}

/// A content descriptor: what a manifest points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    /// `os/arch[/variant]` for index entries.
    pub platform: Option<String>,
    pub artifact_type: Option<String>,
}

#[derive(Debug, Clone)]
pub enum ManifestKind {
    Image(Box<ImageManifest>),
    Index(Box<ImageIndex>),
}

/// A manifest as stored: its exact bytes, digest and media type, and its parsed form.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub media_type: String,
    pub digest: String,
    pub bytes: Vec<u8>,
    pub kind: ManifestKind,
}

impl Manifest {
    /// Parses `bytes`; `header_type` is the response's `Content-Type`, used when the body has none.
    pub fn parse(bytes: Vec<u8>, header_type: Option<&str>) -> Result<Self, String> {
        #[derive(serde::Deserialize)]
        struct Probe {
            #[serde(rename = "mediaType")]
            media_type: Option<String>,
            manifests: Option<serde_json::Value>,
        }
        let probe: Probe =
            serde_json::from_slice(&bytes).map_err(|e| format!("manifest is not JSON: {e}"))?;
        let media_type = probe
            .media_type
            .or_else(|| header_type.map(|h| h.split(';').next().unwrap_or(h).trim().to_string()))
            .unwrap_or_else(|| {
                if probe.manifests.is_some() {
                    OCI_INDEX
                } else {
                    OCI_MANIFEST
                }
                .to_string()
            });
        let is_index =
            probe.manifests.is_some() || media_type == OCI_INDEX || media_type == DOCKER_LIST;
        let kind = if is_index {
            ManifestKind::Index(Box::new(
                ImageIndex::from_reader(bytes.as_slice()).map_err(|e| format!("bad index: {e}"))?,
            ))
        } else {
            ManifestKind::Image(Box::new(
                ImageManifest::from_reader(bytes.as_slice())
                    .map_err(|e| format!("bad manifest: {e}"))?,
            ))
        };
        Ok(Self {
            media_type,
            digest: crate::sha256_digest(&bytes),
            bytes,
            kind,
        })
    }

    /// The blobs an image references: its config, then its layers. Empty for an index.
    pub fn blobs(&self) -> Vec<Descriptor> {
        match &self.kind {
            ManifestKind::Image(m) => std::iter::once(m.config())
                .chain(m.layers().iter())
                .map(descriptor)
                .collect(),
            ManifestKind::Index(_) => Vec::new(),
        }
    }

    /// The manifests an index references. Empty for an image.
    pub fn children(&self) -> Vec<Descriptor> {
        match &self.kind {
            ManifestKind::Index(i) => i.manifests().iter().map(descriptor).collect(),
            ManifestKind::Image(_) => Vec::new(),
        }
    }

    /// The `subject` this manifest refers to (signatures, SBOMs), if any.
    pub fn subject(&self) -> Option<Descriptor> {
        match &self.kind {
            ManifestKind::Image(m) => m.subject().as_ref().map(descriptor),
            ManifestKind::Index(i) => i.subject().as_ref().map(descriptor),
        }
    }

    pub fn is_index(&self) -> bool {
        matches!(self.kind, ManifestKind::Index(_))
    }
}

fn descriptor(d: &oci_spec::image::Descriptor) -> Descriptor {
    Descriptor {
        media_type: d.media_type().to_string(),
        digest: d.digest().to_string(),
        size: d.size(),
        platform: d.platform().as_ref().map(|p| {
            let mut s = format!("{}/{}", p.os(), p.architecture());
            if let Some(v) = p.variant() {
                s.push('/');
                s.push_str(v);
            }
            s
        }),
        artifact_type: d.artifact_type().as_ref().map(|t| t.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7,"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32,"digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222"}]}"#;
    const INDEX: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":100,"digest":"sha256:3333333333333333333333333333333333333333333333333333333333333333","platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}"#;

    #[test]
    fn reads_docker_images_and_oci_indexes() {
        let m = Manifest::parse(IMAGE.as_bytes().to_vec(), None).unwrap();
        assert_eq!(m.media_type, DOCKER_MANIFEST);
        assert!(!m.is_index());
        let blobs = m.blobs();
        assert_eq!(blobs.len(), 2);
        assert_eq!(blobs[0].size + blobs[1].size, 39);
        assert_eq!(m.digest, crate::sha256_digest(IMAGE.as_bytes()));

        let i = Manifest::parse(INDEX.as_bytes().to_vec(), None).unwrap();
        assert!(i.is_index());
        assert_eq!(i.children()[0].platform.as_deref(), Some("linux/arm64/v8"));
        assert!(i.blobs().is_empty());
    }

    #[test]
    fn rejects_what_is_not_a_manifest() {
        assert!(Manifest::parse(b"<html>".to_vec(), None).is_err());
        assert!(Manifest::parse(b"{\"schemaVersion\":2}".to_vec(), None).is_err());
    }
}
