//! Lifetime event reports (reporting-api §11.4–§11.7, semantics §10.8, §9.3): the data table
//! and the histograms, over the units active in the range or (churn variants) lost in it.
//!
//! Counts are all-time (`client_events`); lifetime active days, ISO weeks and months come
//! from every active day of a unit's members: their `client_days` rows and the days retention
//! purged (`purged_days`).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Map, Value};
use usagi_types::{ratio, round_half_away, ApiError, JsonKind, JsonObject, JsonValue, RangeRule, ReportRange};
use usagi_warehouse::{Param, Warehouse};

use crate::context::ReportContext;
use crate::event_reports::{item_rows, parse_events, EventItem, EventKey};
use crate::event_tracking::{enabled, KnownEvent, Tier};
use crate::filters::GlobalFilters;
use crate::generic::{parse_group_by, GroupBy};
use crate::population::{Population, Who};
use crate::query::Query;
use crate::segments::{parse_segment_by, KeyOrder, Level};

/// Which population a lifetime report counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cohort {
    /// Units active in the range (§11.4, §11.5).
    Active(GroupBy),
    /// Installations lost in the range (§11.6, §11.7).
    Lost { days_until_lost: u32, declared: bool },
}

/// What every lifetime report shares.
#[derive(Debug)]
pub struct LifetimeBase {
    /// The range.
    pub range: ReportRange,
    /// The population.
    pub cohort: Cohort,
    /// Filters.
    pub filters: GlobalFilters,
    /// Requested items (None = every advanced event the population ever used).
    pub events: Option<Vec<EventItem>>,
}

impl LifetimeBase {
    fn parse(body: &JsonObject, ctx: &ReportContext, churn: bool) -> Result<Self, ApiError> {
        let start = body.required("startDate")?.report_date(ctx.today)?;
        let stop = body.required("stopDate")?.report_date(ctx.today)?;
        let cohort = if churn {
            let days = match body.optional("daysUntilDeclaredLost")? {
                Some(v) => v.integer_in(1, 365)? as u32,
                None => ctx.days_until_declared_lost,
            };
            let declared = body
                .optional("dateReportedLost")?
                .map(|v| v.one_of(&[("dateLastSeen", false), ("dateDeclaredLost", true)]))
                .transpose()?
                .unwrap_or(false);
            Cohort::Lost { days_until_lost: days, declared }
        } else {
            Cohort::Active(parse_group_by(body, ctx)?)
        };
        let filters = GlobalFilters::parse(body.optional("globalFilters")?, ctx)?;
        let events = body.optional("events")?.map(|v| parse_events(&v)).transpose()?;
        let range = ReportRange::checked(start, stop, ctx.oldest_reported_date(), &RangeRule::REPORT)?;
        Ok(Self { range, cohort, filters, events })
    }
}

/// Per unit: lifetime active days, weeks, months, and per item its all-time count.
struct Unit {
    keys: Vec<(String, KeyOrder)>,
    days: f64,
    weeks: f64,
    months: f64,
    counts: HashMap<usize, f64>,
}

/// The population's units with their lifetime measures, and the items to report.
async fn units(
    wh: &dyn Warehouse,
    ctx: &ReportContext,
    base: &LifetimeBase,
    segment: Option<&Level>,
    known: &[KnownEvent],
) -> Result<(Vec<EventItem>, Vec<Unit>), ApiError> {
    let prepared = base.filters.prepare(wh, ctx).await?;
    let advanced = enabled(known, Tier::Advanced);
    let (items, explicit) = match &base.events {
        Some(items) => (items.clone(), true),
        None => {
            let mut keys: Vec<&EventKey> = advanced.iter().collect();
            keys.sort_by(|a, b| (a.0.as_deref().unwrap_or(""), &a.1).cmp(&(b.0.as_deref().unwrap_or(""), &b.1)));
            (keys.into_iter().map(|(c, n)| EventItem::Single { category: c.clone(), name: n.clone() }).collect(), false)
        }
    };
    let matched: Vec<HashSet<EventKey>> = items.iter().map(|i| i.matched(known, &advanced)).collect();
    let levels: Vec<Level> = segment.into_iter().cloned().collect();
    let who = match base.cohort {
        Cohort::Active(_) => Who::Active,
        Cohort::Lost { days_until_lost, declared } => Who::Lost { days_until_lost, declared },
    };
    let population = Population {
        start: base.range.start(),
        stop: base.range.stop(),
        who,
        filters: &base.filters,
        prepared: &prepared,
        levels: &levels,
    };
    let mut q = Query::new(wh.dialect());
    let d = q.dialect();
    let u = population.sql(&mut q, ctx);
    let product = q.bind(Param::Int(ctx.product.as_u64() as i64));
    let unit = match &base.cohort {
        Cohort::Active(GroupBy::MachineId) => "c.machine_id".to_string(),
        Cohort::Active(GroupBy::LicenseKey) => "c.license_key".to_string(),
        Cohort::Active(GroupBy::Custom(n)) => format!("c.c{n:02}"),
        _ => "CAST(c.client_id AS VARCHAR)".to_string(),
    };
    let width = levels.first().map_or(0, Level::width);
    let cells: String = (0..width).map(|i| format!(", uu.g{i}")).collect();
    let u_cells: String = (0..width).map(|i| format!(", u.g{i}")).collect();
    let mapping = item_rows(&matched);
    let counts = if mapping.is_empty() {
        "SELECT CAST(NULL AS VARCHAR) AS unit, CAST(NULL AS INTEGER) AS item_no, CAST(NULL AS BIGINT) AS n WHERE false"
            .to_string()
    } else {
        let t = q.table(vec!["item", "category", "name"], mapping);
        // One join per SELECT (ClickHouse 18.16): the units are joined onto the events first.
        format!(
            "SELECT ce.unit, CAST(t.item AS INTEGER) AS item_no, sum(ce.n) AS n \
             FROM (SELECT ce.category AS category, ce.name AS name, ce.n AS n, m.unit AS unit FROM client_events ce \
                   JOIN (SELECT DISTINCT client_id, unit FROM uu) m ON ce.client_id = m.client_id \
                   WHERE ce.product_id = {product}) ce \
             JOIN {t} t ON ce.name = t.name AND ce.category IS NOT DISTINCT FROM t.category \
             GROUP BY 1, 2"
        )
    };
    let sql = format!(
        "WITH u AS ({u}), \
         uu AS (SELECT u.client_id, {unit} AS unit{u_cells} FROM u JOIN clients c ON c.product_id = {product} \
                AND c.client_id = u.client_id WHERE {unit} IS NOT NULL), \
         act AS (SELECT m.unit, count(DISTINCT cd.day) AS days, count(DISTINCT {week}) AS weeks, \
                 count(DISTINCT {month}) AS months \
                 FROM (SELECT product_id, client_id, day FROM client_days \
                       UNION ALL SELECT product_id, client_id, day FROM purged_days) cd \
                 JOIN (SELECT DISTINCT client_id, unit FROM uu) m ON cd.client_id = m.client_id \
                 WHERE cd.product_id = {product} GROUP BY 1), \
         cnt AS ({counts}) \
         SELECT DISTINCT uu.unit, act.days, act.weeks, act.months, CAST(NULL AS INTEGER), CAST(NULL AS BIGINT){cells} \
         FROM uu JOIN act ON act.unit = uu.unit \
         UNION ALL SELECT cnt.unit, NULL, NULL, NULL, cnt.item_no, cnt.n{null_cells} FROM cnt",
        week = d.week_start("cd.day"),
        month = d.month_start("cd.day"),
        null_cells = ", NULL".repeat(width),
    );
    let rows = q.run(wh, sql).await?;
    let mut by_unit: BTreeMap<String, Unit> = BTreeMap::new();
    for r in rows.rows {
        let Some(name) = r[0].as_str().map(str::to_string) else { continue };
        let entry = by_unit.entry(name).or_insert_with(|| Unit {
            keys: Vec::new(),
            days: 0.0,
            weeks: 0.0,
            months: 0.0,
            counts: HashMap::new(),
        });
        match (r[4].as_i64(), r[5].as_f64()) {
            (Some(item), Some(n)) => {
                entry.counts.insert(item as usize, n);
            }
            _ => {
                entry.days = r[1].as_f64().unwrap_or(0.0);
                entry.weeks = r[2].as_f64().unwrap_or(0.0);
                entry.months = r[3].as_f64().unwrap_or(0.0);
                let keys = match levels.first() {
                    Some(level) => level.keys(&r[6..]),
                    None => Vec::new(),
                };
                for (k, o) in keys {
                    match entry.keys.iter_mut().find(|(key, _)| *key == k) {
                        Some((_, order)) => *order = order.clone().min(o),
                        None => entry.keys.push((k, o)),
                    }
                }
            }
        }
    }
    // Units that are in the population (a count row alone is not membership).
    let units: Vec<Unit> = by_unit.into_values().filter(|u| u.days > 0.0).collect();
    let items = if explicit {
        items
    } else {
        let used: HashSet<usize> = units.iter().flat_map(|u| u.counts.keys().copied()).collect();
        items.into_iter().enumerate().filter(|(i, _)| used.contains(i)).map(|(_, it)| it).collect()
    };
    // Re-index counts when unused default items were dropped.
    Ok((items, reindex(units, &matched, explicit)))
}

fn reindex(units: Vec<Unit>, matched: &[HashSet<EventKey>], explicit: bool) -> Vec<Unit> {
    if explicit {
        return units;
    }
    let used: Vec<usize> = {
        let set: HashSet<usize> = units.iter().flat_map(|u| u.counts.keys().copied()).collect();
        (0..matched.len()).filter(|i| set.contains(i)).collect()
    };
    let new_index: HashMap<usize, usize> = used.iter().enumerate().map(|(new, old)| (*old, new)).collect();
    units
        .into_iter()
        .map(|mut u| {
            u.counts = u.counts.into_iter().filter_map(|(i, n)| new_index.get(&i).map(|j| (*j, n))).collect();
            u
        })
        .collect()
}

/// A validated lifetime (or churn lifetime) data table request.
#[derive(Debug)]
pub struct LifetimeTableSpec {
    /// Shared fields.
    pub base: LifetimeBase,
    /// Segmentation.
    pub segment: Option<Level>,
    /// Group elements by category.
    pub categorize: bool,
    /// 1-based page.
    pub page: usize,
    /// Elements (or categories) per page.
    pub page_size: usize,
}

impl LifetimeTableSpec {
    /// Parses §11.4 (`churn` false) or §11.6 (`churn` true).
    pub fn parse(body: &JsonObject, ctx: &ReportContext, churn: bool) -> Result<Self, ApiError> {
        let base = LifetimeBase::parse(body, ctx, churn)?;
        let segment = parse_segment_by(body, ctx, false)?;
        let categorize_value = body.optional("categorizeEvents")?;
        let categorize = categorize_value.as_ref().map(|v| v.boolean()).transpose()?.unwrap_or(false);
        if categorize && base.events.iter().flatten().any(|e| matches!(e, EventItem::Combi { .. })) {
            if let Some(v) = categorize_value {
                return Err(v.error("cannot be true when 'events' holds a combination (it has no category)"));
            }
        }
        let page = body.optional("page")?.map(|v| v.integer_in(1, 1_000_000)).transpose()?.unwrap_or(1) as usize;
        let page_size = body.optional("pageSize")?.map(|v| v.integer_in(1, 1000)).transpose()?.unwrap_or(100) as usize;
        body.accept_v2_fields(&ctx.product)?;
        body.finish()?;
        Ok(Self { base, segment, categorize, page, page_size })
    }
}

fn table_metrics(m: &mut Map<String, Value>, units: &[&Unit], item: usize) {
    let (mut sum, mut used, mut days) = (0.0, 0.0, 0.0);
    for u in units {
        let n = u.counts.get(&item).copied().unwrap_or(0.0);
        if n >= 1.0 {
            sum += n;
            used += 1.0;
            days += u.days;
        }
    }
    let all = units.len() as f64;
    m.insert("eventCount".into(), Value::from(sum as i64));
    m.insert("usersUsedAtLeastOnce".into(), Value::from(used as i64));
    m.insert("usersNeverUsed".into(), Value::from((all - used) as i64));
    m.insert("eventCountPerUserUsedAtLeastOnce".into(), json!(ratio(sum, used)));
    m.insert("eventCountPerUserUsedAtLeastOnceActiveDay".into(), json!(ratio(sum, days)));
    m.insert("eventCountPerUserAll".into(), json!(ratio(sum, all)));
}

fn alpha_key(item: &EventItem) -> (String, String) {
    match item {
        EventItem::Single { category, name } => (category.clone().unwrap_or_default(), name.clone()),
        EventItem::Combi { label, .. } => (label.clone(), String::new()),
    }
}

/// Segment keys in §4.3 order, with the units in each.
fn segment_members<'a>(segment: &Level, units: &'a [Unit]) -> Vec<(String, Vec<&'a Unit>)> {
    let mut keys: HashMap<String, (KeyOrder, Vec<&Unit>)> = HashMap::new();
    for (k, o) in segment.fixed_keys() {
        keys.insert(k, (o, Vec::new()));
    }
    for u in units {
        for (k, o) in &u.keys {
            let e = keys.entry(k.clone()).or_insert_with(|| (o.clone(), Vec::new()));
            e.0 = e.0.clone().min(o.clone());
            e.1.push(u);
        }
    }
    let mut out: Vec<(KeyOrder, String, Vec<&Unit>)> = keys.into_iter().map(|(k, (o, us))| (o, k, us)).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    out.into_iter().map(|(_, k, us)| (k, us)).collect()
}

/// A data table element before sorting: count, alpha key, category, members.
type Element = (f64, (String, String), Option<String>, Map<String, Value>);

/// Runs the lifetime data table.
pub async fn data_table(
    wh: &dyn Warehouse,
    ctx: &ReportContext,
    spec: &LifetimeTableSpec,
    known: &[KnownEvent],
) -> Result<Value, ApiError> {
    let (items, units) = units(wh, ctx, &spec.base, spec.segment.as_ref(), known).await?;
    let all: Vec<&Unit> = units.iter().collect();
    let segments = spec.segment.as_ref().map(|s| segment_members(s, &units));
    let mut elements: Vec<Element> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut m = Map::new();
        let category = match item {
            EventItem::Single { category, name } => {
                m.insert("eventCategory".into(), category.clone().map_or(Value::Null, Value::String));
                m.insert("eventName".into(), Value::String(name.clone()));
                category.clone()
            }
            EventItem::Combi { label, .. } => {
                m.insert("combiLabel".into(), Value::String(label.clone()));
                None
            }
        };
        table_metrics(&mut m, &all, i);
        if let Some(segs) = &segments {
            let list: Vec<Value> = segs
                .iter()
                .map(|(k, us)| {
                    let mut s = Map::new();
                    s.insert("segmentLabel".into(), Value::String(k.clone()));
                    table_metrics(&mut s, us, i);
                    Value::Object(s)
                })
                .collect();
            m.insert("segments".into(), Value::Array(list));
        }
        let count = m.get("eventCount").and_then(Value::as_f64).unwrap_or(0.0);
        elements.push((count, alpha_key(item), category, m));
    }
    // eventCount descending, then the alpha key ascending.
    elements.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let (result, total) = if spec.categorize {
        let mut cats: BTreeMap<Option<String>, Vec<Value>> = BTreeMap::new();
        for (_, _, category, mut m) in elements {
            m.remove("eventCategory");
            cats.entry(category).or_default().push(Value::Object(m));
        }
        let total = cats.len();
        let list: Vec<Value> = cats
            .into_iter()
            .map(|(c, data)| json!({"eventCategory": c, "categoryData": data}))
            .skip((spec.page - 1) * spec.page_size)
            .take(spec.page_size)
            .collect();
        (list, total)
    } else {
        let total = elements.len();
        let list = elements
            .into_iter()
            .map(|e| Value::Object(e.3))
            .skip((spec.page - 1) * spec.page_size)
            .take(spec.page_size)
            .collect();
        (list, total)
    };
    Ok(json!({"result": result, "page": spec.page, "pageSize": spec.page_size, "totalCount": total}))
}

/// The four lifetime histogram metrics, in output order.
const METRICS: [&str; 4] =
    ["eventCount", "averageCountPerActiveDay", "averageCountPerActiveWeek", "averageCountPerActiveMonth"];

/// One metric's bins: lower bound and ascending upper bounds (None = "inf").
#[derive(Debug, Clone, PartialEq)]
pub struct Bins {
    /// Lower bound.
    pub lower: f64,
    /// Upper bounds; `None` is `"inf"` (last only).
    pub upper: Vec<Option<f64>>,
    /// Integer bins (eventCount) or float bins.
    pub integer: bool,
}

impl Bins {
    fn defaults(metric: &str) -> Self {
        if metric == "eventCount" {
            let upper = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 500.0].into_iter().map(Some).chain([None]).collect();
            Self { lower: 1.0, upper, integer: true }
        } else {
            let upper = [0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0].into_iter().map(Some).chain([None]).collect();
            Self { lower: 0.0, upper, integer: false }
        }
    }

    /// Labels in order (semantics §9.1, §9.3).
    pub fn labels(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut prev: Option<f64> = None;
        for u in &self.upper {
            let label = if self.integer {
                let a = prev.map_or(self.lower, |p| p + 1.0) as i64;
                match u {
                    None => format!("\u{2265} {a}"),
                    Some(b) if *b as i64 == a => a.to_string(),
                    Some(b) => format!("{a} - {}", *b as i64),
                }
            } else {
                let a = prev.unwrap_or(self.lower);
                match u {
                    None => format!("> {a:.2}"),
                    Some(b) => format!("{a:.2} - {b:.2}"),
                }
            };
            out.push(label);
            prev = *u;
        }
        out
    }

    /// The bin of a value, if any.
    pub fn bin(&self, value: f64) -> Option<usize> {
        let v = if self.integer { value } else { round_half_away(value, 2) };
        if v < self.lower {
            return None;
        }
        let mut prev: Option<f64> = None;
        for (i, u) in self.upper.iter().enumerate() {
            let above_prev = match prev {
                None => true,
                Some(p) if self.integer => v >= p + 1.0,
                Some(p) => v > p,
            };
            if above_prev && u.is_none_or(|b| v <= b) {
                return Some(i);
            }
            prev = *u;
        }
        None
    }
}

/// A validated lifetime (or churn lifetime) histogram request.
#[derive(Debug)]
pub struct LifetimeHistogramSpec {
    /// Shared fields (`events` required).
    pub base: LifetimeBase,
    /// Bins per metric, in [`METRICS`] order.
    pub bins: Vec<Bins>,
}

fn parse_upper(v: &JsonValue, lower: f64, integer: bool) -> Result<Vec<Option<f64>>, ApiError> {
    let arr = v.array_len(1, 50)?;
    let n = arr.len();
    let mut out = Vec::new();
    for (i, item) in arr.iter() {
        if item.kind() == JsonKind::String && i + 1 == n {
            if item.string()? != "inf" {
                return Err(item.error("must be a number or, last, \"inf\""));
            }
            out.push(None);
            continue;
        }
        let x = if integer { item.integer()? as f64 } else { round_half_away(item.number()?, 2) };
        let prev = out.last().copied().flatten();
        if i == 0 && x < lower {
            return Err(item.error("must not be below the lower bound"));
        }
        if prev.is_some_and(|p| x <= p) {
            return Err(item.error("must be greater than the previous bound (bounds ascend strictly)"));
        }
        out.push(Some(x));
    }
    Ok(out)
}

impl LifetimeHistogramSpec {
    /// Parses §11.5 (`churn` false) or §11.7 (`churn` true).
    pub fn parse(body: &JsonObject, ctx: &ReportContext, churn: bool) -> Result<Self, ApiError> {
        let base = LifetimeBase::parse(body, ctx, churn)?;
        if base.events.is_none() {
            return Err(ApiError::syntax("field 'events' is required"));
        }
        let lower = body.optional("lowerBounds")?.map(|v| v.object()).transpose()?;
        let upper = body.optional("binUpperBounds")?.map(|v| v.object()).transpose()?;
        for o in lower.iter().chain(upper.iter()) {
            o.known_fields(&METRICS)?;
        }
        let mut bins = Vec::new();
        for metric in METRICS {
            let mut b = Bins::defaults(metric);
            let l = lower.as_ref().map(|o| o.optional(metric)).transpose()?.flatten();
            let u = upper.as_ref().map(|o| o.optional(metric)).transpose()?.flatten();
            match (l, u) {
                (None, None) => {}
                (Some(l), Some(u)) => {
                    b.lower = if b.integer {
                        l.integer_in(1, i64::MAX)? as f64
                    } else {
                        let x = l.number()?;
                        if x < 0.0 {
                            return Err(l.error("must be a number >= 0"));
                        }
                        round_half_away(x, 2)
                    };
                    b.upper = parse_upper(&u, b.lower, b.integer)?;
                }
                (Some(l), None) => return Err(l.error(format_args!("needs 'binUpperBounds.{metric}' as well"))),
                (None, Some(u)) => return Err(u.error(format_args!("needs 'lowerBounds.{metric}' as well"))),
            }
            bins.push(b);
        }
        body.accept_v2_fields(&ctx.product)?;
        body.finish()?;
        Ok(Self { base, bins })
    }
}

/// Runs the lifetime histogram.
pub async fn histogram(
    wh: &dyn Warehouse,
    ctx: &ReportContext,
    spec: &LifetimeHistogramSpec,
    known: &[KnownEvent],
) -> Result<Value, ApiError> {
    let (items, units) = units(wh, ctx, &spec.base, None, known).await?;
    let entry = |item: &EventItem, value: i64| {
        let mut m = Map::new();
        item.echo(&mut m);
        m.insert("value".into(), Value::from(value));
        Value::Object(m)
    };
    let used: Vec<i64> = (0..items.len())
        .map(|i| units.iter().filter(|u| u.counts.get(&i).is_some_and(|n| *n >= 1.0)).count() as i64)
        .collect();
    let summary = json!({
        "usedAtLeastOnce": items.iter().zip(&used).map(|(it, n)| entry(it, *n)).collect::<Vec<_>>(),
        "neverUsed": items.iter().zip(&used).map(|(it, n)| entry(it, units.len() as i64 - n)).collect::<Vec<_>>(),
    });
    let mut histograms = Map::new();
    for (metric, bins) in METRICS.iter().zip(&spec.bins) {
        let labels = bins.labels();
        let mut counts = vec![vec![0i64; items.len()]; labels.len()];
        for u in &units {
            for (i, n) in &u.counts {
                if *n < 1.0 {
                    continue;
                }
                let per = match *metric {
                    "eventCount" => 1.0,
                    "averageCountPerActiveDay" => u.days,
                    "averageCountPerActiveWeek" => u.weeks,
                    _ => u.months,
                };
                if per <= 0.0 {
                    continue;
                }
                if let Some(b) = bins.bin(n / per) {
                    counts[b][*i] += 1;
                }
            }
        }
        let mut m = Map::new();
        for (label, row) in labels.into_iter().zip(counts) {
            m.insert(label, Value::Array(items.iter().zip(row).map(|(it, n)| entry(it, n)).collect()));
        }
        histograms.insert(metric.to_string(), Value::Object(m));
    }
    Ok(json!({"result": {"summary": summary, "histograms": histograms}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_labels_match_semantics_9_3() {
        assert_eq!(
            Bins::defaults("eventCount").labels(),
            ["1", "2", "3 - 5", "6 - 10", "11 - 20", "21 - 50", "51 - 100", "101 - 500", "\u{2265} 501"]
        );
        assert_eq!(
            Bins::defaults("averageCountPerActiveDay").labels(),
            [
                "0.00 - 0.10",
                "0.10 - 0.25",
                "0.25 - 0.50",
                "0.50 - 1.00",
                "1.00 - 2.00",
                "2.00 - 5.00",
                "5.00 - 10.00",
                "> 10.00"
            ]
        );
    }

    #[test]
    fn bin_membership_integers_floats_and_out_of_range() {
        let ints = Bins::defaults("eventCount");
        assert_eq!(ints.bin(1.0), Some(0));
        assert_eq!(ints.bin(3.0), Some(2));
        assert_eq!(ints.bin(5.0), Some(2));
        assert_eq!(ints.bin(6.0), Some(3));
        assert_eq!(ints.bin(10_000.0), Some(8));
        let floats = Bins::defaults("averageCountPerActiveDay");
        assert_eq!(floats.bin(0.0), Some(0));
        assert_eq!(floats.bin(0.1), Some(0), "(0, 0.1] upper bound inclusive");
        assert_eq!(floats.bin(0.104), Some(0), "rounded to 2 decimals first");
        assert_eq!(floats.bin(0.106), Some(1));
        assert_eq!(floats.bin(11.0), Some(7));
        let finite = Bins { lower: 2.0, upper: vec![Some(4.0)], integer: true };
        assert_eq!(finite.bin(1.0), None, "below the lower bound");
        assert_eq!(finite.bin(5.0), None, "above a finite last bound");
        assert_eq!(finite.labels(), ["2 - 4"]);
    }
}
