//! The Usagi HTTP server: call-home ingestion (`/callhome/v1`) and the v3 Reporting API (`/v3`).
//!
//! Handlers are thin: they parse requests into typed specs and hand them to the
//! ingest path or to the reports, which talk to the stores through their traits.

pub mod api;
pub mod callhome;
pub mod clock;
pub mod config;
pub mod ratelimit;
pub mod retention;
pub mod state;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::Uri;
use axum::middleware::from_fn_with_state;
use axum::{Router, ServiceExt};
use rand::RngCore;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower::Layer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use usagi_catalog::{is_postgres_url, Catalog, PostgresCatalog, SqliteCatalog};
use usagi_export::{ExportJob, ExportStore, Exporter};
use usagi_ingest::{Ingest, IngestConfig};
use usagi_warehouse::Warehouse;

pub use clock::Clock;
pub use config::ServerConfig;

use crate::api::cookies::CsrfKey;
use crate::callhome::geo::GeoLookup;
use crate::ratelimit::Limits;
use crate::state::{AppState, Shared};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A store could not be opened.
    #[error("{0}")]
    Store(String),
    /// The data directory or the listen address could not be used.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The stores of one data directory.
pub struct Stores {
    /// The catalog.
    pub catalog: Arc<dyn Catalog>,
    /// The warehouse.
    pub warehouse: Arc<dyn Warehouse>,
}

/// Where each store lives inside a data directory.
pub struct DataDir(pub PathBuf);

impl DataDir {
    /// The catalog's SQLite file.
    pub fn catalog(&self) -> PathBuf {
        self.0.join("catalog.sqlite")
    }
    /// The warehouse's DuckDB file.
    pub fn warehouse(&self) -> PathBuf {
        self.0.join("warehouse.duckdb")
    }
    /// The ingest log and receipts.
    pub fn ingest(&self) -> PathBuf {
        self.0.join("ingest")
    }
    /// Export files (unless configured elsewhere).
    pub fn exports(&self) -> PathBuf {
        self.0.join("exports")
    }
    /// The server key that signs CSRF cookies.
    pub fn server_key(&self) -> PathBuf {
        self.0.join("server.key")
    }
}

/// Opens the catalog for admin commands (safe while servers run on the same catalog): the
/// PostgreSQL catalog named by `USAGI_CATALOG_URL` when it is set, else the SQLite file of the
/// data directory.
pub async fn open_catalog(data_dir: &Path) -> Result<Arc<dyn Catalog>, StartError> {
    let url = std::env::var(CATALOG_URL_VAR).ok().filter(|u| !u.trim().is_empty());
    open_catalog_at(data_dir, url.as_deref()).await
}

/// The environment variable naming a PostgreSQL catalog (`catalog.url` in the server's TOML).
pub const CATALOG_URL_VAR: &str = "USAGI_CATALOG_URL";

/// Opens the catalog at `url` (`postgres://…`), or with `None` the SQLite file of the data directory.
pub async fn open_catalog_at(data_dir: &Path, url: Option<&str>) -> Result<Arc<dyn Catalog>, StartError> {
    if let Some(url) = url {
        if !is_postgres_url(url) {
            return Err(StartError::Store(format!(
                "catalog url {}: only postgres:// URLs are supported (leave it unset for the embedded SQLite catalog)",
                config::redact_url(url)
            )));
        }
        let catalog = PostgresCatalog::connect(url)
            .await
            .map_err(|e| StartError::Store(format!("catalog {}: {e}", config::redact_url(url))))?;
        tracing::info!(url = %config::redact_url(url), "catalog on PostgreSQL");
        return Ok(Arc::new(catalog));
    }
    std::fs::create_dir_all(data_dir)?;
    let path = DataDir(data_dir.to_path_buf()).catalog();
    let catalog = tokio::task::spawn_blocking(move || SqliteCatalog::open(&path))
        .await
        .map_err(|e| StartError::Store(e.to_string()))?
        .map_err(|e| StartError::Store(format!("catalog: {e}")))?;
    Ok(Arc::new(catalog))
}

fn load_or_create_key(path: &Path) -> Result<[u8; 32], StartError> {
    if let Ok(bytes) = std::fs::read(path) {
        if bytes.len() == 32 {
            let mut key = [0u8; 32];
            key.copy_from_slice(&bytes);
            return Ok(key);
        }
    }
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, key)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(key)
}

/// A running server.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// The server's clock (tests move a pinned clock).
    pub clock: Clock,
    /// The catalog, for admin work in the same process.
    pub catalog: Arc<dyn Catalog>,
    /// The ingest handle.
    pub ingest: Ingest,
    /// The warehouse (as wrapped).
    pub warehouse: Arc<dyn Warehouse>,
    /// The limits (tests hold a bulk lock to provoke a 409).
    pub limits: Arc<Limits>,
    /// The export job (tests run it at chosen instants).
    pub exports: Arc<ExportJob>,
    retention: tokio::task::JoinHandle<()>,
    limits_pruning: tokio::task::JoinHandle<()>,
    stop: oneshot::Sender<()>,
    export_task: Option<tokio::task::JoinHandle<()>>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Runs a retention pass now, as the daily task does (tests move a pinned clock).
    pub async fn run_retention(&self) -> Result<Vec<retention::ProductRetention>, retention::RetentionError> {
        let receipts = self.ingest.receipts();
        retention::run_once(self.catalog.as_ref(), self.warehouse.as_ref(), &receipts, self.clock.today()).await
    }

    /// Graceful shutdown: stop accepting, finish in-flight requests, then let the loader
    /// drain the ingest log (bounded; the rest loads at the next start).
    pub async fn shutdown(self) {
        self.retention.abort();
        self.limits_pruning.abort();
        if let Some(task) = &self.export_task {
            task.abort();
        }
        let _ = self.stop.send(());
        match self.served.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "server ended with an error"),
            Err(e) => tracing::warn!(error = %e, "server task failed"),
        }
        self.ingest.shutdown(Duration::from_secs(30)).await;
        tracing::info!("shut down cleanly");
    }
}

fn normalize(mut req: Request) -> Request {
    if let Some(path) = api::conventions::canonical_path(req.uri().path()) {
        if path != req.uri().path() {
            let pq = match req.uri().query() {
                Some(q) => format!("{path}?{q}"),
                None => path,
            };
            let mut parts = req.uri().clone().into_parts();
            if let Ok(p) = pq.parse() {
                parts.path_and_query = Some(p);
                if let Ok(uri) = Uri::from_parts(parts) {
                    *req.uri_mut() = uri;
                }
            }
        }
    }
    req
}

/// Opens the catalog (`config.catalog.url`, or the data directory's) and the ingest log of `data_dir`, binds `config.listen` and serves
/// until shut down. The warehouse backend is opened by the caller (the binary picks it
/// from configuration), so this crate knows no backend.
pub async fn start(
    data_dir: &Path,
    config: ServerConfig,
    warehouse: Arc<dyn Warehouse>,
) -> Result<Running, StartError> {
    let dirs = DataDir(data_dir.to_path_buf());
    let catalog = open_catalog_at(data_dir, config.catalog.url.as_deref()).await?;
    let mut ingest_config = IngestConfig::new(dirs.ingest());
    ingest_config.max_backlog_bytes = config.ingest.max_backlog_mb << 20;
    let linger_ms =
        config.ingest.load_linger_ms.unwrap_or(if config.warehouse.clickhouse.is_some() { 1000 } else { 0 });
    ingest_config.load_linger = Duration::from_millis(linger_ms);
    ingest_config.min_load_bytes = config.ingest.min_load_kb << 10;
    let ingest =
        Ingest::open(ingest_config, warehouse.clone()).await.map_err(|e| StartError::Store(format!("ingest: {e}")))?;
    let geo = match &config.geoip_database {
        Some(p) => {
            Some(GeoLookup::open(p).map_err(|e| StartError::Store(format!("geoip database {}: {e}", p.display())))?)
        }
        None => None,
    };
    let clock = match config.clock.fixed_now {
        Some(at) => Clock::fixed(at),
        None => Clock::system(),
    };
    // The data directory's key seeds the catalog's shared key, so every server on one catalog
    // accepts the CSRF cookies of the others (behind a load balancer).
    let key = catalog
        .shared_server_key(load_or_create_key(&dirs.server_key())?)
        .await
        .map_err(|e| StartError::Store(format!("catalog: {e}")))?;
    let limits = Arc::new(Limits::new(catalog.clone(), config.limits.clone()));
    let export_dir = config.exports.dir.clone().unwrap_or_else(|| dirs.exports());
    let store = ExportStore::open(&export_dir)
        .map_err(|e| StartError::Store(format!("export files {}: {e}", export_dir.display())))?;
    let exporter = Arc::new(Exporter::new(warehouse.clone(), Arc::new(store)));
    let exports = Arc::new(ExportJob::new(exporter, catalog.clone()));
    let state = AppState(Arc::new(Shared {
        catalog: catalog.clone(),
        warehouse: warehouse.clone(),
        ingest: ingest.clone(),
        clock: clock.clone(),
        origins: config.origins(),
        csrf: CsrfKey::new(key),
        geo,
        limits: limits.clone(),
        exports: exports.clone(),
        config,
    }));

    // Responses are gzip-compressed when the client accepts it (reporting-api §1.2).
    let v3 = api::router()
        .fallback(api::conventions::no_route)
        .layer(from_fn_with_state(state.clone(), api::conventions::v3_conventions))
        .layer(
            tower_http::compression::CompressionLayer::new()
                .gzip(true)
                .no_br()
                .no_deflate()
                .no_zstd()
                // Export zips are compressed already and must keep their Content-Length.
                .compress_when(DefaultPredicate::new().and(NotForContentType::const_new("application/zip"))),
        );
    // The dashboard (`/`, `/static/…`) is static files; it reaches the data through `/v3` like any client.
    let app: Router = Router::new()
        .route("/healthz", axum::routing::get(healthz))
        .merge(callhome::router())
        .merge(usagi_dashboard::router())
        .merge(v3)
        .with_state(state.clone());
    let app = tower::util::MapRequestLayer::new(normalize).layer(app);

    let listener = TcpListener::bind(state.config.listen).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    tracing::info!(%addr, "usagi listening");
    let retention = retention::spawn_daily(catalog.clone(), warehouse.clone(), ingest.receipts(), clock.clone());
    let export_task = export_loop(&state);
    let limits_pruning = ratelimit::spawn_pruning(catalog.clone(), clock.clone());
    Ok(Running {
        addr,
        clock,
        catalog,
        ingest,
        warehouse,
        limits,
        exports,
        retention,
        limits_pruning,
        stop,
        served,
        export_task,
    })
}

/// Runs the export job every `exports.job_interval_seconds`, once the warehouse has caught up
/// with the ingest log (so a finalized day holds everything acknowledged in it).
fn export_loop(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    let every = state.config.exports.job_interval_seconds;
    if every == 0 {
        return None;
    }
    let state = state.clone();
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(every));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let caught_up = state.ingest.wait_loaded(state.ingest.durable_lsn(), Duration::from_secs(30)).await;
            match state.exports.run_due(state.clock.now(), caught_up).await {
                Ok(s) if !s.built.is_empty() || !s.deleted.is_empty() => {
                    tracing::info!(built = s.built.len(), deleted = s.deleted.len(), "export job pass")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "export job failed"),
            }
        }
    }))
}

/// `GET /healthz`: liveness for load balancers and tools, with the ingest log's progress
/// (`backlogBytes` 0: everything acknowledged is in the warehouse). No credentials; nothing
/// in it names a product or an installation.
async fn healthz(axum::extract::State(app): axum::extract::State<AppState>) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "status": "ok",
        "ingest": {
            "durableLsn": app.ingest.durable_lsn(),
            "loadedLsn": app.ingest.loaded_lsn(),
            "backlogBytes": app.ingest.backlog_bytes(),
        }
    }))
}
