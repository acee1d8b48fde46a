//! Java archives as they are shipped: this machine's real jars (Debian's guava, commons-io,
//! slf4j and the wagon jar that shades httpclient, httpcore and commons-codec) are packed by
//! the JDK's own `jar` tool into a Spring Boot-style application (`BOOT-INF/lib/*.jar`),
//! pushed with skopeo to a real docker-registry in one layer beside a plain jar, and scanned.
//! Berth lists every `pom.properties` that `unzip` finds in those jars, nested ones included,
//! and matches GitHub's advisories for guava and commons-io by Maven's version order (and not
//! httpclient's, fixed before the shaded version).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use berth_scan::matcher::Index;
use berth_scan::vulndb::{parse_json, VulnDb};
use berth_testkit::image::{files_layer, Compression, Image};

const JARS: &[&str] = &["guava", "commons-io", "wagon-http-shaded"];

/// What `unzip` says the `pom.properties` of a jar name: `group:artifact` and version.
fn poms(jar: &Path) -> BTreeSet<(String, String)> {
    let out = Command::new("unzip")
        .arg("-p")
        .arg(jar)
        .arg("META-INF/maven/*/pom.properties")
        .output()
        .expect("unzip");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut found = BTreeSet::new();
    let (mut group, mut artifact) = (String::new(), String::new());
    for line in text.lines() {
        match line.trim().split_once('=') {
            Some(("groupId", g)) => group = g.trim().to_string(),
            Some(("artifactId", a)) => artifact = a.trim().to_string(),
            Some(("version", v)) => {
                found.insert((format!("{group}:{artifact}"), v.trim().to_string()));
            }
            _ => {}
        }
    }
    found
}

#[tokio::test]
async fn a_fat_jar_of_real_jars_lists_every_pom_and_matches_in_maven_order() {
    let work = tempfile::tempdir().unwrap();
    let mut expected = BTreeSet::from([("com.example:shop".to_string(), "1.4.0".to_string())]);
    let mut libs = Vec::new();
    for name in JARS {
        let real = std::fs::canonicalize(format!("/usr/share/java/{name}.jar"))
            .expect("Debian's jars (the test command installs maven)");
        expected.extend(poms(&real));
        libs.push(real);
    }
    let fat_bytes =
        berth_testkit::packages::fat_jar(work.path(), ("com.example", "shop", "1.4.0"), &libs);
    let slf4j = std::fs::canonicalize("/usr/share/java/slf4j-api.jar").unwrap();
    expected.extend(poms(&slf4j));
    assert!(expected.len() >= 8, "{expected:?}");
    let slf4j_bytes = std::fs::read(&slf4j).unwrap();
    let layer = files_layer(
        &[
            ("opt/shop/shop.jar", &fat_bytes),
            ("usr/share/java/slf4j-api.jar", &slf4j_bytes),
        ],
        Compression::Gzip,
    );
    let image = Image::of_layers(vec![layer], "amd64");
    let (_registry, platforms) = common::push_and_scan(&image, "java/shop", "1.4.0").await;
    let inventory = &platforms[0].image;
    let ours: BTreeSet<(String, String)> = inventory
        .packages
        .iter()
        .map(|i| (i.package.name.clone(), i.package.version.clone()))
        .collect();
    assert_eq!(ours, expected, "Berth lists what unzip finds");

    // GitHub's advisories, in the OSV form GitHub publishes them.
    let advisory = |id: &str, cve: &str, name: &str, introduced: &str, fixed: &str| {
        parse_json(
            format!(
                r#"{{"id": "{id}", "aliases": ["{cve}"], "affected": [{{"package":
                {{"ecosystem": "Maven", "name": "{name}"}}, "ranges": [{{"type": "ECOSYSTEM",
                "events": [{{"introduced": "{introduced}"}}, {{"fixed": "{fixed}"}}]}}]}}],
                "database_specific": {{"severity": "MODERATE"}}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    };
    let mut db = VulnDb::default();
    for (id, cve, name, introduced, fixed) in [
        (
            "GHSA-7g45-4rm6-3mm3",
            "CVE-2023-2976",
            "com.google.guava:guava",
            "1.0",
            "32.0.0-android",
        ),
        (
            "GHSA-78wr-2p64-hpwj",
            "CVE-2024-47554",
            "commons-io:commons-io",
            "2.0",
            "2.14.0",
        ),
        (
            "GHSA-7r82-7xv7-xcpj",
            "CVE-2020-13956",
            "org.apache.httpcomponents:httpclient",
            "0",
            "4.5.13",
        ),
    ] {
        db.import(
            advisory(id, cve, name, introduced, fixed),
            "2026-12-07T00:00:00Z",
        );
    }
    let index = Index::new(db.records().cloned().collect());
    let found: BTreeSet<(String, String)> = index
        .findings(inventory)
        .into_iter()
        .map(|f| {
            assert_eq!(f.severity.as_str(), "medium");
            (f.id, f.package)
        })
        .collect();
    assert_eq!(
        found,
        BTreeSet::from([
            (
                "GHSA-7g45-4rm6-3mm3".to_string(),
                "com.google.guava:guava".to_string()
            ),
            ("GHSA-78wr-2p64-hpwj".into(), "commons-io:commons-io".into()),
        ])
    );
}
