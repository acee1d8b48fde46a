//! rpm's sqlite database as rpm itself writes it: packages built with `rpmbuild` (hundreds of
//! them, so the table spans interior and leaf pages, and one header long enough to spill onto
//! overflow pages) are installed with `rpm --root … --justdb` into an empty root; Berth reads
//! the resulting `var/lib/rpm/rpmdb.sqlite` out of a layer pushed with skopeo to a real
//! docker-registry and lists exactly what `rpm -qa` lists, and a Rocky Linux OSV record is
//! matched by rpm's own version order (epoch first).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use berth_scan::inventory::Ecosystem;
use berth_scan::matcher::Index;
use berth_scan::vulndb::{parse_json, VulnDb};
use berth_testkit::image::{files_layer, Compression, Image};
use berth_testkit::packages::{self, Rpm};

/// The packages the tests install: hundreds of them (the table spans interior and leaf pages),
/// epochs set and unset, `~` and `^` in versions.
fn rpm_root(dir: &Path) -> std::path::PathBuf {
    let p = |name, epoch, version, release, parts| Rpm {
        name,
        epoch,
        version,
        release,
        parts,
    };
    packages::rpm_root(
        dir,
        &[
            p("berth-base", Some(2), "2.4.1", "3.el9", 240),
            p("openssl-libs", Some(1), "3.0.7", "27.el9", 0),
            p("tzdata", None, "2024a", "1.el9", 0),
            p("kernel-headers", None, "5.14.0~rc1", "362.el9", 0),
            p(
                "vim-minimal",
                Some(2),
                "8.2.2637^20210501git",
                "20.el9_1",
                0,
            ),
        ],
    )
}

#[tokio::test]
async fn an_rpmdb_written_by_rpm_is_read_as_rpm_lists_it_and_matched_in_rpm_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = rpm_root(dir.path());
    let theirs: BTreeSet<(String, String, String, String)> =
        packages::rpm_query(&root).into_iter().collect();
    assert_eq!(theirs.len(), 245);

    let db = std::fs::read(root.join("var/lib/rpm/rpmdb.sqlite")).unwrap();
    let os_release = "NAME=\"Rocky Linux\"\nVERSION=\"9.3 (Blue Onyx)\"\nID=\"rocky\"\n\
                      ID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\n";
    let layer = files_layer(
        &[
            ("etc/os-release", os_release.as_bytes()),
            ("var/lib/rpm/rpmdb.sqlite", &db),
        ],
        Compression::Gzip,
    );
    let image = Image::of_layers(vec![layer], "amd64");
    let (_registry, platforms) = common::push_and_scan(&image, "rocky/app", "9").await;
    let inventory = &platforms[0].image;
    assert!(
        inventory.unsupported.is_empty(),
        "{:?}",
        inventory.unsupported
    );
    let ours: BTreeSet<(String, String, String, String)> = inventory
        .packages
        .iter()
        .map(|i| {
            assert_eq!(i.ecosystem, Some(Ecosystem::Rpm));
            let p = &i.package;
            (
                p.name.clone(),
                p.version.clone(),
                p.arch.clone(),
                p.source.clone(),
            )
        })
        .collect();
    assert_eq!(ours, theirs, "Berth lists what rpm -qa lists");

    // Rocky Linux's OSV records, in rpm's order: the epoch decides before the version.
    let record = |id: &str, name: &str, fixed: &str| {
        parse_json(
            format!(
                r#"{{"id": "{id}", "affected": [{{"package": {{"ecosystem": "Rocky Linux:9",
                "name": "{name}"}}, "ranges": [{{"type": "ECOSYSTEM", "events":
                [{{"introduced": "0"}}, {{"fixed": "{fixed}"}}]}}]}}],
                "database_specific": {{"severity": "Important"}}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    };
    let mut vulndb = VulnDb::default();
    for (id, name, fixed) in [
        ("RLSA-2024:0001", "openssl-libs", "1:3.0.7-27.el9_4"),
        ("RLSA-2024:0002", "openssl-libs", "1:3.0.7-27.el9"),
        ("RLSA-2024:0003", "berth-base", "1:9.9-1.el9"),
        ("RLSA-2024:0004", "kernel-headers", "5.14.0-362.el9"),
        ("RLSA-2024:0005", "vim-minimal", "2:8.2.2637-20.el9_1"),
        ("RLSA-2024:0006", "tzdata", "2024a-2.el9"),
    ] {
        vulndb.import(record(id, name, fixed), "2026-12-07T00:00:00Z");
    }
    let index = Index::new(vulndb.records().cloned().collect());
    let found: BTreeSet<(String, String)> = index
        .findings(inventory)
        .into_iter()
        .map(|f| {
            assert_eq!(f.ecosystem, "Rocky Linux:9");
            (f.id, f.package)
        })
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("RLSA-2024:0001", "openssl-libs"),
        ("RLSA-2024:0004", "kernel-headers"),
        ("RLSA-2024:0006", "tzdata"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(found, want);

    let sbom = berth_scan::sbom::cyclonedx(
        inventory,
        &berth_scan::sbom::Subject {
            name: "rocky/app",
            digest: &platforms[0].digest,
            created: "2026-12-07T00:00:00Z",
        },
    );
    assert!(sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["purl"]
            == "pkg:rpm/rocky/openssl-libs@3.0.7-27.el9?arch=noarch&distro=rocky-9.3&epoch=1"));
}

#[test]
fn damaged_rpm_databases_are_unsupported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let root = rpm_root(dir.path());
    let db = std::fs::read(root.join("var/lib/rpm/rpmdb.sqlite")).unwrap();
    // Cut short, and with every page pointer scrambled: an error each time, never a panic.
    for damaged in [
        db[..db.len() / 3].to_vec(),
        db.iter()
            .enumerate()
            .map(|(i, b)| if i > 100 && i % 97 == 0 { !b } else { *b })
            .collect(),
    ] {
        let (layer, _) = {
            let l = files_layer(
                &[("var/lib/rpm/rpmdb.sqlite", &damaged[..])],
                Compression::None,
            );
            berth_scan::inventory::layer::read(&l.0.bytes[..], None).unwrap()
        };
        let readable = layer.found.contains_key("var/lib/rpm/rpmdb.sqlite");
        let unsupported = layer.unsupported == vec!["var/lib/rpm/rpmdb.sqlite".to_string()];
        assert!(readable ^ unsupported, "{layer:?}");
    }
}
