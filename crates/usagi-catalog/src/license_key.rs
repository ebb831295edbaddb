//! The minimal license-key registry (reporting-api §12, callhome §7).

use chrono::NaiveDate;

use crate::error::{CatalogError, Result};

/// Longest license key, in characters (callhome §7).
pub const MAX_LICENSE_KEY_CHARS: usize = 256;
/// Longest `notes` text, in characters (reporting-api §12).
pub const MAX_NOTES_CHARS: usize = 1024;

pub use usagi_types::{LicenseKeyPatch, LicenseType};

/// One key of a product's registry, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseKeyRecord {
    /// The key: case-sensitive, already trimmed, 1–256 characters.
    pub key: String,
    /// The license type.
    pub license_type: LicenseType,
    /// The stored expired flag; see [`LicenseKeyRecord::effective_expired`].
    pub expired: bool,
    /// Activated flag.
    pub activated: bool,
    /// Blocked (blacklisted) flag.
    pub blocked: bool,
    /// Allowed (whitelisted) flag.
    pub allowed: bool,
    /// Expiry day, if any.
    pub expiry_date: Option<NaiveDate>,
    /// Installations allowed; `None` = unlimited.
    pub quota: Option<u32>,
    /// Free text of at most 1024 characters.
    pub notes: Option<String>,
    /// True if the key first arrived through the SDK's `license/set`.
    pub auto_collected: bool,
    /// The day the key entered the registry.
    pub added_date: NaiveDate,
}

impl LicenseKeyRecord {
    /// The record `license/set` inserts for a key the registry does not know (callhome §7).
    pub fn auto_collected(key: &str, today: NaiveDate) -> Self {
        Self {
            key: key.to_owned(),
            license_type: LicenseType::Unknown,
            expired: false,
            activated: false,
            blocked: false,
            allowed: false,
            expiry_date: None,
            quota: None,
            notes: None,
            auto_collected: true,
            added_date: today,
        }
    }

    /// The record an `updateKeys` item makes (reporting-api §12.2): the stored record with
    /// the sent fields replaced, or for a new key the defaults (manual, added `today`).
    pub fn patched(stored: Option<LicenseKeyRecord>, patch: &LicenseKeyPatch, today: NaiveDate) -> Self {
        let base = stored.unwrap_or_else(|| Self { auto_collected: false, ..Self::auto_collected(&patch.key, today) });
        Self {
            license_type: patch.license_type.unwrap_or(base.license_type),
            expired: patch.expired.unwrap_or(base.expired),
            activated: patch.activated.unwrap_or(base.activated),
            blocked: patch.blocked.unwrap_or(base.blocked),
            allowed: patch.allowed.unwrap_or(base.allowed),
            expiry_date: patch.expiry_date.unwrap_or(base.expiry_date),
            quota: patch.quota.unwrap_or(base.quota),
            notes: patch.notes.clone().unwrap_or(base.notes),
            ..base
        }
    }

    /// The expired value reported everywhere: the stored flag or an expiry day before today.
    pub fn effective_expired(&self, today: NaiveDate) -> bool {
        self.expired || self.expiry_date.is_some_and(|d| d < today)
    }

    /// Checks the key and the notes before storing.
    pub(crate) fn validate(&self) -> Result<()> {
        check_key(&self.key)?;
        if let Some(notes) = &self.notes {
            if notes.chars().count() > MAX_NOTES_CHARS {
                return Err(CatalogError::invalid("notes must be at most 1024 characters"));
            }
        }
        Ok(())
    }
}

/// Checks that a key is already trimmed and 1–256 characters; callers trim (the API trims keys).
pub(crate) fn check_key(key: &str) -> Result<()> {
    let n = key.chars().count();
    if n == 0 || n > MAX_LICENSE_KEY_CHARS || key.trim() != key {
        return Err(CatalogError::invalid(
            "licenseKey must be 1-256 characters without leading or trailing whitespace",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip() {
        for t in LicenseType::ALL {
            assert_eq!(t.as_str().parse::<LicenseType>().unwrap(), t);
        }
        assert!("Purchased".parse::<LicenseType>().is_err());
    }

    #[test]
    fn effective_expiry() {
        let today = NaiveDate::from_ymd_opt(2024, 3, 19).unwrap();
        let mut r = LicenseKeyRecord::auto_collected("K-1", today);
        assert!(!r.effective_expired(today));
        r.expiry_date = today.pred_opt();
        assert!(r.effective_expired(today));
        r.expiry_date = Some(today);
        assert!(!r.effective_expired(today));
        r.expired = true;
        assert!(r.effective_expired(today));
    }

    #[test]
    fn patches_keep_unsent_fields_and_clear_nulls() {
        let today = NaiveDate::from_ymd_opt(2024, 3, 19).unwrap();
        let fresh = LicenseKeyRecord::patched(None, &LicenseKeyPatch::new("K-1"), today);
        assert_eq!(fresh, LicenseKeyRecord { auto_collected: false, ..LicenseKeyRecord::auto_collected("K-1", today) });
        let stored = LicenseKeyRecord {
            quota: Some(5),
            notes: Some("ACME".into()),
            expiry_date: Some(today),
            activated: true,
            ..LicenseKeyRecord::auto_collected("K-1", today.pred_opt().unwrap())
        };
        let patch = LicenseKeyPatch {
            license_type: Some(LicenseType::Purchased),
            quota: Some(None),
            blocked: Some(true),
            ..LicenseKeyPatch::new("K-1")
        };
        let got = LicenseKeyRecord::patched(Some(stored.clone()), &patch, today);
        assert_eq!(
            got,
            LicenseKeyRecord { license_type: LicenseType::Purchased, quota: None, blocked: true, ..stored.clone() }
        );
        assert!(got.auto_collected && got.added_date < today, "origin kept");
    }

    #[test]
    fn key_checks() {
        assert!(check_key("K-1").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key(" K").is_err());
        assert!(check_key(&"x".repeat(257)).is_err());
        assert!(check_key(&"é".repeat(256)).is_ok());
    }
}
