//! The Usagi reference SDK: records an application's usage and uploads it to a Usagi server
//! through call-home protocol v1 (`callhome-protocol.md`), meeting every rule of its §11.
//!
//! ```no_run
//! use usagi_sdk::{Config, Sdk};
//! let sdk = Sdk::new(Config::new("/var/lib/myapp/usagi", "2376158762", "MyApp",
//!                                "https://usage.example.com", "8f3a61c2d94b07e5a1c6f0d2b7e49a35"))?;
//! sdk.start()?;
//! sdk.track_event(Some("File"), "Open", None)?;
//! sdk.stop(None)?;
//! # Ok::<(), usagi_sdk::SdkError>(())
//! ```
//!
//! Tracking calls only append to an in-memory buffer; a background thread writes it to the
//! on-disk queue at least once per second and uploads batches. See `sdk/README.md`.

#![warn(missing_docs)]

mod api;
pub mod clock;
mod condition;
mod config;
mod error;
mod machine;
mod runtime;
mod shared;
mod store;
pub mod transport;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use usagi_protocol::limits::{
    CUSTOM_PROPERTY_COUNT, CUSTOM_PROPERTY_MAX, EVENT_CUSTOM_KEY_MAX, EVENT_CUSTOM_PAIRS_MAX, EVENT_CUSTOM_VALUE_MAX,
    EVENT_TEXT_MAX, LICENSE_KEY_MAX, MESSAGE_MAX, NAME_MAX, PROPERTY_MAX, STACK_TRACE_MAX_BYTES,
};
use usagi_protocol::{
    EventValue, LicenseCheckRequest, LicenseResponse, LicenseSetRequest, MachineGroup, ProductGroup, ProductSecret,
    PropertiesRecord, RecordBody,
};
use usagi_types::ProductId;

pub use api::{LicenseData, LicenseInfo, ProductData, SdkState, Status};
pub use config::{Config, Tuning};
pub use error::{Result, SdkError};
pub use usagi_protocol::LicenseType;

use clock::Clock;
use runtime::Command;
use shared::{lock, Buffer, Counters, OptOutMode, RunState, Settings, Shared, Urls, CREATED, RUNNING, STOPPED};
use store::{Envelope, Store};

/// Default wait of [`Sdk::stop`] for the final sync (§11).
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// One SDK instance: one application's installation, bound to one data directory.
///
/// All methods take `&self` and may be called from any thread.
pub struct Sdk {
    shared: Arc<Shared>,
    worker: Mutex<Option<Worker>>,
}

struct Worker {
    runtime: tokio::runtime::Runtime,
    commands: mpsc::UnboundedSender<Command>,
}

impl Sdk {
    /// Validates the configuration and opens the data directory (creating the installation's
    /// identity on first use). Makes no network call.
    pub fn new(config: Config) -> Result<Self> {
        let product_id = ProductId::parse(config.product_id.trim()).map_err(|_| SdkError::InvalidProductId)?;
        let secret = ProductSecret::parse_hex(config.secret.trim()).map_err(|_| SdkError::InvalidSecret)?;
        let app_name = condition::app_name(&config.app_name)?;
        let url = |action| {
            transport::endpoint(&config.server_url, &product_id, action)
                .map_err(|reason| SdkError::InvalidUrl { url: config.server_url.clone(), reason })
        };
        let urls = Urls {
            sync: url("sync")?,
            optout: url("optout")?,
            license_check: url("license/check")?,
            license_set: url("license/set")?,
        };
        let store = Store::open(&config.data_dir)?;
        let (machine, identifier) = machine::collect();
        let machine_id = identifier.map(|id| machine::salted_machine_id(product_id.as_str(), &id));
        let envelope = Envelope { client_id: store.state().client_id, machine_id, app_name };
        let client = reqwest::Client::builder()
            .user_agent(transport::user_agent())
            // A redirect would turn the signed POST into something else; it is retried instead.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.tuning.request_timeout)
            .build()
            .map_err(|e| SdkError::Network(format!("cannot build the HTTP client: {e}")))?;
        let clock = Clock::with_offset(store.state().clock_offset_ms);
        let shared = Shared {
            settings: Settings {
                secret,
                urls,
                envelope,
                tuning: config.tuning,
                multi_session: config.multi_session,
                client,
            },
            clock,
            phase: CREATED.into(),
            recording: false.into(),
            buffer: Mutex::new(Buffer::default()),
            store: Mutex::new(store),
            run: Mutex::new(RunState { machine, ..RunState::default() }),
            counters: Counters::default(),
            flush_now: tokio::sync::Notify::new(),
        };
        Ok(Self { shared: Arc::new(shared), worker: Mutex::new(None) })
    }

    /// The installation's client id (16 uppercase hex characters).
    pub fn client_id(&self) -> String {
        self.shared.settings.envelope.client_id.to_hex()
    }

    /// Sets the product group (edition, language, version, build). Before start it is sent
    /// at start; while running a new property snapshot is recorded.
    pub fn set_product_data(&self, data: &ProductData) -> Result<()> {
        let data = ProductData {
            edition: condition::text(data.edition.as_deref(), PROPERTY_MAX),
            language: condition::text(data.language.as_deref(), PROPERTY_MAX),
            version: condition::text(data.version.as_deref(), PROPERTY_MAX),
            build: condition::text(data.build.as_deref(), PROPERTY_MAX),
        };
        lock(&self.shared.run).product = data.clone();
        self.record_if_running(|| {
            RecordBody::Properties(Box::new(PropertiesRecord {
                product: Some(product_group(&data)),
                ..Default::default()
            }))
        })
    }

    /// Sets custom property `index` (1–20; reported as C01–C20), or clears it with `None`.
    pub fn set_custom_property(&self, index: u32, value: Option<&str>) -> Result<()> {
        let slot = usize::try_from(index)
            .ok()
            .filter(|i| (1..=CUSTOM_PROPERTY_COUNT).contains(i))
            .ok_or(SdkError::InvalidCustomPropertyIndex(index))?;
        let custom = {
            let mut run = lock(&self.shared.run);
            run.custom.0[slot - 1] = condition::text(value, CUSTOM_PROPERTY_MAX);
            run.custom.clone()
        };
        self.record_if_running(|| {
            RecordBody::Properties(Box::new(PropertiesRecord { custom: Some(custom), ..Default::default() }))
        })
    }

    /// Adds what the application knows about the machine and the SDK cannot collect portably
    /// (displays, resolution, touch screen, GPU, .NET, Java): every `Some` field of
    /// `overrides` replaces the collected value. Call before start.
    pub fn set_machine_overrides(&self, overrides: &MachineGroup) -> Result<()> {
        if self.shared.phase.load(Ordering::Acquire) != CREATED {
            return Err(SdkError::WrongState("started"));
        }
        let mut run = lock(&self.shared.run);
        merge_machine(&mut run.machine, overrides);
        Ok(())
    }

    /// Reports license state (the five values; `None` leaves a value unchanged).
    pub fn set_license_data(&self, data: LicenseData) -> Result<()> {
        lock(&self.shared.run).license = Some(data);
        self.record_if_running(|| license_record(&data, None))
    }

    /// Records that the user opted out. Before `start` (on every run while the user stays
    /// opted out) nothing is recorded and a one-time `optout` notice is sent per episode;
    /// while running an `optOut` record is sent at once and nothing is recorded afterwards.
    pub fn opt_out(&self) -> Result<()> {
        match self.shared.phase.load(Ordering::Acquire) {
            CREATED => {
                lock(&self.shared.run).opt_out = Some(OptOutMode::BeforeStart);
                Ok(())
            }
            RUNNING => {
                let mut run = lock(&self.shared.run);
                if run.opt_out.is_some() {
                    return Ok(());
                }
                if self.shared.recording.load(Ordering::Acquire) {
                    self.shared.append(RecordBody::OptOut);
                }
                run.opt_out = Some(OptOutMode::DuringRun);
                self.shared.recording.store(false, Ordering::Release);
                drop(run);
                let _ = self.shared.with_store(|st| st.update(|s| s.opt_out_notified = false));
                self.command(Command::OptOutNow);
                Ok(())
            }
            _ => Err(SdkError::WrongState("stopped")),
        }
    }

    /// Starts the SDK: queues `sessionStart` (single-session mode) and a full property
    /// snapshot, then syncs in the background. Returns at once.
    pub fn start(&self) -> Result<()> {
        if self.shared.phase.compare_exchange(CREATED, RUNNING, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return Err(SdkError::WrongState(if self.shared.phase.load(Ordering::Acquire) == RUNNING {
                "running"
            } else {
                "stopped"
            }));
        }
        let started = self.start_running();
        if started.is_err() {
            self.shared.recording.store(false, Ordering::Release);
            self.shared.phase.store(CREATED, Ordering::Release);
        }
        started
    }

    fn start_running(&self) -> Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("usagi-sdk")
            .enable_all()
            .build()
            .map_err(SdkError::Thread)?;
        let sh = &self.shared;
        let (disabled, backed_off) = {
            let now = sh.clock.now_ms();
            sh.store_state(|s| (s.disabled, s.back_off_until_ms.is_some_and(|u| now < u)))
        };
        let opt_out = lock(&sh.run).opt_out;
        if opt_out == Some(OptOutMode::BeforeStart) {
            // §11: delete the queue, record nothing.
            if let Err(e) = sh.with_store(|st| st.clear()) {
                runtime.shutdown_background();
                return Err(e);
            }
        } else if !disabled && !backed_off {
            // A run without opt_out: the user opted back in.
            if let Err(e) = sh.with_store(|st| st.update(|s| s.opt_out_notified = false)) {
                runtime.shutdown_background();
                return Err(e);
            }
            sh.recording.store(true, Ordering::Release);
            let bodies = {
                let mut run = lock(&sh.run);
                run.implicit_session = !sh.settings.multi_session;
                let mut bodies = Vec::with_capacity(3);
                if !sh.settings.multi_session {
                    bodies.push(RecordBody::SessionStart { session_id: None });
                }
                bodies.push(RecordBody::Properties(Box::new(PropertiesRecord {
                    product: Some(product_group(&run.product)),
                    machine: Some(run.machine.clone()),
                    custom: Some(run.custom.clone()),
                })));
                if let Some(license) = &run.license {
                    bodies.push(license_record(license, None));
                }
                bodies
            };
            for body in bodies {
                sh.append(body);
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        runtime.spawn(runtime::flusher(Arc::clone(&self.shared)));
        runtime.spawn(runtime::sync_loop(Arc::clone(&self.shared), rx));
        *lock(&self.worker) = Some(Worker { runtime, commands: tx });
        Ok(())
    }

    /// Stops the SDK: queues `sessionStop` for every open session, syncs, and waits at most
    /// `timeout` (default 5 s) for that sync. What is not delivered stays queued on disk.
    pub fn stop(&self, timeout: Option<Duration>) -> Result<()> {
        if self.shared.phase.compare_exchange(RUNNING, STOPPED, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return Err(SdkError::WrongState("not running"));
        }
        let sh = &self.shared;
        if sh.recording.load(Ordering::Acquire) {
            let (implicit, sessions) = {
                let mut run = lock(&sh.run);
                (std::mem::take(&mut run.implicit_session), std::mem::take(&mut run.sessions))
            };
            for id in sessions {
                sh.append(RecordBody::SessionStop { session_id: Some(id) });
            }
            if implicit {
                sh.append(RecordBody::SessionStop { session_id: None });
            }
        }
        sh.recording.store(false, Ordering::Release);
        let worker = lock(&self.worker).take();
        if let Some(worker) = worker {
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            if worker.commands.send(Command::Stop(done_tx)).is_ok() {
                let _ = done_rx.recv_timeout(timeout.unwrap_or(DEFAULT_STOP_TIMEOUT));
            }
            // An unfinished sync is abandoned: its batch stays on disk and is resent, with
            // the same batchId, at the next start.
            worker.runtime.shutdown_background();
        }
        sh.flush()
    }

    /// Starts an explicit session (multi-session mode); `id` is 10–64 characters.
    pub fn start_session(&self, id: &str) -> Result<()> {
        let id = self.explicit_session(id)?;
        self.running()?;
        lock(&self.shared.run).sessions.insert(id.clone());
        self.record(RecordBody::SessionStart { session_id: Some(id) })
    }

    /// Ends an explicit session (multi-session mode).
    pub fn stop_session(&self, id: &str) -> Result<()> {
        let id = self.explicit_session(id)?;
        self.running()?;
        lock(&self.shared.run).sessions.remove(&id);
        self.record(RecordBody::SessionStop { session_id: Some(id) })
    }

    /// Tracks one occurrence of an event.
    pub fn track_event(&self, category: Option<&str>, name: &str, session_id: Option<&str>) -> Result<()> {
        self.event(category, name, session_id, None, None)
    }

    /// Tracks an event with a number, summed in reports as custom values.
    pub fn track_event_numeric(
        &self,
        category: Option<&str>,
        name: &str,
        value: f64,
        session_id: Option<&str>,
    ) -> Result<()> {
        if !value.is_finite() {
            return Err(SdkError::NonFiniteValue);
        }
        self.event(category, name, session_id, Some(EventValue::Number(value)), None)
    }

    /// Tracks an event with a text value (truncated to 1,024 characters).
    pub fn track_event_text(
        &self,
        category: Option<&str>,
        name: &str,
        text: &str,
        session_id: Option<&str>,
    ) -> Result<()> {
        let value = condition::required("event text", text, EVENT_TEXT_MAX)?;
        self.event(category, name, session_id, Some(EventValue::Text(value)), None)
    }

    /// Tracks a custom event: 1–50 key/value pairs (keys lose whitespace; values are cut to 1,024).
    pub fn track_event_custom(
        &self,
        category: Option<&str>,
        name: &str,
        pairs: &[(&str, Option<&str>)],
        session_id: Option<&str>,
    ) -> Result<()> {
        if pairs.is_empty() || pairs.len() > EVENT_CUSTOM_PAIRS_MAX {
            return Err(SdkError::CustomPairCount(pairs.len()));
        }
        let mut custom = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let key = condition::no_whitespace("custom event key", k, EVENT_CUSTOM_KEY_MAX)?;
            // Values may be empty strings (0–1,024); only trimming and truncation apply.
            let value = v.map(|v| {
                let t = v.trim();
                t.char_indices().nth(EVENT_CUSTOM_VALUE_MAX).map_or(t, |(i, _)| &t[..i]).to_owned()
            });
            if custom.iter().any(|(existing, _): &(String, Option<String>)| *existing == key) {
                continue; // a JSON object cannot hold the same key twice; the first wins
            }
            custom.push((key, value));
        }
        self.event(category, name, session_id, None, Some(custom))
    }

    /// Tracks an exception. The message and stack trace are sent as given (cut to the limits).
    pub fn track_exception(
        &self,
        class_name: &str,
        method_name: &str,
        message: Option<&str>,
        stack_trace: Option<&str>,
        session_id: Option<&str>,
    ) -> Result<()> {
        let body = RecordBody::Exception {
            class_name: condition::required("class name", class_name, NAME_MAX)?,
            method_name: condition::required("method name", method_name, NAME_MAX)?,
            message: condition::text(message, MESSAGE_MAX),
            stack_trace: condition::text_bytes(stack_trace, STACK_TRACE_MAX_BYTES),
            session_id: self.session_param(session_id)?,
        };
        self.running()?;
        self.record(body)
    }

    /// Looks a license key up in the server's registry (a real-time call that blocks the
    /// calling thread up to the request timeout).
    pub fn license_check(&self, key: &str) -> Result<LicenseInfo> {
        let key = license_key(key)?;
        let body = LicenseCheckRequest { client_id: self.shared.settings.envelope.client_id, license_key: key };
        self.license_call(false, serde_json::to_vec(&body).unwrap_or_default())
    }

    /// Registers a key as this installation's current key and returns what the registry
    /// knows of it; the answer is also recorded as license data.
    pub fn license_set(&self, key: &str) -> Result<LicenseInfo> {
        let key = license_key(key)?;
        if self.shared.opt_out_mode().is_some() {
            return Err(SdkError::OptedOut);
        }
        let body = LicenseSetRequest {
            client_id: self.shared.settings.envelope.client_id,
            license_key: key,
            t: self.shared.clock.now_ms(),
            session_id: None,
        };
        let info = self.license_call(true, serde_json::to_vec(&body).unwrap_or_default())?;
        let data = LicenseData {
            license_type: Some(info.license_type),
            expired: Some(info.expired),
            activated: Some(info.activated),
            blocked: Some(info.blocked),
            allowed: Some(info.allowed),
        };
        self.set_license_data(data)?;
        Ok(info)
    }

    /// Syncs now (at most one manual sync per 60 s). Returns at once; the sync runs in the background.
    pub fn sync_now(&self) -> Result<()> {
        self.running()?;
        if self.shared.opt_out_mode().is_some() {
            return Err(SdkError::OptedOut);
        }
        if !self.shared.may_call_home() {
            return Err(SdkError::Suspended);
        }
        {
            let mut run = lock(&self.shared.run);
            let now = Instant::now();
            if run
                .last_manual_sync
                .is_some_and(|t| now.duration_since(t) < self.shared.settings.tuning.manual_sync_interval)
            {
                return Err(SdkError::SyncTooSoon);
            }
            run.last_manual_sync = Some(now);
        }
        self.command(Command::SyncNow);
        Ok(())
    }

    /// Writes every tracked record to the on-disk queue now (it happens at least once per second anyway).
    pub fn flush(&self) -> Result<()> {
        self.shared.flush()
    }

    /// Where the SDK is in its life.
    pub fn state(&self) -> SdkState {
        let sh = &self.shared;
        match sh.phase.load(Ordering::Acquire) {
            CREATED => return SdkState::Created,
            STOPPED => return SdkState::Stopped,
            _ => {}
        }
        let now = sh.clock.now_ms();
        let (disabled, until) = sh.store_state(|s| (s.disabled, s.back_off_until_ms));
        if disabled {
            SdkState::Disabled
        } else if let Some(until_ms) = until.filter(|u| now < *u) {
            SdkState::BackedOff { until_ms }
        } else if sh.opt_out_mode().is_some() {
            SdkState::OptedOut
        } else {
            SdkState::Running
        }
    }

    /// Counters for monitoring and tests.
    pub fn status(&self) -> Status {
        let sh = &self.shared;
        let buffered = lock(&sh.buffer).tally.records;
        let (queued, pending) = {
            let store = lock(&sh.store);
            (store.queued().records, store.pending_records())
        };
        Status {
            state: self.state(),
            queued_records: queued + buffered,
            pending_records: pending,
            dropped_records: sh.counters.dropped.load(Ordering::Relaxed),
            failures: sh.counters.failures.load(Ordering::Relaxed),
            delivered_batches: sh.counters.delivered.load(Ordering::Relaxed),
            clock_offset_ms: sh.clock.offset_ms(),
            not_found: sh.counters.not_found.load(Ordering::Relaxed),
        }
    }

    fn event(
        &self,
        category: Option<&str>,
        name: &str,
        session_id: Option<&str>,
        value: Option<EventValue>,
        custom: Option<Vec<(String, Option<String>)>>,
    ) -> Result<()> {
        let body = RecordBody::Event {
            category: condition::text(category, NAME_MAX),
            name: condition::required("event name", name, NAME_MAX)?,
            session_id: self.session_param(session_id)?,
            value,
            custom,
        };
        self.running()?;
        self.record(body)
    }

    fn running(&self) -> Result<()> {
        match self.shared.phase.load(Ordering::Acquire) {
            RUNNING => Ok(()),
            CREATED => Err(SdkError::WrongState("not started")),
            _ => Err(SdkError::WrongState("stopped")),
        }
    }

    /// Records while recording; opted out or suspended, silently records nothing (§11).
    fn record(&self, body: RecordBody) -> Result<()> {
        if self.shared.recording.load(Ordering::Acquire) {
            self.shared.append(body);
        }
        Ok(())
    }

    fn record_if_running(&self, body: impl FnOnce() -> RecordBody) -> Result<()> {
        if self.shared.phase.load(Ordering::Acquire) == RUNNING {
            self.record(body())?;
        }
        Ok(())
    }

    fn explicit_session(&self, id: &str) -> Result<String> {
        if !self.shared.settings.multi_session {
            return Err(SdkError::SessionMode("explicit sessions need multi-session mode"));
        }
        condition::session_id(id)
    }

    fn session_param(&self, id: Option<&str>) -> Result<Option<String>> {
        match id {
            None => Ok(None),
            Some(_) if !self.shared.settings.multi_session => {
                Err(SdkError::SessionMode("a session id needs multi-session mode"))
            }
            Some(id) => condition::session_id(id).map(Some),
        }
    }

    fn command(&self, command: Command) {
        if let Some(worker) = lock(&self.worker).as_ref() {
            let _ = worker.commands.send(command);
        }
    }

    fn license_call(&self, set: bool, body: Vec<u8>) -> Result<LicenseInfo> {
        self.running()?;
        if !self.shared.may_call_home() {
            return Err(SdkError::Suspended);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let worker = lock(&self.worker);
            let worker = worker.as_ref().ok_or(SdkError::WrongState("not running"))?;
            let shared = Arc::clone(&self.shared);
            worker.runtime.spawn(async move {
                let _ = tx.send(runtime::license_call(shared, set, body).await);
            });
        }
        let wait = self.shared.settings.tuning.request_timeout * 2 + Duration::from_secs(1);
        let bytes = rx.recv_timeout(wait).map_err(|_| SdkError::Timeout)??;
        let answer: LicenseResponse =
            serde_json::from_slice(&bytes).map_err(|e| SdkError::Network(format!("unreadable license answer: {e}")))?;
        Ok(LicenseInfo {
            known: answer.known,
            license_type: answer.license_type,
            expired: answer.expired,
            activated: answer.activated,
            blocked: answer.blocked,
            allowed: answer.allowed,
            expiry_date: answer.expiry_date,
        })
    }
}

impl Drop for Sdk {
    /// A running SDK is stopped without waiting for the network: its last records are
    /// written to disk and sent at the next start.
    fn drop(&mut self) {
        if self.shared.phase.load(Ordering::Acquire) == RUNNING {
            let _ = self.stop(Some(Duration::ZERO));
        }
    }
}

fn license_key(key: &str) -> Result<String> {
    let key = key.trim();
    let n = key.chars().count();
    if n == 0 || n > LICENSE_KEY_MAX {
        return Err(SdkError::InvalidLicenseKey);
    }
    Ok(key.to_owned())
}

fn product_group(p: &ProductData) -> ProductGroup {
    ProductGroup {
        edition: p.edition.clone(),
        language: p.language.clone(),
        version: p.version.clone(),
        build: p.build.clone(),
    }
}

fn license_record(d: &LicenseData, session_id: Option<String>) -> RecordBody {
    RecordBody::LicenseData {
        license_type: d.license_type,
        expired: d.expired,
        activated: d.activated,
        blocked: d.blocked,
        allowed: d.allowed,
        session_id,
    }
}

fn merge_machine(m: &mut MachineGroup, o: &MachineGroup) {
    let s = |v: &Option<String>| condition::text(v.as_deref(), PROPERTY_MAX);
    macro_rules! take {
        ($($f:ident).+, text) => { if o.$($f).+.is_some() { m.$($f).+ = s(&o.$($f).+); } };
        ($($f:ident).+) => { if o.$($f).+.is_some() { m.$($f).+ = o.$($f).+.clone(); } };
    }
    take!(os.platform, text);
    take!(os.version, text);
    take!(os.edition, text);
    take!(os_language, text);
    take!(os_word_length);
    take!(cpu_type, text);
    take!(cpu_cores);
    take!(ram);
    take!(display_count);
    take!(resolution_width);
    take!(resolution_height);
    take!(screen_ppi);
    take!(touch_screen);
    take!(form_factor, text);
    take!(gpu.vendor, text);
    take!(gpu.model, text);
    take!(vm, text);
    take!(dot_net_version, text);
    take!(java.version, text);
    take!(java.vendor, text);
    take!(java.runtime, text);
    take!(java.graphics, text);
    take!(java.vm_version, text);
    take!(java.vm_name, text);
    take!(java.vm_ram);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sdk_can_be_shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Sdk>();
    }
}
