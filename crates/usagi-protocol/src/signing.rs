//! Product secrets and request signing (§3).

use std::fmt;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

pub use crate::error::{AuthFailure, SecretError};
use crate::limits::TIMESTAMP_WINDOW_S;

/// Name of the header carrying the request time in unix seconds.
pub const TIMESTAMP_HEADER: &str = "X-Timestamp";
/// Name of the header carrying one or more `v1=<hex>` signatures.
pub const SIGNATURE_HEADER: &str = "X-Signature";

const SCHEME: &str = "v1=";
/// SHA-256 block size: HMAC pads shorter keys with zeros up to it (RFC 2104).
const HMAC_BLOCK: usize = 64;

/// A product's 128-bit signing secret.
#[derive(Clone)]
pub struct ProductSecret([u8; 16]);

impl ProductSecret {
    /// Parses the 32-hex-character form shown to the vendor (either case is accepted).
    pub fn parse_hex(s: &str) -> Result<Self, SecretError> {
        if s.len() != 32 {
            return Err(SecretError);
        }
        let mut out = [0u8; 16];
        hex::decode_to_slice(s, &mut out).map_err(|_| SecretError)?;
        Ok(Self(out))
    }

    /// A fresh secret from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut out = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut out);
        Self(out)
    }

    /// Wraps raw key bytes, e.g. as stored by the catalog.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The 32 lowercase hex characters shown to the vendor.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn mac(&self, timestamp: &str, body: &[u8]) -> [u8; 32] {
        // Padding the key to the block size ourselves is exactly what HMAC does with a
        // 16-byte key, and it spares a `Result` that could never be an error.
        let mut key = [0u8; HMAC_BLOCK];
        key[..16].copy_from_slice(&self.0);
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&key.into());
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

impl PartialEq for ProductSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for ProductSecret {}

impl fmt::Debug for ProductSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secrets end up in logs through `{:?}` far too easily.
        f.write_str("ProductSecret(<redacted>)")
    }
}

/// The `X-Signature` value for a request: `v1=` and the lowercase hex HMAC-SHA256 over `timestamp.body`.
pub fn sign(secret: &ProductSecret, timestamp: &str, body: &[u8]) -> String {
    format!("{SCHEME}{}", hex::encode(secret.mac(timestamp, body)))
}

/// Checks the signature headers of a request against the product's active secrets, in the order of §3.
pub fn verify_request(
    secrets: &[ProductSecret],
    timestamp_header: Option<&str>,
    signature_header: Option<&str>,
    body: &[u8],
    now_unix_s: i64,
) -> Result<(), AuthFailure> {
    let timestamp = timestamp_header.ok_or(AuthFailure::MalformedHeaders)?;
    if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AuthFailure::MalformedHeaders);
    }
    let signatures = parse_signatures(signature_header.ok_or(AuthFailure::MalformedHeaders)?)?;
    // Digits only but too long for an i64 is well-formed and simply far away in time.
    let ts: i64 = timestamp.parse().map_err(|_| AuthFailure::TimestampOutOfRange)?;
    if now_unix_s.abs_diff(ts) > TIMESTAMP_WINDOW_S.unsigned_abs() {
        return Err(AuthFailure::TimestampOutOfRange);
    }
    let mut matched = Choice::from(0);
    for secret in secrets {
        let expected = secret.mac(timestamp, body);
        for candidate in &signatures {
            matched |= expected.ct_eq(candidate);
        }
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(AuthFailure::BadSignature)
    }
}

/// Decodes `v1=<64 hex>[,v1=<64 hex>…]`; hex case does not matter once decoded to bytes.
fn parse_signatures(header: &str) -> Result<Vec<[u8; 32]>, AuthFailure> {
    header
        .split(',')
        .map(|entry| {
            let hex_part = entry.trim_matches(' ').strip_prefix(SCHEME).ok_or(AuthFailure::MalformedHeaders)?;
            if hex_part.len() != 64 {
                return Err(AuthFailure::MalformedHeaders);
            }
            let mut out = [0u8; 32];
            hex::decode_to_slice(hex_part, &mut out).map_err(|_| AuthFailure::MalformedHeaders)?;
            Ok(out)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "8f3a61c2d94b07e5a1c6f0d2b7e49a35";
    const TS: &str = "1710842400";
    const NOW: i64 = 1_710_842_400;
    const BODY: &str = r#"{"clientId":"4F2A9C1E7B3D5A60","machineId":"9D1C0B7E5A3F2D48C6E1A0B9F7D3C215","appName":"DemoApp","sdk":{"name":"ui-sdk-rust","version":"1.0.0"},"batchId":"0f8e2d4c-6b1a-4e3f-9a7d-2c5b8e1f0a93","seq":1,"records":[]}"#;
    const EXPECTED: &str = "v1=2538259887e8c162f47ae17f2d43f62aa21a01e7b03e7d55b30829d971a3a92d";

    fn secret() -> ProductSecret {
        ProductSecret::parse_hex(SECRET).unwrap()
    }

    #[test]
    fn spec_test_vector() {
        assert_eq!(BODY.len(), 215);
        assert_eq!(sign(&secret(), TS, BODY.as_bytes()), EXPECTED);
        assert_eq!(verify_request(&[secret()], Some(TS), Some(EXPECTED), BODY.as_bytes(), NOW), Ok(()));
    }

    #[test]
    fn keying_with_the_hex_text_does_not_verify() {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{TS}.{BODY}").as_bytes());
        let wrong = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
        assert_ne!(wrong, EXPECTED);
        assert_eq!(
            verify_request(&[secret()], Some(TS), Some(&wrong), BODY.as_bytes(), NOW),
            Err(AuthFailure::BadSignature)
        );
    }

    #[test]
    fn uppercase_hex_verifies() {
        let upper = format!("v1={}", EXPECTED[3..].to_uppercase());
        assert_eq!(verify_request(&[secret()], Some(TS), Some(&upper), BODY.as_bytes(), NOW), Ok(()));
    }

    #[test]
    fn any_listed_entry_may_match() {
        let other = sign(&ProductSecret::generate(), TS, BODY.as_bytes());
        for header in [format!("{other},{EXPECTED}"), format!("{EXPECTED},{other}"), format!("{other}, {EXPECTED}")] {
            assert_eq!(verify_request(&[secret()], Some(TS), Some(&header), BODY.as_bytes(), NOW), Ok(()), "{header}");
        }
        assert_eq!(
            verify_request(&[secret()], Some(TS), Some(&other), BODY.as_bytes(), NOW),
            Err(AuthFailure::BadSignature)
        );
    }

    #[test]
    fn rotation_accepts_either_active_secret() {
        let previous = ProductSecret::generate();
        let current = secret();
        let both = [current.clone(), previous.clone()];
        let by_previous = sign(&previous, TS, BODY.as_bytes());
        assert_eq!(verify_request(&both, Some(TS), Some(EXPECTED), BODY.as_bytes(), NOW), Ok(()));
        assert_eq!(verify_request(&both, Some(TS), Some(&by_previous), BODY.as_bytes(), NOW), Ok(()));
        assert_eq!(
            verify_request(&[current], Some(TS), Some(&by_previous), BODY.as_bytes(), NOW),
            Err(AuthFailure::BadSignature)
        );
        assert_eq!(verify_request(&[], Some(TS), Some(EXPECTED), BODY.as_bytes(), NOW), Err(AuthFailure::BadSignature));
    }

    #[test]
    fn signature_covers_timestamp_and_body() {
        let s = [secret()];
        assert_eq!(
            verify_request(&s, Some("1710842401"), Some(EXPECTED), BODY.as_bytes(), NOW),
            Err(AuthFailure::BadSignature)
        );
        let mut body = BODY.as_bytes().to_vec();
        body[2] = b'd';
        assert_eq!(verify_request(&s, Some(TS), Some(EXPECTED), &body, NOW), Err(AuthFailure::BadSignature));
    }

    #[test]
    fn malformed_headers() {
        let s = [secret()];
        let b = BODY.as_bytes();
        let malformed = Err(AuthFailure::MalformedHeaders);
        assert_eq!(verify_request(&s, None, Some(EXPECTED), b, NOW), malformed);
        assert_eq!(verify_request(&s, Some(TS), None, b, NOW), malformed);
        for ts in ["", "-1710842400", "+1710842400", "1710842400.0", " 1710842400", "17108424OO"] {
            assert_eq!(verify_request(&s, Some(ts), Some(EXPECTED), b, NOW), malformed, "{ts:?}");
        }
        let short = &EXPECTED[..EXPECTED.len() - 1];
        let v2 = EXPECTED.replace("v1=", "v2=");
        let no_scheme = &EXPECTED[3..];
        let not_hex = EXPECTED.replace('a', "g");
        let trailing = format!("{EXPECTED},");
        for sig in ["", short, &v2, no_scheme, &not_hex, &trailing, "v1="] {
            assert_eq!(verify_request(&s, Some(TS), Some(sig), b, NOW), malformed, "{sig:?}");
        }
    }

    #[test]
    fn malformed_headers_win_over_a_stale_timestamp() {
        assert_eq!(
            verify_request(&[secret()], Some("1"), Some("v1=zz"), BODY.as_bytes(), NOW),
            Err(AuthFailure::MalformedHeaders)
        );
    }

    #[test]
    fn timestamp_window_is_600_seconds_either_way() {
        let s = [secret()];
        let b = BODY.as_bytes();
        for now in [NOW - 600, NOW + 600] {
            assert_eq!(verify_request(&s, Some(TS), Some(EXPECTED), b, now), Ok(()));
        }
        for now in [NOW - 601, NOW + 601] {
            assert_eq!(verify_request(&s, Some(TS), Some(EXPECTED), b, now), Err(AuthFailure::TimestampOutOfRange));
        }
        // A stale timestamp is reported before the signature is looked at.
        assert_eq!(
            verify_request(&s, Some(TS), Some(EXPECTED), b, NOW + 10_000),
            Err(AuthFailure::TimestampOutOfRange)
        );
        assert_eq!(
            verify_request(&s, Some("99999999999999999999999"), Some(EXPECTED), b, NOW),
            Err(AuthFailure::TimestampOutOfRange)
        );
    }

    #[test]
    fn reasons_match_the_spec() {
        assert_eq!(AuthFailure::MalformedHeaders.reason(), "missing or malformed signature headers");
        assert_eq!(AuthFailure::TimestampOutOfRange.reason(), "timestamp out of range");
        assert_eq!(AuthFailure::BadSignature.reason(), "bad signature");
        assert_eq!(AuthFailure::BadSignature.to_string(), "bad signature");
    }

    #[test]
    fn secret_hex_round_trip_and_redacted_debug() {
        let s = secret();
        assert_eq!(s.to_hex(), SECRET);
        assert_eq!(ProductSecret::parse_hex(&SECRET.to_uppercase()), Ok(s.clone()));
        assert_eq!(ProductSecret::parse_hex(&SECRET[..31]), Err(SecretError));
        assert_eq!(ProductSecret::parse_hex(&format!("{SECRET}00")), Err(SecretError));
        assert_eq!(ProductSecret::parse_hex(&SECRET.replace('f', "x")), Err(SecretError));
        assert!(!format!("{s:?}").contains(SECRET));
        assert!(!format!("{s:?}").contains("8f"));
        let g = ProductSecret::generate();
        assert_eq!(g.to_hex().len(), 32);
        assert_ne!(g, ProductSecret::generate());
        assert_eq!(ProductSecret::from_bytes(*s.as_bytes()), s);
    }
}
