//! `usagi bench ingest`: sustained call-home ingestion against a real server.
//!
//! A fresh data directory gets a product, an administrator and a bearer token (through the
//! catalog, like the admin commands); `usagi serve` runs as a child process on a free
//! loopback port. `--installs` simulated installations then upload back to back (closed
//! loop: the next batch leaves when the previous one is acknowledged) for `--warmup` plus
//! `--duration` seconds, each batch signed and gzip-compressed by the SDK's protocol core
//! (`usagi_sdk::transport`), exactly as the SDK and `usagi simulate` send them. Measured
//! over the `--duration` window: acknowledged records per second and the latency of each
//! acknowledged attempt; throughout: the server's resident memory and CPU time (from
//! `/proc`). A probe installation sends one event every `--probe-interval-ms` and polls its
//! `clientProfile` over the Reporting API until the event is counted: the delay from the
//! acknowledgement to the report is the visibility delay (during load, and once more after
//! the senders stopped). At the end the server is stopped gracefully and the warehouse is
//! checked to hold exactly the acknowledged records.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Url;
use serde_json::{json, Value};
use usagi_catalog::{NewUser, Role};
use usagi_protocol::signing::ProductSecret;
use usagi_sdk::clock::Clock;
use usagi_sdk::transport::{self, Call, Reaction};
use usagi_types::ProductId;
use usagi_warehouse::Warehouse;
use usagi_warehouse_duckdb::{DuckConfig, DuckWarehouse};

use crate::bench_server::{bench_toml, free_port, work_dir, ChildServer};
use crate::chaos_cluster::Cluster;

/// Options of `bench ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Concurrent senders: simulated installations uploading at the same time, each back to back.
    #[arg(long, default_value_t = 64)]
    installs: u32,
    /// Installations in the simulated fleet (default: `--installs`, one per sender). With a
    /// larger fleet the senders take its installations in turn, one batch each, so many
    /// installations sync with a short history each, as a real fleet does; with the default
    /// every installation's history grows by thousands of records per second (the worst case
    /// for the loader, which refreshes each touched installation's rollups).
    #[arg(long)]
    fleet: Option<u32>,
    /// Records per batch (one session: start, events, stop).
    #[arg(long, default_value_t = 100)]
    records: u32,
    /// Seconds measured.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Seconds of load before the measurement starts (not counted).
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// A probe batch of one event is sent this often and polled for in a report.
    #[arg(long, default_value_t = 1000)]
    probe_interval_ms: u64,
    /// Write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Directory for the run's data (must not exist or be empty); default: a fresh
    /// directory under the system temp dir, deleted after the run.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Keep the work directory after the run.
    #[arg(long)]
    keep: bool,
    /// Load into the ClickHouse cluster in this directory (started by
    /// `scripts/clickhouse-cluster.sh start DIR …`), in a fresh database, instead of DuckDB.
    #[arg(long)]
    clickhouse_dir: Option<PathBuf>,
    /// A `[warehouse]` setting for the server, as `key=value` (e.g. `memory_limit=768MB`);
    /// repeatable. The server's defaults otherwise.
    #[arg(long = "warehouse", value_name = "KEY=VALUE")]
    warehouse: Vec<String>,
}

/// Event names of the generated sessions (a third with a category, some with a value).
const EVENTS: [(Option<&str>, &str); 10] = [
    (None, "Open"),
    (None, "Save"),
    (None, "Export PDF"),
    (Some("Editing"), "Undo"),
    (Some("Editing"), "Paste"),
    (Some("Editing"), "Find"),
    (Some("View"), "Zoom"),
    (Some("View"), "Dark mode"),
    (Some("Help"), "Search"),
    (Some("Help"), "Tutorial"),
];

/// One acknowledged batch of a sender.
struct Ack {
    at: Instant,
    latency: Duration,
    records: u64,
}

/// What one sender did.
#[derive(Default)]
struct SenderResult {
    acks: Vec<Ack>,
    /// Attempts answered other than 200 (or not at all), all retried.
    retries: u64,
    /// Batches refused for good (the run then fails).
    rejected: u64,
    /// Records the server did not accept out of acknowledged batches.
    not_accepted: u64,
}

/// One probe: acknowledged at `acked`, counted by the report `visible_after` later.
struct Probe {
    during_load: bool,
    visible_after: Option<Duration>,
}

/// Shared state of the senders and the probe.
struct Shared {
    client: reqwest::Client,
    url: Url,
    secret: ProductSecret,
    clock: Clock,
    stop: AtomicBool,
    acked_records: AtomicU64,
}

impl Shared {
    /// Sends `body` gzip-compressed until it is acknowledged; the acknowledged attempt's latency.
    async fn deliver(&self, body: &[u8], result: &mut SenderResult) -> anyhow::Result<Option<(Duration, u64)>> {
        let wire = transport::gzip(body)?;
        let call = Call { url: &self.url, wire: &wire, gzip: true, sync: true, extra_headers: &[] };
        let mut failures = 0u32;
        loop {
            let t = Instant::now();
            let attempt = transport::send(&self.client, &self.secret, &self.clock, &call).await;
            match attempt.reaction {
                Reaction::Delivered(answer) => {
                    let accepted = u64::from(answer.accepted);
                    result.not_accepted += u64::from(answer.dropped + answer.ignored);
                    return Ok(Some((t.elapsed(), accepted)));
                }
                Reaction::Retry { reason, after, auth: false } => {
                    result.retries += 1;
                    tracing::debug!(%reason, "retrying a batch");
                    let bound = transport::backoff_bound(Duration::from_millis(50), Duration::from_secs(2), failures);
                    tokio::time::sleep(transport::full_jitter(bound, after.map(|a| a.min(Duration::from_secs(5)))))
                        .await;
                    failures += 1;
                }
                Reaction::ClockSkew { server_time_ms } if failures == 0 => {
                    self.clock.adopt(server_time_ms);
                    failures += 1;
                }
                other => {
                    result.rejected += 1;
                    tracing::error!(reaction = ?other, "batch refused");
                    return Ok(None);
                }
            }
        }
    }
}

/// A batch of `records` records: with 3 or more, one session (`sessionStart`, events,
/// `sessionStop`); with fewer, events only.
fn session_batch(client_id: &str, seq: u64, records: u32, rng: &mut StdRng) -> Vec<u8> {
    let now = Utc::now().timestamp_millis();
    let session = (records >= 3).then(|| format!("s-{client_id}-{seq}"));
    let events = events_in(records);
    let start = now - i64::try_from(events).unwrap_or(0) * 50 - 1_000;
    let mut out = Vec::with_capacity(records as usize);
    if let Some(id) = &session {
        out.push(json!({"kind": "sessionStart", "t": start, "sessionId": id}));
    }
    for k in 0..events {
        let (category, name) = EVENTS[rng.gen_range(0..EVENTS.len())];
        let t = start + 50 * i64::try_from(k + 1).unwrap_or(0);
        let mut e = json!({"kind": "event", "t": t, "name": name, "sessionId": session});
        if let Some(c) = category {
            e["category"] = json!(c);
        }
        if name == "Zoom" {
            e["value"] = json!(rng.gen_range(50..400));
        }
        out.push(e);
    }
    if let Some(id) = &session {
        out.push(json!({"kind": "sessionStop", "t": now - 500, "sessionId": id}));
    }
    let body = json!({
        "clientId": client_id, "machineId": format!("M-{client_id}"), "appName": "BenchApp",
        "sdk": {"name": "usagi-bench", "version": "1"},
        "batchId": uuid_v4(rng), "seq": seq, "records": out,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Event records in a batch of `records` (the rest are the session's start and stop).
fn events_in(records: u32) -> u64 {
    if records >= 3 {
        u64::from(records - 2)
    } else {
        u64::from(records)
    }
}

fn uuid_v4(rng: &mut StdRng) -> String {
    let mut b: [u8; 16] = rng.gen();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// Sender `index` of `senders` uploads for the fleet's installations `index`, `index +
/// senders`, … below `fleet` in turn, each with its own batch sequence.
async fn sender(
    shared: Arc<Shared>,
    index: u32,
    senders: u32,
    fleet: u32,
    records: u32,
) -> anyhow::Result<SenderResult> {
    let mut rng = StdRng::from_entropy();
    let mine: Vec<String> = (index..fleet.max(index + 1))
        .step_by(senders.max(1) as usize)
        .map(|i| format!("{:016X}", 0x1000_0000_0000_0000u64 + u64::from(i)))
        .collect();
    let mut seqs = vec![0u64; mine.len()];
    let mut result = SenderResult::default();
    let mut turn = 0usize;
    while !shared.stop.load(Ordering::Relaxed) {
        let k = turn % mine.len();
        turn += 1;
        seqs[k] += 1;
        let body = session_batch(&mine[k], seqs[k], records, &mut rng);
        if let Some((latency, accepted)) = shared.deliver(&body, &mut result).await? {
            shared.acked_records.fetch_add(accepted, Ordering::Relaxed);
            result.acks.push(Ack { at: Instant::now(), latency, records: accepted });
        }
    }
    Ok(result)
}

/// Sends one event from a fresh probe installation and polls its `clientProfile` until the
/// event is counted; the delay after the acknowledgement (`None`: not within 60 s).
async fn probe_once(shared: &Shared, n: u64, report: &Url, token: &str) -> anyhow::Result<Option<Duration>> {
    let mut rng = StdRng::from_entropy();
    let client_id = format!("{:016X}", 0xF000_0000_0000_0000u64 + n);
    let body = session_batch(&client_id, 1, 1, &mut rng);
    let mut ignored = SenderResult::default();
    if shared.deliver(&body, &mut ignored).await?.is_none() {
        bail!("the probe batch was refused");
    }
    let acked = Instant::now();
    let mut url = report.clone();
    url.query_pairs_mut().append_pair("clientId", &client_id);
    while acked.elapsed() < Duration::from_secs(60) {
        let answer = shared.client.get(url.clone()).bearer_auth(token).send().await;
        if let Ok(answer) = answer {
            if answer.status().is_success() {
                let v: Value = answer.json().await.unwrap_or(Value::Null);
                if v["result"]["lifetime"]["eventCount"].as_u64().unwrap_or(0) >= events_in(1) {
                    return Ok(Some(acked.elapsed()));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(None)
}

/// Percentile `p` (0–100) of sorted values.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

fn mib(bytes: u64) -> f64 {
    (bytes as f64 / 1048576.0 * 10.0).round() / 10.0
}

/// User + system CPU time of a process, from `/proc/<pid>/stat` (clock ticks of 1/100 s, the
/// Linux default).
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// `/proc/loadavg`'s three load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Runs `usagi bench ingest`.
pub async fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    if args.installs == 0 || args.records == 0 || args.duration == 0 {
        bail!("--installs, --records and --duration must be at least 1");
    }
    let started = Instant::now();
    let load_before = load_average();
    let (dir, fresh) = work_dir(args.work_dir.as_deref(), "bench-ingest")?;
    eprintln!("ingest benchmark in {}", dir.display());

    // Product, administrator and bearer token, through the catalog like the admin commands.
    let catalog = usagi_server::open_catalog(&dir).await?;
    let now = Utc::now();
    let (product, secret_hex) = catalog.create_product("Ingest Bench", None, now).await?;
    let user = catalog
        .create_user(
            NewUser {
                email: "bench@usagi.local".into(),
                name: "Bench".into(),
                surname: "Runner".into(),
                admin: true,
                password: format!("bench-{}", uuid_v4(&mut StdRng::from_entropy())),
            },
            now,
        )
        .await?;
    catalog.grant(user.id, product.id, Role::Editor, true).await?;
    let (_, token) = catalog.create_token(user.id, vec![product.id], true, None, now).await?;
    drop(catalog);
    let secret = ProductSecret::parse_hex(&secret_hex).map_err(|_| anyhow::anyhow!("catalog returned a bad secret"))?;

    // The probe polls a report several times a second: lift the per-principal rate limit.
    let config = dir.join("bench.toml");
    let cluster = args.clickhouse_dir.as_deref().map(Cluster::read).transpose()?;
    let database = format!("bench_{:016x}", rand::random::<u64>());
    if let Some(cluster) = &cluster {
        eprintln!("warehouse: ClickHouse database {database} on {} shard(s)", cluster.len());
    }
    let toml = bench_toml(&args.warehouse, cluster.as_ref().map(|c| c.config_toml(&database)))?;
    std::fs::write(&config, toml)?;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let mut server = ChildServer::new(&dir, addr, Some(config));
    let t = Instant::now();
    server.start().await?;
    let start_time = t.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = server.rss().map(|r| r.0);
    let pid = server.pid().context("the server is not running")?;
    let cpu_start = cpu_time(pid);

    let base = format!("http://{addr}");
    let product_id = ProductId::parse(product.id.as_str()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let shared = Arc::new(Shared {
        client: reqwest::Client::builder()
            .user_agent(transport::user_agent())
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(args.installs as usize + 4)
            .build()?,
        url: transport::endpoint(&base, &product_id, "sync").map_err(|e| anyhow::anyhow!(e))?,
        secret,
        clock: Clock::default(),
        stop: AtomicBool::new(false),
        acked_records: AtomicU64::new(0),
    });
    let report = Url::parse(&format!("{base}/v3/reporting/clientProfile/{}", product.id))?;

    let fleet = args.fleet.unwrap_or(args.installs).max(args.installs);
    let senders: Vec<_> = (0..args.installs)
        .map(|i| tokio::spawn(sender(shared.clone(), i, args.installs, fleet, args.records.max(1))))
        .collect();

    // Memory sampler.
    let rss_max = Arc::new(AtomicU64::new(0));
    let sampler_stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (rss_max, stop) = (rss_max.clone(), sampler_stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                if let Some(kb) = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                {
                    rss_max.fetch_max(kb * 1024, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };

    // The probe, during load.
    let total = Duration::from_secs(args.warmup + args.duration);
    let bar = ProgressBar::new(total.as_secs());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} s {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let load_started = Instant::now();
    let mut probes = Vec::new();
    let mut probe_n = 0u64;
    while load_started.elapsed() < total {
        let next = Instant::now() + Duration::from_millis(args.probe_interval_ms.max(1));
        probe_n += 1;
        let visible = probe_once(&shared, probe_n, &report, &token).await?;
        probes.push(Probe { during_load: true, visible_after: visible });
        let secs = load_started.elapsed().as_secs_f64().max(0.001);
        bar.set_position(load_started.elapsed().as_secs().min(total.as_secs()));
        bar.set_message(format!(
            "{:.0} records/s acknowledged",
            shared.acked_records.load(Ordering::Relaxed) as f64 / secs
        ));
        let deadline = next.min(load_started + total);
        tokio::time::sleep(deadline.saturating_duration_since(Instant::now())).await;
    }
    shared.stop.store(true, Ordering::Relaxed);
    let mut results = Vec::new();
    for s in senders {
        results.push(s.await.context("a sender panicked")??);
    }
    let load_elapsed = load_started.elapsed();
    bar.finish_and_clear();
    // Once more with the senders stopped: the backlog drains first.
    probe_n += 1;
    let after = probe_once(&shared, probe_n, &report, &token).await?;
    probes.push(Probe { during_load: false, visible_after: after });
    let cpu_end = cpu_time(pid);
    sampler_stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let hwm = server.rss().map(|r| r.1);
    let end_rss = server.rss().map(|r| r.0);

    let clean = server.terminate().await?;
    if !clean {
        bail!("`usagi serve` did not exit cleanly on SIGTERM (log: {})", dir.join("server.log").display());
    }

    // Measurement window: acknowledgements after the warm-up.
    let window_start = load_started + Duration::from_secs(args.warmup);
    let window_end = window_start + Duration::from_secs(args.duration);
    let mut latencies = Vec::new();
    let (mut window_records, mut window_batches) = (0u64, 0u64);
    let (mut all_records, mut all_batches, mut retries, mut rejected, mut not_accepted) = (0u64, 0u64, 0, 0, 0);
    for r in &results {
        retries += r.retries;
        rejected += r.rejected;
        not_accepted += r.not_accepted;
        for a in &r.acks {
            all_records += a.records;
            all_batches += 1;
            if a.at >= window_start && a.at <= window_end {
                window_records += a.records;
                window_batches += 1;
                latencies.push(a.latency);
            }
        }
    }
    latencies.sort();
    let window = window_end.min(load_started + load_elapsed).saturating_duration_since(window_start);
    let records_per_s = window_records as f64 / window.as_secs_f64().max(0.001);
    let during: Vec<Duration> =
        probes.iter().filter(|p| p.during_load).filter_map(|p| p.visible_after).collect::<Vec<_>>();
    let mut during_sorted = during.clone();
    during_sorted.sort();
    let unseen = probes.iter().filter(|p| p.visible_after.is_none()).count();
    let probe_events = probes.len() as u64 * events_in(1);

    // The warehouse must hold exactly what was acknowledged.
    let wh: Box<dyn Warehouse> = match &cluster {
        Some(cluster) => Box::new(cluster.open(&database).await?),
        None => {
            let path = usagi_server::DataDir(dir.clone()).warehouse();
            Box::new(tokio::task::spawn_blocking(move || DuckWarehouse::open(&path, &DuckConfig::default())).await??)
        }
    };
    let stored = wh
        .query(format!("SELECT count(*) FROM events WHERE product_id = {}", product.id), vec![])
        .await?
        .rows
        .first()
        .and_then(|r| r[0].as_u64())
        .unwrap_or(0);
    // The fleet's installations that synced (probe installations have ids from 0xF000…).
    let installations = wh
        .query(
            format!(
                "SELECT count(DISTINCT client_id) FROM contacts WHERE product_id = {} AND client_id < {}",
                product.id, 0xF000_0000_0000_0000u64
            ),
            vec![],
        )
        .await?
        .rows
        .first()
        .and_then(|r| r[0].as_u64())
        .unwrap_or(0);
    drop(wh);
    // Every batch was accepted whole (checked by `recordsNotAccepted`).
    let expected_events = all_batches * events_in(args.records) + probe_events;
    let data_bytes = dir_size(&dir);
    let cluster_bytes = match &cluster {
        Some(cluster) => Some(cluster.bytes_on_disk(&database).await?),
        None => None,
    };

    let profile = if cfg!(debug_assertions) { "dev (dependencies at opt-level 2)" } else { "release" };
    let result = json!({
        "scenario": "ingest",
        "date": Utc::now().to_rfc3339(),
        "profile": profile,
        "loadAverage": {"before": load_before, "after": load_average()},
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "installs": args.installs,
        "fleet": fleet,
        "recordsPerBatch": args.records,
        "warmupSeconds": args.warmup,
        "durationSeconds": window.as_secs_f64(),
        "batchesAcked": all_batches,
        "recordsAcked": all_records,
        "window": {"batches": window_batches, "records": window_records, "recordsPerSecond": records_per_s.round()},
        "ackMs": {"p50": ms(percentile(&latencies, 50.0)), "p95": ms(percentile(&latencies, 95.0)),
                  "p99": ms(percentile(&latencies, 99.0)), "max": ms(latencies.last().copied().unwrap_or_default())},
        "retries": retries,
        "rejectedBatches": rejected,
        "recordsNotAccepted": not_accepted,
        "allAcked": rejected == 0,
        "serverStartMs": ms(start_time),
        "rssMiB": {"idle": idle_rss.map(mib), "maxSampled": mib(rss_max.load(Ordering::Relaxed)),
                   "peak": hwm.map(mib), "end": end_rss.map(mib)},
        "serverCpuSeconds": match (cpu_start, cpu_end) { (Some(a), Some(b)) => json!((b - a).as_secs_f64()), _ => Value::Null },
        "visibilityMs": {
            "probes": probes.len(),
            "notVisibleWithin60s": unseen,
            "duringLoadP50": ms(percentile(&during_sorted, 50.0)),
            "duringLoadMax": ms(during_sorted.last().copied().unwrap_or_default()),
            "afterLoad": after.map(ms),
        },
        "warehouse": {"eventsStored": stored, "eventsExpected": expected_events, "exact": stored == expected_events,
                      "installationsSynced": installations},
        "dataDirBytes": data_bytes,
        "clickhouseBytes": cluster_bytes,
        "totalSeconds": started.elapsed().as_secs_f64(),
    });

    let cpu = result["serverCpuSeconds"].as_f64();
    let rows: Vec<(&str, String, &str)> = vec![
        ("senders × records per batch", format!("{} × {}", args.installs, args.records), ""),
        ("installations in the fleet", fleet.to_string(), ""),
        ("measured window", format!("{:.1} s after {} s warm-up", window.as_secs_f64(), args.warmup), ""),
        ("records acknowledged (window / all)", format!("{window_records} / {all_records}"), ""),
        ("throughput", format!("{records_per_s:.0} records/s ({window_batches} batches)"), "≥ 100,000 records/s"),
        ("ack latency p50", format!("{} ms", ms(percentile(&latencies, 50.0))), ""),
        ("ack latency p95", format!("{} ms", ms(percentile(&latencies, 95.0))), ""),
        ("ack latency p99", format!("{} ms", ms(percentile(&latencies, 99.0))), "≤ 250 ms"),
        ("retried attempts / refused batches", format!("{retries} / {rejected}"), "0 refused"),
        ("server start (empty data dir)", format!("{} ms", ms(start_time)), ""),
        ("server RSS idle", idle_rss.map_or("n/a".into(), |b| format!("{} MiB", mib(b))), "≤ 300 MiB"),
        ("server RSS max under load", format!("{} MiB", mib(rss_max.load(Ordering::Relaxed))), "≤ 1 GiB"),
        ("server RSS peak (VmHWM)", hwm.map_or("n/a".into(), |b| format!("{} MiB", mib(b))), ""),
        (
            "server CPU time",
            cpu.map_or("n/a".into(), |c| {
                format!("{c:.1} s ({:.0} records per CPU-second)", all_records as f64 / c.max(0.001))
            }),
            "",
        ),
        (
            "visible in a report, during load",
            format!(
                "p50 {} ms, max {} ms ({} probes)",
                ms(percentile(&during_sorted, 50.0)),
                ms(during_sorted.last().copied().unwrap_or_default()),
                during.len()
            ),
            "≤ 2 s",
        ),
        (
            "visible in a report, after load",
            after.map_or("not within 60 s".into(), |d| format!("{} ms", ms(d))),
            "≤ 2 s",
        ),
        ("events stored = acknowledged", format!("{stored} = {expected_events}"), ""),
        (
            "warehouse",
            match (&cluster, cluster_bytes) {
                (Some(c), Some(b)) => format!("ClickHouse, {} shards, {:.1} MiB on disk", c.len(), mib(b)),
                _ => "DuckDB (embedded)".into(),
            },
            "",
        ),
        ("load average before / after", format!("{load_before} / {}", load_average()), ""),
        ("profile", profile.to_string(), ""),
    ];
    let width = rows.iter().map(|(k, _, _)| k.chars().count()).max().unwrap_or(0);
    let vwidth = rows.iter().map(|(_, v, _)| v.chars().count()).max().unwrap_or(0);
    println!("\ningest benchmark");
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
        println!("data kept in {}", dir.display());
    }
    if rejected > 0 || not_accepted > 0 || stored != expected_events || unseen > 0 {
        bail!("the ingest run lost, refused or never showed data (see above)");
    }
    Ok(())
}

/// Total size of the files under `dir`.
pub fn dir_size(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
