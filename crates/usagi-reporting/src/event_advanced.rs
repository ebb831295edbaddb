//! The advanced event report `eventTracking/advanced/fullReport` (reporting-api §11.3,
//! semantics §10.3, §10.6, §10.7, §9.3).

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};
use usagi_types::{ratio, ApiError, JsonObject, RangeRule, ReportRange};
use usagi_warehouse::{Param, Warehouse};

use crate::context::ReportContext;
use crate::event_reports::{item_rows, parse_events, EventItem, EventKey};
use crate::event_tracking::{enabled, KnownEvent, Tier};
use crate::filters::GlobalFilters;
use crate::population::{Population, Who};
use crate::query::Query;
use crate::segments::{parse_segment_by, KeyOrder, Level};

/// `usageFrequency` bins (semantics §9.3): inclusive lower and upper bounds, and labels.
const FREQUENCY_BINS: [(i64, i64, &str); 10] = [
    (1, 1, "1"),
    (2, 2, "2"),
    (3, 3, "3"),
    (4, 5, "4 - 5"),
    (6, 10, "6 - 10"),
    (11, 20, "11 - 20"),
    (21, 50, "21 - 50"),
    (51, 100, "51 - 100"),
    (101, 500, "101 - 500"),
    (501, i64::MAX, "\u{2265} 501"),
];

/// Sort order of the elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// By (category, name), or (combiLabel, ""), code point order.
    Alpha,
    /// By eventCounts.
    EventCounts,
}

/// A validated fullReport request.
#[derive(Debug)]
pub struct FullReportSpec {
    /// The range.
    pub range: ReportRange,
    /// Requested items; None = every advanced event used by the population.
    pub events: Option<Vec<EventItem>>,
    /// Filters.
    pub filters: GlobalFilters,
    /// Segmentation.
    pub segment: Option<Level>,
    /// Sort key.
    pub sort: Sort,
    /// true = descending.
    pub descending: bool,
}

impl FullReportSpec {
    /// Parses the request.
    pub fn parse(body: &JsonObject, ctx: &ReportContext) -> Result<Self, ApiError> {
        let start = body.required("startDate")?.report_date(ctx.today)?;
        let stop = body.required("stopDate")?.report_date(ctx.today)?;
        let events = body.optional("events")?.map(|v| parse_events(&v)).transpose()?;
        let filters = GlobalFilters::parse(body.optional("globalFilters")?, ctx)?;
        let segment = parse_segment_by(body, ctx, false)?;
        let sort = body
            .optional("sort")?
            .map(|v| v.one_of(&[("alpha", Sort::Alpha), ("eventCounts", Sort::EventCounts)]))
            .transpose()?
            .unwrap_or(Sort::Alpha);
        let descending = match body.optional("sortDirection")? {
            Some(v) => v.enum_of(&["asc", "desc"])? == "desc",
            None => sort == Sort::EventCounts,
        };
        body.accept_v2_fields(&ctx.product)?;
        body.finish()?;
        let range = ReportRange::checked(start, stop, ctx.oldest_reported_date(), &RangeRule::REPORT)?;
        Ok(Self { range, events, filters, segment, sort, descending })
    }
}

/// Per segment key: population totals and, per item, per-user count → (users, their sessions).
#[derive(Default)]
struct SegmentTally {
    order: Option<KeyOrder>,
    users: f64,
    sessions: f64,
    per_item: HashMap<usize, HashMap<i64, (f64, f64)>>,
}

/// Runs fullReport.
pub async fn full_report(
    wh: &dyn Warehouse,
    ctx: &ReportContext,
    spec: &FullReportSpec,
    known: &[KnownEvent],
) -> Result<Value, ApiError> {
    let prepared = spec.filters.prepare(wh, ctx).await?;
    let advanced = enabled(known, Tier::Advanced);
    let items: Vec<EventItem> = match &spec.events {
        Some(items) => items.clone(),
        None => {
            let mut keys: Vec<&EventKey> = advanced.iter().collect();
            keys.sort_by(|a, b| (a.0.as_deref().unwrap_or(""), &a.1).cmp(&(b.0.as_deref().unwrap_or(""), &b.1)));
            keys.into_iter().map(|(c, n)| EventItem::Single { category: c.clone(), name: n.clone() }).collect()
        }
    };
    let matched: Vec<HashSet<EventKey>> = items.iter().map(|i| i.matched(known, &advanced)).collect();
    let levels: Vec<Level> = spec.segment.iter().cloned().collect();
    let population = Population {
        start: spec.range.start(),
        stop: spec.range.stop(),
        who: Who::Active,
        filters: &spec.filters,
        prepared: &prepared,
        levels: &levels,
    };
    let mut q = Query::new(wh.dialect());
    let u = population.sql(&mut q, ctx);
    let product = q.bind(Param::Int(ctx.product.as_u64() as i64));
    let s = q.bind(Param::Date(spec.range.start()));
    let e = q.bind(Param::Date(spec.range.stop().min(ctx.today)));
    let width = levels.first().map_or(0, Level::width);
    let cells: String = (0..width).map(|i| format!(", u.g{i}")).collect();
    let mapping = item_rows(&matched);
    let item_rows = if mapping.is_empty() {
        String::new()
    } else {
        let t = q.table(vec!["item", "category", "name"], mapping);
        // One join per SELECT (ClickHouse 18.16): the population's cells are joined on first.
        let inner_cells: String = (0..width).map(|i| format!(", u.g{i} AS g{i}")).collect();
        let outer_cells: String = (0..width).map(|i| format!(", ue.g{i}")).collect();
        format!(
            " UNION ALL SELECT 1, CAST(ue.item AS INTEGER), ue.n, count(*), coalesce(sum(us.s), 0){outer_cells} \
             FROM (SELECT ue.client_id AS client_id, ue.item AS item, ue.n AS n{inner_cells} \
                   FROM (SELECT ev.client_id AS client_id, m.item AS item, sum(ev.n) AS n FROM event_days ev \
                         JOIN {t} m ON ev.name = m.name AND ev.category IS NOT DISTINCT FROM m.category \
                         WHERE ev.product_id = {product} AND ev.day BETWEEN {s} AND {e} GROUP BY 1, 2) ue \
                   JOIN u ON ue.client_id = u.client_id) ue \
             LEFT JOIN us ON us.client_id = ue.client_id \
             GROUP BY 2, 3{outer_cells}"
        )
    };
    let sql = format!(
        "WITH u AS ({u}), \
         us AS (SELECT cd.client_id, sum(cd.sessions) AS s FROM client_days cd JOIN u ON cd.client_id = u.client_id \
                WHERE cd.product_id = {product} AND cd.day BETWEEN {s} AND {e} GROUP BY 1) \
         SELECT 0, CAST(NULL AS INTEGER), CAST(NULL AS BIGINT), count(*), coalesce(sum(us.s), 0){cells} \
         FROM u LEFT JOIN us ON us.client_id = u.client_id GROUP BY 1, 2, 3{cells}{item_rows}"
    );
    let rows = q.run(wh, sql).await?;
    let mut tallies: HashMap<String, SegmentTally> = HashMap::new();
    for r in rows.rows {
        let keys: Vec<(String, KeyOrder)> = match levels.first() {
            Some(level) => level.keys(&r[5..]),
            None => vec![("all".to_string(), (0, String::new()))],
        };
        let users = r[3].as_f64().unwrap_or(0.0);
        let sessions = r[4].as_f64().unwrap_or(0.0);
        for (key, order) in keys {
            let t = tallies.entry(key).or_default();
            t.order = Some(t.order.clone().map_or(order.clone(), |o| o.min(order)));
            match (r[1].as_i64(), r[2].as_i64()) {
                (Some(item), Some(n)) => {
                    let cell = t.per_item.entry(item as usize).or_default().entry(n).or_default();
                    cell.0 += users;
                    cell.1 += sessions;
                }
                _ => {
                    t.users += users;
                    t.sessions += sessions;
                }
            }
        }
    }
    // Without `events`, only advanced events the population used are listed.
    let used: HashSet<usize> = tallies.values().flat_map(|t| t.per_item.keys().copied()).collect();
    let listed: Vec<usize> = (0..items.len()).filter(|i| spec.events.is_some() || used.contains(i)).collect();
    let elements = |t: &SegmentTally| -> Vec<Value> {
        let mut out: Vec<(Value, f64)> = listed
            .iter()
            .map(|&i| {
                let counts = t.per_item.get(&i);
                let (mut n, mut users_x, mut sessions_x) = (0.0, 0.0, 0.0);
                let mut bins = [0i64; FREQUENCY_BINS.len()];
                for (&count, &(users, sessions)) in counts.into_iter().flatten() {
                    n += count as f64 * users;
                    users_x += users;
                    sessions_x += sessions;
                    if let Some(b) = FREQUENCY_BINS.iter().position(|(lo, hi, _)| count >= *lo && count <= *hi) {
                        bins[b] += users as i64;
                    }
                }
                let mut m = Map::new();
                items[i].echo(&mut m);
                m.insert("eventCounts".into(), Value::from(n as i64));
                m.insert("uniqueUsersUsedAtLeastOnce".into(), Value::from(users_x as i64));
                m.insert("uniqueUsersNeverUsed".into(), Value::from((t.users - users_x).max(0.0) as i64));
                m.insert("averageEventCountPerUserAtLeastOnce".into(), json!(ratio(n, users_x)));
                m.insert("averageEventCountPerUserAll".into(), json!(ratio(n, t.users)));
                m.insert("averageEventCountPerSessionUsedAtLeastOnce".into(), json!(ratio(n, sessions_x)));
                m.insert("averageEventCountPerSessionAll".into(), json!(ratio(n, t.sessions)));
                let freq: Map<String, Value> = FREQUENCY_BINS
                    .iter()
                    .zip(bins)
                    .map(|((_, _, label), c)| (label.to_string(), Value::from(c)))
                    .collect();
                m.insert("usageFrequency".into(), Value::Object(freq));
                (Value::Object(m), n)
            })
            .collect();
        let alpha = |v: &Value| -> (String, String) {
            match v.get("combiLabel").and_then(Value::as_str) {
                Some(l) => (l.to_string(), String::new()),
                None => (
                    v.get("category").and_then(Value::as_str).unwrap_or("").to_string(),
                    v.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
                ),
            }
        };
        // Stable sorts: ties keep request order.
        match (spec.sort, spec.descending) {
            (Sort::Alpha, false) => out.sort_by_key(|a| alpha(&a.0)),
            (Sort::Alpha, true) => out.sort_by_key(|a| std::cmp::Reverse(alpha(&a.0))),
            (Sort::EventCounts, false) => out.sort_by(|a, b| a.1.total_cmp(&b.1)),
            (Sort::EventCounts, true) => out.sort_by(|a, b| b.1.total_cmp(&a.1)),
        }
        out.into_iter().map(|(v, _)| v).collect()
    };
    let result = match levels.first() {
        None => Value::Array(tallies.get("all").map(&elements).unwrap_or_else(|| elements(&SegmentTally::default()))),
        Some(level) => {
            let empty = SegmentTally::default();
            let mut keys: Vec<(KeyOrder, String)> =
                tallies.iter().map(|(k, t)| (t.order.clone().unwrap_or_default(), k.clone())).collect();
            for (k, o) in level.fixed_keys() {
                match keys.iter_mut().find(|(_, key)| *key == k) {
                    Some(entry) => entry.0 = entry.0.clone().min(o),
                    None => keys.push((o, k)),
                }
            }
            keys.sort();
            let mut m = Map::new();
            for (_, k) in keys {
                m.insert(k.clone(), Value::Array(elements(tallies.get(&k).unwrap_or(&empty))));
            }
            Value::Object(m)
        }
    };
    Ok(json!({ "result": result }))
}
