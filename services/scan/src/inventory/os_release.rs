//! `etc/os-release` (or `usr/lib/os-release`): which distribution and version an image is.

use super::Os;

pub fn is_file(path: &str) -> bool {
    matches!(path, "etc/os-release" | "usr/lib/os-release")
}

pub fn parse(text: &str) -> Os {
    let mut os = Os::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
        match k.trim() {
            "ID" => os.id = v,
            "VERSION_ID" => os.version = v,
            "VERSION_CODENAME" => os.codename = v,
            "PRETTY_NAME" => os.pretty_name = v,
            _ => {}
        }
    }
    os
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_machines_os_release() {
        let text = std::fs::read_to_string("/etc/os-release").expect("the test machine has one");
        let os = super::parse(&text);
        assert_eq!(os.id, "debian");
        assert!(!os.version.is_empty());
    }

    #[test]
    fn quotes_and_comments() {
        let os = super::parse(
            "# a comment\nID=alpine\nVERSION_ID='3.20.1'\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
        );
        assert_eq!((os.id.as_str(), os.version.as_str()), ("alpine", "3.20.1"));
        assert_eq!(os.pretty_name, "Alpine Linux v3.20");
    }
}
