//! AES-256-GCM sealing of secrets at rest. A sealed value is `v1:` + base64(nonce ‖ ciphertext).

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;

const VERSION: &str = "v1:";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("secret key must be base64 of 32 bytes")]
    BadKey,
    #[error("sealed value is corrupt or was sealed with another key")]
    Corrupt,
}

/// Seals and opens secrets with one key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// A box from a base64-encoded 32-byte key.
    pub fn from_base64(key: &str) -> Result<Self, SealError> {
        let bytes = B64.decode(key.trim()).map_err(|_| SealError::BadKey)?;
        if bytes.len() != 32 {
            return Err(SealError::BadKey);
        }
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| SealError::BadKey)?;
        Ok(Self { cipher })
    }

    /// A new random key, base64-encoded.
    pub fn generate_key() -> String {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        B64.encode(key)
    }

    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        format!("{VERSION}{}", B64.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<String, SealError> {
        let body = sealed.strip_prefix(VERSION).ok_or(SealError::Corrupt)?;
        let bytes = B64.decode(body).map_err(|_| SealError::Corrupt)?;
        if bytes.len() < 12 {
            return Err(SealError::Corrupt);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| SealError::Corrupt)?;
        String::from_utf8(plain).map_err(|_| SealError::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_without_revealing_the_plaintext() {
        let b = SecretBox::from_base64(&SecretBox::generate_key()).unwrap();
        let sealed = b.seal("hunter2-password");
        assert!(!sealed.contains("hunter2"));
        assert_ne!(sealed, b.seal("hunter2-password"), "nonces differ");
        assert_eq!(b.open(&sealed).unwrap(), "hunter2-password");
    }

    #[test]
    fn another_key_or_a_flipped_bit_fails() {
        let a = SecretBox::from_base64(&SecretBox::generate_key()).unwrap();
        let b = SecretBox::from_base64(&SecretBox::generate_key()).unwrap();
        let sealed = a.seal("x");
        assert_eq!(b.open(&sealed), Err(SealError::Corrupt));
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push('A');
        assert!(a.open(&tampered).is_err() || tampered == sealed);
        assert_eq!(
            SecretBox::from_base64("c2hvcnQ=").unwrap_err(),
            SealError::BadKey
        );
    }
}
