//! The background side of an SDK instance: a one-thread tokio runtime running the flusher
//! (memory buffer → queue file, at least every `flush_interval`) and the sync loop (at start,
//! every `nextSyncSeconds` with heartbeats, on demand, at stop), with back-off and the
//! reactions of callhome §4 and §11. The calling thread only ever appends to the buffer.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use usagi_protocol::{Instruction, OptOutRequest, RecordBody};

use crate::clock::local_ms;
use crate::shared::{OptOutMode, Shared};
use crate::transport::{self, backoff_bound, full_jitter, Call, Reaction};

/// What the application asks of the sync loop.
pub(crate) enum Command {
    /// A manual sync (rate-limited by the caller).
    SyncNow,
    /// The user opted out during the run: deliver the `optOut` record now.
    OptOutNow,
    /// The final sync; the sender is told when it is over.
    Stop(std::sync::mpsc::Sender<()>),
}

/// Writes the memory buffer to the queue file every `flush_interval`.
pub(crate) async fn flusher(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(shared.settings.tuning.flush_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shared.flush_now.notified() => {}
        }
        if let Err(e) = shared.flush() {
            tracing::error!(error = %e, "cannot write the offline queue");
        }
    }
}

/// The sync loop; ends after the final sync of [`Command::Stop`].
pub(crate) async fn sync_loop(shared: Arc<Shared>, mut commands: mpsc::UnboundedReceiver<Command>) {
    let next_sync = Duration::from_secs(u64::from(usagi_protocol::limits::NEXT_SYNC_SECONDS_DEFAULT))
        .min(shared.settings.tuning.max_sync_interval);
    let mut s = Syncer { shared, failures: 0, retry_at: None, next_sync };
    // Sync at start (the start records are already queued).
    s.round().await;
    let mut next_periodic = Instant::now() + s.next_sync;
    loop {
        let due = s.retry_at.map_or(next_periodic, |r| r.min(next_periodic));
        let command = tokio::select! {
            _ = tokio::time::sleep_until(due) => None,
            c = commands.recv() => match c {
                Some(c) => Some(c),
                None => return, // the SDK handle is gone
            },
        };
        s.shared.resume_after_back_off();
        match command {
            None => {
                let now = Instant::now();
                if now >= next_periodic {
                    s.shared.append_heartbeats();
                    next_periodic = now + s.next_sync;
                }
                if s.retry_at.is_none_or(|r| now >= r) {
                    s.round().await;
                }
            }
            Some(Command::SyncNow) | Some(Command::OptOutNow) => s.round().await,
            Some(Command::Stop(done)) => {
                s.round().await;
                let _ = done.send(());
                return;
            }
        }
    }
}

struct Syncer {
    shared: Arc<Shared>,
    /// Consecutive failures (n of §11).
    failures: u32,
    /// No attempt before this, after a failure.
    retry_at: Option<Instant>,
    /// The server's `nextSyncSeconds`.
    next_sync: Duration,
}

impl Syncer {
    /// One sync: the opt-out notice if due, then every pending batch and the whole queue.
    async fn round(&mut self) {
        let shared = Arc::clone(&self.shared);
        let sh = &shared;
        if !sh.may_call_home() {
            return;
        }
        match sh.opt_out_mode() {
            Some(OptOutMode::BeforeStart) => {
                if !sh.store_state(|s| s.opt_out_notified) {
                    self.send_optout().await;
                }
                return;
            }
            Some(OptOutMode::DuringRun) | None => {}
        }
        if let Err(e) = sh.flush() {
            tracing::error!(error = %e, "cannot write the offline queue");
        }
        let mut clock_retried = false;
        loop {
            let t = &sh.settings.tuning;
            // A pending batch is never trimmed, so it may hold at most a tenth of the queue bound.
            let max_records =
                t.max_batch_records.min(usize::try_from(t.max_queue_records / 10).unwrap_or(usize::MAX)).max(1);
            let batch =
                match sh.with_store(|st| st.next_batch(&sh.settings.envelope, max_records, t.max_batch_wire_bytes)) {
                    Ok(Some(b)) => b,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot form a batch");
                        self.failed(None);
                        return;
                    }
                };
            let wire = match batch.wire() {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!(error = %e, batch_id = %batch.meta.batch_id, "unreadable batch file; dropped");
                    let _ = sh.with_store(|st| st.finish(&batch));
                    continue;
                }
            };
            let call = Call { url: &sh.settings.urls.sync, wire: &wire, gzip: true, sync: true, extra_headers: &[] };
            let attempt = transport::send(&sh.settings.client, &sh.settings.secret, &sh.clock, &call).await;
            if let (Some(server_ms), false) =
                (attempt.server_time_ms, matches!(attempt.reaction, Reaction::ClockSkew { .. }))
            {
                sh.learn_clock(server_ms);
            }
            match attempt.reaction {
                Reaction::Delivered(answer) => {
                    tracing::debug!(batch_id = %batch.meta.batch_id, seq = batch.meta.seq, accepted = answer.accepted, duplicate = answer.duplicate, "batch delivered");
                    if let Err(e) = sh.with_store(|st| st.finish(&batch)) {
                        tracing::error!(error = %e, "cannot delete a delivered batch");
                    }
                    sh.counters.delivered.fetch_add(1, Ordering::Relaxed);
                    self.succeeded();
                    let secs = answer.next_sync_seconds.clamp(60, 86_400);
                    self.next_sync = Duration::from_secs(u64::from(secs)).min(t.max_sync_interval);
                    if let Some(instruction) = answer.instruction {
                        self.obey(instruction);
                        return;
                    }
                }
                Reaction::Answered(_) => {
                    // Only non-sync calls are answered this way; resend rather than guess.
                    self.failed(None);
                    return;
                }
                Reaction::Drop { status, reason } => {
                    tracing::warn!(batch_id = %batch.meta.batch_id, status, %reason, "batch refused for good; dropped");
                    let _ = sh.with_store(|st| st.finish(&batch));
                }
                Reaction::TooLarge => {
                    tracing::info!(batch_id = %batch.meta.batch_id, records = batch.meta.records, "batch too large; splitting");
                    if let Err(e) = sh.with_store(|st| st.split(&batch, &sh.settings.envelope)) {
                        tracing::error!(error = %e, "cannot split a batch");
                        self.failed(None);
                        return;
                    }
                }
                Reaction::ClockSkew { server_time_ms } => {
                    let offset = sh.adopt_clock(server_time_ms);
                    tracing::info!(offset_ms = offset, "adopted the server clock after a timestamp error");
                    if clock_retried {
                        self.failed(None);
                        return;
                    }
                    clock_retried = true; // retry once, at once
                }
                Reaction::NotFound => {
                    tracing::error!(url = %sh.settings.urls.sync, "the server does not know this product (404); no call home until the next start");
                    sh.counters.not_found.store(true, Ordering::Relaxed);
                    return;
                }
                Reaction::Retry { reason, after, auth } => {
                    if auth {
                        tracing::warn!(%reason, "the server refused the signature; check the product secret");
                    } else {
                        tracing::debug!(%reason, "sync failed; will retry");
                    }
                    self.failed(after);
                    return;
                }
            }
        }
        if sh.opt_out_mode() == Some(OptOutMode::DuringRun) {
            // The optOut record is delivered: this opt-out episode is known to the server.
            let _ = sh.with_store(|st| st.update(|s| s.opt_out_notified = true));
        }
    }

    async fn send_optout(&mut self) {
        let shared = Arc::clone(&self.shared);
        let sh = &shared;
        let request = OptOutRequest {
            client_id: sh.settings.envelope.client_id,
            app_name: sh.settings.envelope.app_name.clone(),
            machine_id: sh.settings.envelope.machine_id.clone(),
            t: sh.clock.now_ms(),
        };
        let body = serde_json::to_vec(&request).unwrap_or_default();
        let mut clock_retried = false;
        loop {
            let call =
                Call { url: &sh.settings.urls.optout, wire: &body, gzip: false, sync: false, extra_headers: &[] };
            let attempt = transport::send(&sh.settings.client, &sh.settings.secret, &sh.clock, &call).await;
            match attempt.reaction {
                Reaction::Answered(_) | Reaction::Delivered(_) => {
                    tracing::info!("opt-out reported to the server");
                    let _ = sh.with_store(|st| st.update(|s| s.opt_out_notified = true));
                    self.succeeded();
                    return;
                }
                Reaction::ClockSkew { server_time_ms } if !clock_retried => {
                    sh.adopt_clock(server_time_ms);
                    clock_retried = true;
                }
                Reaction::NotFound => {
                    sh.counters.not_found.store(true, Ordering::Relaxed);
                    return;
                }
                Reaction::Drop { status, reason } => {
                    tracing::warn!(status, %reason, "opt-out notice refused");
                    return;
                }
                Reaction::Retry { after, .. } => return self.failed(after),
                Reaction::ClockSkew { .. } | Reaction::TooLarge => return self.failed(None),
            }
        }
    }

    fn succeeded(&mut self) {
        self.failures = 0;
        self.retry_at = None;
        self.shared.counters.failures.store(0, Ordering::Relaxed);
    }

    /// Full-jitter exponential back-off after the n-th consecutive failure (§11).
    fn failed(&mut self, retry_after: Option<Duration>) {
        let t = &self.shared.settings.tuning;
        let wait = full_jitter(backoff_bound(t.retry_base, t.retry_cap, self.failures), retry_after);
        self.failures += 1;
        self.shared.counters.failures.store(self.failures, Ordering::Relaxed);
        self.retry_at = Some(Instant::now() + wait);
        tracing::debug!(failures = self.failures, ?wait, "next sync attempt after back-off");
    }

    fn obey(&mut self, instruction: Instruction) {
        let sh = &self.shared;
        match instruction {
            Instruction::BackOffDays(days) => {
                let until = local_ms() + sh.clock.offset_ms() + i64::from(days) * 86_400_000;
                tracing::warn!(days, "the server asked this installation to back off");
                sh.suspend(|s| s.back_off_until_ms = Some(until));
            }
            Instruction::Disable => {
                tracing::warn!("the server disabled this installation");
                sh.suspend(|s| s.disabled = true);
            }
        }
    }
}

/// A license call made on the SDK's runtime for a waiting application thread.
pub(crate) async fn license_call(shared: Arc<Shared>, set: bool, body: Vec<u8>) -> Result<Vec<u8>, crate::SdkError> {
    let url = if set { &shared.settings.urls.license_set } else { &shared.settings.urls.license_check };
    let mut clock_retried = false;
    loop {
        let call = Call { url, wire: &body, gzip: false, sync: false, extra_headers: &[] };
        let attempt = transport::send(&shared.settings.client, &shared.settings.secret, &shared.clock, &call).await;
        return match attempt.reaction {
            Reaction::Answered(bytes) => Ok(bytes),
            Reaction::ClockSkew { server_time_ms } if !clock_retried => {
                shared.adopt_clock(server_time_ms);
                clock_retried = true;
                continue;
            }
            Reaction::ClockSkew { .. } => {
                Err(crate::SdkError::Server { http: 401, reason: "timestamp out of range".into() })
            }
            Reaction::NotFound => Err(crate::SdkError::Server { http: 404, reason: "unknown product or URL".into() }),
            Reaction::TooLarge => Err(crate::SdkError::Server { http: 413, reason: "request too large".into() }),
            Reaction::Drop { status, reason } => Err(crate::SdkError::Server { http: status, reason }),
            Reaction::Retry { reason, .. } => Err(crate::SdkError::Network(reason)),
            Reaction::Delivered(_) => Err(crate::SdkError::Network("unexpected answer".into())),
        };
    }
}

/// Body kinds the sync loop appends on its own.
pub(crate) fn heartbeat(session_id: Option<String>) -> RecordBody {
    RecordBody::Heartbeat { session_id }
}
