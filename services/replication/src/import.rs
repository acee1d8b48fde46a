//! Importing an image archive into a registry: a `docker save` tarball (legacy
//! `manifest.json` + `layer.tar` layout, or the OCI layout Docker 25+ writes) or an OCI image
//! layout, as tar or tar.gz, of any size.
//!
//! The archive is read once, as it arrives: a blocking thread walks the tar (ungzipping on the
//! fly) and hands every blob over in bounded chunks to an upload that streams it to the
//! destination (`POST`, one `PATCH`, `PUT ?digest=` with the digest computed on the way, which
//! the registry verifies). Only small JSON files (manifests, configs, `index.json`) are kept. At
//! the end the manifests are put, children before the index and the tag last.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use berth_oci::{BlobStream, Client, Manifest, OciError};
use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::error::{ReplicationError, Result};

/// Bytes handed from the tar reader to an upload at a time.
const PIECE: usize = 256 * 1024;
/// JSON files up to this size are also kept in memory (manifests, configs, indexes).
const SMALL: u64 = 4 * 1024 * 1024;
/// What an archive may cost.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// At most this much of an archive is kept in memory in all.
    kept_total: u64,
    /// A gzipped archive may expand at most this many times (once past `ratio_floor` bytes):
    /// more is refused as a decompression bomb.
    max_ratio: u64,
    ratio_floor: u64,
    /// A GNU long name or a PAX header may be at most this large.
    max_header: u64,
    /// At most this many files, whose paths (at most [`PATH_MAX`] bytes each) add up to at
    /// most `max_names` bytes: the importer remembers every file by its path.
    max_files: u64,
    max_names: u64,
}

/// The longest path an archive entry may have.
const PATH_MAX: usize = 4096;

const LIMITS: Limits = Limits {
    kept_total: 16 * 1024 * 1024,
    max_ratio: 256,
    ratio_floor: 256 * 1024 * 1024,
    max_header: 64 * 1024,
    max_files: 65_536,
    max_names: 4 * 1024 * 1024,
};
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";

/// What the tar reader reports, in archive order.
enum Event {
    /// A file starts; its data follows.
    File {
        path: String,
        size: u64,
    },
    Data(Bytes),
    /// The file ended: its digest, and its bytes if it is small.
    End {
        digest: String,
        small: Option<Vec<u8>>,
    },
}

/// A [`Read`] over chunks arriving on a channel (for the blocking tar reader).
pub struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    buf: Bytes,
}

impl ChannelReader {
    pub fn new(rx: mpsc::Receiver<Bytes>) -> Self {
        Self {
            rx,
            buf: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.buf = b,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}

/// Walks the archive, sending every regular file as events. Runs on a blocking thread.
fn walk(
    input: impl Read,
    events: mpsc::Sender<Event>,
    limits: Limits,
) -> std::result::Result<(), String> {
    let mut input = BufReader::with_capacity(PIECE, input);
    let gzipped = input
        .fill_buf()
        .map_err(|e| format!("reading the archive: {e}"))?
        .starts_with(&[0x1f, 0x8b]);
    let compressed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let input: Box<dyn Read> = if gzipped {
        Box::new(Bounded {
            inner: flate2::read::GzDecoder::new(Counted {
                inner: input,
                count: compressed.clone(),
            }),
            compressed,
            expanded: 0,
            limits,
        })
    } else {
        Box::new(input)
    };
    let mut kept = 0u64;
    let mut archive = tar::Archive::new(input);
    // Raw entries: the tar crate would read a GNU long name or a PAX header whole into memory,
    // whatever its size; here they are read only up to `limits.max_header`.
    let entries = archive
        .entries()
        .map_err(|e| format!("not a tar archive: {e}"))?
        .raw(true);
    let mut next = Extended::default();
    let (mut files, mut names) = (0u64, 0u64);
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("not a tar archive: {e}"))?;
        let kind = entry.header().entry_type();
        if kind.is_gnu_longname()
            || kind.is_gnu_longlink()
            || kind.is_pax_local_extensions()
            || kind.is_pax_global_extensions()
        {
            next.read(&mut entry, limits.max_header)?;
            continue;
        }
        let described = std::mem::take(&mut next);
        if !kind.is_file() {
            continue;
        }
        let path = match described.path {
            Some(p) => p,
            None => entry
                .path()
                .map_err(|e| format!("bad path in the archive: {e}"))?
                .to_string_lossy()
                .into_owned(),
        };
        let path = path.trim_start_matches("./").to_string();
        if path.len() > PATH_MAX {
            return Err(format!(
                "an archive entry name of {} bytes (at most {PATH_MAX})",
                path.len()
            ));
        }
        files += 1;
        names += path.len() as u64;
        if files > limits.max_files || names > limits.max_names {
            return Err(format!(
                "the archive holds more than {} files or {} bytes of file names",
                limits.max_files, limits.max_names
            ));
        }
        if described.size.is_some_and(|n| n != entry.size()) {
            return Err(format!(
                "archive entry {path}: entries past 8 GiB (sized in PAX headers) are not supported"
            ));
        }
        let size = entry.size();
        let send = |e: Event| {
            events
                .blocking_send(e)
                .map_err(|_| "upload stopped".to_string())
        };
        send(Event::File {
            path: path.clone(),
            size,
        })?;
        let mut hash = Sha256::new();
        // Only JSON (manifests, configs, indexes) is kept, and only so much of it in all.
        let mut small = (size <= SMALL && kept + size <= limits.kept_total).then(Vec::new);
        let mut first = true;
        let mut buf = vec![0u8; PIECE];
        loop {
            let n = entry
                .read(&mut buf)
                .map_err(|e| format!("reading entry {path} from the archive: {e}"))?;
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
            if first {
                first = false;
                let json = buf[..n]
                    .iter()
                    .find(|b| !b.is_ascii_whitespace())
                    .is_some_and(|b| *b == b'{' || *b == b'[');
                if !json {
                    small = None;
                }
            }
            if let Some(s) = small.as_mut() {
                s.extend_from_slice(&buf[..n]);
                kept += n as u64;
            }
            send(Event::Data(Bytes::copy_from_slice(&buf[..n])))?;
        }
        send(Event::End {
            digest: format!("sha256:{}", hex::encode(hash.finalize())),
            small,
        })?;
    }
    Ok(())
}

/// What extension entries (GNU long names, PAX headers) say of the entry after them.
#[derive(Default)]
struct Extended {
    path: Option<String>,
    size: Option<u64>,
}

impl Extended {
    /// Reads an extension entry, refusing one larger than `max` bytes before reading it.
    fn read<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        max: u64,
    ) -> std::result::Result<(), String> {
        let kind = entry.header().entry_type();
        let what = if kind.is_gnu_longname() || kind.is_gnu_longlink() {
            "long name"
        } else {
            "PAX header"
        };
        let named = String::from_utf8_lossy(&entry.header().as_old().name)
            .trim_end_matches('\0')
            .to_string();
        if entry.size() > max {
            return Err(format!(
                "archive entry {named:?}: a {what} of {} bytes (at most {max})",
                entry.size()
            ));
        }
        let unreadable = |e: std::io::Error| format!("reading archive entry {named:?}: {e}");
        if kind.is_gnu_longname() {
            let mut name = Vec::new();
            entry.read_to_end(&mut name).map_err(unreadable)?;
            let end = name.iter().position(|b| *b == 0).unwrap_or(name.len());
            self.path = Some(String::from_utf8_lossy(&name[..end]).into_owned());
        } else if kind.is_pax_local_extensions() {
            let records = entry.pax_extensions().map_err(unreadable)?;
            for record in records.into_iter().flatten() {
                let Ok(record) = record else {
                    return Err(format!("archive entry {named:?}: a malformed PAX header"));
                };
                match (record.key(), record.value()) {
                    (Ok("path"), Ok(v)) => self.path = Some(v.to_string()),
                    (Ok("size"), Ok(v)) => {
                        self.size =
                            Some(v.parse().map_err(|_| {
                                format!("archive entry {named:?}: a PAX size of {v:?}")
                            })?)
                    }
                    _ => {}
                }
            }
        } else {
            // Link names and global headers matter to no image archive: skipped, bounded.
            std::io::copy(entry, &mut std::io::sink()).map_err(unreadable)?;
        }
        Ok(())
    }
}

/// Counts the bytes read through it.
struct Counted<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Refuses to expand past `limits.max_ratio` times what was read compressed.
struct Bounded<R> {
    inner: R,
    compressed: std::sync::Arc<std::sync::atomic::AtomicU64>,
    expanded: u64,
    limits: Limits,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.expanded += n as u64;
        let compressed = self
            .compressed
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(1);
        let l = self.limits;
        if self.expanded > l.ratio_floor && self.expanded / compressed > l.max_ratio {
            return Err(std::io::Error::other(format!(
                "the archive expands more than {} times (a decompression bomb?)",
                l.max_ratio
            )));
        }
        Ok(n)
    }
}

/// Is this archive path a blob worth uploading?
fn is_blob(path: &str) -> bool {
    path.starts_with("blobs/") || path.ends_with("/layer.tar") || path.ends_with(".tar")
}

/// What an import did.
#[derive(Debug, Default)]
pub struct Imported {
    pub digest: String,
    pub blobs: u64,
    pub bytes: u64,
}

/// A file of the archive: where it went and, if small, its bytes.
struct Stored {
    digest: String,
    size: u64,
    small: Option<Vec<u8>>,
}

/// Imports the archive whose bytes arrive on `chunks` into `repo:tag` of `dst`.
pub async fn import(
    dst: &Client,
    repo: &str,
    tag: &str,
    chunks: mpsc::Receiver<Bytes>,
) -> Result<Imported> {
    let (tx, mut events) = mpsc::channel::<Event>(16);
    let reader = tokio::task::spawn_blocking(move || walk(ChannelReader::new(chunks), tx, LIMITS));
    let mut files: HashMap<String, Stored> = HashMap::new();
    let mut out = Imported::default();
    let mut current: Option<(String, u64, Option<Upload>)> = None;
    while let Some(e) = events.recv().await {
        match e {
            Event::File { path, size } => {
                let upload = if is_blob(&path) {
                    Some(Upload::start(dst, repo, size).await.map_err(oci)?)
                } else {
                    None
                };
                current = Some((path, size, upload));
            }
            Event::Data(b) => {
                if let Some((_, _, Some(u))) = current.as_mut() {
                    u.send(b).await;
                }
            }
            Event::End { digest, small } => {
                let Some((path, size, upload)) = current.take() else {
                    continue;
                };
                let expected = path
                    .strip_prefix("blobs/sha256/")
                    .map(|hex| format!("sha256:{hex}"));
                if let Some(u) = upload {
                    match u.finish(dst, repo, &digest, expected.as_deref()).await {
                        Ok(()) => {}
                        Err(OciError::DigestMismatch { .. }) => {
                            return Err(invalid(format!(
                                "entry {path} does not match its digest (it hashes to {digest})"
                            )))
                        }
                        Err(e) => return Err(oci(e)),
                    }
                    out.blobs += 1;
                    out.bytes += size;
                } else if expected.as_deref().is_some_and(|e| e != digest) {
                    return Err(invalid(format!(
                        "entry {path} does not match its digest (it hashes to {digest})"
                    )));
                }
                files.insert(
                    path,
                    Stored {
                        digest,
                        size,
                        small,
                    },
                );
            }
        }
    }
    match reader.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(invalid(e)),
        Err(e) => return Err(invalid(format!("reading the archive failed: {e}"))),
    }
    out.digest = if files.contains_key("index.json") {
        put_oci_layout(dst, repo, tag, &files).await?
    } else if files.contains_key("manifest.json") {
        put_docker_save(dst, repo, tag, &files).await?
    } else {
        return Err(invalid(
            "neither an OCI layout (index.json) nor a docker save archive (manifest.json)",
        ));
    };
    Ok(out)
}

fn invalid(message: impl Into<String>) -> ReplicationError {
    ReplicationError::invalid("archive", message)
}

fn oci(e: OciError) -> ReplicationError {
    ReplicationError::invalid("destination", e.to_string())
}

fn small<'a>(files: &'a HashMap<String, Stored>, path: &str) -> Result<&'a [u8]> {
    files
        .get(path)
        .and_then(|f| f.small.as_deref())
        .ok_or_else(|| invalid(format!("{path} is missing from the archive")))
}

/// Puts the image an OCI layout's `index.json` names (the only one, or the one whose
/// `org.opencontainers.image.ref.name` is `tag`).
async fn put_oci_layout(
    dst: &Client,
    repo: &str,
    tag: &str,
    files: &HashMap<String, Stored>,
) -> Result<String> {
    let index = Manifest::parse(small(files, "index.json")?.to_vec(), None).map_err(invalid)?;
    let entries = index.children();
    let doc: serde_json::Value =
        serde_json::from_slice(small(files, "index.json")?).map_err(|e| invalid(e.to_string()))?;
    let chosen = if entries.len() == 1 {
        entries[0].clone()
    } else {
        let named = doc["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .position(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag);
        match named {
            Some(i) => entries[i].clone(),
            None => {
                return Err(invalid(format!(
                    "index.json lists {} images and none is named {tag:?}",
                    entries.len()
                )))
            }
        }
    };
    put_tree(
        dst,
        repo,
        tag,
        &chosen.digest,
        files,
        0,
        &mut Default::default(),
    )
    .await?;
    Ok(chosen.digest)
}

/// Puts a manifest from the layout (children first), as `reference`.
async fn put_tree(
    dst: &Client,
    repo: &str,
    reference: &str,
    digest: &str,
    files: &HashMap<String, Stored>,
    nesting: u32,
    put: &mut std::collections::HashSet<String>,
) -> Result<()> {
    if nesting > berth_oci::manifest::MAX_NESTING {
        return Err(invalid(berth_oci::manifest::too_deep(digest).to_string()));
    }
    let path = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    let m = Manifest::parse(small(files, &path)?.to_vec(), None).map_err(invalid)?;
    for child in m.children() {
        // Each manifest is put once, however many indexes name it (a DAG whose levels name
        // one child many times would otherwise be walked exponentially).
        if !put.insert(child.digest.clone()) {
            continue;
        }
        let next = put_tree(
            dst,
            repo,
            &child.digest,
            &child.digest,
            files,
            nesting + 1,
            put,
        );
        Box::pin(next).await?;
    }
    dst.put_manifest(repo, reference, &m.media_type, Bytes::from(m.bytes.clone()))
        .await
        .map_err(oci)?;
    Ok(())
}

/// Builds and puts the Docker image manifest of a legacy `docker save` archive.
async fn put_docker_save(
    dst: &Client,
    repo: &str,
    tag: &str,
    files: &HashMap<String, Stored>,
) -> Result<String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry {
        config: String,
        #[serde(default)]
        repo_tags: Option<Vec<String>>,
        layers: Vec<String>,
    }
    let entries: Vec<Entry> = serde_json::from_slice(small(files, "manifest.json")?)
        .map_err(|e| invalid(format!("manifest.json: {e}")))?;
    let entry = match entries.len() {
        1 => &entries[0],
        n => entries
            .iter()
            .find(|e| {
                e.repo_tags
                    .iter()
                    .flatten()
                    .any(|t| t.rsplit_once(':').is_some_and(|(_, t)| t == tag))
            })
            .ok_or_else(|| {
                invalid(format!(
                    "manifest.json lists {n} images and none is tagged {tag:?}"
                ))
            })?,
    };
    let config_bytes = small(files, &entry.config)?;
    let config = files.get(&entry.config).expect("checked by small()");
    // The config is not uploaded while streaming (it is not a blob path); upload it now.
    let body: BlobStream = Box::pin(futures::stream::once(futures::future::ready(Ok(
        Bytes::from(config_bytes.to_vec()),
    ))));
    dst.put_blob(repo, &config.digest, config.size, body)
        .await
        .map_err(oci)?;
    let mut layers = Vec::new();
    for l in &entry.layers {
        let f = files
            .get(l)
            .ok_or_else(|| invalid(format!("{l} is missing from the archive")))?;
        layers.push(
            serde_json::json!({"mediaType": DOCKER_LAYER, "digest": f.digest, "size": f.size}),
        );
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": berth_oci::manifest::DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "digest": config.digest, "size": config.size},
        "layers": layers,
    });
    let bytes = Bytes::from(serde_json::to_vec(&manifest).expect("json"));
    dst.put_manifest(repo, tag, berth_oci::manifest::DOCKER_MANIFEST, bytes)
        .await
        .map_err(oci)
}

/// One blob streaming to the destination while the archive is read.
struct Upload {
    body: Option<mpsc::Sender<Bytes>>,
    task: tokio::task::JoinHandle<std::result::Result<String, OciError>>,
}

impl Upload {
    async fn start(dst: &Client, repo: &str, size: u64) -> std::result::Result<Self, OciError> {
        let location = dst.open_upload(repo).await?;
        let (tx, rx) = mpsc::channel::<Bytes>(8);
        let (dst, repo) = (dst.clone(), repo.to_string());
        let task = tokio::spawn(async move {
            if size == 0 {
                return Ok(location);
            }
            let body: BlobStream = Box::pin(
                tokio_stream::wrappers::ReceiverStream::new(rx).map(Ok::<Bytes, OciError>),
            );
            dst.upload_chunk(&repo, &location, 0, size, body).await
        });
        Ok(Self {
            body: Some(tx),
            task,
        })
    }

    async fn send(&mut self, b: Bytes) {
        if let Some(tx) = &self.body {
            if tx.send(b).await.is_err() {
                // The upload ended early; its error surfaces in finish().
                self.body = None;
            }
        }
    }

    /// Completes the upload as `digest`, unless the blob is not the `expected` one; a blob that
    /// fails (its digest, or at the registry) has its upload cancelled, leaving nothing behind.
    async fn finish(
        mut self,
        dst: &Client,
        repo: &str,
        digest: &str,
        expected: Option<&str>,
    ) -> std::result::Result<(), OciError> {
        self.body.take();
        let location = self
            .task
            .await
            .map_err(|e| OciError::Protocol(format!("upload task: {e}")))??;
        if let Some(expected) = expected.filter(|e| *e != digest) {
            dst.cancel_upload(repo, &location).await;
            return Err(OciError::DigestMismatch {
                expected: expected.to_string(),
                actual: digest.to_string(),
            });
        }
        let empty: BlobStream = Box::pin(futures::stream::empty());
        let done = dst.finish_upload(repo, &location, digest, 0, empty).await;
        if done.is_err() {
            dst.cancel_upload(repo, &location).await;
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar of `n` entries of `size` bytes: `{` then `fill`.
    fn archive(n: usize, size: usize, fill: u8) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut data = vec![fill; size];
        data[0] = b'{';
        for i in 0..n {
            let mut h = tar::Header::new_gnu();
            h.set_size(size as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, format!("blobs/sha256/{i:064x}"), &data[..])
                .unwrap();
        }
        b.into_inner().unwrap()
    }

    /// Runs the tar walk on `bytes`: the bytes it kept in memory, and its error.
    fn walked(bytes: Vec<u8>, limits: Limits) -> (u64, Option<String>) {
        let (tx, mut rx) = mpsc::channel(1024);
        let kept = std::thread::spawn(move || {
            let mut kept = 0u64;
            while let Some(e) = rx.blocking_recv() {
                if let Event::End { small: Some(s), .. } = e {
                    kept += s.len() as u64;
                }
            }
            kept
        });
        let result = walk(std::io::Cursor::new(bytes), tx, limits);
        (kept.join().unwrap(), result.err())
    }

    #[test]
    fn only_so_much_json_is_kept_and_nothing_else() {
        let limits = Limits {
            kept_total: 4 * 1024 * 1024,
            ..LIMITS
        };
        // Forty JSON-looking entries of 1 MiB: a quarter is kept at most.
        let (kept, err) = walked(archive(40, 1024 * 1024, b' '), limits);
        assert_eq!(err, None);
        assert!(kept <= limits.kept_total, "{kept}");
        // Entries that are not JSON are never kept.
        let mut tarred = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2 * 1024 * 1024);
        h.set_mode(0o644);
        h.set_cksum();
        tarred
            .append_data(&mut h, "layer.tar", &vec![0u8; 2 * 1024 * 1024][..])
            .unwrap();
        let (kept, _) = walked(tarred.into_inner().unwrap(), LIMITS);
        assert_eq!(kept, 0);
    }

    #[test]
    fn a_decompression_bomb_is_refused_early() {
        use std::io::Write;
        let tarred = archive(16, 1024 * 1024, 0);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tarred).unwrap();
        let bomb = gz.finish().unwrap();
        let limits = Limits {
            ratio_floor: 2 * 1024 * 1024,
            max_ratio: 64,
            ..LIMITS
        };
        let (_, err) = walked(bomb, limits);
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("decompression bomb")),
            "{err:?}"
        );
    }

    /// The paths the tar walk reports, and its error.
    fn walked_paths(bytes: Vec<u8>) -> (Vec<String>, Option<String>) {
        let (tx, mut rx) = mpsc::channel(1024);
        let paths = std::thread::spawn(move || {
            let mut paths = Vec::new();
            while let Some(e) = rx.blocking_recv() {
                if let Event::File { path, .. } = e {
                    paths.push(path);
                }
            }
            paths
        });
        let result = walk(std::io::Cursor::new(bytes), tx, LIMITS);
        (paths.join().unwrap(), result.err())
    }

    fn file_header(size: usize) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_size(size as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h
    }

    /// An extension entry (`kind`) carrying `data`, as a raw tar block sequence.
    fn extension(b: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(kind);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    #[test]
    fn long_names_and_pax_paths_name_the_entry_after_them() {
        let long = format!("{}/layer.tar", "d".repeat(200));
        let mut b = tar::Builder::new(Vec::new());
        // The builder writes a GNU long-name entry for a path this long.
        b.append_data(&mut file_header(3), &long, &b"abc"[..])
            .unwrap();
        let value = "pax/".repeat(40) + "manifest.json";
        let body = format!(" path={value}\n");
        // A PAX record counts its own length's digits.
        let record = (body.len()..body.len() + 8)
            .map(|n| format!("{n}{body}"))
            .find(|r| r.len() == r[..r.find(' ').unwrap()].parse::<usize>().unwrap())
            .unwrap();
        extension(&mut b, tar::EntryType::XHeader, record.as_bytes());
        let mut h = file_header(2);
        h.set_path("short").unwrap();
        h.set_cksum();
        b.append(&h, &b"{}"[..]).unwrap();
        let (paths, err) = walked_paths(b.into_inner().unwrap());
        assert_eq!(err, None);
        assert_eq!(paths, vec![long, value]);
    }

    /// Regression: the tar crate read a GNU long name whole, whatever its size (1 GiB took
    /// about 3 GB); now it is refused past 64 KiB before it is read.
    #[test]
    fn a_huge_long_name_is_refused_before_it_is_read() {
        let mut b = tar::Builder::new(Vec::new());
        extension(
            &mut b,
            tar::EntryType::GNULongName,
            &vec![b'a'; 1024 * 1024],
        );
        let mut h = file_header(2);
        h.set_path("x").unwrap();
        h.set_cksum();
        b.append(&h, &b"{}"[..]).unwrap();
        let (paths, err) = walked_paths(b.into_inner().unwrap());
        assert!(paths.is_empty(), "{paths:?}");
        let err = err.unwrap();
        assert!(
            err.contains("long name of 1048576 bytes") && err.contains("at most 65536"),
            "{err}"
        );
        // A PAX header likewise.
        let mut b = tar::Builder::new(Vec::new());
        extension(&mut b, tar::EntryType::XHeader, &vec![b'a'; 100 * 1024]);
        let (_, err) = walked_paths(b.into_inner().unwrap());
        assert!(err.unwrap().contains("PAX header of 102400 bytes"));
    }

    /// Regression: thousands of long names under the 64 KiB bound were each remembered, so a
    /// 500 KB upload held hundreds of MB. Paths are bounded one by one and in all.
    #[test]
    fn many_long_names_are_refused_before_they_add_up() {
        // `count` empty files, each named by a GNU long name of `len` bytes.
        let long_named = |count: usize, len: usize| {
            let mut b = tar::Builder::new(Vec::new());
            for i in 0..count {
                let name = format!("blobs/{i}/{}", "n".repeat(len));
                extension(&mut b, tar::EntryType::GNULongName, name.as_bytes());
                let mut h = file_header(0);
                h.set_path("x").unwrap();
                h.set_cksum();
                b.append(&h, &b""[..]).unwrap();
            }
            b.into_inner().unwrap()
        };
        let (paths, err) = walked_paths(long_named(200, 60_000));
        assert!(paths.is_empty(), "{}", paths.len());
        assert!(err.unwrap().contains("name of 60"), "one name is bounded");
        let (paths, err) = walked_paths(long_named(2000, 4000));
        assert!(paths.len() < 1100, "{}", paths.len());
        assert!(err.unwrap().contains("bytes of file names"));
    }
}
