//! Previews of raw records: `customEventTracking/getLastLines` and
//! `exceptionTracking/getLastLines` (reporting-api §13.1, §14).
//!
//! Each row carries the installation's properties as of the end of the UTC day of the
//! record's timestamp: standard ones from that day's `client_days` row (the record made the
//! day active), current ones from the property history (`property_days`, last day ≤ it).

use chrono::DateTime;
use serde_json::{Map, Value};
use usagi_types::{ApiError, JsonObject, NULL_TEXT};
use usagi_warehouse::columns::{property_column, ColumnType};
use usagi_warehouse::{Param, Value as Cell, Warehouse};

use crate::client_list::json_value;
use crate::context::ReportContext;
use crate::query::Query;

/// Which records a preview shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Events with a `custom` map.
    CustomEvents,
    /// Exceptions.
    Exceptions,
}

/// The shared leading fields, in order, with their labels.
const COMMON_FIELDS: &[(&str, &str)] = &[
    ("timestamp", "Timestamp"),
    ("clientId", "Client ID"),
    ("machineId", "Machine ID"),
    ("appName", "Application"),
    ("sessionId", "Session ID"),
    ("prodEdition", "Edition"),
    ("prodVersion", "Version"),
    ("prodBuild", "Build"),
    ("prodLanguage", "Language"),
    ("licenseType", "License Type"),
    ("licenseStatus.allowed", "Key Allowed"),
    ("licenseStatus.blocked", "Key Blocked"),
    ("licenseStatus.activated", "Key Activated"),
    ("licenseStatus.expired", "Key Expired"),
    ("os.version", "OS Type"),
    ("osWordLength", "OS Architecture"),
    ("osLanguage", "OS Language"),
    ("cpuType", "CPU Type"),
    ("cpuCores", "CPU Cores"),
    ("ram", "RAM"),
    ("displayCount", "Number of Monitors"),
    ("resolution", "Screen Resolution"),
    ("dotNetVersion", ".NET Versions"),
    ("gpu.model", "GPU"),
    ("formFactor", "Form Factor"),
    ("vm", "Virtual Machine"),
    ("javaVersion", "Java Version"),
    ("geography.country", "Country"),
];

const EVENT_FIELDS: &[(&str, &str)] =
    &[("eventCategory", "Event Category"), ("eventName", "Event Name"), ("customData", "Custom Data")];
const EXCEPTION_FIELDS: &[(&str, &str)] =
    &[("className", "Class"), ("methodName", "Method"), ("message", "Message"), ("stackTrace", "Stack Trace")];

/// Current properties read from the history as of the record's day.
const CURRENT_AT_DAY: &[&str] = &[
    "machineId",
    "appName",
    "osWordLength",
    "cpuType",
    "cpuCores",
    "ram",
    "displayCount",
    "resolutionWidth",
    "resolutionHeight",
    "dotNetVersion",
    "gpu.model",
    "formFactor",
    "vm",
    "javaVersion",
];

/// The field names and labels of a family, in order.
pub fn field_names(family: Family) -> Vec<(&'static str, &'static str)> {
    let tail = if family == Family::CustomEvents { EVENT_FIELDS } else { EXCEPTION_FIELDS };
    COMMON_FIELDS.iter().chain(tail).copied().collect()
}

/// A validated getLastLines request.
#[derive(Debug)]
pub struct LastLinesSpec {
    /// Rows wanted, 1–1000.
    pub line_count: usize,
}

impl LastLinesSpec {
    /// Parses `{"lineCount": 1–1000}` (an integer or a string of digits; default 10).
    pub fn parse(body: &JsonObject, ctx: &ReportContext) -> Result<Self, ApiError> {
        let line_count =
            body.optional("lineCount")?.map(|v| v.lenient_integer_in(1, 1000)).transpose()?.unwrap_or(10) as usize;
        body.accept_v2_fields(&ctx.product)?;
        body.finish()?;
        Ok(Self { line_count })
    }
}

fn history_cell(name: &str, value: &Cell) -> Value {
    match (value.as_str(), property_column(name).map(|c| c.ty)) {
        (None, _) => Value::String(NULL_TEXT.into()),
        (Some(v), Some(ColumnType::Int)) => v.parse::<i64>().map_or(Value::String(v.into()), Value::from),
        (Some(v), _) => Value::String(v.into()),
    }
}

/// Which records a family query selects.
#[derive(Debug, Clone, Copy)]
pub enum RecordSource {
    /// The newest `n` by receive time, timestamp, batch and index (previews).
    Newest(usize),
    /// Every record received in `[from, to)` epoch milliseconds (export files), oldest first.
    Received(i64, i64),
}

/// Standard properties among the common fields (read from `client_days`).
fn standard_fields() -> Vec<&'static str> {
    COMMON_FIELDS.iter().map(|(n, _)| *n).filter(|n| property_column(n).is_some_and(|c| c.standard)).collect()
}

/// The SQL selecting a family's records with the installation's properties as of the end of
/// each record's day. Columns: `t, client_id, session_id`, the family's own fields, the
/// standard fields, then [`CURRENT_AT_DAY`].
pub fn records_sql(q: &mut Query, product: u64, family: Family, source: RecordSource) -> String {
    let product = q.bind(Param::Int(product as i64));
    let (table, own, filter) = match family {
        Family::CustomEvents => ("events", "rd.category, rd.name, rd.custom", "AND r.custom IS NOT NULL"),
        Family::Exceptions => ("exceptions", "rd.class_name, rd.method_name, rd.message, rd.stack_trace", ""),
    };
    let std_names: Vec<&str> =
        standard_fields().iter().map(|n| property_column(n).map_or("prod_version", |c| c.column)).collect();
    let std_cols: String = std_names.iter().map(|c| format!(", rd.{c}")).collect();
    let std_joined: String = std_names.iter().map(|c| format!(", d.{c} AS {c}")).collect();
    // Current properties as of each record's day: one lookup per distinct (installation, day)
    // of the selected records, not one correlated subquery per record and property. The value
    // at the end of day e is that of the latest history day <= e (found with max, then joined
    // back, so a NULL value is kept); one join per SELECT, as ClickHouse 18.16 requires.
    let names: String = CURRENT_AT_DAY.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
    let pivot: String =
        CURRENT_AT_DAY.iter().map(|n| format!(", max(value) FILTER (WHERE name = '{n}') AS \"{n}\"")).collect();
    let current: String = CURRENT_AT_DAY.iter().map(|n| format!(", c.\"{n}\"")).collect();
    let (inner, order) = match source {
        // The installation breaks ties, so every use of `r` selects the same records.
        RecordSource::Newest(n) => (
            format!("ORDER BY r.received_at DESC, r.t DESC, r.seq DESC, r.idx DESC, r.client_id DESC LIMIT {n}"),
            "rd.received_at DESC, rd.t DESC, rd.seq DESC, rd.idx DESC, rd.client_id DESC",
        ),
        RecordSource::Received(from, to) => {
            let (from, to) = (q.bind(Param::Int(from)), q.bind(Param::Int(to)));
            (
                format!("AND r.received_at >= {from} AND r.received_at < {to}"),
                "rd.received_at, rd.t, rd.seq, rd.idx, rd.client_id",
            )
        }
    };
    format!(
        "WITH r AS (SELECT * FROM {table} r WHERE r.product_id = {product} {filter} {inner}), \
         pairs AS (SELECT DISTINCT client_id, day FROM r), \
         hist AS (SELECT client_id, name, day, value FROM property_days \
                  WHERE product_id = {product} AND name IN ({names})), \
         latest_day AS (SELECT p.client_id AS client_id, p.day AS day, h.name AS name, max(h.day) AS h_day \
                        FROM pairs p JOIN hist h ON h.client_id = p.client_id WHERE h.day <= p.day \
                        GROUP BY p.client_id, p.day, h.name), \
         latest AS (SELECT l.client_id AS client_id, l.day AS day, l.name AS name, h.value AS value \
                    FROM latest_day l JOIN hist h ON h.client_id = l.client_id AND h.name = l.name AND h.day = l.h_day), \
         cur AS (SELECT client_id, day{pivot} FROM latest GROUP BY client_id, day), \
         rd AS (SELECT r.*{std_joined} FROM r LEFT JOIN client_days d \
                ON d.product_id = r.product_id AND d.client_id = r.client_id AND d.day = r.day) \
         SELECT rd.t, rd.client_id, rd.session_id, {own}{std_cols}{current} \
         FROM rd LEFT JOIN cur c ON c.client_id = rd.client_id AND c.day = rd.day \
         ORDER BY {order}"
    )
}

/// A family's CSV header: the `fieldNames` keys (reporting-api §13.2).
pub fn file_header(family: Family) -> Vec<&'static str> {
    field_names(family).into_iter().map(|(k, _)| k).collect()
}

/// One CSV row of a family file from a streamed [`records_sql`] row (text cells): NULL is an
/// empty field, `customData` its JSON text, timestamps ISO 8601 UTC with milliseconds.
pub fn file_row(family: Family, cells: &[Option<String>]) -> Vec<String> {
    let own_width = if family == Family::CustomEvents { 3 } else { 4 };
    let standard = standard_fields();
    let cell = |i: usize| cells.get(i).cloned().flatten();
    let mut values: std::collections::HashMap<&str, Option<String>> = std::collections::HashMap::new();
    values.insert("timestamp", cell(0).and_then(|t| t.parse::<i64>().ok()).map(iso_millis));
    values.insert("clientId", cell(1).and_then(|c| c.parse::<u64>().ok()).map(|c| format!("{c:016X}")));
    values.insert("sessionId", cell(2));
    let own_keys: &[&str] = match family {
        Family::CustomEvents => &["eventCategory", "eventName", "customData"],
        Family::Exceptions => &["className", "methodName", "message", "stackTrace"],
    };
    for (i, k) in own_keys.iter().enumerate() {
        values.insert(k, cell(3 + i));
    }
    for (i, n) in standard.iter().enumerate() {
        values.insert(n, cell(3 + own_width + i));
    }
    let base = 3 + own_width + standard.len();
    for (i, n) in CURRENT_AT_DAY.iter().enumerate() {
        values.insert(n, cell(base + i));
    }
    let resolution = match (values.remove("resolutionWidth").flatten(), values.remove("resolutionHeight").flatten()) {
        (Some(w), Some(h)) => Some(format!("{w}x{h}")),
        _ => None,
    };
    values.insert("resolution", resolution);
    file_header(family).into_iter().map(|k| values.remove(k).flatten().unwrap_or_default()).collect()
}

/// Epoch milliseconds as ISO 8601 UTC with milliseconds.
pub fn iso_millis(t: i64) -> String {
    DateTime::from_timestamp_millis(t).map_or_else(String::new, |d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

/// Runs a preview: the newest `line_count` records, by receive time, timestamp, batch and index.
pub async fn last_lines(
    wh: &dyn Warehouse,
    ctx: &ReportContext,
    family: Family,
    spec: &LastLinesSpec,
) -> Result<Value, ApiError> {
    let mut q = Query::new(wh.dialect());
    let sql = records_sql(&mut q, ctx.product.as_u64(), family, RecordSource::Newest(spec.line_count));
    let standard = standard_fields();
    let rows = q.run(wh, sql).await?;
    let own_width = if family == Family::CustomEvents { 3 } else { 4 };
    let mut result = Vec::new();
    for r in rows.rows {
        let mut values: Map<String, Value> = Map::new();
        let t = r[0].as_i64().unwrap_or(0);
        values.insert(
            "timestamp".into(),
            DateTime::from_timestamp_millis(t).map_or(Value::String(NULL_TEXT.into()), |d| {
                Value::String(d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            }),
        );
        values.insert("clientId".into(), Value::String(r[1].as_u64().map_or(String::new(), |c| format!("{c:016X}"))));
        values.insert("sessionId".into(), json_value(&r[2]));
        let own_cells = &r[3..3 + own_width];
        let std_cells = &r[3 + own_width..3 + own_width + standard.len()];
        let cur_cells = &r[3 + own_width + standard.len()..];
        for (n, cell) in standard.iter().zip(std_cells) {
            values.insert(n.to_string(), json_value(cell));
        }
        let mut width = None;
        let mut height = None;
        for (n, cell) in CURRENT_AT_DAY.iter().zip(cur_cells) {
            match *n {
                "resolutionWidth" => width = cell.as_str().map(str::to_string),
                "resolutionHeight" => height = cell.as_str().map(str::to_string),
                _ => {
                    values.insert(n.to_string(), history_cell(n, cell));
                }
            }
        }
        let resolution = match (width, height) {
            (Some(w), Some(h)) => format!("{w}x{h}"),
            _ => NULL_TEXT.to_string(),
        };
        values.insert("resolution".into(), Value::String(resolution));
        match family {
            Family::CustomEvents => {
                values.insert("eventCategory".into(), json_value(&own_cells[0]));
                values.insert("eventName".into(), json_value(&own_cells[1]));
                let custom = own_cells[2].as_str().and_then(|s| serde_json::from_str::<Value>(s).ok());
                values.insert("customData".into(), custom.unwrap_or(Value::String(NULL_TEXT.into())));
            }
            Family::Exceptions => {
                for (k, cell) in ["className", "methodName", "message", "stackTrace"].iter().zip(own_cells) {
                    values.insert(k.to_string(), json_value(cell));
                }
            }
        }
        // Every row in fieldNames order.
        let mut row = Map::new();
        for (k, _) in field_names(family) {
            row.insert(k.to_string(), values.remove(k).unwrap_or(Value::String(NULL_TEXT.into())));
        }
        result.push(Value::Object(row));
    }
    let names: Map<String, Value> =
        field_names(family).into_iter().map(|(k, label)| (k.to_string(), Value::String(label.into()))).collect();
    let mut out = Map::new();
    out.insert("fieldNames".into(), Value::Object(names));
    out.insert("result".into(), Value::Array(result));
    Ok(Value::Object(out))
}
