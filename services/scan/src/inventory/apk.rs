//! apk's database, `lib/apk/db/installed`: stanzas of one-letter fields (`P:` name, `V:`
//! version, `A:` architecture, `o:` origin, the source package).

use super::Package;

pub const DATABASE: &str = "lib/apk/db/installed";

pub fn parse(path: &str, text: &str) -> Vec<Package> {
    text.split("\n\n")
        .filter_map(|stanza| {
            let field = |k: &str| {
                stanza
                    .lines()
                    .find_map(|l| l.strip_prefix(k))
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
            };
            let name = field("P:")?.to_string();
            let version = field("V:")?.to_string();
            Some(Package {
                source: field("o:").unwrap_or(&name).to_string(),
                source_version: String::new(),
                arch: field("A:").unwrap_or_default().to_string(),
                path: path.into(),
                name,
                version,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn packages_with_their_origins() {
        let text = "C:Q1abc=\nP:libcrypto3\nV:3.3.1-r0\nA:x86_64\no:openssl\n\nC:Q1def=\nP:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n\n";
        let got = super::parse(super::DATABASE, text);
        assert_eq!(got.len(), 2);
        assert_eq!(
            (
                got[0].name.as_str(),
                got[0].version.as_str(),
                got[0].source.as_str()
            ),
            ("libcrypto3", "3.3.1-r0", "openssl")
        );
    }
}
