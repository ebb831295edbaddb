//! `usagi bench dataset`: builds a reference fleet through the normal ingest path and reports
//! how long that took and what it costs on disk.
//!
//! A fresh data directory gets a product; `usagi serve` runs as a child process with
//! `ingest.allow_simulated_receive_time`, and the fleet simulator (`usagi_simulate`, the
//! SDK's protocol core) replays every installation's history through `/callhome/v1/…/sync`.
//! The server is then stopped gracefully (the loader drains the log and DuckDB checkpoints),
//! the files are measured, and the server is started once more on the finished dataset to
//! time the start and its idle memory. The reference fleet "M" is `--installs 100000 --days
//! 365` (the default); smaller fleets are for CI and quick looks.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use clap::Args;
use serde_json::json;
use usagi_simulate::{FleetConfig, SimulateConfig};
use usagi_warehouse::Warehouse;
use usagi_warehouse_duckdb::{DuckConfig, DuckWarehouse};

use crate::bench_http::time_reports;
use crate::bench_ingest::{dir_size, load_average};
use crate::bench_server::{bench_toml, free_port, wait_drained, work_dir, ChildServer};
use crate::chaos_cluster::Cluster;
use usagi_catalog::{NewUser, Role};

/// Options of `bench dataset`.
#[derive(Debug, Args)]
pub struct DatasetArgs {
    /// Installations in the fleet.
    #[arg(long, default_value_t = 100_000)]
    installs: u32,
    /// Days of history, ending today.
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// Random seed of the fleet.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Concurrent uploads.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Directory for the dataset (must not exist or be empty); default: a fresh directory
    /// under the system temp dir, deleted after the run unless `--keep`.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Keep the dataset (a data directory `usagi serve` can run on).
    #[arg(long)]
    keep: bool,
    /// Build into the ClickHouse cluster in this directory (started by
    /// `scripts/clickhouse-cluster.sh start DIR …`), in a fresh database, instead of DuckDB.
    #[arg(long)]
    clickhouse_dir: Option<PathBuf>,
    /// A `[warehouse]` setting for the server, as `key=value` (e.g. `memory_limit=768MB`);
    /// repeatable. The server's defaults otherwise.
    #[arg(long = "warehouse", value_name = "KEY=VALUE")]
    warehouse: Vec<String>,
    /// After the build, time the report cases of `bench reports` that fit any fleet warm
    /// through HTTP on the finished dataset, this many runs each (0: none).
    #[arg(long, default_value_t = 0)]
    report_runs: usize,
}

/// Runs `usagi bench dataset`.
pub async fn dataset(args: DatasetArgs) -> anyhow::Result<()> {
    if args.installs == 0 || args.days == 0 {
        bail!("--installs and --days must be at least 1");
    }
    let load_before = load_average();
    let (dir, fresh) = work_dir(args.work_dir.as_deref(), "bench-dataset")?;
    eprintln!("building the dataset in {}", dir.display());
    let catalog = usagi_server::open_catalog(&dir).await?;
    let now = Utc::now();
    let (product, secret) = catalog.create_product("Dataset Bench", None, now).await?;
    // A reader for the report timings.
    let password = format!("bench-{}", rand::random::<u64>());
    let email = "bench@usagi.local".to_string();
    let user = catalog
        .create_user(NewUser { email, name: "Bench".into(), surname: "Runner".into(), admin: true, password }, now)
        .await?;
    catalog.grant(user.id, product.id, Role::Editor, true).await?;
    let (_, token) = catalog.create_token(user.id, vec![product.id], false, None, now).await?;
    drop(catalog);
    let cluster = args.clickhouse_dir.as_deref().map(Cluster::read).transpose()?;
    let database = format!("dataset_{:016x}", rand::random::<u64>());
    if let Some(cluster) = &cluster {
        eprintln!("warehouse: ClickHouse database {database} on {} shard(s)", cluster.len());
    }
    let toml = bench_toml(&args.warehouse, cluster.as_ref().map(|c| c.config_toml(&database)))?;
    let serve_config = dir.join("bench-serve.toml");
    std::fs::write(&serve_config, &toml)?;
    let config = dir.join("bench-dataset.toml");
    std::fs::write(&config, format!("{toml}[ingest]\nallow_simulated_receive_time = true\n"))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let mut server = ChildServer::new(&dir, addr, Some(config));
    server.start().await?;

    let fleet = FleetConfig::new(args.installs, args.days, Utc::now().date_naive(), args.seed);
    let mut sim = SimulateConfig::new(format!("http://{addr}"), product.id, secret, fleet);
    sim.concurrency = args.concurrency.max(1);
    sim.simulated_receive_time = true;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} records ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let t = Instant::now();
    let summary = usagi_simulate::run(sim, Some(bar.clone())).await?;
    let upload = t.elapsed();
    bar.finish_and_clear();
    // The build is over when the warehouse holds everything acknowledged.
    wait_drained(addr, Duration::from_secs(7200)).await?;
    let peak_rss = server.rss().map(|r| r.1);
    if !server.terminate().await? {
        bail!("`usagi serve` did not exit cleanly (log: {})", dir.join("server.log").display());
    }
    let build = t.elapsed();

    let data = usagi_server::DataDir(dir.clone());
    let warehouse_path = data.warehouse();
    let (events, installation_days, installations) = {
        let path = warehouse_path.clone();
        let wh: Box<dyn Warehouse> = match &cluster {
            Some(cluster) => Box::new(cluster.open(&database).await?),
            None => Box::new(
                tokio::task::spawn_blocking(move || DuckWarehouse::open(&path, &DuckConfig::default())).await??,
            ),
        };
        let count = |sql: &'static str| {
            let wh = &wh;
            async move {
                Ok::<u64, anyhow::Error>(
                    wh.query(sql.into(), vec![]).await?.rows.first().and_then(|r| r[0].as_u64()).unwrap_or(0),
                )
            }
        };
        let counts = (
            count("SELECT count(*) FROM events").await?,
            count("SELECT count(*) FROM client_days").await?,
            count("SELECT count(*) FROM clients").await?,
        );
        counts
    };
    if cluster.is_none() {
        let path = warehouse_path.clone();
        let wh = tokio::task::spawn_blocking(move || DuckWarehouse::open(&path, &DuckConfig::default())).await??;
        wh.execute_batch("CHECKPOINT;".into()).await?;
    }
    let warehouse_bytes = match &cluster {
        Some(cluster) => cluster.bytes_on_disk(&database).await?,
        None => {
            std::fs::metadata(&warehouse_path).map(|m| m.len()).unwrap_or(0)
                + std::fs::metadata(warehouse_path.with_extension("duckdb.wal")).map(|m| m.len()).unwrap_or(0)
        }
    };
    let ingest_bytes = dir_size(&data.ingest());
    let total_bytes = dir_size(&dir);

    // Start on the finished dataset: time until it answers, and its idle memory.
    let mut server = ChildServer::new(&dir, addr, Some(serve_config));
    let t = Instant::now();
    server.start().await?;
    let start = t.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = server.rss().map(|r| r.0);
    wait_drained(addr, Duration::from_secs(600)).await?;
    let timings = if args.report_runs > 0 {
        let base = format!("http://{addr}");
        time_reports(&base, &token, product.id.as_u64(), args.days, args.report_runs).await?
    } else {
        Vec::new()
    };
    if !server.terminate().await? {
        bail!("`usagi serve` did not exit cleanly after the start test");
    }

    let per = |bytes: u64, n: u64| if n == 0 { 0.0 } else { (bytes as f64 / n as f64 * 10.0).round() / 10.0 };
    let mib = |b: u64| (b as f64 / 1048576.0 * 10.0).round() / 10.0;
    let profile = if cfg!(debug_assertions) { "dev (dependencies at opt-level 2)" } else { "release" };
    let result = json!({
        "scenario": "dataset",
        "date": Utc::now().to_rfc3339(),
        "profile": profile,
        "loadAverage": {"before": load_before, "after": load_average()},
        "installs": args.installs, "days": args.days, "seed": args.seed, "concurrency": args.concurrency,
        "batches": summary.batches_sent, "records": summary.records_sent, "accepted": summary.accepted,
        "dropped": summary.dropped, "rejectedBatches": summary.rejected_batches, "retries": summary.retries,
        "uploadSeconds": upload.as_secs_f64(), "buildSeconds": build.as_secs_f64(),
        "recordsPerSecond": (summary.records_sent as f64 / build.as_secs_f64().max(0.001)).round(),
        "rows": {"events": events, "installationDays": installation_days, "installations": installations},
        "bytes": {"warehouse": warehouse_bytes, "ingestDir": ingest_bytes, "dataDir": total_bytes},
        "warehouseBytesPerEvent": per(warehouse_bytes, events),
        "warehouseBytesPerRecord": per(warehouse_bytes, summary.accepted),
        "serverStartMs": (start.as_secs_f64() * 1e4).round() / 10.0,
        "rssMiB": {"peakDuringBuild": peak_rss.map(mib), "idleAfterStart": idle_rss.map(mib)},
        "warehouse": match &cluster { Some(c) => format!("clickhouse ({} shards)", c.len()), None => "duckdb".into() },
        "reports": timings.iter().map(|r| json!({"case": r.name, "p50Ms": r.p50.as_secs_f64() * 1e3,
            "p90Ms": r.p90.as_secs_f64() * 1e3, "answer": r.answer})).collect::<Vec<_>>(),
    });
    let mut rows: Vec<(&str, String, &str)> = vec![
        (
            "warehouse",
            match &cluster {
                Some(c) => format!("ClickHouse, {} shards, database {database}", c.len()),
                None => "DuckDB (embedded)".into(),
            },
            "",
        ),
        ("fleet", format!("{} installations × {} days (seed {})", args.installs, args.days, args.seed), ""),
        ("batches / records sent", format!("{} / {}", summary.batches_sent, summary.records_sent), ""),
        (
            "records accepted / dropped, batches rejected",
            format!("{} / {} / {}", summary.accepted, summary.dropped, summary.rejected_batches),
            "",
        ),
        ("upload time", format!("{:.1} s", upload.as_secs_f64()), ""),
        (
            "build time (upload + drain)",
            format!(
                "{:.1} s ({:.0} records/s)",
                build.as_secs_f64(),
                result["recordsPerSecond"].as_f64().unwrap_or(0.0)
            ),
            "",
        ),
        ("events / installation-days / installations", format!("{events} / {installation_days} / {installations}"), ""),
        ("warehouse on disk", format!("{} MiB", mib(warehouse_bytes)), ""),
        ("warehouse bytes per event", format!("{}", per(warehouse_bytes, events)), "≤ 20"),
        ("warehouse bytes per accepted record", format!("{}", per(warehouse_bytes, summary.accepted)), ""),
        ("ingest log + receipts", format!("{} MiB", mib(ingest_bytes)), ""),
        ("server start on the dataset", format!("{:.0} ms", start.as_secs_f64() * 1e3), "≤ 3 s"),
        ("server RSS peak during build", peak_rss.map_or("n/a".into(), |b| format!("{} MiB", mib(b))), "≤ 1 GiB"),
        ("server RSS idle after start", idle_rss.map_or("n/a".into(), |b| format!("{} MiB", mib(b))), "≤ 300 MiB"),
        ("load average before / after", format!("{load_before} / {}", load_average()), ""),
        ("profile", profile.into(), ""),
    ];
    for r in &timings {
        rows.push((
            r.name,
            format!("p50 {:.1} ms, p90 {:.1} ms (HTTP, warm)", r.p50.as_secs_f64() * 1e3, r.p90.as_secs_f64() * 1e3),
            "",
        ));
    }
    let width = rows.iter().map(|(k, _, _)| k.chars().count()).max().unwrap_or(0);
    let vwidth = rows.iter().map(|(_, v, _)| v.chars().count()).max().unwrap_or(0);
    println!("\ndataset benchmark");
    for (k, v, budget) in &rows {
        println!("  {k:<width$}  {v:<vwidth$}  {budget}");
    }
    if let Some(file) = &args.json {
        std::fs::write(file, serde_json::to_vec_pretty(&result)?)
            .with_context(|| format!("writing {}", file.display()))?;
    }
    if fresh && !args.keep {
        let _ = std::fs::remove_dir_all(&dir);
        if let Some(cluster) = &cluster {
            cluster.drop_database(&database).await;
        }
    } else {
        println!("dataset kept in {}", dir.display());
    }
    if summary.rejected_batches > 0 {
        bail!("{} batches were rejected", summary.rejected_batches);
    }
    Ok(())
}
