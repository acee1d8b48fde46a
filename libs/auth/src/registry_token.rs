//! Registry bearer tokens per the Docker Registry v2 token authentication spec: JWTs signed
//! with ES256 by a key whose self-signed certificate the registry trusts
//! (`auth.token.rootcertbundle`). The header's `kid` is the libtrust key ID of that key, which
//! is how Distribution finds it among its trusted certificates.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// One grant: actions on a named resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    nbf: i64,
    iat: i64,
    jti: String,
    access: &'a [Access],
}

#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("token signing key: {0}")]
    Key(String),
    #[error("token certificate: {0}")]
    Certificate(String),
}

/// Signs registry tokens.
#[derive(Clone)]
pub struct TokenSigner {
    key: SigningKey,
    certificate_pem: String,
    kid: String,
    pub issuer: String,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenSigner(kid={}, issuer={})", self.kid, self.issuer)
    }
}

/// libtrust's key ID: the first 240 bits of SHA-256 over the DER public key, base32, in
/// twelve groups of four joined by ':'.
pub fn libtrust_key_id(public_key_der: &[u8]) -> String {
    let digest = Sha256::digest(public_key_der);
    let encoded = base32(&digest[..30]);
    encoded
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).expect("base32 is ASCII"))
        .collect::<Vec<_>>()
        .join(":")
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

impl TokenSigner {
    /// A new key and a self-signed certificate for it.
    pub fn generate(issuer: &str) -> Result<Self, SignerError> {
        Self::with_key(SigningKey::random(&mut rand::rngs::OsRng), issuer)
    }

    /// The signer of a PKCS#8 PEM P-256 key (`BERTH_TOKEN_SIGNING_KEY_FILE`), with a
    /// self-signed certificate made for it. Every replica given the same key signs tokens the
    /// same registries accept: they find the key by its `kid`, which the key alone decides.
    pub fn from_key_file(path: &std::path::Path, issuer: &str) -> Result<Self, SignerError> {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| SignerError::Key(format!("{}: {e}", path.display())))?;
        let key = SigningKey::from_pkcs8_pem(&pem)
            .map_err(|e| SignerError::Key(format!("{}: {e}", path.display())))?;
        Self::with_key(key, issuer)
    }

    fn with_key(key: SigningKey, issuer: &str) -> Result<Self, SignerError> {
        let key_pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| SignerError::Key(e.to_string()))?;
        let pair =
            rcgen::KeyPair::from_pem(&key_pem).map_err(|e| SignerError::Key(e.to_string()))?;
        let mut params = rcgen::CertificateParams::new(vec![issuer.to_string()])
            .map_err(|e| SignerError::Certificate(e.to_string()))?;
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!("{issuer} registry token signer"),
        );
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = rcgen::date_time_ymd(2124, 1, 1);
        let cert = params
            .self_signed(&pair)
            .map_err(|e| SignerError::Certificate(e.to_string()))?;
        Self::from_parts(key, cert.pem(), issuer)
    }

    /// A signer from a PKCS#8 PEM key and its PEM certificate.
    pub fn from_pem(
        key_pem: &str,
        certificate_pem: &str,
        issuer: &str,
    ) -> Result<Self, SignerError> {
        let key =
            SigningKey::from_pkcs8_pem(key_pem).map_err(|e| SignerError::Key(e.to_string()))?;
        Self::from_parts(key, certificate_pem.to_string(), issuer)
    }

    fn from_parts(
        key: SigningKey,
        certificate_pem: String,
        issuer: &str,
    ) -> Result<Self, SignerError> {
        let der = key
            .verifying_key()
            .to_public_key_der()
            .map_err(|e| SignerError::Key(e.to_string()))?;
        Ok(Self {
            kid: libtrust_key_id(der.as_bytes()),
            key,
            certificate_pem,
            issuer: issuer.to_string(),
        })
    }

    /// The signer kept in `dir` (`token-key.pem`, `token-cert.pem`), created there on first use.
    pub fn load_or_create(dir: &std::path::Path, issuer: &str) -> Result<Self, SignerError> {
        let (key_path, cert_path) = (dir.join("token-key.pem"), dir.join("token-cert.pem"));
        if let (Ok(key), Ok(cert)) = (
            std::fs::read_to_string(&key_path),
            std::fs::read_to_string(&cert_path),
        ) {
            return Self::from_pem(&key, &cert, issuer);
        }
        let signer = Self::generate(issuer)?;
        let write = |path: &std::path::Path, text: &str| -> Result<(), SignerError> {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            std::io::Write::write_all(
                &mut opts
                    .open(path)
                    .map_err(|e| SignerError::Key(e.to_string()))?,
                text.as_bytes(),
            )
            .map_err(|e| SignerError::Key(e.to_string()))
        };
        write(&key_path, &signer.key_pem())?;
        write(&cert_path, signer.certificate_pem())?;
        Ok(signer)
    }

    /// The private key as PKCS#8 PEM (to persist it).
    pub fn key_pem(&self) -> String {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map(|p| p.to_string())
            .unwrap_or_default()
    }

    /// The certificate a registry's `rootcertbundle` must hold.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    pub fn key_id(&self) -> &str {
        &self.kid
    }

    /// A token for `subject` to use `access` at the registry `audience`, valid `ttl_secs`.
    pub fn sign(&self, subject: &str, audience: &str, access: &[Access], ttl_secs: i64) -> String {
        let now = chrono::Utc::now().timestamp();
        let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "kid": self.kid});
        let claims = Claims {
            iss: &self.issuer,
            sub: subject,
            aud: audience,
            exp: now + ttl_secs,
            nbf: now - 10,
            iat: now,
            jti: hex::encode(rand::random::<[u8; 16]>()),
            access,
        };
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("json")),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("json"))
        );
        let signature: Signature = self.key.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }
}

/// Subject of the tokens Berth's own services sign for themselves.
pub const INTERNAL_SUBJECT: &str = "berth";

/// How long a token Berth signs for itself is valid.
const MINTED_TTL_SECS: i64 = 300;

/// Signs tokens for Berth's own calls to one registry behind its token service: the audience is
/// that registry's name in Berth (its `auth.token.service`), the access exactly the scope of
/// the call. Such a token opens nothing at any other registry.
pub struct Minter {
    signer: std::sync::Arc<TokenSigner>,
    service: String,
}

impl Minter {
    pub fn new(signer: std::sync::Arc<TokenSigner>, service: &str) -> Self {
        Self {
            signer,
            service: service.to_string(),
        }
    }
}

impl berth_oci::TokenMinter for Minter {
    fn mint(&self, scope: &str) -> String {
        let access: Vec<Access> = scope.split(' ').filter_map(parse_scope).collect();
        self.signer
            .sign(INTERNAL_SUBJECT, &self.service, &access, MINTED_TTL_SECS)
    }
}

/// Parses one `type:name:actions` scope (the name may contain ':' for a port-qualified
/// registry; a `type(class)` loses its class).
pub fn parse_scope(scope: &str) -> Option<Access> {
    let (kind, rest) = scope.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    let kind = kind.split('(').next().unwrap_or(kind).to_string();
    Some(Access {
        kind,
        name: name.to_string(),
        actions: actions
            .split(',')
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect(),
    })
}

/// Decodes a `Basic` authorization value into user and password.
pub fn basic_credentials(header: &str) -> Option<(String, String)> {
    let b64 = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let raw = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
    let (user, pass) = raw.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;

    #[test]
    fn scopes() {
        let a = parse_scope("repository:team/app:pull,push").unwrap();
        assert_eq!(
            (a.kind.as_str(), a.name.as_str()),
            ("repository", "team/app")
        );
        assert_eq!(a.actions, vec!["pull", "push"]);
        let a = parse_scope("registry:catalog:*").unwrap();
        assert_eq!((a.kind.as_str(), a.actions), ("registry", vec!["*".into()]));
        assert_eq!(
            parse_scope("repository(plugin):a/b:pull").unwrap().kind,
            "repository"
        );
        assert_eq!(
            parse_scope("repository:host:5000/a:pull").unwrap().name,
            "host:5000/a"
        );
        assert!(parse_scope("nonsense").is_none());
    }

    #[test]
    fn signs_verifiable_tokens_with_a_libtrust_kid() {
        let s = TokenSigner::generate("berth").unwrap();
        assert!(s
            .certificate_pem()
            .starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(
            s.key_id().len(),
            59,
            "12 groups of 4 and 11 colons: {}",
            s.key_id()
        );
        let access = vec![Access {
            kind: "repository".into(),
            name: "team/app".into(),
            actions: vec!["pull".into()],
        }];
        let jwt = s.sign("ns:prod", "dist", &access, 300);
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], "dist");
        assert_eq!(claims["access"][0]["name"], "team/app");
        let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        assert!(s.key.verifying_key().verify(input.as_bytes(), &sig).is_ok());
        let again = TokenSigner::from_pem(&s.key_pem(), s.certificate_pem(), "berth").unwrap();
        assert_eq!(again.key_id(), s.key_id());
    }

    #[test]
    fn base32_matches_rfc4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(
            basic_credentials("Basic YWxpY2U6czNjcmV0"),
            Some(("alice".into(), "s3cret".into()))
        );
        assert_eq!(basic_credentials("Bearer x"), None);
    }
}
