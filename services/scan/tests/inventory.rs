//! Inventories read from real images pushed by skopeo to a real docker-registry: this machine's
//! own dpkg database and os-release in a gzip layer, an upper zstd layer that removes a package
//! and whites out a distroless status file and a Python distribution, a lockfile, an index
//! scanned per platform (one of them Alpine), and a base layer shared by two images read once.

use berth_scan::inventory::Ecosystem;
use berth_scan::scanner::{scan, LayerStore};
use berth_testkit::image::{
    files_layer, push_image, push_index, Compression, Image, Index, Target,
};
use berth_testkit::registry::{DockerRegistry, RegistryOptions};

/// This machine's installed dpkg packages (name, version), read independently of the scanner.
fn machine_packages(status: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = status
        .split("\n\n")
        .filter(|s| s.lines().any(|l| l == "Status: install ok installed"))
        .filter_map(|s| {
            let field = |k: &str| {
                s.lines()
                    .find_map(|l| l.strip_prefix(k))
                    .map(|v| v.trim().to_string())
            };
            Some((field("Package:")?, field("Version:")?))
        })
        .collect();
    out.sort();
    out
}

/// The status file without the stanza of `package`.
fn without(status: &str, package: &str) -> String {
    status
        .split("\n\n")
        .filter(|s| !s.lines().any(|l| l == format!("Package: {package}")))
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[tokio::test]
async fn real_package_databases_across_layers_platforms_and_compressions() {
    let status = std::fs::read_to_string("/var/lib/dpkg/status").expect("a Debian test machine");
    let os_release = std::fs::read("/etc/os-release").unwrap();
    let expected_all = machine_packages(&status);
    assert!(expected_all.len() > 50, "{} packages", expected_all.len());
    // The upper layer removes a package every Debian machine has.
    let removed = "dpkg";
    let upper_status = without(&status, removed);

    let base = files_layer(
        &[
            ("etc/os-release", &os_release),
            ("var/lib/dpkg/status", status.as_bytes()),
            (
                "var/lib/dpkg/status.d/extra",
                b"Package: extra-pkg\nVersion: 1.0-1\nArchitecture: all\n",
            ),
            (
                "usr/lib/python3/dist-packages/requests-2.19.1.dist-info/METADATA",
                b"Metadata-Version: 2.1\nName: requests\nVersion: 2.19.1\n",
            ),
            (
                "usr/lib/python3/dist-packages/urllib3-1.24.dist-info/METADATA",
                b"Metadata-Version: 2.1\nName: urllib3\nVersion: 1.24\n",
            ),
        ],
        Compression::Gzip,
    );
    let upper = files_layer(
        &[
            ("var/lib/dpkg/status", upper_status.as_bytes()),
            ("var/lib/dpkg/status.d/.wh.extra", b""),
            ("usr/lib/python3/dist-packages/.wh.urllib3-1.24.dist-info", b""),
            (
                "srv/app/package-lock.json",
                br#"{"lockfileVersion":3,"packages":{"":{"name":"app"},"node_modules/lodash":{"version":"4.17.15"}}}"#,
            ),
        ],
        Compression::Zstd,
    );
    let alpine = files_layer(
        &[
            (
                "etc/os-release",
                b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n",
            ),
            (
                "lib/apk/db/installed",
                b"P:musl\nV:1.2.5-r0\nA:aarch64\no:musl\n\nP:libcrypto3\nV:3.3.2-r0\nA:aarch64\no:openssl\n\n",
            ),
        ],
        Compression::None,
    );
    let amd64 = Image::of_layers(vec![base.clone(), upper.clone()], "amd64");
    let arm64 = Image::of_layers(vec![alpine.clone()], "arm64");
    let only_base = Image::of_layers(vec![base.clone()], "amd64");

    let registry = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let target = Target {
        host: registry.host(),
        credential: None,
    };
    push_index(
        &Index::new(vec![amd64.clone(), arm64]),
        &target,
        "team/app",
        "v1",
    )
    .await
    .unwrap();
    push_image(&only_base, &target, "team/base", "v1")
        .await
        .unwrap();

    let client = berth_oci::Client::new(&registry.url(), None, Default::default()).unwrap();
    let store = LayerStore::default();
    let platforms = scan(&client, "team/app", "v1", &store)
        .await
        .unwrap()
        .platforms;
    assert_eq!(platforms.len(), 2);
    let debian = platforms
        .iter()
        .find(|p| p.platform == "linux/amd64")
        .unwrap();
    let os = debian.image.os.as_ref().unwrap();
    assert_eq!(os.id, "debian");
    let mut got: Vec<(String, String)> = debian
        .image
        .packages
        .iter()
        .filter(|i| i.ecosystem == Some(Ecosystem::Debian))
        .map(|i| (i.package.name.clone(), i.package.version.clone()))
        .collect();
    got.sort();
    let expected: Vec<(String, String)> = expected_all
        .iter()
        .filter(|(n, _)| n != removed)
        .cloned()
        .collect();
    assert_eq!(got, expected, "the packages the upper layer leaves");
    // The language packages: the whited-out distribution is gone, the lockfile's is there,
    // each from the layer that brought it.
    let languages: Vec<(&str, &str, Option<Ecosystem>, bool)> = debian
        .image
        .packages
        .iter()
        .filter(|i| i.ecosystem != Some(Ecosystem::Debian))
        .map(|i| {
            (
                i.package.name.as_str(),
                i.package.version.as_str(),
                i.ecosystem,
                i.layer == upper.0.digest,
            )
        })
        .collect();
    assert_eq!(
        languages,
        vec![
            ("lodash", "4.17.15", Some(Ecosystem::Npm), true),
            ("requests", "2.19.1", Some(Ecosystem::PyPI), false),
        ]
    );
    // Every dpkg package was already in the base layer: that is the layer it came from.
    assert!(debian
        .image
        .packages
        .iter()
        .filter(|i| i.ecosystem == Some(Ecosystem::Debian))
        .all(|i| i.layer == base.0.digest));
    assert_eq!(
        debian.layers,
        vec![base.0.digest.clone(), upper.0.digest.clone()]
    );

    let alpine = platforms
        .iter()
        .find(|p| p.platform == "linux/arm64")
        .unwrap();
    assert_eq!(alpine.image.os.as_ref().unwrap().id, "alpine");
    let apk: Vec<(&str, &str, Option<Ecosystem>)> = alpine
        .image
        .packages
        .iter()
        .map(|i| {
            (
                i.package.name.as_str(),
                i.package.source.as_str(),
                i.ecosystem,
            )
        })
        .collect();
    assert_eq!(
        apk,
        vec![
            ("libcrypto3", "openssl", Some(Ecosystem::Alpine)),
            ("musl", "musl", Some(Ecosystem::Alpine)),
        ]
    );
    assert_eq!(store.reads(), 3, "three distinct layers");

    // The base layer is known: scanning the image made of it alone reads nothing more, and
    // finds what the base holds (the removed package and the distroless one included).
    let platforms = scan(&client, "team/base", "v1", &store)
        .await
        .unwrap()
        .platforms;
    assert_eq!(store.reads(), 3, "a shared layer is read once");
    let names: Vec<&str> = platforms[0]
        .image
        .packages
        .iter()
        .map(|i| i.package.name.as_str())
        .collect();
    assert!(
        names.contains(&removed) && names.contains(&"extra-pkg"),
        "{names:?}"
    );
}

/// An index whose child is itself an index (containerd follows it): the image inside is
/// scanned, with the platform it names, not skipped.
#[tokio::test]
async fn a_nested_index_is_scanned_through() {
    let python = files_layer(
        &[(
            "usr/lib/python3/dist-packages/requests-2.19.1.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: requests\nVersion: 2.19.1\n",
        )],
        Compression::Gzip,
    );
    let inner_image = Image::of_layers(vec![python], "arm64");
    let clean = Image::new(&[(7, 512)], "amd64");
    let registry = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let target = Target {
        host: registry.host(),
        credential: None,
    };
    let inner = Index::new(vec![inner_image]);
    push_index(&inner, &target, "team/nested", "inner")
        .await
        .unwrap();
    push_image(&clean, &target, "team/nested", "clean")
        .await
        .unwrap();
    let outer = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": inner.manifest.digest,
             "size": inner.manifest.size()},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": clean.manifest.digest,
             "size": clean.manifest.size(), "platform": {"os": "linux", "architecture": "amd64"}},
        ],
    });
    let client = berth_oci::Client::new(&registry.url(), None, Default::default()).unwrap();
    client
        .put_manifest(
            "team/nested",
            "outer",
            "application/vnd.oci.image.index.v1+json",
            serde_json::to_vec(&outer).unwrap().into(),
        )
        .await
        .unwrap();
    let platforms = scan(&client, "team/nested", "outer", &LayerStore::default())
        .await
        .unwrap()
        .platforms;
    let mut seen: Vec<(&str, bool)> = platforms
        .iter()
        .map(|p| {
            (
                p.platform.as_str(),
                p.image
                    .packages
                    .iter()
                    .any(|i| i.package.name == "requests"),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(seen, [("linux/amd64", false), ("linux/arm64", true)]);
}
