//! Building export files from the warehouse, streamed: rows go from a streaming query
//! through a CSV writer into a deflated zip entry, so memory does not grow with a day's size.

use std::collections::HashMap;
use std::fs::File;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::json;
use usagi_catalog::{BackOffStates, Erasure};
use usagi_reporting::previews::{self, RecordSource};
use usagi_reporting::query::Query;
use usagi_types::ProductId;
use usagi_warehouse::columns::property_column;
use usagi_warehouse::{TextRow, Warehouse};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::error::ExportError;
use crate::names::{Family, FileName, Span};
use crate::store::{ExportStore, Kind, StoredFile};

/// Format version written into `manifest.json`.
pub const FORMAT_VERSION: u32 = 1;

/// Builds export files of every family.
pub struct Exporter {
    warehouse: Arc<dyn Warehouse>,
    store: Arc<ExportStore>,
}

/// What a raw-data file needs besides the warehouse.
#[derive(Debug, Clone, Default)]
pub struct RawDayInputs {
    /// Installations erased during the file's day (listed in `erasures.json`).
    pub erasures: Vec<Erasure>,
    /// Back-off states of the product (for `backOff.current` at the end of the day).
    pub back_offs: BackOffStates,
}

/// The start of a UTC day in epoch milliseconds.
pub fn day_start_ms(day: NaiveDate) -> i64 {
    day.and_time(NaiveTime::MIN).and_utc().timestamp_millis()
}

fn zip_options() -> SimpleFileOptions {
    // `large_file`: a busy day's events.csv can pass 4 GiB uncompressed (zip64).
    SimpleFileOptions::default().compression_method(CompressionMethod::Deflated).large_file(true)
}

type RowFn = Arc<dyn Fn(&TextRow) -> Vec<String> + Send + Sync>;

/// Turns streamed rows into CSV rows: called with each row, then once with `None` at the
/// end; each call yields at most one CSV row (a grouping mapper yields a group when the next
/// one starts, and the last at the end).
type RowMapper = Box<dyn FnMut(Option<&TextRow>) -> Option<Vec<String>> + Send>;

/// One CSV row per streamed row.
fn per_row(f: RowFn) -> RowMapper {
    Box::new(move |r| r.map(|r| f(r)))
}

/// Writes one CSV entry from a streaming query; returns the zip writer and the row count.
async fn write_csv_entry(
    wh: &dyn Warehouse,
    mut zip: ZipWriter<File>,
    entry: String,
    header: Vec<&'static str>,
    query: (Query, String),
    mut row: RowMapper,
) -> Result<(ZipWriter<File>, u64), ExportError> {
    // A few chunks in flight at most: the query waits for the writer.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<TextRow>>(4);
    let writer = tokio::task::spawn_blocking(move || -> Result<(ZipWriter<File>, u64), ExportError> {
        zip.start_file(entry, zip_options())?;
        let mut rows = 0u64;
        {
            let mut csv = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(&mut zip);
            csv.write_record(&header)?;
            for chunk in rx {
                for r in &chunk {
                    if let Some(out) = row(Some(r)) {
                        csv.write_record(out)?;
                        rows += 1;
                    }
                }
            }
            if let Some(out) = row(None) {
                csv.write_record(out)?;
                rows += 1;
            }
            csv.flush()?;
        }
        Ok((zip, rows))
    });
    let (q, sql) = query;
    let streamed = q.stream(wh, sql, tx).await;
    let written = writer.await.map_err(|e| ExportError::Task(e.to_string()))?;
    if let Ok((_, rows)) = &written {
        tracing::debug!(rows, rss_kib = status_kib("VmRSS:"), peak_kib = status_kib("VmHWM:"), "export entry written");
    }
    streamed.map_err(|e| ExportError::Warehouse(e.to_string()))?;
    written
}

/// A memory figure of this process in KiB (`VmRSS:`, `VmHWM:`; Linux, 0 elsewhere), for debug logs.
fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn cell(r: &TextRow, i: usize) -> Option<&str> {
    r.get(i).and_then(|c| c.as_deref())
}

fn text(r: &TextRow, i: usize) -> String {
    cell(r, i).unwrap_or_default().to_string()
}

fn iso(r: &TextRow, i: usize) -> String {
    cell(r, i).and_then(|v| v.parse::<i64>().ok()).map(previews::iso_millis).unwrap_or_default()
}

fn client_hex(r: &TextRow, i: usize) -> String {
    cell(r, i).and_then(|v| v.parse::<u64>().ok()).map(|c| format!("{c:016X}")).unwrap_or_default()
}

/// The installations that sent anything (a sync or `license/set`) in `[from, to)`.
fn senders_sql(product: &str, from: &str, to: &str) -> String {
    format!(
        "SELECT DISTINCT client_id FROM \
         (SELECT client_id FROM contacts WHERE product_id = {product} AND received_at >= {from} AND received_at < {to} \
          UNION ALL SELECT client_id FROM property_changes \
          WHERE product_id = {product} AND received_at >= {from} AND received_at < {to}) s"
    )
}

/// Each sender's latest value of the named property leaves among those received before `to`.
///
/// Portable SQL (no window function; one join per SELECT): the latest time per leaf, then the
/// greatest (seq, idx) at that time — seq below 2^31, idx a u32 — then the value of that row,
/// joined back so a NULL value is kept.
fn latest_sql(product: &str, to: &str, names: Option<&[&str]>) -> String {
    let only = names.map_or(String::new(), |n| {
        format!("AND name IN ({})", n.iter().map(|x| format!("'{x}'")).collect::<Vec<_>>().join(", "))
    });
    let rows = format!(
        "SELECT client_id, name, t, seq * 4294967296 + idx AS k2, value FROM property_changes \
                        WHERE product_id = {product} AND received_at < {to} {only} \
                        AND client_id IN (SELECT client_id FROM senders)"
    );
    format!(
        "SELECT h.client_id AS client_id, h.name AS name, h.value AS value \
         FROM (SELECT l.client_id AS client_id, l.name AS name, l.t AS t, max(r.k2) AS k2 \
               FROM (SELECT client_id, name, max(t) AS t FROM ({rows}) x GROUP BY client_id, name) l \
               JOIN ({rows}) r ON r.client_id = l.client_id AND r.name = l.name AND r.t = l.t \
               GROUP BY l.client_id, l.name, l.t) k \
         JOIN ({rows}) h ON h.client_id = k.client_id AND h.name = k.name AND h.t = k.t AND h.k2 = k.k2"
    )
}

/// `machineId` and `appName` of every sender at the end of the day, for the record files.
///
/// Read once into memory (one entry per installation that sent anything that day) and looked
/// up per row, so the record queries are plain scans that stream: joined in SQL, the engine may
/// build its hash table on the big side and hold a day's records in memory.
async fn identities(
    wh: &dyn Warehouse,
    product: ProductId,
    from_ms: i64,
    to_ms: i64,
) -> Result<Identities, ExportError> {
    let mut q = Query::new(wh.dialect());
    let (p, from, to) = bind_window(&mut q, product, from_ms, to_ms);
    let sql = format!(
        "WITH senders AS ({senders}), latest AS ({latest}) \
         SELECT client_id, max(value) FILTER (WHERE name = 'machineId'), max(value) FILTER (WHERE name = 'appName') \
         FROM latest GROUP BY client_id",
        senders = senders_sql(&p, &from, &to),
        latest = latest_sql(&p, &to, Some(&["machineId", "appName"])),
    );
    let rows = q.run(wh, sql).await.map_err(|e| ExportError::Warehouse(e.reason))?;
    Ok(rows
        .rows
        .into_iter()
        .filter_map(|r| {
            let client = r.first()?.as_u64()?;
            let text = |i: usize| r.get(i).and_then(|v| v.as_str()).map(str::to_string);
            Some((client, (text(1), text(2))))
        })
        .collect())
}

/// Installation → (`machineId`, `appName`).
type Identities = HashMap<u64, (Option<String>, Option<String>)>;

/// The record CSVs of a raw data zip (reporting-api §16.4): entry, fact table, and the columns
/// after the shared `receivedAt,timestamp,clientId,machineId,appName` (header, SQL over `r`).
type RecordFile = (&'static str, &'static str, &'static [(&'static str, &'static str)]);
const RECORD_FILES: &[RecordFile] = &[
    (
        "sessions.csv",
        "session_marks",
        &[
            ("kind", "CASE r.kind WHEN 1 THEN 'sessionStart' WHEN 2 THEN 'sessionStop' ELSE 'heartbeat' END"),
            ("sessionId", "r.session_id"),
            ("batchId", "CAST(r.batch_id AS VARCHAR)"),
        ],
    ),
    (
        "events.csv",
        "events",
        &[
            ("sessionId", "r.session_id"),
            ("category", "r.category"),
            ("name", "r.name"),
            ("numericValue", "CAST(r.num_value AS VARCHAR)"),
            ("textValue", "r.text_value"),
            ("customData", "r.custom"),
            ("batchId", "CAST(r.batch_id AS VARCHAR)"),
        ],
    ),
    (
        "exceptions.csv",
        "exceptions",
        &[
            ("sessionId", "r.session_id"),
            ("className", "r.class_name"),
            ("methodName", "r.method_name"),
            ("message", "r.message"),
            ("stackTrace", "r.stack_trace"),
            ("batchId", "CAST(r.batch_id AS VARCHAR)"),
        ],
    ),
];

/// Columns of `clientProperties.csv` (reporting-api §16.4), after the leading identity columns.
const PROPERTY_CSV_COLUMNS: &[&str] = &[
    "prodVersion",
    "prodEdition",
    "prodBuild",
    "prodLanguage",
    "licenseType",
    "licenseStatus.activated",
    "licenseStatus.expired",
    "licenseStatus.blocked",
    "licenseStatus.allowed",
    "os.platform",
    "os.version",
    "os.edition",
    "osLanguage",
    "osWordLength",
    "cpuType",
    "cpuCores",
    "ram",
    "displayCount",
    "resolutionWidth",
    "resolutionHeight",
    "screenPpi",
    "touchScreen",
    "formFactor",
    "gpu.vendor",
    "gpu.model",
    "vm",
    "dotNetVersion",
    "javaVersion",
    "javaVendor",
    "javaRuntime",
    "javaGraphics",
    "javaVmVersion",
    "javaVmName",
    "javaVmRam",
    "geography.continent",
    "geography.country",
    "geography.usState",
    "C01",
    "C02",
    "C03",
    "C04",
    "C05",
    "C06",
    "C07",
    "C08",
    "C09",
    "C10",
    "C11",
    "C12",
    "C13",
    "C14",
    "C15",
    "C16",
    "C17",
    "C18",
    "C19",
    "C20",
];

/// The full `clientProperties.csv` header.
pub fn client_properties_header() -> Vec<&'static str> {
    let mut h = vec![
        "snapshotDate",
        "clientId",
        "machineId",
        "appName",
        "sdkName",
        "sdkVersion",
        "dateInstalled",
        "dateLastSeen",
    ];
    h.extend_from_slice(PROPERTY_CSV_COLUMNS);
    h.extend_from_slice(&["optOut.current", "backOff.current", "lifetimeSessionCount", "lifetimeRuntimeMinutes"]);
    h
}

impl Exporter {
    /// An exporter writing into `store`.
    pub fn new(warehouse: Arc<dyn Warehouse>, store: Arc<ExportStore>) -> Self {
        Self { warehouse, store }
    }

    /// The warehouse.
    pub fn warehouse(&self) -> &Arc<dyn Warehouse> {
        &self.warehouse
    }

    /// The store.
    pub fn store(&self) -> &Arc<ExportStore> {
        &self.store
    }

    /// Builds and publishes the raw-data file of one receive day (reporting-api §16.4).
    pub async fn build_raw_day(
        &self,
        product: ProductId,
        day: NaiveDate,
        inputs: RawDayInputs,
        generated_at: DateTime<Utc>,
    ) -> Result<StoredFile, ExportError> {
        let name = FileName::day(product, Family::Raw, day);
        let pending = self.store.pending(name)?;
        let from_ms = day_start_ms(day);
        let to_ms = from_ms + 86_400_000;
        let wh = self.warehouse.as_ref();
        let mut zip = ZipWriter::new(File::create(&pending.path)?);
        let mut counts = serde_json::Map::new();

        let ident = Arc::new(identities(wh, product, from_ms, to_ms).await?);
        for (entry, table, own) in RECORD_FILES {
            let mut q = Query::new(wh.dialect());
            let (p, from, to) = bind_window(&mut q, product, from_ms, to_ms);
            let own_sql: String = own.iter().map(|(_, expr)| format!(", {expr}")).collect();
            let sql = format!(
                "SELECT CAST(r.received_at AS VARCHAR), CAST(r.t AS VARCHAR), CAST(r.client_id AS VARCHAR){own_sql} \
                 FROM {table} r WHERE r.product_id = {p} AND r.received_at >= {from} AND r.received_at < {to}"
            );
            let mut header = vec!["receivedAt", "timestamp", "clientId", "machineId", "appName"];
            header.extend(own.iter().map(|(h, _)| *h));
            let width = header.len();
            let ident = ident.clone();
            let row: RowFn = Arc::new(move |r: &TextRow| {
                let (machine, app) = cell(r, 2)
                    .and_then(|c| c.parse::<u64>().ok())
                    .and_then(|c| ident.get(&c))
                    .map(|(m, a)| (m.clone().unwrap_or_default(), a.clone().unwrap_or_default()))
                    .unwrap_or_default();
                let mut out = vec![iso(r, 0), iso(r, 1), client_hex(r, 2), machine, app];
                out.extend((3..width - 2).map(|i| text(r, i)));
                out
            });
            let (z, n) = write_csv_entry(wh, zip, entry.to_string(), header, (q, sql), per_row(row)).await?;
            zip = z;
            counts.insert(entry.to_string(), json!({ "rows": n }));
        }

        // clientProperties.csv: one sorted stream of (installation, name, value) — property
        // leaves plus `~`-named fixed values — pivoted here, so memory holds one installation.
        let (q, sql) = {
            let mut q = Query::new(wh.dialect());
            let (p, from, to) = bind_window(&mut q, product, from_ms, to_ms);
            let fixed: String = [
                ("~sdk", "sdk.payload"),
                ("~installed", "CAST(c.date_installed AS VARCHAR)"),
                ("~lastSeen", "CAST(c.date_last_seen AS VARCHAR)"),
                ("~optOut", "CAST(c.opt_out_current AS VARCHAR)"),
                ("~sessions", "CAST(c.lifetime_sessions AS VARCHAR)"),
                ("~runtime", "CAST(c.lifetime_runtime_ms // 60000 AS VARCHAR)"),
            ]
            .iter()
            .map(|(name, expr)| {
                format!(
                    " UNION ALL SELECT c.client_id, '{name}', {expr} \
                     FROM (SELECT * FROM clients WHERE product_id = {p} AND client_id IN (SELECT client_id FROM senders)) c \
                     LEFT JOIN sdk ON sdk.sdk_client = c.client_id"
                )
            })
            .collect();
            let sql = format!(
                "WITH senders AS ({senders}), latest AS ({latest}), \
                 sdk AS (SELECT o.client_id AS sdk_client, argMax(o.payload, o.t) AS payload FROM observations o \
                         WHERE o.product_id = {p} AND o.source = 5 AND o.t < {to} \
                         AND o.client_id IN (SELECT client_id FROM senders) GROUP BY o.client_id) \
                 SELECT CAST(client_id AS VARCHAR), name, value FROM \
                 (SELECT client_id, name, value FROM latest{fixed}) ORDER BY client_id",
                senders = senders_sql(&p, &from, &to),
                latest = latest_sql(&p, &to, None),
            );
            (q, sql)
        };
        let back_off: HashMap<u64, bool> = {
            let end = DateTime::from_timestamp_millis(to_ms).unwrap_or(generated_at);
            inputs.back_offs.at(end).into_iter().map(|(c, _, cur)| (c, cur)).collect()
        };
        let product_wide =
            inputs.back_offs.product_wide(DateTime::from_timestamp_millis(to_ms).unwrap_or(generated_at));
        let snapshot = day.format("%Y-%m-%d").to_string();
        let mut group: Option<(String, HashMap<String, Option<String>>)> = None;
        let row: RowMapper = Box::new(move |r: Option<&TextRow>| {
            let next = r.map(|r| (text(r, 0), text(r, 1), r.get(2).cloned().flatten()));
            let same = matches!((&group, &next), (Some((c, _)), Some((n, _, _))) if c == n);
            if same {
                if let (Some((_, values)), Some((_, name, value))) = (group.as_mut(), next) {
                    values.insert(name, value);
                }
                return None;
            }
            let done = group.take();
            if let Some((client, name, value)) = next {
                group = Some((client, HashMap::from([(name, value)])));
            }
            let (client, values) = done?;
            // Installations without a `clients` row (no activity yet) are not listed.
            values
                .contains_key("~installed")
                .then(|| client_properties_row(&snapshot, &client, &values, &back_off, product_wide))
        });
        let (z, n) =
            write_csv_entry(wh, zip, "clientProperties.csv".into(), client_properties_header(), (q, sql), row).await?;
        zip = z;
        counts.insert("clientProperties.csv".into(), json!({ "rows": n }));

        // erasures.json: installations erased during this day, for downstream copies.
        let erasures: Vec<serde_json::Value> = inputs
            .erasures
            .iter()
            .map(|e| {
                json!({ "clientId": e.client.to_hex(),
                        "erasedAt": e.erased_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string() })
            })
            .collect();
        counts.insert("erasures.json".into(), json!({ "rows": erasures.len() }));
        zip.start_file("erasures.json", zip_options())?;
        serde_json::to_writer(&mut zip, &json!({ "erasures": erasures }))?;

        let manifest = json!({
            "formatVersion": FORMAT_VERSION,
            "productId": product.as_str(),
            "fileDate": day.format("%Y-%m-%d").to_string(),
            "generatedAt": generated_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "files": counts,
        });
        zip.start_file("manifest.json", zip_options())?;
        serde_json::to_writer(&mut zip, &manifest)?;
        zip.finish()?;
        Ok(self.store.publish(pending, Kind::Daily)?)
    }

    /// Builds and publishes a custom-event or exception file covering the receive days of
    /// `name` (a day, or a month's `start..=stop`), up to `until_ms` for today's open file.
    pub async fn build_records(&self, name: FileName, kind: Kind, until_ms: i64) -> Result<StoredFile, ExportError> {
        let family = match name.family {
            Family::CustomEvents => previews::Family::CustomEvents,
            Family::Exceptions => previews::Family::Exceptions,
            Family::Raw => return Err(ExportError::Invalid("raw data files are built by build_raw_day".into())),
        };
        let (first, last) = match name.span {
            Span::Day(d) => (d, d),
            Span::Month { start, stop } => (start, stop),
        };
        let from_ms = day_start_ms(first);
        let to_ms = (day_start_ms(last) + 86_400_000).min(until_ms);
        let pending = self.store.pending(name)?;
        let wh = self.warehouse.as_ref();
        let zip = ZipWriter::new(File::create(&pending.path)?);
        let mut q = Query::new(wh.dialect());
        let sql = previews::records_sql(&mut q, name.product.as_u64(), family, RecordSource::Received(from_ms, to_ms));
        let row: RowFn = Arc::new(move |r: &TextRow| previews::file_row(family, r));
        let (zip, _) =
            write_csv_entry(wh, zip, name.csv_name(), previews::file_header(family), (q, sql), per_row(row)).await?;
        zip.finish()?;
        Ok(self.store.publish(pending, kind)?)
    }
}

/// One `clientProperties.csv` row from an installation's pivoted values.
fn client_properties_row(
    snapshot: &str,
    client: &str,
    values: &HashMap<String, Option<String>>,
    back_off: &HashMap<u64, bool>,
    product_wide: bool,
) -> Vec<String> {
    let get = |k: &str| values.get(k).cloned().flatten().unwrap_or_default();
    let id = client.parse::<u64>().ok();
    let sdk: serde_json::Value =
        values.get("~sdk").and_then(|p| p.as_deref()).and_then(|p| serde_json::from_str(p).ok()).unwrap_or_default();
    let sdk_field = |k: &str| sdk.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let mut out = vec![
        snapshot.to_string(),
        id.map(|c| format!("{c:016X}")).unwrap_or_default(),
        get("machineId"),
        get("appName"),
        sdk_field("sdkName"),
        sdk_field("sdkVersion"),
        get("~installed"),
        get("~lastSeen"),
    ];
    for name in PROPERTY_CSV_COLUMNS {
        out.push(match values.get(*name) {
            Some(v) => v.clone().unwrap_or_default(),
            // Never observed: the default reports use (semantics §7); an observed NULL stays empty.
            None => property_column(name).and_then(|c| c.default).unwrap_or("").trim_matches('\'').to_string(),
        });
    }
    out.push(get("~optOut"));
    let backed_off = id.and_then(|c| back_off.get(&c).copied()).unwrap_or(product_wide);
    out.push(backed_off.to_string());
    out.push(get("~sessions"));
    out.push(get("~runtime"));
    out
}

fn bind_window(q: &mut Query, product: ProductId, from_ms: i64, to_ms: i64) -> (String, String, String) {
    use usagi_warehouse::Param;
    (q.bind(Param::Int(product.as_u64() as i64)), q.bind(Param::Int(from_ms)), q.bind(Param::Int(to_ms)))
}
