//! `usagi bench export`: time and peak memory of building one day's export files.
//!
//! Two steps, so the export runs in a process of its own and its peak RSS (`VmHWM`) is the
//! export's alone: `--generate` writes a day of facts straight into a warehouse with bulk
//! SQL; without it the day's files are built and time and peak RSS printed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use usagi_export::{day_start_ms, ExportStore, Exporter, FileName, Kind, RawDayInputs};
use usagi_types::ProductId;
use usagi_warehouse_duckdb::{DuckConfig, DuckWarehouse};

/// Options of `bench export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Directory holding the bench warehouse (`warehouse.duckdb`) and the files built.
    #[arg(long, default_value = "/var/tmp/usagi-bench-export")]
    dir: PathBuf,
    /// Write the day's facts instead of exporting them.
    #[arg(long)]
    generate: bool,
    /// Event records received on the day (with --generate).
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Installations that sent them (with --generate).
    #[arg(long, default_value_t = 20_000)]
    installs: u64,
    /// DuckDB memory limit of the export process.
    #[arg(long, default_value = "1GB")]
    memory_limit: String,
    /// The day to export (another day than the generated one measures the baseline).
    #[arg(long, default_value = DAY)]
    date: NaiveDate,
}

const PRODUCT: &str = "2376158762";
const DAY: &str = "2024-03-19";

/// Runs the benchmark step.
pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)?;
    let path = args.dir.join("warehouse.duckdb");
    let config = DuckConfig { memory_limit: args.memory_limit.clone(), ..DuckConfig::default() };
    let open_path = path.clone();
    let wh = tokio::task::spawn_blocking(move || DuckWarehouse::open(&open_path, &config)).await??;
    let product = ProductId::parse(PRODUCT)?;
    let day = if args.generate { NaiveDate::parse_from_str(DAY, "%Y-%m-%d")? } else { args.date };
    let spinner = ProgressBar::new_spinner().with_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}")?);
    spinner.enable_steady_tick(Duration::from_millis(120));
    if args.generate {
        spinner.set_message(format!("writing {} events of {} installations", args.events, args.installs));
        wh.execute_batch(generate_sql(args.events, args.installs.max(1), day_start_ms(day))).await?;
        spinner.finish_and_clear();
        println!("generated {} events for {} installations in {}", args.events, args.installs, path.display());
        return Ok(());
    }
    let wh: Arc<dyn usagi_warehouse::Warehouse> = Arc::new(wh);
    let store = Arc::new(ExportStore::open(&args.dir.join("exports"))?);
    let exporter = Exporter::new(wh, store);
    spinner.set_message("building the raw data file");
    let started = Instant::now();
    let raw = exporter.build_raw_day(product, day, RawDayInputs::default(), chrono::Utc::now()).await?;
    let raw_time = started.elapsed();
    spinner.set_message("building the custom event file");
    let started = Instant::now();
    let cust = exporter
        .build_records(FileName::day(product, usagi_export::Family::CustomEvents, day), Kind::Daily, i64::MAX)
        .await?;
    let cust_time = started.elapsed();
    spinner.finish_and_clear();
    let peak = peak_rss_kib().context("reading VmHWM")?;
    println!("| file | build time | zip | uncompressed |");
    println!("|---|---|---|---|");
    for (f, t) in [(&raw, raw_time), (&cust, cust_time)] {
        println!(
            "| {} | {:.1} s | {:.1} MiB | {:.1} MiB |",
            f.name,
            t.as_secs_f64(),
            f.compressed_bytes as f64 / 1048576.0,
            f.uncompressed_bytes as f64 / 1048576.0
        );
    }
    println!("peak RSS of this process: {:.0} MiB (DuckDB memory_limit {})", peak as f64 / 1024.0, args.memory_limit);
    Ok(())
}

/// The process's peak resident set, KiB (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One day of facts: a contact, a session start/stop, envelope and product properties per
/// installation; `events` events (1 % custom) and one exception per 1,000 events, all
/// received during the day.
fn generate_sql(events: u64, installs: u64, day_ms: i64) -> String {
    let p = PRODUCT;
    format!(
        "DELETE FROM events; DELETE FROM contacts; DELETE FROM session_marks; DELETE FROM exceptions;
         DELETE FROM property_changes; DELETE FROM observations; DELETE FROM clients;
         INSERT INTO contacts SELECT {p}, i, {day_ms} + i * 3, DATE '{DAY}', gen_random_uuid(), 1, i FROM range({installs}) t(i);
         INSERT INTO session_marks SELECT {p}, i, {day_ms} + i, DATE '{DAY}', 1, k, k, NULL, {day_ms} + i * 3, NULL
             FROM range({installs}) t(i), range(1, 3) s(k);
         INSERT INTO property_changes SELECT {p}, i, {day_ms} + i, DATE '{DAY}', 1, 0, n, v, {day_ms} + i * 3
             FROM range({installs}) t(i),
                  (VALUES ('machineId', 'M-bench'), ('appName', 'BenchApp'), ('prodVersion', '4.2'), ('prodEdition', 'Pro')) x(n, v);
         INSERT INTO observations SELECT {p}, i, {day_ms} + i * 3, DATE '{DAY}', 1, 4294967295, 5, false, NULL,
             '{{\"sdkName\":\"ui-sdk-rust\",\"sdkVersion\":\"1.0.0\"}}' FROM range({installs}) t(i);
         INSERT INTO clients (product_id, client_id, date_installed, date_last_seen, lifetime_sessions, lifetime_runtime_ms,
                              opt_out_historical, opt_out_current)
             SELECT {p}, i, DATE '{DAY}', DATE '{DAY}', 1, 600000, false, false FROM range({installs}) t(i);
         INSERT INTO events SELECT {p}, e % {installs}, {day_ms} + e % 86000000, DATE '{DAY}', 1, CAST(e // {installs} AS INTEGER),
             NULL, 'Bench', 'Event ' || (e % 40), CASE WHEN e % 3 = 0 THEN e % 100 END, NULL,
             CASE WHEN e % 100 = 0 THEN '{{\"k\":\"' || (e % 7) || '\"}}' END, {day_ms} + e % 86000000, gen_random_uuid()
             FROM range({events}) t(e);
         INSERT INTO exceptions SELECT {p}, e % {installs}, {day_ms} + e, DATE '{DAY}', 1, 0, NULL, 'Bench.Error', 'run',
             'message ' || e, 'at Bench.run', {day_ms} + e, gen_random_uuid() FROM range({events} // 1000) t(e);
         INSERT INTO client_days (product_id, client_id, day, runtime_ms, sessions, first_day)
             SELECT {p}, i, DATE '{DAY}', 600000, 1, true FROM range({installs}) t(i);
         CHECKPOINT;"
    )
}
