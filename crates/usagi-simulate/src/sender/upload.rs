//! Delivering one batch through the SDK's protocol core (`usagi_sdk::transport`): the same
//! signing, gzip, status classification and full-jitter back-off as every SDK instance, so
//! the simulator is not a second implementation of the protocol. Only the scale of the
//! back-off differs (see [`RetryPolicy`]).

use std::time::Duration;

use reqwest::Url;
use usagi_protocol::signing::ProductSecret;
use usagi_protocol::Instruction;
use usagi_sdk::clock::Clock;
use usagi_sdk::transport::{self, full_jitter, Call, Reaction};

use super::config::RetryPolicy;
use crate::error::SimulateError;
use crate::fleet::SimBatch;

/// Header through which a backfill-enabled server takes the simulated receive time.
pub(crate) const RECEIVE_TIME_HEADER: &str = "X-Usagi-Receive-Time";
/// The longest `Retry-After` honoured; a larger value would stall a replay for hours.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// The counts of a successful `sync` answer (callhome §10).
#[derive(Debug, Default)]
pub(crate) struct SyncAnswer {
    pub accepted: u64,
    pub dropped: u64,
    pub ignored: u64,
    pub duplicate: bool,
    pub instruction: Option<Instruction>,
}

impl SyncAnswer {
    /// Whether the instruction tells the installation to stop calling home (unknown
    /// instruction shapes were already read as none, as §13 requires).
    pub(crate) fn stops_installation(&self) -> bool {
        self.instruction.is_some()
    }
}

/// The final fate of one batch.
pub(crate) enum Outcome {
    /// Answered 200.
    Delivered(SyncAnswer),
    /// Refused for good (400, 413 — a pre-built simulated batch is not split — other 4xx).
    Rejected,
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
    pub clock: Clock,
}

impl Uploader {
    /// Delivers `batch`, retrying retryable failures; returns its outcome and the retries made.
    pub(crate) async fn upload(&self, batch: &SimBatch) -> Result<(Outcome, u32), SimulateError> {
        // Compressed once: every retry resends the same bytes (same batchId, seq, records)
        // with a fresh timestamp and signature.
        let wire =
            if self.gzip { transport::gzip(&batch.body).map_err(SimulateError::Compress)? } else { batch.body.clone() };
        let extra = if self.simulated_receive_time {
            vec![(RECEIVE_TIME_HEADER, batch.receive_time_ms.to_string())]
        } else {
            Vec::new()
        };
        let call = Call { url: &self.url, wire: &wire, gzip: self.gzip, sync: true, extra_headers: &extra };
        let mut failures = 0u32;
        let mut retries = 0u32;
        let mut clock_adjusted = false;
        loop {
            let attempt = transport::send(&self.client, &self.secret, &self.clock, &call).await;
            match attempt.reaction {
                Reaction::Delivered(a) => {
                    let answer = SyncAnswer {
                        accepted: u64::from(a.accepted),
                        dropped: u64::from(a.dropped),
                        ignored: u64::from(a.ignored),
                        duplicate: a.duplicate,
                        instruction: a.instruction,
                    };
                    return Ok((Outcome::Delivered(answer), retries));
                }
                Reaction::Answered(_) => return Ok((Outcome::Delivered(SyncAnswer::default()), retries)),
                Reaction::Drop { status, reason } => {
                    tracing::warn!(batch_id = %batch.batch_id, status, %reason, "batch rejected");
                    return Ok((Outcome::Rejected, retries));
                }
                Reaction::TooLarge => {
                    tracing::warn!(batch_id = %batch.batch_id, "batch rejected as too large");
                    return Ok((Outcome::Rejected, retries));
                }
                Reaction::ClockSkew { server_time_ms } => {
                    // Adopt the server's clock and retry once, at once; a second skew answer
                    // means something else is wrong.
                    if clock_adjusted {
                        return Err(SimulateError::Unauthorized { reason: "timestamp out of range".into() });
                    }
                    clock_adjusted = true;
                    let offset_ms = self.clock.adopt(server_time_ms);
                    tracing::info!(offset_ms, "adopted the server clock offset");
                    retries += 1;
                }
                Reaction::NotFound => return Err(SimulateError::NotFound { url: self.url.to_string() }),
                // A bad signature fails every batch alike: retrying a whole fleet is pointless.
                Reaction::Retry { reason, auth: true, .. } => return Err(SimulateError::Unauthorized { reason }),
                Reaction::Retry { reason, after, auth: false } => {
                    if failures >= self.retry.max_retries {
                        return Err(SimulateError::GaveUp { batch_id: batch.batch_id, attempts: retries + 1, reason });
                    }
                    let wait = full_jitter(self.retry.bound(failures), after.map(|a| a.min(MAX_RETRY_AFTER)));
                    tracing::debug!(batch_id = %batch.batch_id, %reason, ?wait, "retrying batch");
                    tokio::time::sleep(wait).await;
                    failures += 1;
                    retries += 1;
                }
            }
        }
    }
}
