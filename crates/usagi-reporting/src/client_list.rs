//! The client profile list `reporting/clientPropertyList` (reporting-api §15.1): one page of
//! installations with their current data and, optionally, their end-of-day values per day.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};
use usagi_types::{ApiError, JsonObject, RangeRule, ReportRange, NULL_TEXT};
use usagi_warehouse::{Param, Value as Cell, Warehouse};

use crate::access::value_sql;
use crate::context::ReportContext;
use crate::filters::{back_off_sql, GlobalFilters};
use crate::query::Query;

/// Current-data names, in list order (reporting-api §15.1).
pub const CURRENT_NAMES: &[&str] = &[
    "clientId",
    "machineId",
    "appName",
    "optOut.historical",
    "optOut.current",
    "backOff.historical",
    "backOff.current",
    "prodEdition",
    "prodVersion",
    "prodLanguage",
    "prodBuild",
    "licenseType",
    "licenseStatus.activated",
    "licenseStatus.expired",
    "licenseStatus.blocked",
    "licenseStatus.allowed",
    "licenseKey",
    "os.platform",
    "os.version",
    "os.edition",
    "osLanguage",
    "osWordLength",
    "geography.continent",
    "geography.country",
    "geography.usState",
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
    "dateInstalled",
    "dateLastSeen",
    "lifetimeSessionCount",
    "lifetimeRuntimeMinutes",
    "lifetimeEventUsage",
    "reachOutDeliveries.auto",
    "reachOutDeliveries.manual",
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

/// Daily-data names.
pub const DAILY_NAMES: &[&str] = &[
    "prodEdition",
    "prodVersion",
    "prodLanguage",
    "prodBuild",
    "licenseType",
    "licenseStatus.activated",
    "licenseStatus.expired",
    "licenseStatus.blocked",
    "licenseStatus.allowed",
    "os.platform",
    "os.version",
    "os.edition",
    "osLanguage",
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

/// Group names and the dotted names they stand for (reporting-api §15.1).
const GROUPS: &[&str] = &["os", "geography", "gpu", "licenseStatus", "optOut", "backOff", "reachOutDeliveries"];

/// Most days in `retDailyData`.
const MAX_DAILY_DAYS: i64 = 366;

/// Expands group names and older spellings, checks names against `allowed`, drops duplicates.
fn names(v: &usagi_types::JsonValue, allowed: &[&str], what: &str) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for (_, item) in v.array_len(0, 1000)?.iter() {
        let raw = item.string()?;
        let raw = raw
            .replace("licenseStatus.blacklisted", "licenseStatus.blocked")
            .replace("licenseStatus.whitelisted", "licenseStatus.allowed");
        let expanded: Vec<&str> = if GROUPS.contains(&raw.as_str()) {
            let prefix = format!("{raw}.");
            allowed.iter().copied().filter(|n| n.starts_with(&prefix)).collect()
        } else if allowed.contains(&raw.as_str()) {
            vec![allowed.iter().copied().find(|n| *n == raw).unwrap_or_default()]
        } else {
            vec![]
        };
        if expanded.is_empty() {
            return Err(item.error(format_args!("must be one of the {what} names: {}", allowed.join(", "))));
        }
        for n in expanded {
            if !out.iter().any(|o| o == n) {
                out.push(n.to_string());
            }
        }
    }
    Ok(out)
}

/// A validated clientPropertyList request.
#[derive(Debug)]
pub struct ClientListSpec {
    /// Inclusive paging cursor.
    pub start_at: Option<u64>,
    /// Requested current-data names (without `clientId`), in request order.
    pub properties: Vec<String>,
    /// Daily range and names.
    pub daily: Option<(ReportRange, Vec<String>)>,
    /// Filters (standard properties as of today).
    pub filters: GlobalFilters,
    /// Installations per page.
    pub page_size: usize,
}

impl ClientListSpec {
    /// Parses the request.
    pub fn parse(body: &JsonObject, ctx: &ReportContext) -> Result<Self, ApiError> {
        let start_at = match body.optional("startAtClientId")? {
            None => None,
            Some(v) => {
                let s = v.string()?;
                if s.is_empty() {
                    None
                } else if s.len() == 16 && s.chars().all(|c| c.is_ascii_hexdigit()) {
                    u64::from_str_radix(&s, 16).ok()
                } else {
                    return Err(v.error("must be a client id of 16 hexadecimal characters, null or \"\""));
                }
            }
        };
        let mut properties = match body.optional("properties")? {
            Some(v) => names(&v, CURRENT_NAMES, "current-data")?,
            None => Vec::new(),
        };
        properties.retain(|p| p != "clientId");
        if properties.iter().any(|p| p == "licenseKey") && !ctx.license_keys {
            return Err(ApiError::forbidden("licenseKey requires the licenseKeys permission"));
        }
        let daily = match body.optional_alias("retDailyData", &["reqDailyData"])? {
            None => None,
            Some(v) => {
                let o = v.object()?;
                let start = o.required("startDate")?.report_date(ctx.today)?;
                let stop = o.required("stopDate")?.report_date(ctx.today)?;
                let names = match o.optional("properties")? {
                    Some(p) => names(&p, DAILY_NAMES, "daily-data")?,
                    None => Vec::new(),
                };
                let range = ReportRange::checked(start, stop, ctx.oldest_reported_date(), &RangeRule::REPORT)?;
                if range.days() > MAX_DAILY_DAYS {
                    return Err(v.error(format_args!("must span at most {MAX_DAILY_DAYS} days")));
                }
                Some((range, names))
            }
        };
        let filters = GlobalFilters::parse(body.optional("globalFilters")?, ctx)?;
        let page_size = body.optional("pageSize")?.map(|v| v.integer_in(1, 200)).transpose()?.unwrap_or(200) as usize;
        body.accept_v2_fields(&ctx.product)?;
        body.finish()?;
        Ok(Self { start_at, properties, daily, filters, page_size })
    }
}

/// A warehouse cell as a profile value: NULL as `<NULL>`, types kept (reporting-api §15.1).
pub fn json_value(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::String(NULL_TEXT.into()),
        Cell::Text(s) => Value::String(s.clone()),
        Cell::Int(i) => Value::from(*i),
        Cell::UInt(u) => Value::from(*u),
        Cell::Float(f) => json!(f),
        Cell::Bool(b) => Value::Bool(*b),
        Cell::Date(d) => Value::String(d.format("%Y-%m-%d").to_string()),
    }
}

/// The SQL of one current-data name over the `clients` row `c` (None: filled in Rust).
fn current_sql(name: &str, ctx: &ReportContext, q: &mut Query) -> Option<String> {
    match name {
        "optOut.historical" => Some("c.opt_out_historical".into()),
        "optOut.current" => Some("c.opt_out_current".into()),
        "backOff.historical" => Some(back_off_sql(ctx, q, "c").0),
        "backOff.current" => Some(back_off_sql(ctx, q, "c").1),
        "lifetimeEventUsage" | "reachOutDeliveries.auto" | "reachOutDeliveries.manual" => None,
        n => value_sql(n, "c").map(|v| v.expr),
    }
}

/// Runs clientPropertyList.
pub async fn run(wh: &dyn Warehouse, ctx: &ReportContext, spec: &ClientListSpec) -> Result<Value, ApiError> {
    let prepared = spec.filters.prepare(wh, ctx).await?;
    let mut q = Query::new(wh.dialect());
    let product = q.bind(Param::Int(ctx.product.as_u64() as i64));
    let start = q.bind(Param::UInt(spec.start_at.unwrap_or(0)));
    let exprs: Vec<Option<String>> = spec.properties.iter().map(|n| current_sql(n, ctx, &mut q)).collect();
    let select: String = exprs.iter().flatten().map(|e| format!(", {e}")).collect();
    let cond = spec.filters.sql(&prepared, ctx, &mut q, "c");
    let sql = format!(
        "SELECT c.client_id{select} FROM clients c WHERE c.product_id = {product} AND c.client_id >= {start} \
         AND {cond} ORDER BY c.client_id LIMIT {}",
        spec.page_size + 1
    );
    let mut rows = q.run(wh, sql).await?.rows;
    let next = if rows.len() > spec.page_size { rows.pop().and_then(|r| r[0].as_u64()) } else { None };
    let ids: Vec<u64> = rows.iter().filter_map(|r| r[0].as_u64()).collect();

    let mut usage: HashMap<u64, Vec<Value>> = HashMap::new();
    if spec.properties.iter().any(|p| p == "lifetimeEventUsage") && !ids.is_empty() {
        let mut q = Query::new(wh.dialect());
        let product = q.bind(Param::Int(ctx.product.as_u64() as i64));
        let set = q.value_set(ids.iter().map(|i| Some(i.to_string())).collect());
        let sql = format!(
            "SELECT client_id, category, name, n FROM client_events WHERE product_id = {product} \
             AND CAST(client_id AS VARCHAR) IN {set} AND n > 0 ORDER BY client_id, category NULLS FIRST, name"
        );
        for r in q.run(wh, sql).await?.rows {
            let Some(id) = r[0].as_u64() else { continue };
            usage.entry(id).or_default().push(json!({
                "eventCategory": r[1].as_str(), "eventName": r[2].as_str(), "eventCount": r[3].as_i64().unwrap_or(0)
            }));
        }
    }
    let mut daily: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
    if let (Some((range, names)), false) = (&spec.daily, ids.is_empty()) {
        let mut q = Query::new(wh.dialect());
        let product = q.bind(Param::Int(ctx.product.as_u64() as i64));
        let s = q.bind(Param::Date(range.start()));
        let e = q.bind(Param::Date(range.stop()));
        let set = q.value_set(ids.iter().map(|i| Some(i.to_string())).collect());
        let cols: String = names
            .iter()
            .map(|n| format!(", {}", value_sql(n, "p").map_or("CAST(NULL AS VARCHAR)".into(), |v| v.expr)))
            .collect();
        let sql = format!(
            "SELECT p.client_id, p.day{cols} FROM client_days p WHERE p.product_id = {product} \
             AND p.day BETWEEN {s} AND {e} AND CAST(p.client_id AS VARCHAR) IN {set} ORDER BY p.client_id, p.day"
        );
        for r in q.run(wh, sql).await?.rows {
            let Some(id) = r[0].as_u64() else { continue };
            let mut m = Map::new();
            m.insert("date".into(), json_value(&r[1]));
            for (n, cell) in names.iter().zip(&r[2..]) {
                m.insert(n.clone(), json_value(cell));
            }
            daily.entry(id).or_default().push(Value::Object(m));
        }
    }
    let mut result = Vec::new();
    for r in &rows {
        let Some(id) = r[0].as_u64() else { continue };
        let mut m = Map::new();
        m.insert("clientId".into(), Value::String(format!("{id:016X}")));
        let mut cells = r[1..].iter();
        for (name, expr) in spec.properties.iter().zip(&exprs) {
            let value = match (name.as_str(), expr) {
                ("lifetimeEventUsage", _) => Value::Array(usage.remove(&id).unwrap_or_default()),
                (_, None) => Value::Array(Vec::new()),
                (_, Some(_)) => cells.next().map_or(Value::String(NULL_TEXT.into()), json_value),
            };
            m.insert(name.clone(), value);
        }
        if spec.daily.is_some() {
            m.insert("dailyData".into(), Value::Array(daily.remove(&id).unwrap_or_default()));
        }
        result.push(Value::Object(m));
    }
    let mut out = Map::new();
    out.insert("result".into(), Value::Array(result));
    out.insert("reachedEnd".into(), Value::Bool(next.is_none()));
    if let Some(n) = next {
        out.insert("nextClientId".into(), Value::String(format!("{n:016X}")));
    }
    Ok(Value::Object(out))
}
