//! dpkg's database: `var/lib/dpkg/status`, and the one-stanza files of distroless images'
//! `var/lib/dpkg/status.d/`. Only packages whose `Status:` says installed are listed.

use super::Package;

/// Whether a path holds a dpkg database this module reads.
pub fn is_database(path: &str) -> bool {
    path == "var/lib/dpkg/status"
        || path
            .strip_prefix("var/lib/dpkg/status.d/")
            .is_some_and(|name| {
                !name.is_empty() && !name.contains('/') && !name.ends_with(".md5sums")
            })
}

/// The installed packages a status file lists, in its order.
pub fn parse(path: &str, text: &str) -> Vec<Package> {
    let distroless = path != "var/lib/dpkg/status";
    text.split("\n\n")
        .filter_map(|stanza| package(path, stanza, distroless))
        .collect()
}

fn package(path: &str, stanza: &str, distroless: bool) -> Option<Package> {
    let mut fields = std::collections::HashMap::new();
    for line in stanza.lines() {
        // Continuation lines (a description's) start with a space.
        if line.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            fields.insert(k.trim(), v.trim());
        }
    }
    let name = fields.get("Package")?.to_string();
    let version = fields.get("Version")?.to_string();
    // distroless' status.d files carry no Status: line; their presence is the installation.
    let installed = match fields.get("Status") {
        Some(s) => s.split_whitespace().last() == Some("installed"),
        None => distroless,
    };
    if !installed || name.is_empty() || version.is_empty() {
        return None;
    }
    // `Source: name` or `Source: name (version)`.
    let (source, source_version) = match fields.get("Source") {
        Some(s) => match s.split_once(' ') {
            Some((n, v)) => (
                n.to_string(),
                v.trim()
                    .trim_start_matches('(')
                    .trim_end_matches(')')
                    .to_string(),
            ),
            None => (s.to_string(), String::new()),
        },
        None => (name.clone(), String::new()),
    };
    Some(Package {
        name,
        version,
        source,
        source_version,
        arch: fields
            .get("Architecture")
            .map(|s| s.to_string())
            .unwrap_or_default(),
        path: path.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "\
Package: libssl3
Status: install ok installed
Priority: optional
Architecture: amd64
Source: openssl (3.0.11-1~deb12u2)
Version: 3.0.11-1~deb12u2+b1
Description: Secure Sockets Layer toolkit
 This package is part of the OpenSSL project.
 .
 Status: not a field

Package: removed-pkg
Status: deinstall ok config-files
Version: 1.0

Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b2
";

    #[test]
    fn installed_packages_with_their_sources() {
        let got = parse("var/lib/dpkg/status", STATUS);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].name, "libssl3");
        assert_eq!(got[0].version, "3.0.11-1~deb12u2+b1");
        assert_eq!(got[0].source, "openssl");
        assert_eq!(got[0].source_version, "3.0.11-1~deb12u2");
        assert_eq!(got[1].source, "bash");
        assert_eq!(got[1].source_version, "");
    }

    #[test]
    fn this_machines_status_file_reads_whole() {
        let Ok(text) = std::fs::read_to_string("/var/lib/dpkg/status") else {
            panic!("the test machine is Debian: /var/lib/dpkg/status must exist");
        };
        let got = parse("var/lib/dpkg/status", &text);
        let installed = text
            .split("\n\n")
            .filter(|s| s.lines().any(|l| l == "Status: install ok installed"))
            .count();
        assert_eq!(got.len(), installed);
        assert!(got.iter().any(|p| p.name == "dpkg"));
    }

    #[test]
    fn distroless_status_d_files() {
        assert!(is_database("var/lib/dpkg/status.d/base"));
        assert!(!is_database("var/lib/dpkg/status.d/base.md5sums"));
        assert!(!is_database("var/lib/dpkg/status-old"));
        let got = parse(
            "var/lib/dpkg/status.d/tzdata",
            "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n",
        );
        assert_eq!(got[0].name, "tzdata");
    }
}
