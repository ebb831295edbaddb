//! What every report knows besides its request: product, "today", settings, permissions.

use chrono::{Duration, NaiveDate};
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
