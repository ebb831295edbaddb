//! Request body decoding: `Content-Encoding` and size limits (§4).

use std::io::Read;

pub use crate::error::DecodeError;

pub use crate::limits::{SMALL_MAX, SYNC_MAX_DECOMPRESSED, SYNC_MAX_WIRE};

/// Largest zstd window accepted (8 MiB). It covers every standard level up to 19, and keeps a
/// forged frame header from making the server allocate a huge window (zstd's default is 128 MiB).
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// Decodes a body sent with `content_encoding` (absent means `identity`), stopping as soon as
/// the output passes `max_decompressed` bytes so that a decompression bomb costs nothing.
pub fn decode_body(
    content_encoding: Option<&str>,
    wire: &[u8],
    max_decompressed: usize,
) -> Result<Vec<u8>, DecodeError> {
    let encoding = content_encoding.map(str::trim).unwrap_or("identity");
    if encoding.eq_ignore_ascii_case("identity") {
        if wire.len() > max_decompressed {
            return Err(DecodeError::TooLarge);
        }
        Ok(wire.to_vec())
    } else if encoding.eq_ignore_ascii_case("gzip") {
        // Multi-member gzip is valid gzip; a single-member decoder would silently drop the rest.
        read_limited(flate2::read::MultiGzDecoder::new(wire), max_decompressed)
    } else if encoding.eq_ignore_ascii_case("zstd") {
        let mut decoder = zstd::stream::read::Decoder::with_buffer(wire).map_err(|_| DecodeError::Corrupt)?;
        decoder.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(|_| DecodeError::Corrupt)?;
        read_limited(decoder, max_decompressed)
    } else {
        Err(DecodeError::Unsupported(encoding.to_owned()))
    }
}

fn read_limited(reader: impl Read, max: usize) -> Result<Vec<u8>, DecodeError> {
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::new();
    reader.take(limit).read_to_end(&mut out).map_err(|_| DecodeError::Corrupt)?;
    if out.len() > max {
        return Err(DecodeError::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::{Duration, Instant};

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn identity_and_absent_pass_through() {
        let body = br#"{"a":1}"#;
        assert_eq!(decode_body(None, body, 100).unwrap(), body);
        assert_eq!(decode_body(Some("identity"), body, 100).unwrap(), body);
        assert_eq!(decode_body(Some("IDENTITY"), body, 100).unwrap(), body);
        assert_eq!(decode_body(None, body, 7).unwrap(), body);
        assert_eq!(decode_body(None, body, 6), Err(DecodeError::TooLarge));
    }

    #[test]
    fn gzip_round_trip_case_insensitive() {
        let body = b"hello hello hello hello".repeat(100);
        assert_eq!(decode_body(Some("gzip"), &gzip(&body), SMALL_MAX).unwrap(), body);
        assert_eq!(decode_body(Some("GZip"), &gzip(&body), SMALL_MAX).unwrap(), body);
    }

    #[test]
    fn gzip_multi_member() {
        let mut wire = gzip(b"first,");
        wire.extend(gzip(b"second"));
        assert_eq!(decode_body(Some("gzip"), &wire, 100).unwrap(), b"first,second");
    }

    #[test]
    fn zstd_round_trip() {
        let body = b"{\"records\":[]} ".repeat(1000);
        let wire = zstd::encode_all(&body[..], 3).unwrap();
        assert_eq!(decode_body(Some("zstd"), &wire, SYNC_MAX_DECOMPRESSED).unwrap(), body);
        assert_eq!(decode_body(Some("ZSTD"), &wire, body.len()).unwrap(), body);
        assert_eq!(decode_body(Some("zstd"), &wire, body.len() - 1), Err(DecodeError::TooLarge));
    }

    #[test]
    fn exact_limit_is_allowed() {
        let body = vec![b'x'; 1000];
        assert_eq!(decode_body(Some("gzip"), &gzip(&body), 1000).unwrap(), body);
        assert_eq!(decode_body(Some("gzip"), &gzip(&body), 999), Err(DecodeError::TooLarge));
    }

    #[test]
    fn gzip_bomb_is_stopped_early() {
        // 100 MiB of zeros compresses to about 100 KiB.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..100 {
            enc.write_all(&chunk).unwrap();
        }
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < SYNC_MAX_WIRE);
        let start = Instant::now();
        assert_eq!(decode_body(Some("gzip"), &bomb, SYNC_MAX_DECOMPRESSED), Err(DecodeError::TooLarge));
        // Inflating all 100 MiB would take far longer than inflating the first 8 MiB.
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn zstd_bomb_is_stopped_early() {
        let bomb = zstd::encode_all(&vec![0u8; 64 << 20][..], 3).unwrap();
        assert!(bomb.len() < SYNC_MAX_WIRE);
        assert_eq!(decode_body(Some("zstd"), &bomb, SYNC_MAX_DECOMPRESSED), Err(DecodeError::TooLarge));
    }

    #[test]
    fn corrupt_data() {
        let body = b"some json that is long enough to compress".repeat(20);
        let mut wire = gzip(&body);
        let mid = wire.len() / 2;
        wire[mid] ^= 0xff;
        wire[mid + 1] ^= 0xff;
        assert_eq!(decode_body(Some("gzip"), &wire, SMALL_MAX), Err(DecodeError::Corrupt));
        let truncated = gzip(&body);
        assert_eq!(decode_body(Some("gzip"), &truncated[..truncated.len() / 2], SMALL_MAX), Err(DecodeError::Corrupt));
        assert_eq!(decode_body(Some("gzip"), b"{\"plain\":true}", SMALL_MAX), Err(DecodeError::Corrupt));
        assert_eq!(decode_body(Some("zstd"), b"{\"plain\":true}", SMALL_MAX), Err(DecodeError::Corrupt));
        let z = zstd::encode_all(&body[..], 3).unwrap();
        assert_eq!(decode_body(Some("zstd"), &z[..z.len() - 3], SMALL_MAX), Err(DecodeError::Corrupt));
    }

    #[test]
    fn unsupported_encodings() {
        assert_eq!(decode_body(Some("br"), b"x", 10), Err(DecodeError::Unsupported("br".into())));
        assert_eq!(decode_body(Some("deflate"), b"x", 10), Err(DecodeError::Unsupported("deflate".into())));
        assert_eq!(decode_body(Some("gzip, zstd"), b"x", 10), Err(DecodeError::Unsupported("gzip, zstd".into())));
    }

    #[test]
    fn constants() {
        assert_eq!(SYNC_MAX_WIRE, 1_048_576);
        assert_eq!(SYNC_MAX_DECOMPRESSED, 8_388_608);
        assert_eq!(SMALL_MAX, 16_384);
    }
}
