//! Rate limits and concurrency caps (reporting-api §1.12, callhome §7), kept by the catalog:
//! shared by every server on a PostgreSQL catalog (one limit behind a load balancer), in
//! process memory with the embedded SQLite catalog.
//!
//! Keys are principals, user names, installations or products, never IP addresses.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use usagi_catalog::{Catalog, CatalogError};
use usagi_types::ProductId;

use crate::config::LimitsConfig;

/// How long a lease outlives its holder's last renewal: the report slots and bulk locks of a
/// server that was killed are free again after this.
pub const LEASE_TTL: Duration = Duration::from_secs(30);
/// How often a holder renews its lease while it works.
const LEASE_RENEWAL: Duration = Duration::from_secs(10);
/// The window of `limits.license_calls_per_hour`.
const LICENSE_WINDOW_SECONDS: i64 = 3600;

/// The limits of this server, applied through the catalog.
pub struct Limits {
    catalog: Arc<dyn Catalog>,
    config: LimitsConfig,
    /// Names this process's leases (with a counter), apart from every other server's.
    process: String,
    leases_taken: AtomicU64,
}

/// The catalog key of a product's bulk license-key lock (one `updateKeys` / `deleteKeys` at a time).
pub fn bulk_lease_key(product: ProductId) -> String {
    format!("bulk:{product}")
}

impl Limits {
    /// The limits of `config` on `catalog`.
    pub fn new(catalog: Arc<dyn Catalog>, config: LimitsConfig) -> Self {
        let mut id = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut id);
        Self { catalog, config, process: hex::encode(id), leases_taken: AtomicU64::new(0) }
    }

    /// Takes one request from a principal's rate at `now_s`; on refusal, the seconds to wait.
    pub async fn take_request(&self, principal: &str, now_s: f64) -> Result<Option<u64>, CatalogError> {
        let (rate, burst) = (self.config.requests_per_second, self.config.burst);
        self.catalog.take_token(&format!("rate:{principal}"), rate, burst, now_s).await
    }

    /// When a user name has had too many failed logins lately: the seconds to wait.
    pub async fn login_blocked(&self, user_name: &str, now_s: i64) -> Result<Option<u64>, CatalogError> {
        let (limit, window) = (self.config.failed_logins, self.failed_login_window());
        self.catalog.window_blocked(&login_key(user_name), limit, window, now_s).await
    }

    /// Counts one failed login of a user name.
    pub async fn record_failed_login(&self, user_name: &str, now_s: i64) -> Result<(), CatalogError> {
        self.catalog.window_record(&login_key(user_name), self.failed_login_window(), now_s).await
    }

    /// Counts one `license/check` or `license/set` of an installation unless it is at its
    /// hourly limit; on refusal, the seconds to wait.
    pub async fn take_license_call(&self, installation: &str, now_s: i64) -> Result<Option<u64>, CatalogError> {
        let key = format!("license:{installation}");
        self.catalog.window_try_record(&key, self.config.license_calls_per_hour, LICENSE_WINDOW_SECONDS, now_s).await
    }

    /// One of a principal's `limits.concurrent_reports` slots, or `None` when all are taken.
    pub async fn report_slot(&self, principal: &str) -> Result<Option<Lease>, CatalogError> {
        let limit = u32::try_from(self.config.concurrent_reports).unwrap_or(u32::MAX);
        self.lease(format!("reports:{principal}"), limit).await
    }

    /// The product's bulk license-key lock, or `None` while another bulk call holds it.
    pub async fn bulk_slot(&self, product: ProductId) -> Result<Option<Lease>, CatalogError> {
        self.lease(bulk_lease_key(product), 1).await
    }

    async fn lease(&self, key: String, limit: u32) -> Result<Option<Lease>, CatalogError> {
        let n = self.leases_taken.fetch_add(1, Ordering::Relaxed);
        let holder = format!("{}-{n}", self.process);
        if !self.catalog.acquire_lease(&key, &holder, limit, LEASE_TTL).await? {
            return Ok(None);
        }
        let renewal = tokio::spawn(renew(self.catalog.clone(), key.clone(), holder.clone()));
        Ok(Some(Lease { catalog: self.catalog.clone(), held: Some((key, holder)), renewal }))
    }

    fn failed_login_window(&self) -> i64 {
        i64::try_from(self.config.failed_login_window_seconds).unwrap_or(i64::MAX)
    }
}

/// Failed logins count per user name, whatever its case or surrounding blanks.
fn login_key(user_name: &str) -> String {
    format!("login:{}", user_name.trim().to_lowercase())
}

/// Keeps a lease alive while its holder works (a bulk call may run for minutes).
async fn renew(catalog: Arc<dyn Catalog>, key: String, holder: String) {
    loop {
        tokio::time::sleep(LEASE_RENEWAL).await;
        match catalog.renew_lease(&key, &holder, LEASE_TTL).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(%key, "a lease expired before it was renewed; another holder may take it");
                return;
            }
            Err(e) => tracing::warn!(%key, error = %e, "could not renew a lease; trying again"),
        }
    }
}

/// A held slot or lock: renewed while held; [`Lease::release`] frees it, and so does dropping
/// it (a cancelled request), a moment later.
pub struct Lease {
    catalog: Arc<dyn Catalog>,
    held: Option<(String, String)>,
    renewal: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Frees the lease now, so that the caller's next request finds it free.
    pub async fn release(mut self) {
        self.renewal.abort();
        if let Some((key, holder)) = self.held.take() {
            release(self.catalog.as_ref(), &key, &holder).await;
        }
    }
}

async fn release(catalog: &dyn Catalog, key: &str, holder: &str) {
    if let Err(e) = catalog.release_lease(key, holder).await {
        tracing::warn!(%key, error = %e, "could not release a lease; it expires by itself");
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewal.abort();
        let Some((key, holder)) = self.held.take() else { return };
        let catalog = self.catalog.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { release(catalog.as_ref(), &key, &holder).await });
        }
    }
}

/// Forgets, once a minute, the limits that no longer limit anyone (idle keys, expired leases).
pub fn spawn_pruning(catalog: Arc<dyn Catalog>, clock: crate::Clock) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = catalog.prune_limits(clock.now().timestamp()).await {
                tracing::warn!(error = %e, "pruning rate limits failed");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use usagi_catalog::SqliteCatalog;

    use super::*;

    fn limits(config: LimitsConfig) -> (tempfile::TempDir, Limits) {
        let dir = tempfile::tempdir().expect("tempdir");
        let catalog = SqliteCatalog::open(&dir.path().join("catalog.sqlite")).expect("catalog");
        (dir, Limits::new(Arc::new(catalog), config))
    }

    /// The bulk lock is per product, refuses instead of waiting, and is free once released.
    #[tokio::test]
    async fn one_bulk_call_per_product() {
        let (_dir, limits) = limits(LimitsConfig::default());
        let p = ProductId::parse("2376158762").expect("id");
        let first = limits.bulk_slot(p).await.unwrap().expect("free");
        assert!(limits.bulk_slot(p).await.unwrap().is_none(), "second caller refused");
        let other = ProductId::parse("1111111111").expect("id");
        assert!(limits.bulk_slot(other).await.unwrap().is_some(), "other products unaffected");
        first.release().await;
        assert!(limits.bulk_slot(p).await.unwrap().is_some(), "released when the call ends");
    }

    /// A dropped slot (a cancelled request) is freed too.
    #[tokio::test]
    async fn a_dropped_report_slot_is_freed() {
        let (_dir, limits) = limits(LimitsConfig { concurrent_reports: 1, ..LimitsConfig::default() });
        let slot = limits.report_slot("s1").await.unwrap();
        assert!(slot.is_some());
        assert!(limits.report_slot("s1").await.unwrap().is_none());
        drop(slot);
        tokio::task::yield_now().await;
        assert!(limits.report_slot("s1").await.unwrap().is_some());
    }

    /// Failed logins count per user name, whatever its case.
    #[tokio::test]
    async fn failed_logins_ignore_case() {
        let (_dir, limits) = limits(LimitsConfig { failed_logins: 2, ..LimitsConfig::default() });
        limits.record_failed_login("Ann@Example.com", 0).await.unwrap();
        limits.record_failed_login(" ann@example.com", 1).await.unwrap();
        assert_eq!(limits.login_blocked("ANN@example.com", 2).await.unwrap(), Some(898));
    }
}
