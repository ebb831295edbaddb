//! Random credentials (session and API tokens, product secrets, user tokens) and their digests.
//!
//! Credentials are never stored: only their SHA-256 is, so a leaked catalog file does not
//! hand out logins. SHA-256 (not a slow hash) is right here because the inputs carry 256
//! random bits and cannot be guessed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix of every bearer API token (reporting-api §1.4 B).
pub(crate) const API_TOKEN_PREFIX: &str = "uit_";
/// Length of a base64url, unpadded encoding of 32 bytes.
const TOKEN_BODY_LEN: usize = 43;
/// Characters of a token shown for identification (`uit_` plus four).
pub(crate) const DISPLAY_PREFIX_LEN: usize = 8;

/// A SHA-256 digest as stored in the catalog.
pub(crate) type Digest32 = [u8; 32];

fn random_32() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// A new session token: 32 random bytes, base64url without padding (43 chars).
pub(crate) fn new_session_token() -> String {
    URL_SAFE_NO_PAD.encode(random_32())
}

/// A new API token: `uit_` and 43 base64url characters.
pub(crate) fn new_api_token() -> String {
    format!("{API_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(random_32()))
}

/// A new product secret: 16 random bytes as 32 lowercase hex characters.
pub(crate) fn new_product_secret() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A new user token: 16 alphanumeric characters. It is an identifier, not a credential.
pub(crate) fn new_user_token() -> String {
    OsRng.sample_iter(&Alphanumeric).take(16).map(char::from).collect()
}

/// SHA-256 of a credential's text.
pub(crate) fn digest(text: &str) -> Digest32 {
    Sha256::digest(text.as_bytes()).into()
}

/// Compares two digests in constant time.
pub(crate) fn digests_equal(a: &Digest32, b: &Digest32) -> bool {
    a.ct_eq(b).into()
}

fn is_base64url_body(s: &str) -> bool {
    s.len() == TOKEN_BODY_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether text has the shape of a session token; others need no database lookup.
pub(crate) fn is_session_token_shape(s: &str) -> bool {
    is_base64url_body(s)
}

/// Whether text has the shape of an API token; others need no database lookup.
pub(crate) fn is_api_token_shape(s: &str) -> bool {
    s.strip_prefix(API_TOKEN_PREFIX).is_some_and(is_base64url_body)
}

/// Converts a stored digest back to its fixed size.
pub(crate) fn digest_from_slice(bytes: &[u8]) -> Option<Digest32> {
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let s = new_session_token();
        assert_eq!(s.len(), 43);
        assert!(is_session_token_shape(&s));
        let t = new_api_token();
        assert_eq!(t.len(), 47);
        assert!(is_api_token_shape(&t));
        assert!(!is_api_token_shape(&s));
        assert!(!is_session_token_shape(&t));
        let secret = new_product_secret();
        assert_eq!(secret.len(), 32);
        assert!(secret.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        let u = new_user_token();
        assert_eq!(u.len(), 16);
        assert_ne!(new_session_token(), s);
    }

    #[test]
    fn digest_comparison() {
        assert!(digests_equal(&digest("a"), &digest("a")));
        assert!(!digests_equal(&digest("a"), &digest("b")));
        assert_eq!(digest_from_slice(&[0u8; 31]), None);
    }
}
