//! From a registry to findings and an SBOM on real data: an image holding this machine's dpkg
//! database with `libssl3` put back one upload (and a Python distribution of a known-vulnerable
//! version) is pushed with skopeo to a real docker-registry and scanned; the database holds the
//! records this machine's openssl changelog yields and an OSV record for the Python package;
//! the findings are exactly what those records say, and the SBOM lists every package found.

mod common;

use std::io::Read;

use berth_scan::inventory::Ecosystem;
use berth_scan::matcher::Index;
use berth_scan::vulndb::{parse_json, VulnDb};
use berth_testkit::image::{files_layer, Compression, Image};

fn changelog(package: &str) -> String {
    let path = format!("/usr/share/doc/{package}/changelog.Debian.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).expect(&path))
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// `status` with `binary`'s version (and its source's) set to `version`.
fn put_back(status: &str, binary: &str, version: &str) -> String {
    status
        .split("\n\n")
        .map(|stanza| {
            if !stanza.lines().any(|l| l == format!("Package: {binary}")) {
                return stanza.to_string();
            }
            stanza
                .lines()
                .map(|l| match l.strip_prefix("Source: ") {
                    _ if l.starts_with("Version:") => format!("Version: {version}"),
                    Some(source) => {
                        format!("Source: {} ({version})", source.split(' ').next().unwrap())
                    }
                    None => l.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[tokio::test]
async fn a_pushed_image_yields_the_findings_its_records_say_and_an_sbom() {
    let status = std::fs::read_to_string("/var/lib/dpkg/status").expect("a Debian machine");
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap();
    let release = berth_scan::inventory::os_release::parse(&os_release).version;
    let text = changelog("libssl3");
    let uploads = berth_scan::debian::parse(&text);
    // One upload back: the newest upload's CVEs are the ones fixed since.
    let older = &uploads[1].version;
    let expected: Vec<String> = {
        let mut v: Vec<String> = uploads[0]
            .cves
            .iter()
            .filter(|c| !uploads[1..].iter().any(|u| u.cves.contains(c)))
            .cloned()
            .collect();
        v.sort();
        v
    };
    assert!(!expected.is_empty(), "the newest openssl upload fixed CVEs");

    let layer = files_layer(
        &[
            ("etc/os-release", os_release.as_bytes()),
            (
                "var/lib/dpkg/status",
                put_back(&status, "libssl3", older).as_bytes(),
            ),
            (
                "usr/lib/python3/dist-packages/requests-2.19.1.dist-info/METADATA",
                b"Metadata-Version: 2.1\nName: requests\nVersion: 2.19.1\n",
            ),
        ],
        Compression::Gzip,
    );
    let image = Image::of_layers(vec![layer.clone()], "amd64");
    let (registry, platforms) = common::push_and_scan(&image, "team/app", "v1").await;

    let mut db = VulnDb::default();
    db.import(
        berth_scan::debian::records(&text, &release),
        "2026-12-04T00:00:00Z",
    );
    db.import(
        parse_json(
            br#"{"id": "PYSEC-2018-28", "aliases": ["CVE-2018-18074"],
                "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
                "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}]}]}"#,
        )
        .unwrap(),
        "2026-12-04T00:00:01Z",
    );
    let records: Vec<_> = db.records().cloned().collect();
    let index = Index::new(records.clone());

    let inventory = &platforms[0].image;
    let findings = index.findings(inventory);
    let mut openssl: Vec<String> = findings
        .iter()
        .filter(|f| f.package == "libssl3")
        .map(|f| f.aliases[0].clone())
        .collect();
    openssl.sort();
    assert_eq!(openssl, expected);
    assert!(findings
        .iter()
        .filter(|f| f.package == "libssl3")
        .all(|f| f.fixed.as_deref() == Some(uploads[0].version.as_str())
            && f.layer == layer.0.digest));
    let python = findings.iter().find(|f| f.package == "requests").unwrap();
    assert_eq!(
        (
            python.fixed.as_deref(),
            python.score,
            python.severity.as_str()
        ),
        (Some("2.20.0"), Some(7.5), "high")
    );
    // Findings come worst first.
    assert_eq!(findings[0].id, "PYSEC-2018-28");

    // The version installed on this machine has none of openssl's.
    let current = files_layer(
        &[("var/lib/dpkg/status", status.as_bytes())],
        Compression::Gzip,
    );
    let (current, _) = berth_scan::inventory::layer::read(&current.0.bytes[..], None).unwrap();
    let os_layer = files_layer(
        &[("etc/os-release", os_release.as_bytes())],
        Compression::None,
    );
    let (os_layer, _) = berth_scan::inventory::layer::read(&os_layer.0.bytes[..], None).unwrap();
    let here = berth_scan::inventory::Image::from_layers([("a", &os_layer), ("b", &current)]);
    assert!(
        !index.findings(&here).iter().any(|f| f.package == "libssl3"),
        "the installed libssl3 is current"
    );

    let sbom = berth_scan::sbom::cyclonedx(
        inventory,
        &berth_scan::sbom::Subject {
            name: &format!("{}/team/app", registry.host()),
            digest: &platforms[0].digest,
            created: "2026-12-04T00:00:00Z",
        },
    );
    let components = sbom["components"].as_array().unwrap();
    assert_eq!(components.len(), inventory.packages.len());
    assert!(components
        .iter()
        .any(|c| c["purl"] == "pkg:pypi/requests@2.19.1"));
    assert!(inventory
        .packages
        .iter()
        .any(|i| i.ecosystem == Some(Ecosystem::Debian) && i.package.name == "libssl3"));
}
