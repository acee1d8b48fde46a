//! Java archives (`.jar`, `.war`, `.ear`, `.par`), streamed: a zip's entries are read in order
//! through their local headers (the central directory at the end is not needed), so an archive
//! of any size is read in one pass with a few buffers of memory, nested archives too (an entry's
//! inflated bytes are themselves a stream). Every `META-INF/maven/GROUP/ARTIFACT/pom.properties`
//! names a Maven package (`GROUP:ARTIFACT` at `version`), those of classes shaded into the jar
//! included; archives nested inside (a Spring Boot `BOOT-INF/lib/*.jar`, a WAR's
//! `WEB-INF/lib/*.jar`) are read the same way, to a depth of four. An archive with no
//! `pom.properties` of its own is named by its manifest (`Implementation-Vendor-Id`, or
//! `Bundle-SymbolicName`'s group, with `Implementation-Title` and `Implementation-Version`)
//! when it says all three. Entries streamed with a data descriptor (sizes after the data, as
//! the JDK's `jar` writes deflated entries) are found by inflating them to their end; a stored
//! one of unknown size ends the reading of that archive (what was found so far is kept).
//! A launch script before the archive (a "fully executable" jar) is skipped.

use std::io::{BufRead, BufReader, Read};

use super::Package;

const MAX_DEPTH: usize = 4;
/// The most packages one archive names (a large fat jar shades a few hundred): an archive of
/// millions of tiny `pom.properties` stops here rather than holding them all.
const MAX_PACKAGES: usize = 100_000;
/// A `pom.properties` or a manifest larger than this is not one.
const MAX_TEXT: u64 = 1 << 20;
/// The most skipped looking for the first entry (a launch script).
const MAX_PREAMBLE: usize = 1 << 20;

/// The most the archives of one layer (nested ones included) are inflated, all together: a zip
/// of zips that deflate a thousandfold each, or a layer of many of them, stops here.
pub const MAX_INFLATED: u64 = 2 << 30;

const LOCAL: u32 = 0x0403_4b50;
const DESCRIPTOR: u32 = 0x0807_4b50;

/// Whether the file at `path` is a Java archive.
pub fn is_archive(path: &str) -> bool {
    let lower = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    [".jar", ".war", ".ear", ".par"]
        .iter()
        .any(|e| lower.ends_with(e))
}

/// The `key=value` (or `key: value`) lines of a properties file.
fn property<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix(key)?.trim_start();
        let value = rest.strip_prefix('=').or_else(|| rest.strip_prefix(':'))?;
        Some(value.trim()).filter(|v| !v.is_empty())
    })
}

/// A manifest's main section, continuation lines joined (`Name: value\n more` is one value).
fn manifest_field(text: &str, key: &str) -> Option<String> {
    let mut joined = String::new();
    for line in text.split('\n').map(|l| l.trim_end_matches('\r')) {
        if line.is_empty() {
            break; // the main section ends at the first blank line
        }
        match line.strip_prefix(' ') {
            Some(more) => joined.push_str(more),
            None => {
                joined.push('\n');
                joined.push_str(line);
            }
        }
    }
    joined.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim().eq_ignore_ascii_case(key))
            .then(|| v.trim().to_string())
            .filter(|v| !v.is_empty())
    })
}

/// A reader that counts what it yields against what an archive may inflate in all.
struct Metered<'b, R> {
    inner: R,
    left: &'b std::cell::Cell<u64>,
}

impl<R: Read> Read for Metered<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let left = self.left.get();
        if n as u64 > left {
            return Err(std::io::Error::other(
                "the archive inflates to more than Berth reads of one",
            ));
        }
        self.left.set(left - n as u64);
        Ok(n)
    }
}

fn inflated<'b, R: BufRead>(
    raw: R,
    left: &'b std::cell::Cell<u64>,
) -> Metered<'b, flate2::bufread::DeflateDecoder<R>> {
    Metered {
        inner: flate2::bufread::DeflateDecoder::new(raw),
        left,
    }
}

fn io(e: std::io::Error) -> String {
    e.to_string()
}

fn le(b: &[u8]) -> u64 {
    b.iter().rev().fold(0, |v, x| (v << 8) | *x as u64)
}

/// One local file header.
struct Header {
    flags: u16,
    method: u16,
    compressed: u64,
    name: String,
    zip64: bool,
}

/// The next local header, or `None` at the central directory (or the end).
fn header<R: BufRead + ?Sized>(input: &mut R) -> Result<Option<Header>, String> {
    let mut sig = [0u8; 4];
    match input.read_exact(&mut sig) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(io(e)),
    }
    if le(&sig) as u32 != LOCAL {
        return Ok(None);
    }
    let mut fixed = [0u8; 26];
    input.read_exact(&mut fixed).map_err(io)?;
    let (name_len, extra_len) = (le(&fixed[22..24]) as usize, le(&fixed[24..26]) as usize);
    let mut name = vec![0u8; name_len];
    input.read_exact(&mut name).map_err(io)?;
    let mut extra = vec![0u8; extra_len];
    input.read_exact(&mut extra).map_err(io)?;
    let (mut compressed, uncompressed) = (le(&fixed[14..18]), le(&fixed[18..22]));
    let mut zip64 = false;
    // Zip64: sizes of 0xFFFFFFFF are in the extra field 0x0001 (uncompressed, then compressed).
    let mut at = 0;
    while at + 4 <= extra.len() {
        let (id, len) = (le(&extra[at..at + 2]), le(&extra[at + 2..at + 4]) as usize);
        let body = extra.get(at + 4..at + 4 + len).unwrap_or_default();
        if id == 1 {
            zip64 = true;
            let mut field = body.chunks_exact(8).map(le);
            if uncompressed == 0xFFFF_FFFF {
                field.next();
            }
            if compressed == 0xFFFF_FFFF {
                compressed = field.next().unwrap_or(u64::MAX);
            }
        }
        at += 4 + len;
    }
    Ok(Some(Header {
        flags: le(&fixed[2..4]) as u16,
        method: le(&fixed[4..6]) as u16,
        compressed,
        name: String::from_utf8_lossy(&name).into_owned(),
        zip64,
    }))
}

/// The first local header's signature, which [`skip_to_first_entry`] consumes.
const SIGNATURE: &[u8; 4] = b"PK\x03\x04";

/// Skips what precedes the first entry (a launch script) and its signature, up to
/// [`MAX_PREAMBLE`]; `false` when no entry starts within it. Byte by byte across reads, so a
/// signature split between two reads is found.
fn skip_to_first_entry<R: BufRead + ?Sized>(input: &mut R) -> Result<bool, String> {
    let (mut matched, mut skipped) = (0usize, 0usize);
    loop {
        let buf = input.fill_buf().map_err(io)?;
        if buf.is_empty() {
            return Ok(false);
        }
        let mut used = 0;
        for &b in buf {
            used += 1;
            if skipped + used > MAX_PREAMBLE + SIGNATURE.len() {
                input.consume(used);
                return Ok(false);
            }
            if b == SIGNATURE[matched] {
                matched += 1;
                if matched == SIGNATURE.len() {
                    input.consume(used);
                    return Ok(true);
                }
            } else {
                matched = usize::from(b == SIGNATURE[0]);
            }
        }
        input.consume(used);
        skipped += used;
    }
}

/// `input` positioned after the first entry's signature, read from that entry again.
fn from_first_entry<'r>(input: &'r mut dyn BufRead) -> impl BufRead + 'r {
    std::io::Cursor::new(&SIGNATURE[..]).chain(input)
}

/// What a `pom.properties` (a package of the archive's own) or the manifest says.
fn read_text_entry(
    name: &str,
    text: String,
    path: &str,
    own: &mut bool,
    manifest: &mut Option<String>,
    out: &mut Vec<Package>,
) {
    if name.starts_with("META-INF/maven/") {
        if let (Some(g), Some(a), Some(v)) = (
            property(&text, "groupId"),
            property(&text, "artifactId"),
            property(&text, "version"),
        ) {
            *own = true;
            out.push(Package::language(&format!("{g}:{a}"), v, path));
        }
    } else {
        *manifest = Some(text);
    }
}

/// A stored entry of unknown size read to its end: the data descriptor (its signature, a CRC,
/// and sizes 4 bytes each, or 8 in zip64) whose sizes equal the bytes read so far ends it. The
/// first `keep` bytes of the data are returned.
fn stored_to_descriptor<R: BufRead + ?Sized>(
    input: &mut R,
    zip64: bool,
    keep: usize,
) -> Result<Vec<u8>, String> {
    let tail = if zip64 { 24 } else { 16 };
    let mut window = std::collections::VecDeque::with_capacity(tail + 1);
    let mut kept = Vec::new();
    let mut total = 0u64;
    loop {
        let buf = input.fill_buf().map_err(io)?;
        if buf.is_empty() {
            return Err("a stored entry ends without its descriptor".into());
        }
        let mut used = 0;
        for &b in buf {
            used += 1;
            total += 1;
            if kept.len() < keep + tail {
                kept.push(b);
            }
            window.push_back(b);
            if window.len() > tail {
                window.pop_front();
            }
            if window.len() == tail && window.iter().take(4).eq(DESCRIPTOR.to_le_bytes().iter()) {
                let w: Vec<u8> = window.iter().copied().collect();
                let (c, u) = if zip64 {
                    (le(&w[8..16]), le(&w[16..24]))
                } else {
                    (le(&w[8..12]), le(&w[12..16]))
                };
                let data = total - tail as u64;
                if c == data && u == data {
                    input.consume(used);
                    kept.truncate((data as usize).min(keep));
                    return Ok(kept);
                }
            }
        }
        input.consume(used);
    }
}

/// The Maven packages of the archive at `path`, streamed from `input`; `Err` when it is not a
/// zip. An archive damaged part way lists what its entries before the damage named.
/// What is inflated is counted against `budget` (the layer's, shared by its archives).
pub fn parse(
    path: &str,
    input: impl Read,
    budget: &std::cell::Cell<u64>,
) -> Result<Vec<Package>, String> {
    let mut input = BufReader::with_capacity(64 << 10, input);
    let mut out = Vec::new();
    if !skip_to_first_entry(&mut input)? {
        return Err(format!("{path}: not a zip archive"));
    }
    let mut input = from_first_entry(&mut input);
    if let Err(e) = archive(path, &mut input, 0, budget, &mut out) {
        tracing::debug!(path, error = %e, "Java archive read in part");
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn archive(
    path: &str,
    input: &mut dyn BufRead,
    depth: usize,
    budget: &std::cell::Cell<u64>,
    out: &mut Vec<Package>,
) -> Result<(), String> {
    let mut own = false;
    let mut manifest = None;
    while let Some(h) = header(input)? {
        if out.len() >= MAX_PACKAGES {
            return Err(format!("{path}: names more than {MAX_PACKAGES} packages"));
        }
        let descriptor = h.flags & 0x8 != 0;
        let known = !descriptor || h.compressed != 0;
        let encrypted = h.flags & 0x1 != 0;
        let deflated = h.method == 8;
        let text_entry = (h.name.starts_with("META-INF/maven/")
            && h.name.ends_with("/pom.properties"))
            || h.name.eq_ignore_ascii_case("META-INF/MANIFEST.MF");
        if !deflated && !known {
            if h.method != 0 || encrypted {
                // Compressed otherwise, of unknown length: nothing after it can be found
                // without the central directory.
                return Ok(());
            }
            // Stored, its size in the descriptor after it (Python's zipfile and Info-ZIP's
            // `zip -` write entries so): read to the descriptor whose sizes match.
            let keep = if text_entry { MAX_TEXT as usize } else { 0 };
            let bytes = stored_to_descriptor(&mut *input, h.zip64, keep)?;
            if text_entry {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                read_text_entry(&h.name, text, path, &mut own, &mut manifest, out);
            }
            continue;
        }
        {
            // The entry's compressed bytes, bounded when their size is known.
            let mut raw: Box<dyn BufRead + '_> = if known {
                Box::new((&mut *input).take(h.compressed))
            } else {
                Box::new(&mut *input)
            };
            let interesting = !encrypted
                && (deflated || h.method == 0)
                && (text_entry || (is_archive(&h.name) && depth + 1 < MAX_DEPTH));
            if !interesting {
                if deflated && !known {
                    // Inflated to its end only to find where the next entry starts.
                    let mut d = inflated(&mut raw, budget);
                    std::io::copy(&mut d, &mut std::io::sink()).map_err(io)?;
                } else {
                    std::io::copy(&mut raw, &mut std::io::sink()).map_err(io)?;
                }
            } else {
                let mut data: Box<dyn Read + '_> = if deflated {
                    Box::new(inflated(&mut raw, budget))
                } else {
                    Box::new(&mut raw)
                };
                if is_archive(&h.name) {
                    let mut nested = BufReader::with_capacity(64 << 10, &mut data);
                    // A nested archive that is not a zip lists nothing; the outer one goes on.
                    if skip_to_first_entry(&mut nested).unwrap_or(false) {
                        let mut nested = from_first_entry(&mut nested);
                        let _ = archive(path, &mut nested, depth + 1, budget, out);
                    }
                    std::io::copy(&mut nested, &mut std::io::sink()).map_err(io)?;
                } else {
                    let mut bytes = Vec::new();
                    (&mut data)
                        .take(MAX_TEXT)
                        .read_to_end(&mut bytes)
                        .map_err(io)?;
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    read_text_entry(&h.name, text, path, &mut own, &mut manifest, out);
                }
                std::io::copy(&mut data, &mut std::io::sink()).map_err(io)?;
            }
            if known {
                // What a bounded entry's inflater left of its compressed bytes.
                std::io::copy(&mut raw, &mut std::io::sink()).map_err(io)?;
            }
        }
        if descriptor {
            // crc, sizes (8 bytes each in zip64), after an optional signature.
            let mut first = [0u8; 4];
            input.read_exact(&mut first).map_err(io)?;
            let sizes = if h.zip64 { 16 } else { 8 };
            let rest = if le(&first) as u32 == DESCRIPTOR {
                4 + sizes
            } else {
                sizes
            };
            std::io::copy(&mut (&mut *input).take(rest), &mut std::io::sink()).map_err(io)?;
        }
    }
    if !own {
        if let Some(m) = manifest {
            let group = manifest_field(&m, "Implementation-Vendor-Id").or_else(|| {
                // `org.example.tool` names group `org.example`.
                let symbolic = manifest_field(&m, "Bundle-SymbolicName")?;
                let symbolic = symbolic.split(';').next()?.to_string();
                Some(symbolic.rsplit_once('.')?.0.to_string())
            });
            let title = manifest_field(&m, "Implementation-Title");
            let version = manifest_field(&m, "Implementation-Version");
            if let (Some(group), Some(title), Some(version)) = (group, title, version) {
                if !title.contains(' ') {
                    out.push(Package::language(
                        &format!("{group}:{title}"),
                        &version,
                        path,
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};
    use zip::write::SimpleFileOptions;

    /// A zip of `entries` (name, bytes, stored), with sizes in the local headers.
    fn zip(entries: &[(&str, &[u8], bool)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes, stored) in entries {
            let method = if *stored {
                zip::CompressionMethod::Stored
            } else {
                zip::CompressionMethod::Deflated
            };
            w.start_file(
                *name,
                SimpleFileOptions::default().compression_method(method),
            )
            .unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    /// A zip written as a stream: each entry deflated with its sizes in a data descriptor
    /// after it (flag bit 3), as the JDK's `jar` writes them.
    fn streamed(entries: &[(&str, &[u8], bool)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, bytes, stored) in entries {
            let data = if *stored {
                bytes.to_vec()
            } else {
                let mut e =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(bytes).unwrap();
                e.finish().unwrap()
            };
            out.extend(LOCAL.to_le_bytes());
            out.extend(20u16.to_le_bytes());
            out.extend(0x0008u16.to_le_bytes());
            out.extend(if *stored { 0u16 } else { 8u16 }.to_le_bytes());
            out.extend([0u8; 16]); // time, date, crc and sizes: in the descriptor
            out.extend((name.len() as u16).to_le_bytes());
            out.extend(0u16.to_le_bytes());
            out.extend(name.as_bytes());
            out.extend(&data);
            out.extend(DESCRIPTOR.to_le_bytes());
            out.extend(0u32.to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((bytes.len() as u32).to_le_bytes());
        }
        out.extend(0x0201_4b50u32.to_le_bytes()); // the central directory begins
        out
    }

    fn write(entries: &[(&str, &[u8], bool)], as_stream: bool) -> Vec<u8> {
        if as_stream {
            streamed(entries)
        } else {
            zip(entries)
        }
    }

    fn budget() -> std::cell::Cell<u64> {
        std::cell::Cell::new(MAX_INFLATED)
    }

    fn names(packages: Vec<Package>) -> Vec<(String, String)> {
        packages.into_iter().map(|p| (p.name, p.version)).collect()
    }

    const LOG4J: &[u8] =
        b"#Generated by Maven\ngroupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion=2.14.1\n";
    const MANIFEST: &[u8] = b"Manifest-Version: 1.0\r\nImplementation-Title: commons-text\r\nImplementation-Vers\r\n ion: 1.9\r\nImplementation-Vendor-Id: org.apache.commons\r\n\r\nName: x\r\nImplementation-Version: 9\r\n";

    #[test]
    fn pom_properties_nested_archives_and_manifests_either_way_a_zip_is_written() {
        for streamed in [false, true] {
            let log4j = write(
                &[(
                    "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
                    LOG4J,
                    false,
                )],
                streamed,
            );
            let text = write(&[("META-INF/MANIFEST.MF", MANIFEST, false)], streamed);
            let inner = zip(&[("BOOT-INF/lib/commons-text-1.9.jar", &text, true)]);
            let app = write(
                &[
                    ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n", false),
                    (
                        "META-INF/maven/com.example/app/pom.properties",
                        b"groupId = com.example\nartifactId = app\nversion = 1.0.0\n",
                        false,
                    ),
                    // Spring Boot stores its nested jars; others deflate them.
                    ("BOOT-INF/lib/log4j-core-2.14.1.jar", &log4j, !streamed),
                    ("BOOT-INF/lib/inner.jar", &inner, false),
                    ("BOOT-INF/lib/broken.jar", b"not a zip", false),
                    ("BOOT-INF/classes/App.class", &[0xca; 5000], false),
                ],
                streamed,
            );
            let got = names(parse("srv/app.jar", &app[..], &budget()).unwrap());
            assert_eq!(
                got,
                vec![
                    ("com.example:app".to_string(), "1.0.0".to_string()),
                    ("org.apache.commons:commons-text".into(), "1.9".into()),
                    (
                        "org.apache.logging.log4j:log4j-core".into(),
                        "2.14.1".into()
                    ),
                ],
                "streamed: {streamed}"
            );
            // A launch script before the archive (a fully executable jar) is skipped.
            let mut executable = b"#!/bin/bash\nexec java -jar \"$0\" \"$@\"\n".to_vec();
            executable.extend(&app);
            assert_eq!(
                names(parse("app.jar", &executable[..], &budget()).unwrap()).len(),
                3
            );
        }
        assert!(parse("x.jar", &b"not a zip at all"[..], &budget()).is_err());
        assert!(is_archive("opt/App.WAR") && !is_archive("opt/jar"));
    }

    /// A reader that hands out at most `step` bytes a read, as a network stream may.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_long_launch_script_and_reads_of_any_size_find_the_archive() {
        let jar = streamed(&[(
            "META-INF/maven/g/a/pom.properties",
            b"groupId=g\nartifactId=a\nversion=1\n",
            false,
        )]);
        for script in [0usize, 9_000, 65_000, 300_000, MAX_PREAMBLE] {
            let mut bytes = vec![b'#'; script];
            bytes.extend(&jar);
            for step in [1, 3, 7, 4096, 1 << 20] {
                let got = parse("x.jar", Trickle(&bytes, step), &budget()).unwrap();
                assert_eq!(got.len(), 1, "script {script}, reads of {step}");
            }
        }
        let mut too_long = vec![b'#'; MAX_PREAMBLE + 100];
        too_long.extend(&jar);
        assert!(parse("x.jar", &too_long[..], &budget()).is_err());
        // A layer's archives share one inflation budget.
        let shared = std::cell::Cell::new(10);
        assert_eq!(
            parse("a.jar", &jar[..], &shared).unwrap().len(),
            0,
            "over the budget"
        );
    }

    #[test]
    fn stored_entries_of_unknown_size_are_read_to_their_descriptor() {
        // As Python's zipfile writes to a pipe and `zip -` writes an empty file: stored, sizes
        // after the data (data that itself holds a descriptor's signature, but not its sizes).
        let mut tricky = b"abc".to_vec();
        tricky.extend(DESCRIPTOR.to_le_bytes());
        tricky.extend([0u8; 12]);
        tricky.extend(b"more");
        let jar = streamed(&[
            ("empty.txt", b"", true),
            ("data.bin", &tricky, true),
            (
                "META-INF/maven/g/stored/pom.properties",
                b"groupId=g\nartifactId=stored\nversion=1\n",
                true,
            ),
            (
                "META-INF/maven/g/deflated/pom.properties",
                b"groupId=g\nartifactId=deflated\nversion=2\n",
                false,
            ),
        ]);
        let got = names(parse("p.jar", &jar[..], &budget()).unwrap());
        assert_eq!(
            got,
            [
                ("g:deflated".to_string(), "2".to_string()),
                ("g:stored".into(), "1".into())
            ]
        );
    }

    #[test]
    fn an_archive_of_countless_poms_names_a_bounded_number() {
        let poms: Vec<(String, String)> = (0..MAX_PACKAGES + 10)
            .map(|i| {
                (
                    format!("META-INF/maven/g/a{i}/pom.properties"),
                    format!("groupId=g\nartifactId=a{i}\nversion=1\n"),
                )
            })
            .collect();
        let entries: Vec<(&str, &[u8], bool)> = poms
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_bytes(), false))
            .collect();
        let got = parse("many.jar", &streamed(&entries)[..], &budget()).unwrap();
        assert_eq!(got.len(), MAX_PACKAGES);
    }

    #[test]
    fn nesting_stops_at_four_levels_and_truncation_is_an_error_not_a_panic() {
        let mut jar = zip(&[(
            "META-INF/maven/g/a0/pom.properties",
            b"groupId=g\nartifactId=a0\nversion=1\n",
            false,
        )]);
        for level in 1..8 {
            let pom = format!("groupId=g\nartifactId=a{level}\nversion=1\n");
            let name = format!("META-INF/maven/g/a{level}/pom.properties");
            jar = write(
                &[
                    (name.as_str(), pom.as_bytes(), false),
                    ("lib/inner.jar", &jar, false),
                ],
                level % 2 == 0,
            );
        }
        let got = names(parse("deep.jar", &jar[..], &budget()).unwrap());
        assert_eq!(got.len(), MAX_DEPTH, "{got:?}");
        for cut in [10, jar.len() / 3, jar.len() - 30] {
            let _ = parse("cut.jar", &jar[..cut], &budget());
        }
    }
}
