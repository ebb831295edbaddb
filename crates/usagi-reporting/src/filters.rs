//! Global filters (reporting-api §3): parsed into typed conditions, then compiled into one
//! SQL predicate over the report rows `p` (reference-day values) and `c` (latest values).
//!
//! Regular expressions run in Rust (the `regex` crate, as the spec promises) over the
//! distinct values a property takes; the matching values reach SQL as an input table.

use std::collections::HashMap;

use chrono::NaiveDate;
use regex::Regex;
use usagi_types::{parse_report_date, ApiError, JsonObject, JsonValue, NULL_TEXT};
use usagi_warehouse::{Param, Warehouse};

use crate::access::{as_text, value_sql, ValueKind, ValueSql};
use crate::context::ReportContext;
use crate::events::EventSelector;
use crate::pattern;
use crate::properties::{find, Prop};
use crate::query::Query;

/// The four license status flags: API name, accepted older spelling, history name.
pub const LICENSE_FLAGS: [(&str, Option<&str>, &str); 4] = [
    ("activated", None, "licenseStatus.activated"),
    ("expired", None, "licenseStatus.expired"),
    ("blocked", Some("blacklisted"), "licenseStatus.blocked"),
    ("allowed", Some("whitelisted"), "licenseStatus.allowed"),
];

/// Every key a licenseStatus object may hold, older spellings included.
pub const LICENSE_FIELDS: [&str; 6] = ["activated", "expired", "blocked", "allowed", "blacklisted", "whitelisted"];

/// A condition on a string property.
#[derive(Debug, Clone)]
pub enum TextCond {
    /// Equal to any of these (NULL as `<NULL>`).
    AnyOf(Vec<String>),
    /// The pattern is found in the value.
    Regex(Regex),
}

/// A condition on a number property.
#[derive(Debug, Clone)]
pub enum NumberCond {
    /// Numerically equal.
    Equals(f64),
    /// NULL (`"<NULL>"`).
    IsNull,
    /// Inclusive range; never NULL.
    Range(Option<f64>, Option<f64>),
}

/// A condition on a date property.
#[derive(Debug, Clone)]
pub enum DateCond {
    /// Equal.
    Equals(NaiveDate),
    /// Inclusive range.
    Range(Option<NaiveDate>, Option<NaiveDate>),
}

/// `{"historical"?, "current"?}`: both given are ANDed.
pub type StateFlags = (Option<bool>, Option<bool>);

/// A lifetime event usage condition: all-time count over the matched events in `[min, max]`.
#[derive(Debug, Clone)]
pub struct EventUsage {
    /// The events counted.
    pub selector: EventSelector,
    /// Inclusive lower bound.
    pub min: i64,
    /// Inclusive upper bound.
    pub max: Option<i64>,
}

/// One global filter.
#[derive(Debug, Clone)]
pub enum Filter {
    /// A string property (`name` is its history name).
    Text { name: String, cond: TextCond },
    /// A number property.
    Number { name: String, cond: NumberCond },
    /// A date property.
    Date { name: String, cond: DateCond },
    /// A boolean property.
    Bool { name: String, value: bool },
    /// `licenseStatus`: flags ANDed inside an object, objects ORed.
    LicenseStatus(Vec<Vec<(usize, bool)>>),
    /// `os`, `geography`, `gpu`: the given granularities ORed.
    Granular { levels: Vec<(String, Vec<String>)>, case_insensitive: bool },
    /// `optOut`: objects ORed.
    OptOut(Vec<StateFlags>),
    /// `backOff`: objects ORed.
    BackOff(Vec<StateFlags>),
    /// `lifetimeEventUsage`: conditions ANDed.
    EventUsage(Vec<EventUsage>),
    /// `reachOutDeliveries`: decided at parse time (ReachOut is not implemented).
    Constant(bool),
}

/// The parsed `globalFilters` (keys ANDed).
#[derive(Debug, Clone, Default)]
pub struct GlobalFilters {
    /// The filters, in request order.
    pub filters: Vec<Filter>,
}

const GRANULAR: [(&str, &[&str], bool); 3] = [
    ("os", &["platform", "version", "edition"], false),
    ("geography", &["continent", "country", "usState"], true),
    ("gpu", &["vendor", "model"], false),
];

/// A string value, or `<NULL>` only where the property supports NULL (reporting-api §3.2).
pub fn text_value(v: &JsonValue, prop: &Prop) -> Result<String, ApiError> {
    let s = v.string()?;
    if s == NULL_TEXT && !prop.null {
        return Err(v.error(format_args!("cannot be <NULL>: {} is never NULL", prop.name)));
    }
    Ok(s)
}

fn state_flags(v: &JsonValue) -> Result<Vec<StateFlags>, ApiError> {
    let one = |v: &JsonValue| -> Result<StateFlags, ApiError> {
        let o = v.object()?;
        o.known_fields(&["historical", "current"])?;
        let h = o.optional("historical")?.map(|x| x.boolean()).transpose()?;
        let c = o.optional("current")?.map(|x| x.boolean()).transpose()?;
        if h.is_none() && c.is_none() {
            return Err(v.error("must hold 'historical' or 'current'"));
        }
        Ok((h, c))
    };
    match v.kind() {
        usagi_types::JsonKind::Array => v.array_len(1, 100)?.items().iter().map(one).collect(),
        _ => Ok(vec![one(v)?]),
    }
}

/// Parses one licenseStatus object (a non-empty subset of the flags) into `(flag index, value)`.
pub fn license_flags(o: &JsonObject, at: &JsonValue) -> Result<Vec<(usize, bool)>, ApiError> {
    let mut flags = Vec::new();
    for (i, (name, alias, _)) in LICENSE_FLAGS.iter().enumerate() {
        let aliases: Vec<&str> = alias.iter().copied().collect();
        if let Some(v) = o.optional_alias(name, &aliases)? {
            flags.push((i, v.boolean()?));
        }
    }
    if flags.is_empty() {
        return Err(at.error("must hold at least one of: activated, expired, blocked, allowed"));
    }
    Ok(flags)
}

fn number_cond(o: &JsonObject, prop: &Prop, range: bool) -> Result<NumberCond, ApiError> {
    if range {
        let min = o.optional("min")?.map(|v| v.number()).transpose()?;
        let max = o.optional("max")?.map(|v| v.number()).transpose()?;
        if min.is_none() && max.is_none() {
            return Err(ApiError::syntax(format!("field '{}' needs 'min' or 'max'", o.path())));
        }
        return Ok(NumberCond::Range(min, max));
    }
    let v = o.required("value")?;
    if v.kind() == usagi_types::JsonKind::String {
        text_value(&v, prop)?;
        if v.string()? == NULL_TEXT {
            return Ok(NumberCond::IsNull);
        }
        return Err(v.error("must be a number or \"<NULL>\""));
    }
    Ok(NumberCond::Equals(v.number()?))
}

fn filter_date(v: &JsonValue, today: NaiveDate) -> Result<NaiveDate, ApiError> {
    let s = v.string().map_err(|_| v.error("must be a date written as YYYY-MM-DD, NOW or NOW-<n>"))?;
    parse_report_date(&s, today).map_err(|e| v.error(e))
}

fn date_cond(o: &JsonObject, prop: &Prop, range: bool, today: NaiveDate) -> Result<DateCond, ApiError> {
    if range {
        let min = o.optional("min")?.map(|v| filter_date(&v, today)).transpose()?;
        let max = o.optional("max")?.map(|v| filter_date(&v, today)).transpose()?;
        if min.is_none() && max.is_none() {
            return Err(ApiError::syntax(format!("field '{}' needs 'min' or 'max'", o.path())));
        }
        return Ok(DateCond::Range(min, max));
    }
    let v = o.required("value")?;
    if v.string().is_ok_and(|s| s == NULL_TEXT) {
        text_value(&v, prop)?;
    }
    Ok(DateCond::Equals(filter_date(&v, today)?))
}

/// The operators a property's type allows, in the order error messages list them.
fn operators(prop: &Prop) -> Vec<&'static str> {
    match prop.data_type {
        "string" if prop.regex => vec!["string", "stringArray", "regex"],
        "string" => vec!["string", "stringArray"],
        "number" => vec!["number", "numberRange"],
        "date" => vec!["date", "dateRange"],
        "boolean" => vec!["boolean"],
        _ => vec![],
    }
}

fn strings(v: &JsonValue, prop: &Prop, max: usize) -> Result<Vec<String>, ApiError> {
    v.array_len(1, max)?.items().iter().map(|x| text_value(x, prop)).collect()
}

fn parse_filter(name: &str, v: &JsonValue, ctx: &ReportContext) -> Result<Filter, ApiError> {
    match name {
        "licenseStatus" => {
            let objects = match v.kind() {
                usagi_types::JsonKind::Array => v.array_len(1, 100)?.items(),
                _ => vec![v.clone()],
            };
            let mut ors = Vec::new();
            for item in objects {
                let o = item.object()?;
                o.known_fields(&LICENSE_FIELDS)?;
                ors.push(license_flags(&o, &item)?);
            }
            return Ok(Filter::LicenseStatus(ors));
        }
        "optOut" => return Ok(Filter::OptOut(state_flags(v)?)),
        "backOff" => return Ok(Filter::BackOff(state_flags(v)?)),
        "reachOutDeliveries" => {
            // ReachOut is not implemented: every delivery history is empty (reporting-api §3.4).
            let mut any = false;
            for item in v.array_len(0, 100)?.items() {
                let o = item.object()?;
                let mut lists_delivered = false;
                for channel in ["auto", "manual"] {
                    if let Some(ch) = o.optional(channel)? {
                        let ch = ch.object()?;
                        for key in ["delivered", "undelivered"] {
                            if let Some(ids) = ch.optional(key)? {
                                let ids = ids.array_len(0, 1000)?;
                                for (_, id) in ids.iter() {
                                    id.string()?;
                                }
                                lists_delivered |= key == "delivered" && !ids.is_empty();
                            }
                        }
                    }
                }
                any |= !lists_delivered;
            }
            return Ok(Filter::Constant(any));
        }
        "lifetimeEventUsage" => {
            let items = match v.kind() {
                usagi_types::JsonKind::Array => v.array_len(1, 100)?.items(),
                _ => vec![v.clone()],
            };
            let mut conds = Vec::new();
            for item in items {
                let o = item.object()?;
                let selector = EventSelector::parse(&o)?;
                let min = o.optional("min")?.map(|m| m.integer_in(0, i64::MAX)).transpose()?;
                let max = o.optional("max")?.map(|m| m.integer_in(0, i64::MAX)).transpose()?;
                let min = match (min, max) {
                    (None, None) => 1,
                    (m, _) => m.unwrap_or(0),
                };
                conds.push(EventUsage { selector, min, max });
            }
            return Ok(Filter::EventUsage(conds));
        }
        _ => {}
    }
    if let Some((base, levels, case_insensitive)) = GRANULAR.iter().find(|(b, _, _)| *b == name) {
        let o = v.object()?;
        let mut allowed = vec!["type"];
        allowed.extend(levels.iter());
        o.known_fields(&allowed)?;
        let prop = find(base).ok_or_else(|| v.error("is not a known property"))?;
        let many = o.required("type")?.enum_of(&["string", "stringArray"])? == "stringArray";
        let mut out = Vec::new();
        for level in levels.iter() {
            if let Some(lv) = o.optional(level)? {
                let values = if many { strings(&lv, &prop, 1000)? } else { vec![text_value(&lv, &prop)?] };
                let values = if *case_insensitive { values.iter().map(|s| s.to_uppercase()).collect() } else { values };
                out.push((format!("{base}.{level}"), values));
            }
        }
        if out.is_empty() {
            return Err(v.error(format_args!("must hold at least one of: {}", levels.join(", "))));
        }
        return Ok(Filter::Granular { levels: out, case_insensitive: *case_insensitive });
    }
    let prop = find(name).ok_or_else(|| v.error("is not a known property"))?;
    if name == "licenseKey" && !ctx.license_keys {
        return Err(ApiError::forbidden("licenseKey requires the licenseKeys permission"));
    }
    let ops = operators(&prop);
    if ops.is_empty() || value_sql(name, "p").is_none() {
        return Err(v.error("is not a property that can be filtered on"));
    }
    let o = v.object()?;
    o.known_fields(&["type", "value", "min", "max"])?;
    let op = match o.optional("type")? {
        Some(t) => t.enum_of(&ops)?,
        // v2.0 habit: boolean filters without a type.
        None if prop.data_type == "boolean" => "boolean",
        None => return Err(ApiError::syntax(format!("field '{}.type' is required", o.path()))),
    };
    let name = name.to_string();
    Ok(match op {
        "string" => Filter::Text { name, cond: TextCond::AnyOf(vec![text_value(&o.required("value")?, &prop)?]) },
        "stringArray" => Filter::Text { name, cond: TextCond::AnyOf(strings(&o.required("value")?, &prop, 1000)?) },
        "regex" => Filter::Text { name, cond: TextCond::Regex(pattern::compile(&o.required("value")?)?) },
        "number" => Filter::Number { name, cond: number_cond(&o, &prop, false)? },
        "numberRange" => Filter::Number { name, cond: number_cond(&o, &prop, true)? },
        "date" => Filter::Date { name, cond: date_cond(&o, &prop, false, ctx.today)? },
        "dateRange" => Filter::Date { name, cond: date_cond(&o, &prop, true, ctx.today)? },
        _ => Filter::Bool { name, value: o.required("value")?.boolean()? },
    })
}

impl GlobalFilters {
    /// Parses `globalFilters` (absent, null or `{}` = no filter).
    pub fn parse(v: Option<JsonValue>, ctx: &ReportContext) -> Result<Self, ApiError> {
        let Some(v) = v else { return Ok(Self::default()) };
        let mut filters = Vec::new();
        for (name, value) in v.object()?.entries() {
            filters.push(parse_filter(&name, &value, ctx)?);
        }
        Ok(Self { filters })
    }

    /// Whether any filter reads the `clients` row `c`.
    pub fn uses_current(&self) -> bool {
        self.filters.iter().any(|f| match f {
            Filter::Text { name, .. }
            | Filter::Number { name, .. }
            | Filter::Date { name, .. }
            | Filter::Bool { name, .. } => value_sql(name, "p").is_some_and(|v| v.current),
            Filter::Granular { levels, .. } => levels.iter().any(|(n, _)| value_sql(n, "p").is_some_and(|v| v.current)),
            Filter::OptOut(_) => true,
            _ => false,
        })
    }

    /// Whether any filter reads a standard property (the reference-day row `p`).
    pub fn uses_standard(&self) -> bool {
        self.filters.iter().any(|f| match f {
            Filter::Text { name, .. }
            | Filter::Number { name, .. }
            | Filter::Date { name, .. }
            | Filter::Bool { name, .. } => value_sql(name, "p").is_some_and(|v| !v.current),
            Filter::Granular { levels, .. } => {
                levels.iter().any(|(n, _)| value_sql(n, "p").is_some_and(|v| !v.current))
            }
            Filter::LicenseStatus(_) => true,
            _ => false,
        })
    }

    /// Looks up what the filters need from the warehouse once per request: the values
    /// each regex matches and the events each lifetime condition counts.
    pub async fn prepare(&self, wh: &dyn Warehouse, ctx: &ReportContext) -> Result<Prepared, ApiError> {
        let mut prepared = Prepared::default();
        for (i, f) in self.filters.iter().enumerate() {
            match f {
                Filter::Text { name, cond: TextCond::Regex(re) } => {
                    let values = distinct_values(wh, ctx, name).await?;
                    prepared.matches.insert(i, values.into_iter().filter(|v| re.is_match(v)).collect());
                }
                Filter::EventUsage(conds) => {
                    let seen = distinct_events(wh, ctx).await?;
                    for (j, cond) in conds.iter().enumerate() {
                        let matched =
                            seen.iter().filter(|(c, n)| cond.selector.matches(c.as_deref(), n)).cloned().collect();
                        prepared.events.insert((i, j), matched);
                    }
                }
                _ => {}
            }
        }
        Ok(prepared)
    }

    /// The conjunction of all filters as SQL (`TRUE` without filters). Standard properties
    /// read the row aliased `std`; `c` is the `clients` row.
    pub fn sql(&self, prepared: &Prepared, ctx: &ReportContext, q: &mut Query, std: &str) -> String {
        let mut parts = Vec::new();
        for (i, f) in self.filters.iter().enumerate() {
            parts.push(filter_sql(i, f, prepared, ctx, q, std));
        }
        if parts.is_empty() {
            "TRUE".to_string()
        } else {
            parts.join(" AND ")
        }
    }
}

/// An event's `(category, name)`.
pub type EventName = (Option<String>, String);

/// Values looked up for a request's filters.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Per regex filter index: the values it matches (NULL as `<NULL>`).
    matches: HashMap<usize, Vec<String>>,
    /// Per (filter index, condition index): the events a lifetime condition counts.
    events: HashMap<(usize, usize), Vec<EventName>>,
}

/// Every value a property takes in the product's history, NULL as `<NULL>`.
pub async fn distinct_values(wh: &dyn Warehouse, ctx: &ReportContext, name: &str) -> Result<Vec<String>, ApiError> {
    let Some(v) = value_sql(name, "p") else { return Ok(Vec::new()) };
    let mut q = Query::new(wh.dialect());
    let product = q.bind(Param::Int(ctx.product.as_u64() as i64));
    let table = if v.current { "clients c" } else { "client_days p" };
    let alias = if v.current { "c" } else { "p" };
    let sql = format!("SELECT DISTINCT {} FROM {table} WHERE {alias}.product_id = {product}", as_text(&v));
    let rows = q.run(wh, sql).await?;
    Ok(rows.rows.iter().filter_map(|r| r.first().and_then(|v| v.as_str()).map(str::to_string)).collect())
}

async fn distinct_events(wh: &dyn Warehouse, ctx: &ReportContext) -> Result<Vec<EventName>, ApiError> {
    let mut q = Query::new(wh.dialect());
    let product = q.bind(Param::Int(ctx.product.as_u64() as i64));
    let sql = format!("SELECT DISTINCT category, name FROM client_events WHERE product_id = {product}");
    let rows = q.run(wh, sql).await?;
    Ok(rows.rows.iter().filter_map(|r| Some((r[0].as_str().map(str::to_string), r[1].as_str()?.to_string()))).collect())
}

fn in_list(q: &mut Query, expr: &str, values: &[String]) -> String {
    if values.is_empty() {
        return "FALSE".into();
    }
    if values.len() <= 64 {
        let binds: Vec<String> = values.iter().map(|v| q.bind(Param::Text(v.clone()))).collect();
        return format!("{expr} IN ({})", binds.join(", "));
    }
    let set = q.value_set(values.iter().cloned().map(Some).collect());
    format!("{expr} IN {set}")
}

/// `(historical, current)` of the back-off state as SQL over `{std}.client_id`.
pub fn back_off_sql(ctx: &ReportContext, q: &mut Query, std: &str) -> (String, String) {
    let ids = |pick: fn(&(u64, bool, bool)) -> bool| -> Vec<Option<String>> {
        ctx.back_off.clients.iter().filter(|c| pick(c)).map(|c| Some(c.0.to_string())).collect()
    };
    let member = |q: &mut Query, set: Vec<Option<String>>| {
        if set.is_empty() {
            "FALSE".to_string()
        } else {
            format!(
                "({std}.client_id IN (SELECT CAST(v AS UBIGINT) FROM {}))",
                q.table(vec!["v"], set.into_iter().map(|v| vec![v]).collect())
            )
        }
    };
    let historical = member(q, ids(|c| c.1));
    let current = if ctx.back_off.product_wide { "TRUE".to_string() } else { member(q, ids(|c| c.2)) };
    (historical, current)
}

fn state_sql(objects: &[StateFlags], historical: &str, current: &str) -> String {
    let ors: Vec<String> = objects
        .iter()
        .map(|(h, c)| {
            let mut ands = Vec::new();
            if let Some(h) = h {
                ands.push(format!("({historical}) = {h}"));
            }
            if let Some(c) = c {
                ands.push(format!("({current}) = {c}"));
            }
            format!("({})", ands.join(" AND "))
        })
        .collect();
    format!("({})", ors.join(" OR "))
}

fn column(name: &str, std: &str) -> ValueSql {
    value_sql(name, std).unwrap_or(ValueSql {
        expr: "CAST(NULL AS VARCHAR)".into(),
        kind: ValueKind::Text,
        current: false,
    })
}

fn filter_sql(i: usize, f: &Filter, prepared: &Prepared, ctx: &ReportContext, q: &mut Query, std: &str) -> String {
    match f {
        Filter::Text { name, cond } => {
            let v = column(name, std);
            let values = match cond {
                TextCond::AnyOf(values) => values.clone(),
                TextCond::Regex(_) => prepared.matches.get(&i).cloned().unwrap_or_default(),
            };
            in_list(q, &as_text(&v), &values)
        }
        Filter::Number { name, cond } => {
            let e = column(name, std).expr;
            match cond {
                NumberCond::Equals(x) => format!("{e} = {}", q.bind(Param::Float(*x))),
                NumberCond::IsNull => format!("{e} IS NULL"),
                NumberCond::Range(min, max) => range_sql(q, &e, min.map(Param::Float), max.map(Param::Float)),
            }
        }
        Filter::Date { name, cond } => {
            let e = column(name, std).expr;
            match cond {
                DateCond::Equals(d) => format!("{e} = {}", q.bind(Param::Date(*d))),
                DateCond::Range(min, max) => range_sql(q, &e, min.map(Param::Date), max.map(Param::Date)),
            }
        }
        Filter::Bool { name, value } => format!("{} = {value}", column(name, std).expr),
        Filter::LicenseStatus(ors) => {
            let ors: Vec<String> = ors
                .iter()
                .map(|ands| {
                    let ands: Vec<String> = ands
                        .iter()
                        .map(|(flag, want)| format!("{} = {want}", column(LICENSE_FLAGS[*flag].2, std).expr))
                        .collect();
                    format!("({})", ands.join(" AND "))
                })
                .collect();
            format!("({})", ors.join(" OR "))
        }
        Filter::Granular { levels, case_insensitive } => {
            let ors: Vec<String> = levels
                .iter()
                .map(|(name, values)| {
                    let text = as_text(&column(name, std));
                    let text = if *case_insensitive { format!("upper({text})") } else { text };
                    in_list(q, &text, values)
                })
                .collect();
            format!("({})", ors.join(" OR "))
        }
        Filter::OptOut(objects) => state_sql(objects, "c.opt_out_historical", "c.opt_out_current"),
        Filter::BackOff(objects) => {
            let (h, c) = back_off_sql(ctx, q, std);
            state_sql(objects, &h, &c)
        }
        Filter::EventUsage(conds) => {
            let ands: Vec<String> = conds
                .iter()
                .enumerate()
                .map(|(j, cond)| {
                    let matched = prepared.events.get(&(i, j)).cloned().unwrap_or_default();
                    if matched.is_empty() {
                        return range_sql(q, "0", Some(Param::Int(cond.min)), cond.max.map(Param::Int));
                    }
                    // Installations by their count of the matched events, without a correlated
                    // subquery (ClickHouse has none): those in range when 0 is out of range,
                    // else all but those out of range (an installation without the events
                    // counts 0).
                    let rows = matched.into_iter().map(|(c, n)| vec![c, Some(n)]).collect();
                    let t = q.table(vec!["category", "name"], rows);
                    let product = q.bind(Param::Int(ctx.product.as_u64() as i64));
                    let zero_in_range = cond.min <= 0 && cond.max.is_none_or(|m| m >= 0);
                    let in_range = range_sql(q, "sum(e.n)", Some(Param::Int(cond.min)), cond.max.map(Param::Int));
                    let counted = format!(
                        "SELECT e.client_id FROM client_events e JOIN {t} m ON e.name = m.name \
                         AND e.category IS NOT DISTINCT FROM m.category \
                         WHERE e.product_id = {product} GROUP BY e.client_id"
                    );
                    if zero_in_range {
                        format!("{std}.client_id NOT IN ({counted} HAVING NOT {in_range})")
                    } else {
                        format!("{std}.client_id IN ({counted} HAVING {in_range})")
                    }
                })
                .collect();
            format!("({})", ands.join(" AND "))
        }
        Filter::Constant(b) => b.to_string().to_uppercase(),
    }
}

fn range_sql(q: &mut Query, e: &str, min: Option<Param>, max: Option<Param>) -> String {
    let mut parts = Vec::new();
    if let Some(m) = min {
        parts.push(format!("{e} >= {}", q.bind(m)));
    }
    if let Some(m) = max {
        parts.push(format!("{e} <= {}", q.bind(m)));
    }
    format!("({})", parts.join(" AND "))
}
