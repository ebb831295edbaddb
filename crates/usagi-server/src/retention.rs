//! Retention (callhome §9.4, semantics §2): once a day, each product's detail data older than
//! today − `retentionDays` is purged from the warehouse, its lifetime aggregates kept, and its
//! batch receipts of that age are forgotten (callhome §9.2).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use usagi_catalog::{Catalog, CatalogError, Product};
use usagi_ingest::receipts::ReceiptStore;
use usagi_ingest::IngestError;
use usagi_types::ProductId;
use usagi_warehouse::{PurgeStats, Warehouse, WarehouseError};

use crate::clock::Clock;

/// How often the daily task looks whether the UTC day changed.
const CHECK_EVERY: Duration = Duration::from_secs(60);

/// How long the lease on a product's purge lasts. Servers sharing a catalog and a warehouse
/// each run the daily pass; the lease (`retention:<product>` in the catalog) lets one purge a
/// product at a time, and a server killed mid-purge holds it no longer than this.
const PURGE_LEASE_TTL: Duration = Duration::from_secs(6 * 3600);

/// The catalog key of a product's purge lease.
pub fn purge_lease_key(product: ProductId) -> String {
    format!("retention:{product}")
}

/// Why a retention pass failed.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// The catalog could not list products.
    #[error("catalog: {0}")]
    Catalog(#[from] CatalogError),
    /// The warehouse purge failed (its transaction was rolled back).
    #[error("warehouse: {0}")]
    Warehouse(#[from] WarehouseError),
    /// The receipts could not be pruned.
    #[error("receipts: {0}")]
    Receipts(#[from] IngestError),
    /// A blocking task died.
    #[error("task: {0}")]
    Task(String),
}

/// What one product's pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductRetention {
    /// The product.
    pub product: ProductId,
    /// The first retained day: today − `retentionDays` (the `oldestReportedDate`).
    pub cutoff: NaiveDate,
    /// What the warehouse purged.
    pub purged: PurgeStats,
    /// Batch receipts forgotten.
    pub receipts: u64,
}

/// Opens the batch receipts of a data directory, for a pass run without the server.
pub async fn open_receipts(data_dir: &Path) -> Result<Arc<ReceiptStore>, RetentionError> {
    let dir = crate::DataDir(data_dir.to_path_buf()).ingest();
    let store = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir).map_err(IngestError::from)?;
        ReceiptStore::open(&dir.join("receipts.sqlite"))
    })
    .await
    .map_err(|e| RetentionError::Task(e.to_string()))??;
    Ok(Arc::new(store))
}

/// The first day a product keeps: today − `retentionDays` (callhome §9.4).
pub fn cutoff(product: &Product, today: NaiveDate) -> NaiveDate {
    today - chrono::Duration::days(i64::from(product.settings.retention_days))
}

/// Purges one product's data before its cutoff, then its receipts received before it.
pub async fn purge_product(
    warehouse: &dyn Warehouse,
    receipts: &Arc<ReceiptStore>,
    product: &Product,
    today: NaiveDate,
) -> Result<ProductRetention, RetentionError> {
    let cutoff = cutoff(product, today);
    let purged = warehouse.purge_before(product.id, cutoff).await?;
    let before_ms = cutoff.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp_millis());
    let (store, id) = (receipts.clone(), product.id);
    let receipts = tokio::task::spawn_blocking(move || store.prune(id, before_ms))
        .await
        .map_err(|e| RetentionError::Task(e.to_string()))??;
    tracing::info!(
        product = %product.id, %cutoff, installations = purged.installations, fact_rows = purged.fact_rows, receipts,
        "retention: purged detail data older than the cutoff"
    );
    Ok(ProductRetention { product: product.id, cutoff, purged, receipts })
}

/// One pass over every product (disabled ones too: their data ages all the same).
pub async fn run_once(
    catalog: &dyn Catalog,
    warehouse: &dyn Warehouse,
    receipts: &Arc<ReceiptStore>,
    today: NaiveDate,
) -> Result<Vec<ProductRetention>, RetentionError> {
    let mut done = Vec::new();
    let holder = format!("retention-{}-{}", std::process::id(), rand::random::<u64>());
    for product in catalog.list_products().await? {
        let key = purge_lease_key(product.id);
        if !catalog.acquire_lease(&key, &holder, 1, PURGE_LEASE_TTL).await? {
            tracing::info!(product = %product.id, "retention: another server is purging this product; skipped");
            continue;
        }
        let purged = purge_product(warehouse, receipts, &product, today).await;
        if let Err(e) = catalog.release_lease(&key, &holder).await {
            tracing::warn!(%key, error = %e, "could not release the purge lease; it expires by itself");
        }
        done.push(purged?);
    }
    Ok(done)
}

/// Runs [`run_once`] a minute after start (recovery and the first loads go first) and again
/// whenever the clock's UTC day changes. A failed pass is logged and retried at the next
/// check; nothing is lost by waiting.
pub fn spawn_daily(
    catalog: Arc<dyn Catalog>,
    warehouse: Arc<dyn Warehouse>,
    receipts: Arc<ReceiptStore>,
    clock: Clock,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut done_for: Option<NaiveDate> = None;
        loop {
            tokio::time::sleep(CHECK_EVERY).await;
            let today = clock.today();
            if done_for != Some(today) {
                match run_once(catalog.as_ref(), warehouse.as_ref(), &receipts, today).await {
                    Ok(_) => done_for = Some(today),
                    Err(e) => tracing::error!(error = %e, %today, "retention pass failed; retried later"),
                }
            }
        }
    })
}
