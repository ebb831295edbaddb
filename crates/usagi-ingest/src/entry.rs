//! What the ingest log stores: accepted work, after validation, clamping and retention.

use serde::{Deserialize, Serialize};
use usagi_protocol::Record;
use usagi_types::{ClientId, ProductId};
use uuid::Uuid;

/// One durable unit of accepted work.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum LogEntry {
    /// An accepted `sync` batch (a contact).
    Sync(SyncEntry),
    /// A `license/set` call.
    LicenseSet(LicenseSetEntry),
    /// An `optout` call.
    OptOut(OptOutEntry),
}

impl LogEntry {
    /// The product the entry belongs to.
    pub fn product(&self) -> ProductId {
        match self {
            LogEntry::Sync(s) => s.product,
            LogEntry::LicenseSet(l) => l.product,
            LogEntry::OptOut(o) => o.product,
        }
    }
}

/// Geography derived from a sync's address (the address itself is never kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Geo {
    /// Two-letter continent code.
    pub continent: Option<String>,
    /// ISO 3166-1 alpha-2 country.
    pub country: Option<String>,
    /// `US-` + subdivision, US only.
    pub us_state: Option<String>,
}

/// The answer stored with a batch receipt and repeated for duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredResponse {
    /// Records stored.
    pub accepted: u32,
    /// Records dropped (too old).
    pub dropped: u32,
    /// Records of unknown kinds.
    pub ignored: u32,
    /// The sync interval answered.
    pub next_sync_seconds: u32,
}

/// An accepted sync batch with its server-side context.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncEntry {
    /// Product.
    pub product: ProductId,
    /// Server receive time, ms.
    pub received_at: i64,
    /// Installation.
    pub client: ClientId,
    /// Batch id.
    pub batch_id: Uuid,
    /// Batch sequence number.
    pub seq: u64,
    /// Envelope `machineId`.
    pub machine_id: Option<String>,
    /// Envelope `appName`.
    pub app_name: String,
    /// SDK name.
    pub sdk_name: String,
    /// SDK version.
    pub sdk_version: String,
    /// Geography of the sender, when a database is configured and matched.
    pub geo: Option<Geo>,
    /// The stored records: clamped, retention-filtered, unknown kinds removed.
    pub records: Vec<Record>,
    /// The answer given.
    pub response: StoredResponse,
}

/// A `license/set` call: the installation's current key from `t` on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseSetEntry {
    /// Product.
    pub product: ProductId,
    /// Installation.
    pub client: ClientId,
    /// The key, trimmed.
    pub license_key: String,
    /// Clamped client time, ms.
    pub t: i64,
    /// Explicit session, if any.
    pub session_id: Option<String>,
    /// Server receive time, ms.
    pub received_at: i64,
}

/// An `optout` call.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OptOutEntry {
    /// Product.
    pub product: ProductId,
    /// Installation.
    pub client: ClientId,
    /// Application name.
    pub app_name: String,
    /// Machine id, if sent.
    pub machine_id: Option<String>,
    /// Clamped client time, ms.
    pub t: i64,
    /// Server receive time, ms.
    pub received_at: i64,
}
