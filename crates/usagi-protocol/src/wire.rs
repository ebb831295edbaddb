//! Serde types of every request and response body, shared by the server, the SDK and the
//! simulator. Field order is member order, which the spec fixes for responses.
//!
//! Request types serialize to exactly what the server accepts; the server itself reads
//! requests through the validating parsers ([`crate::parse_sync`] and friends), not through
//! these `Deserialize` impls.

use serde::de::{Deserializer, IgnoredAny};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use usagi_types::{ClientId, ProductId};
use uuid::Uuid;

use crate::record::{LicenseType, Record, RecordBody};
use crate::sync::SyncBatch;

/// The SDK that sent a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdkInfo {
    /// 1–32 characters of `[a-z0-9._-]`.
    pub name: String,
    /// 1–32 characters.
    pub version: String,
}

/// Body of `POST sync` (§5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRequest {
    /// The installation.
    pub client_id: ClientId,
    /// Salted machine id, or null.
    #[serde(default)]
    pub machine_id: Option<String>,
    /// Application name.
    pub app_name: String,
    /// SDK name and version.
    pub sdk: SdkInfo,
    /// Unique per batch.
    pub batch_id: Uuid,
    /// Strictly increasing per installation.
    pub seq: u64,
    /// The records, 0–10,000.
    pub records: Vec<WireRecord>,
}

/// One record on the wire: `kind`, `t` and the kind's fields in one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireRecord {
    /// Client time in ms since the Unix epoch.
    pub t: i64,
    /// The kind and its fields.
    #[serde(flatten)]
    pub body: RecordBody,
}

impl From<&Record> for WireRecord {
    fn from(r: &Record) -> Self {
        Self { t: r.t, body: r.body.clone() }
    }
}

impl From<&SyncBatch> for SyncRequest {
    fn from(b: &SyncBatch) -> Self {
        Self {
            client_id: b.client_id,
            machine_id: b.machine_id.clone(),
            app_name: b.app_name.clone(),
            sdk: b.sdk.clone(),
            batch_id: b.batch_id,
            seq: b.seq,
            records: b.records.iter().map(WireRecord::from).collect(),
        }
    }
}

/// Body of `POST license/check` (§7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseCheckRequest {
    /// The installation.
    pub client_id: ClientId,
    /// The key, 1–256 characters after trimming, case-sensitive.
    pub license_key: String,
}

/// Body of `POST license/set` (§7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseSetRequest {
    /// The installation.
    pub client_id: ClientId,
    /// The key, 1–256 characters after trimming, case-sensitive.
    pub license_key: String,
    /// Client time in ms since the Unix epoch.
    pub t: i64,
    /// Explicit session id (multi-session mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// Body of `POST optout` (§8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OptOutRequest {
    /// The installation.
    pub client_id: ClientId,
    /// Application name.
    pub app_name: String,
    /// Salted machine id, or null.
    #[serde(default)]
    pub machine_id: Option<String>,
    /// Client time in ms since the Unix epoch.
    pub t: i64,
}

/// Body of `POST ping` (§8): `{}` or `{"clientId":…}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PingRequest {
    /// The installation, when the SDK has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<ClientId>,
}

/// Successful answer to `sync` (§10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncResponse {
    /// Records stored.
    pub accepted: u32,
    /// Records too old, or discarded by an instruction.
    pub dropped: u32,
    /// Records of unknown kinds.
    pub ignored: u32,
    /// Whether this batchId had been committed before.
    pub duplicate: bool,
    /// Seconds until the next periodic sync.
    pub next_sync_seconds: u32,
    /// What the SDK must do; an instruction of unknown shape reads as none (§13).
    #[serde(default, deserialize_with = "lenient_instruction")]
    pub instruction: Option<Instruction>,
    /// Reserved; always null.
    #[serde(default, deserialize_with = "ignore_reserved")]
    pub reach_out: Option<()>,
    /// Server time in unix ms.
    pub server_time: i64,
}

/// An instruction in a `sync` answer (§10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instruction {
    /// `{"backOffDays":n}`: stop calling home and discard data for n days (1–365).
    BackOffDays(u32),
    /// `{"disable":true}`: stop permanently.
    Disable,
}

impl Serialize for Instruction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        match self {
            Self::BackOffDays(days) => map.serialize_entry("backOffDays", days)?,
            Self::Disable => map.serialize_entry("disable", &true)?,
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Instruction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Shape {
            back_off_days: Option<u32>,
            disable: Option<bool>,
        }
        match Shape::deserialize(d)? {
            Shape { disable: Some(true), .. } => Ok(Self::Disable),
            Shape { back_off_days: Some(days), .. } => Ok(Self::BackOffDays(days)),
            _ => Err(serde::de::Error::custom("unknown instruction")),
        }
    }
}

fn lenient_instruction<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Instruction>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(value).ok())
}

fn ignore_reserved<'de, D: Deserializer<'de>>(d: D) -> Result<Option<()>, D::Error> {
    IgnoredAny::deserialize(d)?;
    Ok(None)
}

/// Answer to `license/check` and `license/set` (§7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseResponse {
    /// The key as looked up.
    pub license_key: String,
    /// Whether the key was in the registry before the call.
    pub known: bool,
    /// `unknown` for an unknown key.
    pub license_type: LicenseType,
    /// Effective expiry flag.
    pub expired: bool,
    /// Activated flag.
    pub activated: bool,
    /// Blocked flag.
    pub blocked: bool,
    /// Allowed flag.
    pub allowed: bool,
    /// `YYYY-MM-DD`, or null.
    pub expiry_date: Option<String>,
    /// Server time in unix ms.
    pub server_time: i64,
}

/// Answer to `optout` (§8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OptOutResponse {
    /// Always true.
    pub opted_out: bool,
    /// Server time in unix ms.
    pub server_time: i64,
}

/// Answer to `ping` (§8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PingResponse {
    /// Always true.
    pub ok: bool,
    /// The product the URL named.
    pub product_id: ProductId,
    /// [`crate::PROTOCOL_VERSION`].
    pub protocol_version: u32,
    /// Server time in unix ms.
    pub server_time: i64,
}

/// Body of every error answer (§4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// One of the status words, e.g. [`ErrorBody::SYNTAX_ERROR`].
    pub status: String,
    /// One sentence naming the offending field.
    pub reason: String,
    /// Server time in unix ms; only on timestamp errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time: Option<i64>,
}

impl ErrorBody {
    /// 400.
    pub const SYNTAX_ERROR: &'static str = "SYNTAX ERROR";
    /// 401.
    pub const AUTH_ERROR: &'static str = "AUTH ERROR";
    /// 404.
    pub const NOT_FOUND: &'static str = "NOT FOUND";
    /// 413.
    pub const TOO_LARGE: &'static str = "TOO LARGE";
    /// 429.
    pub const RATE_LIMITED: &'static str = "RATE LIMITED";
    /// 500 and 503.
    pub const SERVER_ERROR: &'static str = "SERVER ERROR";

    /// An error body without `serverTime`.
    pub fn new(status: &str, reason: impl Into<String>) -> Self {
        Self { status: status.to_owned(), reason: reason.into(), server_time: None }
    }
}

#[cfg(test)]
mod tests;
