//! The copy engine: one artifact (a tag) from a source repository to a destination repository,
//! with the one OCI client.
//!
//! - Blobs first, in parallel, skipping those the destination has (HEAD), mounting across
//!   repositories of the same registry, streaming everything else (GET → PUT, never held whole);
//!   blobs of [`CHUNK`] bytes or more go in chunks and resume after a failure where the
//!   registry allows it. The registry verifies every digest on the final `PUT`.
//! - The same blob is copied once at a time per destination, across workers ([`Flights`]);
//!   later tasks mount it from where it landed.
//! - Index children before the index, the tag's manifest last, so a partial image never appears.
//! - Optionally only some platforms of an index (the index is rewritten), and the referrers
//!   (signatures, SBOMs) of every copied manifest, through the referrers API or its tag schema.
//! - Transient failures of a blob are retried a few times with backoff before the task fails.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use berth_oci::{BlobStream, Client, Descriptor, Manifest, Mount, OciError};
use bytes::Bytes;
use futures::{stream, StreamExt, TryStreamExt};

use crate::flights::Flights;
use crate::throttle::Bandwidth;

const BLOBS_IN_FLIGHT: usize = 8;
/// Blobs this large or larger are uploaded in chunks of this size.
pub const CHUNK: u64 = 128 * 1024 * 1024;
const BLOB_ATTEMPTS: u32 = 3;
const REFERRER_DEPTH: u32 = 2;

/// What copying one tag did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Copied; this many bytes moved.
    Copied { bytes: u64, digest: String },
    /// The destination already had the same digest.
    UpToDate { digest: String },
    /// The destination tag points elsewhere and the policy does not override.
    Kept { digest: String },
    /// The index has none of the policy's platforms.
    NoPlatform { digest: String },
    /// The source has no such tag (named exactly by a filter, or deleted since planning).
    Missing,
}

#[derive(Clone)]
pub struct Copier {
    pub src: Client,
    pub dst: Client,
    /// Source and destination are the same registry: blobs can be mounted.
    pub same_registry: bool,
    /// Probe the destination repository with a mount from itself instead of a `HEAD`.
    pub mount_probe: bool,
    /// Names the destination for [`Flights`].
    pub dst_key: String,
    /// `os/arch[/variant]` to keep of indexes; empty keeps all.
    pub platforms: Vec<String>,
    pub referrers: bool,
    pub bandwidth: Option<Arc<Bandwidth>>,
    pub flights: Arc<Flights>,
    /// Bytes moved so far (blobs and manifests), for progress.
    pub progress: Arc<AtomicU64>,
    pub chunk: u64,
}

/// Whether `platform` (of an index entry) is one of `wanted`; `linux/arm64` takes every variant.
fn platform_wanted(platform: Option<&str>, wanted: &[String]) -> bool {
    let Some(p) = platform else { return false };
    wanted.iter().any(|w| {
        p == w
            || p.strip_prefix(w.as_str())
                .is_some_and(|r| r.starts_with('/'))
    })
}

/// `index` with only the entries of `wanted` platforms; `None` when it has none of them.
pub fn filter_index(index: &Manifest, wanted: &[String]) -> Result<Option<Manifest>, OciError> {
    let mut doc: serde_json::Value = serde_json::from_slice(&index.bytes)
        .map_err(|e| OciError::Protocol(format!("index is not JSON: {e}")))?;
    let kept: Vec<serde_json::Value> = index
        .children()
        .iter()
        .zip(doc["manifests"].as_array().cloned().unwrap_or_default())
        .filter(|(d, _)| platform_wanted(d.platform.as_deref(), wanted))
        .map(|(_, raw)| raw)
        .collect();
    if kept.is_empty() {
        return Ok(None);
    }
    doc["manifests"] = serde_json::Value::Array(kept);
    let bytes = serde_json::to_vec(&doc).map_err(|e| OciError::Protocol(e.to_string()))?;
    Manifest::parse(bytes, Some(&index.media_type))
        .map(Some)
        .map_err(OciError::Protocol)
}

/// Times a manifest refused for unknown content is put again after ensuring that content.
const MANIFEST_REPAIRS: u32 = 3;

/// Whether the destination refused a manifest for blobs or manifests it does not find.
fn refused_for_unknown_content(e: &OciError) -> bool {
    match e {
        OciError::Status {
            status: 400,
            detail,
        } => ["BLOB_UNKNOWN", "DIGEST_INVALID", "MANIFEST_UNKNOWN"]
            .iter()
            .any(|code| detail.contains(code)),
        // Some registries answer a manifest naming unknown blobs with 404.
        OciError::NotFound(_) => true,
        _ => false,
    }
}

async fn with_retries<T, F, Fut>(what: &str, mut f: F) -> Result<T, OciError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, OciError>>,
{
    let mut attempt = 1;
    loop {
        match f().await {
            Err(e) if e.is_transient() && attempt < BLOB_ATTEMPTS => {
                tracing::info!(what, attempt, error = %e, "transfer failed, retrying");
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
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
        let source = match self.src.manifest(src_repo, tag).await {
            Ok(m) => m,
            Err(OciError::NotFound(_)) => return Ok(Outcome::Missing),
            Err(e) => return Err(e),
        };
        let top = if !self.platforms.is_empty() && source.is_index() {
            match filter_index(&source, &self.platforms)? {
                Some(m) => m,
                None => {
                    return Ok(Outcome::NoPlatform {
                        digest: source.digest,
                    })
                }
            }
        } else {
            source.clone()
        };
        if let Some(existing) = self.dst.head_manifest(dst_repo, tag).await? {
            if existing.digest == top.digest {
                if self.referrers {
                    let before = self.moved();
                    self.copy_referrers(src_repo, dst_repo, &source, 0).await?;
                    if self.moved() > before {
                        return Ok(Outcome::Copied {
                            bytes: self.moved() - before,
                            digest: top.digest,
                        });
                    }
                }
                return Ok(Outcome::UpToDate { digest: top.digest });
            }
            if !overwrite {
                return Ok(Outcome::Kept {
                    digest: existing.digest,
                });
            }
        }
        let before = self.moved();
        for child in top.children() {
            self.copy_manifest(src_repo, dst_repo, &child.digest, 0, 1)
                .await?;
        }
        self.copy_blobs(src_repo, dst_repo, &top).await?;
        self.put(src_repo, dst_repo, tag, &top, 0).await?;
        if self.referrers {
            self.copy_referrers(src_repo, dst_repo, &source, 0).await?;
        }
        Ok(Outcome::Copied {
            bytes: self.moved() - before,
            digest: top.digest,
        })
    }

    fn moved(&self) -> u64 {
        self.progress.load(Ordering::Relaxed)
    }

    /// Copies a manifest by digest, children and blobs first; referrers after, when asked.
    /// `depth` counts referrer generations, `nesting` index levels above this manifest.
    async fn copy_manifest(
        &self,
        src_repo: &str,
        dst_repo: &str,
        digest: &str,
        depth: u32,
        nesting: u32,
    ) -> Result<(), OciError> {
        if nesting > berth_oci::manifest::MAX_NESTING {
            return Err(berth_oci::manifest::too_deep(digest));
        }
        let present = self.dst.head_manifest(dst_repo, digest).await?.is_some();
        if !present {
            let m = self.src.manifest(src_repo, digest).await?;
            for child in m.children() {
                let copy =
                    self.copy_manifest(src_repo, dst_repo, &child.digest, depth, nesting + 1);
                Box::pin(copy).await?;
            }
            self.copy_blobs(src_repo, dst_repo, &m).await?;
            self.put(src_repo, dst_repo, digest, &m, nesting).await?;
        }
        if self.referrers && depth < REFERRER_DEPTH {
            let m = self.src.manifest(src_repo, digest).await?;
            Box::pin(self.copy_referrers(src_repo, dst_repo, &m, depth)).await?;
        }
        Ok(())
    }

    /// Copies what refers to `subject` (manifests whose `subject` it is), and makes them
    /// findable at the destination: its referrers API, or the `sha256-<hex>` tag schema.
    async fn copy_referrers(
        &self,
        src_repo: &str,
        dst_repo: &str,
        subject: &Manifest,
        depth: u32,
    ) -> Result<(), OciError> {
        let mut referrers = self.src.referrers(src_repo, &subject.digest).await?;
        // One referrer listed many times is copied once.
        let mut seen = std::collections::HashSet::new();
        referrers.retain(|r| seen.insert(r.digest.clone()));
        if referrers.is_empty() {
            return Ok(());
        }
        for r in &referrers {
            Box::pin(self.copy_manifest(src_repo, dst_repo, &r.digest, depth + 1, 0)).await?;
        }
        let fallback = subject.digest.replace(':', "-");
        let known = self.dst.referrers(dst_repo, &subject.digest).await?;
        if referrers
            .iter()
            .all(|r| known.iter().any(|k| k.digest == r.digest))
        {
            return Ok(());
        }
        // The destination has no referrers API (or lists them under its tag schema): copy the
        // source's tag-schema index, or write one listing what was copied.
        let index = match self.src.manifest(src_repo, &fallback).await {
            Ok(m) if m.is_index() => m,
            Ok(_) | Err(OciError::NotFound(_)) => berth_oci::referrers_index(&referrers)?,
            Err(e) => return Err(e),
        };
        self.put(src_repo, dst_repo, &fallback, &index, 0).await
    }

    /// Puts a manifest. One refused for content the destination does not find (another
    /// client's write into the repository can hide a committed blob for a moment, and blobs can
    /// vanish under us) is put again after ensuring what it names, a few times.
    async fn put(
        &self,
        src_repo: &str,
        repo: &str,
        reference: &str,
        m: &Manifest,
        nesting: u32,
    ) -> Result<(), OciError> {
        let bytes = Bytes::from(m.bytes.clone());
        let mut repairs = 0;
        loop {
            let put = with_retries("manifest", || {
                self.dst
                    .put_manifest(repo, reference, &m.media_type, bytes.clone())
            })
            .await;
            match put {
                Ok(_) => break,
                Err(e) if refused_for_unknown_content(&e) && repairs < MANIFEST_REPAIRS => {
                    repairs += 1;
                    tracing::info!(repository = %repo, reference, repairs, error = %e, "manifest refused for unknown content, ensuring it again");
                    tokio::time::sleep(Duration::from_millis(100 * repairs as u64)).await;
                    self.ensure(src_repo, repo, m, nesting).await?;
                }
                Err(e) => return Err(e),
            }
        }
        self.progress
            .fetch_add(m.bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Makes sure the destination repository holds what `m` names: child manifests and blobs
    /// it does not find (by `HEAD`, which writes nothing) are copied again.
    async fn ensure(
        &self,
        src_repo: &str,
        dst_repo: &str,
        m: &Manifest,
        nesting: u32,
    ) -> Result<(), OciError> {
        for child in m.children() {
            if self
                .dst
                .head_manifest(dst_repo, &child.digest)
                .await?
                .is_none()
            {
                let copy = self.copy_manifest(
                    src_repo,
                    dst_repo,
                    &child.digest,
                    REFERRER_DEPTH,
                    nesting + 1,
                );
                Box::pin(copy).await?;
            }
        }
        for d in m.blobs() {
            if self.dst.head_blob(dst_repo, &d.digest).await?.is_none() {
                self.flights
                    .hold(&self.dst_key, &d.digest)
                    .await
                    .forget(dst_repo)
                    .await;
                self.copy_blob(src_repo, dst_repo, d).await?;
            }
        }
        Ok(())
    }

    async fn copy_blobs(
        &self,
        src_repo: &str,
        dst_repo: &str,
        m: &Manifest,
    ) -> Result<(), OciError> {
        stream::iter(m.blobs())
            .map(|d| self.copy_blob(src_repo, dst_repo, d))
            .buffer_unordered(BLOBS_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Copies one blob unless the destination repository has it.
    async fn copy_blob(
        &self,
        src_repo: &str,
        dst_repo: &str,
        d: Descriptor,
    ) -> Result<(), OciError> {
        let mut flight = self.flights.hold(&self.dst_key, &d.digest).await;
        // Committed there already (by this execution or an earlier one within the hour): write
        // nothing, a second write would race manifests being put there.
        if flight.committed_in(dst_repo).await {
            flight.land(dst_repo).await;
            return Ok(());
        }
        // Where the destination may mount it from: where an earlier flight landed it, or the
        // source on the same registry.
        let from = flight
            .landed()
            .filter(|r| r != dst_repo)
            .or_else(|| (self.same_registry && src_repo != dst_repo).then(|| src_repo.to_string()));
        if !self.mount_probe && self.dst.head_blob(dst_repo, &d.digest).await?.is_some() {
            flight.land(dst_repo).await;
            return Ok(());
        }
        let from = match (from, self.mount_probe) {
            (Some(from), _) => Some(from),
            (None, true) => Some(dst_repo.to_string()),
            (None, false) => None,
        };
        let location = match from {
            Some(from) => match self.dst.mount_blob(dst_repo, &d.digest, &from).await? {
                Mount::Mounted => {
                    flight.land(dst_repo).await;
                    return Ok(());
                }
                Mount::Upload(location) => Some(location),
            },
            None => None,
        };
        if d.size >= self.chunk {
            self.transfer_chunked(src_repo, dst_repo, &d, location)
                .await?;
        } else {
            let mut location = location;
            let d = &d;
            with_retries("blob", || {
                let location = location.take();
                async move {
                    let (_, body) = self.src.get_blob(src_repo, &d.digest).await?;
                    let body = self.metered(body);
                    match location {
                        Some(l) => {
                            self.dst
                                .finish_upload(dst_repo, &l, &d.digest, d.size, body)
                                .await
                        }
                        None => self.dst.put_blob(dst_repo, &d.digest, d.size, body).await,
                    }
                }
            })
            .await?;
        }
        flight.land(dst_repo).await;
        Ok(())
    }

    /// `body`, paced to the policy's bandwidth and counted into progress.
    fn metered(&self, body: BlobStream) -> BlobStream {
        let body = match &self.bandwidth {
            Some(b) => b.pace(body),
            None => body,
        };
        let progress = self.progress.clone();
        Box::pin(body.inspect_ok(move |chunk| {
            progress.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }))
    }

    /// Uploads a large blob in chunks of [`Copier::chunk`] bytes, each a ranged `GET` streamed
    /// into a `PATCH`. After a failure it asks the registry how much it holds and resumes
    /// there; a registry that dropped the upload gets a new one from the start.
    async fn transfer_chunked(
        &self,
        src_repo: &str,
        dst_repo: &str,
        d: &Descriptor,
        location: Option<String>,
    ) -> Result<(), OciError> {
        let mut location = match location {
            Some(l) => l,
            None => self.dst.open_upload(dst_repo).await?,
        };
        let mut offset = 0u64;
        let mut failures = 0u32;
        while offset < d.size {
            let len = self.chunk.min(d.size - offset);
            let sent = async {
                let body = self
                    .src
                    .get_blob_range(src_repo, &d.digest, offset, offset + len - 1)
                    .await?;
                self.dst
                    .upload_chunk(dst_repo, &location, offset, len, self.metered(body))
                    .await
            }
            .await;
            match sent {
                Ok(next) => {
                    location = next;
                    offset += len;
                    failures = 0;
                }
                Err(e) if e.is_transient() && failures + 1 < BLOB_ATTEMPTS * 2 => {
                    failures += 1;
                    tracing::info!(digest = %d.digest, offset, error = %e, "chunk failed, resuming");
                    tokio::time::sleep(Duration::from_millis(250 << failures.min(5))).await;
                    match self.dst.upload_offset(dst_repo, &location).await {
                        Ok((held, next)) if held <= d.size => {
                            offset = held;
                            location = next;
                        }
                        _ => {
                            offset = 0;
                            location = self.dst.open_upload(dst_repo).await?;
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let empty: BlobStream = Box::pin(stream::empty());
        self.dst
            .finish_upload(dst_repo, &location, &d.digest, 0, empty)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::platform_wanted;

    #[test]
    fn platforms_match_with_or_without_variant() {
        let wanted = vec!["linux/amd64".to_string(), "linux/arm64".to_string()];
        assert!(platform_wanted(Some("linux/amd64"), &wanted));
        assert!(platform_wanted(Some("linux/arm64/v8"), &wanted));
        assert!(!platform_wanted(Some("linux/arm/v7"), &wanted));
        assert!(!platform_wanted(Some("linux/amd64x"), &wanted));
        assert!(!platform_wanted(None, &wanted));
    }
}
