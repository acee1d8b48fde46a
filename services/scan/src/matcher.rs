//! Findings: an image's packages matched against the vulnerability records, by the records'
//! ecosystem and package name (a distribution's records name source packages, so a binary
//! package is matched by its source and source version).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::inventory::{Ecosystem, Image};
use crate::osv::{self, Record};
use crate::severity::{self, Severity};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
/// package. Owns its records: the service keeps one index per database version and matches
/// every scan and re-match against it.
pub struct Index {
    records: Vec<Record>,
    /// By OSV ecosystem name, then normalized package name: looked up with borrowed names.
    by_package: HashMap<String, HashMap<String, Vec<usize>>>,
}

/// A package name as its ecosystem compares names: PEP 503's for PyPI (`Jinja2`,
/// `typing_extensions` and `typing.extensions` are `jinja2` and `typing-extensions`).
fn normalized<'n>(ecosystem: &str, name: &'n str) -> std::borrow::Cow<'n, str> {
    if ecosystem != "PyPI" {
        return std::borrow::Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    std::borrow::Cow::Owned(out)
}

impl Index {
    pub fn new(records: Vec<Record>) -> Self {
        let mut by_package: HashMap<String, HashMap<String, Vec<usize>>> = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            for a in &r.affected {
                let e = a.package.ecosystem.as_str();
                let list = by_package
                    .entry(e.to_string())
                    .or_default()
                    .entry(normalized(e, &a.package.name).into_owned())
                    .or_default();
                if !list.contains(&i) {
                    list.push(i);
                }
            }
        }
        Self {
            records,
            by_package,
        }
    }

    /// How many records the index holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Every record affecting a package of `image`, one finding per record and package.
    pub fn findings(&self, image: &Image) -> Vec<Finding> {
        let release = image.os.as_ref().map(|o| o.version.as_str()).unwrap_or("");
        let os = image.os.as_ref().map(|o| o.id.as_str()).unwrap_or("");
        let mut out = Vec::new();
        let mut names: Vec<(Ecosystem, std::rc::Rc<String>)> = Vec::new();
        for installed in &image.packages {
            let Some(ecosystem) = installed.ecosystem else {
                continue;
            };
            let p = &installed.package;
            // Distributions whose records name source packages (Mageia's name its SRPMs; the
            // other rpm distributions' records name binary packages).
            let distribution = matches!(
                ecosystem,
                Ecosystem::Debian | Ecosystem::Ubuntu | Ecosystem::Alpine
            ) || (ecosystem == Ecosystem::Rpm && os == "mageia");
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
            // One name per ecosystem of the image, not one per package.
            let eco_name = match names.iter().find(|(e, _)| *e == ecosystem) {
                Some((_, n)) => n.clone(),
                None => {
                    let n = std::rc::Rc::new(osv::ecosystem_name(ecosystem, os, release));
                    names.push((ecosystem, n.clone()));
                    n
                }
            };
            let key = normalized(&eco_name, name);
            let Some(records) = self
                .by_package
                .get(eco_name.as_str())
                .and_then(|m| m.get(key.as_ref()))
            else {
                continue;
            };
            for r in records.iter().map(|&i| &self.records[i]) {
                // The record's own spelling of the name, which `affects` compares.
                let spelled = r
                    .affected
                    .iter()
                    .map(|a| a.package.name.as_str())
                    .find(|n| normalized(&eco_name, n) == key)
                    .unwrap_or(name);
                if let Some(m) = osv::affects(r, ecosystem, &eco_name, spelled, version) {
                    let (severity, score) = severity::of_record(r);
                    out.push(Finding {
                        id: r.id.clone(),
                        aliases: r.aliases.clone(),
                        package: p.name.clone(),
                        ecosystem: eco_name.to_string(),
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
        let found = Index::new(records.to_vec()).findings(&image);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].package, "libssl3");
        assert_eq!(found[0].installed, "3.0.11-1~deb12u1+b1");
        assert_eq!(found[0].fixed.as_deref(), Some("3.0.11-1~deb12u2"));
        assert_eq!(summary(&found)["unknown"], 1);
    }

    #[test]
    fn python_names_compare_as_pep_503_says() {
        assert_eq!(normalized("PyPI", "Jinja2"), "jinja2");
        assert_eq!(normalized("PyPI", "typing_extensions"), "typing-extensions");
        assert_eq!(normalized("PyPI", "zope..interface"), "zope-interface");
        assert_eq!(normalized("npm", "Left_Pad"), "Left_Pad");
        let record: Record = serde_json::from_str(
            r#"{"id": "PYSEC-2019-217", "affected": [{"package": {"ecosystem": "PyPI", "name": "jinja2"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.10.1"}]}]}]}"#,
        )
        .unwrap();
        let mut layer = Layer::default();
        let path = "usr/lib/python3/dist-packages/Jinja2-2.10.dist-info/METADATA";
        layer.found.insert(
            path.into(),
            Found::Language(
                Ecosystem::PyPI,
                crate::inventory::lang::parse(
                    Ecosystem::PyPI,
                    path,
                    "Name: Jinja2\nVersion: 2.10\n",
                ),
            ),
        );
        let image = Image::from_layers([("sha256:l", &layer)]);
        let records = [record];
        let found = Index::new(records.to_vec()).findings(&image);
        assert_eq!(found.len(), 1, "Jinja2 is jinja2");
        assert_eq!(found[0].fixed.as_deref(), Some("2.10.1"));
    }
}
