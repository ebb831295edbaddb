//! License types (callhome §6.2, reporting-api §2), shared by the protocol, catalog and reports.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The type of a license.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LicenseType {
    /// `evaluation`.
    Evaluation,
    /// `purchased`.
    Purchased,
    /// `freeware`.
    Freeware,
    /// `unknown`.
    Unknown,
    /// `nfr` (not for resale).
    Nfr,
    /// `custom1`.
    Custom1,
    /// `custom2`.
    Custom2,
    /// `custom3`.
    Custom3,
}

impl LicenseType {
    /// Every license type, in the order of the spec.
    pub const ALL: [LicenseType; 8] = [
        Self::Evaluation,
        Self::Purchased,
        Self::Freeware,
        Self::Unknown,
        Self::Nfr,
        Self::Custom1,
        Self::Custom2,
        Self::Custom3,
    ];

    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Evaluation => "evaluation",
            Self::Purchased => "purchased",
            Self::Freeware => "freeware",
            Self::Unknown => "unknown",
            Self::Nfr => "nfr",
            Self::Custom1 => "custom1",
            Self::Custom2 => "custom2",
            Self::Custom3 => "custom3",
        }
    }

    /// Parses a wire name; case-sensitive, as every enum value of the protocol.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Changes to one key of a license-key registry (reporting-api §12.2): `None` leaves a
/// field as stored (or at its default for a new key); for the nullable fields
/// `Some(None)` clears the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseKeyPatch {
    /// The key, trimmed, 1–256 characters.
    pub key: String,
    /// New license type.
    pub license_type: Option<LicenseType>,
    /// New activated flag.
    pub activated: Option<bool>,
    /// New stored expired flag.
    pub expired: Option<bool>,
    /// New blocked flag.
    pub blocked: Option<bool>,
    /// New allowed flag.
    pub allowed: Option<bool>,
    /// New expiry day; `Some(None)` removes it.
    pub expiry_date: Option<Option<NaiveDate>>,
    /// New quota; `Some(None)` makes the key unlimited.
    pub quota: Option<Option<u32>>,
    /// New notes; `Some(None)` removes them.
    pub notes: Option<Option<String>>,
}

impl LicenseKeyPatch {
    /// A patch that changes nothing (for an existing key) or sets defaults (for a new one).
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            license_type: None,
            activated: None,
            expired: None,
            blocked: None,
            allowed: None,
            expiry_date: None,
            quota: None,
            notes: None,
        }
    }
}

impl std::fmt::Display for LicenseType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LicenseType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s).ok_or_else(|| {
            "licenseType must be one of evaluation, purchased, freeware, unknown, nfr, custom1, custom2, custom3".into()
        })
    }
}
