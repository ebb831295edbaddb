//! Shared server state handed to every handler.

use std::sync::Arc;

use usagi_catalog::Catalog;
use usagi_export::ExportJob;
use usagi_ingest::Ingest;
use usagi_warehouse::Warehouse;

use crate::api::cookies::CsrfKey;
use crate::callhome::geo::GeoLookup;
use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::ratelimit::{ConcurrencyCap, TokenBuckets, WindowCounter};

/// Everything a handler may use; cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

/// The shared parts behind [`AppState`].
pub struct Shared {
    /// Accounts, products, sessions, tokens.
    pub catalog: Arc<dyn Catalog>,
    /// Telemetry facts and rollups.
    pub warehouse: Arc<dyn Warehouse>,
    /// The durable ingest path.
    pub ingest: Ingest,
    /// "Now".
    pub clock: Clock,
    /// Configuration.
    pub config: ServerConfig,
    /// Normalised allowlisted origins.
    pub origins: Vec<String>,
    /// Key of the stateless CSRF cookie.
    pub csrf: CsrfKey,
    /// Call-home geography, when configured.
    pub geo: Option<GeoLookup>,
    /// Request rate per principal.
    pub principal_rate: TokenBuckets,
    /// Reports running per principal.
    pub report_slots: ConcurrencyCap,
    /// Failed logins per user name.
    pub failed_logins: WindowCounter,
    /// License calls per installation.
    pub license_calls: WindowCounter,
    /// Bulk license-key calls running, per product (one at a time; reporting-api §12.2).
    pub bulk_key_updates: Arc<ConcurrencyCap>,
    /// Export files: the store, the builder and the background job.
    pub exports: Arc<ExportJob>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}
