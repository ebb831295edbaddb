//! The background export job: what is due at a given instant, done in one pass.
//!
//! - every finalized receive day within `exportRetentionDays` has its raw-data, custom-event
//!   and exception files (built once, after the day ends plus a short grace);
//! - today's custom-event and exception files are regenerated at most hourly;
//! - each month within retention has one monthly file per family, from the 1st to the last
//!   finalized day (the current month's file does not exist on the 1st);
//! - files past retention are deleted, as are download tokens and erasures nobody needs.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use parking_lot::Mutex;
use usagi_catalog::{Catalog, Product};
use usagi_types::ProductId;
use usagi_warehouse::Param;

use crate::build::{day_start_ms, Exporter, RawDayInputs};
use crate::error::ExportError;
use crate::names::{Family, FileName, Span};
use crate::store::{ExportStore, Kind, StoredFile};

/// How long after midnight UTC a day is finalized: a sync received just before midnight may
/// become durable just after it.
pub const FINALIZE_GRACE: Duration = Duration::minutes(5);

/// How often today's open files are regenerated at most.
pub const OPEN_FILE_INTERVAL: Duration = Duration::hours(1);

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobSummary {
    /// Files built.
    pub built: Vec<String>,
    /// Files deleted (retention, replaced monthly files, finalized open files).
    pub deleted: Vec<String>,
    /// Products whose pass failed, with the reason (the others went on).
    pub failed: Vec<String>,
}

/// The export job of one server.
pub struct ExportJob {
    exporter: Arc<Exporter>,
    catalog: Arc<dyn Catalog>,
    open_built_at: Mutex<HashMap<(ProductId, Family), DateTime<Utc>>>,
}

/// Deletes the files of a product that are not final at `now` — today's open files and the
/// current month's monthly files — for an offline erasure; the export job rebuilds them.
pub fn drop_unfinished(
    store: &ExportStore,
    product: ProductId,
    now: DateTime<Utc>,
) -> Result<Vec<String>, ExportError> {
    let month = first_of_month(now.date_naive());
    let mut dropped = Vec::new();
    for family in [Family::CustomEvents, Family::Exceptions] {
        for kind in [Kind::Open, Kind::Monthly] {
            for f in store.list(product, family, kind)? {
                let unfinished = match f.name.span {
                    Span::Day(d) => d == now.date_naive(),
                    Span::Month { start, .. } => start == month,
                };
                if unfinished {
                    store.remove(&f)?;
                    dropped.push(f.name.to_string());
                }
            }
        }
    }
    Ok(dropped)
}

/// The first day whose files are kept at `today`.
pub fn first_kept_day(product: &Product, today: NaiveDate) -> NaiveDate {
    today - Duration::days(i64::from(product.settings.export_retention_days))
}

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn last_of_month(d: NaiveDate) -> NaiveDate {
    let next = if d.month() == 12 {
        NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
    };
    next.and_then(|n| n.pred_opt()).unwrap_or(d)
}

impl ExportJob {
    /// A job building with `exporter`.
    pub fn new(exporter: Arc<Exporter>, catalog: Arc<dyn Catalog>) -> Self {
        Self { exporter, catalog, open_built_at: Mutex::new(HashMap::new()) }
    }

    /// The exporter.
    pub fn exporter(&self) -> &Arc<Exporter> {
        &self.exporter
    }

    /// Does everything due at `now` for every product. `caught_up` says the warehouse holds
    /// everything acknowledged so far; without it only deletions run (nothing would be final).
    pub async fn run_due(&self, now: DateTime<Utc>, caught_up: bool) -> Result<JobSummary, ExportError> {
        let mut summary = JobSummary::default();
        for product in self.catalog.list_products().await? {
            if let Err(e) = self.run_product(&product, now, caught_up, &mut summary).await {
                tracing::error!(product = %product.id, error = %e, "export job failed for a product");
                summary.failed.push(format!("{}: {e}", product.id));
            }
        }
        self.catalog.prune_downloads(now).await?;
        Ok(summary)
    }

    async fn run_product(
        &self,
        product: &Product,
        now: DateTime<Utc>,
        caught_up: bool,
        summary: &mut JobSummary,
    ) -> Result<(), ExportError> {
        let today = now.date_naive();
        let keep_from = first_kept_day(product, today);
        self.apply_retention(product, today, keep_from, summary)?;
        let erasure_cutoff = DateTime::from_timestamp_millis(day_start_ms(keep_from)).unwrap_or(now);
        self.catalog.prune_erasures(product.id, erasure_cutoff).await?;
        if !caught_up {
            return Ok(());
        }
        // The last finalized day; none yet in the first minutes after midnight.
        let finalized_through = (now - FINALIZE_GRACE).date_naive().pred_opt().unwrap_or(today);
        // Empty days get files too, but not the days before the product had any data.
        let oldest = self.oldest_receive_day(product.id).await?;
        let first = keep_from.max(product.created_at.date_naive().min(oldest.unwrap_or(today)));
        let mut day = first;
        while day <= finalized_through {
            self.finalize_day(product, day, now, summary).await?;
            day = day.succ_opt().unwrap_or(day);
            if day == NaiveDate::MAX {
                break;
            }
        }
        if first <= finalized_through {
            self.refresh_months(product.id, first, finalized_through, summary).await?;
        }
        self.refresh_open_files(product.id, today, now, summary).await?;
        Ok(())
    }

    /// Builds the missing files of a finished day and drops that day's open files.
    async fn finalize_day(
        &self,
        product: &Product,
        day: NaiveDate,
        now: DateTime<Utc>,
        summary: &mut JobSummary,
    ) -> Result<(), ExportError> {
        let store = self.exporter.store();
        let raw = FileName::day(product.id, Family::Raw, day);
        if store.find(&raw)?.is_none() {
            let inputs = self.raw_inputs(product.id, day).await?;
            let file = self.exporter.build_raw_day(product.id, day, inputs, now).await?;
            summary.built.push(file.name.to_string());
        }
        for family in [Family::CustomEvents, Family::Exceptions] {
            let name = FileName::day(product.id, family, day);
            let existing = store.find(&name)?;
            if existing.as_ref().is_some_and(|f| f.kind == Kind::Daily) {
                continue;
            }
            let file = self.exporter.build_records(name, Kind::Daily, i64::MAX).await?;
            summary.built.push(file.name.to_string());
            if let Some(open) = existing.filter(|f| f.kind == Kind::Open) {
                store.remove(&open)?;
                summary.deleted.push(open.name.to_string());
            }
        }
        Ok(())
    }

    /// The first server receive day of a product's data, if it has any.
    async fn oldest_receive_day(&self, product: ProductId) -> Result<Option<NaiveDate>, ExportError> {
        let wh = self.exporter.warehouse();
        let sql = format!("SELECT min(day) FROM contacts WHERE product_id = {}", wh.dialect().placeholder(1));
        let rows = wh
            .query(sql, vec![Param::Int(product.as_u64() as i64)])
            .await
            .map_err(|e| ExportError::Warehouse(e.to_string()))?;
        Ok(rows.rows.first().and_then(|r| r.first()).and_then(|v| match v {
            usagi_warehouse::Value::Date(d) => Some(*d),
            _ => None,
        }))
    }

    /// After an installation was erased: regenerates the files that are not final yet —
    /// today's open files and the current month's monthly files — so it vanishes from them.
    /// (Finalized daily files keep it; the next raw data file lists the erasure.)
    pub async fn after_erasure(&self, product: ProductId, now: DateTime<Utc>) -> Result<JobSummary, ExportError> {
        let mut summary = JobSummary::default();
        let store = self.exporter.store();
        let month = first_of_month(now.date_naive());
        for family in [Family::CustomEvents, Family::Exceptions] {
            if store.find(&FileName::day(product, family, now.date_naive()))?.is_some_and(|f| f.kind == Kind::Open) {
                let file = self.rebuild_open_file(product, family, now).await?;
                summary.built.push(file.name.to_string());
            }
            for f in store.list(product, family, Kind::Monthly)? {
                if matches!(f.name.span, Span::Month { start, .. } if start == month) {
                    let file = self.exporter.build_records(f.name, Kind::Monthly, i64::MAX).await?;
                    summary.built.push(file.name.to_string());
                }
            }
        }
        Ok(summary)
    }

    /// What a raw-data file of `day` lists besides the warehouse's rows.
    pub async fn raw_inputs(&self, product: ProductId, day: NaiveDate) -> Result<RawDayInputs, ExportError> {
        let from = DateTime::from_timestamp_millis(day_start_ms(day)).unwrap_or_default();
        let to = from + Duration::days(1);
        Ok(RawDayInputs {
            erasures: self.catalog.erasures(product, from, to).await?,
            back_offs: self.catalog.back_off_states(product).await?,
        })
    }

    /// Makes each month from `first`'s to `last`'s have its file ending at min(month end, last).
    async fn refresh_months(
        &self,
        product: ProductId,
        first: NaiveDate,
        last: NaiveDate,
        summary: &mut JobSummary,
    ) -> Result<(), ExportError> {
        let store = self.exporter.store();
        for family in [Family::CustomEvents, Family::Exceptions] {
            let existing = store.list(product, family, Kind::Monthly)?;
            let mut month = first_of_month(first);
            while month <= last {
                let stop = last_of_month(month).min(last);
                let name = FileName::month(product, family, month, stop);
                if !existing.iter().any(|f| f.name == name) {
                    let file = self.exporter.build_records(name, Kind::Monthly, i64::MAX).await?;
                    summary.built.push(file.name.to_string());
                }
                for stale in existing
                    .iter()
                    .filter(|f| matches!(f.name.span, Span::Month { start, .. } if start == month) && f.name != name)
                {
                    store.remove(stale)?;
                    summary.deleted.push(stale.name.to_string());
                }
                month = last_of_month(month).succ_opt().unwrap_or(NaiveDate::MAX);
            }
        }
        Ok(())
    }

    /// Regenerates today's open files when the last build is an hour old (or missing).
    async fn refresh_open_files(
        &self,
        product: ProductId,
        today: NaiveDate,
        now: DateTime<Utc>,
        summary: &mut JobSummary,
    ) -> Result<(), ExportError> {
        for family in [Family::CustomEvents, Family::Exceptions] {
            let name = FileName::day(product, family, today);
            let fresh = self
                .open_built_at
                .lock()
                .get(&(product, family))
                .is_some_and(|at| at.date_naive() == today && now - *at < OPEN_FILE_INTERVAL && now >= *at);
            if fresh && self.exporter.store().find(&name)?.is_some() {
                continue;
            }
            self.rebuild_open_file(product, family, now).await?;
            summary.built.push(name.to_string());
        }
        Ok(())
    }

    /// Regenerates today's open file of one family now (after an erasure, or when due).
    pub async fn rebuild_open_file(
        &self,
        product: ProductId,
        family: Family,
        now: DateTime<Utc>,
    ) -> Result<StoredFile, ExportError> {
        let name = FileName::day(product, family, now.date_naive());
        let store = self.exporter.store();
        let _mark = store.mark_building(name);
        let file = self.exporter.build_records(name, Kind::Open, now.timestamp_millis()).await?;
        self.open_built_at.lock().insert((product, family), now);
        Ok(file)
    }

    /// Deletes files that end before `keep_from`, and open files of past days.
    fn apply_retention(
        &self,
        product: &Product,
        today: NaiveDate,
        keep_from: NaiveDate,
        summary: &mut JobSummary,
    ) -> Result<(), ExportError> {
        let store = self.exporter.store();
        for family in Family::ALL {
            for kind in [Kind::Daily, Kind::Monthly, Kind::Open] {
                for file in store.list(product.id, family, kind)? {
                    let (first, last) = match file.name.span {
                        Span::Day(d) => (d, d),
                        Span::Month { start, stop } => (start, stop),
                    };
                    let expired = last < keep_from;
                    // An open file of a past day whose daily file exists is superseded.
                    let superseded = kind == Kind::Open
                        && first < today
                        && store.find(&file.name)?.is_some_and(|f| f.kind != Kind::Open);
                    if expired || superseded {
                        store.remove(&file)?;
                        summary.deleted.push(file.name.to_string());
                    }
                }
            }
        }
        Ok(())
    }
}
