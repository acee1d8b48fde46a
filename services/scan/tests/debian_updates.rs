//! This machine against its own pending security updates: an image holding this machine's real
//! `/var/lib/dpkg/status` and `/etc/os-release` is pushed with skopeo to a real docker-registry
//! and scanned against a database built (as `berth vulndb build-debian` builds it) from the
//! changelogs of the newer versions of installed packages that Debian's security suite offers,
//! fetched by `apt-get download` (the test command puts them in `$BERTH_TEST_DEBS`). The CVEs
//! each package is found with are the ones its changelog says were fixed after the installed
//! version, as Debian's own `dpkg-parsechangelog --since INSTALLED` tells them; none is found
//! for a package already at the newer version.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use berth_scan::matcher::Index;
use berth_scan::vulndb::VulnDb;
use berth_testkit::image::{files_layer, Compression, Image};

fn output(command: &mut Command) -> String {
    let out = command.output().expect("a Debian machine with dpkg-dev");
    assert!(out.status.success(), "{command:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The CVE ids of a changelog excerpt, bullet by bullet (a top-level `  *` item and its
/// continuation lines), leaving out bullets that revert a fix or say a CVE does not apply.
fn fixed_cves(changes: &str) -> BTreeSet<String> {
    let mut bullets: Vec<String> = Vec::new();
    for line in changes.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with(['*', '-', '+']) || bullets.is_empty() {
            bullets.push(String::new());
        }
        bullets.last_mut().unwrap().push_str(&format!("{trimmed} "));
    }
    let mut out = BTreeSet::new();
    for bullet in bullets {
        let lower = bullet.to_ascii_lowercase();
        let lower = lower.trim_start_matches(['*', '-', '+', ' ']);
        let not_a_fix = lower.starts_with("revert")
            || [
                "not affected",
                "not-affected",
                "does not affect",
                "not vulnerable",
            ]
            .iter()
            .any(|p| lower.contains(p));
        if not_a_fix {
            continue;
        }
        let upper = bullet.to_ascii_uppercase();
        for (at, _) in upper.match_indices("CVE-") {
            let id: String = upper[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            let parts: Vec<&str> = id.split('-').collect();
            let similar = upper[..at].trim_end().ends_with("SIMILAR TO");
            if parts.len() >= 3
                && parts[1].len() == 4
                && parts[2].len() >= 4
                && parts[1..3]
                    .iter()
                    .all(|p| p.chars().all(|c| c.is_ascii_digit()))
                && !similar
            {
                out.insert(format!("CVE-{}-{}", parts[1], parts[2]));
            }
        }
    }
    out
}

/// What one downloaded package says: its binary name, its version, and the CVEs its changelog
/// says were fixed after `installed` (and not before it).
struct Update {
    package: String,
    installed: String,
    expected: BTreeSet<String>,
    changelog: String,
}

fn update(deb: &PathBuf, work: &std::path::Path) -> Option<Update> {
    let package = output(
        Command::new("dpkg-deb")
            .args(["-f"])
            .arg(deb)
            .arg("Package"),
    )
    .trim()
    .to_string();
    let installed = output(Command::new("dpkg-query").args(["-W", "-f=${Version}", &package]))
        .trim()
        .to_string();
    // Berth reads the changelog out of the package itself; a package whose documentation is a
    // link to another package's has none.
    let changelog = berth_scan::deb::changelog(&std::fs::read(deb).unwrap()).ok()?;
    let file = work.join(format!("{package}.changelog"));
    std::fs::write(&file, &changelog).unwrap();
    let parse = |range: &[&str]| {
        output(
            Command::new("dpkg-parsechangelog")
                .arg("-l")
                .arg(&file)
                .args(range)
                .args(["-S", "Changes"]),
        )
    };
    let since = fixed_cves(&parse(&["--since", &installed]));
    let before = fixed_cves(&parse(&["--to", &installed]));
    Some(Update {
        package,
        installed,
        expected: since.difference(&before).cloned().collect(),
        changelog,
    })
}

#[tokio::test]
async fn this_machine_is_found_with_the_cves_its_pending_security_updates_fix() {
    let dir = std::env::var("BERTH_TEST_DEBS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/berth/debs")
        });
    let debs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (the test command downloads them)", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    let status = std::fs::read_to_string("/var/lib/dpkg/status").expect("a Debian machine");
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap();
    let release = berth_scan::inventory::os_release::parse(&os_release).version;

    let work = tempfile::tempdir().unwrap();
    let updates: Vec<Update> = debs.iter().filter_map(|d| update(d, work.path())).collect();
    let with_cves = updates.iter().filter(|u| !u.expected.is_empty()).count();
    assert!(
        with_cves >= 3,
        "fewer than three downloaded updates in {} fix CVEs after the installed versions",
        dir.display()
    );

    let mut db = VulnDb::default();
    for u in &updates {
        db.import(
            berth_scan::debian::records(&u.changelog, &release),
            "2026-12-07T00:00:00Z",
        );
    }
    let index = Index::new(db.records().cloned().collect());

    let layer = files_layer(
        &[
            ("etc/os-release", os_release.as_bytes()),
            ("var/lib/dpkg/status", status.as_bytes()),
        ],
        Compression::Gzip,
    );
    let image = Image::of_layers(vec![layer], "amd64");
    let (_registry, platforms) = common::push_and_scan(&image, "machine/self", "today").await;
    let findings = index.findings(&platforms[0].image);

    let mut found: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for f in &findings {
        for id in std::iter::once(&f.id).chain(&f.aliases) {
            if id.starts_with("CVE-") {
                found
                    .entry(f.package.as_str())
                    .or_default()
                    .insert(id.clone());
            }
        }
        assert!(
            f.fixed.is_some() && f.ecosystem == format!("Debian:{release}"),
            "{f:?}"
        );
    }
    for u in &updates {
        let got = found.get(u.package.as_str()).cloned().unwrap_or_default();
        assert_eq!(
            got, u.expected,
            "{} {}: the CVEs fixed after the installed version",
            u.package, u.installed
        );
    }
}
