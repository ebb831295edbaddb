//! State shared by the application's threads and the SDK's runtime.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard};

use reqwest::Url;
use tokio::sync::Notify;
use usagi_protocol::{CustomGroup, MachineGroup, ProductSecret, RecordBody, WireRecord};

use crate::api::{LicenseData, ProductData};
use crate::clock::Clock;
use crate::config::Tuning;
use crate::error::Result;
use crate::store::{class_of, Envelope, Persisted, Store, Tally};

/// Lifecycle phases, stored in an atomic for the tracking fast path.
pub(crate) const CREATED: u8 = 0;
pub(crate) const RUNNING: u8 = 1;
pub(crate) const STOPPED: u8 = 2;

/// Endpoint URLs of the product.
pub(crate) struct Urls {
    pub sync: Url,
    pub optout: Url,
    pub license_check: Url,
    pub license_set: Url,
}

/// Validated configuration.
pub(crate) struct Settings {
    pub secret: ProductSecret,
    pub urls: Urls,
    pub envelope: Envelope,
    pub tuning: Tuning,
    pub multi_session: bool,
    pub client: reqwest::Client,
}

/// How the user opted out in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OptOutMode {
    /// `opt_out` before `start`: send the `optout` notice once per episode, record nothing.
    BeforeStart,
    /// `opt_out` while running: the `optOut` record is delivered, then nothing more.
    DuringRun,
}

/// Records not yet written to the queue file.
#[derive(Default)]
pub(crate) struct Buffer {
    pub lines: Vec<u8>,
    pub tally: Tally,
}

/// What the application set, and the sessions it has open.
#[derive(Default)]
pub(crate) struct RunState {
    pub opt_out: Option<OptOutMode>,
    pub product: ProductData,
    pub custom: CustomGroup,
    pub license: Option<LicenseData>,
    pub machine: MachineGroup,
    pub implicit_session: bool,
    pub sessions: BTreeSet<String>,
    pub last_manual_sync: Option<std::time::Instant>,
}

/// Counters read by [`crate::Sdk::status`].
#[derive(Default)]
pub(crate) struct Counters {
    pub dropped: AtomicU64,
    pub failures: AtomicU32,
    pub delivered: AtomicU64,
    pub not_found: AtomicBool,
}

/// Everything both sides share.
pub(crate) struct Shared {
    pub settings: Settings,
    pub clock: Clock,
    pub phase: AtomicU8,
    /// Tracking calls record (started, not opted out, not suspended).
    pub recording: AtomicBool,
    pub buffer: Mutex<Buffer>,
    pub store: Mutex<Store>,
    pub run: Mutex<RunState>,
    pub counters: Counters,
    pub flush_now: Notify,
}

/// Locks a mutex; a panic elsewhere while it was held leaves data that is still usable here.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// Appends a record to the memory buffer with the corrected clock (the fast path).
    pub(crate) fn append(&self, body: RecordBody) {
        let record = WireRecord { t: self.clock.now_ms(), body };
        let class = class_of(record.body.kind());
        let full = {
            let mut buf = lock(&self.buffer);
            let start = buf.lines.len();
            buf.lines.push(class);
            if serde_json::to_writer(&mut buf.lines, &record).is_err() {
                buf.lines.truncate(start);
                return;
            }
            buf.lines.push(b'\n');
            let len = buf.lines.len() - start;
            buf.tally.records += 1;
            buf.tally.bytes += len as u64;
            if class == crate::store::DROPPABLE_CLASS {
                buf.tally.droppable += 1;
            }
            let t = &self.settings.tuning;
            buf.tally.records >= t.max_queue_records || buf.tally.bytes >= t.max_queue_bytes
        };
        if full {
            // More than a whole queue tracked within one flush interval: write and trim it
            // here (disk only, never the network), so the oldest records are the ones dropped.
            if let Err(e) = self.flush() {
                tracing::error!(error = %e, "cannot write the offline queue");
                *lock(&self.buffer) = Buffer::default();
            }
        }
    }

    /// Writes the buffer to the queue file and enforces the queue bounds.
    pub(crate) fn flush(&self) -> Result<()> {
        let mut store = lock(&self.store);
        let taken = std::mem::take(&mut *lock(&self.buffer));
        if !taken.lines.is_empty() {
            store.append(&taken.lines, taken.tally)?;
        }
        let t = &self.settings.tuning;
        let dropped = store.enforce_bounds(t.max_queue_records, t.max_queue_bytes)?;
        self.counters.dropped.fetch_add(dropped.records, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        f(&mut lock(&self.store))
    }

    pub(crate) fn store_state<T>(&self, f: impl FnOnce(&Persisted) -> T) -> T {
        f(lock(&self.store).state())
    }

    pub(crate) fn opt_out_mode(&self) -> Option<OptOutMode> {
        lock(&self.run).opt_out
    }

    /// Not disabled, not backed off, not told 404 in this run.
    pub(crate) fn may_call_home(&self) -> bool {
        if self.counters.not_found.load(Ordering::Relaxed) {
            return false;
        }
        let now = self.clock.now_ms();
        self.store_state(|s| !s.disabled && s.back_off_until_ms.is_none_or(|until| now >= until))
    }

    /// Ends a back-off whose time has come: calls home and records again.
    pub(crate) fn resume_after_back_off(&self) {
        let now = self.clock.now_ms();
        let mut store = lock(&self.store);
        if store.state().back_off_until_ms.is_some_and(|until| now >= until) {
            let _ = store.update(|s| s.back_off_until_ms = None);
            drop(store);
            tracing::info!("back-off over; calling home again");
            if lock(&self.run).opt_out.is_none() && self.phase.load(Ordering::Relaxed) == RUNNING {
                self.recording.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Stops recording and calling home by a server instruction, and clears the queue.
    pub(crate) fn suspend(&self, f: impl FnOnce(&mut Persisted)) {
        self.recording.store(false, Ordering::Relaxed);
        *lock(&self.buffer) = Buffer::default();
        let mut store = lock(&self.store);
        if let Err(e) = store.update(f).and_then(|()| store.clear()) {
            tracing::error!(error = %e, "cannot persist a server instruction");
        }
    }

    /// A heartbeat for every open session (§11: at each periodic sync).
    pub(crate) fn append_heartbeats(&self) {
        if !self.recording.load(Ordering::Relaxed) {
            return;
        }
        let (implicit, sessions) = {
            let run = lock(&self.run);
            (run.implicit_session, run.sessions.iter().cloned().collect::<Vec<_>>())
        };
        if implicit {
            self.append(crate::runtime::heartbeat(None));
        }
        for id in sessions {
            self.append(crate::runtime::heartbeat(Some(id)));
        }
    }

    /// Adopts the server clock (401 `serverTime`) and persists the offset.
    pub(crate) fn adopt_clock(&self, server_ms: i64) -> i64 {
        let offset = self.clock.adopt(server_ms);
        let _ = self.with_store(|st| st.update(|s| s.clock_offset_ms = offset));
        offset
    }

    /// Learns the offset from an answer's `serverTime` or `Date` header when it is off by more
    /// than two seconds (`Date` has one-second resolution, and latency adds noise).
    pub(crate) fn learn_clock(&self, server_ms: i64) {
        let drift = server_ms - self.clock.now_ms();
        if drift.abs() > 2000 {
            self.adopt_clock(server_ms);
        }
    }
}
