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
    use std::io::Read;

    use super::*;
    use crate::inventory::os_release;

    fn changelog(package: &str) -> String {
        let path = format!("/usr/share/doc/{package}/changelog.Debian.gz");
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&path).expect(&path))
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    /// This machine's dpkg status with `binary`'s stanza put back to `version` (binary and
    /// source), as an image of one layer.
    fn image_with(status: &str, binary: &str, version: Option<&str>) -> Image {
        let status: String = status
            .split("\n\n")
            .map(|stanza| {
                let Some(version) = version else {
                    return stanza.to_string();
                };
                if !stanza.lines().any(|l| l == format!("Package: {binary}")) {
                    return stanza.to_string();
                }
                stanza
                    .lines()
                    .map(|l| {
                        if l.starts_with("Version:") {
                            format!("Version: {version}")
                        } else if let Some(source) = l.strip_prefix("Source: ") {
                            let name = source.split(' ').next().unwrap();
                            format!("Source: {name} ({version})")
                        } else {
                            l.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect::<Vec<_>>()
            .join("\n\n");
        let layer = crate::inventory::machine_layer(&status);
        Image::from_layers([("sha256:layer", &layer)])
    }

    /// Real data: the CVEs this machine's openssl changelog says were fixed after an older
    /// version are found in an image holding that version, with the version that fixed each;
    /// the version installed here has none of them.
    #[test]
    fn an_older_openssl_has_the_cves_its_changelog_fixed_since() {
        let status = std::fs::read_to_string("/var/lib/dpkg/status").unwrap();
        let os = os_release::parse(&std::fs::read_to_string("/etc/os-release").unwrap());
        let text = changelog("libssl3");
        let uploads = crate::debian::parse(&text);
        let records = crate::debian::records(&text, &os.version);
        let index = Index::new(&records);

        let current = image_with(&status, "libssl3", None);
        let installed = current
            .packages
            .iter()
            .find(|i| i.package.name == "libssl3")
            .expect("libssl3 is installed here");
        assert_eq!(installed.package.source, "openssl");
        let current_findings: Vec<Finding> = index
            .findings(&current)
            .into_iter()
            .filter(|f| f.package == "libssl3")
            .collect();
        assert!(current_findings.is_empty(), "{current_findings:?}");

        // Put libssl3 back to an upload with fixes after it.
        let (at, older) = uploads
            .iter()
            .enumerate()
            .skip(1)
            .find(|(i, _)| uploads[..*i].iter().any(|u| !u.cves.is_empty()))
            .expect("openssl's changelog names CVEs");
        let image = image_with(&status, "libssl3", Some(&older.version));
        let found: Vec<Finding> = index
            .findings(&image)
            .into_iter()
            .filter(|f| f.package == "libssl3")
            .collect();
        // Exactly the CVEs of the uploads after it that no upload up to it already fixed.
        let mut expected: Vec<&str> = uploads[..at]
            .iter()
            .flat_map(|u| u.cves.iter().map(String::as_str))
            .filter(|cve| {
                !uploads[at..]
                    .iter()
                    .any(|u| u.cves.iter().any(|c| c == cve))
            })
            .collect();
        expected.sort();
        expected.dedup();
        let mut got: Vec<&str> = found.iter().map(|f| f.aliases[0].as_str()).collect();
        got.sort();
        assert_eq!(got, expected);
        for f in &found {
            let fixed = f.fixed.as_deref().unwrap();
            assert_eq!(
                crate::versions::dpkg(&older.version, fixed),
                std::cmp::Ordering::Less
            );
            assert_eq!(f.installed, older.version);
            assert_eq!(f.ecosystem, format!("Debian:{}", os.version));
        }
        assert!(
            summary(&found)["unknown"] == found.len(),
            "changelogs carry no severity"
        );
    }
}
