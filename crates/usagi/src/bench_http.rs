//! The HTTP and raw-SQL parts of `usagi bench reports`.
//!
//! `--http` starts `usagi serve` on the generated warehouse once per case and times the
//! first request after the start (cold: DuckDB's buffer cache is empty, the catalog and
//! the connection are fresh) and then warm runs, each a complete request through HTTP,
//! authentication, rate limits, the report and JSON encoding, from a client on the same
//! machine. `--raw` times hand-written SQL on the rollup tables for three reports: the least
//! work that computes the same numbers, which the API's time is compared with.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use usagi_catalog::{NewUser, Role};
use usagi_types::ProductId;
use usagi_warehouse::Warehouse;

use crate::bench::{CaseResult, HttpTimes, Kind, PRODUCT};
use crate::bench_server::{free_port, ChildServer};

/// One raw-SQL baseline: the case it stands for, its p50 and what it computed.
pub struct RawResult {
    /// The report case (name as in the case table).
    pub case: &'static str,
    /// p50 of the timed runs.
    pub p50: Duration,
    /// Totals of the raw answer next to the API's, for a consistency check.
    pub check: Value,
}

/// Days after the last active day at which an installation counts as lost (the product default).
const LOST_AFTER: i64 = 40;

/// Hand-written SQL for three generic cases, each one statement over the rollups.
fn raw_queries(today: NaiveDate, days: u32) -> Vec<(&'static str, String)> {
    let start = today - chrono::Duration::days(i64::from(days) - 1);
    let (s, e) = (format!("DATE '{start}'"), format!("DATE '{today}'"));
    let lost_max = format!("DATE '{}'", today - chrono::Duration::days(LOST_AFTER));
    let p = PRODUCT;
    vec![
        (
            "daily split, new+active+lost",
            // Active = installation-days of the day, new = first days; lost by dateLastSeen.
            format!(
                "SELECT d.day, d.active, d.new, coalesce(l.lost, 0) AS lost FROM \
                 (SELECT day, count(*) AS active, count(*) FILTER (WHERE first_day) AS new FROM client_days \
                  WHERE product_id = {p} AND day BETWEEN {s} AND {e} GROUP BY day) d \
                 LEFT JOIN (SELECT date_last_seen AS day, count(*) AS lost FROM clients WHERE product_id = {p} \
                  AND date_last_seen BETWEEN {s} AND {e} AND date_last_seen <= {lost_max} GROUP BY 1) l USING (day) \
                 ORDER BY d.day"
            ),
        ),
        (
            "no split, 3 levels (version x edition x license type)",
            // Everyone active in the range has their last active day in it: the `clients` row.
            format!(
                "SELECT prod_version, prod_edition, license_type, count(*) AS active, \
                 count(*) FILTER (WHERE date_installed >= {s}) AS new, \
                 count(*) FILTER (WHERE date_last_seen <= {lost_max}) AS lost \
                 FROM clients WHERE product_id = {p} AND date_last_seen >= {s} GROUP BY ALL"
            ),
        ),
        (
            "weekly split, new+active+lost",
            // Active in a week = its flagged last active day; the clipped first week is not corrected.
            format!(
                "SELECT d.w, d.active, d.new, coalesce(l.lost, 0) AS lost FROM \
                 (SELECT date_trunc('week', day) AS w, count(*) FILTER (WHERE week_last) AS active, \
                  count(*) FILTER (WHERE first_day) AS new FROM client_days \
                  WHERE product_id = {p} AND day BETWEEN {s} AND {e} AND (week_last OR first_day) GROUP BY 1) d \
                 LEFT JOIN (SELECT date_trunc('week', date_last_seen) AS w, count(*) AS lost FROM clients \
                  WHERE product_id = {p} AND date_last_seen BETWEEN {s} AND {e} AND date_last_seen <= {lost_max} \
                  GROUP BY 1) l USING (w) ORDER BY d.w"
            ),
        ),
    ]
}

/// Sums of `new`, `active` and `lost` over every period of a generic answer.
fn api_totals(answer: &Value) -> Value {
    let mut t = [0i64; 3];
    if let Some(periods) = answer["result"].as_object() {
        for v in periods.values() {
            for (i, k) in ["new", "active", "lost"].iter().enumerate() {
                t[i] += v[k].as_i64().unwrap_or(0);
            }
        }
    }
    json!({"new": t[0], "active": t[1], "lost": t[2]})
}

/// Times the raw baseline: one warm-up and `runs` timed runs per query.
pub async fn raw_baseline(
    wh: &dyn Warehouse,
    cases: &[CaseResult],
    today: NaiveDate,
    days: u32,
    runs: usize,
) -> anyhow::Result<Vec<RawResult>> {
    let mut out = Vec::new();
    for (case, sql) in raw_queries(today, days) {
        let mut times = Vec::new();
        let mut rows = Vec::new();
        for i in 0..=runs {
            let t = Instant::now();
            rows = wh.query(sql.clone(), vec![]).await?.rows;
            if i > 0 {
                times.push(t.elapsed());
            }
        }
        times.sort();
        let mut raw = [0i64; 3];
        for r in &rows {
            for (k, total) in raw.iter_mut().enumerate() {
                *total += r[r.len() - 3 + k].as_i64().unwrap_or(0);
            }
        }
        let raw = json!({"active": raw[0], "new": raw[1], "lost": raw[2]});
        // Only the period splits' answers are flat enough to total.
        let split = !case.starts_with("no split");
        let api =
            cases.iter().find(|c| c.name == case).and_then(|c| c.answer.as_ref()).filter(|_| split).map(api_totals);
        out.push(RawResult { case, p50: times[times.len() / 2], check: json!({"raw": raw, "api": api}) });
    }
    Ok(out)
}

/// The request of one case: method, path (with query) and body.
fn request(kind: Kind, body: &Value, run: usize, installs: u64) -> (&'static str, String, Option<Value>) {
    request_for(PRODUCT, kind, body, run, installs)
}

/// [`request`] for any product.
fn request_for(p: u64, kind: Kind, body: &Value, run: usize, installs: u64) -> (&'static str, String, Option<Value>) {
    match kind {
        Kind::Generic => ("POST", format!("/v3/reporting/generic/dateRange/{p}"), Some(body.clone())),
        Kind::Timeline => ("POST", format!("/v3/reporting/eventTracking/basic/timeline/{p}"), Some(body.clone())),
        Kind::FullReport => {
            ("POST", format!("/v3/reporting/eventTracking/advanced/fullReport/{p}"), Some(body.clone()))
        }
        Kind::UsageDistribution => {
            ("POST", format!("/v3/reporting/engagement/usageDistribution/{p}"), Some(body.clone()))
        }
        Kind::ClientList => ("POST", format!("/v3/reporting/clientPropertyList/{p}"), Some(body.clone())),
        Kind::ClientProfile => {
            // A different installation each run, as in-process.
            let id = 1 + (run as u64) * 7919 % installs.max(1);
            ("GET", format!("/v3/reporting/clientProfile/{p}?clientId={id:016X}"), None)
        }
    }
}

/// Sends one report request; fails unless it is answered 200.
async fn send(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    req: &(&str, String, Option<Value>),
) -> anyhow::Result<()> {
    fetch(client, base, token, req).await.map(drop)
}

/// One warm-timed report of [`time_reports`].
pub struct WarmTimes {
    /// The case.
    pub name: &'static str,
    /// p50 and p90 of the timed runs.
    pub p50: Duration,
    /// See `p50`.
    pub p90: Duration,
    /// The answer (the body of the last run).
    pub answer: Value,
}

/// Times the report cases of `bench reports` that need no generated event names or
/// installation ids (generic splits and levels, client list, usage distribution, advanced
/// event report) warm through the HTTP API of a running server on any warehouse: one
/// warm-up request, then `runs` timed ones each.
pub async fn time_reports(
    base: &str,
    token: &str,
    product: u64,
    days: u32,
    runs: usize,
) -> anyhow::Result<Vec<WarmTimes>> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(300)).build()?;
    let mut cases = crate::bench::cases(days);
    cases.push(crate::bench::Case {
        name: "advanced fullReport over 90 days (every event)",
        report: Kind::FullReport,
        body: json!({"startDate": "NOW-89", "stopDate": "NOW"}),
    });
    let mut out = Vec::new();
    for case in cases.iter().filter(|c| c.report != Kind::ClientProfile) {
        let req = request_for(product, case.report, &case.body, 0, 1);
        let mut times = Vec::new();
        let mut answer = Value::Null;
        for i in 0..=runs.max(1) {
            let t = Instant::now();
            let body = fetch(&client, base, token, &req).await?;
            if i > 0 {
                times.push(t.elapsed());
            }
            answer = serde_json::from_slice(&body).unwrap_or(Value::Null);
        }
        times.sort();
        out.push(WarmTimes {
            name: case.name,
            p50: times[times.len() / 2],
            p90: times[(times.len() * 9 / 10).min(times.len() - 1)],
            answer,
        });
    }
    Ok(out)
}

/// Sends one report request and returns its body; fails unless it is answered 200.
async fn fetch(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    req: &(&str, String, Option<Value>),
) -> anyhow::Result<Vec<u8>> {
    let url = format!("{base}{}", req.1);
    let builder = if req.0 == "GET" { client.get(&url) } else { client.post(&url) };
    let builder = builder.bearer_auth(token).header("Accept-Encoding", "gzip");
    let builder = match &req.2 {
        Some(body) => builder.header("Content-Type", "application/json").body(body.to_string()),
        None => builder,
    };
    let answer = builder.send().await.with_context(|| format!("{} {}", req.0, req.1))?;
    let status = answer.status();
    let bytes = answer.bytes().await?;
    if !status.is_success() {
        bail!("{} {} answered {status}: {}", req.0, req.1, String::from_utf8_lossy(&bytes));
    }
    Ok(bytes.to_vec())
}

/// Times every case through HTTP on the warehouse at `warehouse` (closed by the caller);
/// returns each server start's time until it answered.
pub async fn http_cases(
    warehouse: &Path,
    cases: &mut [CaseResult],
    runs: usize,
    installs: u64,
) -> anyhow::Result<Vec<Duration>> {
    if warehouse.file_name().and_then(|n| n.to_str()) != Some("warehouse.duckdb") {
        bail!("--http needs the warehouse file to be named warehouse.duckdb (it becomes a data directory)");
    }
    let dir = warehouse.parent().context("the warehouse has no directory")?;
    let catalog = usagi_server::open_catalog(dir).await?;
    let now = chrono::Utc::now();
    let product = ProductId::parse(&PRODUCT.to_string()).map_err(|e| anyhow::anyhow!("{e}"))?;
    if catalog.get_product(product).await?.is_none() {
        catalog.create_product("Report Bench", Some(product), now).await?;
    }
    let password: String =
        StdRng::from_entropy().sample_iter(rand::distributions::Alphanumeric).take(20).map(char::from).collect();
    let email = format!("bench-{}@usagi.local", now.timestamp_millis());
    let user = catalog
        .create_user(NewUser { email, name: "Bench".into(), surname: "Runner".into(), admin: true, password }, now)
        .await?;
    catalog.grant(user.id, product, Role::Editor, true).await?;
    let (_, token) = catalog.create_token(user.id, vec![product], false, None, now).await?;
    drop(catalog);
    let config = dir.join("bench-http.toml");
    std::fs::write(&config, "[limits]\nrequests_per_second = 1000.0\nburst = 1000.0\n")?;
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let base = format!("http://{addr}");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(300)).build()?;
    let mut starts = Vec::new();
    let mut events_enabled = false;
    for case in cases.iter_mut() {
        let mut server = ChildServer::new(dir, addr, Some(config.clone()));
        let t = Instant::now();
        server.start().await?;
        starts.push(t.elapsed());
        if !events_enabled {
            // The generated events are unknown to the catalog: flag them for basic and advanced reports.
            let known: Vec<Value> = (0..10)
                .map(|e| {
                    let category = if e < 3 { Value::Null } else { json!(format!("Category {}", e % 3)) };
                    json!({"category": category, "name": format!("Event {e}"), "basic": true, "advanced": true})
                })
                .collect();
            let put = client
                .put(format!("{base}/v3/event-tracking/{PRODUCT}"))
                .bearer_auth(&token)
                .header("Content-Type", "application/json")
                .body(json!({"events": known}).to_string())
                .send()
                .await?;
            if !put.status().is_success() {
                bail!("PUT /v3/event-tracking answered {}", put.status());
            }
            events_enabled = true;
        }
        let cold_req = request(case.report, &case.body, 0, installs);
        let t = Instant::now();
        send(&client, &base, &token, &cold_req).await?;
        let cold = t.elapsed();
        let mut times = Vec::new();
        for i in 0..=runs {
            let req = request(case.report, &case.body, i + 1, installs);
            let t = Instant::now();
            send(&client, &base, &token, &req).await?;
            if i > 0 {
                times.push(t.elapsed());
            }
        }
        times.sort();
        case.http = Some(HttpTimes {
            cold,
            p50: times[times.len() / 2],
            p90: times[(times.len() * 9 / 10).min(times.len() - 1)],
        });
        if !server.terminate().await? {
            bail!("`usagi serve` did not stop cleanly (log: {})", dir.join("server.log").display());
        }
    }
    Ok(starts)
}
