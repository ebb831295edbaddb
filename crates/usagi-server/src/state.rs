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
use crate::ratelimit::Limits;

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
    /// Request rate, reports running, failed logins, license calls and the bulk key lock.
    pub limits: Arc<Limits>,
    /// Export files: the store, the builder and the background job.
    pub exports: Arc<ExportJob>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}
