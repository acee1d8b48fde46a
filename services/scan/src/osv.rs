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
    #[serde(default, deserialize_with = "nullable")]
    pub aliases: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub summary: String,
    #[serde(default, deserialize_with = "nullable")]
    pub modified: String,
    /// Set when the record was taken back: it affects nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub severity: Vec<Severity>,
    #[serde(default, deserialize_with = "nullable")]
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

/// The OSV schema allows `null` where a list or text is absent.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Affected {
    /// Absent in records about a repository only (`GIT` ranges): such an entry matches no
    /// package.
    #[serde(default)]
    pub package: AffectedPackage,
    #[serde(default, deserialize_with = "nullable")]
    pub ranges: Vec<Range>,
    #[serde(default, deserialize_with = "nullable")]
    pub versions: Vec<String>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
    #[serde(default)]
    pub ecosystem_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
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

/// The OSV ecosystem name of an inventory's ecosystem, for a distribution with os-release `ID`
/// `os` at `release` (`Debian:12`, `Alpine:v3.20`, `Rocky Linux:9`).
pub fn ecosystem_name(e: Ecosystem, os: &str, release: &str) -> String {
    let major = release.split('.').next().unwrap_or(release);
    match e {
        Ecosystem::Debian => format!("Debian:{major}"),
        // OSV names an LTS release (even years' April releases) `Ubuntu:22.04:LTS`.
        Ecosystem::Ubuntu => {
            let lts = release
                .split_once('.')
                .is_some_and(|(y, m)| m == "04" && y.parse::<u32>().is_ok_and(|y| y % 2 == 0));
            if lts {
                format!("Ubuntu:{release}:LTS")
            } else {
                format!("Ubuntu:{release}")
            }
        }
        Ecosystem::Alpine => {
            let minor: Vec<&str> = release.split('.').take(2).collect();
            format!("Alpine:v{}", minor.join("."))
        }
        // The rpm distributions OSV keys by release. Red Hat's own records name repository
        // streams (`Red Hat:enterprise_linux:9::appstream`) an image does not tell, and
        // Fedora, CentOS, Amazon and Oracle Linux publish none: their packages match nothing.
        Ecosystem::Rpm => match os {
            "rocky" => format!("Rocky Linux:{major}"),
            "almalinux" => format!("AlmaLinux:{major}"),
            "opensuse-leap" => format!("openSUSE:Leap {release}"),
            "opensuse-tumbleweed" => "openSUSE:Tumbleweed".to_string(),
            "mageia" => format!("Mageia:{release}"),
            other => format!("rpm:{other}:{release}"),
        },
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
            // Build metadata takes no part in precedence.
            Some(a.cmp_precedence(&b))
        }
        // Go modules and the standard library: semver with a `v` (OSV writes it without).
        Ecosystem::Go => {
            let parse = |v: &str| semver::Version::parse(v.strip_prefix('v').unwrap_or(v)).ok();
            Some(parse(a)?.cmp_precedence(&parse(b)?))
        }
        Ecosystem::Maven => Some(crate::maven::compare(a, b)),
        Ecosystem::Alpine => versions::apk(a, b),
        Ecosystem::Rpm => Some(versions::rpm(a, b)),
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
    if record.withdrawn.is_some() {
        return None;
    }
    for a in &record.affected {
        if a.package.ecosystem != ecosystem_name || a.package.name != name {
            continue;
        }
        if a.versions.iter().any(|v| v == version) {
            return Some(Match {
                fixed: first_fixed(a, ecosystem, version),
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

/// The smallest `fixed` of the entry's version ranges above `version`: the release to upgrade
/// to (a `GIT` range's commit is no version).
fn first_fixed(a: &Affected, ecosystem: Ecosystem, version: &str) -> Option<String> {
    a.ranges
        .iter()
        .filter(|r| r.kind != "GIT")
        .flat_map(|r| r.events.iter())
        .filter_map(|e| e.fixed.as_deref())
        .filter(|f| compare(ecosystem, version, f) == Some(Ordering::Less))
        .min_by(|x, y| compare(ecosystem, x, y).unwrap_or(Ordering::Equal))
        .map(str::to_string)
}

/// The OSV specification's evaluation of one range: its events sorted by version (`0`
/// first), walked in order — an `introduced` at or below the version makes it affected, a
/// `fixed` at or below it, or a `last_affected` below it, unaffected again; and with `limit`
/// events, only versions below a limit are affected.
fn in_range(range: &Range, ecosystem: Ecosystem, version: &str) -> Option<Match> {
    let cmp = |a: &str, b: &str| compare(ecosystem, a, b);
    fn at(e: &Event) -> Option<&str> {
        e.introduced
            .as_deref()
            .or(e.fixed.as_deref())
            .or(e.last_affected.as_deref())
            .or(e.limit.as_deref())
    }
    let mut events: Vec<&Event> = range.events.iter().filter(|e| at(e).is_some()).collect();
    // An event whose version does not parse in this ecosystem cannot be placed: no answer.
    // (`0` is below every version; `*`, above every one, is a limit's alone.)
    if events.iter().any(|e| match at(e) {
        Some("0") | None => false,
        Some("*") => e.limit.is_none(),
        Some(v) => cmp(v, v).is_none(),
    }) {
        return None;
    }
    events.sort_by(|x, y| match (at(x), at(y)) {
        (Some(a), Some(b)) if a == b => Ordering::Equal,
        (Some("0"), _) | (_, Some("*")) => Ordering::Less,
        (_, Some("0")) | (Some("*"), _) => Ordering::Greater,
        (Some(a), Some(b)) => cmp(a, b).unwrap_or(Ordering::Equal),
        _ => Ordering::Equal,
    });
    let limits: Vec<&str> = events.iter().filter_map(|e| e.limit.as_deref()).collect();
    if !limits.is_empty()
        && !limits
            .iter()
            .any(|l| *l == "*" || cmp(version, l) == Some(Ordering::Less))
    {
        return None;
    }
    let mut affected = false;
    let mut fixed = None;
    for e in events {
        if let Some(start) = e.introduced.as_deref() {
            if start == "0" || cmp(version, start).is_some_and(|o| o != Ordering::Less) {
                affected = true;
                fixed = None;
            }
        } else if let Some(f) = e.fixed.as_deref() {
            if cmp(version, f).is_some_and(|o| o != Ordering::Less) {
                affected = false;
            } else if affected && fixed.is_none() {
                fixed = Some(f.to_string());
            }
        } else if let Some(last) = e.last_affected.as_deref() {
            if cmp(version, last) == Some(Ordering::Greater) {
                affected = false;
            }
        }
    }
    affected.then_some(Match { fixed })
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

    fn range(events: &str) -> Record {
        serde_json::from_str(&format!(
            r#"{{"id": "X", "affected": [{{"package": {{"ecosystem": "npm", "name": "p"}},
                "ranges": [{{"type": "SEMVER", "events": {events}}}]}}]}}"#
        ))
        .unwrap()
    }

    /// The cases the OSV specification's own evaluation decides, which a walk in the order
    /// given gets wrong.
    #[test]
    fn events_are_evaluated_as_the_specification_says() {
        let hit = |events: &str, v: &str| {
            affects(&range(events), Ecosystem::Npm, "npm", "p", v).map(|m| m.fixed)
        };
        let r = r#"[{"introduced": "1.0.0"}, {"introduced": "2.0.0"}, {"fixed": "3.0.0"}]"#;
        assert_eq!(hit(r, "1.5.0"), Some(Some("3.0.0".into())));
        let r = r#"[{"introduced": "2.0.0"}, {"introduced": "1.0.0"}, {"fixed": "1.5.0"}, {"fixed": "2.5.0"}]"#;
        assert_eq!(hit(r, "2.2.0"), Some(Some("2.5.0".into())));
        assert_eq!(hit(r, "1.7.0"), None);
        let r = r#"[{"fixed": "1.5.0"}, {"introduced": "0"}]"#;
        assert_eq!(hit(r, "2.0.0"), None);
        assert_eq!(hit(r, "1.0.0"), Some(Some("1.5.0".into())));
        let r = r#"[{"introduced": "0"}, {"limit": "2.0.0"}]"#;
        assert_eq!(hit(r, "3.0.0"), None);
        assert_eq!(hit(r, "1.0.0"), Some(None));
        // Build metadata takes no part in the order.
        let r = r#"[{"introduced": "0"}, {"last_affected": "1.2.3"}]"#;
        assert_eq!(hit(r, "1.2.3+build.5"), Some(None));
        // `*` is a limit's alone (above every version); an introduced `*` names nothing, and
        // mixing them with versions never breaks the sort (a panic before).
        let r = r#"[{"introduced": "0"}, {"limit": "*"}, {"fixed": "2.0.0"}]"#;
        assert_eq!(hit(r, "1.0.0"), Some(Some("2.0.0".into())));
        let mut events = vec![r#"{"introduced": "*"}"#.to_string()];
        for i in 0..40 {
            events.push(format!(r#"{{"fixed": "2.{i}.{}"}}"#, i % 7));
            events.push(format!(r#"{{"introduced": "1.{i}.0"}}"#));
            events.push(r#"{"introduced": "0"}"#.to_string());
        }
        assert_eq!(hit(&format!("[{}]", events.join(",")), "1.5.0"), None);
        events.remove(0);
        events.push(r#"{"limit": "*"}"#.to_string());
        assert!(hit(&format!("[{}]", events.join(",")), "1.5.0").is_some());
    }

    #[test]
    fn withdrawn_and_null_fields() {
        let r: Record = serde_json::from_str(
            r#"{"id": "GHSA-w", "withdrawn": "2024-01-01T00:00:00Z", "aliases": null, "severity": null,
                "affected": [{"package": {"ecosystem": "npm", "name": "p"}, "versions": ["1.0.0"]},
                             {"ranges": [{"type": "GIT", "repo": "https://example.invalid/r", "events": [{"introduced": "0"}]}]}]}"#,
        )
        .unwrap();
        assert!(affects(&r, Ecosystem::Npm, "npm", "p", "1.0.0").is_none());
    }

    #[test]
    fn a_version_listed_reports_the_release_that_fixed_it_not_a_commit() {
        let r: Record = serde_json::from_str(
            r#"{"id": "PYSEC-2018-28", "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
                "ranges": [{"type": "GIT", "repo": "https://github.com/psf/requests", "events": [{"introduced": "0"}, {"fixed": "c45d7c49ea75133e52ab22a8e9e13173938e36ff"}]},
                           {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}],
                "versions": ["2.19.1"]}]}"#,
        )
        .unwrap();
        let m = affects(&r, Ecosystem::PyPI, "PyPI", "requests", "2.19.1").unwrap();
        assert_eq!(m.fixed.as_deref(), Some("2.20.0"));
    }

    #[test]
    fn ecosystem_names() {
        assert_eq!(
            ecosystem_name(Ecosystem::Ubuntu, "ubuntu", "22.04"),
            "Ubuntu:22.04:LTS"
        );
        assert_eq!(
            ecosystem_name(Ecosystem::Ubuntu, "ubuntu", "23.10"),
            "Ubuntu:23.10"
        );
        assert_eq!(
            ecosystem_name(Ecosystem::Debian, "debian", "12"),
            "Debian:12"
        );
        assert_eq!(
            ecosystem_name(Ecosystem::Alpine, "alpine", "3.20.3"),
            "Alpine:v3.20"
        );
        assert_eq!(ecosystem_name(Ecosystem::CratesIo, "", ""), "crates.io");
        assert_eq!(
            ecosystem_name(Ecosystem::Rpm, "rocky", "9.3"),
            "Rocky Linux:9"
        );
        assert_eq!(
            ecosystem_name(Ecosystem::Rpm, "almalinux", "8.10"),
            "AlmaLinux:8"
        );
        assert_eq!(
            ecosystem_name(Ecosystem::Rpm, "opensuse-leap", "15.5"),
            "openSUSE:Leap 15.5"
        );
        assert_eq!(
            ecosystem_name(Ecosystem::Rpm, "rhel", "9.4"),
            "rpm:rhel:9.4"
        );
    }

    /// GO-2023-1878 (net/http: insufficient sanitization of Host header), as the Go
    /// vulnerability database publishes it for the standard library: OSV writes Go versions
    /// without the `v` a binary's build information has.
    #[test]
    fn go_standard_library_versions() {
        let r: Record = serde_json::from_str(
            r#"{"id": "GO-2023-1878", "aliases": ["CVE-2023-29406"],
                "affected": [{"package": {"ecosystem": "Go", "name": "stdlib"},
                  "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"},
                    {"fixed": "1.19.11"}, {"introduced": "1.20.0-0"}, {"fixed": "1.20.6"}]}]}]}"#,
        )
        .unwrap();
        let hit = |v: &str| affects(&r, Ecosystem::Go, "Go", "stdlib", v).map(|m| m.fixed);
        assert_eq!(hit("v1.19.8"), Some(Some("1.19.11".into())));
        assert_eq!(hit("v1.20.5"), Some(Some("1.20.6".into())));
        assert_eq!(hit("v1.20.6"), None);
        assert_eq!(hit("v1.21.0"), None);
    }

    /// GHSA-jfh8-c2jp-5v3q (Log4Shell, CVE-2021-44228) as OSV publishes it for Maven:
    /// introduced in 2.0-beta9, fixed in 2.15.0 (and again in the 2.12 line).
    #[test]
    fn maven_versions() {
        let r: Record = serde_json::from_str(
            r#"{"id": "GHSA-jfh8-c2jp-5v3q", "aliases": ["CVE-2021-44228"],
                "affected": [{"package": {"ecosystem": "Maven",
                    "name": "org.apache.logging.log4j:log4j-core"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.13.0"},
                    {"fixed": "2.15.0"}]},
                    {"type": "ECOSYSTEM", "events": [{"introduced": "2.0-beta9"},
                    {"fixed": "2.12.2"}]}]}]}"#,
        )
        .unwrap();
        let name = "org.apache.logging.log4j:log4j-core";
        let hit = |v: &str| affects(&r, Ecosystem::Maven, "Maven", name, v).map(|m| m.fixed);
        assert_eq!(hit("2.14.1"), Some(Some("2.15.0".into())));
        assert_eq!(hit("2.0-rc1"), Some(Some("2.12.2".into())));
        assert_eq!(hit("2.0-beta8"), None);
        assert_eq!(hit("2.12.2"), None);
        assert_eq!(hit("2.15.0"), None);
        assert_eq!(hit("2.17.1"), None);
    }
}
