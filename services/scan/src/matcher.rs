//! Findings: an image's packages matched against the vulnerability records, by the records'
//! ecosystem and package name (a distribution's records name source packages, so a binary
//! package is matched by its source and source version).

use std::collections::HashMap;

use serde::Serialize;

use crate::inventory::{Ecosystem, Image};
use crate::osv::{self, Record};
use crate::severity::{self, Severity};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub id: String,
    pub aliases: Vec<String>,
    /// The installed (binary) package.
    pub package: String,
    pub ecosystem: String,
    pub installed: String,
    pub fixed: Option<String>,
    pub severity: Severity,
    pub score: Option<f64>,
    /// The layer the package came from.
    pub layer: String,
}

/// Records by (OSV ecosystem name, package name), so matching an image costs one lookup per
/// package.
pub struct Index<'a> {
    by_package: HashMap<(&'a str, &'a str), Vec<&'a Record>>,
}

impl<'a> Index<'a> {
    pub fn new(records: &'a [Record]) -> Self {
        let mut by_package: HashMap<(&str, &str), Vec<&Record>> = HashMap::new();
        for r in records {
            for a in &r.affected {
                let list = by_package
                    .entry((a.package.ecosystem.as_str(), a.package.name.as_str()))
                    .or_default();
                if !list.iter().any(|x| std::ptr::eq(*x, r)) {
                    list.push(r);
                }
            }
        }
        Self { by_package }
    }

    /// Every record affecting a package of `image`, one finding per record and package.
    pub fn findings(&self, image: &Image) -> Vec<Finding> {
        let release = image.os.as_ref().map(|o| o.version.as_str()).unwrap_or("");
        let mut out = Vec::new();
        for installed in &image.packages {
            let Some(ecosystem) = installed.ecosystem else {
                continue;
            };
            let p = &installed.package;
            let distribution = matches!(
                ecosystem,
                Ecosystem::Debian | Ecosystem::Ubuntu | Ecosystem::Alpine
            );
            let (name, version) = if distribution {
                let v = if p.source_version.is_empty() {
                    &p.version
                } else {
                    &p.source_version
                };
                (p.source.as_str(), v.as_str())
            } else {
                (p.name.as_str(), p.version.as_str())
            };
            let eco_name = osv::ecosystem_name(ecosystem, release);
            let Some(records) = self.by_package.get(&(eco_name.as_str(), name)) else {
                continue;
            };
            for r in records {
                if let Some(m) = osv::affects(r, ecosystem, &eco_name, name, version) {
                    let (severity, score) = severity::of_record(r);
                    out.push(Finding {
                        id: r.id.clone(),
                        aliases: r.aliases.clone(),
                        package: p.name.clone(),
                        ecosystem: eco_name.clone(),
                        installed: p.version.clone(),
                        fixed: m.fixed,
                        severity,
                        score,
                        layer: installed.layer.clone(),
                    });
                }
            }
        }
        out.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.id.cmp(&b.id))
                .then_with(|| a.package.cmp(&b.package))
        });
        out
    }
}

/// Findings counted by severity.
pub fn summary(findings: &[Finding]) -> HashMap<&'static str, usize> {
    let mut out: HashMap<&'static str, usize> = ["critical", "high", "medium", "low", "unknown"]
        .into_iter()
        .map(|s| (s, 0))
        .collect();
    for f in findings {
        *out.entry(f.severity.as_str()).or_default() += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Found, Layer, Package};

    /// A record naming a source package matches its binary packages by the source version
    /// (a binNMU's `+b1` binary version does not hide it); languages match by their own name.
    #[test]
    fn distribution_packages_match_by_source() {
        let record: Record = serde_json::from_str(
            r#"{"id": "DEBIAN-CVE-2024-1-openssl", "aliases": ["CVE-2024-1"], "affected": [
                {"package": {"ecosystem": "Debian:12", "name": "openssl"},
                 "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u2"}]}]}]}"#,
        )
        .unwrap();
        let package = |name: &str, version: &str, source_version: &str| Package {
            name: name.into(),
            version: version.into(),
            source: "openssl".into(),
            source_version: source_version.into(),
            arch: "amd64".into(),
            path: "var/lib/dpkg/status".into(),
        };
        let mut layer = Layer::default();
        layer.found.insert(
            "etc/os-release".into(),
            Found::Os(crate::inventory::Os {
                id: "debian".into(),
                version: "12".into(),
                ..Default::default()
            }),
        );
        layer.found.insert(
            "var/lib/dpkg/status".into(),
            Found::Packages(vec![
                package("libssl3", "3.0.11-1~deb12u1+b1", "3.0.11-1~deb12u1"),
                package("openssl", "3.0.11-1~deb12u2", ""),
            ]),
        );
        let image = Image::from_layers([("sha256:l", &layer)]);
        let records = [record];
        let found = Index::new(&records).findings(&image);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].package, "libssl3");
        assert_eq!(found[0].installed, "3.0.11-1~deb12u1+b1");
        assert_eq!(found[0].fixed.as_deref(), Some("3.0.11-1~deb12u2"));
        assert_eq!(summary(&found)["unknown"], 1);
    }
}
