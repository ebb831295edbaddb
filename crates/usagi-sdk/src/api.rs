//! Value types of the public API.

use usagi_protocol::LicenseType;

/// The product group of the properties (edition, language, version, build); sent at every start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductData {
    /// Edition, e.g. `Pro`.
    pub edition: Option<String>,
    /// Product language, e.g. `en`.
    pub language: Option<String>,
    /// Version, e.g. `2.1`.
    pub version: Option<String>,
    /// Build, e.g. `2104`.
    pub build: Option<String>,
}

/// License state reported by the application; `None` leaves a value unchanged at the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LicenseData {
    /// License type.
    pub license_type: Option<LicenseType>,
    /// Expired flag.
    pub expired: Option<bool>,
    /// Activated flag.
    pub activated: Option<bool>,
    /// Blocked flag.
    pub blocked: Option<bool>,
    /// Allowed flag.
    pub allowed: Option<bool>,
}

/// A license key as the server's key registry knows it (`license/check`, `license/set`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseInfo {
    /// The key was in the registry before the call.
    pub known: bool,
    /// License type (`unknown` for an unknown key).
    pub license_type: LicenseType,
    /// Effective expiry.
    pub expired: bool,
    /// Activated flag.
    pub activated: bool,
    /// Blocked flag.
    pub blocked: bool,
    /// Allowed flag.
    pub allowed: bool,
    /// `YYYY-MM-DD`, when the key has an expiry date.
    pub expiry_date: Option<String>,
}

/// Where an SDK instance is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdkState {
    /// Created, not started: settings may be given.
    Created,
    /// Started and recording.
    Running,
    /// Started, but the user opted out: nothing is recorded.
    OptedOut,
    /// Started, but the server asked this installation to back off until the given unix ms.
    BackedOff {
        /// End of the back-off, unix ms.
        until_ms: i64,
    },
    /// The server disabled this installation; it stays inert until its data directory is reset.
    Disabled,
    /// Stopped; the instance cannot be started again.
    Stopped,
}

/// Counters for monitoring and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// Lifecycle state.
    pub state: SdkState,
    /// Records waiting in the offline queue (memory buffer and file).
    pub queued_records: u64,
    /// Records in batches formed but not yet acknowledged.
    pub pending_records: u64,
    /// Records dropped because the queue was full, during this run.
    pub dropped_records: u64,
    /// Consecutive failed sync attempts.
    pub failures: u32,
    /// Batches acknowledged during this run.
    pub delivered_batches: u64,
    /// Server minus local clock, in ms.
    pub clock_offset_ms: i64,
    /// The server answered 404: no call home until the next start.
    pub not_found: bool,
}
