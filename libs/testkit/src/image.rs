//! Generated images with real content, and pushing them with skopeo.
//!
//! Everything about a generated image (digests, sizes) is computed here from the bytes we made,
//! independently of any registry, so tests can compare what Berth reports with the truth.

use std::path::Path;
use std::process::Stdio;

use rand::{RngCore, SeedableRng};
use serde_json::json;
use sha2::{Digest, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// How a layer's tar is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// A layer: its blob, its diff id (the digest of its tar) and its media type.
pub type FileLayer = (Blob, String, &'static str);

/// A layer holding `files` (path and bytes; a name `.wh.X` is a whiteout of `X`, `.wh..wh..opq`
/// makes its directory opaque), as a tar compressed as asked.
pub fn files_layer(files: &[(&str, &[u8])], compression: Compression) -> FileLayer {
    let moded: Vec<(&str, &[u8], u32)> = files.iter().map(|(p, b)| (*p, *b, 0o644)).collect();
    files_layer_with_modes(&moded, compression)
}

/// [`files_layer`] with each file's mode given (`0o755` for an executable).
pub fn files_layer_with_modes(files: &[(&str, &[u8], u32)], compression: Compression) -> FileLayer {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, bytes, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, path, *bytes)
            .expect("in-memory tar");
    }
    let tar = tar.into_inner().expect("in-memory tar");
    let diff_id = sha256(&tar);
    let (bytes, media_type) = match compression {
        Compression::None => (tar, OCI_LAYER_TAR),
        Compression::Gzip => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut gz, &tar).expect("in-memory gzip");
            (gz.finish().expect("in-memory gzip"), OCI_LAYER)
        }
        Compression::Zstd => (
            zstd::encode_all(tar.as_slice(), 3).expect("in-memory zstd"),
            OCI_LAYER_ZSTD,
        ),
    };
    (Blob::new(bytes), diff_id, media_type)
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A blob: bytes and their digest.
#[derive(Debug, Clone)]
pub struct Blob {
    pub bytes: Vec<u8>,
    pub digest: String,
}

impl Blob {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self {
            digest: sha256(&bytes),
            bytes,
        }
    }

    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
}

/// A tar.gz layer holding one file of `size` pseudo-random bytes derived from `seed`.
pub fn layer(seed: u64, size: usize) -> (Blob, String) {
    let mut content = vec![0u8; size];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut content);
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(size as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, format!("data-{seed}.bin"), content.as_slice())
        .expect("in-memory tar");
    let tar = tar.into_inner().expect("in-memory tar");
    let diff_id = sha256(&tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).expect("in-memory gzip");
    (Blob::new(gz.finish().expect("in-memory gzip")), diff_id)
}

/// A single-platform image.
#[derive(Debug, Clone)]
pub struct Image {
    pub config: Blob,
    pub layers: Vec<Blob>,
    pub manifest: Blob,
    pub platform: (String, String),
}

impl Image {
    /// An image of the given layers (seed, size) for `linux/<arch>`.
    pub fn new(layers: &[(u64, usize)], arch: &str) -> Self {
        let made: Vec<FileLayer> = layers
            .iter()
            .map(|(seed, size)| {
                let (blob, diff_id) = layer(*seed, *size);
                (blob, diff_id, OCI_LAYER)
            })
            .collect();
        Self::of_layers(made, arch)
    }

    /// An image of `layers` (bottom first) for `linux/<arch>`.
    pub fn of_layers(made: Vec<FileLayer>, arch: &str) -> Self {
        let config = json!({
            "architecture": arch,
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": made.iter().map(|(_, d, _)| d.clone()).collect::<Vec<_>>()},
        });
        let config = Blob::new(serde_json::to_vec(&config).expect("json"));
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config.digest, "size": config.size()},
            "layers": made.iter().map(|(l, _, t)| json!({"mediaType": t, "digest": l.digest, "size": l.size()})).collect::<Vec<_>>(),
        });
        let layers: Vec<Blob> = made.into_iter().map(|(b, _, _)| b).collect();
        let manifest = Blob::new(serde_json::to_vec(&manifest).expect("json"));
        Self {
            config,
            layers,
            manifest,
            platform: ("linux".into(), arch.into()),
        }
    }

    /// Config and layers.
    pub fn blobs(&self) -> Vec<&Blob> {
        std::iter::once(&self.config)
            .chain(self.layers.iter())
            .collect()
    }
}

/// A multi-platform index over images.
#[derive(Debug, Clone)]
pub struct Index {
    pub images: Vec<Image>,
    pub manifest: Blob,
}

impl Index {
    pub fn new(images: Vec<Image>) -> Self {
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": images.iter().map(|i| json!({
                "mediaType": OCI_MANIFEST,
                "digest": i.manifest.digest,
                "size": i.manifest.size(),
                "platform": {"os": i.platform.0, "architecture": i.platform.1},
            })).collect::<Vec<_>>(),
        });
        Self {
            images,
            manifest: Blob::new(serde_json::to_vec(&manifest).expect("json")),
        }
    }
}

fn write_blob(dir: &Path, blob: &Blob) -> std::io::Result<()> {
    let path = dir
        .join("blobs/sha256")
        .join(blob.digest.trim_start_matches("sha256:"));
    std::fs::write(path, &blob.bytes)
}

/// Writes an OCI layout holding `top` (a manifest or index) as `tag`, and every blob under it.
fn write_layout(
    dir: &Path,
    top: &Blob,
    media_type: &str,
    tag: &str,
    blobs: &[&Blob],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("blobs/sha256"))?;
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": media_type, "digest": top.digest, "size": top.size(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    });
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&index).expect("json"),
    )?;
    write_blob(dir, top)?;
    for b in blobs {
        write_blob(dir, b)?;
    }
    Ok(())
}

/// Where and as whom to push.
#[derive(Debug, Clone)]
pub struct Target {
    /// `127.0.0.1:PORT`.
    pub host: String,
    pub credential: Option<(String, String)>,
}

async fn skopeo_copy(layout: &Path, tag: &str, target: &Target, repo: &str) -> anyhow::Result<()> {
    crate::require_command("skopeo");
    let mut cmd = tokio::process::Command::new("skopeo");
    cmd.args([
        "copy",
        "--all",
        "--preserve-digests",
        "--dest-tls-verify=false",
        "--retry-times",
        "2",
    ]);
    if let Some((u, p)) = &target.credential {
        cmd.arg("--dest-creds").arg(format!("{u}:{p}"));
    }
    cmd.arg(format!("oci:{}:{tag}", layout.display()))
        .arg(format!("docker://{}/{repo}:{tag}", target.host))
        .stdin(Stdio::null());
    let out = cmd.output().await?;
    if !out.status.success() {
        anyhow::bail!(
            "skopeo copy to {repo}:{tag} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Pushes `image` as `repo:tag` with skopeo.
pub async fn push_image(
    image: &Image,
    target: &Target,
    repo: &str,
    tag: &str,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    write_layout(
        dir.path(),
        &image.manifest,
        OCI_MANIFEST,
        tag,
        &image.blobs(),
    )?;
    skopeo_copy(dir.path(), tag, target, repo).await
}

/// Pushes a multi-platform `index` as `repo:tag` with skopeo.
pub async fn push_index(
    index: &Index,
    target: &Target,
    repo: &str,
    tag: &str,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut blobs: Vec<&Blob> = Vec::new();
    for i in &index.images {
        blobs.push(&i.manifest);
        blobs.extend(i.blobs());
    }
    write_layout(dir.path(), &index.manifest, OCI_INDEX, tag, &blobs)?;
    skopeo_copy(dir.path(), tag, target, repo).await
}

/// Whether `user` can read `image` (`repo:tag`) at `host`, as a client would: `skopeo inspect`.
pub async fn can_pull(host: &str, image: &str, user: &str, password: &str) -> bool {
    crate::require_command("skopeo");
    tokio::process::Command::new("skopeo")
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            &format!("{user}:{password}"),
        ])
        .arg(format!("docker://{host}/{image}"))
        .stdin(Stdio::null())
        .output()
        .await
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Storage of a set of pushed images and indexes as Berth counts it: every distinct blob
/// (configs and layers) once, plus every distinct manifest (index children included) once.
pub fn storage_bytes(images: &[&Image], indexes: &[&Index]) -> u64 {
    let mut sizes = std::collections::HashMap::new();
    let all = images
        .iter()
        .copied()
        .chain(indexes.iter().flat_map(|i| i.images.iter()));
    for image in all {
        for b in image.blobs() {
            sizes.insert(b.digest.clone(), b.size());
        }
        sizes.insert(image.manifest.digest.clone(), image.manifest.size());
    }
    for index in indexes {
        sizes.insert(index.manifest.digest.clone(), index.manifest.size());
    }
    sizes.values().sum()
}

/// A signature-like artifact whose `subject` is the manifest `subject` (media type, digest,
/// size): an empty config and one small layer.
pub fn referrer(subject: (&str, &str, u64), seed: u64) -> (Blob, Vec<Blob>) {
    let config = Blob::new(b"{}".to_vec());
    let mut payload = vec![0u8; 512];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut payload);
    let layer = Blob::new(payload);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.signature.v1",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config.digest, "size": config.size()},
        "layers": [{"mediaType": "application/vnd.example.signature.v1", "digest": layer.digest, "size": layer.size()}],
        "subject": {"mediaType": subject.0, "digest": subject.1, "size": subject.2},
    });
    (
        Blob::new(serde_json::to_vec(&manifest).expect("json")),
        vec![config, layer],
    )
}

/// Pushes a [`referrer`] as a client does against a registry without the referrers API: the
/// artifact by digest, then the `sha256-<hex>` tag-schema index listing it.
pub async fn push_referrer(
    registry_url: &str,
    repo: &str,
    subject: (&str, &str, u64),
    seed: u64,
) -> anyhow::Result<Blob> {
    let client = berth_oci::Client::new(registry_url, None, Default::default())?;
    let (manifest, blobs) = referrer(subject, seed);
    for b in &blobs {
        let body: berth_oci::BlobStream = Box::pin(futures::stream::once(futures::future::ready(
            Ok(bytes::Bytes::from(b.bytes.clone())),
        )));
        client.put_blob(repo, &b.digest, b.size(), body).await?;
    }
    client
        .put_manifest(
            repo,
            &manifest.digest,
            OCI_MANIFEST,
            bytes::Bytes::from(manifest.bytes.clone()),
        )
        .await?;
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.signature.v1",
            "digest": manifest.digest,
            "size": manifest.size(),
        }],
    });
    client
        .put_manifest(
            repo,
            &subject.1.replace(':', "-"),
            OCI_INDEX,
            bytes::Bytes::from(serde_json::to_vec(&index)?),
        )
        .await?;
    Ok(manifest)
}

/// Appends a file to an in-memory tar.
fn tar_file(tar: &mut tar::Builder<Vec<u8>>, path: &str, bytes: &[u8]) {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, path, bytes)
        .expect("in-memory tar");
}

fn gzip(bytes: Vec<u8>) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &bytes).expect("in-memory gzip");
    gz.finish().expect("in-memory gzip")
}

/// An OCI image layout of `index` tagged `tag`, as a tar (gzipped when asked).
pub fn oci_archive(index: &Index, tag: &str, gzipped: bool) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    tar_file(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    let mut blobs: Vec<&Blob> = vec![&index.manifest];
    for i in &index.images {
        blobs.push(&i.manifest);
        blobs.extend(i.blobs());
    }
    for b in blobs {
        let path = format!("blobs/sha256/{}", b.digest.trim_start_matches("sha256:"));
        tar_file(&mut tar, &path, &b.bytes);
    }
    let top = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": OCI_INDEX, "digest": index.manifest.digest, "size": index.manifest.size(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    });
    tar_file(
        &mut tar,
        "index.json",
        &serde_json::to_vec(&top).expect("json"),
    );
    let bytes = tar.into_inner().expect("in-memory tar");
    if gzipped {
        gzip(bytes)
    } else {
        bytes
    }
}

/// `levels` indexes over `image`, each naming the one below as its only child (the first
/// names the image): a hostile chain when `levels` is large. Bottom first.
pub fn index_chain(image: &Image, levels: usize) -> Vec<Blob> {
    index_levels(image, 1, levels)
}

/// `depth` indexes over `image`, each listing the one below (the first, the image) `width`
/// times over. Bottom first.
fn index_levels(image: &Image, width: usize, depth: usize) -> Vec<Blob> {
    let mut levels: Vec<Blob> = Vec::new();
    for _ in 0..depth {
        let (media_type, child) = match levels.last() {
            Some(b) => (OCI_INDEX, b),
            None => (OCI_MANIFEST, &image.manifest),
        };
        let entry = json!({"mediaType": media_type, "digest": child.digest, "size": child.size(),
                           "platform": {"os": "linux", "architecture": "amd64"}});
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
                           "manifests": vec![entry; width]});
        levels.push(Blob::new(serde_json::to_vec(&index).expect("json")));
    }
    levels
}

/// An OCI layout tarball of `image` under a chain of `levels` indexes (see [`index_chain`]),
/// the top one tagged `tag`.
pub fn nested_archive(image: &Image, levels: usize, tag: &str) -> Vec<u8> {
    dag_archive(image, 1, levels, tag)
}

/// An OCI layout tarball of `image` under `depth` levels of indexes, each listing the level
/// below `width` times over: a DAG with `width^depth` paths and only `depth + 1` manifests.
pub fn dag_archive(image: &Image, width: usize, depth: usize, tag: &str) -> Vec<u8> {
    let levels = index_levels(image, width, depth);
    let mut tar = tar::Builder::new(Vec::new());
    tar_file(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    for b in levels
        .iter()
        .chain(std::iter::once(&image.manifest))
        .chain(image.blobs())
    {
        let path = format!("blobs/sha256/{}", b.digest.trim_start_matches("sha256:"));
        tar_file(&mut tar, &path, &b.bytes);
    }
    let top = levels.last().expect("at least one level");
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": OCI_INDEX, "digest": top.digest, "size": top.size(),
                       "annotations": {"org.opencontainers.image.ref.name": tag}}],
    });
    tar_file(
        &mut tar,
        "index.json",
        &serde_json::to_vec(&index).expect("json"),
    );
    tar.into_inner().expect("in-memory tar")
}

/// A legacy `docker save` tarball of `image` as `repo_tag`: uncompressed `layer.tar`s, the
/// config as `<hex>.json`, and `manifest.json` last. Answers the archive and the digests of
/// its layer tars (the image's diff IDs).
pub fn docker_save_archive(image: &Image, repo_tag: &str) -> (Vec<u8>, Vec<String>) {
    let mut tar = tar::Builder::new(Vec::new());
    let mut layers = Vec::new();
    let mut digests = Vec::new();
    for (n, l) in image.layers.iter().enumerate() {
        let mut plain = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(l.bytes.as_slice()),
            &mut plain,
        )
        .expect("our own gzip");
        let path = format!("layer{n}/layer.tar");
        tar_file(&mut tar, &path, &plain);
        digests.push(sha256(&plain));
        layers.push(path);
    }
    let config = format!("{}.json", image.config.digest.trim_start_matches("sha256:"));
    tar_file(&mut tar, &config, &image.config.bytes);
    let manifest = json!([{"Config": config, "RepoTags": [repo_tag], "Layers": layers}]);
    tar_file(
        &mut tar,
        "manifest.json",
        &serde_json::to_vec(&manifest).expect("json"),
    );
    (tar.into_inner().expect("in-memory tar"), digests)
}

/// A dataset shaped like real registries: `repos` repositories of `tags` tags each (`v1`,
/// `v2`, …), every image on two base layers all repositories share, a middle layer the tags of
/// one repository share, and a small top layer of its own. Repositories are `{space}/app-{i}`.
pub fn shared_layer_dataset(
    space: &str,
    repos: usize,
    tags: usize,
) -> Vec<(String, String, Image)> {
    let mut out = Vec::new();
    for r in 0..repos {
        for t in 0..tags {
            let top = 8_000 + 8_000 * (t % 3);
            let image = Image::new(
                &[
                    (5_001, 128 * 1024),
                    (5_002, 96 * 1024),
                    (6_000 + r as u64, 64 * 1024),
                    (100_000 + (r * tags + t) as u64, top),
                ],
                "amd64",
            );
            out.push((format!("{space}/app-{r}"), format!("v{}", t + 1), image));
        }
    }
    out
}

/// Pushes a [`shared_layer_dataset`] with skopeo: several repositories at a time, the tags of
/// one repository one after the other (Distribution itself races when two clients write the
/// same blob into one repository at once, and skopeo does not retry that).
pub async fn push_dataset(
    dataset: &[(String, String, Image)],
    target: &Target,
) -> anyhow::Result<()> {
    use futures::{StreamExt, TryStreamExt};
    let mut by_repo: Vec<Vec<&(String, String, Image)>> = Vec::new();
    for item in dataset {
        match by_repo.iter_mut().find(|g| g[0].0 == item.0) {
            Some(g) => g.push(item),
            None => by_repo.push(vec![item]),
        }
    }
    futures::stream::iter(by_repo)
        .map(|group| async move {
            for (repo, tag, image) in group {
                push_image(image, target, repo, tag).await?;
            }
            Ok::<(), anyhow::Error>(())
        })
        .buffer_unordered(6)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_are_deterministic_per_seed() {
        let (a, da) = layer(1, 1000);
        let (b, db) = layer(1, 1000);
        let (c, _) = layer(2, 1000);
        assert_eq!(a.digest, b.digest);
        assert_eq!(da, db);
        assert_ne!(a.digest, c.digest);
        assert!(a.size() > 1000, "random bytes do not compress");
    }

    #[test]
    fn images_sharing_a_base_share_its_digest() {
        let x = Image::new(&[(7, 100), (8, 50)], "amd64");
        let y = Image::new(&[(7, 100), (9, 50)], "amd64");
        assert_eq!(x.layers[0].digest, y.layers[0].digest);
        assert_ne!(x.manifest.digest, y.manifest.digest);
    }
}
