//! Java archives (`.jar`, `.war`, `.ear`, `.par`): every `META-INF/maven/GROUP/ARTIFACT/
//! pom.properties` an archive holds names a Maven package (`groupId:artifactId` at `version`),
//! including those of classes shaded into it, and archives nested inside it (a Spring Boot
//! `BOOT-INF/lib/*.jar`, a WAR's `WEB-INF/lib/*.jar`) are read the same way, to a depth of
//! four. An archive with no `pom.properties` of its own is named by its manifest
//! (`Implementation-Vendor-Id` or `Bundle-SymbolicName`'s group, `Implementation-Title`,
//! `Implementation-Version`) when the manifest says all three. A zip is read from memory
//! (its directory is at its end), so an archive is held while it is read, up to
//! [`MAX_ARCHIVE`].

use std::io::{Cursor, Read};

use super::Package;

/// The largest archive read, nested ones included; a larger one is reported unsupported.
pub const MAX_ARCHIVE: u64 = 256 << 20;
const MAX_DEPTH: usize = 4;
/// A `pom.properties` or a manifest larger than this is not one.
const MAX_TEXT: u64 = 1 << 20;

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
        let l = l.trim();
        let rest = l.strip_prefix(key)?.trim_start();
        let value = rest.strip_prefix('=').or_else(|| rest.strip_prefix(':'))?;
        Some(value.trim()).filter(|v| !v.is_empty())
    })
}

/// A manifest's main section, continuation lines joined (`Name: value\n more` is one value).
fn manifest_field(text: &str, key: &str) -> Option<String> {
    let mut joined = String::new();
    for line in text.split(['\n']).map(|l| l.trim_end_matches('\r')) {
        if line.is_empty() {
            break; // the main section ends at the first blank line
        }
        if let Some(more) = line.strip_prefix(' ') {
            joined.push_str(more);
        } else {
            joined.push('\n');
            joined.push_str(line);
        }
    }
    joined.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim().eq_ignore_ascii_case(key))
            .then(|| v.trim().to_string())
            .filter(|v| !v.is_empty())
    })
}

fn read_text(file: &mut impl Read) -> Option<String> {
    let mut bytes = Vec::new();
    file.take(MAX_TEXT).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The Maven packages of the archive at `path`, whose bytes are `bytes`; `Err` when it is not
/// a zip that can be read.
pub fn parse(path: &str, bytes: &[u8]) -> Result<Vec<Package>, String> {
    let mut out = Vec::new();
    // What nested archives may take, all together: a zip of zips does not multiply it.
    let mut budget = MAX_ARCHIVE;
    archive(path, bytes, 0, &mut budget, &mut out)?;
    out.sort();
    out.dedup();
    Ok(out)
}

fn archive(
    path: &str,
    bytes: &[u8],
    depth: usize,
    budget: &mut u64,
    out: &mut Vec<Package>,
) -> Result<(), String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("{path}: {e}"))?;
    let mut own = false;
    let mut manifest = None;
    let mut nested: Vec<usize> = Vec::new();
    for i in 0..zip.len() {
        let Ok(mut file) = zip.by_index(i) else {
            continue;
        };
        if !file.is_file() {
            continue;
        }
        let name = file.name().to_string();
        if name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties") {
            let Some(text) = read_text(&mut file) else {
                continue;
            };
            let (Some(group), Some(artifact), Some(version)) = (
                property(&text, "groupId"),
                property(&text, "artifactId"),
                property(&text, "version"),
            ) else {
                continue;
            };
            own = true;
            out.push(Package::language(
                &format!("{group}:{artifact}"),
                version,
                path,
            ));
        } else if name.eq_ignore_ascii_case("META-INF/MANIFEST.MF") {
            manifest = read_text(&mut file);
        } else if is_archive(&name) && depth + 1 < MAX_DEPTH {
            nested.push(i);
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
    for i in nested {
        let Ok(mut file) = zip.by_index(i) else {
            continue;
        };
        if file.size() > *budget {
            tracing::warn!(
                path,
                inner = file.name(),
                "nested archives too large, skipped"
            );
            continue;
        }
        let mut inner = Vec::with_capacity(file.size() as usize);
        if file.by_ref().take(*budget).read_to_end(&mut inner).is_err() {
            continue;
        }
        *budget -= inner.len() as u64;
        // A nested archive that is not a zip is skipped; the outer one still counts.
        let _ = archive(path, &inner, depth + 1, budget, out);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn pom_properties_nested_archives_and_manifests() {
        let log4j = zip(&[(
            "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
            b"#Generated by Maven\ngroupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion=2.14.1\n",
        )]);
        let manifest_only = zip(&[(
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\r\nImplementation-Title: commons-text\r\nImplementation-Vers\r\n ion: 1.9\r\nImplementation-Vendor-Id: org.apache.commons\r\n\r\nName: x\r\nImplementation-Version: 9\r\n",
        )]);
        let app = zip(&[
            (
                "META-INF/maven/com.example/app/pom.properties",
                b"groupId = com.example\nartifactId = app\nversion = 1.0.0\n",
            ),
            ("BOOT-INF/lib/log4j-core-2.14.1.jar", &log4j),
            ("BOOT-INF/lib/commons-text-1.9.jar", &manifest_only),
            ("BOOT-INF/lib/broken.jar", b"not a zip"),
        ]);
        let got: Vec<(String, String)> = parse("srv/app.jar", &app)
            .unwrap()
            .into_iter()
            .map(|p| {
                assert_eq!(p.path, "srv/app.jar");
                (p.name, p.version)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("com.example:app".to_string(), "1.0.0".to_string()),
                ("org.apache.commons:commons-text".into(), "1.9".into()),
                (
                    "org.apache.logging.log4j:log4j-core".into(),
                    "2.14.1".into()
                ),
            ]
        );
        assert!(parse("x.jar", b"PK\x03\x04 nope").is_err());
        assert!(is_archive("opt/App.WAR") && !is_archive("opt/jar"));
    }
}
