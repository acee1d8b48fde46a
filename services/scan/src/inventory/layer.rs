//! One streamed pass over a layer: the blob is decompressed (gzip or zstd, told by its first
//! bytes; or read as a plain tar) and its entries walked once, keeping only the files an
//! inventory reads and the whiteouts; nothing is written to disk and only package databases are
//! held in memory. The compressed bytes are hashed on the way: a blob that is not what its
//! digest says is refused.

use std::io::{BufReader, Read};
use std::sync::{Arc, Mutex};

use sha2::Digest;

use super::{apk, dpkg, gobin, java, lang, os_release, rpm, rustbin, Ecosystem, Found, Layer};

/// The largest package database read (a Debian status file of 5,000 packages is ~5 MiB).
const MAX_DATABASE: u64 = 64 << 20;
/// The most packages one layer lists (a large image lists a few thousand): past it, what a
/// layer adds is reported unsupported, by path, rather than held.
const MAX_PACKAGES: usize = 200_000;

fn found_len(found: &Found) -> usize {
    match found {
        Found::Packages(list) | Found::Language(_, list) => list.len(),
        Found::Os(_) => 1,
    }
}

/// Keeps what the file at `path` says, unless the layer has listed [`MAX_PACKAGES`] already:
/// then the file is unsupported (and still replaces what a lower layer had there).
fn keep(layer: &mut Layer, listed: &mut usize, path: String, found: Found) {
    let n = found_len(&found);
    if *listed + n > MAX_PACKAGES {
        tracing::warn!(
            path,
            "the layer lists too many packages; the rest are unsupported"
        );
        refuse(layer, path);
        return;
    }
    *listed += n;
    layer.found.insert(path, found);
}

/// A file Berth does not read: unsupported, by path, and it still replaces what a lower layer
/// had there.
fn refuse(layer: &mut Layer, path: String) {
    layer.whiteouts.push(path.clone());
    layer.unsupported.push(path);
}

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("reading the layer: {0}")]
    Read(String),
    #[error("the layer is {actual}, not {expected}")]
    Digest { expected: String, actual: String },
    #[error("fetching the layer: {0}")]
    Fetch(#[from] berth_oci::OciError),
}

fn read_error(e: impl std::fmt::Display) -> LayerError {
    LayerError::Read(e.to_string())
}

/// A reader that hashes and counts what passes through it.
struct Hashing<R> {
    inner: R,
    state: Arc<Mutex<(sha2::Sha256, u64)>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut state = self.state.lock().expect("hash state");
        state.0.update(&buf[..n]);
        state.1 += n as u64;
        Ok(n)
    }
}

/// A tar path as a relative path without `./` or a leading `/`.
fn normalize(path: &std::path::Path) -> String {
    let text = path.to_string_lossy();
    text.trim_start_matches("./")
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_string()
}

/// Whether an inventory reads the file at `path`.
fn wanted(path: &str) -> bool {
    system_file(path) || lang::kind(path).is_some() || java::is_archive(path)
}

/// Whether `path` is an os-release or a distribution's package database.
fn system_file(path: &str) -> bool {
    os_release::is_file(path)
        || dpkg::is_database(path)
        || path == apk::DATABASE
        || rpm::DATABASES.contains(&path)
}

/// Reads one layer blob from `input`; `digest` (`sha256:…`) is checked when given.
pub fn read(input: impl Read, digest: Option<&str>) -> Result<(Layer, u64), LayerError> {
    let state = Arc::new(Mutex::new((sha2::Sha256::new(), 0u64)));
    let mut input = Hashing {
        inner: input,
        state: state.clone(),
    };
    // The first four bytes say the format, however the first chunk arrived.
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..]).map_err(read_error)? {
            0 => break,
            n => got += n,
        }
    }
    let head = &head[..got];
    let input = BufReader::with_capacity(1 << 20, std::io::Cursor::new(head.to_vec()).chain(input));
    // zstd: a frame, or a skippable frame (magic 0x184D2A5?) before one.
    let zstd = head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || (head.len() == 4 && head[0] & 0xf0 == 0x50 && head[1..] == [0x2a, 0x4d, 0x18]);
    let decompressed: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(input))
    } else if zstd {
        Box::new(zstd::stream::read::Decoder::with_buffer(input).map_err(read_error)?)
    } else {
        Box::new(input)
    };
    let mut archive = tar::Archive::new(decompressed);
    let mut layer = Layer::default();
    let mut listed = 0usize;
    // What the layer's Java archives may inflate, all together.
    let inflation = std::cell::Cell::new(java::MAX_INFLATED);
    for entry in archive.entries().map_err(read_error)? {
        let mut entry = entry.map_err(read_error)?;
        let path = normalize(&entry.path().map_err(read_error)?);
        let (dir, base) = match path.rsplit_once('/') {
            Some((d, b)) => (d.to_string(), b.to_string()),
            None => (String::new(), path.clone()),
        };
        if base == ".wh..wh..opq" {
            layer.opaque.push(dir);
            continue;
        }
        if let Some(name) = base.strip_prefix(".wh.") {
            layer.whiteouts.push(if dir.is_empty() {
                name.to_string()
            } else {
                format!("{dir}/{name}")
            });
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_hard_link() {
            if !wanted(&path) {
                // A link where no inventory looks lists nothing (however many there are).
                continue;
            }
            // The link's target came earlier in this layer: it holds what the target holds.
            let target = entry.link_name().ok().flatten().map(|t| normalize(&t));
            match target.and_then(|t| layer.found.get(&t)) {
                // Refused before it is copied: links cost nothing past the cap.
                Some(found) if listed + found_len(found) > MAX_PACKAGES => {
                    refuse(&mut layer, path);
                }
                Some(found) => {
                    let mut found = found.clone();
                    if let Found::Packages(list) | Found::Language(_, list) = &mut found {
                        for p in list.iter_mut() {
                            p.path = path.clone();
                        }
                    }
                    keep(&mut layer, &mut listed, path, found);
                }
                None => layer.whiteouts.push(path),
            }
            continue;
        }
        if !kind.is_file() {
            // A symbolic link (or anything else) where a lower layer had a database replaces
            // it: `etc/os-release` becoming a link to `usr/lib/os-release` is read there.
            if !kind.is_dir() && wanted(&path) {
                layer.whiteouts.push(path);
            }
            continue;
        }
        if rpm::UNSUPPORTED.contains(&path.as_str()) {
            layer.unsupported.push(path);
            continue;
        }
        if java::is_archive(&path) {
            // Streamed like the layer itself; an archive that is not a zip lists nothing (and
            // still replaces a lower one).
            let packages = java::parse(&path, &mut entry, &inflation).unwrap_or_else(|e| {
                tracing::debug!(path, error = %e, "not a readable Java archive");
                Vec::new()
            });
            keep(
                &mut layer,
                &mut listed,
                path,
                Found::Language(Ecosystem::Maven, packages),
            );
            continue;
        }
        // Every file of the layer passes here: its path is looked at once.
        let language = lang::kind(&path);
        if language.is_none() && !system_file(&path) {
            // An executable may be a Go binary (its build information lists its modules) or
            // a Rust one built with `cargo auditable` (a section lists its crates, found
            // through the section table at the file's end: so it is held whole, up to a size).
            let executable = entry.header().mode().is_ok_and(|m| m & 0o111 != 0);
            if executable && entry.size() >= 64 {
                let found = if entry.size() <= rustbin::MAX_EXECUTABLE {
                    let mut bytes = Vec::with_capacity(entry.size() as usize);
                    entry.read_to_end(&mut bytes).map_err(read_error)?;
                    match gobin::parse_bytes(&bytes, &path) {
                        Some(modules) => Some((Ecosystem::Go, modules)),
                        None => rustbin::parse(&bytes, &path).map(|c| (Ecosystem::CratesIo, c)),
                    }
                } else {
                    gobin::read(&mut entry, &path)
                        .map_err(read_error)?
                        .map(|modules| (Ecosystem::Go, modules))
                };
                if let Some((ecosystem, packages)) = found {
                    keep(
                        &mut layer,
                        &mut listed,
                        path,
                        Found::Language(ecosystem, packages),
                    );
                }
            }
            continue;
        }
        if entry.size() > MAX_DATABASE {
            tracing::warn!(
                path,
                size = entry.size(),
                "package database too large, skipped"
            );
            refuse(&mut layer, path);
            continue;
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes).map_err(read_error)?;
        if rpm::DATABASES.contains(&path.as_str()) {
            match rpm::parse(&path, &bytes) {
                Ok(packages) => {
                    keep(&mut layer, &mut listed, path, Found::Packages(packages));
                }
                Err(e) => {
                    tracing::warn!(path, error = %e, "rpm database not readable");
                    refuse(&mut layer, path);
                }
            }
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        let found = if let Some(ecosystem) = language {
            // Even an empty list replaces what a lower layer's file at the path listed.
            Found::Language(ecosystem, lang::parse(ecosystem, &path, &text))
        } else if os_release::is_file(&path) {
            Found::Os(os_release::parse(&text))
        } else if path == apk::DATABASE {
            Found::Packages(apk::parse(&path, &text))
        } else {
            Found::Packages(dpkg::parse(&path, &text))
        };
        keep(&mut layer, &mut listed, path, found);
    }
    // Whatever follows the archive's end (padding, a gzip member's trailer) is hashed too.
    std::io::copy(&mut archive.into_inner(), &mut std::io::sink()).map_err(read_error)?;
    let (hash, size) = {
        let state = state.lock().expect("hash state");
        (
            format!("sha256:{}", hex::encode(state.0.clone().finalize())),
            state.1,
        )
    };
    if let Some(expected) = digest.filter(|d| d.starts_with("sha256:")) {
        if expected != hash {
            return Err(LayerError::Digest {
                expected: expected.to_string(),
                actual: hash,
            });
        }
    }
    Ok((layer, size))
}

/// A blocking [`Read`] over a blob stream, for the tar reader on a blocking thread: each read
/// waits on the runtime for the next chunk.
struct BlobReader {
    stream: berth_oci::BlobStream,
    runtime: tokio::runtime::Handle,
    chunk: bytes::Bytes,
}

impl Read for BlobReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        use futures::StreamExt;
        while self.chunk.is_empty() {
            match self.runtime.block_on(self.stream.next()) {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(e)) => return Err(std::io::Error::other(e.to_string())),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.chunk.len());
        out[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

/// Reads layer `digest` of `repository` from the registry, streamed.
pub async fn fetch(
    client: &berth_oci::Client,
    repository: &str,
    digest: &str,
) -> Result<(Layer, u64), LayerError> {
    let (_, stream) = client.get_blob(repository, digest).await?;
    let reader = BlobReader {
        stream,
        runtime: tokio::runtime::Handle::current(),
        chunk: bytes::Bytes::new(),
    };
    let digest = digest.to_string();
    tokio::task::spawn_blocking(move || read(reader, Some(&digest)))
        .await
        .map_err(read_error)?
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_testkit::image::{files_layer, Compression};

    #[test]
    fn gzip_zstd_and_plain_layers_read_alike_and_digests_are_checked() {
        let status = std::fs::read("/var/lib/dpkg/status").expect("a Debian test machine");
        let os = std::fs::read("/etc/os-release").unwrap();
        let files: &[(&str, &[u8])] = &[
            ("./etc/os-release", &os),
            ("var/lib/dpkg/status", &status),
            ("usr/bin/tool", b"\x7fELF not really"),
            ("var/lib/dpkg/status.d/.wh.old", b""),
            ("opt/.wh..wh..opq", b""),
            ("var/lib/rpm/Packages", b"bdb"),
        ];
        for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let (blob, _, _) = files_layer(files, compression);
            let (blob, digest) = (blob.bytes, blob.digest);
            let (layer, size) = read(&blob[..], Some(&digest)).unwrap();
            assert_eq!(size, blob.len() as u64);
            assert!(matches!(layer.found["etc/os-release"], Found::Os(ref o) if o.id == "debian"));
            let Found::Packages(p) = &layer.found["var/lib/dpkg/status"] else {
                panic!("no packages");
            };
            assert!(p.iter().any(|p| p.name == "dpkg"));
            assert_eq!(layer.whiteouts, vec!["var/lib/dpkg/status.d/old"]);
            assert_eq!(layer.opaque, vec!["opt"]);
            assert_eq!(layer.unsupported, vec!["var/lib/rpm/Packages"]);
            assert_eq!(layer.found.len(), 2, "only what an inventory reads is kept");
        }
        // A zstd stream that starts with a skippable frame (as pzstd writes).
        let (plain, _, _) = files_layer(files, Compression::None);
        let mut skippable = vec![0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3];
        skippable.extend(zstd::encode_all(&plain.bytes[..], 3).unwrap());
        let (layer, _) = read(&skippable[..], None).unwrap();
        assert_eq!(layer.found.len(), 2);
        let wrong = berth_oci::sha256_digest(b"something else");
        let (gzipped, _, _) = files_layer(files, Compression::Gzip);
        assert!(matches!(
            read(&gzipped.bytes[..], Some(&wrong)),
            Err(LayerError::Digest { .. })
        ));
    }

    /// A tar with a hard link and a symbolic link, which `files_layer` does not make.
    fn linked_tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let file = |b: &mut tar::Builder<Vec<u8>>, path: &str, bytes: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, path, bytes).unwrap();
        };
        let link = |b: &mut tar::Builder<Vec<u8>>, kind, path: &str, target: &str| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_size(0);
            h.set_mode(0o777);
            b.append_link(&mut h, path, target).unwrap();
        };
        file(
            &mut b,
            "root/.cache/uv/requests-2.19.1.dist-info/METADATA",
            b"Name: requests\nVersion: 2.19.1\n",
        );
        link(
            &mut b,
            tar::EntryType::Link,
            "usr/lib/python3/site-packages/requests-2.19.1.dist-info/METADATA",
            "root/.cache/uv/requests-2.19.1.dist-info/METADATA",
        );
        link(
            &mut b,
            tar::EntryType::Symlink,
            "etc/os-release",
            "../usr/lib/os-release",
        );
        file(
            &mut b,
            "srv/app/package-lock.json",
            br#"{"lockfileVersion": 3, "packages": {"": {"name": "app"}}}"#,
        );
        b.into_inner().unwrap()
    }

    #[test]
    fn links_and_emptied_files_replace_what_lower_layers_had() {
        let (base, _, _) = files_layer(
            &[
                ("etc/os-release", b"ID=alpine\nVERSION_ID=3.16.0\n"),
                ("usr/lib/os-release", b"ID=alpine\nVERSION_ID=3.17.1\n"),
                (
                    "srv/app/package-lock.json",
                    br#"{"lockfileVersion": 3, "packages": {"node_modules/lodash": {"version": "4.17.15"}}}"#,
                ),
            ],
            Compression::Gzip,
        );
        let (base, _) = read(&base.bytes[..], None).unwrap();
        let (upper, _) = read(&linked_tar()[..], None).unwrap();
        let image = crate::inventory::Image::from_layers([("l1", &base), ("l2", &upper)]);
        // etc/os-release became a link to usr/lib/os-release: the upgraded release is read.
        assert_eq!(image.os.unwrap().version, "3.17.1");
        let names: Vec<(&str, &str)> = image
            .packages
            .iter()
            .map(|i| (i.package.name.as_str(), i.package.path.as_str()))
            .collect();
        assert!(
            !names.iter().any(|(n, _)| *n == "lodash"),
            "the emptied lockfile replaced the old one: {names:?}"
        );
        assert!(
            names
                .iter()
                .any(|(n, p)| *n == "requests" && p.starts_with("usr/lib/python3/site-packages")),
            "a hard-linked METADATA is read: {names:?}"
        );
    }
}
