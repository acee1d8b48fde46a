//! SBOMs of a scanned artifact: CycloneDX 1.6 JSON and SPDX 2.3 JSON, one component (package)
//! per installed package with its package URL, built from the same inventory the findings come
//! from.

use serde_json::{json, Value};

use crate::inventory::{Ecosystem, Image, Installed};

/// What an SBOM describes: the artifact's name (`registry/repository`), its digest and when
/// it was made.
pub struct Subject<'a> {
    pub name: &'a str,
    pub digest: &'a str,
    /// RFC 3339.
    pub created: &'a str,
}

fn encode(part: &str) -> String {
    percent_encoding::utf8_percent_encode(part, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2E", ".")
        .replace("%2D", "-")
        .replace("%5F", "_")
        .replace("%7E", "~")
}

/// The package URL (<https://github.com/package-url/purl-spec>) of an installed package.
pub fn purl(installed: &Installed, image: &Image) -> Option<String> {
    let p = &installed.package;
    let os = image.os.as_ref();
    let distro = os.map(|o| format!("{}-{}", o.id, o.version));
    let version = encode(&p.version);
    Some(match installed.ecosystem? {
        Ecosystem::Debian | Ecosystem::Ubuntu => {
            let vendor = os.map(|o| o.id.as_str()).unwrap_or("debian");
            let mut q = vec![format!("arch={}", encode(&p.arch))];
            if let Some(d) = &distro {
                q.push(format!("distro={d}"));
            }
            format!(
                "pkg:deb/{vendor}/{}@{version}?{}",
                encode(&p.name),
                q.join("&")
            )
        }
        Ecosystem::Alpine => {
            let mut q = vec![format!("arch={}", encode(&p.arch))];
            if let Some(d) = &distro {
                q.push(format!("distro={d}"));
            }
            format!(
                "pkg:apk/alpine/{}@{version}?{}",
                encode(&p.name),
                q.join("&")
            )
        }
        // The epoch is a qualifier (`pkg:rpm/rocky/openssl-libs@3.0.7-27.el9?…&epoch=1`).
        Ecosystem::Rpm => {
            let vendor = match os.map(|o| o.id.as_str()) {
                Some("rhel") => "redhat",
                Some(id) => id,
                None => "rpm",
            };
            let (epoch, version) = match p.version.split_once(':') {
                Some((e, v)) if e.bytes().all(|c| c.is_ascii_digit()) => (Some(e), v),
                _ => (None, p.version.as_str()),
            };
            let mut q = vec![format!("arch={}", encode(&p.arch))];
            if let Some(d) = &distro {
                q.push(format!("distro={d}"));
            }
            if let Some(e) = epoch {
                q.push(format!("epoch={e}"));
            }
            format!(
                "pkg:rpm/{}/{}@{}?{}",
                encode(vendor),
                encode(&p.name),
                encode(version),
                q.join("&")
            )
        }
        Ecosystem::PyPI => format!(
            "pkg:pypi/{}@{version}",
            encode(&p.name.to_ascii_lowercase().replace('_', "-"))
        ),
        Ecosystem::Npm => match p.name.strip_prefix('@').and_then(|n| n.split_once('/')) {
            Some((scope, name)) => {
                format!("pkg:npm/%40{}/{}@{version}", encode(scope), encode(name))
            }
            None => format!("pkg:npm/{}@{version}", encode(&p.name)),
        },
        Ecosystem::CratesIo => format!("pkg:cargo/{}@{version}", encode(&p.name)),
        // `group:artifact` (`pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1`).
        Ecosystem::Maven => match p.name.split_once(':') {
            Some((group, artifact)) => {
                format!("pkg:maven/{}/{}@{version}", encode(group), encode(artifact))
            }
            None => format!("pkg:maven/{}@{version}", encode(&p.name)),
        },
        // The module path's segments are the namespace and name (`pkg:golang/stdlib@v1.21.5`).
        Ecosystem::Go => format!(
            "pkg:golang/{}@{version}",
            p.name.split('/').map(encode).collect::<Vec<_>>().join("/")
        ),
    })
}

/// CycloneDX 1.6 JSON.
pub fn cyclonedx(image: &Image, subject: &Subject) -> Value {
    let components: Vec<Value> = image
        .packages
        .iter()
        .enumerate()
        .map(|(i, installed)| {
            let p = &installed.package;
            let mut c = json!({
                "bom-ref": format!("pkg-{i}"),
                "type": "library",
                "name": p.name,
                "version": p.version,
                "properties": [
                    {"name": "berth:layer", "value": installed.layer},
                    {"name": "berth:path", "value": p.path},
                ],
            });
            if let Some(purl) = purl(installed, image) {
                c["purl"] = purl.into();
            }
            c
        })
        .collect();
    let mut metadata = json!({
        "timestamp": subject.created,
        "tools": {"components": [{"type": "application", "name": "berth", "version": env!("CARGO_PKG_VERSION")}]},
        "component": {
            "bom-ref": "subject",
            "type": "container",
            "name": subject.name,
            "version": subject.digest,
        },
    });
    if let Some(os) = &image.os {
        metadata["component"]["properties"] = json!([
            {"name": "berth:os", "value": format!("{} {}", os.id, os.version)}
        ]);
    }
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", uuid_of(subject.digest)),
        "version": 1,
        "metadata": metadata,
        "components": components,
        "dependencies": [{
            "ref": "subject",
            "dependsOn": (0..image.packages.len()).map(|i| format!("pkg-{i}")).collect::<Vec<_>>(),
        }],
    })
}

/// A UUID (version 8, RFC 9562) derived from the digest, so one artifact's SBOM has one serial.
fn uuid_of(digest: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(digest.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// An SPDX identifier made of what SPDX allows (letters, digits, `.` and `-`).
fn spdx_id(prefix: &str, i: usize) -> String {
    format!("SPDXRef-{prefix}-{i}")
}

/// SPDX 2.3 JSON.
pub fn spdx(image: &Image, subject: &Subject) -> Value {
    let root = "SPDXRef-Artifact";
    let mut packages = vec![json!({
        "SPDXID": root,
        "name": subject.name,
        "versionInfo": subject.digest,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
    })];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": root,
    })];
    for (i, installed) in image.packages.iter().enumerate() {
        let p = &installed.package;
        let id = spdx_id("Package", i);
        let mut package = json!({
            "SPDXID": id,
            "name": p.name,
            "versionInfo": p.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "comment": format!("layer {}, {}", installed.layer, p.path),
        });
        if let Some(purl) = purl(installed, image) {
            package["externalRefs"] = json!([{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": purl,
            }]);
        }
        packages.push(package);
        relationships.push(json!({
            "spdxElementId": root,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{}@{}", subject.name, subject.digest),
        "documentNamespace": format!("https://berth.invalid/spdx/{}", uuid_of(subject.digest)),
        "creationInfo": {
            "created": subject.created,
            "creators": [format!("Tool: berth-{}", env!("CARGO_PKG_VERSION"))],
        },
        "packages": packages,
        "relationships": relationships,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{lang, Found};

    /// An image of this machine's dpkg status and os-release, a scoped npm package and a
    /// Python distribution.
    fn machine_image() -> Image {
        let status = std::fs::read_to_string("/var/lib/dpkg/status").unwrap();
        let mut layer = crate::inventory::machine_layer(&status);
        let npm = "srv/node_modules/@babel/core/package.json";
        layer.found.insert(
            npm.into(),
            Found::Language(
                Ecosystem::Npm,
                lang::parse(
                    Ecosystem::Npm,
                    npm,
                    r#"{"name":"@babel/core","version":"7.1.0"}"#,
                ),
            ),
        );
        let py = "usr/lib/python3/dist-packages/Jinja2-2.10.dist-info/METADATA";
        layer.found.insert(
            py.into(),
            Found::Language(
                Ecosystem::PyPI,
                lang::parse(Ecosystem::PyPI, py, "Name: Jinja2\nVersion: 2.10\n"),
            ),
        );
        Image::from_layers([("sha256:layer", &layer)])
    }

    fn subject() -> Subject<'static> {
        Subject {
            name: "127.0.0.1:5000/team/app",
            digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            created: "2026-12-04T19:03:21Z",
        }
    }

    #[test]
    fn package_urls() {
        let image = machine_image();
        let purls: Vec<String> = image
            .packages
            .iter()
            .filter_map(|i| purl(i, &image))
            .collect();
        assert!(purls
            .iter()
            .any(|p| p.starts_with("pkg:deb/debian/dpkg@")
                && p.contains("?arch=amd64&distro=debian-")));
        assert!(
            purls.contains(&"pkg:npm/%40babel/core@7.1.0".to_string()),
            "{purls:?}"
        );
        assert!(purls.contains(&"pkg:pypi/jinja2@2.10".to_string()));
        // A version with an epoch keeps it, encoded.
        assert!(purls
            .iter()
            .all(|p| !p.contains(':') || p.starts_with("pkg:")));
    }

    /// The validators of the formats' own projects accept both documents (cyclonedx-python-lib
    /// and spdx-tools, from the venv `scripts/test.sh` installs).
    #[test]
    fn both_formats_validate_with_their_projects_tools() {
        let image = machine_image();
        let venv = berth_testkit::tools_venv();
        let dir = tempfile::tempdir().unwrap();
        let cdx = dir.path().join("bom.cdx.json");
        let spdx_file = dir.path().join("bom.spdx.json");
        std::fs::write(&cdx, cyclonedx(&image, &subject()).to_string()).unwrap();
        std::fs::write(&spdx_file, spdx(&image, &subject()).to_string()).unwrap();
        let script = r#"
import sys
from cyclonedx.validation.json import JsonStrictValidator
from cyclonedx.schema import SchemaVersion
error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
if error:
    print("CycloneDX:", error)
    sys.exit(1)
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
messages = validate_full_spdx_document(parse_file(sys.argv[2]))
if messages:
    print("SPDX:", [m.validation_message for m in messages][:5])
    sys.exit(1)
print("both valid")
"#;
        let out = std::process::Command::new(venv.join("bin/python"))
            .args(["-c", script])
            .arg(&cdx)
            .arg(&spdx_file)
            .output()
            .expect("the tools venv (scripts/test.sh installs it)");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && text.contains("both valid"),
            "{text}"
        );
        let doc = cyclonedx(&image, &subject());
        assert_eq!(
            doc["components"].as_array().unwrap().len(),
            image.packages.len()
        );
    }
}
