//! `usagi bench reports`: report latency on a large generated fleet, for BENCHMARKS.md.
//!
//! The fleet is written straight into the warehouse rollups with bulk SQL (ingesting
//! millions of installation-days through the call-home path would take longer than the
//! measurement); the reports then run through the same code the server uses
//! (request parsing, filters, segmentation, SQL, result shaping), warm, several times.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use usagi_reporting::event_tracking::{EventFlags, KnownEvent};
use usagi_reporting::generic::{self, GenericKind, GenericSpec};
use usagi_reporting::ReportContext;
use usagi_reporting::{client_list, client_profile, engagement, event_advanced, event_reports};
use usagi_types::{JsonObject, ProductId};
use usagi_warehouse::columns::standard_columns;
use usagi_warehouse::Warehouse;
use usagi_warehouse_duckdb::{DuckConfig, DuckWarehouse};

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Generic report latency on a generated fleet.
    Reports(ReportsArgs),
    /// Kill the server with SIGKILL while installations upload; check nothing is lost or doubled.
    Chaos(crate::chaos::ChaosArgs),
    /// Build one day's export files from a generated day of facts: time and peak RSS.
    Export(crate::bench_export::ExportArgs),
    /// Sustained call-home ingestion against a real server: records/s, ack latency, RSS,
    /// delay until visible in a report.
    Ingest(crate::bench_ingest::IngestArgs),
    /// Build a reference fleet through the call-home ingest path: build time, bytes per event,
    /// server start and idle memory on the result.
    Dataset(crate::bench_dataset::DatasetArgs),
}

/// Options of `bench reports`.
#[derive(Debug, Args)]
pub struct ReportsArgs {
    /// Installations in the fleet.
    #[arg(long, default_value_t = 100_000)]
    installs: u64,
    /// Days of history, ending today.
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// Event kinds used by the fleet (0: no events); ~3 occurrences per kind per active day
    /// for two thirds of the installations.
    #[arg(long, default_value_t = 10)]
    event_kinds: u32,
    /// Timed runs per report (after one warm-up run).
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Warehouse file to create (a fresh temporary one by default).
    #[arg(long)]
    warehouse: Option<PathBuf>,
    /// Instead of generating a fleet, time each `;`-separated query of this file against
    /// an existing `--warehouse` (for tuning report SQL).
    #[arg(long, requires = "warehouse")]
    sql: Option<PathBuf>,
    /// Also time every case through the HTTP API of a `usagi serve` child on the generated
    /// data: cold (the first request after a server start, one start per case) and warm.
    #[arg(long)]
    http: bool,
    /// Also time hand-written SQL on the rollup tables for three reports (the raw baseline).
    #[arg(long)]
    raw: bool,
    /// Write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The product id of the generated fleet.
pub const PRODUCT: u64 = 2_376_158_762;

/// Runs a benchmark.
pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Reports(args) => reports(args).await,
        BenchCommand::Chaos(args) => crate::chaos::chaos(args).await,
        BenchCommand::Export(args) => crate::bench_export::export(args).await,
        BenchCommand::Ingest(args) => crate::bench_ingest::ingest(args).await,
        BenchCommand::Dataset(args) => crate::bench_dataset::dataset(args).await,
    }
}

/// Active-day draws per installation within its 120-day life: ~50 distinct days each.
const DRAWS: u32 = 70;

fn fleet_sql(installs: u64, first_day: NaiveDate, days: u32) -> String {
    let first = first_day.format("%Y-%m-%d");
    let last = days - 1;
    let std_cols: String = standard_columns().map(|c| format!(", cd.{}", c.column)).collect();
    format!(
        r#"
CREATE TEMP TABLE gen AS
SELECT c AS client_id, CAST(hash(c) % {days} AS INTEGER) AS i0 FROM range({installs}) t(c);
INSERT INTO client_days BY NAME
SELECT {PRODUCT} AS product_id, CAST(client_id AS UBIGINT) AS client_id, CAST(DATE '{first}' + d AS DATE) AS day,
       600000 AS runtime_ms, 1 AS sessions, d = min(d) OVER (PARTITION BY client_id) AS first_day,
       d = max(d) OVER (PARTITION BY client_id, date_trunc('week', DATE '{first}' + d)) AS week_last,
       d = max(d) OVER (PARTITION BY client_id, date_trunc('month', DATE '{first}' + d)) AS month_last,
       -- versions roll forward over time, at a per-installation pace
       '1.' || CAST((d + client_id % 60) // 90 AS VARCHAR) AS prod_version,
       CASE client_id % 3 WHEN 0 THEN 'Pro' WHEN 1 THEN 'Home' ELSE NULL END AS prod_edition,
       CAST(1000 + (d + client_id % 60) // 90 AS VARCHAR) AS prod_build,
       CASE client_id % 4 WHEN 0 THEN 'de' ELSE 'en' END AS prod_language,
       CASE WHEN d - i0 < 30 AND client_id % 2 = 0 THEN 'evaluation' WHEN client_id % 5 = 0 THEN 'freeware' ELSE 'purchased' END AS license_type,
       client_id % 7 <> 0 AS ls_activated, false AS ls_expired, client_id % 97 = 0 AS ls_blocked, true AS ls_allowed,
       'channel-' || CAST(client_id % 12 AS VARCHAR) AS c01,
       CASE WHEN client_id % 10 < 7 THEN 'Microsoft Windows' WHEN client_id % 10 < 9 THEN 'macOS' ELSE 'Linux' END AS os_platform,
       CASE WHEN client_id % 10 < 7 THEN 'Microsoft Windows 1' || CAST(client_id % 2 AS VARCHAR) WHEN client_id % 10 < 9 THEN 'macOS 14' ELSE 'Ubuntu 22.04' END AS os_version,
       NULL AS os_edition, 'en-US' AS os_language, 'EU' AS geo_continent,
       CASE client_id % 4 WHEN 0 THEN 'DE' WHEN 1 THEN 'FR' WHEN 2 THEN 'US' ELSE 'JP' END AS geo_country
FROM (SELECT DISTINCT client_id, i0, least(i0 + CAST(hash(client_id * 1000 + j) % 120 AS INTEGER), {last}) AS d
      FROM gen, range({DRAWS}) s(j));
INSERT INTO clients BY NAME
SELECT cd.product_id, cd.client_id{std_cols}, span.date_installed, span.date_last_seen, 10 AS lifetime_sessions, 6000000 AS lifetime_runtime_ms,
       false AS opt_out_historical, false AS opt_out_current, span.active_days, NULL AS last_sync_at,
       CAST(pow(2, cd.client_id % 4) AS BIGINT) AS cpu_cores, 4096 * (1 + cd.client_id % 8) AS ram,
       printf('%016X', cd.client_id % 50000) AS machine_id
FROM (SELECT client_id, min(day) AS date_installed, max(day) AS date_last_seen, count(*) AS active_days
      FROM client_days GROUP BY 1) span
JOIN client_days cd ON cd.client_id = span.client_id AND cd.day = span.date_last_seen;
DROP TABLE gen;
CHECKPOINT;
"#
    )
}

/// Which report a case runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `generic/dateRange`.
    Generic,
    /// `eventTracking/basic/timeline`.
    Timeline,
    /// `eventTracking/advanced/fullReport`.
    FullReport,
    /// `engagement/usageDistribution`.
    UsageDistribution,
    /// `clientPropertyList`.
    ClientList,
    /// `clientProfile`.
    ClientProfile,
}

pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) report: Kind,
    pub(crate) body: Value,
}

fn events_sql(kinds: u32) -> String {
    format!(
        r#"
INSERT INTO event_days
SELECT product_id, client_id, day, CASE WHEN e < 3 THEN NULL ELSE 'Category ' || CAST(e % 3 AS VARCHAR) END,
       'Event ' || CAST(e AS VARCHAR), 1 + CAST(hash(client_id * 7919 + e * 131 + epoch(day)) % 5 AS BIGINT),
       CASE WHEN e = 0 THEN 1.5 ELSE 0 END
FROM client_days, range({kinds}) t(e) WHERE hash(client_id * 31 + e) % 3 <> 0;
INSERT INTO client_events SELECT product_id, client_id, category, name, sum(n), min(day), max(day) FROM event_days GROUP BY ALL;
INSERT INTO event_totals SELECT product_id, day, category, name, sum(n), sum(value_sum) FROM event_days GROUP BY ALL;
CHECKPOINT;
"#
    )
}

fn event_cases(kinds: u32) -> Vec<Case> {
    if kinds == 0 {
        return Vec::new();
    }
    let events: Vec<Value> = (0..kinds.min(10))
        .map(|e| {
            let category = if e < 3 { Value::Null } else { json!(format!("Category {}", e % 3)) };
            json!({"category": category, "name": format!("Event {e}")})
        })
        .collect();
    vec![
        Case {
            name: "basic timeline, 10 events, 365 days by day",
            report: Kind::Timeline,
            body: json!({"startDate": "NOW-364", "stopDate": "NOW", "dateSplit": "day", "events": events}),
        },
        Case {
            name: "advanced fullReport over 90 days (every event)",
            report: Kind::FullReport,
            body: json!({"startDate": "NOW-89", "stopDate": "NOW"}),
        },
    ]
}

pub(crate) fn cases(days: u32) -> Vec<Case> {
    let start = format!("NOW-{}", days - 1);
    let base = json!({"startDate": start, "stopDate": "NOW", "clientStatus": ["new", "active", "lost"]});
    let with = |extra: Value| {
        let mut b = base.clone();
        if let (Some(b), Some(e)) = (b.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        b
    };
    let level = |p: &str| json!({"property": p, "segments": [{"type": "regex", "value": ".*", "split": true}]});
    vec![
        Case { name: "daily split, new+active+lost", report: Kind::Generic, body: with(json!({"dateSplit": "day"})) },
        Case {
            name: "daily split, two filters (standard + current)",
            report: Kind::Generic,
            body: with(json!({"dateSplit": "day", "globalFilters": {
                "prodEdition": {"type": "string", "value": "Pro"},
                "cpuCores": {"type": "numberRange", "min": 2, "max": 8}}})),
        },
        Case {
            name: "daily split, two standard filters",
            report: Kind::Generic,
            body: with(json!({"dateSplit": "day", "globalFilters": {
                "prodEdition": {"type": "string", "value": "Pro"},
                "licenseType": {"type": "stringArray", "value": ["purchased", "freeware"]}}})),
        },
        Case {
            name: "no split, 3 levels (version x edition x license type)",
            report: Kind::Generic,
            body: with(json!({"levels": {"level1": level("prodVersion"), "level2": level("prodEdition"),
                "level3": level("licenseType")}})),
        },
        Case {
            name: "no split, 3 levels, range ending 30 days ago",
            report: Kind::Generic,
            body: json!({"startDate": format!("NOW-{}", days - 1), "stopDate": "NOW-30",
                "clientStatus": ["new", "active", "lost"],
                "levels": {"level1": level("prodVersion"), "level2": level("prodEdition"), "level3": level("licenseType")}}),
        },
        Case {
            name: "clientPropertyList, page of 200, 8 properties, daily data over 30 days",
            report: Kind::ClientList,
            body: json!({"startAtClientId": "0000000000001000", "pageSize": 200,
                "properties": ["prodVersion", "prodEdition", "licenseType", "os", "cpuCores", "dateInstalled"],
                "retDailyData": {"startDate": "NOW-29", "stopDate": "NOW", "properties": ["prodVersion", "licenseType"]}}),
        },
        Case { name: "clientProfile of one installation", report: Kind::ClientProfile, body: json!({}) },
        Case {
            name: "usageDistribution over 90 days",
            report: Kind::UsageDistribution,
            body: json!({"startDate": "NOW-89", "stopDate": "NOW"}),
        },
        Case { name: "weekly split, new+active+lost", report: Kind::Generic, body: with(json!({"dateSplit": "week"})) },
        Case {
            name: "monthly split, 1 level (os.version), regex filter",
            report: Kind::Generic,
            body: with(json!({"dateSplit": "month", "levels": {"level1": level("os.version")},
                "globalFilters": {"C01": {"type": "regex", "value": "-(1|2)$"}}})),
        },
    ]
}

async fn reports(args: ReportsArgs) -> anyhow::Result<()> {
    let tmp;
    let path = match &args.warehouse {
        Some(p) => p.clone(),
        None => {
            tmp = std::env::temp_dir().join(format!("usagi-bench-{}", std::process::id()));
            std::fs::create_dir_all(&tmp)?;
            tmp.join("warehouse.duckdb")
        }
    };
    if let Some(file) = &args.sql {
        let wh = DuckWarehouse::open(&path, &DuckConfig::default()).context("opening the warehouse")?;
        for sql in std::fs::read_to_string(file)?.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let mut best = Duration::MAX;
            let mut n = 0;
            for _ in 0..args.runs.max(1) {
                let t = Instant::now();
                n = wh.query(sql.to_string(), vec![]).await?.rows.len();
                best = best.min(t.elapsed());
            }
            println!("{:>8.1} ms {n:>6} rows  {}", best.as_secs_f64() * 1e3, sql.chars().take(110).collect::<String>());
        }
        return Ok(());
    }
    anyhow::ensure!(!path.exists(), "{} already exists; give a new path", path.display());
    let today = chrono::Utc::now().date_naive();
    let first = today - chrono::Duration::days(i64::from(args.days) - 1);
    let wh = DuckWarehouse::open(&path, &DuckConfig::default()).context("opening the warehouse")?;
    let spinner = ProgressBar::new_spinner().with_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}")?);
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner.set_message(format!("generating {} installations over {} days", args.installs, args.days));
    let t = Instant::now();
    wh.execute_batch(fleet_sql(args.installs, first, args.days)).await?;
    if args.event_kinds > 0 {
        spinner.set_message(format!("generating events of {} kinds", args.event_kinds));
        wh.execute_batch(events_sql(args.event_kinds)).await?;
    }
    let count = |sql: &str| {
        let sql = sql.to_string();
        let wh = &wh;
        async move { wh.query(sql, vec![]).await.map(|r| r.rows.first().and_then(|r| r[0].as_i64()).unwrap_or(0)) }
    };
    let installation_days = count("SELECT count(*) FROM client_days").await?;
    let occurrences = count("SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM event_days").await?;
    spinner.finish_with_message(format!(
        "generated {installation_days} installation-days and {occurrences} events in {:.1} s",
        t.elapsed().as_secs_f64()
    ));
    let known: Vec<KnownEvent> = wh
        .query("SELECT DISTINCT category, name FROM client_events".into(), vec![])
        .await?
        .rows
        .into_iter()
        .filter_map(|r| {
            let flags = EventFlags {
                category: r[0].as_str().map(str::to_string),
                name: r[1].as_str()?.to_string(),
                basic: true,
                advanced: true,
            };
            Some(KnownEvent { flags, first_seen: None, last_seen: None })
        })
        .collect();
    let ctx = ReportContext {
        product: ProductId::parse(&PRODUCT.to_string()).context("product id")?,
        today,
        days_until_declared_lost: 40,
        retention_days: 3650,
        license_keys: true,
        now: chrono::Utc::now(),
        back_off: Default::default(),
        limits: Default::default(),
    };
    let all_cases: Vec<Case> = cases(args.days).into_iter().chain(event_cases(args.event_kinds)).collect();
    let bar = ProgressBar::new((all_cases.len() * (args.runs + 1)) as u64);
    let mut results = Vec::new();
    let api = |e: usagi_types::ApiError| anyhow::anyhow!(e.reason);
    for case in all_cases {
        let body = JsonObject::parse_body(case.body.to_string().as_bytes()).map_err(api)?;
        let mut times = Vec::new();
        let mut answer = None;
        for i in 0..=args.runs {
            let t = Instant::now();
            match case.report {
                Kind::Generic => {
                    let spec = GenericSpec::parse(&body, GenericKind::DateRange, &ctx).map_err(api)?;
                    answer = Some(generic::run(&wh, &ctx, &spec).await.map_err(api)?);
                }
                Kind::Timeline => {
                    let spec = event_reports::TimelineSpec::parse(&body, &ctx).map_err(api)?;
                    event_reports::timeline(&wh, &ctx, &spec, &known).await.map_err(api)?;
                }
                Kind::UsageDistribution => {
                    let spec = engagement::UsageDistributionSpec::parse(&body, &ctx).map_err(api)?;
                    engagement::usage_distribution(&wh, &ctx, &spec).await.map_err(api)?;
                }
                Kind::ClientList => {
                    let spec = client_list::ClientListSpec::parse(&body, &ctx).map_err(api)?;
                    client_list::run(&wh, &ctx, &spec).await.map_err(api)?;
                }
                Kind::ClientProfile => {
                    // A different installation each run, so no answer is served twice.
                    let id = usagi_types::ClientId::from_u64(1 + (i as u64) * 7919 % args.installs.max(1));
                    client_profile::run(&wh, &ctx, id, &Default::default()).await.map_err(api)?;
                }
                Kind::FullReport => {
                    let spec = event_advanced::FullReportSpec::parse(&body, &ctx).map_err(api)?;
                    event_advanced::full_report(&wh, &ctx, &spec, &known).await.map_err(api)?;
                }
            }
            if i > 0 {
                times.push(t.elapsed());
            }
            bar.inc(1);
        }
        times.sort();
        results.push(CaseResult {
            name: case.name,
            report: case.report,
            body: case.body.clone(),
            p50: times[times.len() / 2],
            p90: times[(times.len() * 9 / 10).min(times.len() - 1)],
            http: None,
            answer,
        });
    }
    bar.finish_and_clear();
    let raw = if args.raw {
        crate::bench_http::raw_baseline(&wh, &results, today, args.days, args.runs).await?
    } else {
        Vec::new()
    };
    drop(wh);
    let mut starts = Vec::new();
    if args.http {
        starts = crate::bench_http::http_cases(&path, &mut results, args.runs, args.installs).await?;
    }
    println!(
        "| report ({} installations, {installation_days} installation-days, {occurrences} events, {} days) | p50 | p90 |{}",
        args.installs,
        args.days,
        if args.http { " HTTP cold | HTTP warm p50 | HTTP warm p90 |" } else { "" }
    );
    println!("|---|---|---|{}", if args.http { "---|---|---|" } else { "" });
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1e3);
    for r in &results {
        let http =
            r.http.as_ref().map_or(String::new(), |h| format!(" {} | {} | {} |", ms(h.cold), ms(h.p50), ms(h.p90)));
        println!("| {} | {} | {} |{http}", r.name, ms(r.p50), ms(r.p90));
    }
    if !raw.is_empty() {
        println!("\n| report | raw SQL p50 | in-process p50 | HTTP warm p50 | API / raw |");
        println!("|---|---|---|---|---|");
        for b in &raw {
            let case = results.iter().find(|r| r.name == b.case);
            let api = case.map(|c| c.http.as_ref().map_or(c.p50, |h| h.p50));
            println!(
                "| {} | {} | {} | {} | {} |",
                b.case,
                ms(b.p50),
                case.map_or("-".into(), |c| ms(c.p50)),
                case.and_then(|c| c.http.as_ref()).map_or("-".into(), |h| ms(h.p50)),
                api.map_or("-".into(), |a| format!("{:.2}", a.as_secs_f64() / b.p50.as_secs_f64().max(1e-6))),
            );
        }
    }
    if !starts.is_empty() {
        let max = starts.iter().max().copied().unwrap_or_default();
        let mean = starts.iter().sum::<Duration>() / starts.len() as u32;
        println!(
            "\nserver start on this warehouse → answering: mean {}, max {} ({} starts; budget ≤ 3 s)",
            ms(mean),
            ms(max),
            starts.len()
        );
    }
    if let Some(file) = &args.json {
        let f = |d: Duration| (d.as_secs_f64() * 1e4).round() / 10.0;
        let out = json!({
            "scenario": "reports",
            "date": chrono::Utc::now().to_rfc3339(),
            "profile": if cfg!(debug_assertions) { "dev (dependencies at opt-level 2)" } else { "release" },
            "loadAverage": crate::bench_ingest::load_average(),
            "installs": args.installs, "days": args.days, "installationDays": installation_days, "events": occurrences,
            "runs": args.runs,
            "cases": results.iter().map(|r| json!({"name": r.name, "p50Ms": f(r.p50), "p90Ms": f(r.p90),
                "http": r.http.as_ref().map(|h| json!({"coldMs": f(h.cold), "p50Ms": f(h.p50), "p90Ms": f(h.p90)}))})).collect::<Vec<_>>(),
            "raw": raw.iter().map(|b| json!({"case": b.case, "p50Ms": f(b.p50), "check": b.check})).collect::<Vec<_>>(),
            "serverStartMs": starts.iter().map(|d| f(*d)).collect::<Vec<_>>(),
        });
        std::fs::write(file, serde_json::to_vec_pretty(&out)?)
            .with_context(|| format!("writing {}", file.display()))?;
    }
    if args.warehouse.is_none() {
        let _ = std::fs::remove_dir_all(path.parent().unwrap_or(&path));
    }
    Ok(())
}

/// One case's timings.
pub struct CaseResult {
    /// The case.
    pub name: &'static str,
    /// Which report.
    pub report: Kind,
    /// The request body.
    pub body: Value,
    /// In-process p50.
    pub p50: Duration,
    /// In-process p90.
    pub p90: Duration,
    /// Through HTTP, when measured.
    pub http: Option<HttpTimes>,
    /// The in-process answer of a generic report (to check the raw baseline against).
    pub answer: Option<Value>,
}

/// Timings of one case through the HTTP API.
pub struct HttpTimes {
    /// The first request after a server start.
    pub cold: Duration,
    /// Warm p50.
    pub p50: Duration,
    /// Warm p90.
    pub p90: Duration,
}
