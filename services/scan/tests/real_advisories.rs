//! Real advisories against real packages: the OSV records PyPI's `vulnerablecode` wheel ships as
//! test data (GitHub's and PyPA's advisories for pillow, awsiotsdk, django-s3file and npm's
//! `ms`) are imported as they are, and an image holds the `METADATA` of the real wheels of
//! deliberately old versions (from PyPI) and the `package-lock.json` npm itself wrote for
//! `ms@0.7.0`; an upper layer deletes one distribution. Pushed with skopeo to a real
//! docker-registry and scanned, the image has exactly the findings the records say, with the
//! fixed versions and severities they carry, and nothing for the deleted package.
//! The test command downloads the wheels and writes the lockfile into `$BERTH_TEST_ADVISORIES`.

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use berth_scan::matcher::Index;
use berth_scan::vulndb::{parse_json, VulnDb};
use berth_testkit::image::{files_layer, Compression, Image};

fn dir() -> PathBuf {
    std::env::var("BERTH_TEST_ADVISORIES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/berth/advisories")
        })
}

/// The file of `dir` whose name starts with `prefix` (a wheel of one version).
fn find(dir: &Path, prefix: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e} (the test command fills it)", dir.display()))
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .to_ascii_lowercase()
                .starts_with(prefix)
        })
        .unwrap_or_else(|| {
            panic!(
                "no {prefix}* in {} (the test command fills it)",
                dir.display()
            )
        })
}

/// The entries of the wheel (a zip) at `path` whose names satisfy `want`.
fn entries(path: &Path, want: impl Fn(&str) -> bool) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let names: Vec<String> = zip
        .file_names()
        .filter(|n| want(n))
        .map(str::to_string)
        .collect();
    names
        .into_iter()
        .map(|n| {
            let mut bytes = Vec::new();
            zip.by_name(&n).unwrap().read_to_end(&mut bytes).unwrap();
            (n, bytes)
        })
        .collect()
}

#[tokio::test]
async fn real_records_find_real_old_packages_and_not_deleted_ones() {
    let dir = dir();
    let samples = entries(&find(&dir, "vulnerablecode-"), |n| {
        n.starts_with("vulnerabilities/tests/test_data/pysec/pysec-advisor")
            && !n.ends_with("-expected.json")
            || n.starts_with("vulnerabilities/tests/test_data/github_osv/github_osv_test_")
    });
    assert!(samples.len() >= 10, "{} samples", samples.len());
    let mut db = VulnDb::default();
    for (name, bytes) in &samples {
        let records = parse_json(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        db.import(records, "2026-12-07T00:00:00Z");
    }
    let index = Index::new(db.records().cloned().collect());

    let site = "usr/local/lib/python3.10/site-packages";
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for wheel in ["pillow-8.4.0", "awsiotsdk-1.6.0", "django_s3file-5.5.0"] {
        let metadata = entries(&find(&dir, wheel), |n| n.ends_with(".dist-info/METADATA"));
        assert_eq!(metadata.len(), 1, "{wheel}");
        let (name, bytes) = metadata.into_iter().next().unwrap();
        files.push((format!("{site}/{name}"), bytes));
    }
    files.push((
        "srv/app/package-lock.json".into(),
        std::fs::read(dir.join("npm/package-lock.json")).unwrap(),
    ));
    let s3file = files
        .iter()
        .find(|(n, _)| n.contains("django_s3file"))
        .map(|(n, _)| n.trim_end_matches("/METADATA").to_string())
        .unwrap();
    let base = files_layer(
        &files
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect::<Vec<_>>(),
        Compression::Gzip,
    );
    // The upper layer uninstalls django-s3file: its dist-info directory is whited out.
    let (parent, leaf) = s3file.rsplit_once('/').unwrap();
    let whiteout = format!("{parent}/.wh.{leaf}");
    let upper = files_layer(&[(whiteout.as_str(), b"")], Compression::Zstd);
    let image = Image::of_layers(vec![base, upper], "amd64");
    let (_registry, platforms) = common::push_and_scan(&image, "py/app", "old").await;
    let inventory = &platforms[0].image;
    let names: BTreeSet<&str> = inventory
        .packages
        .iter()
        .map(|i| i.package.name.as_str())
        .collect();
    assert!(
        names.contains("Pillow") && names.contains("awsiotsdk") && names.contains("ms"),
        "{names:?}"
    );
    assert!(
        !names.contains("django-s3file"),
        "deleted in the upper layer"
    );

    let findings = index.findings(inventory);
    let got: BTreeSet<(String, String, String, String, Option<String>)> = findings
        .iter()
        .map(|f| {
            (
                f.id.clone(),
                f.package.clone(),
                f.ecosystem.clone(),
                f.installed.clone(),
                f.fixed.clone(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, String, String, Option<String>)> = [
        ("PYSEC-2022-10", "Pillow", "PyPI", "8.4.0", "9.0.0"),
        ("GHSA-j3f7-7rmc-6wqj", "awsiotsdk", "PyPI", "1.6.0", "1.7.0"),
        ("GHSA-3fx5-fwvr-xrjg", "ms", "npm", "0.7.0", "0.7.1"),
    ]
    .iter()
    .map(|(i, p, e, v, f)| {
        (
            i.to_string(),
            p.to_string(),
            e.to_string(),
            v.to_string(),
            Some(f.to_string()),
        )
    })
    .collect();
    assert_eq!(got, want);
    // The records' own CVSS vectors, scored; PyPA's record carries none.
    for f in &findings {
        match f.id.as_str() {
            "PYSEC-2022-10" => assert_eq!(f.score, None),
            _ => assert!(f.score.is_some_and(|s| s > 0.0), "{f:?}"),
        }
    }
}
