//! Inventory parity with Trivy, the peer most registries scan with: one image of real package
//! data (this machine's dpkg database, os-release and debian_version, the Python distributions
//! of this machine and of the test tools' venv, the npm packages Debian ships under
//! `/usr/lib/node_modules`, this project's `Cargo.lock`) and an upper zstd layer that removes a
//! dpkg package, whites out a Python distribution and an npm package and adds an npm lockfile,
//! pushed with skopeo to a real docker-registry. Trivy makes its CycloneDX SBOM of the image from
//! the registry (offline, no vulnerability database) and Berth scans the same image: the
//! packages are the same, name for name and version for version, in every class. The two
//! differences are the README's: Berth also reads npm lockfiles in images (Trivy reads them
//! only when scanning a file system or repository), and leaves out a `Cargo.lock`'s own crates.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use berth_scan::inventory::Ecosystem;
use berth_testkit::image::{files_layer, Compression, Image};

/// Every file under `dir` whose path satisfies `keep`, recursively (symbolic links not followed).
fn files_under(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            files_under(&path, keep, out);
        } else if kind.is_file() && keep(&path) {
            out.push(path);
        }
    }
}

fn name_is(path: &Path, name: &str) -> bool {
    path.file_name().is_some_and(|n| n == name)
}

/// (class, name, version) as Trivy's CycloneDX names them (`aquasecurity:trivy:PkgType`).
type Key = (String, String, String);

fn trivy_packages(bom: &serde_json::Value) -> BTreeSet<Key> {
    bom["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter(|c| c["type"] == "library")
        .map(|c| {
            let property = |name: &str| {
                c["properties"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|p| p["name"] == name)
                    .and_then(|p| p["value"].as_str())
                    .map(str::to_string)
            };
            let class = property("aquasecurity:trivy:PkgType").unwrap_or_default();
            let plain = c["name"].as_str().unwrap_or_default().to_string();
            // A Maven package's group is a field of its own (Berth names it `group:artifact`).
            let name = match c["group"].as_str() {
                Some(group) => format!("{group}:{plain}"),
                None => plain.clone(),
            };
            let purl = c["purl"].as_str().unwrap_or_default();
            let version = if purl.starts_with("pkg:rpm/") {
                // An rpm's epoch is a qualifier of its purl (its package id has the arch).
                let epoch = purl
                    .split(['?', '&'])
                    .find_map(|q| q.strip_prefix("epoch="))
                    .filter(|e| *e != "0");
                let v = c["version"].as_str().unwrap_or_default();
                epoch.map_or_else(|| v.to_string(), |e| format!("{e}:{v}"))
            } else {
                // Trivy's version leaves a dpkg epoch out; its package id (`name@1:2.3-4`) has it.
                property("aquasecurity:trivy:PkgID")
                    .and_then(|id| id.strip_prefix(&format!("{plain}@")).map(str::to_string))
                    .unwrap_or_else(|| c["version"].as_str().unwrap_or_default().to_string())
            };
            (class, name, version)
        })
        .collect()
}

#[tokio::test]
async fn berth_finds_the_packages_trivy_finds_in_the_same_image() {
    berth_testkit::trivy();
    let venv_site = std::fs::read_dir(berth_testkit::tools_venv().join("lib"))
        .expect("the tools venv")
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir())
        .expect("the tools venv's site-packages");

    let mut base: Vec<(String, Vec<u8>)> = Vec::new();
    for (path, source) in [
        ("etc/os-release", "/etc/os-release"),
        ("etc/debian_version", "/etc/debian_version"),
        ("var/lib/dpkg/status", "/var/lib/dpkg/status"),
    ] {
        base.push((path.into(), std::fs::read(source).expect(source)));
    }
    let mut python = Vec::new();
    files_under(
        Path::new("/usr/lib/python3/dist-packages"),
        &|p| {
            let s = p.to_string_lossy();
            (name_is(p, "METADATA") && s.contains(".dist-info/"))
                || (name_is(p, "PKG-INFO") && s.contains(".egg-info/"))
        },
        &mut python,
    );
    for p in &python {
        base.push((
            p.to_string_lossy().trim_start_matches('/').to_string(),
            std::fs::read(p).unwrap(),
        ));
    }
    let mut venv = Vec::new();
    files_under(
        &venv_site,
        &|p| name_is(p, "METADATA") && p.to_string_lossy().contains(".dist-info/"),
        &mut venv,
    );
    assert!(
        venv.len() > 20,
        "the tools venv holds {} distributions",
        venv.len()
    );
    for p in &venv {
        let rel = p.strip_prefix(&venv_site).unwrap().to_string_lossy();
        base.push((
            format!("usr/local/lib/python3.11/site-packages/{rel}"),
            std::fs::read(p).unwrap(),
        ));
    }
    let mut npm = Vec::new();
    files_under(
        Path::new("/usr/lib/node_modules"),
        &|p| name_is(p, "package.json"),
        &mut npm,
    );
    assert!(
        npm.len() > 50,
        "Debian's npm ships {} package.json",
        npm.len()
    );
    for p in &npm {
        base.push((
            p.to_string_lossy().trim_start_matches('/').to_string(),
            std::fs::read(p).unwrap(),
        ));
    }
    let cargo_lock_text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock")).unwrap();
    base.push((
        "srv/app/Cargo.lock".into(),
        cargo_lock_text.clone().into_bytes(),
    ));

    // The upper layer: a dpkg package removed, a distribution and an npm package whited out.
    let status = String::from_utf8(base[2].1.clone()).unwrap();
    let upper_status: String = status
        .split("\n\n")
        .filter(|s| !s.lines().any(|l| l == "Package: dpkg"))
        .collect::<Vec<_>>()
        .join("\n\n");
    let gone_dist = python
        .iter()
        .find_map(|p| {
            let dir = p.parent()?;
            dir.to_string_lossy()
                .ends_with(".dist-info")
                .then(|| dir.to_path_buf())
        })
        .expect("a dist-info on this machine");
    let whiteout = |dir: &Path| {
        format!(
            "{}/.wh.{}",
            dir.parent()
                .unwrap()
                .to_string_lossy()
                .trim_start_matches('/'),
            dir.file_name().unwrap().to_string_lossy()
        )
    };
    let lockfile = br#"{"name": "web", "lockfileVersion": 3, "packages": {
        "": {"name": "web", "version": "1.0.0"},
        "node_modules/lodash": {"version": "4.17.15"},
        "node_modules/minimist": {"version": "1.2.5", "dev": true}}}"#;
    let upper: Vec<(String, Vec<u8>)> = vec![
        ("var/lib/dpkg/status".into(), upper_status.into_bytes()),
        (whiteout(&gone_dist), Vec::new()),
        (
            whiteout(Path::new("/usr/lib/node_modules/npm/node_modules/glob")),
            Vec::new(),
        ),
        ("srv/web/package-lock.json".into(), lockfile.to_vec()),
        (
            "srv/yarn1/yarn.lock".into(),
            b"# yarn lockfile v1\n\n\nsemver@^5.7.0:\n  version \"5.7.1\"\n".to_vec(),
        ),
        (
            "srv/pnpm/pnpm-lock.yaml".into(),
            b"lockfileVersion: '9.0'\n\npackages:\n\n  qs@6.5.2:\n    resolution: {integrity: sha512-x}\n".to_vec(),
        ),
    ];
    let layer = |files: &[(String, Vec<u8>)], c| {
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(p, b)| (p.as_str(), b.as_slice()))
            .collect();
        files_layer(&refs, c)
    };
    // Go binaries of this machine (Debian's skopeo and docker-registry), executable.
    let skopeo = std::fs::read("/usr/bin/skopeo").unwrap();
    let registry_bin = std::fs::read("/usr/bin/docker-registry").unwrap();
    let go = berth_testkit::image::files_layer_with_modes(
        &[
            ("usr/bin/skopeo", &skopeo, 0o755),
            ("usr/bin/docker-registry", &registry_bin, 0o755),
        ],
        Compression::None,
    );
    let image = Image::of_layers(
        vec![
            layer(&base, Compression::Gzip),
            layer(&upper, Compression::Zstd),
            go,
        ],
        "amd64",
    );
    let (registry, platforms) = common::push_and_scan(&image, "team/app", "v1").await;

    let cache = tempfile::tempdir().unwrap();
    let sbom =
        berth_testkit::trivy_cyclonedx(&format!("{}/team/app:v1", registry.host()), cache.path());
    let bom: serde_json::Value = serde_json::from_slice(&sbom).expect("Trivy's CycloneDX");
    let theirs = trivy_packages(&bom);

    let inventory = &platforms[0].image;
    // Explained: the Go standard library of a Go binary, which this Trivy does not list.
    let (stdlib, packages): (Vec<_>, Vec<_>) = inventory
        .packages
        .iter()
        .partition(|p| p.ecosystem == Some(Ecosystem::Go) && p.package.name == "stdlib");
    let mut stdlib: Vec<(&str, &str)> = stdlib
        .iter()
        .map(|p| (p.package.path.as_str(), p.package.version.as_str()))
        .collect();
    stdlib.sort();
    assert_eq!(
        stdlib.iter().map(|s| s.0).collect::<Vec<_>>(),
        ["usr/bin/docker-registry", "usr/bin/skopeo"],
        "{stdlib:?}"
    );
    assert!(stdlib.iter().all(|s| s.1.starts_with("v1.")), "{stdlib:?}");
    let (lockfile_packages, ours): (Vec<_>, Vec<_>) = packages.into_iter().partition(|p| {
        ["package-lock.json", "yarn.lock", "pnpm-lock.yaml"]
            .iter()
            .any(|l| p.package.path.ends_with(l))
    });
    let ours: BTreeSet<Key> = ours
        .into_iter()
        .map(|p| {
            let class = match p.ecosystem {
                Some(Ecosystem::Debian) => "debian",
                Some(Ecosystem::PyPI) => "python-pkg",
                Some(Ecosystem::Npm) => "node-pkg",
                Some(Ecosystem::CratesIo) => "cargo",
                Some(Ecosystem::Go) => "gobinary",
                other => panic!("unexpected {other:?}: {p:?}"),
            };
            (
                class.into(),
                p.package.name.clone(),
                p.package.version.clone(),
            )
        })
        .collect();

    let classes =
        |set: &BTreeSet<Key>| -> BTreeSet<String> { set.iter().map(|k| k.0.clone()).collect() };
    assert_eq!(
        classes(&theirs),
        ["cargo", "debian", "node-pkg", "python-pkg"]
            .map(String::from)
            .into_iter()
            .collect(),
        "Trivy read every class"
    );
    // The explained difference in Trivy's favour: a lockfile's own crates (path and workspace
    // members, no `source`), which no advisory can be about; Berth leaves them out.
    let local: BTreeSet<Key> = cargo_lock_text
        .split("[[package]]")
        .filter(|block| !block.contains("\nsource = "))
        .filter_map(|block| {
            let field = |k: &str| {
                block.lines().find_map(|l| {
                    l.strip_prefix(k)
                        .map(|v| v.trim_matches(|c| c == ' ' || c == '"').to_string())
                })
            };
            Some(("cargo".to_string(), field("name =")?, field("version =")?))
        })
        .collect();
    assert!(local.len() > 5, "{local:?}");
    let theirs: BTreeSet<Key> = theirs.difference(&local).cloned().collect();
    let only_trivy: Vec<_> = theirs.difference(&ours).collect();
    let only_berth: Vec<_> = ours.difference(&theirs).collect();
    assert!(
        only_trivy.is_empty() && only_berth.is_empty(),
        "{} packages each; only Trivy: {only_trivy:?}; only Berth: {only_berth:?}",
        theirs.len()
    );
    // What both left out: the removed package and the whited-out ones.
    assert!(!ours.iter().any(|k| k.0 == "debian" && k.1 == "dpkg"));
    // The one explained difference: the lockfile's packages (Trivy reads lockfiles only in
    // file system and repository scans).
    let mut locked: Vec<_> = lockfile_packages
        .iter()
        .map(|p| (p.package.name.as_str(), p.package.version.as_str()))
        .collect();
    locked.sort();
    assert_eq!(
        locked,
        [
            ("lodash", "4.17.15"),
            ("minimist", "1.2.5"),
            ("qs", "6.5.2"),
            ("semver", "5.7.1")
        ]
    );
    assert_eq!(inventory.os.as_ref().map(|o| o.id.as_str()), Some("debian"));
    println!(
        "parity: {} packages ({} dpkg, {} Python, {} npm, {} crates)",
        ours.len(),
        ours.iter().filter(|k| k.0 == "debian").count(),
        ours.iter().filter(|k| k.0 == "python-pkg").count(),
        ours.iter().filter(|k| k.0 == "node-pkg").count(),
        ours.iter().filter(|k| k.0 == "cargo").count()
    );
}

/// The second image: an rpm distribution (Rocky Linux's os-release and an rpmdb that rpm's own
/// tools wrote), Debian's real jars nested in a jar packed by the JDK, and a `cargo auditable`
/// binary. What each of Trivy and Berth lists, per class, is compared: the same, but for the
/// binary's own crate (local, the root), which Berth leaves out as it does a Cargo.lock's.
#[tokio::test]
async fn berth_finds_the_rpm_java_and_rust_binary_packages_trivy_finds() {
    use berth_testkit::packages::{self, Rpm};
    berth_testkit::trivy();
    let work = tempfile::tempdir().unwrap();
    let root = packages::rpm_root(
        work.path(),
        &[
            Rpm {
                name: "openssl-libs",
                epoch: Some(1),
                version: "3.0.7",
                release: "27.el9",
                parts: 0,
            },
            Rpm {
                name: "tzdata",
                epoch: None,
                version: "2024a",
                release: "1.el9",
                parts: 30,
            },
        ],
    );
    let rpmdb = std::fs::read(root.join("var/lib/rpm/rpmdb.sqlite")).unwrap();
    let libs: Vec<PathBuf> = ["guava", "commons-io", "wagon-http-shaded"]
        .iter()
        .map(|n| std::fs::canonicalize(format!("/usr/share/java/{n}.jar")).unwrap())
        .collect();
    let jar = packages::fat_jar(work.path(), ("com.example", "shop", "1.4.0"), &libs);
    let slf4j = std::fs::read("/usr/share/java/slf4j-api.jar").unwrap();
    let binary = packages::auditable_binary(
        r#"{"packages": [
            {"name": "tool", "version": "0.1.0", "source": "local", "kind": "runtime", "dependencies": [1, 2], "root": true},
            {"name": "smallvec", "version": "1.6.0", "source": "crates.io", "kind": "runtime"},
            {"name": "time", "version": "0.1.43", "source": "crates.io", "kind": "runtime"},
            {"name": "cc", "version": "1.0.79", "source": "crates.io", "kind": "build"}
        ]}"#,
    );
    let os_release: &[u8] = b"NAME=\"Rocky Linux\"\nVERSION=\"9.3 (Blue Onyx)\"\nID=\"rocky\"\n\
        ID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\nPLATFORM_ID=\"platform:el9\"\n";
    let base = files_layer(
        &[
            ("etc/os-release", os_release),
            (
                "etc/redhat-release",
                b"Rocky Linux release 9.3 (Blue Onyx)\n",
            ),
            (
                "etc/rocky-release",
                b"Rocky Linux release 9.3 (Blue Onyx)\n",
            ),
            ("var/lib/rpm/rpmdb.sqlite", &rpmdb),
            ("opt/shop/shop.jar", &jar),
            ("usr/share/java/slf4j-api.jar", &slf4j),
        ],
        Compression::Gzip,
    );
    let bin = berth_testkit::image::files_layer_with_modes(
        &[("usr/local/bin/tool", &binary, 0o755)],
        Compression::Zstd,
    );
    let image = Image::of_layers(vec![base, bin], "amd64");
    let (registry, platforms) = common::push_and_scan(&image, "rocky/shop", "1").await;
    let cache = tempfile::tempdir().unwrap();
    let sbom =
        berth_testkit::trivy_cyclonedx(&format!("{}/rocky/shop:1", registry.host()), cache.path());
    let bom: serde_json::Value = serde_json::from_slice(&sbom).expect("Trivy's CycloneDX");
    let theirs = trivy_packages(&bom);

    let ours: BTreeSet<Key> = platforms[0]
        .image
        .packages
        .iter()
        .map(|p| {
            let class = match p.ecosystem {
                Some(Ecosystem::Rpm) => "rocky",
                Some(Ecosystem::Maven) => "jar",
                Some(Ecosystem::CratesIo) => "rustbinary",
                other => panic!("unexpected {other:?}: {p:?}"),
            };
            (
                class.into(),
                p.package.name.clone(),
                p.package.version.clone(),
            )
        })
        .collect();
    // The explained difference, as for a Cargo.lock: the binary's own (local, root) crate,
    // which Trivy lists and Berth leaves out.
    let own: Key = ("rustbinary".into(), "tool".into(), "0.1.0".into());
    assert!(theirs.contains(&own), "{theirs:?}");
    let theirs: BTreeSet<Key> = theirs.into_iter().filter(|k| *k != own).collect();
    let only_trivy: Vec<_> = theirs.difference(&ours).collect();
    let only_berth: Vec<_> = ours.difference(&theirs).collect();
    assert!(
        only_trivy.is_empty() && only_berth.is_empty(),
        "only Trivy: {only_trivy:?}; only Berth: {only_berth:?}"
    );
    let count = |class: &str| ours.iter().filter(|k| k.0 == class).count();
    assert_eq!(
        (count("rocky"), count("jar"), count("rustbinary")),
        (32, 9, 2)
    );
    println!(
        "parity: {} packages ({} rpm, {} jar, {} from a cargo-auditable binary)",
        ours.len(),
        count("rocky"),
        count("jar"),
        count("rustbinary")
    );
}
