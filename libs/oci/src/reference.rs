//! Image references as Kubernetes resolves them: `[host[:port]/]path[:tag][@digest]`, where a
//! first segment is a host only if it has a '.', a ':' or is `localhost`; no host means
//! `docker.io`, and a single-segment Docker Hub path gets `library/`.

/// `host[:port]` of a registry URL as image references name it: the host lowercased, the port
/// only when it is not the scheme's default. The one place Berth turns a registry URL into a
/// host, so a host maps to exactly one registry however its URL was written.
pub fn host_of_url(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())?
        .to_ascii_lowercase();
    Some(match parsed.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    })
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

#[cfg(test)]
mod tests {
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
