//! `usagi serve`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use usagi_server::config::ClickHouseSettings;
use usagi_server::ServerConfig;
use usagi_warehouse::Warehouse;
use usagi_warehouse_clickhouse::{ClickHouseConfig, ClickHouseWarehouse};
use usagi_warehouse_duckdb::{DuckConfig, DuckWarehouse};

/// Flags of `usagi serve`; they win over environment variables, which win over the file.
#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "USAGI_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Public base URL clients use (decides the default allowed Origin and Secure cookies).
    #[arg(long, env = "USAGI_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// TOML configuration file (see README "Configuration").
    #[arg(long, env = "USAGI_CONFIG")]
    pub config: Option<PathBuf>,
    /// Pin "now" to an RFC 3339 instant (tests, reproducible demos).
    #[arg(long, env = "USAGI_FIXED_NOW")]
    pub fixed_now: Option<chrono::DateTime<chrono::Utc>>,
    /// MaxMind-format database for call-home geography.
    #[arg(long, env = "USAGI_GEOIP_DATABASE")]
    pub geoip_database: Option<PathBuf>,
    /// PostgreSQL catalog shared by several servers (`postgres://user@host:5432/db`) [default:
    /// SQLite in the data directory]. Admin commands read the same environment variable.
    #[arg(long, env = "USAGI_CATALOG_URL")]
    pub catalog_url: Option<String>,
}

/// Builds the configuration: file, then environment/flags.
pub fn load_config(args: &ServeArgs) -> anyhow::Result<ServerConfig> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            ServerConfig::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => ServerConfig::default(),
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
        if args.public_url.is_none() && args.config.is_none() {
            config.public_url = format!("http://{listen}");
        }
    }
    if let Some(url) = &args.public_url {
        config.public_url = url.trim_end_matches('/').to_string();
    }
    if let Some(at) = args.fixed_now {
        config.clock.fixed_now = Some(at);
    }
    if let Some(db) = &args.geoip_database {
        config.geoip_database = Some(db.clone());
    }
    if let Some(url) = args.catalog_url.as_ref().filter(|u| !u.trim().is_empty()) {
        config.catalog.url = Some(url.clone());
    }
    Ok(config)
}

/// Waits for SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Opens the configured warehouse backend of a data directory: the ClickHouse cluster of
/// `[warehouse.clickhouse]`, or the embedded DuckDB file.
pub async fn open_warehouse(data_dir: &Path, config: &ServerConfig) -> anyhow::Result<Arc<dyn Warehouse>> {
    if let Some(ch) = &config.warehouse.clickhouse {
        std::fs::create_dir_all(data_dir)?;
        let origin = match &ch.origin {
            Some(o) => o.clone(),
            None => warehouse_origin(data_dir)?,
        };
        let settings = clickhouse_config(ch, origin);
        let warehouse = ClickHouseWarehouse::open(&settings)
            .await
            .with_context(|| format!("opening the ClickHouse warehouse ({} shards)", settings.shards.len()))?;
        return Ok(Arc::new(warehouse));
    }
    let duck = DuckConfig {
        threads: if config.warehouse.threads == 0 { DuckConfig::default().threads } else { config.warehouse.threads },
        load_threads: config.warehouse.load_threads,
        memory_limit: config.warehouse.memory_limit.clone(),
        checkpoint_threshold: config.warehouse.checkpoint_threshold.clone(),
    };
    std::fs::create_dir_all(data_dir)?;
    let path = usagi_server::DataDir(data_dir.to_path_buf()).warehouse();
    let warehouse = tokio::task::spawn_blocking(move || DuckWarehouse::open(&path, &duck)).await??;
    Ok(Arc::new(warehouse))
}

/// The connection settings of `[warehouse.clickhouse]`, loading as `origin`.
pub(crate) fn clickhouse_config(ch: &ClickHouseSettings, origin: String) -> ClickHouseConfig {
    ClickHouseConfig {
        shards: ch.shards.clone(),
        cluster: ch.cluster.clone(),
        database: ch.database.clone(),
        user: ch.user.clone(),
        password: ch.password.clone(),
        origin,
    }
}

/// The data directory's name as a ClickHouse loader: created once, kept in `warehouse-origin`.
pub(crate) fn warehouse_origin(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("warehouse-origin");
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        _ => {
            let id = uuid::Uuid::new_v4().simple().to_string();
            let tmp = data_dir.join("warehouse-origin.tmp");
            std::fs::write(&tmp, &id)?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            Ok(id)
        }
    }
}

/// Starts a server on a data directory with its configured backends.
pub async fn start(data_dir: &Path, config: ServerConfig) -> anyhow::Result<usagi_server::Running> {
    let warehouse = open_warehouse(data_dir, &config).await?;
    Ok(usagi_server::start(data_dir, config, warehouse).await?)
}

/// Runs the server until a signal arrives, then shuts down gracefully.
pub async fn run(data_dir: &Path, args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(&args)?;
    let running = start(data_dir, config).await?;
    eprintln!("usagi listening on http://{}", running.addr);
    shutdown_signal().await;
    tracing::info!("shutting down: finishing requests and flushing");
    running.shutdown().await;
    Ok(())
}
