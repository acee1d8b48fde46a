//! The copy engine: one artifact (a tag) from a source repository to a destination repository,
//! with the one OCI client. Blobs first, in parallel, skipping those the destination has
//! (HEAD), mounting across repositories of the same registry, streaming everything else
//! (GET → PUT, never held whole); index children before the index; the tag's manifest last, so
//! a partial image never appears.

use berth_oci::{Client, Descriptor, Manifest, Mount, OciError};
use bytes::Bytes;
use futures::{stream, StreamExt, TryStreamExt};

const BLOBS_IN_FLIGHT: usize = 8;

/// What copying one tag did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Copied; this many bytes moved.
    Copied(u64),
    /// The destination already had the same digest.
    UpToDate,
    /// The destination tag points elsewhere and the policy does not override.
    Kept,
}

#[derive(Clone)]
pub struct Copier {
    pub src: Client,
    pub dst: Client,
    /// Source and destination are the same registry: blobs can be mounted.
    pub same_registry: bool,
}

impl Copier {
    /// Copies `src_repo:tag` to `dst_repo:tag`.
    pub async fn copy_tag(
        &self,
        src_repo: &str,
        dst_repo: &str,
        tag: &str,
        overwrite: bool,
    ) -> Result<Outcome, OciError> {
        let top = self.src.manifest(src_repo, tag).await?;
        if let Some(existing) = self.dst.head_manifest(dst_repo, tag).await? {
            if existing.digest == top.digest {
                return Ok(Outcome::UpToDate);
            }
            if !overwrite {
                return Ok(Outcome::Kept);
            }
        }
        let mut bytes = 0;
        for child in top.children() {
            if self
                .dst
                .head_manifest(dst_repo, &child.digest)
                .await?
                .is_some()
            {
                continue;
            }
            let m = self.src.manifest(src_repo, &child.digest).await?;
            bytes += self.copy_blobs(src_repo, dst_repo, &m).await?;
            bytes += self.put(dst_repo, &child.digest, &m).await?;
        }
        bytes += self.copy_blobs(src_repo, dst_repo, &top).await?;
        bytes += self.put(dst_repo, tag, &top).await?;
        Ok(Outcome::Copied(bytes))
    }

    async fn put(&self, repo: &str, reference: &str, m: &Manifest) -> Result<u64, OciError> {
        self.dst
            .put_manifest(repo, reference, &m.media_type, Bytes::from(m.bytes.clone()))
            .await?;
        Ok(m.bytes.len() as u64)
    }

    async fn copy_blobs(
        &self,
        src_repo: &str,
        dst_repo: &str,
        m: &Manifest,
    ) -> Result<u64, OciError> {
        let blobs = m.blobs();
        let copied: Vec<u64> = stream::iter(blobs)
            .map(|d| self.copy_blob(src_repo, dst_repo, d))
            .buffer_unordered(BLOBS_IN_FLIGHT)
            .try_collect()
            .await?;
        Ok(copied.into_iter().sum())
    }

    /// Copies one blob; answers the bytes moved (0 when skipped or mounted).
    async fn copy_blob(
        &self,
        src_repo: &str,
        dst_repo: &str,
        d: Descriptor,
    ) -> Result<u64, OciError> {
        if self.dst.head_blob(dst_repo, &d.digest).await?.is_some() {
            return Ok(0);
        }
        if self.same_registry && src_repo != dst_repo {
            match self.dst.mount_blob(dst_repo, &d.digest, src_repo).await? {
                Mount::Mounted => return Ok(0),
                Mount::Upload(location) => {
                    let (_, body) = self.src.get_blob(src_repo, &d.digest).await?;
                    self.dst
                        .finish_upload(dst_repo, &location, &d.digest, d.size, body)
                        .await?;
                    return Ok(d.size);
                }
            }
        }
        let (_, body) = self.src.get_blob(src_repo, &d.digest).await?;
        self.dst.put_blob(dst_repo, &d.digest, d.size, body).await?;
        Ok(d.size)
    }
}
