//! Propagating deletions: a tag deleted at the source is deleted at the destination, but only
//! the tag the policy put there, and only once the source confirms it is gone.
//!
//! Deleting a manifest by digest on Distribution removes every tag on it, so when other tags at
//! the destination share the digest, the one tag is removed alone: it is pointed at a throwaway
//! manifest of its own (an empty image with a unique annotation), which is then deleted.

use berth_oci::manifest::OCI_MANIFEST;
use berth_oci::{BlobStream, Client, OciError};
use bytes::Bytes;

/// The OCI empty descriptor's content (`{}`), a valid config for the throwaway manifest.
const EMPTY: &[u8] = b"{}";
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";

/// Whether `digest` is still needed in `repo` apart from `tag`: another tag holds it, or an
/// index another tag holds names it, at any depth (deleting it by digest would break that
/// index).
async fn needed_elsewhere(
    client: &Client,
    repo: &str,
    tag: &str,
    digest: &str,
) -> Result<bool, OciError> {
    let mut walk = Walk::default();
    for other in client.tags(repo).await? {
        if other == tag {
            continue;
        }
        let Some(d) = client.head_manifest(repo, &other).await? else {
            continue;
        };
        if d.digest == digest {
            return Ok(true);
        }
        if is_index(&d.media_type) && names(client, repo, &other, digest, 0, &mut walk).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Indexes looked into while deciding one deletion: each once, and at most [`WALK_LIMIT`].
#[derive(Default)]
struct Walk {
    seen: std::collections::HashSet<String>,
}

/// How many indexes one deletion may read at the destination before it gives up (fails,
/// deleting nothing).
const WALK_LIMIT: usize = 10_000;

fn is_index(media_type: &str) -> bool {
    media_type.contains("index") || media_type.contains("manifest.list")
}

/// Whether the index `reference` names `digest` anywhere below it (nested indexes too).
async fn names(
    client: &Client,
    repo: &str,
    reference: &str,
    digest: &str,
    nesting: u32,
    walk: &mut Walk,
) -> Result<bool, OciError> {
    if nesting > berth_oci::manifest::MAX_NESTING {
        return Err(berth_oci::manifest::too_deep(reference));
    }
    if walk.seen.len() >= WALK_LIMIT {
        return Err(OciError::Protocol(format!(
            "more than {WALK_LIMIT} indexes to look into at the destination: nothing deleted"
        )));
    }
    for child in client.manifest(repo, reference).await?.children() {
        if child.digest == digest {
            return Ok(true);
        }
        if is_index(&child.media_type)
            && walk.seen.insert(child.digest.clone())
            && Box::pin(names(
                client,
                repo,
                &child.digest,
                digest,
                nesting + 1,
                walk,
            ))
            .await?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Removes `tag` from `repo` if it still holds `expected`, without touching other tags that
/// share its digest or indexes that name it as a child.
pub async fn delete_tag(
    client: &Client,
    repo: &str,
    tag: &str,
    expected: &str,
) -> Result<Deletion, OciError> {
    let Some(current) = client.head_manifest(repo, tag).await? else {
        return Ok(Deletion::Deleted);
    };
    if current.digest != expected {
        return Ok(Deletion::Left(format!(
            "the destination tag now holds {} (the policy put {expected} there): left alone",
            current.digest
        )));
    }
    if !needed_elsewhere(client, repo, tag, expected).await? {
        return match client.delete_manifest(repo, expected).await {
            Ok(()) | Err(OciError::NotFound(_)) => Ok(Deletion::Deleted),
            Err(e) => Err(e),
        };
    }
    let empty = berth_oci::sha256_digest(EMPTY);
    if client.head_blob(repo, &empty).await?.is_none() {
        let body: BlobStream = Box::pin(futures::stream::once(async {
            Ok::<Bytes, OciError>(Bytes::from_static(EMPTY))
        }));
        client
            .put_blob(repo, &empty, EMPTY.len() as u64, body)
            .await?;
    }
    let throwaway = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": empty, "size": EMPTY.len()},
        "layers": [],
        "annotations": {"dev.berth.tombstone": uuid::Uuid::now_v7().to_string()},
    });
    let bytes = Bytes::from(serde_json::to_vec(&throwaway).expect("json"));
    let digest = berth_oci::sha256_digest(&bytes);
    client.put_manifest(repo, tag, OCI_MANIFEST, bytes).await?;
    match client.delete_manifest(repo, &digest).await {
        Ok(()) | Err(OciError::NotFound(_)) => Ok(Deletion::Deleted),
        Err(e) => Err(e),
    }
}

/// What propagating one deletion did.
pub enum Deletion {
    Deleted,
    /// Nothing was deleted, for this reason.
    Left(String),
}

/// Deletes `dst_repo:tag` at `dst` if `src_repo:tag` is gone from `src` and the destination
/// tag still holds `recorded`, what the policy put there.
pub async fn propagate(
    src: &Client,
    dst: &Client,
    src_repo: &str,
    dst_repo: &str,
    tag: &str,
    recorded: &str,
) -> Result<Deletion, OciError> {
    if src.head_manifest(src_repo, tag).await?.is_some() {
        return Ok(Deletion::Left(
            "the tag is still at the source (deleted and pushed again, or the event was wrong)"
                .into(),
        ));
    }
    delete_tag(dst, dst_repo, tag, recorded).await
}
