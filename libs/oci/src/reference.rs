//! Image references as Kubernetes resolves them: `[host[:port]/]path[:tag][@digest]`, where a
//! first segment is a host only if it has a '.', a ':' or is `localhost`; no host means
//! `docker.io`, and a single-segment Docker Hub path gets `library/`.

/// `host[:port]` of a registry URL in [`canonical_host`] form. The one place Berth turns a
/// registry URL into a host, so a host maps to exactly one registry however its URL was written.
pub fn host_of_url(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str().filter(|h| !h.is_empty())?;
    Some(canonical_host(&match parsed.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }))
}

/// The canonical form of a `host[:port]` (of an image reference or a registry URL), so every
/// spelling of one endpoint compares equal: lowercased, without a trailing dot, `localhost`
/// and IPv6 loopback as `127.0.0.1`, IPv4-mapped IPv6 as IPv4, and without port 443 or 80
/// (image references carry no scheme, so either may be the default).
pub fn canonical_host(host_port: &str) -> String {
    let lower = host_port.trim().to_ascii_lowercase();
    let (host, port) = if let Some(rest) = lower.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, tail)) => (h.to_string(), tail.strip_prefix(':').map(str::to_string)),
            None => (lower.clone(), None),
        }
    } else {
        match lower.rsplit_once(':') {
            Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                (h.to_string(), Some(p.to_string()))
            }
            _ => (lower.clone(), None),
        }
    };
    let host = host.trim_end_matches('.').to_string();
    let host = match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.is_loopback() => "127.0.0.1".to_string(),
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => format!("[{v6}]"),
        },
        Ok(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Err(_) if host == "localhost" => "127.0.0.1".to_string(),
        Err(_) => host,
    };
    match port.as_deref().map(|p| p.trim_start_matches('0')) {
        None | Some("443") | Some("80") => host,
        Some("") => format!("{host}:0"),
        Some(p) => format!("{host}:{p}"),
    }
}

/// Whether `name` is a repository name by the distribution grammar: path components of
/// lowercase alphanumerics separated by `.`, `_`, `__` or runs of `-`, joined by `/`, at most
/// 255 characters. Nothing else reaches a registry URL (`..`, `%2F`, empty segments cannot).
pub fn valid_repository(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name.split('/').all(valid_component)
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    // Every run of non-alphanumerics is one separator: ".", "_", "__" or "-"+.
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let run = &c[start..i];
        let ok = matches!(run, "." | "_" | "__") || run.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// Whether `tag` is a tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

/// Whether `digest` is `algorithm:hex`: `sha256` with 64 and `sha512` with 128 lowercase hex
/// digits, or another algorithm name with at least 32.
pub fn valid_digest(digest: &str) -> bool {
    let Some((alg, hex)) = digest.split_once(':') else {
        return false;
    };
    let hex_ok = hex
        .bytes()
        .all(|x| x.is_ascii_digit() || (b'a'..=b'f').contains(&x));
    let alg_ok = !alg.is_empty()
        && alg.split(['+', '.', '_', '-']).all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|x| x.is_ascii_lowercase() || x.is_ascii_digit())
        });
    hex_ok
        && alg_ok
        && match alg {
            "sha256" => hex.len() == 64,
            "sha512" => hex.len() == 128,
            _ => hex.len() >= 32,
        }
}

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub host: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    pub fn parse(image: &str) -> Result<Self, String> {
        let image = image.trim();
        if image.is_empty() {
            return Err("image reference is empty".into());
        }
        if image.len() > 4096 || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("{image:?} is not an image reference"));
        }
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => {
                let valid = d.split_once(':').is_some_and(|(alg, hex)| {
                    !alg.is_empty() && !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())
                });
                if !valid {
                    return Err(format!("{d:?} is not a digest"));
                }
                (r, Some(d.to_string()))
            }
            None => (image, None),
        };
        let (host, path) = match rest.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path.to_string())
            }
            _ => ("docker.io".to_string(), rest.to_string()),
        };
        // A tag follows the last ':' after the last '/'.
        let (path, tag) = match path.rfind(':') {
            Some(i) if !path[i..].contains('/') => {
                (path[..i].to_string(), Some(path[i + 1..].to_string()))
            }
            _ => (path, None),
        };
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
                && !t.starts_with(['.', '-']);
            if !ok {
                return Err(format!("{t:?} is not a tag"));
            }
        }
        let repository = if host == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        let ok = !repository.is_empty()
            && repository.split('/').all(|c| {
                !c.is_empty()
                    && c.bytes().all(|b| {
                        b.is_ascii_lowercase()
                            || b.is_ascii_digit()
                            || b == b'.'
                            || b == b'_'
                            || b == b'-'
                    })
            });
        if !ok {
            return Err(format!("{repository:?} is not a repository path"));
        }
        Ok(Self {
            host,
            repository,
            tag,
            digest,
        })
    }

    /// The first path segment: the space of the repository (empty for a one-segment path).
    pub fn space(&self) -> &str {
        self.repository.split_once('/').map_or("", |(s, _)| s)
    }
}

/// Whether `tag` is a referrers tag-schema index (`sha256-<hex>`): it describes another
/// artifact (its signatures, SBOMs) and is never an artifact of its own.
pub fn is_referrers_tag(tag: &str) -> bool {
    tag.strip_prefix("sha256-")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_spelling_of_a_host_is_one() {
        use super::{canonical_host as c, host_of_url as u};
        for (a, b) in [
            ("Reg.Example.com:443", "reg.example.com"),
            ("reg.example.com.:5000", "reg.example.com:5000"),
            ("localhost:5000", "127.0.0.1:5000"),
            ("localhost.:5000", "127.0.0.1:5000"),
            ("[::1]:5000", "127.0.0.1:5000"),
            ("[::ffff:7f00:1]:5000", "127.0.0.1:5000"),
            ("reg.example.com:80", "reg.example.com"),
            ("reg.example.com:05000", "reg.example.com:5000"),
        ] {
            assert_eq!(c(a), c(b), "{a} ~ {b}");
        }
        assert_ne!(c("reg.example.com:5000"), c("reg.example.com:5001"));
        assert_eq!(u("http://reg.example.com:443").unwrap(), "reg.example.com");
        assert_eq!(u("https://[::1]:5000/x").unwrap(), "127.0.0.1:5000");
        assert_eq!(u("http://LOCALHOST:5000").unwrap(), "127.0.0.1:5000");
    }

    #[test]
    fn distribution_grammar() {
        for good in ["a", "team/app", "a.b_c__d---e/f1", "x/y/z", "0"] {
            assert!(super::valid_repository(good), "{good}");
        }
        for bad in [
            "",
            "A",
            "apps/../library/nginx",
            "a..b",
            "a/./b",
            "a//b",
            "/a",
            "a/",
            "a___b",
            "a%2Fb",
            "a b",
            "-a",
            "a-",
            "a?b",
            &"a".repeat(256),
        ] {
            assert!(!super::valid_repository(bad), "{bad:?}");
        }
        for good in ["v1", "latest", "1.0-rc_2", "_x", &"t".repeat(128)] {
            assert!(super::valid_tag(good), "{good}");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", "../x", &"t".repeat(129)] {
            assert!(!super::valid_tag(bad), "{bad:?}");
        }
        let hex = "a".repeat(64);
        assert!(super::valid_digest(&format!("sha256:{hex}")));
        for bad in [
            "sha256:".to_string(),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha256:{}", "a".repeat(63)),
            format!("sha256:{hex}/../x"),
            "sha256".to_string(),
            format!(":{hex}"),
        ] {
            assert!(!super::valid_digest(&bad), "{bad:?}");
        }
    }

    use super::Reference;

    fn r(host: &str, repo: &str, tag: Option<&str>, digest: Option<&str>) -> Reference {
        Reference {
            host: host.into(),
            repository: repo.into(),
            tag: tag.map(Into::into),
            digest: digest.map(Into::into),
        }
    }

    #[test]
    fn resolves_like_kubernetes() {
        let d = format!("sha256:{}", "a".repeat(64));
        for (input, want) in [
            ("nginx", r("docker.io", "library/nginx", None, None)),
            (
                "nginx:1.25",
                r("docker.io", "library/nginx", Some("1.25"), None),
            ),
            ("team/app:v1", r("docker.io", "team/app", Some("v1"), None)),
            (
                "127.0.0.1:5000/team-a/app:v1",
                r("127.0.0.1:5000", "team-a/app", Some("v1"), None),
            ),
            ("localhost/app", r("localhost", "app", None, None)),
            (
                "reg.example.com/a/b/c",
                r("reg.example.com", "a/b/c", None, None),
            ),
        ] {
            assert_eq!(Reference::parse(input).unwrap(), want, "{input}");
        }
        let with_digest = Reference::parse(&format!("reg.io:443/s/app:v1@{d}")).unwrap();
        assert_eq!(with_digest, r("reg.io:443", "s/app", Some("v1"), Some(&d)));
        assert_eq!(with_digest.space(), "s");
    }

    #[test]
    fn rejects_malformed_references() {
        for bad in [
            "",
            " ",
            "UPPER/app",
            "reg.io/a//b",
            "reg.io/app:",
            "reg.io/app:-x",
            "reg.io/app@sha256:zz",
            "a b",
            "reg.io/",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?}");
        }
    }
}
