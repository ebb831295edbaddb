//! The two Reporting API cookies and the stateless CSRF value (reporting-api §1.4).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// Name of the CSRF cookie.
pub const CSRF_COOKIE: &str = "RUI-Csrf";
/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "RUI-Session-Token";
/// Lifetime of both cookies and of a session, seconds (11 h).
pub const COOKIE_MAX_AGE: i64 = 39_600;

/// Reads one cookie from a `Cookie` header.
pub fn cookie<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k.trim() == name).then(|| v.trim())
    })
}

/// A `Set-Cookie` value with the attributes of §1.4.
pub fn set_cookie(name: &str, value: &str, secure: bool) -> String {
    format!(
        "{name}={value}; HttpOnly; Max-Age={COOKIE_MAX_AGE}; Path=/; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// A `Set-Cookie` value that clears the cookie.
pub fn clear_cookie(name: &str, secure: bool) -> String {
    format!("{name}=; HttpOnly; Max-Age=0; Path=/; SameSite=Strict{}", if secure { "; Secure" } else { "" })
}

/// Issues and verifies CSRF values without server state: nonce + expiry + HMAC tag.
#[derive(Clone)]
pub struct CsrfKey([u8; 32]);

/// Why a presented CSRF value is unusable.
#[derive(Debug, PartialEq, Eq)]
pub enum CsrfProblem {
    /// Not a value this server could have issued.
    Invalid,
    /// Issued by us but past its expiry.
    Expired,
}

impl CsrfKey {
    /// Wraps a 32-byte server key.
    pub fn new(key: [u8; 32]) -> Self {
        Self(key)
    }

    fn tag(&self, body: &[u8]) -> [u8; 16] {
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&self.0) {
            Ok(m) => m,
            // HMAC accepts keys of any length, so this cannot happen.
            Err(_) => return [0u8; 16],
        };
        mac.update(body);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    /// A fresh value valid until `now_s + COOKIE_MAX_AGE`.
    pub fn issue(&self, now_s: i64) -> String {
        let mut body = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut body[..16]);
        body[16..].copy_from_slice(&(now_s + COOKIE_MAX_AGE).to_be_bytes());
        let mut out = body.to_vec();
        out.extend_from_slice(&self.tag(&body));
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Checks a presented value; the tag is compared in constant time.
    pub fn verify(&self, value: &str, now_s: i64) -> Result<(), CsrfProblem> {
        let raw = URL_SAFE_NO_PAD.decode(value).map_err(|_| CsrfProblem::Invalid)?;
        if raw.len() != 40 {
            return Err(CsrfProblem::Invalid);
        }
        let expected = self.tag(&raw[..24]);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &raw[24..])) {
            return Err(CsrfProblem::Invalid);
        }
        let mut exp = [0u8; 8];
        exp.copy_from_slice(&raw[16..24]);
        if i64::from_be_bytes(exp) <= now_s {
            return Err(CsrfProblem::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_round_trip_and_tamper() {
        let key = CsrfKey::new([7; 32]);
        let v = key.issue(1000);
        assert_eq!(key.verify(&v, 1001), Ok(()));
        assert_eq!(key.verify(&v, 1000 + COOKIE_MAX_AGE), Err(CsrfProblem::Expired));
        assert_eq!(CsrfKey::new([8; 32]).verify(&v, 1001), Err(CsrfProblem::Invalid));
        let mut tampered = v.clone().into_bytes();
        tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(key.verify(std::str::from_utf8(&tampered).unwrap(), 1001), Err(CsrfProblem::Invalid));
        assert_eq!(key.verify("garbage", 1001), Err(CsrfProblem::Invalid));
    }

    #[test]
    fn cookie_header_parsing() {
        let h = Some("a=1; RUI-Csrf=abc; RUI-Session-Token=xyz");
        assert_eq!(cookie(h, CSRF_COOKIE), Some("abc"));
        assert_eq!(cookie(h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(h, "b"), None);
    }
}
