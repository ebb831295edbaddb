//! What every report knows besides its request: product, "today", settings, permissions.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use usagi_types::{ApiError, ProductId};
use usagi_warehouse::WarehouseError;

/// The fixed context of one report request (one "now" per request, semantics §2).
#[derive(Debug, Clone)]
pub struct ReportContext {
    /// The product reported on.
    pub product: ProductId,
    /// Today's UTC date when the request started.
    pub today: NaiveDate,
    /// The product's `daysUntilDeclaredLost`.
    pub days_until_declared_lost: u32,
    /// The product's `retentionDays`.
    pub retention_days: u32,
    /// Whether the caller holds the `licenseKeys` flag.
    pub license_keys: bool,
    /// The request's "now".
    pub now: DateTime<Utc>,
    /// Back-off state of the product's installations (semantics §11).
    pub back_off: BackOff,
    /// Result-size limits (reporting-api §1.12).
    pub limits: ResultLimits,
}

/// Back-off state as of the request's now.
#[derive(Debug, Clone, Default)]
pub struct BackOff {
    /// A product-wide back-off is in force: every installation is backing off now.
    pub product_wide: bool,
    /// `(client id, historical, current)` of installations with state of their own.
    pub clients: Vec<(u64, bool, bool)>,
}

/// Result-size limits; beyond them a report answers 413.
#[derive(Debug, Clone, Copy)]
pub struct ResultLimits {
    /// Keys per segmentation level.
    pub keys_per_level: usize,
    /// Numbers per response.
    pub numbers: usize,
}

impl Default for ResultLimits {
    fn default() -> Self {
        Self { keys_per_level: 1000, numbers: 200_000 }
    }
}

impl ReportContext {
    /// The oldest day a report may start on (reporting-api §7.3).
    pub fn oldest_reported_date(&self) -> NaiveDate {
        self.today - Duration::days(i64::from(self.retention_days))
    }
}

/// Maps a warehouse failure to the API's 500, without leaking engine details.
pub fn warehouse_error(e: WarehouseError) -> ApiError {
    tracing::error!(error = %e, "report query failed");
    ApiError::server("the report could not be computed")
}
