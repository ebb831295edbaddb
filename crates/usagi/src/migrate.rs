//! `usagi migrate`: copies products from a data directory's embedded stores (SQLite catalog,
//! DuckDB warehouse, ingest log) to the scale-out stores of a server configuration
//! (PostgreSQL catalog, ClickHouse cluster), then compares report answers of both.
//!
//! Re-runnable: the catalog import replaces the target's copy of a product, and the facts go
//! through `Warehouse::load` under an origin of their own (`migrate-<product>-<source id>`)
//! with one log position per chunk of installations (chunk i of the installations in
//! ascending order is position i+1). ClickHouse commits each position once and rolls back a
//! chunk cut short, so a re-run after a crash skips the committed chunks and loads the rest.
//! A re-run checks that each committed chunk would hold the same number of rows; if the source
//! changed in between it refuses.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{NaiveDate, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use usagi_catalog::{Catalog, CatalogTransfer, PostgresCatalog, SqliteCatalog};
use usagi_ingest::{Ingest, IngestConfig};
use usagi_reporting::battery::{self, BatteryInput};
use usagi_reporting::client_profile::InstallationStatus;
use usagi_reporting::context::{BackOff, ResultLimits};
use usagi_reporting::event_tracking::EventFlags;
use usagi_reporting::ReportContext;
use usagi_server::{DataDir, ServerConfig};
use usagi_types::{ClientId, ProductId};
use usagi_warehouse::history;
use usagi_warehouse::{Param, Warehouse};
use usagi_warehouse_clickhouse::migrate::rollup_table_names;
use usagi_warehouse_clickhouse::ClickHouseWarehouse;

/// Flags of `usagi migrate`.
#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// The data directory to copy from (its server stopped).
    #[arg(long)]
    pub from: PathBuf,
    /// The server configuration whose `[catalog] url` and `[warehouse.clickhouse]` receive the copy.
    #[arg(long)]
    pub to: PathBuf,
    /// A product to copy (repeatable) [default: every product].
    #[arg(long = "product")]
    pub products: Vec<String>,
    /// Installations per load (all facts of an installation go in one load).
    #[arg(long, default_value_t = 500)]
    pub chunk: usize,
}

/// What one product's copy did, for the summary.
struct Copied {
    installations: usize,
    chunks_loaded: u64,
    chunks_skipped: u64,
    rows: Vec<(&'static str, u64)>,
    reports: usize,
}

/// Runs `usagi migrate`.
pub async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.to).with_context(|| format!("reading {}", args.to.display()))?;
    let config = ServerConfig::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", args.to.display()))?;
    let Some(url) = config.catalog.url.clone() else { bail!("{}: [catalog] url is not set", args.to.display()) };
    let Some(ch) = config.warehouse.clickhouse.clone() else {
        bail!("{}: [warehouse.clickhouse] is not set", args.to.display())
    };
    let dirs = DataDir(args.from.clone());
    if !dirs.catalog().exists() {
        bail!("{} holds no catalog.sqlite", args.from.display());
    }
    let source_catalog = open_sqlite(&dirs).await?;
    let target_catalog = PostgresCatalog::connect(&url).await.context("connecting to the target catalog")?;
    let source = crate::serve::open_warehouse(&args.from, &ServerConfig::default())
        .await
        .context("opening the source warehouse; stop `usagi serve` on it first")?;
    load_ingest_log(&dirs, source.clone()).await?;
    let source_id = crate::serve::warehouse_origin(&args.from)?;

    let products = match args.products.is_empty() {
        true => source_catalog.list_products().await?.into_iter().map(|p| p.id).collect(),
        false => args
            .products
            .iter()
            .map(|raw| ProductId::parse(raw).map_err(|e| anyhow::anyhow!("--product '{raw}': {e}")))
            .collect::<anyhow::Result<Vec<_>>>()?,
    };
    let mut summary = Vec::new();
    let mut failures = 0usize;
    for product in products {
        let snapshot = source_catalog
            .export_product(product)
            .await?
            .with_context(|| format!("no product {product} at the source"))?;
        let imported = target_catalog.import_product(&snapshot).await.with_context(|| format!("product {product}"))?;
        eprintln!(
            "{product}: catalog copied ({} users, {} tokens, {} license keys, {} installation controls; {} users and {} tokens new)",
            snapshot.users.len(),
            snapshot.tokens.len(),
            snapshot.license_keys.len(),
            snapshot.installations.len(),
            imported.users_created,
            imported.tokens_created
        );
        let origin = format!("migrate-{product}-{source_id}");
        let settings = crate::serve::clickhouse_config(&ch, origin.clone());
        let target = ClickHouseWarehouse::open(&settings).await.context("opening the ClickHouse warehouse")?;
        let mut copied = copy_facts(source.as_ref(), &target, product, &origin, args.chunk.max(1)).await?;
        let (reports, problems) = verify(source.as_ref(), &target, &target_catalog, product).await?;
        copied.reports = reports;
        for p in problems.iter().take(10) {
            eprintln!("{product}: DIFFERENT {p}");
        }
        if problems.is_empty() {
            eprintln!("{product}: {reports} reports identical");
        } else {
            eprintln!("{product}: {} of {reports} reports differ or failed", problems.len());
            failures += 1;
        }
        summary.push(json!({
            "productId": product.to_string(), "installations": copied.installations,
            "chunksLoaded": copied.chunks_loaded, "chunksAlreadyLoaded": copied.chunks_skipped,
            "rows": copied.rows.iter().map(|(t, n)| (t.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "reportsCompared": copied.reports, "differences": problems,
        }));
    }
    println!("{}", json!({ "products": summary }));
    if failures > 0 {
        bail!("{failures} product(s) answer reports differently after the copy");
    }
    Ok(())
}

async fn open_sqlite(dirs: &DataDir) -> anyhow::Result<SqliteCatalog> {
    let path = dirs.catalog();
    Ok(tokio::task::spawn_blocking(move || SqliteCatalog::open(&path)).await??)
}

/// Loads whatever the source acknowledged but did not load yet, so nothing is left behind.
async fn load_ingest_log(dirs: &DataDir, warehouse: Arc<dyn Warehouse>) -> anyhow::Result<()> {
    let ingest = Ingest::open(IngestConfig::new(dirs.ingest()), warehouse).await?;
    let loaded = ingest.wait_loaded(ingest.durable_lsn(), Duration::from_secs(600)).await;
    ingest.shutdown(Duration::from_secs(30)).await;
    if !loaded {
        bail!("the source's ingest log could not be loaded into its warehouse");
    }
    Ok(())
}

fn progress(total: u64, product: ProductId) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} [{{elapsed_precise}}] {product} {{bar:40}} {{pos}}/{{len}} installations ({{per_sec}}, eta {{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Copies the facts (and, for installations retention purged, their rollups and retention
/// base) of one product, chunk by chunk, then compares row counts per table.
async fn copy_facts(
    source: &dyn Warehouse,
    target: &ClickHouseWarehouse,
    product: ProductId,
    origin: &str,
    chunk: usize,
) -> anyhow::Result<Copied> {
    let foreign: Vec<(String, u64)> =
        target.rows_by_origin(product).await?.into_iter().filter(|(o, n)| o != origin && *n > 0).collect();
    if let Some((o, n)) = foreign.first() {
        bail!("the target warehouse already holds {n} rows of product {product} loaded by {o}; refusing to mix them");
    }
    let clients = history::installations(source, product).await?;
    let chunks: Vec<&[u64]> = clients.chunks(chunk).collect();
    let committed: BTreeMap<u64, u64> = target.committed_loads(origin).await?.into_iter().collect();
    if committed.keys().any(|lsn| *lsn > chunks.len() as u64) {
        bail!("an earlier migration of product {product} loaded more chunks than the source has now; it changed");
    }
    let bar = progress(clients.len() as u64, product);
    let tables = rollup_table_names();
    let (mut loaded, mut skipped) = (0u64, 0u64);
    for (i, ids) in chunks.iter().enumerate() {
        let lsn = i as u64 + 1;
        let mut batch = history::read_facts(source, product, ids).await?;
        batch.last_lsn = lsn;
        match committed.get(&lsn) {
            Some(rows) if *rows == batch.row_count() as u64 => skipped += 1,
            Some(rows) => bail!(
                "chunk {lsn} of product {product} was loaded by an earlier run with {rows} rows, the source has {} now; \
                 the source changed since",
                batch.row_count()
            ),
            None => {
                target.load(batch).await?;
                loaded += 1;
            }
        }
        // Installations whose old data retention purged: their rollups need the retention base.
        let based = history::clients_with_base(source, product, ids).await?;
        if !based.is_empty() {
            let rows = history::read_tables(source, product, &based, &tables).await?;
            target.replace_rollups(product, &based, &rows).await?;
        }
        bar.inc(ids.len() as u64);
    }
    bar.finish_and_clear();
    let before = history::row_counts(source, product).await?;
    let after = history::row_counts(target, product).await?;
    if before != after {
        bail!("product {product}: rows per table differ after the copy: source {before:?}, target {after:?}");
    }
    eprintln!(
        "{product}: {} installations, {loaded} chunks loaded, {skipped} already loaded; rows {}",
        clients.len(),
        before.iter().map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join(", ")
    );
    Ok(Copied {
        installations: clients.len(),
        chunks_loaded: loaded,
        chunks_skipped: skipped,
        rows: before,
        reports: 0,
    })
}

/// Runs the report battery on both warehouses over the product's whole reported range;
/// returns the number of reports and the differences.
async fn verify(
    source: &dyn Warehouse,
    target: &ClickHouseWarehouse,
    catalog: &PostgresCatalog,
    product: ProductId,
) -> anyhow::Result<(usize, Vec<String>)> {
    let p = catalog.get_product(product).await?.context("product vanished from the target catalog")?;
    let now = Utc::now();
    let states = catalog.back_off_states(product).await?;
    let ctx = ReportContext {
        product,
        today: now.date_naive(),
        days_until_declared_lost: p.settings.days_until_declared_lost,
        retention_days: p.settings.retention_days,
        license_keys: true,
        now,
        back_off: BackOff { product_wide: states.product_wide(now), clients: states.at(now) },
        limits: ResultLimits::default(),
    };
    let span = source
        .query(
            "SELECT min(date_installed), max(date_last_seen) FROM clients WHERE product_id = $1".into(),
            vec![Param::Int(product.as_u64() as i64)],
        )
        .await?;
    let day = |i: usize| span.rows.first().and_then(|r| r[i].as_date());
    let (Some(first), Some(last)) = (day(0), day(1)) else { return Ok((0, Vec::new())) };
    let start: NaiveDate = first.max(ctx.oldest_reported_date()).min(ctx.today);
    let stop = last.max(start).min(ctx.today);
    let clients = history::installations(source, product).await?;
    let sample: Vec<u64> = clients.iter().take(3).chain(clients.iter().rev().take(2)).copied().collect();
    let mut profiles = Vec::new();
    for c in sample {
        let client = ClientId::from_u64(c);
        let control = catalog.installation_control(product, client).await?;
        let status = InstallationStatus {
            disabled: control.disabled,
            back_off_historical: control.back_off_ever,
            back_off_until: control.back_off_until,
        };
        profiles.push((client, status));
    }
    let event_flags = catalog
        .event_settings(product)
        .await?
        .into_iter()
        .map(|s| EventFlags { category: s.category, name: s.name, basic: s.basic, advanced: s.advanced })
        .collect();
    let input = BatteryInput { start, stop, event_flags, new_events_basic: p.settings.new_events_basic, profiles };
    let before = battery::run(source, &ctx, &input).await;
    let after = battery::run(target, &ctx, &input).await;
    Ok(match battery::compare(&before, &after) {
        Ok(n) => (n, Vec::new()),
        Err(problems) => (before.len(), problems),
    })
}
