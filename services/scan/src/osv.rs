//! Vulnerability records in the OSV schema (<https://ossf.github.io/osv-schema/>) and whether one
//! affects an installed package: the package's ecosystem and name match an `affected` entry, and
//! its version lies in one of the entry's ranges (`introduced` … `fixed` or `last_affected`, in
//! the ecosystem's own version order) or is listed in its `versions`.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::inventory::Ecosystem;
use crate::versions;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub modified: String,
    #[serde(default)]
    pub severity: Vec<Severity>,
    #[serde(default)]
    pub affected: Vec<Affected>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Severity {
    /// `CVSS_V3`, `CVSS_V4`, `Ubuntu`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Affected {
    pub package: AffectedPackage,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
    #[serde(default)]
    pub ecosystem_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AffectedPackage {
    /// `Debian:12`, `Alpine:v3.20`, `PyPI`, `npm`, `crates.io`, …
    pub ecosystem: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Range {
    /// `ECOSYSTEM`, `SEMVER` or `GIT` (commits: never matched against a version).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

/// The OSV ecosystem name of an inventory's ecosystem, for a distribution at `release`
/// (`Debian:12`, `Alpine:v3.20`).
pub fn ecosystem_name(e: Ecosystem, release: &str) -> String {
    match e {
        Ecosystem::Debian => format!("Debian:{}", release.split('.').next().unwrap_or(release)),
        Ecosystem::Ubuntu => format!("Ubuntu:{release}"),
        Ecosystem::Alpine => {
            let minor: Vec<&str> = release.split('.').take(2).collect();
            format!("Alpine:v{}", minor.join("."))
        }
        other => other.as_str().to_string(),
    }
}

/// Orders two versions of `ecosystem`; `None` when a version does not parse.
pub fn compare(ecosystem: Ecosystem, a: &str, b: &str) -> Option<Ordering> {
    match ecosystem {
        Ecosystem::Debian | Ecosystem::Ubuntu => Some(versions::dpkg(a, b)),
        Ecosystem::Npm | Ecosystem::CratesIo => {
            let (a, b) = (
                semver::Version::parse(a).ok()?,
                semver::Version::parse(b).ok()?,
            );
            Some(a.cmp(&b))
        }
        Ecosystem::Alpine => versions::apk(a, b),
        Ecosystem::PyPI => versions::pep440(a, b),
    }
}

/// What a record says about one installed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// The version that fixed it, if any.
    pub fixed: Option<String>,
}

/// Whether the record affects `name` at `version` in `ecosystem_name` (an OSV ecosystem name),
/// ordered as `ecosystem` orders versions.
pub fn affects(
    record: &Record,
    ecosystem: Ecosystem,
    ecosystem_name: &str,
    name: &str,
    version: &str,
) -> Option<Match> {
    for a in &record.affected {
        if a.package.ecosystem != ecosystem_name || a.package.name != name {
            continue;
        }
        if a.versions.iter().any(|v| v == version) {
            return Some(Match {
                fixed: first_fixed(a),
            });
        }
        for range in a.ranges.iter().filter(|r| r.kind != "GIT") {
            if let Some(m) = in_range(range, ecosystem, version) {
                return Some(m);
            }
        }
    }
    None
}

fn first_fixed(a: &Affected) -> Option<String> {
    a.ranges
        .iter()
        .flat_map(|r| r.events.iter())
        .find_map(|e| e.fixed.clone())
}

/// Walks a range's events in order: each `introduced` opens an interval that the next `fixed`
/// (exclusive) or `last_affected` (inclusive) closes; `introduced: "0"` is the beginning.
fn in_range(range: &Range, ecosystem: Ecosystem, version: &str) -> Option<Match> {
    let cmp = |a: &str, b: &str| compare(ecosystem, a, b);
    let mut open: Option<&str> = None;
    for e in &range.events {
        if let Some(start) = e.introduced.as_deref() {
            open = Some(start);
        }
        let at_or_after =
            |start: &str| start == "0" || cmp(version, start).is_some_and(|o| o != Ordering::Less);
        if let Some(fixed) = e.fixed.as_deref() {
            if let Some(start) = open.take() {
                if at_or_after(start) && cmp(version, fixed) == Some(Ordering::Less) {
                    return Some(Match {
                        fixed: Some(fixed.to_string()),
                    });
                }
            }
        }
        if let Some(last) = e.last_affected.as_deref() {
            if let Some(start) = open.take() {
                if at_or_after(start) && cmp(version, last).is_some_and(|o| o != Ordering::Greater)
                {
                    return Some(Match { fixed: None });
                }
            }
        }
    }
    // An interval never closed: every version from its start on.
    match open {
        Some(start) if start == "0" || cmp(version, start).is_some_and(|o| o != Ordering::Less) => {
            Some(Match { fixed: None })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GHSA-p6mc-m468-83gw (CVE-2020-8203), as osv.dev serves it, trimmed.
    const LODASH: &str = r#"{
      "id": "GHSA-p6mc-m468-83gw",
      "aliases": ["CVE-2020-8203"],
      "summary": "Prototype Pollution in lodash",
      "modified": "2024-02-16T08:20:57Z",
      "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H"}],
      "affected": [{
        "package": {"ecosystem": "npm", "name": "lodash"},
        "ranges": [{"type": "SEMVER", "events": [{"introduced": "3.7.0"}, {"fixed": "4.17.19"}]}]
      }]
    }"#;

    #[test]
    fn ranges_in_the_ecosystems_order() {
        let r: Record = serde_json::from_str(LODASH).unwrap();
        let hit = |v: &str| affects(&r, Ecosystem::Npm, "npm", "lodash", v);
        assert_eq!(hit("4.17.15").unwrap().fixed.as_deref(), Some("4.17.19"));
        assert_eq!(hit("3.7.0").unwrap().fixed.as_deref(), Some("4.17.19"));
        assert!(
            hit("4.17.19").is_none(),
            "the fixed version is not affected"
        );
        assert!(hit("3.6.9").is_none(), "before it was introduced");
        assert!(hit("4.17.20").is_none());
        assert!(affects(&r, Ecosystem::Npm, "npm", "lodash-es", "4.17.15").is_none());
    }

    #[test]
    fn debian_records_with_last_affected_and_open_ranges() {
        let r: Record = serde_json::from_str(
            r#"{"id": "CVE-2023-0001", "affected": [
                {"package": {"ecosystem": "Debian:12", "name": "openssl"},
                 "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u2"}]}]},
                {"package": {"ecosystem": "Debian:12", "name": "curl"},
                 "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "7.0"}, {"last_affected": "7.88.1-10"}]}]},
                {"package": {"ecosystem": "Debian:12", "name": "zlib"},
                 "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1:1.2"}]}]}
            ]}"#,
        )
        .unwrap();
        let hit = |name: &str, v: &str| affects(&r, Ecosystem::Debian, "Debian:12", name, v);
        assert!(hit("openssl", "3.0.11-1~deb12u1").is_some());
        assert!(hit("openssl", "3.0.11-1~deb12u2").is_none());
        assert!(
            hit("openssl", "3.0.11-1").is_none(),
            "~ sorts before the end"
        );
        assert!(hit("curl", "7.88.1-10").is_some());
        assert!(hit("curl", "7.88.1-10+deb12u1").is_none());
        assert!(hit("zlib", "1:1.2.13.dfsg-1").is_some());
        assert!(hit("zlib", "1.2.13").is_none(), "epoch 0 is before 1:1.2");
        assert!(affects(&r, Ecosystem::Debian, "Debian:11", "openssl", "1.0").is_none());
    }

    /// PYSEC-2018-28 / CVE-2018-18074 (requests), as osv.dev serves it, trimmed.
    #[test]
    fn python_records_in_pep440_order() {
        let r: Record = serde_json::from_str(
            r#"{"id": "PYSEC-2018-28", "aliases": ["CVE-2018-18074", "GHSA-x84v-xcm2-53pg"],
                "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}],
                "versions": ["2.19.1", "2.19.0"]}]}"#,
        )
        .unwrap();
        let hit = |v: &str| affects(&r, Ecosystem::PyPI, "PyPI", "requests", v);
        assert_eq!(hit("2.19.1").unwrap().fixed.as_deref(), Some("2.20.0"));
        assert!(hit("2.9.0").is_some(), "2.9 is before 2.20, numerically");
        assert!(
            hit("2.20.0rc1").is_some(),
            "a pre-release of the fix is before it"
        );
        assert!(hit("2.20.0").is_none());
        assert!(hit("2.31.0").is_none());
    }

    #[test]
    fn ecosystem_names() {
        assert_eq!(ecosystem_name(Ecosystem::Debian, "12"), "Debian:12");
        assert_eq!(ecosystem_name(Ecosystem::Alpine, "3.20.3"), "Alpine:v3.20");
        assert_eq!(ecosystem_name(Ecosystem::CratesIo, ""), "crates.io");
    }
}
