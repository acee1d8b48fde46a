//! Language packages an image holds: Python distributions (`*.dist-info/METADATA`,
//! `*.egg-info/PKG-INFO`), npm (`package-lock.json` v1–v3, `yarn.lock` of Yarn 1 and of Yarn
//! 2+, `pnpm-lock.yaml` v5–v9, and installed `node_modules/**/package.json`) and Rust
//! (`Cargo.lock`).

use super::{Ecosystem, Package};

/// The ecosystem a file at `path` lists packages of, if it is one this module reads.
pub fn kind(path: &str) -> Option<Ecosystem> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if path.ends_with(".dist-info/METADATA") || path.ends_with(".egg-info/PKG-INFO") {
        return Some(Ecosystem::PyPI);
    }
    if matches!(name, "package-lock.json" | "yarn.lock" | "pnpm-lock.yaml")
        && !path.contains("node_modules/")
    {
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

/// The packages the file at `path` lists.
pub fn parse(ecosystem: Ecosystem, path: &str, text: &str) -> Vec<Package> {
    let name = path.rsplit('/').next().unwrap_or(path);
    match (ecosystem, name) {
        (Ecosystem::PyPI, _) => python(path, text).into_iter().collect(),
        (Ecosystem::Npm, "package-lock.json") => npm_lock(path, text),
        (Ecosystem::Npm, "yarn.lock") => yarn_lock(path, text),
        (Ecosystem::Npm, "pnpm-lock.yaml") => pnpm_lock(path, text),
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
    Some(Package::language(name?, version?, path))
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
                out.push(Package::language(name, version, path));
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
                        out.push(Package::language(name, version, path));
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
    Some(Package::language(
        manifest.get("name")?.as_str()?,
        manifest.get("version")?.as_str()?,
        path,
    ))
}

/// The package name of a lockfile's specifier: `lodash@^4.17.15` → `lodash`,
/// `@babel/core@npm:^7.0.0` → `@babel/core` (a scope's `@` is not the separator).
fn spec_name(spec: &str) -> &str {
    let spec = spec.trim().trim_matches('"');
    match spec[1.min(spec.len())..].find('@') {
        Some(at) => &spec[..at + 1],
        None => spec,
    }
}

/// `yarn.lock`: Yarn 1's format (`"a@^1", a@~1.2:` then `  version "1.2.3"`) and Yarn 2+'s
/// YAML (`"a@npm:^1":` then `  version: 1.2.3`; `__metadata` and workspace, link, portal and
/// patch resolutions are not registry packages).
fn yarn_lock(path: &str, text: &str) -> Vec<Package> {
    let mut out = Vec::new();
    let mut name: Option<String> = None;
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            let key = line.trim_end().trim_end_matches(':');
            name = (key != "__metadata")
                .then(|| key.split(',').next().map(spec_name))
                .flatten()
                .map(str::to_string);
            continue;
        }
        let Some(n) = &name else { continue };
        let t = line.trim();
        if let Some(v) = t
            .strip_prefix("version ")
            .or_else(|| t.strip_prefix("version: "))
        {
            let v = v.trim().trim_matches('"');
            if !v.is_empty() {
                out.push(Package::language(n, v, path));
            }
        } else if let Some(r) = t.strip_prefix("resolution: ") {
            let r = r.trim_matches('"');
            let local = ["@workspace:", "@link:", "@portal:", "@file:", "@patch:"];
            if local.iter().any(|l| r.contains(l)) {
                if let Some(last) = out.last() {
                    if &last.name == n && last.path == path {
                        out.pop();
                    }
                }
                name = None;
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `pnpm-lock.yaml`: the keys of its `packages` map, as each lockfile version writes them —
/// `/a/1.2.3` (v5, peers after `_`), `/a@1.2.3` (v6, peers in parentheses), `a@1.2.3` (v9);
/// scoped names keep their `@scope/`. Links and local folders have no version there.
fn pnpm_lock(path: &str, text: &str) -> Vec<Package> {
    let mut out = Vec::new();
    let mut in_packages = false;
    let mut v5 = false;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("lockfileVersion:") {
            let major = v.trim().trim_matches(|c| c == '\'' || c == '"');
            v5 = major
                .split('.')
                .next()
                .and_then(|m| m.parse::<u32>().ok())
                .is_some_and(|m| m < 6);
        }
        if !line.starts_with(' ') && !line.trim().is_empty() {
            in_packages = line.trim_end() == "packages:";
            continue;
        }
        if !in_packages || !line.starts_with("  ") || line.starts_with("   ") {
            continue;
        }
        let key = line
            .trim()
            .trim_end_matches(':')
            .trim_matches(|c| c == '\'' || c == '"');
        // Peer suffixes: `(react@18.2.0)` (v6, v9).
        let key = key.split('(').next().unwrap_or(key);
        let bare = key.trim_start_matches('/');
        let (name, version) = if v5 {
            // `/name/version[_peers]`, `/@scope/name/version[_peers]`.
            let cut = if bare.starts_with('@') { 2 } else { 1 };
            let parts: Vec<&str> = bare.splitn(cut + 1, '/').collect();
            if parts.len() != cut + 1 {
                continue;
            }
            let at = parts[..cut].iter().map(|p| p.len() + 1).sum::<usize>() - 1;
            let version = parts[cut];
            (&bare[..at], version.split('_').next().unwrap_or(version))
        } else {
            let n = spec_name(bare);
            (n, bare[n.len()..].trim_start_matches('@'))
        };
        let plain = version.chars().next().is_some_and(|c| c.is_ascii_digit());
        if !name.is_empty() && plain {
            out.push(Package::language(name, version, path));
        }
    }
    out.sort();
    out.dedup();
    out
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
        .map(|e| Package::language(&e.name, &e.version, path))
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

    #[test]
    fn yarn_and_pnpm_lockfiles_of_every_version() {
        let names = |v: Vec<Package>| -> Vec<(String, String)> {
            v.into_iter().map(|p| (p.name, p.version)).collect()
        };
        let yarn1 = "# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n\n\"@babel/code-frame@^7.0.0\", \"@babel/code-frame@^7.10.4\":\n  version \"7.12.13\"\n  resolved \"https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.12.13.tgz\"\n  dependencies:\n    \"@babel/highlight\" \"^7.10.4\"\n\nlodash@^4.17.15:\n  version \"4.17.15\"\n";
        assert_eq!(
            names(yarn_lock("srv/yarn.lock", yarn1)),
            [
                ("@babel/code-frame".into(), "7.12.13".into()),
                ("lodash".into(), "4.17.15".into())
            ]
        );
        let berry = "__metadata:\n  version: 6\n  cacheKey: 8\n\n\"lodash@npm:^4.17.15\":\n  version: 4.17.21\n  resolution: \"lodash@npm:4.17.21\"\n\n\"web@workspace:.\":\n  version: 0.0.0-use.local\n  resolution: \"web@workspace:.\"\n";
        assert_eq!(
            names(yarn_lock("srv/yarn.lock", berry)),
            [("lodash".into(), "4.17.21".into())]
        );
        let v5 = "lockfileVersion: 5.4\n\npackages:\n\n  /@babel/core/7.20.0:\n    resolution: {integrity: sha512-x}\n\n  /react-dom/18.2.0_react@18.2.0:\n    resolution: {integrity: sha512-y}\n";
        assert_eq!(
            names(pnpm_lock("srv/pnpm-lock.yaml", v5)),
            [
                ("@babel/core".into(), "7.20.0".into()),
                ("react-dom".into(), "18.2.0".into())
            ]
        );
        let v6 = "lockfileVersion: '6.0'\n\ndependencies:\n  lodash:\n    specifier: ^4.17.15\n    version: 4.17.15\n\npackages:\n\n  /lodash@4.17.15:\n    resolution: {integrity: sha512-z}\n    dev: false\n\n  /react-dom@18.2.0(react@18.2.0):\n    resolution: {integrity: sha512-y}\n";
        assert_eq!(
            names(pnpm_lock("srv/pnpm-lock.yaml", v6)),
            [
                ("lodash".into(), "4.17.15".into()),
                ("react-dom".into(), "18.2.0".into())
            ]
        );
        let v9 = "lockfileVersion: '9.0'\n\npackages:\n\n  '@types/node@20.1.0':\n    resolution: {integrity: sha512-a}\n\n  minimist@1.2.5:\n    resolution: {integrity: sha512-b}\n\nsnapshots:\n\n  minimist@1.2.5: {}\n";
        assert_eq!(
            names(pnpm_lock("srv/pnpm-lock.yaml", v9)),
            [
                ("@types/node".into(), "20.1.0".into()),
                ("minimist".into(), "1.2.5".into())
            ]
        );
        assert_eq!(kind("srv/app/yarn.lock"), Some(Ecosystem::Npm));
        assert_eq!(kind("srv/app/pnpm-lock.yaml"), Some(Ecosystem::Npm));
        assert_eq!(kind("srv/app/node_modules/x/yarn.lock"), None);
    }
}
