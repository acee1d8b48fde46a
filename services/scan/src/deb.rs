//! Reading a Debian binary package (`.deb`): an `ar` archive whose `data.tar` (gzip, xz, zstd or
//! uncompressed) holds the package's files; what Berth wants of it is the Debian changelog.

use std::io::Read;

const AR_MAGIC: &[u8] = b"!<arch>\n";
const HEADER: usize = 60;

/// The members of an `ar` archive: name and contents.
fn members(bytes: &[u8]) -> Result<Vec<(String, &[u8])>, String> {
    let mut rest = bytes
        .strip_prefix(AR_MAGIC)
        .ok_or("not a Debian package (no ar archive header)")?;
    let mut out = Vec::new();
    while rest.len() >= HEADER {
        let header = &rest[..HEADER];
        if &header[58..60] != b"`\n" {
            return Err("the ar archive has a damaged member header".into());
        }
        let name = String::from_utf8_lossy(&header[..16])
            .trim_end()
            .trim_end_matches('/')
            .to_string();
        let size: usize = String::from_utf8_lossy(&header[48..58])
            .trim()
            .parse()
            .map_err(|_| format!("the ar member {name:?} has no size"))?;
        let body = rest
            .get(HEADER..HEADER + size)
            .ok_or_else(|| format!("the ar member {name:?} is cut short"))?;
        out.push((name, body));
        // Members are padded to an even offset.
        let next = HEADER + size + size % 2;
        rest = rest.get(next..).unwrap_or_default();
    }
    Ok(out)
}

/// The most of a `data.tar` read (a bigger package's changelog is not looked for past it), of
/// an xz one held in memory, and of a changelog.
const DATA_LIMIT: u64 = 4 << 30;
const XZ_LIMIT: u64 = 512 << 20;
const CHANGELOG_LIMIT: u64 = 64 << 20;

/// A `Vec` that refuses to grow past its limit (xz decompresses into a writer).
struct Bounded(Vec<u8>, u64);

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() as u64 + buf.len() as u64 > self.1 {
            return Err(std::io::Error::other(format!(
                "decompresses to more than {} MiB",
                self.1 >> 20
            )));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The uncompressed tar of a `data.tar[.gz|.xz|.zst]` member, streamed (at most
/// [`DATA_LIMIT`] of it).
fn decompressed<'a>(name: &str, body: &'a [u8]) -> Result<Box<dyn Read + 'a>, String> {
    let failed = |e: std::io::Error| format!("{name}: {e}");
    Ok(match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("gz") => Box::new(flate2::read::GzDecoder::new(body).take(DATA_LIMIT)),
        Some("zst") => Box::new(
            zstd::stream::read::Decoder::new(body)
                .map_err(failed)?
                .take(DATA_LIMIT),
        ),
        Some("xz") => {
            let mut out = Bounded(Vec::new(), XZ_LIMIT);
            lzma_rs::xz_decompress(&mut std::io::BufReader::new(body), &mut out)
                .map_err(|e| format!("{name}: {e}"))?;
            Box::new(std::io::Cursor::new(out.0))
        }
        Some("tar") => Box::new(body),
        _ => return Err(format!("{name}: a compression Berth does not read")),
    })
}

/// Reads all of `r` unless it is longer than `limit`.
fn read_limited(r: impl Read, limit: u64, what: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    r.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("{what}: {e}"))?;
    if out.len() as u64 > limit {
        return Err(format!("{what}: larger than {} MiB", limit >> 20));
    }
    Ok(out)
}

/// The text of the package's `usr/share/doc/*/changelog.Debian.gz`.
pub fn changelog(bytes: &[u8]) -> Result<String, String> {
    let (name, body) = members(bytes)?
        .into_iter()
        .find(|(n, _)| n.starts_with("data.tar"))
        .ok_or("the Debian package has no data.tar member")?;
    let mut archive = tar::Archive::new(decompressed(&name, body)?);
    for entry in archive.entries().map_err(|e| format!("{name}: {e}"))? {
        let mut entry = entry.map_err(|e| format!("{name}: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("{name}: {e}"))?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        let is_changelog = path.starts_with("usr/share/doc/")
            && path.ends_with("/changelog.Debian.gz")
            && path.matches('/').count() == 4
            && entry.header().entry_type().is_file();
        if !is_changelog {
            continue;
        }
        let gz = read_limited(&mut entry, CHANGELOG_LIMIT, &path)?;
        let text = read_limited(
            flate2::read::GzDecoder::new(gz.as_slice()),
            CHANGELOG_LIMIT,
            &path,
        )?;
        return String::from_utf8(text).map_err(|e| format!("{path}: {e}"));
    }
    Err(
        "the Debian package holds no usr/share/doc/*/changelog.Debian.gz (its documentation \
         may live in another package of the same source)"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = AR_MAGIC.to_vec();
        for (name, body) in members {
            out.extend(
                format!(
                    "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                    0,
                    0,
                    0,
                    100644,
                    body.len()
                )
                .bytes(),
            );
            out.extend_from_slice(body);
            if body.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    fn tar_of(path: &str, body: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, path, body).unwrap();
        b.into_inner().unwrap()
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut e, bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn the_changelog_is_read_from_each_compression() {
        let text = "foo (1.0-1) bookworm; urgency=low\n\n  * Fix CVE-2024-0001.\n\n -- A <a@b>  Mon, 01 Jan 2024 00:00:00 +0000\n";
        let tar = tar_of(
            "./usr/share/doc/foo/changelog.Debian.gz",
            &gz(text.as_bytes()),
        );
        let zst = zstd::encode_all(tar.as_slice(), 3).unwrap();
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut tar.as_slice(), &mut xz).unwrap();
        for (name, body) in [
            ("data.tar.gz", gz(&tar)),
            ("data.tar.zst", zst),
            ("data.tar.xz", xz),
            ("data.tar", tar.clone()),
        ] {
            let deb = ar(&[
                ("debian-binary", b"2.0\n"),
                ("control.tar.gz", b"x"),
                (name, &body),
            ]);
            assert_eq!(changelog(&deb).unwrap(), text, "{name}");
        }
        assert!(changelog(b"PK\x03\x04")
            .unwrap_err()
            .contains("not a Debian package"));
        let without = ar(&[
            ("debian-binary", b"2.0\n"),
            ("data.tar", &tar_of("./usr/bin/foo", b"x")),
        ]);
        assert!(changelog(&without)
            .unwrap_err()
            .contains("changelog.Debian.gz"));
    }
}
