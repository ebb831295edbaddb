//! Delivering one batch: sign, send, interpret the answer, retry (callhome §4, §11).

use std::io::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flate2::write::GzEncoder;
use flate2::Compression;
use rand::Rng;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use usagi_protocol::signing::{sign, ProductSecret};

use super::config::RetryPolicy;
use crate::error::SimulateError;
use crate::fleet::SimBatch;

/// Header through which a backfill-enabled server takes the simulated receive time.
pub(crate) const RECEIVE_TIME_HEADER: &str = "X-Usagi-Receive-Time";
/// The longest `Retry-After` honoured; a larger value would stall a replay for hours.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// A successful `sync` answer (callhome §10); unknown members are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SyncResponse {
    pub accepted: u64,
    pub dropped: u64,
    pub ignored: u64,
    pub duplicate: bool,
    pub instruction: Option<serde_json::Value>,
}

impl SyncResponse {
    /// Whether the instruction tells the installation to stop calling home. Unknown
    /// instruction shapes are ignored, as §13 requires.
    pub(crate) fn stops_installation(&self) -> bool {
        self.instruction.as_ref().is_some_and(|i| {
            i.get("backOffDays").is_some_and(serde_json::Value::is_number)
                || i.get("disable").and_then(serde_json::Value::as_bool) == Some(true)
        })
    }
}

/// The error envelope (callhome §4).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ErrorBody {
    status: String,
    reason: String,
    server_time: Option<i64>,
}

/// The final fate of one batch.
pub(crate) enum Outcome {
    /// Answered 200.
    Delivered(SyncResponse),
    /// Refused for good; the SDK drops such a batch and goes on.
    Rejected,
}

/// What one HTTP attempt calls for.
enum Attempt {
    Done(Outcome),
    /// A retryable failure, with the server's `Retry-After` if it sent one.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// 401 with `serverTime`: our clock is off by more than the 10-minute window.
    ClockSkew {
        server_time_ms: i64,
        reason: String,
    },
    Fatal(SimulateError),
}

/// Sends batches for every worker of a run.
pub(crate) struct Uploader {
    pub client: reqwest::Client,
    pub url: Url,
    pub secret: ProductSecret,
    pub gzip: bool,
    pub simulated_receive_time: bool,
    pub retry: RetryPolicy,
    /// Server clock minus local clock, learned from a 401 `serverTime` (callhome §9.3).
    pub clock_offset_ms: AtomicI64,
}

impl Uploader {
    /// Delivers `batch`, retrying retryable failures; returns its outcome and the retries made.
    pub(crate) async fn upload(&self, batch: &SimBatch) -> Result<(Outcome, u32), SimulateError> {
        // Compressed once: every retry resends the same bytes (same batchId, seq, records)
        // with a fresh timestamp and signature.
        let wire = if self.gzip { gzip(&batch.body)? } else { batch.body.clone() };
        let mut failures = 0u32;
        let mut retries = 0u32;
        let mut clock_adjusted = false;
        loop {
            match self.attempt(batch, &wire).await {
                Attempt::Done(outcome) => return Ok((outcome, retries)),
                Attempt::Fatal(e) => return Err(e),
                Attempt::ClockSkew { server_time_ms, reason } => {
                    // Adopt the server's clock and retry once, at once; a second skew answer
                    // means something else is wrong.
                    if clock_adjusted {
                        return Err(SimulateError::Unauthorized { reason });
                    }
                    clock_adjusted = true;
                    let offset_ms = server_time_ms - unix_ms();
                    self.clock_offset_ms.store(offset_ms, Ordering::Relaxed);
                    tracing::info!(offset_ms, "adopted the server clock offset");
                    retries += 1;
                }
                Attempt::Retry { reason, after } => {
                    if failures >= self.retry.max_retries {
                        return Err(SimulateError::GaveUp { batch_id: batch.batch_id, attempts: retries + 1, reason });
                    }
                    let wait = back_off(&self.retry, failures, after);
                    tracing::debug!(batch_id = %batch.batch_id, %reason, ?wait, "retrying batch");
                    tokio::time::sleep(wait).await;
                    failures += 1;
                    retries += 1;
                }
            }
        }
    }

    async fn attempt(&self, batch: &SimBatch, wire: &[u8]) -> Attempt {
        let timestamp = (unix_ms() + self.clock_offset_ms.load(Ordering::Relaxed)).div_euclid(1000).to_string();
        let signature = sign(&self.secret, &timestamp, wire);
        let mut request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("X-Timestamp", &timestamp)
            .header("X-Signature", signature)
            .body(wire.to_vec());
        if self.gzip {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        if self.simulated_receive_time {
            request = request.header(RECEIVE_TIME_HEADER, batch.receive_time_ms.to_string());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Attempt::Retry { reason: format!("request failed: {e}"), after: None },
        };
        let status = response.status();
        // Usagi sends Retry-After as delay-seconds; the HTTP-date form is not used by it and
        // falls back to the plain back-off.
        let after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) => return Attempt::Retry { reason: format!("reading the answer failed: {e}"), after },
        };

        if status.is_success() {
            let answer = serde_json::from_slice::<SyncResponse>(&body).unwrap_or_else(|e| {
                // The batch is stored (200 comes only after the commit); only the counts are lost.
                tracing::warn!(batch_id = %batch.batch_id, error = %e, "unreadable 200 answer");
                SyncResponse::default()
            });
            return Attempt::Done(Outcome::Delivered(answer));
        }
        let error: ErrorBody = serde_json::from_slice(&body).unwrap_or_default();
        let reason = if error.reason.is_empty() { format!("HTTP {status}") } else { error.reason.clone() };
        match status {
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => {
                tracing::warn!(batch_id = %batch.batch_id, %status, status_word = %error.status, %reason, "batch rejected");
                Attempt::Done(Outcome::Rejected)
            }
            StatusCode::UNAUTHORIZED => match error.server_time {
                Some(server_time_ms) => Attempt::ClockSkew { server_time_ms, reason },
                // A bad signature fails every batch alike: retrying a whole fleet is pointless.
                None => Attempt::Fatal(SimulateError::Unauthorized { reason }),
            },
            StatusCode::NOT_FOUND => Attempt::Fatal(SimulateError::NotFound { url: self.url.to_string() }),
            StatusCode::TOO_MANY_REQUESTS => Attempt::Retry { reason, after },
            s if s.is_server_error() => Attempt::Retry { reason, after },
            _ => {
                tracing::warn!(batch_id = %batch.batch_id, %status, %reason, "batch rejected with an unexpected status");
                Attempt::Done(Outcome::Rejected)
            }
        }
    }
}

/// gzip at the default level, which keeps a batch far below the 1 MiB wire limit.
fn gzip(body: &[u8]) -> Result<Vec<u8>, SimulateError> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::default());
    encoder.write_all(body).map_err(SimulateError::Compress)?;
    encoder.finish().map_err(SimulateError::Compress)
}

fn unix_ms() -> i64 {
    // A clock before 1970 is treated as the epoch; the server's 401 `serverTime` corrects it.
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Full jitter: a uniform wait in `[0, bound]`, but never shorter than `Retry-After`.
fn back_off(policy: &RetryPolicy, failures: u32, retry_after: Option<Duration>) -> Duration {
    let bound = policy.bound(failures);
    let jitter = Duration::from_secs_f64(rand::thread_rng().gen_range(0.0..=bound.as_secs_f64()));
    retry_after.map_or(jitter, |r| jitter.max(r))
}
