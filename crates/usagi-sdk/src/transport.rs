//! The protocol core shared by the SDK runtime and `usagi simulate`: endpoint URLs, gzip,
//! signing, one HTTP attempt, and the reaction the status table of callhome §4 calls for.
//! It holds no state of its own; callers keep the clock and the failure count.

use std::io::Write;
use std::time::Duration;

use flate2::write::GzEncoder;
use flate2::Compression;
use rand::Rng;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, DATE, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use usagi_protocol::signing::{sign, ProductSecret, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use usagi_protocol::SyncResponse;
use usagi_types::ProductId;

use crate::clock::Clock;

/// The SDK's name in envelopes and `User-Agent`.
pub const SDK_NAME: &str = "usagi-sdk-rust";
/// The SDK's version in envelopes and `User-Agent`.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `User-Agent` of this SDK on this platform.
pub fn user_agent() -> String {
    format!("{SDK_NAME}/{SDK_VERSION} ({})", std::env::consts::OS)
}

/// The URL of a call-home endpoint (`sync`, `license/check`, …) under a base URL.
pub fn endpoint(base_url: &str, product_id: &ProductId, action: &str) -> Result<Url, String> {
    let url = format!("{}/callhome/v1/{}/{action}", base_url.trim().trim_end_matches('/'), product_id.as_str());
    let parsed = Url::parse(&url).map_err(|e| e.to_string())?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(format!("unsupported scheme {other:?}")),
    }
}

/// gzip at the default level (the protocol's recommended encoding).
pub fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4 + 64), Compression::default());
    encoder.write_all(body)?;
    encoder.finish()
}

/// What the caller should do after one attempt (callhome §4, §11).
#[derive(Debug)]
pub enum Reaction {
    /// 200: the batch is stored; apply the answer (§10).
    Delivered(SyncResponse),
    /// 200 on a non-`sync` call: the raw answer body.
    Answered(Vec<u8>),
    /// 400 (or another final 4xx): the request can never succeed; drop it and go on.
    Drop {
        /// HTTP status.
        status: u16,
        /// The server's reason.
        reason: String,
    },
    /// 413: split the batch in two (a single record: drop it).
    TooLarge,
    /// 401 with `serverTime`: adopt the server clock and retry once at once.
    ClockSkew {
        /// The server's time in unix ms.
        server_time_ms: i64,
    },
    /// 404: wrong URL or product id; stop calling home until the next start.
    NotFound,
    /// Retry later with back-off, waiting at least `after` when the server said so.
    Retry {
        /// Why, for the log.
        reason: String,
        /// `Retry-After`, when sent.
        after: Option<Duration>,
        /// 401 without `serverTime`: the secret may be wrong.
        auth: bool,
    },
}

/// The error envelope (callhome §4); unknown members are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ErrorEnvelope {
    reason: String,
    server_time: Option<i64>,
}

/// One call: the endpoint, the body as it goes on the wire, and extra headers.
pub struct Call<'a> {
    /// The endpoint URL.
    pub url: &'a Url,
    /// Body bytes exactly as transmitted (signed as they are).
    pub wire: &'a [u8],
    /// Whether `wire` is gzip-compressed.
    pub gzip: bool,
    /// Whether this is a `sync` (its 200 answer is parsed as a [`SyncResponse`]).
    pub sync: bool,
    /// Additional headers (the simulator's `X-Usagi-Receive-Time`).
    pub extra_headers: &'a [(&'a str, String)],
}

/// The outcome of one attempt, with the server time it revealed (from `serverTime` or `Date`).
#[derive(Debug)]
pub struct Attempt {
    /// What to do next.
    pub reaction: Reaction,
    /// Server time in unix ms, when the answer carried one.
    pub server_time_ms: Option<i64>,
}

/// Signs and sends one request with a fresh timestamp from `clock`, and classifies the answer.
/// The `User-Agent` is the client's (the SDK builds its client with [`user_agent`]).
pub async fn send(client: &reqwest::Client, secret: &ProductSecret, clock: &Clock, call: &Call<'_>) -> Attempt {
    let timestamp = clock.now_s().to_string();
    let mut request = client
        .post(call.url.clone())
        .header(CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, &timestamp)
        .header(SIGNATURE_HEADER, sign(secret, &timestamp, call.wire))
        .body(call.wire.to_vec());
    if call.gzip {
        request = request.header(CONTENT_ENCODING, "gzip");
    }
    for (name, value) in call.extra_headers {
        request = request.header(*name, value);
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            let reason = format!("request failed: {e}");
            return Attempt { reaction: Reaction::Retry { reason, after: None, auth: false }, server_time_ms: None };
        }
    };
    let status = response.status();
    let header = |name| response.headers().get(name).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok());
    let after = header(RETRY_AFTER).and_then(parse_retry_after);
    let date_ms = header(DATE).and_then(parse_date_ms);
    let body = match response.bytes().await {
        Ok(b) => b,
        Err(e) => {
            let reason = format!("reading the answer failed: {e}");
            return Attempt { reaction: Reaction::Retry { reason, after, auth: false }, server_time_ms: date_ms };
        }
    };
    classify(status, after, date_ms, &body, call.sync)
}

/// Maps a status and body to the reaction of the §4 table.
pub fn classify(status: StatusCode, after: Option<Duration>, date_ms: Option<i64>, body: &[u8], sync: bool) -> Attempt {
    if status.is_success() {
        if !sync {
            let server_time_ms = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("serverTime").and_then(serde_json::Value::as_i64))
                .or(date_ms);
            return Attempt { reaction: Reaction::Answered(body.to_vec()), server_time_ms };
        }
        return match serde_json::from_slice::<SyncResponse>(body) {
            Ok(answer) => Attempt { server_time_ms: Some(answer.server_time), reaction: Reaction::Delivered(answer) },
            // Not our server's answer (a captive portal, a misconfigured proxy): the batch may
            // not be stored. Resending is safe, the server absorbs a known batchId.
            Err(e) => {
                let reason = format!("unreadable 200 answer to sync: {e}");
                Attempt { reaction: Reaction::Retry { reason, after: None, auth: false }, server_time_ms: None }
            }
        };
    }
    let envelope: ErrorEnvelope = serde_json::from_slice(body).unwrap_or_default();
    let reason = if envelope.reason.is_empty() { format!("HTTP {status}") } else { envelope.reason };
    let server_time_ms = envelope.server_time.or(date_ms);
    let reaction = match status {
        StatusCode::PAYLOAD_TOO_LARGE => Reaction::TooLarge,
        StatusCode::UNAUTHORIZED => match envelope.server_time {
            Some(server_time_ms) => Reaction::ClockSkew { server_time_ms },
            None => Reaction::Retry { reason, after, auth: true },
        },
        StatusCode::NOT_FOUND => Reaction::NotFound,
        StatusCode::TOO_MANY_REQUESTS => Reaction::Retry { reason, after, auth: false },
        s if s.is_client_error() => Reaction::Drop { status: s.as_u16(), reason },
        // 5xx, and what no Usagi server sends (1xx, 3xx: a proxy or a wrong URL scheme).
        _ => Reaction::Retry { reason, after, auth: false },
    };
    Attempt { reaction, server_time_ms }
}

/// `Retry-After` in delay-seconds or HTTP-date form.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

fn parse_date_ms(v: &str) -> Option<i64> {
    let at = httpdate::parse_http_date(v).ok()?;
    let d = at.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

/// Exponential back-off bound after the `n`-th consecutive failure (n from 0): `min(cap, base·2^n)`.
pub fn backoff_bound(base: Duration, cap: Duration, n: u32) -> Duration {
    let factor = 1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(cap)
}

/// Full jitter: uniform in `[0, bound]` (§11). With `Retry-After` r, at least r plus jitter
/// (§4): `r + uniform[0, min(bound, r)]`, so clients told the same r do not return together.
pub fn full_jitter(bound: Duration, retry_after: Option<Duration>) -> Duration {
    let uniform = |max: Duration| Duration::from_secs_f64(rand::thread_rng().gen_range(0.0..=max.as_secs_f64()));
    match retry_after {
        None => uniform(bound),
        Some(r) => r + uniform(bound.min(r)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_follows_the_protocol_schedule() {
        let (base, cap) = (Duration::from_secs(30), Duration::from_secs(3600));
        assert_eq!(backoff_bound(base, cap, 0), Duration::from_secs(30));
        assert_eq!(backoff_bound(base, cap, 1), Duration::from_secs(60));
        assert_eq!(backoff_bound(base, cap, 6), Duration::from_secs(1920));
        assert_eq!(backoff_bound(base, cap, 7), cap);
        assert_eq!(backoff_bound(base, cap, 100), cap);
    }

    #[test]
    fn jitter_respects_retry_after() {
        for _ in 0..100 {
            let w = full_jitter(Duration::from_secs(2), Some(Duration::from_secs(5)));
            assert!(w >= Duration::from_secs(5) && w <= Duration::from_secs(7), "{w:?}");
            assert!(full_jitter(Duration::from_secs(2), None) <= Duration::from_secs(2));
        }
    }

    #[test]
    fn statuses_map_to_the_table() {
        let r = |status: u16, body: &str| {
            classify(StatusCode::from_u16(status).unwrap(), None, None, body.as_bytes(), true).reaction
        };
        assert!(matches!(r(400, r#"{"status":"SYNTAX ERROR","reason":"x"}"#), Reaction::Drop { status: 400, .. }));
        assert!(matches!(r(413, ""), Reaction::TooLarge));
        assert!(matches!(
            r(401, r#"{"reason":"timestamp out of range","serverTime":5}"#),
            Reaction::ClockSkew { server_time_ms: 5 }
        ));
        assert!(matches!(r(401, r#"{"reason":"bad signature"}"#), Reaction::Retry { auth: true, .. }));
        assert!(matches!(r(404, ""), Reaction::NotFound));
        assert!(matches!(r(429, ""), Reaction::Retry { auth: false, .. }));
        assert!(matches!(r(503, ""), Reaction::Retry { auth: false, .. }));
        assert!(matches!(r(302, ""), Reaction::Retry { auth: false, .. }));
        assert!(matches!(r(403, ""), Reaction::Drop { status: 403, .. }));
        assert!(matches!(r(200, "<html>portal</html>"), Reaction::Retry { .. }), "an unreadable 200 is resent");
        let ok = r#"{"accepted":1,"dropped":0,"ignored":0,"duplicate":false,"nextSyncSeconds":60,"instruction":{"new":1},"reachOut":null,"serverTime":7,"extra":1}"#;
        match r(200, ok) {
            Reaction::Delivered(a) => assert_eq!((a.accepted, a.next_sync_seconds, a.instruction), (1, 60, None)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn retry_after_and_date_forms() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Tue, 19 Mar 2024 10:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_date_ms("Tue, 19 Mar 2024 10:00:00 GMT"), Some(1_710_842_400_000));
        assert!(endpoint("ftp://x", &ProductId::parse("2376158762").unwrap(), "sync").is_err());
        assert_eq!(
            endpoint("http://h:1/", &ProductId::parse("2376158762").unwrap(), "license/set").unwrap().as_str(),
            "http://h:1/callhome/v1/2376158762/license/set"
        );
    }
}
