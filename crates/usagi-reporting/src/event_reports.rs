//! Basic event tracking reports (reporting-api §11.1, §11.2; semantics §10.3–§10.5):
//! `basic/dataTable` and `basic/timeline`.
//!
//! Occurrences come from the `event_days` rollup (per installation, day and event: count and
//! numeric sum), joined to the report's population so filters apply per installation.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use serde_json::{json, Map, Value};
use usagi_types::{periods, ratio, ApiError, DateSplit, JsonObject, JsonValue, RangeRule, ReportRange};
use usagi_warehouse::{Param, Warehouse};

use crate::context::ReportContext;
use crate::event_tracking::{enabled, KnownEvent, Tier};
use crate::events::{EventPattern, EventSelector};
use crate::filters::{GlobalFilters, Prepared};
use crate::population::{period_rows_sql, Population, Who};
use crate::query::Query;

/// An event's `(category, name)`.
pub type EventKey = (Option<String>, String);

/// One item of an `events` array (reporting-api §5).
#[derive(Debug, Clone)]
pub enum EventItem {
    /// A single event, matched exactly.
    Single { category: Option<String>, name: String },
    /// A combination: the union of the distinct events its members match.
    Combi { label: String, selector: EventSelector },
}

impl EventItem {
    /// The events of `known` this item counts, restricted to `tier_events`.
    pub fn matched(&self, known: &[KnownEvent], tier_events: &HashSet<EventKey>) -> HashSet<EventKey> {
        known
            .iter()
            .map(|e| (e.flags.category.clone(), e.flags.name.clone()))
            .filter(|k| tier_events.contains(k))
            .filter(|(c, n)| match self {
                Self::Single { category, name } => c == category && n == name,
                Self::Combi { selector, .. } => selector.matches(c.as_deref(), n),
            })
            .collect()
    }

    /// How results echo the item: `"category","name"` or `"combiLabel"`.
    pub fn echo(&self, out: &mut Map<String, Value>) {
        match self {
            Self::Single { category, name } => {
                out.insert("category".into(), category.clone().map_or(Value::Null, Value::String));
                out.insert("name".into(), Value::String(name.clone()));
            }
            Self::Combi { label, .. } => {
                out.insert("combiLabel".into(), Value::String(label.clone()));
            }
        }
    }
}

/// Rows `(item index, category, name)` of an input table mapping each matched event to the
/// items that count it (an event may count for several items).
pub fn item_rows(matched: &[HashSet<EventKey>]) -> Vec<Vec<Option<String>>> {
    matched
        .iter()
        .enumerate()
        .flat_map(|(i, set)| set.iter().map(move |(c, n)| vec![Some(i.to_string()), c.clone(), Some(n.clone())]))
        .collect()
}

/// Parses `events`: 1–100 single events or combinations, combination labels unique.
pub fn parse_events(v: &JsonValue) -> Result<Vec<EventItem>, ApiError> {
    let mut items = Vec::new();
    let mut labels = HashSet::new();
    for (_, item) in v.array_len(1, 100)?.iter() {
        let o = item.object()?;
        if o.contains("combiArray") || o.contains("combiLabel") {
            o.known_fields(&["combiLabel", "combiArray"])?;
            let label_value = o.required("combiLabel")?;
            let label = label_value.string_len(1, 128)?;
            if !labels.insert(label.clone()) {
                return Err(label_value.error("repeats the label of an earlier combination"));
            }
            let mut members = Vec::new();
            for (_, m) in o.required("combiArray")?.array_len(1, 50)?.iter() {
                let mo = m.object()?;
                mo.known_fields(&["category", "name", "categoryType", "nameType"])?;
                members.push(EventPattern::parse(&mo)?);
            }
            items.push(EventItem::Combi { label, selector: EventSelector { members } });
        } else {
            o.known_fields(&["category", "name"])?;
            let category = o.required_nullable("category")?.map(|c| c.string()).transpose()?;
            let name = o.required("name")?.string()?;
            items.push(EventItem::Single { category, name });
        }
    }
    Ok(items)
}

fn range(body: &JsonObject, ctx: &ReportContext, rule: &RangeRule) -> Result<ReportRange, ApiError> {
    let start = body.required("startDate")?.report_date(ctx.today)?;
    let stop = body.required("stopDate")?.report_date(ctx.today)?;
    ReportRange::checked(start, stop, ctx.oldest_reported_date(), rule)
}

/// A validated `basic/dataTable` request.
#[derive(Debug)]
pub struct DataTableSpec {
    /// The range.
    pub range: ReportRange,
    /// Filters.
    pub filters: GlobalFilters,
}

impl DataTableSpec {
    /// Parses the request (reporting-api §11.1).
    pub fn parse(body: &JsonObject, ctx: &ReportContext) -> Result<Self, ApiError> {
        let range = range(body, ctx, &RangeRule::REPORT)?;
        let filters = GlobalFilters::parse(body.optional("globalFilters")?, ctx)?;
        body.accept_v2_fields(&ctx.product)?;
        body.finish()?;
        Ok(Self { range, filters })
    }
}

/// `numerator` per runtime hour, given the runtime in milliseconds.
///
/// Multiplies before dividing: `8.5 / (9_792_000 / 3_600_000)` is 3.1249999… in binary
/// because 2.72 h is not representable, while `8.5 * 3_600_000 / 9_792_000` is exactly the
/// tie 3.125, which the API rounds half away from zero to 3.13.
fn per_runtime_hour(numerator: f64, runtime_ms: f64) -> usagi_types::Float2 {
    ratio(numerator * 3_600_000.0, runtime_ms)
}

fn usage(n: f64, users: f64, sessions: f64) -> Value {
    json!({"cumulativeUsageCount": n as i64, "averageCountPerUser": ratio(n, users),
           "averageCountPerSession": ratio(n, sessions)})
}

fn custom(v: f64, users: f64, sessions: f64) -> Value {
    json!({"cumulativeCustomValues": usagi_types::Float2(v), "averageCustomValuesPerUser": ratio(v, users),
           "averageCustomValuesPerSession": ratio(v, sessions)})
}

/// Runs `basic/dataTable`: per category with occurrences in the range, a usage and a custom
/// value summary, and the same per basic event (semantics §10.4).
pub async fn data_table(
    wh: &dyn Warehouse,
    ctx: &ReportContext,
    spec: &DataTableSpec,
    known: &[KnownEvent],
) -> Result<Value, ApiError> {
    let prepared = spec.filters.prepare(wh, ctx).await?;
    let population = Population {
        start: spec.range.start(),
        stop: spec.range.stop(),
        who: Who::Active,
        filters: &spec.filters,
        prepared: &prepared,
        levels: &[],
    };
    let mut q = Query::new(wh.dialect());
    let u = population.sql(&mut q, ctx);
    let product = q.bind(Param::Int(ctx.product.as_u64() as i64));
    let s = q.bind(Param::Date(spec.range.start()));
    let e = q.bind(Param::Date(spec.range.stop().min(ctx.today)));
    let sql = format!(
        "WITH u AS ({u}), \
         totals AS (SELECT (SELECT count(*) FROM u) AS users, \
                (SELECT CAST(coalesce(sum(cd.sessions), 0) AS DOUBLE) FROM client_days cd JOIN u \
                 ON cd.client_id = u.client_id WHERE cd.product_id = {product} AND cd.day BETWEEN {s} AND {e}) AS sessions) \
         SELECT NULL AS category, '' AS name, users, sessions, NULL AS flag FROM totals \
         UNION ALL \
         SELECT ev.category, ev.name, sum(ev.n), CAST(sum(ev.value_sum) AS DOUBLE), true FROM event_days ev \
         JOIN u ON ev.client_id = u.client_id \
         WHERE ev.product_id = {product} AND ev.day BETWEEN {s} AND {e} GROUP BY 1, 2"
    );
    let rows = q.run(wh, sql).await?;
    let basic = enabled(known, Tier::Basic);
    let (mut users, mut sessions) = (0.0, 0.0);
    // category → name → (n, value sum)
    let mut table: BTreeMap<Option<String>, BTreeMap<String, (f64, f64)>> = BTreeMap::new();
    for r in rows.rows {
        if r[4].is_null() {
            users = r[2].as_f64().unwrap_or(0.0);
            sessions = r[3].as_f64().unwrap_or(0.0);
            continue;
        }
        let (category, Some(name)) = (r[0].as_str().map(str::to_string), r[1].as_str().map(str::to_string)) else {
            continue;
        };
        if !basic.contains(&(category.clone(), name.clone())) {
            continue;
        }
        let n = r[2].as_f64().unwrap_or(0.0);
        if n > 0.0 {
            table.entry(category).or_default().insert(name, (n, r[3].as_f64().unwrap_or(0.0)));
        }
    }
    let mut result = Vec::new();
    for (category, events) in table {
        let (n, v) = events.values().fold((0.0, 0.0), |(a, b), (n, v)| (a + n, b + v));
        let mut data = Map::new();
        for (name, (n, v)) in &events {
            data.insert(
                name.clone(),
                json!({"eventUsage": usage(*n, users, sessions), "eventCustomValues": custom(*v, users, sessions)}),
            );
        }
        let mut m = Map::new();
        m.insert("category".into(), category.map_or(Value::Null, Value::String));
        m.insert("categoryUsageSummary".into(), usage(n, users, sessions));
        m.insert("categoryCustomValuesSummary".into(), custom(v, users, sessions));
        m.insert("categoryEventsData".into(), Value::Object(data));
        result.push(Value::Object(m));
    }
    Ok(json!({ "result": result }))
}

/// `dataView` of the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataView {
    /// Occurrences.
    UsageCount,
    /// Sum of numeric values.
    CustomValues,
}

/// `divisor` of the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Divisor {
    /// Active installations of the period.
    Users,
    /// Sessions started in the period.
    Sessions,
    /// Runtime hours of the period.
    Runtime,
    /// Occurrences of the item in the period (with `customValues` only).
    UsageCounts,
}

/// A validated `basic/timeline` request.
#[derive(Debug)]
pub struct TimelineSpec {
    /// The range.
    pub range: ReportRange,
    /// The split.
    pub split: DateSplit,
    /// Numerator.
    pub view: DataView,
    /// Denominator.
    pub divisor: Option<Divisor>,
    /// The items, in request order.
    pub events: Vec<EventItem>,
    /// Filters.
    pub filters: GlobalFilters,
}

impl TimelineSpec {
    /// Parses the request (reporting-api §11.2).
    pub fn parse(body: &JsonObject, ctx: &ReportContext) -> Result<Self, ApiError> {
        let start = body.required("startDate")?.report_date(ctx.today)?;
        let stop = body.required("stopDate")?.report_date(ctx.today)?;
        let split = body.required("dateSplit")?.one_of(&[
            ("day", DateSplit::Day),
            ("week", DateSplit::Week),
            ("month", DateSplit::Month),
        ])?;
        let view = body
            .optional("dataView")?
            .map(|v| {
                v.one_of_or_alias(
                    &[("usageCount", DataView::UsageCount), ("customValues", DataView::CustomValues)],
                    &[("usageCounts", DataView::UsageCount)],
                )
            })
            .transpose()?
            .unwrap_or(DataView::UsageCount);
        let divisor_value = body.optional("divisor")?;
        let divisor = divisor_value
            .as_ref()
            .map(|v| {
                v.one_of_or_alias(
                    &[
                        ("users", Divisor::Users),
                        ("sessions", Divisor::Sessions),
                        ("runtime", Divisor::Runtime),
                        ("usageCounts", Divisor::UsageCounts),
                    ],
                    &[("usageCount", Divisor::UsageCounts)],
                )
            })
            .transpose()?;
        if divisor == Some(Divisor::UsageCounts) && view != DataView::CustomValues {
            if let Some(v) = divisor_value {
                return Err(v.error("can be usageCounts only with dataView customValues"));
            }
        }
        let events = parse_events(&body.required("events")?)?;
        let filters = GlobalFilters::parse(body.optional("globalFilters")?, ctx)?;
        body.accept_v2_fields(&ctx.product)?;
        body.finish()?;
        let rule = if split == DateSplit::Day { RangeRule::REPORT_DAY_SPLIT } else { RangeRule::REPORT };
        let range = ReportRange::checked(start, stop, ctx.oldest_reported_date(), &rule)?;
        Ok(Self { range, split, view, divisor, events, filters })
    }
}

/// Runs `basic/timeline`: every period, one entry per item in request order (semantics §10.5).
pub async fn timeline(
    wh: &dyn Warehouse,
    ctx: &ReportContext,
    spec: &TimelineSpec,
    known: &[KnownEvent],
) -> Result<Value, ApiError> {
    let prepared: Prepared = spec.filters.prepare(wh, ctx).await?;
    let basic = enabled(known, Tier::Basic);
    let matched: Vec<HashSet<EventKey>> = spec.events.iter().map(|i| i.matched(known, &basic)).collect();
    let all: HashSet<&EventKey> = matched.iter().flatten().collect();
    let mut q = Query::new(wh.dialect());
    let u = period_rows_sql(&mut q, ctx, spec.range.start(), spec.range.stop(), spec.split, &spec.filters, &prepared);
    let d = q.dialect();
    let product = q.bind(Param::Int(ctx.product.as_u64() as i64));
    let s = q.bind(Param::Date(spec.range.start()));
    let e = q.bind(Param::Date(spec.range.stop().min(ctx.today)));
    let key = |col: &str| match spec.split {
        DateSplit::Day => col.to_string(),
        DateSplit::Week => d.week_start(col),
        DateSplit::Month => d.month_start(col),
    };
    let rows: Vec<Vec<Option<String>>> = all.iter().map(|(c, n)| vec![c.clone(), Some(n.clone())]).collect();
    // Without filters every installation with an occurrence on a day is active that day
    // (an event is evidence), so U_P needs no join: that keeps a year of daily periods a scan.
    let filtered = !spec.filters.filters.is_empty();
    let (with_u, join_u) = if filtered {
        (format!("WITH u AS ({u}) "), format!("JOIN u ON u.client_id = ev.client_id AND u.k = {}", key("ev.day")))
    } else {
        (String::new(), String::new())
    };
    let events_sql = if rows.is_empty() {
        "SELECT CAST(NULL AS DATE), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(0 AS BIGINT), \
         CAST(0 AS DOUBLE), true WHERE false"
            .to_string()
    } else {
        let t = q.table(vec!["category", "name"], rows);
        // Unfiltered, the per-day totals of all installations are the answer.
        // Filtered, the installations of U_P are joined on first (one join per SELECT, as
        // ClickHouse 18.16 requires).
        let table = if filtered {
            format!(
                "(SELECT ev.* FROM event_days ev {join_u} \
                  WHERE ev.product_id = {product} AND ev.day BETWEEN {s} AND {e})"
            )
        } else {
            "event_totals".to_string()
        };
        format!(
            "SELECT {k}, ev.category, ev.name, sum(ev.n), CAST(sum(ev.value_sum) AS DOUBLE), true FROM {table} ev \
             JOIN {t} m ON ev.name = m.name AND ev.category IS NOT DISTINCT FROM m.category \
             WHERE ev.product_id = {product} AND ev.day BETWEEN {s} AND {e} GROUP BY 1, 2, 3",
            k = key("ev.day")
        )
    };
    let population_sql = if filtered {
        format!(
            "SELECT u.k, NULL, NULL, count(*), NULL, NULL FROM u GROUP BY 1 \
             UNION ALL \
             SELECT {k}, NULL, NULL, sum(cd.sessions), CAST(sum(cd.runtime_ms) AS DOUBLE), false FROM client_days cd \
             JOIN u ON cd.client_id = u.client_id AND u.k = {k} \
             WHERE cd.product_id = {product} AND cd.day BETWEEN {s} AND {e} GROUP BY 1",
            k = key("cd.day")
        )
    } else {
        let users = if spec.split == DateSplit::Day { "count(*)" } else { "count(DISTINCT cd.client_id)" };
        format!(
            "SELECT {k}, NULL, NULL, {users}, NULL, NULL FROM client_days cd \
             WHERE cd.product_id = {product} AND cd.day BETWEEN {s} AND {e} GROUP BY 1 \
             UNION ALL \
             SELECT {k}, NULL, NULL, sum(cd.sessions), CAST(sum(cd.runtime_ms) AS DOUBLE), false FROM client_days cd \
             WHERE cd.product_id = {product} AND cd.day BETWEEN {s} AND {e} GROUP BY 1",
            k = key("cd.day")
        )
    };
    let sql = format!("{with_u}{population_sql} UNION ALL {events_sql}");
    let result_rows = q.run(wh, sql).await?;
    let mut users: HashMap<NaiveDate, f64> = HashMap::new();
    let mut sessions: HashMap<NaiveDate, (f64, f64)> = HashMap::new();
    let mut occurrences: HashMap<(NaiveDate, EventKey), (f64, f64)> = HashMap::new();
    for r in result_rows.rows {
        let Some(k) = r[0].as_date() else { continue };
        match r[5].as_bool() {
            None => {
                users.insert(k, r[3].as_f64().unwrap_or(0.0));
            }
            Some(false) => {
                sessions.insert(k, (r[3].as_f64().unwrap_or(0.0), r[4].as_f64().unwrap_or(0.0)));
            }
            Some(true) => {
                let (Some(name), category) = (r[2].as_str().map(str::to_string), r[1].as_str().map(str::to_string))
                else {
                    continue;
                };
                occurrences.insert((k, (category, name)), (r[3].as_f64().unwrap_or(0.0), r[4].as_f64().unwrap_or(0.0)));
            }
        }
    }
    let mut result = Map::new();
    for period in periods(spec.range.start(), spec.range.stop(), Some(spec.split)) {
        let k = period.key;
        let mut entries = Vec::new();
        for (item, events) in spec.events.iter().zip(&matched) {
            let (n, v) = events
                .iter()
                .filter_map(|ev| occurrences.get(&(k, ev.clone())))
                .fold((0.0, 0.0), |(a, b), (n, v)| (a + n, b + v));
            let numerator = if spec.view == DataView::UsageCount { n } else { v };
            let value = match spec.divisor {
                None if spec.view == DataView::UsageCount => Value::from(n as i64),
                None => json!(usagi_types::Float2(v)),
                Some(Divisor::Users) => json!(ratio(numerator, users.get(&k).copied().unwrap_or(0.0))),
                Some(Divisor::Sessions) => json!(ratio(numerator, sessions.get(&k).map_or(0.0, |s| s.0))),
                Some(Divisor::Runtime) => json!(per_runtime_hour(numerator, sessions.get(&k).map_or(0.0, |s| s.1))),
                Some(Divisor::UsageCounts) => json!(ratio(numerator, n)),
            };
            let mut m = Map::new();
            item.echo(&mut m);
            m.insert("value".into(), value);
            entries.push(Value::Object(m));
        }
        result.insert(k.format("%Y-%m-%d").to_string(), Value::Array(entries));
    }
    Ok(json!({ "result": result }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_per_runtime_hour_that_is_a_decimal_tie_rounds_up() {
        // 8.5 over 2 h 43 min 12 s (2.72 h) is exactly 3.125: a tie, rounded away from zero.
        assert_eq!(per_runtime_hour(8.5, 9_792_000.0).rounded(), 3.13);
        // No runtime gives 0.0, as every other divisor does.
        assert_eq!(per_runtime_hour(8.5, 0.0).rounded(), 0.0);
        assert_eq!(per_runtime_hour(3.0, 5_400_000.0).rounded(), 2.0);
    }
}
