//! Vulnerability records built from Debian packages' own changelogs
//! (`usr/share/doc/PACKAGE/changelog.Debian.gz`): every upload names the CVEs it fixed, so the
//! oldest upload of a source package that names a CVE is the version that fixed it. Bullets
//! that revert a fix or say a CVE does not affect Debian are not fixes.

use std::collections::BTreeMap;

use crate::osv::{Affected, AffectedPackage, Event, Range, Record};

/// One upload: `source (version) distribution; urgency=…` and the CVEs its bullets fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub source: String,
    pub version: String,
    pub cves: Vec<String>,
}

/// The CVE ids in `text` (`CVE-YYYY-NNNN…`, in any case), except those it only compares with
/// (`similar to CVE-…`).
fn cves_in(text: &str) -> Vec<String> {
    let upper = text.to_ascii_uppercase();
    let text = upper.as_str();
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("CVE-") {
        let start = i + at;
        let mut end = start + 4;
        let year = end;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
        if end - year == 4 && end < bytes.len() && bytes[end] == b'-' {
            let number = end + 1;
            let mut stop = number;
            while stop < bytes.len() && bytes[stop].is_ascii_digit() {
                stop += 1;
            }
            let compared = text[..start].trim_end().ends_with("SIMILAR TO");
            if stop - number >= 4 && !compared {
                out.push(text[start..stop].to_string());
            }
            end = stop;
        }
        i = end.max(start + 4);
    }
    out
}

/// Whether a bullet's text takes a fix back (it starts by saying so: a patch file named
/// `revert-….patch` that closes a CVE is a fix) or says the CVE is not Debian's.
fn not_a_fix(bullet: &str) -> bool {
    let b = bullet.to_ascii_lowercase();
    let b = b.trim_start_matches(['*', '-', '+', ' ']);
    b.starts_with("revert ")
        || b.starts_with("reverted ")
        || b.starts_with("revert:")
        || b.contains("not affected")
        || b.contains("not-affected")
        || b.contains("does not affect")
        || b.contains("not vulnerable")
}

/// The uploads of a changelog, newest first, as it lists them.
pub fn parse(text: &str) -> Vec<Upload> {
    let mut uploads: Vec<Upload> = Vec::new();
    let mut bullet = String::new();
    let flush = |bullet: &mut String, uploads: &mut Vec<Upload>| {
        if let Some(u) = uploads.last_mut() {
            if !not_a_fix(bullet) {
                for cve in cves_in(bullet) {
                    if !u.cves.contains(&cve) {
                        u.cves.push(cve);
                    }
                }
            }
        }
        bullet.clear();
    };
    for line in text.lines() {
        let header = !line.starts_with(' ') && line.contains(" (") && line.contains(';');
        if header {
            flush(&mut bullet, &mut uploads);
            let (source, rest) = line.split_once(" (").unwrap_or_default();
            let version = rest.split(')').next().unwrap_or_default();
            uploads.push(Upload {
                source: source.trim().to_string(),
                version: version.trim().to_string(),
                cves: Vec::new(),
            });
            continue;
        }
        let trimmed = line.trim_start();
        // A bullet (`*`, `-`, `+`) starts a new item; other indented lines continue it.
        if trimmed.starts_with(['*', '-', '+']) || trimmed.starts_with("--") || trimmed.is_empty() {
            flush(&mut bullet, &mut uploads);
        }
        if !trimmed.starts_with("-- ") {
            bullet.push_str(trimmed);
            bullet.push(' ');
        }
    }
    flush(&mut bullet, &mut uploads);
    uploads
}

/// Debian's releases by code name.
const RELEASES: [(&str, &str); 7] = [
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
    ("duke", "15"),
];

/// The release a changelog's newest uploads were made for: a `~debNNuM` / `+debNNuM` version,
/// else a distribution named by its code name (`bookworm-security`). `None` for `unstable`
/// alone.
pub fn release_of(text: &str) -> Option<String> {
    for line in text
        .lines()
        .filter(|l| !l.starts_with(' ') && l.contains(") "))
    {
        let (Some(open), Some(close)) = (line.find('('), line.find(')')) else {
            continue;
        };
        let version = &line[open + 1..close.max(open + 1)];
        if let Some(at) = version.find("deb") {
            let digits: String = version[at + 3..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            let before = version[..at].chars().last();
            if !digits.is_empty() && matches!(before, Some('~' | '+')) {
                return Some(digits);
            }
        }
        let distributions = line[close + 1..].split(';').next().unwrap_or_default();
        for d in distributions.split_whitespace() {
            let name = d.split('-').next().unwrap_or_default();
            if let Some((_, n)) = RELEASES.iter().find(|(c, _)| *c == name) {
                return Some(n.to_string());
            }
        }
    }
    None
}

/// OSV records for `Debian:RELEASE` from one changelog: one per CVE, fixed in the oldest
/// upload that names it.
pub fn records(text: &str, release: &str) -> Vec<Record> {
    let mut fixed: BTreeMap<String, (String, String)> = BTreeMap::new();
    // Oldest first, so the first upload naming a CVE wins.
    for upload in parse(text).into_iter().rev() {
        for cve in upload.cves {
            fixed
                .entry(cve)
                .or_insert_with(|| (upload.source.clone(), upload.version.clone()));
        }
    }
    fixed
        .into_iter()
        .map(|(cve, (source, version))| Record {
            // One record per release: a changelog of another release is another record.
            id: format!("DEBIAN-{release}-{cve}-{source}"),
            withdrawn: None,
            aliases: vec![cve],
            summary: String::new(),
            modified: String::new(),
            severity: Vec::new(),
            database_specific: None,
            affected: vec![Affected {
                package: AffectedPackage {
                    ecosystem: format!("Debian:{release}"),
                    name: source,
                },
                ranges: vec![Range {
                    kind: "ECOSYSTEM".into(),
                    events: vec![
                        Event {
                            introduced: Some("0".into()),
                            ..Default::default()
                        },
                        Event {
                            fixed: Some(version),
                            ..Default::default()
                        },
                    ],
                }],
                versions: Vec::new(),
                database_specific: None,
                ecosystem_specific: None,
            }],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_comes_from_versions_or_code_names() {
        let log = |first: &str| {
            format!("{first}\n\n  * x\n\n -- A <a@b>  Mon, 01 Jan 2024 00:00:00 +0000\n")
        };
        assert_eq!(
            release_of(&log(
                "openssl (3.0.17-1~deb12u2) bookworm-security; urgency=medium"
            )),
            Some("12".into())
        );
        assert_eq!(
            release_of(&log("curl (7.88.1-10+deb12u8) bookworm; urgency=medium")),
            Some("12".into())
        );
        assert_eq!(
            release_of(&log("zlib (1:1.3.dfsg-3) trixie; urgency=low")),
            Some("13".into())
        );
        assert_eq!(
            release_of(&log("zlib (1:1.3.dfsg-3) unstable; urgency=low")),
            None
        );
    }

    const LOG: &str = "\
foo (1.3-1) unstable; urgency=high

  * Fix CVE-2024-1111 and CVE-2024-22222 (overflow in the
    parser, also CVE-2024-33333).
  * Revert the fix for CVE-2023-9999, it broke things.

 -- Someone <someone@example.org>  Mon, 01 Jan 2024 00:00:00 +0000

foo (1.2-1) unstable; urgency=medium

  * CVE-2023-9999: not affected, the code is not built.
  * Security fix for CVE-2024-1111 (first attempt).
  * Not a cve: CVE-99-1 or CVE-2024-12, and hardening similar to CVE-2012-3524.
  * revert-memory-accept.patch: really fixes cve-2024-44444.

 -- Someone <someone@example.org>  Mon, 01 Dec 2023 00:00:00 +0000
";

    #[test]
    fn uploads_and_the_cves_they_fixed() {
        let uploads = parse(LOG);
        assert_eq!(uploads.len(), 2);
        assert_eq!(uploads[0].version, "1.3-1");
        assert_eq!(
            uploads[0].cves,
            vec!["CVE-2024-1111", "CVE-2024-22222", "CVE-2024-33333"]
        );
        assert_eq!(uploads[1].cves, vec!["CVE-2024-1111", "CVE-2024-44444"]);
        let records = records(LOG, "12");
        let fixed: Vec<(&str, &str)> = records
            .iter()
            .map(|r| {
                (
                    r.aliases[0].as_str(),
                    r.affected[0].ranges[0].events[1].fixed.as_deref().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            fixed,
            vec![
                ("CVE-2024-1111", "1.2-1"),
                ("CVE-2024-22222", "1.3-1"),
                ("CVE-2024-33333", "1.3-1"),
                ("CVE-2024-44444", "1.2-1"),
            ]
        );
    }

    /// This machine's own changelogs: every one parses, and most name CVEs with their fixes.
    #[test]
    fn this_machines_changelogs() {
        use std::io::Read;
        let mut with_cves = 0;
        let mut read = 0;
        for entry in std::fs::read_dir("/usr/share/doc").expect("a Debian machine") {
            let path = entry.unwrap().path().join("changelog.Debian.gz");
            let Ok(file) = std::fs::File::open(&path) else {
                continue;
            };
            let mut text = String::new();
            if flate2::read::GzDecoder::new(file)
                .read_to_string(&mut text)
                .is_err()
            {
                continue;
            }
            read += 1;
            let uploads = parse(&text);
            assert!(!uploads.is_empty(), "{}", path.display());
            assert!(
                uploads.iter().all(|u| !u.version.is_empty()),
                "{}",
                path.display()
            );
            if !records(&text, "12").is_empty() {
                with_cves += 1;
            }
        }
        assert!(
            read > 20 && with_cves > 5,
            "{read} changelogs, {with_cves} with CVEs"
        );
    }
}
