//! Opaque page tokens. A list's next page is found from what the owning service answers (often
//! the last name of the page), which may name something the caller must not see. The gateway
//! hands out only that, sealed: AES-256-GCM over the list's name, the caller and the inner token,
//! with a key every gateway replica derives from the internal service credential. A token reveals
//! nothing, opens only the list and for the principal it was made for, and cannot be forged.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use berth_auth::sealed::SecretBox;
use berth_error::{ApiError, ApiResult};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::authn::Principal;

#[derive(Clone)]
pub struct PageTokens {
    secrets: SecretBox,
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    /// The list.
    l: String,
    /// The principal.
    p: String,
    /// The owning service's token.
    t: String,
}

impl PageTokens {
    /// Keys derive from `seed` (the internal credential, shared by every replica); without one, a
    /// random key (tokens then open only at this process).
    pub fn new(seed: Option<&str>) -> Self {
        let key = match seed {
            Some(s) => STANDARD.encode(Sha256::digest(format!("berth page tokens\0{s}"))),
            None => SecretBox::generate_key(),
        };
        Self {
            secrets: SecretBox::from_base64(&key).expect("a 32-byte key"),
        }
    }

    /// The token a caller gets for `inner` (empty stays empty: no more pages).
    pub fn seal(&self, p: &Principal, list: &str, inner: &str) -> String {
        if inner.is_empty() {
            return String::new();
        }
        let plain = serde_json::to_string(&Sealed {
            l: list.into(),
            p: p.name.clone(),
            t: inner.into(),
        })
        .expect("page token serializes");
        URL_SAFE_NO_PAD.encode(self.secrets.seal(&plain))
    }

    /// The inner token of a caller's `token`; `400` on `page_token` for anything not made by
    /// [`PageTokens::seal`] for this list and principal.
    pub fn open(&self, p: &Principal, list: &str, token: &str) -> ApiResult<String> {
        if token.is_empty() {
            return Ok(String::new());
        }
        let invalid = || ApiError::invalid("page_token", "is not a page token of this list");
        let sealed = URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(invalid)?;
        let plain = self.secrets.open(&sealed).map_err(|_| invalid())?;
        let s: Sealed = serde_json::from_str(&plain).map_err(|_| invalid())?;
        if s.l != list || s.p != p.name {
            return Err(invalid());
        }
        Ok(s.t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(name: &str) -> Principal {
        Principal {
            name: name.into(),
            platform_admin: false,
            roles: Default::default(),
        }
    }

    #[test]
    fn tokens_are_opaque_and_bound_to_list_and_principal() {
        let pages = PageTokens::new(Some("seed-seed-seed-seed"));
        let t = pages.seal(&who("alice"), "spaces", "green-secret-space");
        assert!(!t.contains("green"), "{t}");
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(
            pages.open(&who("alice"), "spaces", &t).unwrap(),
            "green-secret-space"
        );
        for (p, list) in [("bob", "spaces"), ("alice", "registries")] {
            let e = pages.open(&who(p), list, &t).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("page_token"));
        }
        assert!(pages.open(&who("alice"), "spaces", "green").is_err());
        // Another replica with the same seed opens it; another seed does not.
        let replica = PageTokens::new(Some("seed-seed-seed-seed"));
        assert!(replica.open(&who("alice"), "spaces", &t).is_ok());
        assert!(PageTokens::new(Some("other"))
            .open(&who("alice"), "spaces", &t)
            .is_err());
        assert_eq!(pages.seal(&who("alice"), "spaces", ""), "");
        assert_eq!(pages.open(&who("alice"), "spaces", "").unwrap(), "");
    }
}
