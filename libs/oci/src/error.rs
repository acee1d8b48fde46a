//! What can go wrong talking to a registry, phrased for an operator.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OciError {
    #[error("bad registry URL: {0}")]
    BadUrl(String),
    #[error("DNS lookup failed for {0}")]
    Dns(String),
    #[error("connection refused by {0}")]
    Refused(String),
    #[error("TLS handshake with {host} failed: {detail}")]
    Tls { host: String, detail: String },
    #[error("timed out talking to {0}")]
    Timeout(String),
    #[error("could not reach {host}: {detail}")]
    Connect { host: String, detail: String },
    #[error("authentication failed: {0}")]
    Unauthorized(String),
    #[error("access denied: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("not a container registry: {0}")]
    NotARegistry(String),
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch { expected: String, actual: String },
    #[error("registry answered {status}: {detail}")]
    Status { status: u16, detail: String },
    #[error("unexpected registry response: {0}")]
    Protocol(String),
    /// A repository name, tag or digest outside the distribution grammar: never sent.
    #[error("{0}")]
    BadName(String),
}

impl OciError {
    /// Classifies a transport error by walking its source chain.
    pub fn from_transport(host: &str, e: &reqwest::Error) -> Self {
        let mut chain = String::new();
        let mut cur: Option<&dyn std::error::Error> = Some(e);
        while let Some(err) = cur {
            chain.push_str(&err.to_string());
            chain.push_str(": ");
            cur = err.source();
        }
        let lower = chain.to_lowercase();
        let host = host.to_string();
        if e.is_timeout() {
            Self::Timeout(host)
        } else if lower.contains("dns error")
            || lower.contains("failed to lookup address")
            || lower.contains("name or service not known")
        {
            Self::Dns(host)
        } else if lower.contains("connection refused") {
            Self::Refused(host)
        } else if lower.contains("invalidcontenttype") || lower.contains("corrupt message") {
            Self::Tls {
                host,
                detail: "the server does not speak TLS (use http:// for a plain-HTTP registry)"
                    .into(),
            }
        } else if lower.contains("certificate") {
            Self::Tls {
                host,
                detail: format!(
                    "{} (set insecure to accept it)",
                    chain.trim_end_matches(": ")
                ),
            }
        } else if lower.contains("tls") || lower.contains("ssl") || lower.contains("handshake") {
            Self::Tls {
                host,
                detail: chain.trim_end_matches(": ").to_string(),
            }
        } else {
            Self::Connect {
                host,
                detail: chain.trim_end_matches(": ").to_string(),
            }
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Refused(_) | Self::Timeout(_) | Self::Connect { .. } | Self::Dns(_)
        ) || matches!(self, Self::Status { status, .. } if *status >= 500 || *status == 429)
    }
}
