//! `usagi export build`: one receive day's export files on demand (operators, tests, backfills).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use usagi_export::{ExportJob, ExportStore, Exporter, Family, FileName, Kind};
use usagi_ingest::{Ingest, IngestConfig};
use usagi_types::ProductId;

/// Export file commands.
#[derive(Subcommand)]
pub enum ExportCommand {
    /// Build (or rebuild) the finalized files of one server receive day. Needs the server
    /// stopped (it holds the warehouse); acknowledged data still in the ingest log is loaded first.
    Build {
        /// Product id.
        #[arg(long)]
        product: String,
        /// The receive day, YYYY-MM-DD (UTC).
        #[arg(long)]
        date: NaiveDate,
        /// Which files.
        #[arg(long, value_enum, default_value_t = Which::All)]
        family: Which,
        /// Where export files live (default: `exports/` in the data directory).
        #[arg(long)]
        exports_dir: Option<PathBuf>,
    },
}

/// File families to build.
#[derive(Clone, Copy, ValueEnum)]
pub enum Which {
    /// Raw data, custom events and exceptions.
    All,
    /// Raw data (`<product>_<date>.zip`).
    Raw,
    /// Custom events (`<product>_cust_<date>.zip`).
    Cust,
    /// Exceptions (`<product>_exc_<date>.zip`).
    Exc,
}

/// Runs an export command.
pub async fn export(data_dir: &Path, cmd: ExportCommand) -> anyhow::Result<()> {
    let ExportCommand::Build { product, date, family, exports_dir } = cmd;
    let product = ProductId::parse(&product).map_err(|e| anyhow::anyhow!("--product '{product}': {e}"))?;
    let catalog = usagi_server::open_catalog(data_dir).await?;
    catalog.get_product(product).await?.with_context(|| format!("no product {product}"))?;
    let config = usagi_server::ServerConfig::default();
    let warehouse = crate::serve::open_warehouse(data_dir, &config).await.map_err(|e| {
        anyhow::anyhow!(
            "could not open the warehouse ({e}); stop `usagi serve` first, its export job builds files itself"
        )
    })?;
    // Load whatever was acknowledged but not yet loaded, so the day is complete.
    let dirs = usagi_server::DataDir(data_dir.to_path_buf());
    let ingest = Ingest::open(IngestConfig::new(dirs.ingest()), warehouse.clone()).await?;
    if !ingest.wait_loaded(ingest.durable_lsn(), Duration::from_secs(600)).await {
        anyhow::bail!("the ingest log could not be loaded into the warehouse");
    }
    let dir = exports_dir.unwrap_or_else(|| dirs.exports());
    let store = Arc::new(ExportStore::open(&dir).with_context(|| format!("export directory {}", dir.display()))?);
    let exporter = Arc::new(Exporter::new(warehouse, store));
    let job = ExportJob::new(exporter.clone(), catalog);

    let families: Vec<Family> = match family {
        Which::All => Family::ALL.to_vec(),
        Which::Raw => vec![Family::Raw],
        Which::Cust => vec![Family::CustomEvents],
        Which::Exc => vec![Family::Exceptions],
    };
    let bar = ProgressBar::new(families.len() as u64).with_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let mut built = Vec::new();
    for f in families {
        let name = FileName::day(product, f, date);
        bar.set_message(format!("building {name}"));
        let file = match f {
            Family::Raw => {
                let inputs = job.raw_inputs(product, date).await?;
                exporter.build_raw_day(product, date, inputs, Utc::now()).await?
            }
            _ => exporter.build_records(name, Kind::Daily, i64::MAX).await?,
        };
        built.push(file);
        bar.inc(1);
    }
    bar.finish_and_clear();
    ingest.shutdown(Duration::from_secs(30)).await;
    // One JSON line, like the other admin commands, for scripts.
    let files: Vec<serde_json::Value> = built
        .iter()
        .map(|f| {
            serde_json::json!({"fileName": f.name.to_string(), "path": f.path.display().to_string(),
                               "compressedBytes": f.compressed_bytes, "uncompressedBytes": f.uncompressed_bytes})
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({"productId": product.to_string(), "date": date.format("%Y-%m-%d").to_string(), "files": files})
    );
    Ok(())
}
