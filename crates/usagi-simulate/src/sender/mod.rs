//! Replaying a fleet against a server, through the SDK's protocol core (`upload`).
//!
//! One blocking producer walks the fleet's batches in global receive-time order and hands
//! each to the worker that owns its installation (`installation % concurrency`). A worker
//! sends its batches one after another, so each installation's batches arrive in `seq` order
//! while different installations upload concurrently, and the replay advances through the
//! simulated history roughly day by day. Bounded channels keep generation just ahead of
//! sending.

mod config;
mod summary;
mod upload;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use indicatif::ProgressBar;
use reqwest::Url;
use tokio::sync::mpsc;
use usagi_protocol::signing::ProductSecret;
use usagi_types::{ClientId, ProductId};

use crate::error::SimulateError;
use crate::fleet::{Fleet, SimBatch};
use upload::{Outcome, Uploader};

pub use config::{RetryPolicy, SimulateConfig};
pub use summary::SimulateSummary;

/// The `User-Agent` of the simulated SDK.
pub const USER_AGENT: &str = "usagi-sim/1.0.0 (Linux)";
/// Batches queued per worker ahead of sending.
const QUEUE_PER_WORKER: usize = 16;

/// The sync endpoint of a product under a base URL.
pub fn sync_url(base_url: &str, product_id: &ProductId) -> Result<Url, SimulateError> {
    let url = format!("{}/callhome/v1/{}/sync", base_url.trim_end_matches('/'), product_id.as_str());
    Url::parse(&url).map_err(|e| SimulateError::InvalidUrl { url: base_url.to_string(), reason: e.to_string() })
}

/// Generates the fleet of `cfg` and sends every batch to the server; the progress bar, if
/// given, advances by each batch's record count (its length is set to the total records).
pub async fn run(cfg: SimulateConfig, progress: Option<ProgressBar>) -> Result<SimulateSummary, SimulateError> {
    let started = Instant::now();
    let secret = ProductSecret::parse_hex(cfg.secret_hex.trim()).map_err(|_| SimulateError::InvalidSecret)?;
    let url = sync_url(&cfg.base_url, &cfg.product_id)?;
    let client = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(cfg.retry.request_timeout)
        .build()
        .map_err(SimulateError::Client)?;
    let fleet = Fleet::new(cfg.fleet)?;

    let fleet = match &progress {
        Some(bar) => {
            // A full simulation pass without bodies: seconds for thousands of installations,
            // and it lets the bar show a real total.
            let (fleet, total) = tokio::task::spawn_blocking(move || {
                let total = fleet.summary().records;
                (fleet, total)
            })
            .await
            .map_err(|e| SimulateError::Task(e.to_string()))?;
            bar.set_length(total);
            fleet
        }
        None => fleet,
    };

    let uploader = Arc::new(Uploader {
        client,
        url,
        secret,
        gzip: cfg.gzip,
        simulated_receive_time: cfg.simulated_receive_time,
        retry: cfg.retry,
        clock: usagi_sdk::clock::Clock::default(),
    });
    let abort = Arc::new(AtomicBool::new(false));
    let workers = cfg.concurrency.max(1);
    let mut senders = Vec::with_capacity(workers);
    let mut handles = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (tx, rx) = mpsc::channel::<SimBatch>(QUEUE_PER_WORKER);
        senders.push(tx);
        handles.push(tokio::spawn(worker(rx, Arc::clone(&uploader), Arc::clone(&abort), progress.clone())));
    }

    let producer_abort = Arc::clone(&abort);
    let producer = tokio::task::spawn_blocking(move || {
        for batch in fleet.batches_in_time_order() {
            if producer_abort.load(Ordering::Relaxed) {
                break;
            }
            let owner = batch.installation as usize % senders.len();
            // A closed channel means its worker stopped on an error; the run is over.
            if senders[owner].blocking_send(batch).is_err() {
                break;
            }
        }
    });

    let mut total = SimulateSummary::default();
    let mut first_error = None;
    for handle in handles {
        match handle.await {
            Ok(Ok(counts)) => total.absorb(&counts),
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                abort.store(true, Ordering::Relaxed);
                first_error.get_or_insert(SimulateError::Task(e.to_string()));
            }
        }
    }
    if let Err(e) = producer.await {
        first_error.get_or_insert(SimulateError::Task(e.to_string()));
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    total.finish(started.elapsed());
    Ok(total)
}

/// Sends the batches of the installations this worker owns, in arrival order.
async fn worker(
    mut batches: mpsc::Receiver<SimBatch>,
    uploader: Arc<Uploader>,
    abort: Arc<AtomicBool>,
    progress: Option<ProgressBar>,
) -> Result<SimulateSummary, SimulateError> {
    let mut counts = SimulateSummary::default();
    // Installations told to back off or disabled: the SDK makes no further call home.
    let mut stopped: HashSet<ClientId> = HashSet::new();
    while let Some(batch) = batches.recv().await {
        if abort.load(Ordering::Relaxed) {
            break;
        }
        if stopped.contains(&batch.client_id) {
            counts.skipped_batches += 1;
        } else {
            match uploader.upload(&batch).await {
                Ok((outcome, retries)) => {
                    counts.retries += u64::from(retries);
                    counts.batches_sent += 1;
                    counts.records_sent += u64::from(batch.record_count);
                    match outcome {
                        Outcome::Delivered(answer) => {
                            counts.accepted += answer.accepted;
                            counts.dropped += answer.dropped;
                            counts.ignored += answer.ignored;
                            counts.duplicates += u64::from(answer.duplicate);
                            if answer.stops_installation() && stopped.insert(batch.client_id) {
                                counts.stopped_installations += 1;
                                tracing::info!(client_id = %batch.client_id, instruction = ?answer.instruction, "installation stopped by instruction");
                            }
                        }
                        Outcome::Rejected => counts.rejected_batches += 1,
                    }
                }
                Err(e) => {
                    abort.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        if let Some(bar) = &progress {
            bar.inc(u64::from(batch.record_count));
        }
    }
    Ok(counts)
}
