//! Language packages an image holds: Python distributions (`*.dist-info/METADATA`,
//! `*.egg-info/PKG-INFO`), npm (`package-lock.json` v1–v3 and installed
//! `node_modules/**/package.json`) and Rust (`Cargo.lock`).

use super::{Ecosystem, Package};

/// The ecosystem a file at `path` lists packages of, if it is one this module reads.
pub fn kind(path: &str) -> Option<Ecosystem> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if path.ends_with(".dist-info/METADATA") || path.ends_with(".egg-info/PKG-INFO") {
        return Some(Ecosystem::PyPI);
    }
    if name == "package-lock.json" && !path.contains("node_modules/") {
        return Some(Ecosystem::Npm);
    }
    if name == "package.json" && installed_npm(path) {
        return Some(Ecosystem::Npm);
    }
    if name == "Cargo.lock" {
        return Some(Ecosystem::CratesIo);
    }
    None
}

/// Whether `path` is the manifest of an installed package: `…/node_modules/NAME/package.json`
/// or `…/node_modules/@SCOPE/NAME/package.json`, not a file deeper inside a package.
fn installed_npm(path: &str) -> bool {
    let Some((before, _)) = path.rsplit_once("/package.json") else {
        return false;
    };
    let Some((_, package)) = before.rsplit_once("node_modules/") else {
        return false;
    };
    match package.split('/').collect::<Vec<_>>()[..] {
        [name] => !name.is_empty() && !name.starts_with('.'),
        [scope, name] => scope.starts_with('@') && !name.is_empty(),
        _ => false,
    }
}

fn package(name: &str, version: &str, path: &str) -> Package {
    Package {
        name: name.to_string(),
        version: version.to_string(),
        source: name.to_string(),
        source_version: String::new(),
        arch: String::new(),
        path: path.to_string(),
    }
}

/// The packages the file at `path` lists.
pub fn parse(ecosystem: Ecosystem, path: &str, text: &str) -> Vec<Package> {
    let name = path.rsplit('/').next().unwrap_or(path);
    match (ecosystem, name) {
        (Ecosystem::PyPI, _) => python(path, text).into_iter().collect(),
        (Ecosystem::Npm, "package-lock.json") => npm_lock(path, text),
        (Ecosystem::Npm, _) => npm_installed(path, text).into_iter().collect(),
        (Ecosystem::CratesIo, _) => cargo_lock(path, text),
        _ => Vec::new(),
    }
}

/// A distribution's `Name:` and `Version:` (RFC 822 headers, before the first blank line).
fn python(path: &str, text: &str) -> Option<Package> {
    let mut name = None;
    let mut version = None;
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Name:") {
            name = Some(v.trim());
        } else if let Some(v) = line.strip_prefix("Version:") {
            version = Some(v.trim());
        }
    }
    Some(package(name?, version?, path))
}

/// `package-lock.json`: v2 and v3 list `packages` by install path (`node_modules/a`,
/// `node_modules/a/node_modules/b`); v1 nests `dependencies`. The root project (`""`) and
/// links to local folders are not packages.
fn npm_lock(path: &str, text: &str) -> Vec<Package> {
    let Ok(lock) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(packages) = lock.get("packages").and_then(|p| p.as_object()) {
        for (at, p) in packages {
            let Some((_, name)) = at.rsplit_once("node_modules/") else {
                continue;
            };
            if p.get("link").and_then(|l| l.as_bool()) == Some(true) {
                continue;
            }
            let name = p.get("name").and_then(|n| n.as_str()).unwrap_or(name);
            if let Some(version) = p.get("version").and_then(|v| v.as_str()) {
                out.push(package(name, version, path));
            }
        }
    } else if let Some(deps) = lock.get("dependencies").and_then(|d| d.as_object()) {
        fn walk(
            deps: &serde_json::Map<String, serde_json::Value>,
            path: &str,
            out: &mut Vec<Package>,
        ) {
            for (name, d) in deps {
                if let Some(version) = d.get("version").and_then(|v| v.as_str()) {
                    // A v1 dependency from a folder or a git URL has no registry version.
                    if !version.contains(':') && !version.contains('/') {
                        out.push(package(name, version, path));
                    }
                }
                if let Some(nested) = d.get("dependencies").and_then(|n| n.as_object()) {
                    walk(nested, path, out);
                }
            }
        }
        walk(deps, path, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

fn npm_installed(path: &str, text: &str) -> Option<Package> {
    let manifest: serde_json::Value = serde_json::from_str(text).ok()?;
    Some(package(
        manifest.get("name")?.as_str()?,
        manifest.get("version")?.as_str()?,
        path,
    ))
}

/// `Cargo.lock`'s `[[package]]` entries from a registry (workspace members and path
/// dependencies have no `source` and are not published crates).
fn cargo_lock(path: &str, text: &str) -> Vec<Package> {
    #[derive(serde::Deserialize)]
    struct Lock {
        #[serde(default)]
        package: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        name: String,
        version: String,
        source: Option<String>,
    }
    let Ok(lock) = toml::from_str::<Lock>(text) else {
        return Vec::new();
    };
    lock.package
        .into_iter()
        .filter(|e| {
            e.source
                .as_deref()
                .is_some_and(|s| s.starts_with("registry+"))
        })
        .map(|e| package(&e.name, &e.version, path))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_path() {
        assert_eq!(
            kind("usr/lib/python3/dist-packages/requests-2.19.1.dist-info/METADATA"),
            Some(Ecosystem::PyPI)
        );
        assert_eq!(kind("srv/app/package-lock.json"), Some(Ecosystem::Npm));
        assert_eq!(
            kind("srv/app/node_modules/lodash/package.json"),
            Some(Ecosystem::Npm)
        );
        assert_eq!(
            kind("srv/app/node_modules/@babel/core/package.json"),
            Some(Ecosystem::Npm)
        );
        assert_eq!(kind("srv/app/node_modules/lodash/fp/package.json"), None);
        assert_eq!(kind("srv/app/package.json"), None);
        assert_eq!(kind("build/Cargo.lock"), Some(Ecosystem::CratesIo));
        assert_eq!(kind("etc/passwd"), None);
    }

    #[test]
    fn this_repositorys_own_cargo_lock() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
                .unwrap();
        let got = parse(Ecosystem::CratesIo, "Cargo.lock", &text);
        assert!(
            got.iter().any(|p| p.name == "serde"),
            "{} crates",
            got.len()
        );
        assert!(
            !got.iter().any(|p| p.name.starts_with("berth-")),
            "workspace members are not crates"
        );
    }

    #[test]
    fn npm_locks_of_each_version() {
        let v3 = r#"{"name":"app","lockfileVersion":3,"packages":{
            "":{"name":"app","version":"1.0.0"},
            "node_modules/lodash":{"version":"4.17.15"},
            "node_modules/a/node_modules/minimist":{"version":"0.0.8"},
            "node_modules/local":{"resolved":"../local","link":true}}}"#;
        let got: Vec<(String, String)> = parse(Ecosystem::Npm, "package-lock.json", v3)
            .into_iter()
            .map(|p| (p.name, p.version))
            .collect();
        assert_eq!(
            got,
            vec![
                ("lodash".into(), "4.17.15".into()),
                ("minimist".into(), "0.0.8".into())
            ]
        );
        let v1 = r#"{"lockfileVersion":1,"dependencies":{"lodash":{"version":"4.17.15",
            "dependencies":{"minimist":{"version":"0.0.8"}}},"mine":{"version":"file:../mine"}}}"#;
        assert_eq!(parse(Ecosystem::Npm, "package-lock.json", v1).len(), 2);
    }

    #[test]
    fn python_metadata() {
        let text = "Metadata-Version: 2.1\nName: requests\nVersion: 2.19.1\nSummary: HTTP\n\nVersion: 9.9 in the body\n";
        let p = parse(
            Ecosystem::PyPI,
            "x/requests-2.19.1.dist-info/METADATA",
            text,
        );
        assert_eq!(
            (p[0].name.as_str(), p[0].version.as_str()),
            ("requests", "2.19.1")
        );
    }
}
