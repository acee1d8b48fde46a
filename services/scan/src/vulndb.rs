//! The vulnerability database: OSV records imported from an OSV export (`all.zip` per
//! ecosystem, as osv.dev serves it), OSV JSON (one record or an array) or built from Debian
//! changelogs; a record imported again replaces the one of the same id only when it is newer
//! (`modified`). Versioned: every import that changes something bumps the version, so stored
//! reports know whether they were matched against the current database.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use crate::osv::Record;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("body: not OSV JSON: {0}")]
    Json(String),
    #[error("body: not a zip archive: {0}")]
    Zip(String),
    #[error("body: {0} in the archive is not an OSV record: {1}")]
    Entry(String, String),
    #[error("body: {0}")]
    Deb(String),
}

/// What `GET /api/v1/vulndb` reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Status {
    pub records: usize,
    /// Records per ecosystem (without a release: `Debian`, not `Debian:12`).
    pub ecosystems: BTreeMap<String, usize>,
    pub updated_at: Option<String>,
    pub version: u64,
}

#[derive(Debug, Default)]
pub struct VulnDb {
    records: HashMap<String, Record>,
    version: u64,
    updated_at: Option<String>,
}

/// Records in OSV JSON: one object or an array of them.
pub fn parse_json(bytes: &[u8]) -> Result<Vec<Record>, ImportError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ImportError::Json(e.to_string()))?;
    match value {
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|v| serde_json::from_value(v).map_err(|e| ImportError::Json(e.to_string())))
            .collect(),
        one => Ok(vec![
            serde_json::from_value(one).map_err(|e| ImportError::Json(e.to_string()))?
        ]),
    }
}

/// The largest record an export's entry may hold (OSV records are kilobytes).
const ENTRY_LIMIT: u64 = 16 << 20;

/// Records in an OSV export: a zip of one JSON record per entry.
pub fn parse_zip(bytes: &[u8]) -> Result<Vec<Record>, ImportError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| ImportError::Zip(e.to_string()))?;
    let mut out = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| ImportError::Zip(e.to_string()))?;
        if !entry.is_file() || !entry.name().ends_with(".json") {
            continue;
        }
        let name = entry.name().to_string();
        // The size an entry declares is not trusted: it is read up to the limit, no further.
        let mut text = Vec::new();
        (&mut entry)
            .take(ENTRY_LIMIT + 1)
            .read_to_end(&mut text)
            .map_err(|e| ImportError::Zip(e.to_string()))?;
        if text.len() as u64 > ENTRY_LIMIT {
            return Err(ImportError::Entry(
                name,
                format!(
                    "is larger than the {} MiB a record may be",
                    ENTRY_LIMIT >> 20
                ),
            ));
        }
        out.push(
            serde_json::from_slice(&text).map_err(|e| ImportError::Entry(name, e.to_string()))?,
        );
    }
    Ok(out)
}

/// A record as the database keeps it: an id of `[A-Za-z0-9._:-]` (at most 128), and a
/// `modified` that is an RFC 3339 time when given (a record without one is the oldest).
pub fn check_record(r: &Record) -> Result<(), String> {
    let id_ok = !r.id.is_empty()
        && r.id.len() <= 128
        && r.id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if !id_ok {
        return Err(format!(
            "record id {:?} is not an OSV id (letters, digits, `.`, `_`, `:`, `-`; at most 128)",
            r.id
        ));
    }
    if !r.modified.is_empty() && chrono::DateTime::parse_from_rfc3339(&r.modified).is_err() {
        return Err(format!(
            "record {}: modified {:?} is not an RFC 3339 time",
            r.id, r.modified
        ));
    }
    Ok(())
}

/// When a record was modified (none: the oldest).
fn modified(r: &Record) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(&r.modified).ok()
}

/// Whether `new` replaces `old` (the same id): it was modified later, or at the same time and
/// says something else.
pub fn replaces(old: &Record, new: &Record) -> bool {
    let (o, n) = (modified(old), modified(new));
    n > o || (n == o && new != old)
}

/// The ecosystems a record names, without releases (`Debian`, not `Debian:12`), sorted.
pub fn ecosystems_of(r: &Record) -> Vec<String> {
    let mut seen: Vec<String> = r
        .affected
        .iter()
        .map(|a| {
            a.package
                .ecosystem
                .split(':')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    seen.sort();
    seen.dedup();
    seen
}

/// Records from a Debian package (`.deb`): the CVEs its `changelog.Debian.gz` says each upload
/// fixed, for `release` (`12`), or the release the changelog's versions and distributions name.
pub fn parse_deb(bytes: &[u8], release: Option<&str>) -> Result<Vec<Record>, ImportError> {
    let changelog = crate::deb::changelog(bytes).map_err(ImportError::Deb)?;
    let release = match release.filter(|r| !r.is_empty()) {
        Some(r) => r.to_string(),
        None => crate::debian::release_of(&changelog).ok_or_else(|| {
            ImportError::Deb(
                "the changelog names no Debian release (no ~debNN version, no known \
                 distribution): give the release (?release=12)"
                    .into(),
            )
        })?,
    };
    Ok(crate::debian::records(&changelog, &release))
}

impl VulnDb {
    /// Adds `records`: new ids, and newer versions of known ones. Answers how many changed
    /// the database; `now` (RFC 3339) is recorded as the last update when any did.
    pub fn import(&mut self, records: Vec<Record>, now: &str) -> usize {
        let mut changed = 0;
        for r in records {
            if self.records.get(&r.id).is_none_or(|old| replaces(old, &r)) {
                self.records.insert(r.id.clone(), r);
                changed += 1;
            }
        }
        if changed > 0 {
            self.version += 1;
            self.updated_at = Some(now.to_string());
        }
        changed
    }

    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.values()
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn status(&self) -> Status {
        let mut ecosystems = BTreeMap::new();
        for r in self.records.values() {
            for e in ecosystems_of(r) {
                *ecosystems.entry(e).or_default() += 1;
            }
        }
        Status {
            records: self.records.len(),
            ecosystems,
            updated_at: self.updated_at.clone(),
            version: self.version,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn record(id: &str, ecosystem: &str, modified: &str) -> String {
        format!(
            r#"{{"id": "{id}", "modified": "{modified}", "affected": [{{"package": {{"ecosystem": "{ecosystem}", "name": "x"}},
                "ranges": [{{"type": "ECOSYSTEM", "events": [{{"introduced": "0"}}, {{"fixed": "2.0"}}]}}]}}]}}"#
        )
    }

    fn zip_of(entries: &[(&str, String)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, text) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(text.as_bytes()).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn imports_exports_json_and_keeps_the_newest_of_each_record() {
        let mut db = VulnDb::default();
        let export = zip_of(&[
            (
                "GHSA-1.json",
                record("GHSA-1", "npm", "2024-01-01T00:00:00Z"),
            ),
            (
                "PYSEC-1.json",
                record("PYSEC-1", "PyPI", "2024-01-01T00:00:00Z"),
            ),
            ("README.txt", "not a record".into()),
        ]);
        let records = parse_zip(&export).unwrap();
        assert_eq!(db.import(records, "2026-12-04T19:00:00Z"), 2);
        assert_eq!(db.version(), 1);
        // The same export again changes nothing; a newer GHSA-1 replaces the old one.
        assert_eq!(db.import(parse_zip(&export).unwrap(), "t2"), 0);
        assert_eq!(db.version(), 1);
        let newer = record("GHSA-1", "npm", "2025-01-01T00:00:00Z");
        let debian = record("DEBIAN-CVE-1-x", "Debian:12", "");
        let batch = parse_json(format!("[{newer}, {debian}]").as_bytes()).unwrap();
        assert_eq!(db.import(batch, "2026-12-04T20:00:00Z"), 2);
        let older = record("GHSA-1", "npm", "2023-01-01T00:00:00Z");
        assert_eq!(db.import(parse_json(older.as_bytes()).unwrap(), "t3"), 0);
        let status = db.status();
        assert_eq!(status.records, 3);
        assert_eq!(
            status.ecosystems,
            [
                ("Debian".to_string(), 1),
                ("PyPI".into(), 1),
                ("npm".into(), 1)
            ]
            .into_iter()
            .collect()
        );
        assert_eq!(status.version, 2);
        assert_eq!(status.updated_at.as_deref(), Some("2026-12-04T20:00:00Z"));
    }

    #[test]
    fn bad_imports_say_what_is_wrong() {
        assert!(matches!(
            parse_json(b"{not json"),
            Err(ImportError::Json(_))
        ));
        assert!(matches!(
            parse_json(b"{\"no_id\": 1}"),
            Err(ImportError::Json(_))
        ));
        assert!(matches!(
            parse_zip(b"PK not really"),
            Err(ImportError::Zip(_))
        ));
        let bad = zip_of(&[("a.json", "{\"id\": 5}".into())]);
        assert!(matches!(parse_zip(&bad), Err(ImportError::Entry(name, _)) if name == "a.json"));
    }

    /// A zip entry declaring 2^40 bytes (zip64) of a 46-byte record: the declared size is
    /// not trusted (it once sized an allocation that aborted the process).
    #[test]
    fn an_entry_declaring_a_terabyte_is_read_as_what_it_holds() {
        const ZIP: &[u8] = &[
            0x50, 0x4b, 0x03, 0x04, 0x2d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x97, 0x6f, 0x68, 0xb1, 0x2e, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x08, 0x00,
            0x0c, 0x00, 0x41, 0x2d, 0x31, 0x2e, 0x6a, 0x73, 0x6f, 0x6e, 0x01, 0x00, 0x08, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a,
            0x22, 0x41, 0x2d, 0x31, 0x22, 0x2c, 0x22, 0x6d, 0x6f, 0x64, 0x69, 0x66, 0x69, 0x65,
            0x64, 0x22, 0x3a, 0x22, 0x32, 0x30, 0x32, 0x34, 0x2d, 0x30, 0x31, 0x2d, 0x30, 0x31,
            0x54, 0x30, 0x30, 0x3a, 0x30, 0x30, 0x3a, 0x30, 0x30, 0x5a, 0x22, 0x7d, 0x50, 0x4b,
            0x01, 0x02, 0x2d, 0x00, 0x2d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x97, 0x6f, 0x68, 0xb1, 0x2e, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x08, 0x00,
            0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x41, 0x2d, 0x31, 0x2e, 0x6a, 0x73, 0x6f, 0x6e, 0x01, 0x00, 0x08, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x50, 0x4b, 0x05, 0x06, 0x00, 0x00,
            0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x42, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00,
            0x00, 0x00,
        ];
        match parse_zip(ZIP) {
            Ok(records) => assert_eq!(records.len(), 1),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn ids_and_modified_times_are_checked_and_compared_as_times() {
        let rec = |id: &str, modified: &str| -> Record {
            serde_json::from_value(serde_json::json!({"id": id, "modified": modified})).unwrap()
        };
        assert!(check_record(&rec("GHSA-abcd-1234", "2024-01-01T00:00:00Z")).is_ok());
        assert!(
            check_record(&rec("X", "")).is_ok(),
            "no modified: the oldest"
        );
        assert!(check_record(&rec("../../etc", "2024-01-01T00:00:00Z")).is_err());
        assert!(check_record(&rec("", "2024-01-01T00:00:00Z")).is_err());
        let garbage = check_record(&rec("X", "zzz")).unwrap_err();
        assert!(garbage.contains("modified"), "{garbage}");
        // Compared as instants, whatever offset spells them.
        let utc = rec("X", "2024-01-01T12:00:00Z");
        assert!(!replaces(&utc, &rec("X", "2024-01-01T12:30:00+01:00")));
        assert!(replaces(&utc, &rec("X", "2024-01-01T12:00:01+00:00")));
        assert!(replaces(&rec("X", ""), &utc));
    }
}
