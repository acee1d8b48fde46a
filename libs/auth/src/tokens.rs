//! Random bearer tokens. Only a token's SHA-256 is stored; the token is shown once.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of Berth API tokens, so leaked tokens are recognizable by secret scanners.
pub const API_TOKEN_PREFIX: &str = "berth_";

/// A new random token: the prefix and 32 random bytes in hex.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{API_TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// The stored form of a token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_unique_and_hash_stably() {
        let a = super::generate();
        let b = super::generate();
        assert_ne!(a, b);
        assert!(a.starts_with(super::API_TOKEN_PREFIX));
        assert_eq!(super::hash(&a), super::hash(&a));
        assert_ne!(super::hash(&a), super::hash(&b));
        assert!(!super::hash(&a).contains(&a[6..]));
    }
}
