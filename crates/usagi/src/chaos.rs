//! `usagi bench chaos`: many concurrent installations upload signed `sync` batches while the
//! server process is killed with SIGKILL at random moments and restarted on the same data
//! directory and port. Every client behaves like the SDK must (callhome §5, §11): it keeps
//! its batches until the server acknowledges them (200, with or without `duplicate:true`)
//! and re-sends the *same body with the same batchId* after connection errors, 5xx and 503.
//! At the end the server is stopped gracefully (its loader drains the ingest log), the
//! warehouse file is opened directly, and every installation's `events` and `contacts` rows
//! are compared with what it got acknowledged: nothing may be lost, nothing duplicated.
//!
//! With `--outages`, the warehouse is also made unavailable that many times while the
//! installations keep uploading: the ingest log's pause file (`ingest/pause-loader`, the
//! operator switch of `usagi_ingest::PAUSE_FILE`) stops every warehouse load for
//! `--outage-ms`. Syncs must still be acknowledged (until the backlog bound,
//! `--max-backlog-mb`, answers 503) and everything must load once the file is removed.
//!
//! With `--clickhouse-dir DIR` (a cluster started by `scripts/clickhouse-cluster.sh start DIR
//! …`), the server loads into a fresh database on that ClickHouse cluster instead of DuckDB
//! (issue 9), and `--shard-kills N` adds N rounds in which the last shard is killed with
//! SIGKILL while uploads go on, the Usagi process is killed too while the shard is down, and
//! both are started again. The counts are then read from every shard.
//!
//! Besides the facts, the run checks a rollup: every installation's `client_events` total
//! must equal its stored events (no load's rollups lost or applied twice).
//!
//! The clients use the minimal HTTP/1.1 client of [`crate::bench_server`]: a kill
//! mid-request must surface as a plain I/O error that the client retries.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::io::BufReader;
use tokio::net::TcpStream;
use usagi_protocol::signing::{sign, ProductSecret};
use usagi_warehouse::Warehouse;
use usagi_warehouse_duckdb::{DuckConfig, DuckWarehouse};

use crate::bench_server::{free_port, http, work_dir, ChildServer};
use crate::chaos_cluster::Cluster;

/// Options of `bench chaos`.
#[derive(Debug, Args)]
pub struct ChaosArgs {
    /// Concurrent simulated installations (one task each).
    #[arg(long, default_value_t = 100)]
    installs: u32,
    /// SIGKILLs of the server process (each followed by a restart).
    #[arg(long, default_value_t = 10)]
    kills: u32,
    /// Event records per batch.
    #[arg(long, default_value_t = 20)]
    records: u32,
    /// Each installation forms a new batch this often (± 50 % jitter) while the run lasts.
    #[arg(long, default_value_t = 250)]
    batch_interval_ms: u64,
    /// Batches an installation keeps queued at most; while full (server down) it forms no new one.
    #[arg(long, default_value_t = 64)]
    max_queue: usize,
    /// The server runs between this and `--max-uptime-ms` before each kill.
    #[arg(long, default_value_t = 300)]
    min_uptime_ms: u64,
    /// See `--min-uptime-ms`.
    #[arg(long, default_value_t = 2500)]
    max_uptime_ms: u64,
    /// After a kill the server stays down for up to this long (random) before the restart.
    #[arg(long, default_value_t = 500)]
    max_downtime_ms: u64,
    /// Percentage of acknowledged batches re-sent once more, as an SDK does that crashed
    /// between the answer and deleting the batch from its queue; each must be answered
    /// `duplicate:true` and stored once.
    #[arg(long, default_value_t = 2.0)]
    replay_percent: f64,
    /// Warehouse outages (loading paused through the ingest pause file) after the kills.
    #[arg(long, default_value_t = 0)]
    outages: u32,
    /// Length of each warehouse outage.
    #[arg(long, default_value_t = 3000)]
    outage_ms: u64,
    /// The server's `ingest.max_backlog_mb` (acknowledged-but-unloaded bound; past it, 503).
    #[arg(long)]
    max_backlog_mb: Option<u64>,
    /// Run against the ClickHouse cluster in this directory (started by
    /// `scripts/clickhouse-cluster.sh start DIR …`), in a fresh database, instead of DuckDB.
    #[arg(long)]
    clickhouse_dir: Option<PathBuf>,
    /// Rounds of: SIGKILL of the cluster's last shard, SIGKILL of the server while the shard
    /// is down, restart of both (needs `--clickhouse-dir`).
    #[arg(long, default_value_t = 0)]
    shard_kills: u32,
    /// How long a killed shard stays down (the server is killed half-way).
    #[arg(long, default_value_t = 4000)]
    shard_downtime_ms: u64,
    /// Directory for the run's data (must not exist or be empty); default: a fresh
    /// directory under the system temp dir, deleted after a successful run.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Keep the work directory after a successful run.
    #[arg(long)]
    keep: bool,
    /// Write the summary as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// What one warehouse outage looked like from the clients.
#[derive(Debug, Default, Clone)]
struct Outage {
    /// Batches acknowledged while loading was paused.
    acked: u64,
    /// 503 answers (backlog bound reached) while paused.
    unavailable: u64,
    /// Batches waiting in client queues when loading resumed.
    queued_at_end: u64,
    /// From the resume until the client queues were back to one batch per installation.
    catch_up: Option<Duration>,
}

/// Counters shared by the clients, the kill loop and the progress display.
#[derive(Default)]
struct Stats {
    formed: AtomicU64,
    attempts: AtomicU64,
    acked: AtomicU64,
    duplicates: AtomicU64,
    conn_errors: AtomicU64,
    server_errors: AtomicU64,
    unavailable: AtomicU64,
    rejected: AtomicU64,
    short_accepts: AtomicU64,
    queued: AtomicU64,
    replays: AtomicU64,
    replays_not_duplicate: AtomicU64,
}

impl Stats {
    fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
    fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// What one installation got acknowledged.
#[derive(Debug, Default, Clone)]
struct ClientResult {
    acked_batches: u64,
    acked_records: u64,
}

/// One formed batch: its id and the exact bytes re-sent on every attempt.
struct Batch {
    body: Vec<u8>,
    records: u64,
    /// Already acknowledged; this copy is the deliberate re-send.
    acked: bool,
}

/// Runs `usagi bench chaos`.
pub async fn chaos(args: ChaosArgs) -> anyhow::Result<()> {
    if args.installs == 0 || args.records == 0 {
        bail!("--installs and --records must be at least 1");
    }
    if !(0.0..=100.0).contains(&args.replay_percent) {
        bail!("--replay-percent must be within 0–100");
    }
    if args.min_uptime_ms > args.max_uptime_ms {
        bail!("--min-uptime-ms must not exceed --max-uptime-ms");
    }
    let cluster = args.clickhouse_dir.as_deref().map(Cluster::read).transpose()?;
    if args.shard_kills > 0 && cluster.is_none() {
        bail!("--shard-kills needs --clickhouse-dir");
    }
    let database = format!("chaos_{:016x}", rand::random::<u64>());
    let started = Instant::now();
    let (dir, fresh) = work_dir(args.work_dir.as_deref(), "chaos")?;
    eprintln!("chaos run in {}", dir.display());

    // The product, through the catalog like `usagi product create`.
    let catalog = usagi_server::open_catalog(&dir).await?;
    let (product, secret_hex) = catalog.create_product("Chaos Run", None, Utc::now()).await?;
    drop(catalog);
    let product_id = product.id.to_string();
    let secret = ProductSecret::parse_hex(&secret_hex).map_err(|_| anyhow::anyhow!("catalog returned a bad secret"))?;

    let port = free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut toml = String::new();
    if let Some(mb) = args.max_backlog_mb {
        toml.push_str(&format!("[ingest]\nmax_backlog_mb = {mb}\n"));
    }
    if let Some(cluster) = &cluster {
        toml.push_str(&cluster.config_toml(&database));
        eprintln!("warehouse: ClickHouse database {database} on {} shard(s)", cluster.len());
    }
    let config = if toml.is_empty() {
        None
    } else {
        let file = dir.join("chaos.toml");
        std::fs::write(&file, toml)?;
        Some(file)
    };
    let mut server = ChildServer::new(&dir, addr, config);
    server.start().await?;

    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let path = Arc::new(format!("/callhome/v1/{product_id}/sync"));
    let mut tasks = Vec::new();
    for i in 0..args.installs {
        let client = ClientTask {
            client_id: format!("{:016X}", u64::from(i) + 1),
            addr,
            path: path.clone(),
            secret: secret.clone(),
            stats: stats.clone(),
            stop: stop.clone(),
            records: args.records,
            interval: Duration::from_millis(args.batch_interval_ms.max(1)),
            max_queue: args.max_queue.max(1),
            replay: (args.replay_percent / 100.0).clamp(0.0, 1.0),
        };
        tasks.push(tokio::spawn(client.run()));
    }

    let bar = ProgressBar::new(u64::from(args.kills) + u64::from(args.shard_kills) + u64::from(args.outages));
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] kills+outages {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let ticker = {
        let (bar, stats) = (bar.clone(), stats.clone());
        tokio::spawn(async move {
            loop {
                bar.set_message(progress_message(&stats));
                bar.tick();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    // The chaos: run, SIGKILL, stay down a moment, restart, wait until it answers.
    let mut rng = StdRng::from_entropy();
    let mut kills = 0u32;
    let mut restarts = 0u32;
    let mut restart_times = Vec::new();
    let mut outages: Vec<Outage> = Vec::new();
    let mut shard_kills = 0u32;
    let mut acked_while_shard_down = Vec::new();
    let chaos_result: anyhow::Result<()> = async {
        for _ in 0..args.kills {
            let uptime = rng.gen_range(args.min_uptime_ms..=args.max_uptime_ms);
            tokio::time::sleep(Duration::from_millis(uptime)).await;
            server.kill()?;
            kills += 1;
            bar.set_position(u64::from(kills));
            let downtime = rng.gen_range(0..=args.max_downtime_ms);
            tokio::time::sleep(Duration::from_millis(downtime)).await;
            let t = Instant::now();
            server.start().await?;
            restart_times.push(t.elapsed());
            restarts += 1;
        }
        // A shard dies; the server keeps acknowledging into its ingest log, then dies too; the
        // shard comes back, then the server (it opens the warehouse on every shard at start).
        if let Some(cluster) = &cluster {
            let last = cluster.len() - 1;
            for _ in 0..args.shard_kills {
                let uptime = rng.gen_range(args.min_uptime_ms..=args.max_uptime_ms);
                tokio::time::sleep(Duration::from_millis(uptime)).await;
                let acked = Stats::get(&stats.acked);
                cluster.kill(last)?;
                tokio::time::sleep(Duration::from_millis(args.shard_downtime_ms / 2)).await;
                acked_while_shard_down.push(Stats::get(&stats.acked) - acked);
                server.kill()?;
                kills += 1;
                tokio::time::sleep(Duration::from_millis(args.shard_downtime_ms / 2)).await;
                cluster.start(last).await?;
                shard_kills += 1;
                let t = Instant::now();
                server.start().await?;
                restart_times.push(t.elapsed());
                restarts += 1;
                bar.set_position(u64::from(kills) + u64::from(shard_kills));
            }
        }
        // Warehouse outages: loading paused, uploads go on.
        let pause = usagi_server::DataDir(dir.clone()).ingest().join(usagi_ingest::PAUSE_FILE);
        for _ in 0..args.outages {
            let uptime = rng.gen_range(args.min_uptime_ms..=args.max_uptime_ms);
            tokio::time::sleep(Duration::from_millis(uptime)).await;
            std::fs::write(&pause, b"paused by usagi bench chaos\n").context("creating the pause file")?;
            let (acked, unavailable) = (Stats::get(&stats.acked), Stats::get(&stats.unavailable));
            tokio::time::sleep(Duration::from_millis(args.outage_ms)).await;
            let mut outage = Outage {
                acked: Stats::get(&stats.acked) - acked,
                unavailable: Stats::get(&stats.unavailable) - unavailable,
                queued_at_end: Stats::get(&stats.queued),
                catch_up: None,
            };
            std::fs::remove_file(&pause).context("removing the pause file")?;
            let resumed = Instant::now();
            while resumed.elapsed() < Duration::from_secs(120) {
                if Stats::get(&stats.queued) <= u64::from(args.installs) {
                    outage.catch_up = Some(resumed.elapsed());
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            outages.push(outage);
            bar.set_position(u64::from(kills) + u64::from(shard_kills) + outages.len() as u64);
        }
        Ok(())
    }
    .await;
    let chaos_elapsed = started.elapsed();

    // Stop forming batches; every queue must drain (all acknowledged).
    stop.store(true, Ordering::Relaxed);
    if let Err(e) = chaos_result {
        ticker.abort();
        bar.abandon();
        for t in &tasks {
            t.abort();
        }
        server.kill_quietly();
        bail!("the chaos loop failed: {e:#} (data kept in {})", dir.display());
    }
    let mut results = Vec::with_capacity(tasks.len());
    let drain = async {
        for t in tasks {
            results.push(t.await);
        }
    };
    let drained = tokio::time::timeout(Duration::from_secs(600), drain).await.is_ok();
    ticker.abort();
    bar.set_message(progress_message(&stats));
    bar.finish();
    if !drained {
        server.kill_quietly();
        bail!("client queues did not drain within 10 minutes (data kept in {})", dir.display());
    }
    let results: Vec<ClientResult> = results.into_iter().collect::<Result<_, _>>().context("a client task panicked")?;

    // Graceful stop: SIGTERM makes `usagi serve` finish requests and flush the loader.
    let clean = server.terminate().await?;
    if !clean {
        bail!("`usagi serve` did not exit cleanly on SIGTERM (log: {})", dir.join("server.log").display());
    }

    // Compare what the warehouse holds with what was acknowledged, per installation.
    let found = match &cluster {
        Some(cluster) => cluster.count_rows(&database, &product_id).await?,
        None => count_rows(&dir, &product_id).await?,
    };
    let mut lost_batches = 0u64;
    let mut dup_batches = 0u64;
    let mut lost_records = 0u64;
    let mut dup_records = 0u64;
    let mut bad_installs = 0u64;
    let mut rollup_mismatches = 0u64;
    for (i, r) in results.iter().enumerate() {
        let id = i as i64 + 1;
        let (events, contacts, distinct, rolled_up) = found.get(&id).copied().unwrap_or((0, 0, 0, 0));
        if rolled_up != events {
            rollup_mismatches += 1;
        }
        lost_batches += r.acked_batches.saturating_sub(distinct);
        dup_batches += contacts.saturating_sub(distinct) + distinct.saturating_sub(r.acked_batches);
        lost_records += r.acked_records.saturating_sub(events);
        dup_records += events.saturating_sub(r.acked_records);
        if events != r.acked_records || contacts != r.acked_batches || distinct != r.acked_batches {
            bad_installs += 1;
        }
    }
    let strangers: u64 =
        found.iter().filter(|(id, _)| **id < 1 || **id > i64::from(args.installs)).map(|(_, (e, c, _, _))| e + c).sum();
    let acked_batches: u64 = results.iter().map(|r| r.acked_batches).sum();
    let acked_records: u64 = results.iter().map(|r| r.acked_records).sum();
    let stored_events: u64 = found.values().map(|v| v.0).sum();
    let stored_contacts: u64 = found.values().map(|v| v.1).sum();
    let rejected = Stats::get(&stats.rejected);
    let replays_not_duplicate = Stats::get(&stats.replays_not_duplicate);
    let ok = replays_not_duplicate == 0
        && lost_batches == 0
        && dup_batches == 0
        && lost_records == 0
        && dup_records == 0
        && bad_installs == 0
        && rollup_mismatches == 0
        && strangers == 0
        && acked_while_shard_down.iter().all(|n| *n > 0)
        && rejected == 0
        && outages.iter().all(|o| o.acked > 0 && o.catch_up.is_some());

    let mean_restart = if restart_times.is_empty() {
        Duration::ZERO
    } else {
        restart_times.iter().sum::<Duration>() / restart_times.len() as u32
    };
    let max_restart = restart_times.iter().max().copied().unwrap_or_default();
    let yes_no = |b: bool| if b { "yes" } else { "NO" };
    let outage_acked: u64 = outages.iter().map(|o| o.acked).sum();
    let outage_503: u64 = outages.iter().map(|o| o.unavailable).sum();
    let max_queued = outages.iter().map(|o| o.queued_at_end).max().unwrap_or(0);
    let max_catch_up = outages.iter().map(|o| o.catch_up).max().flatten();
    let mut rows: Vec<(&str, String)> = vec![
        (
            "warehouse",
            match &cluster {
                Some(c) => format!("ClickHouse, {} shards, database {database}", c.len()),
                None => "DuckDB (embedded)".into(),
            },
        ),
        ("installations", args.installs.to_string()),
        ("kills (SIGKILL)", kills.to_string()),
        ("restarts", restarts.to_string()),
        ("restart → answering", format!("mean {} ms, max {} ms", mean_restart.as_millis(), max_restart.as_millis())),
        ("batches formed", Stats::get(&stats.formed).to_string()),
        ("send attempts", Stats::get(&stats.attempts).to_string()),
        ("batches acknowledged", acked_batches.to_string()),
        ("  of which first answered duplicate:true", Stats::get(&stats.duplicates).to_string()),
        ("acknowledged batches re-sent on purpose", Stats::get(&stats.replays).to_string()),
        ("  of which not answered duplicate:true", replays_not_duplicate.to_string()),
        ("connection errors (retried)", Stats::get(&stats.conn_errors).to_string()),
        ("503 answers (retried)", Stats::get(&stats.unavailable).to_string()),
        ("other 5xx answers (retried)", Stats::get(&stats.server_errors).to_string()),
        ("batches rejected (4xx)", rejected.to_string()),
        ("answers accepting fewer records than sent", Stats::get(&stats.short_accepts).to_string()),
        ("records acknowledged (accepted)", acked_records.to_string()),
        ("events rows in the warehouse", stored_events.to_string()),
        ("contacts rows in the warehouse", stored_contacts.to_string()),
        ("installations with a mismatch", bad_installs.to_string()),
        ("installations whose client_events total ≠ events", rollup_mismatches.to_string()),
        (
            "lost = 0",
            format!("{} (batches {lost_batches}, records {lost_records})", yes_no(lost_batches + lost_records == 0)),
        ),
        (
            "duplicated = 0",
            format!(
                "{} (batches {dup_batches}, records {dup_records})",
                yes_no(dup_batches + dup_records + strangers == 0)
            ),
        ),
        ("warehouse outages (loading paused)", format!("{} × {} ms", outages.len(), args.outage_ms)),
    ];
    if cluster.is_some() {
        rows.push((
            "shard kills (SIGKILL, then the server too)",
            format!("{shard_kills} × {} ms down", args.shard_downtime_ms),
        ));
        rows.push(("  batches acknowledged while the shard was down", format!("{acked_while_shard_down:?}")));
    }
    if !outages.is_empty() {
        rows.extend([
            (
                "  batches acknowledged while paused",
                format!("{outage_acked} ({:?} per outage)", outages.iter().map(|o| o.acked).collect::<Vec<_>>()),
            ),
            ("  503 answers while paused (backlog bound)", outage_503.to_string()),
            ("  batches queued in clients at resume (max)", max_queued.to_string()),
            (
                "  resume → queues back to ≤ 1 per client (max)",
                max_catch_up.map_or("not within 120 s".into(), |d| format!("{} ms", d.as_millis())),
            ),
        ]);
    }
    rows.push(("chaos phase", format!("{:.1} s", chaos_elapsed.as_secs_f64())));
    rows.push(("total", format!("{:.1} s", started.elapsed().as_secs_f64())));
    let width = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    println!("\nchaos run summary");
    for (k, v) in &rows {
        println!("  {k:<width$}  {v}");
    }
    if let Some(file) = &args.json {
        let summary = json!({
            "scenario": "chaos",
            "installs": args.installs,
            "kills": kills,
            "warehouse": if cluster.is_some() { "clickhouse" } else { "duckdb" },
            "shardKills": shard_kills,
            "ackedWhileShardDown": acked_while_shard_down,
            "rollupMismatches": rollup_mismatches,
            "outages": outages.len(),
            "outageMs": args.outage_ms,
            "maxBacklogMb": args.max_backlog_mb,
            "batchesFormed": Stats::get(&stats.formed),
            "attempts": Stats::get(&stats.attempts),
            "batchesAcked": acked_batches,
            "recordsAcked": acked_records,
            "eventsStored": stored_events,
            "contactsStored": stored_contacts,
            "connectionErrors": Stats::get(&stats.conn_errors),
            "unavailable503": Stats::get(&stats.unavailable),
            "serverErrors": Stats::get(&stats.server_errors),
            "rejected": rejected,
            "replays": Stats::get(&stats.replays),
            "replaysNotDuplicate": replays_not_duplicate,
            "restartMs": {"mean": mean_restart.as_millis() as u64, "max": max_restart.as_millis() as u64},
            "outageDetail": outages.iter().map(|o| json!({"acked": o.acked, "unavailable503": o.unavailable,
                "queuedAtResume": o.queued_at_end, "catchUpMs": o.catch_up.map(|d| d.as_millis() as u64)})).collect::<Vec<_>>(),
            "lost": {"batches": lost_batches, "records": lost_records},
            "duplicated": {"batches": dup_batches, "records": dup_records, "strangers": strangers},
            "ok": ok,
            "chaosSeconds": chaos_elapsed.as_secs_f64(),
            "loadAverage": crate::bench_ingest::load_average(),
        });
        std::fs::write(file, serde_json::to_vec_pretty(&summary)?)
            .with_context(|| format!("writing {}", file.display()))?;
    }
    if !ok {
        bail!("the chaos run found lost, duplicated or rejected data, or an outage that stopped acknowledgements (data kept in {})", dir.display());
    }
    println!("\nOK: every acknowledged batch is in the warehouse exactly once.");
    if fresh && !args.keep {
        let _ = std::fs::remove_dir_all(&dir);
        if let Some(cluster) = &cluster {
            cluster.drop_database(&database).await;
        }
    } else {
        println!("data kept in {}", dir.display());
    }
    Ok(())
}

fn progress_message(s: &Stats) -> String {
    format!(
        "acked {} (dup {}) | queued {} | conn err {} | 5xx {} | 503 {}",
        Stats::get(&s.acked),
        Stats::get(&s.duplicates),
        Stats::get(&s.queued),
        Stats::get(&s.conn_errors),
        Stats::get(&s.server_errors),
        Stats::get(&s.unavailable),
    )
}

/// Per installation: (events rows, contacts rows, distinct batch ids in contacts, events
/// counted by the `client_events` rollup).
async fn count_rows(dir: &Path, product_id: &str) -> anyhow::Result<BTreeMap<i64, (u64, u64, u64, u64)>> {
    let path = usagi_server::DataDir(dir.to_path_buf()).warehouse();
    let wh = tokio::task::spawn_blocking(move || DuckWarehouse::open(&path, &DuckConfig::default()))
        .await?
        .context("opening the warehouse after the run")?;
    let mut out: BTreeMap<i64, (u64, u64, u64, u64)> = BTreeMap::new();
    let events = wh
        .query(
            format!(
                "SELECT CAST(client_id AS BIGINT), count(*) FROM events WHERE product_id = {product_id} GROUP BY 1"
            ),
            vec![],
        )
        .await?;
    for row in events.rows {
        let id = row[0].as_i64().unwrap_or(-1);
        out.entry(id).or_default().0 = row[1].as_u64().unwrap_or(0);
    }
    let contacts = wh
        .query(
            format!(
                "SELECT CAST(client_id AS BIGINT), count(*), count(DISTINCT batch_id) FROM contacts \
                 WHERE product_id = {product_id} GROUP BY 1"
            ),
            vec![],
        )
        .await?;
    for row in contacts.rows {
        let id = row[0].as_i64().unwrap_or(-1);
        let e = out.entry(id).or_default();
        e.1 = row[1].as_u64().unwrap_or(0);
        e.2 = row[2].as_u64().unwrap_or(0);
    }
    let rolled_up = wh
        .query(
            format!(
                "SELECT CAST(client_id AS BIGINT), sum(n) FROM client_events WHERE product_id = {product_id} GROUP BY 1"
            ),
            vec![],
        )
        .await?;
    for row in rolled_up.rows {
        let id = row[0].as_i64().unwrap_or(-1);
        out.entry(id).or_default().3 = row[1].as_u64().or_else(|| row[1].as_f64().map(|f| f as u64)).unwrap_or(0);
    }
    Ok(out)
}

/// One simulated installation.
struct ClientTask {
    client_id: String,
    addr: SocketAddr,
    path: Arc<String>,
    secret: ProductSecret,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    records: u32,
    interval: Duration,
    max_queue: usize,
    replay: f64,
}

impl ClientTask {
    async fn run(self) -> ClientResult {
        let mut rng = StdRng::from_entropy();
        let mut queue: VecDeque<Batch> = VecDeque::new();
        let mut result = ClientResult::default();
        let mut seq = 0u64;
        let mut conn: Option<BufReader<TcpStream>> = None;
        // Spread the first batches over one interval.
        let mut next_form = Instant::now() + self.interval.mul_f64(rng.gen_range(0.0..1.0));
        let mut failures = 0u32;
        loop {
            let stopping = self.stop.load(Ordering::Relaxed);
            let now = Instant::now();
            if !stopping && now >= next_form {
                if queue.len() < self.max_queue {
                    seq += 1;
                    queue.push_back(self.form(seq, &mut rng));
                    Stats::inc(&self.stats.formed);
                    Stats::inc(&self.stats.queued);
                }
                next_form = now + self.interval.mul_f64(rng.gen_range(0.5..1.5));
            }
            let Some(batch) = queue.front_mut() else {
                if stopping {
                    return result;
                }
                tokio::time::sleep(next_form.saturating_duration_since(Instant::now())).await;
                continue;
            };
            Stats::inc(&self.stats.attempts);
            let ts = Utc::now().timestamp().to_string();
            let signature = sign(&self.secret, &ts, &batch.body);
            let headers = [
                ("Content-Type", "application/json"),
                ("X-Timestamp", ts.as_str()),
                ("X-Signature", signature.as_str()),
            ];
            let attempt = http(&mut conn, self.addr, "POST", &self.path, &headers, &batch.body);
            let answer = match tokio::time::timeout(Duration::from_secs(15), attempt).await {
                Ok(Ok(answer)) => Some(answer),
                Ok(Err(_)) | Err(_) => {
                    conn = None;
                    None
                }
            };
            let mut keep = false;
            let retry = match answer {
                Some((200, body)) => {
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let duplicate = v["duplicate"] == true;
                    if batch.acked {
                        // The deliberate re-send of an acknowledged batch.
                        if !duplicate {
                            Stats::inc(&self.stats.replays_not_duplicate);
                        }
                    } else {
                        if duplicate {
                            Stats::inc(&self.stats.duplicates);
                        }
                        let accepted = v["accepted"].as_u64().unwrap_or(batch.records);
                        if accepted != batch.records {
                            Stats::inc(&self.stats.short_accepts);
                        }
                        result.acked_batches += 1;
                        result.acked_records += accepted;
                        Stats::inc(&self.stats.acked);
                        if rng.gen_bool(self.replay) {
                            batch.acked = true;
                            keep = true;
                            Stats::inc(&self.stats.replays);
                        }
                    }
                    false
                }
                Some((503, _)) => {
                    Stats::inc(&self.stats.unavailable);
                    true
                }
                Some((s, _)) if s >= 500 || s == 429 => {
                    Stats::inc(&self.stats.server_errors);
                    true
                }
                Some((s, body)) => {
                    // Refused for good: the SDK drops such a batch. The run then fails.
                    Stats::inc(&self.stats.rejected);
                    tracing::error!(status = s, answer = %String::from_utf8_lossy(&body), "batch rejected");
                    false
                }
                None => {
                    Stats::inc(&self.stats.conn_errors);
                    true
                }
            };
            if retry {
                // Same body, same batchId, after a short growing back-off with jitter.
                failures += 1;
                let cap = 50u64 << failures.min(4); // 100 ms … 800 ms
                tokio::time::sleep(Duration::from_millis(rng.gen_range(cap / 2..=cap))).await;
            } else if !keep {
                failures = 0;
                queue.pop_front();
                self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// A batch of event records, formed once; retries re-send these bytes.
    fn form(&self, seq: u64, rng: &mut StdRng) -> Batch {
        let t = Utc::now().timestamp_millis() - 1_000;
        let records: Vec<Value> = (0..self.records)
            .map(|k| json!({"kind": "event", "t": t + i64::from(k), "name": format!("Chaos {}", k % 5)}))
            .collect();
        let body = json!({
            "clientId": self.client_id, "machineId": null, "appName": "ChaosApp",
            "sdk": {"name": "usagi-chaos", "version": "1"},
            "batchId": uuid_v4(rng), "seq": seq, "records": records,
        });
        Batch { body: serde_json::to_vec(&body).unwrap_or_default(), records: u64::from(self.records), acked: false }
    }
}

/// A random (version 4) UUID in canonical form.
fn uuid_v4(rng: &mut StdRng) -> String {
    let mut b: [u8; 16] = rng.gen();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}
