//! Products, their settings and the rules for changing them.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use chrono::{DateTime, Utc};
use usagi_types::ProductId;

use crate::error::{CatalogError, Result};

/// A product: the unit of telemetry, reporting and permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// The 10-digit product id.
    pub id: ProductId,
    /// Display name.
    pub name: String,
    /// When the product was created.
    pub created_at: DateTime<Utc>,
    /// Disabled by the operator: call-home requests are answered 404 (callhome §2).
    pub disabled: bool,
    /// Operator-tunable settings.
    pub settings: ProductSettings,
}

/// Operator-tunable settings of a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSettings {
    /// Default N of the lost rule (`daysUntilDeclaredLost`), 1–365.
    pub days_until_declared_lost: u32,
    /// Days of data kept and reported (`retentionDays`).
    pub retention_days: u32,
    /// Suggested seconds between syncs (`nextSyncSeconds`), 60–86,400.
    pub next_sync_seconds: u32,
    /// Quota of active installations (`maxActiveInstallations`); `None` = unlimited.
    pub max_active_installations: Option<u32>,
    /// Days of back-off answered when the quota is reached (`backOffDays`), 1–365.
    pub back_off_days: u32,
    /// Days that finalized export files are listed (`exportRetentionDays`).
    pub export_retention_days: u32,
    /// Whether a newly seen event starts as `basic:true` (else inactive).
    pub new_events_basic: bool,
    /// Friendly names of custom properties, keyed by slot 1–20 (`C01`–`C20`).
    pub custom_property_names: BTreeMap<u8, String>,
}

/// Allowed `daysUntilDeclaredLost`.
pub const DAYS_UNTIL_DECLARED_LOST: RangeInclusive<u32> = 1..=365;
/// Allowed `retentionDays` (up to ten years).
pub const RETENTION_DAYS: RangeInclusive<u32> = 1..=3650;
/// Allowed `nextSyncSeconds` (callhome §10).
pub const NEXT_SYNC_SECONDS: RangeInclusive<u32> = 60..=86_400;
/// Allowed `backOffDays`: the range of the `backOffDays` instruction (callhome §10).
pub const BACK_OFF_DAYS: RangeInclusive<u32> = 1..=365;
/// Allowed `exportRetentionDays`.
pub const EXPORT_RETENTION_DAYS: RangeInclusive<u32> = 1..=3650;
/// Custom property slots (`C01`–`C20`).
pub const CUSTOM_PROPERTY_SLOTS: RangeInclusive<u8> = 1..=20;
/// Longest product name or custom property name, in characters.
pub const MAX_NAME_CHARS: usize = 256;

impl Default for ProductSettings {
    fn default() -> Self {
        Self {
            days_until_declared_lost: 40,
            retention_days: 1095,
            next_sync_seconds: 1200,
            max_active_installations: None,
            back_off_days: 7,
            // reporting-api §13.2 and §16.1 give 90 as the default.
            export_retention_days: 90,
            new_events_basic: true,
            custom_property_names: BTreeMap::new(),
        }
    }
}

/// A partial update of [`ProductSettings`]; `None` (or an absent slot) leaves a field untouched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductSettingsPatch {
    /// New `daysUntilDeclaredLost`.
    pub days_until_declared_lost: Option<u32>,
    /// New `retentionDays`.
    pub retention_days: Option<u32>,
    /// New `nextSyncSeconds`.
    pub next_sync_seconds: Option<u32>,
    /// New quota: `Some(None)` removes it, `Some(Some(n))` sets it.
    pub max_active_installations: Option<Option<u32>>,
    /// New `backOffDays`.
    pub back_off_days: Option<u32>,
    /// New `exportRetentionDays`.
    pub export_retention_days: Option<u32>,
    /// New default for newly seen events.
    pub new_events_basic: Option<bool>,
    /// Per slot: `Some(name)` sets the friendly name, `None` removes it.
    pub custom_property_names: BTreeMap<u8, Option<String>>,
}

fn check_range(field: &str, value: u32, range: &RangeInclusive<u32>) -> Result<u32> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(CatalogError::invalid(format!("{field} must be an integer {}-{}", range.start(), range.end())))
    }
}

/// Trims a display name and checks it is 1–256 characters; `field` names it in errors.
pub(crate) fn clean_name(field: &str, name: &str) -> Result<String> {
    let trimmed = name.trim();
    let chars = trimmed.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || trimmed.chars().any(char::is_control) {
        return Err(CatalogError::invalid(format!("{field} must be 1-{MAX_NAME_CHARS} printable characters")));
    }
    Ok(trimmed.to_owned())
}

impl ProductSettings {
    /// Applies a patch, validating every field it sets; errors name the field as the API spells it.
    pub fn apply(&self, patch: &ProductSettingsPatch) -> Result<ProductSettings> {
        let mut next = self.clone();
        if let Some(v) = patch.days_until_declared_lost {
            next.days_until_declared_lost = check_range("daysUntilDeclaredLost", v, &DAYS_UNTIL_DECLARED_LOST)?;
        }
        if let Some(v) = patch.retention_days {
            next.retention_days = check_range("retentionDays", v, &RETENTION_DAYS)?;
        }
        if let Some(v) = patch.next_sync_seconds {
            next.next_sync_seconds = check_range("nextSyncSeconds", v, &NEXT_SYNC_SECONDS)?;
        }
        if let Some(v) = patch.max_active_installations {
            next.max_active_installations = match v {
                Some(0) => {
                    return Err(CatalogError::invalid("maxActiveInstallations must be a positive integer or null"))
                }
                other => other,
            };
        }
        if let Some(v) = patch.back_off_days {
            next.back_off_days = check_range("backOffDays", v, &BACK_OFF_DAYS)?;
        }
        if let Some(v) = patch.export_retention_days {
            next.export_retention_days = check_range("exportRetentionDays", v, &EXPORT_RETENTION_DAYS)?;
        }
        if let Some(v) = patch.new_events_basic {
            next.new_events_basic = v;
        }
        for (slot, name) in &patch.custom_property_names {
            if !CUSTOM_PROPERTY_SLOTS.contains(slot) {
                return Err(CatalogError::invalid(format!("customPropertyNames slot {slot} must be 1-20")));
            }
            match name {
                Some(name) => {
                    let field = format!("customPropertyNames.C{slot:02}");
                    next.custom_property_names.insert(*slot, clean_name(&field, name)?);
                }
                None => {
                    next.custom_property_names.remove(slot);
                }
            }
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_text(patch: ProductSettingsPatch) -> String {
        match ProductSettings::default().apply(&patch) {
            Err(CatalogError::Invalid(msg)) => msg,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_spec() {
        let s = ProductSettings::default();
        assert_eq!(s.days_until_declared_lost, 40);
        assert_eq!(s.retention_days, 1095);
        assert_eq!(s.next_sync_seconds, 1200);
        assert_eq!(s.back_off_days, 7);
        assert!(s.new_events_basic);
        assert_eq!(s.max_active_installations, None);
    }

    #[test]
    fn validation_names_the_field() {
        let msg = err_text(ProductSettingsPatch { days_until_declared_lost: Some(0), ..Default::default() });
        assert!(msg.starts_with("daysUntilDeclaredLost"), "{msg}");
        let msg = err_text(ProductSettingsPatch { next_sync_seconds: Some(59), ..Default::default() });
        assert!(msg.starts_with("nextSyncSeconds"), "{msg}");
        let msg = err_text(ProductSettingsPatch { max_active_installations: Some(Some(0)), ..Default::default() });
        assert!(msg.starts_with("maxActiveInstallations"), "{msg}");
        let msg = err_text(ProductSettingsPatch {
            custom_property_names: [(21, Some("x".into()))].into(),
            ..Default::default()
        });
        assert!(msg.starts_with("customPropertyNames"), "{msg}");
        let msg = err_text(ProductSettingsPatch {
            custom_property_names: [(3, Some("  ".into()))].into(),
            ..Default::default()
        });
        assert!(msg.starts_with("customPropertyNames.C03"), "{msg}");
    }

    #[test]
    fn patch_sets_and_clears() {
        let base = ProductSettings::default()
            .apply(&ProductSettingsPatch {
                days_until_declared_lost: Some(365),
                max_active_installations: Some(Some(10)),
                custom_property_names: [(1, Some(" Download Source ".into()))].into(),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(base.days_until_declared_lost, 365);
        assert_eq!(base.max_active_installations, Some(10));
        assert_eq!(base.custom_property_names[&1], "Download Source");
        let cleared = base
            .apply(&ProductSettingsPatch {
                max_active_installations: Some(None),
                custom_property_names: [(1, None)].into(),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(cleared.max_active_installations, None);
        assert!(cleared.custom_property_names.is_empty());
        assert_eq!(cleared.days_until_declared_lost, 365);
    }
}
