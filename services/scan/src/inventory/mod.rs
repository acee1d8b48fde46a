//! What an image holds: its operating system and the packages its package databases list, read
//! from its layers one streamed pass each ([`layer::read`]), kept per layer digest (a base layer
//! shared by a thousand images is read once), and applied in order ([`Image::from_layers`]):
//! a whiteout (`.wh.NAME`) deletes what lower layers hold at `NAME`, an opaque directory
//! (`.wh..wh..opq`) everything below it, and a file an upper layer writes replaces the lower one.

pub mod apk;
pub mod dpkg;
pub mod gobin;
pub mod java;
pub mod lang;
pub mod layer;
pub mod os_release;
pub mod rpm;
pub mod rustbin;
pub mod sqlite;

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use serde::{Deserialize, Serialize};

/// The package ecosystems an inventory names (OSV's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Ecosystem {
    Debian,
    Ubuntu,
    Alpine,
    PyPI,
    Npm,
    CratesIo,
    Go,
    Maven,
    /// An rpm distribution's packages; which one (and so which OSV ecosystem, `Rocky Linux:9`)
    /// its os-release says.
    Rpm,
}

impl Ecosystem {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debian => "Debian",
            Self::Ubuntu => "Ubuntu",
            Self::Alpine => "Alpine",
            Self::PyPI => "PyPI",
            Self::Npm => "npm",
            Self::CratesIo => "crates.io",
            Self::Go => "Go",
            Self::Maven => "Maven",
            Self::Rpm => "rpm",
        }
    }
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// The source package it was built from (dpkg `Source:`, apk origin); its own name when the
    /// database names none. Vulnerability records of distributions are per source package.
    pub source: String,
    /// The source version when it differs from `version` (dpkg `Source: name (version)`).
    pub source_version: String,
    pub arch: String,
    /// The file of the package database that lists it (`var/lib/dpkg/status`).
    pub path: String,
}

impl Package {
    /// A language package (its own source, no architecture) listed by the file at `path`.
    pub fn language(name: &str, version: &str, path: &str) -> Self {
        Self {
            name: name.to_string(),
            version: version.to_string(),
            source: name.to_string(),
            source_version: String::new(),
            arch: String::new(),
            path: path.to_string(),
        }
    }
}

/// The operating system an image's `os-release` names.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Os {
    /// `ID`: `debian`, `ubuntu`, `alpine`, …
    pub id: String,
    /// `VERSION_ID`: `12`, `3.20.1`, …
    pub version: String,
    pub codename: String,
    pub pretty_name: String,
}

/// What one file found in a layer says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Found {
    Os(Os),
    /// A package database (or one file of a distroless `status.d/`) and what it lists.
    Packages(Vec<Package>),
    /// A language's lockfile or installed-package manifest and what it lists.
    Language(Ecosystem, Vec<Package>),
}

/// What one layer holds and hides, by path (no leading `/`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Layer {
    pub found: BTreeMap<String, Found>,
    /// Paths this layer deletes from the layers below it.
    pub whiteouts: Vec<String>,
    /// Directories whose lower contents this layer hides.
    pub opaque: Vec<String>,
    /// Package databases seen in a format Berth does not read (`var/lib/rpm/Packages`, a
    /// BerkeleyDB rpmdb), by path: an image with one is reported as partly unsupported.
    pub unsupported: Vec<String>,
}

/// A package with the layer it came from: the lowest layer that holds this version of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Installed {
    pub package: Package,
    pub ecosystem: Option<Ecosystem>,
    pub layer: String,
}

/// What an image (one platform of it) holds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Image {
    pub os: Option<Os>,
    pub packages: Vec<Installed>,
    pub unsupported: Vec<String>,
}

/// Removes from `map` what `layer`'s whiteouts delete (the path and all below it) and its opaque
/// directories hide (all below them): a range of the ordered map each, so a layer of many
/// whiteouts over an image of many files costs their sum, not their product.
fn hide<V>(map: &mut BTreeMap<&str, V>, layer: &Layer) {
    let remove_below = |map: &mut BTreeMap<&str, V>, dir: &str| {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let below: Vec<&str> = map
            .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| *k)
            .collect();
        for k in below {
            map.remove(k);
        }
    };
    for w in &layer.whiteouts {
        map.remove(w.as_str());
        remove_below(map, w);
    }
    for d in &layer.opaque {
        remove_below(map, d);
    }
}

impl Image {
    /// The image that `layers` (bottom first, each with its digest) make.
    pub fn from_layers<'a>(layers: impl IntoIterator<Item = (&'a str, &'a Layer)>) -> Self {
        // What each path holds now, and the layer each package (name, version, path) first
        // appeared in, so a status file rewritten by every layer keeps its packages' origins.
        // Everything is borrowed from the layers (an image of thousands of packages is composed
        // for every report a database update re-matches): one copy of each package, at the end.
        let mut files: BTreeMap<&'a str, (&'a str, &'a Found)> = BTreeMap::new();
        let mut origin: HashMap<(&'a str, &'a str, &'a str), &'a str> = HashMap::new();
        let mut unsupported: BTreeMap<&'a str, ()> = BTreeMap::new();
        for (digest, layer) in layers {
            // A layer's whiteouts and opaque directories hide what is below it, not what it
            // holds itself.
            hide(&mut files, layer);
            hide(&mut unsupported, layer);
            for path in &layer.unsupported {
                unsupported.insert(path, ());
            }
            for (path, found) in &layer.found {
                // A file an upper layer rewrites (a status file every layer changes): the
                // packages the lower copy listed keep the lower layer as their origin. A file
                // of one layer needs no such record: its packages came from that layer.
                if let Some((lower, Found::Packages(packages) | Found::Language(_, packages))) =
                    files.get(path.as_str())
                {
                    for p in packages {
                        origin
                            .entry((p.name.as_str(), p.version.as_str(), path.as_str()))
                            .or_insert(lower);
                    }
                }
                files.insert(path, (digest, found));
            }
        }
        let os = ["etc/os-release", "usr/lib/os-release"]
            .iter()
            .find_map(|p| match files.get(*p) {
                Some((_, Found::Os(os))) => Some(os.clone()),
                _ => None,
            });
        let ecosystem = os.as_ref().and_then(|os| match os.id.as_str() {
            "debian" => Some(Ecosystem::Debian),
            "ubuntu" => Some(Ecosystem::Ubuntu),
            "alpine" => Some(Ecosystem::Alpine),
            _ => None,
        });
        let mut packages: Vec<Installed> = files
            .iter()
            .filter_map(|(path, (digest, found))| match found {
                Found::Packages(list) => {
                    // The distribution's ecosystem, by its os-release and the database's kind.
                    let e = match (ecosystem, *path) {
                        (_, p) if p.starts_with("lib/apk/") => Some(Ecosystem::Alpine),
                        (_, p) if rpm::DATABASES.contains(&p) => Some(Ecosystem::Rpm),
                        (Some(Ecosystem::Alpine), _) => None,
                        (e, _) => e,
                    };
                    Some((path, digest, e, list))
                }
                Found::Language(e, list) => Some((path, digest, Some(*e), list)),
                Found::Os(_) => None,
            })
            .flat_map(|(path, digest, ecosystem, list)| {
                let origin = &origin;
                list.iter().map(move |p| Installed {
                    layer: if origin.is_empty() {
                        digest
                    } else {
                        origin
                            .get(&(p.name.as_str(), p.version.as_str(), *path))
                            .copied()
                            .unwrap_or(digest)
                    }
                    .to_string(),
                    ecosystem,
                    package: p.clone(),
                })
            })
            .collect();
        packages.sort();
        packages.dedup();
        Self {
            os,
            packages,
            unsupported: unsupported.into_keys().map(str::to_string).collect(),
        }
    }
}

/// A layer holding this machine's `/etc/os-release` and the given dpkg status, for tests.
#[cfg(test)]
pub(crate) fn machine_layer(status: &str) -> Layer {
    let os = os_release::parse(&std::fs::read_to_string("/etc/os-release").expect("os-release"));
    let mut layer = Layer::default();
    layer.found.insert("etc/os-release".into(), Found::Os(os));
    layer.found.insert(
        "var/lib/dpkg/status".into(),
        Found::Packages(dpkg::parse("var/lib/dpkg/status", status)),
    );
    layer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str, path: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            source: name.into(),
            source_version: String::new(),
            arch: "amd64".into(),
            path: path.into(),
        }
    }

    fn layer(found: &[(&str, Found)], whiteouts: &[&str], opaque: &[&str]) -> Layer {
        Layer {
            found: found
                .iter()
                .map(|(p, f)| (p.to_string(), f.clone()))
                .collect(),
            whiteouts: whiteouts.iter().map(|s| s.to_string()).collect(),
            opaque: opaque.iter().map(|s| s.to_string()).collect(),
            unsupported: vec![],
        }
    }

    const STATUS: &str = "var/lib/dpkg/status";

    #[test]
    fn upper_layers_replace_delete_and_hide_what_lower_ones_hold() {
        let debian = Found::Os(Os {
            id: "debian".into(),
            version: "12".into(),
            ..Default::default()
        });
        let base = layer(
            &[
                ("etc/os-release", debian),
                (
                    STATUS,
                    Found::Packages(vec![pkg("libc6", "2.36-9", STATUS)]),
                ),
                (
                    "var/lib/dpkg/status.d/tzdata",
                    Found::Packages(vec![pkg("tzdata", "2024a", "var/lib/dpkg/status.d/tzdata")]),
                ),
                (
                    "opt/app/status.d/x",
                    Found::Packages(vec![pkg("x", "1", "opt/app/status.d/x")]),
                ),
            ],
            &[],
            &[],
        );
        // The second layer installs curl (its status lists libc6 too), deletes tzdata's file
        // and makes /opt/app opaque.
        let upper = layer(
            &[(
                STATUS,
                Found::Packages(vec![
                    pkg("curl", "7.88.1-10", STATUS),
                    pkg("libc6", "2.36-9", STATUS),
                ]),
            )],
            &["var/lib/dpkg/status.d/tzdata"],
            &["opt/app"],
        );
        let image = Image::from_layers([("sha256:base", &base), ("sha256:upper", &upper)]);
        assert_eq!(image.os.as_ref().unwrap().id, "debian");
        let got: Vec<(&str, &str, &str)> = image
            .packages
            .iter()
            .map(|i| {
                (
                    i.package.name.as_str(),
                    i.layer.as_str(),
                    i.ecosystem.unwrap().as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("curl", "sha256:upper", "Debian"),
                ("libc6", "sha256:base", "Debian"),
            ]
        );
    }

    #[test]
    fn a_whiteout_in_a_layer_does_not_hide_what_that_layer_adds() {
        let base = layer(
            &[(STATUS, Found::Packages(vec![pkg("a", "1", STATUS)]))],
            &[],
            &[],
        );
        let upper = layer(
            &[(STATUS, Found::Packages(vec![pkg("b", "1", STATUS)]))],
            &[STATUS],
            &["var/lib/dpkg"],
        );
        let image = Image::from_layers([("l1", &base), ("l2", &upper)]);
        let names: Vec<&str> = image
            .packages
            .iter()
            .map(|i| i.package.name.as_str())
            .collect();
        assert_eq!(names, vec!["b"]);
    }

    #[test]
    fn whiteouts_and_opaque_directories_match_whole_segments() {
        let mut files: BTreeMap<&str, ()> = [
            "var/lib/dpkg",
            "var/lib/dpkg/status",
            "var/lib/dpkgx/status",
            "opt/app",
            "opt/app/a",
            "opt/app2/a",
        ]
        .iter()
        .map(|p| (*p, ()))
        .collect();
        hide(&mut files, &layer(&[], &["var/lib/dpkg"], &["opt/app"]));
        let left: Vec<&str> = files.keys().copied().collect();
        assert_eq!(left, ["opt/app", "opt/app2/a", "var/lib/dpkgx/status"]);
        // An opaque root hides everything below it.
        hide(&mut files, &layer(&[], &[], &[""]));
        assert!(files.is_empty());
    }
}
