//! What an application passes to create an SDK instance.

use std::path::PathBuf;
use std::time::Duration;

use usagi_protocol::limits::{MAX_RECORDS, SYNC_MAX_WIRE};

/// SDK configuration: where to keep state, which product to report to, and how.
#[derive(Debug, Clone)]
pub struct Config {
    /// A directory the SDK owns (created if missing): identity, offline queue, pending batches.
    pub data_dir: PathBuf,
    /// The 10-digit product id.
    pub product_id: String,
    /// Application name, 1–16 characters (whitespace is removed, longer names are cut).
    pub app_name: String,
    /// Base URL of the server, e.g. `https://usage.example.com` (without `/callhome`).
    pub server_url: String,
    /// The product secret, 32 hexadecimal characters.
    pub secret: String,
    /// Explicit sessions (`start_session`/`stop_session`) instead of one implicit session per run.
    pub multi_session: bool,
    /// Timings and bounds; the defaults are the protocol's (§11). Tests shorten them.
    pub tuning: Tuning,
}

impl Config {
    /// A configuration with the protocol's default timings, in single-session mode.
    pub fn new(
        data_dir: impl Into<PathBuf>,
        product_id: impl Into<String>,
        app_name: impl Into<String>,
        server_url: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        Self {
            data_dir: data_dir.into(),
            product_id: product_id.into(),
            app_name: app_name.into(),
            server_url: server_url.into(),
            secret: secret.into(),
            multi_session: false,
            tuning: Tuning::default(),
        }
    }

    /// Switches multi-session mode on or off.
    pub fn multi_session(mut self, on: bool) -> Self {
        self.multi_session = on;
        self
    }
}

/// Timings and bounds of the SDK runtime. The defaults follow callhome §11.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuning {
    /// Upper bound of the first retry wait (30 s); it doubles per consecutive failure.
    pub retry_base: Duration,
    /// Largest retry wait bound (3,600 s).
    pub retry_cap: Duration,
    /// Longest time a tracked record stays only in memory before it is written to disk (1 s).
    pub flush_interval: Duration,
    /// Shortest time between two manual syncs (60 s).
    pub manual_sync_interval: Duration,
    /// Timeout of one HTTP request (30 s).
    pub request_timeout: Duration,
    /// Longest time between periodic syncs; the server's `nextSyncSeconds` (60 s at least)
    /// applies when shorter. Default: 86,400 s, so the server decides.
    pub max_sync_interval: Duration,
    /// Most records in the offline queue (100,000).
    pub max_queue_records: u64,
    /// Most bytes in the offline queue (50 MiB).
    pub max_queue_bytes: u64,
    /// Most records in one batch (10,000).
    pub max_batch_records: usize,
    /// Largest compressed batch body (1 MiB).
    pub max_batch_wire_bytes: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            retry_base: Duration::from_secs(30),
            retry_cap: Duration::from_secs(3600),
            flush_interval: Duration::from_secs(1),
            manual_sync_interval: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            max_sync_interval: Duration::from_secs(86_400),
            max_queue_records: 100_000,
            max_queue_bytes: 50 << 20,
            max_batch_records: MAX_RECORDS,
            max_batch_wire_bytes: SYNC_MAX_WIRE,
        }
    }
}
