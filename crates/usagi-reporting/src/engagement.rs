//! User engagement histograms (reporting-api §10; semantics §5.4, §8, §9.2):
//! `engagement/usageDistribution`, `engagement/churnAndEngagement` and
//! `churn/histogram/{days|sessions|runtime}`.
//!
//! Each report embeds its [`Population`] (the counted installations, filtered and segmented
//! once at the end of the range) as a subquery, joins its per-installation measures from the
//! rollups (`client_days` for measures within a range, `clients` for lifetime counters) and
//! lets SQL reduce them to bucket or period counts, so the answer for 100k installations
//! is a few hundred rows. Rust maps segment cells to keys and shapes the JSON.

use std::collections::HashMap;

use chrono::Duration;
use serde_json::{Map, Value};
use usagi_types::{ratio, ApiError, DateSplit, JsonObject, RangeRule, ReportRange};
use usagi_warehouse::{Param, Value as Cell, Warehouse};

use crate::context::ReportContext;
use crate::filters::GlobalFilters;
use crate::histogram::Metric;
use crate::population::{Population, Who};
use crate::query::Query;
use crate::segments::{parse_segment_by, KeyOrder, Level};

/// The output key of a report without segmentation (reporting-api §10.2).
pub const ALL_KEY: &str = "all";

/// A validated `usageDistribution` request (reporting-api §10.1).
#[derive(Debug, Clone)]
pub struct UsageDistributionSpec {
    /// The range the installations are measured in.
    pub range: ReportRange,
    /// Global filters, ANDed.
    pub filters: GlobalFilters,
}

impl UsageDistributionSpec {
    /// Parses and validates a request body.
    pub fn parse(body: &JsonObject, ctx: &ReportContext) -> Result<Self, ApiError> {
        let start = body.required("startDate")?.report_date(ctx.today)?;
        let stop = body.required("stopDate")?.report_date(ctx.today)?;
        let filters = GlobalFilters::parse(body.optional("globalFilters")?, ctx)?;
        body.accept_v2_fields(&ctx.product)?;
        body.finish()?;
        let range = ReportRange::checked(start, stop, ctx.oldest_reported_date(), &RangeRule::REPORT)?;
        Ok(Self { range, filters })
    }
}

/// A validated `churnAndEngagement` request (reporting-api §10.2).
#[derive(Debug, Clone)]
pub struct ChurnEngagementSpec {
    /// The installation window: the cohort is installed in it.
    pub range: ReportRange,
    /// Period length in days, counted from each installation's own install day: 1, 7 or 30.
    pub period_days: u32,
    /// How many periods (1–100).
    pub periods: u32,
    /// N (semantics §5.3).
    pub days_until_lost: u32,
    /// Global filters, ANDed.
    pub filters: GlobalFilters,
    /// `segmentBy` + `segments` (may be `installationMonth`).
    pub segment: Option<Level>,
}

impl ChurnEngagementSpec {
    /// Parses and validates a request body.
    pub fn parse(body: &JsonObject, ctx: &ReportContext) -> Result<Self, ApiError> {
        let start = body.required("startDate")?.report_date(ctx.today)?;
        let stop = body.required("stopDate")?.report_date(ctx.today)?;
        let split = body.required("dateSplit")?.one_of(&DateSplit::NAMES)?;
        let period_days = match split {
            DateSplit::Day => 1,
            DateSplit::Week => 7,
            DateSplit::Month => 30,
        };
        let periods = match body.optional("periods")? {
            Some(v) => v.integer_in(1, 100)? as u32,
            None => 12,
        };
        let days_until_lost = days_until_lost(body, ctx)?;
        let filters = GlobalFilters::parse(body.optional("globalFilters")?, ctx)?;
        let segment = parse_segment_by(body, ctx, true)?;
        body.accept_v2_fields(&ctx.product)?;
        body.finish()?;
        // §1.10 limits a range to 1,100 days "with dateSplit:day", whatever the split means.
        let rule = if split == DateSplit::Day { RangeRule::REPORT_DAY_SPLIT } else { RangeRule::REPORT };
        let range = ReportRange::checked(start, stop, ctx.oldest_reported_date(), &rule)?;
        Ok(Self { range, period_days, periods, days_until_lost, filters, segment })
    }
}

/// A validated `churn/histogram/{days|sessions|runtime}` request (reporting-api §10.3).
#[derive(Debug, Clone)]
pub struct ChurnHistogramSpec {
    /// The lifetime metric: active days, sessions or runtime minutes.
    pub metric: Metric,
    /// The range the reported lost date falls in.
    pub range: ReportRange,
    /// N (semantics §5.3).
    pub days_until_lost: u32,
    /// true: lost installations are reported on dateDeclaredLost (L + N); false: on dateLastSeen.
    pub declared: bool,
    /// Global filters, ANDed.
    pub filters: GlobalFilters,
    /// `segmentBy` + `segments`.
    pub segment: Option<Level>,
}

impl ChurnHistogramSpec {
    /// Parses and validates a request body for the histogram of `metric`.
    pub fn parse(body: &JsonObject, metric: Metric, ctx: &ReportContext) -> Result<Self, ApiError> {
        let start = body.required("startDate")?.report_date(ctx.today)?;
        let stop = body.required("stopDate")?.report_date(ctx.today)?;
        let days_until_lost = days_until_lost(body, ctx)?;
        let declared = body
            .optional("dateReportedLost")?
            .map(|v| v.one_of(&[("dateLastSeen", false), ("dateDeclaredLost", true)]))
            .transpose()?
            .unwrap_or(false);
        let filters = GlobalFilters::parse(body.optional("globalFilters")?, ctx)?;
        let segment = parse_segment_by(body, ctx, false)?;
        body.accept_v2_fields(&ctx.product)?;
        body.finish()?;
        let range = ReportRange::checked(start, stop, ctx.oldest_reported_date(), &RangeRule::REPORT)?;
        Ok(Self { metric, range, days_until_lost, declared, filters, segment })
    }
}

fn days_until_lost(body: &JsonObject, ctx: &ReportContext) -> Result<u32, ApiError> {
    Ok(match body.optional("daysUntilDeclaredLost")? {
        Some(v) => v.integer_in(1, 365)? as u32,
        None => ctx.days_until_declared_lost,
    })
}

/// `pop.g0, pop.g1, …, ` for `width` segment cells (empty without segmentation).
fn cell_columns(width: usize, alias: &str) -> String {
    (0..width).map(|i| format!("{alias}.g{i}, ")).collect()
}

/// The GROUP BY list `1, 2, …, n`.
fn positions(n: usize) -> String {
    (1..=n).map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

fn int(cell: Option<&Cell>) -> i64 {
    cell.and_then(Cell::as_i64).unwrap_or(0)
}

/// The segment keys of an answer, each with its sort order and accumulated value. Without
/// segmentation there is one key, `all`; non-split segments are always present.
struct Keyed<'a, T> {
    segment: Option<&'a Level>,
    keys: HashMap<String, (KeyOrder, T)>,
}

impl<'a, T: Default> Keyed<'a, T> {
    fn new(segment: Option<&'a Level>) -> Self {
        let mut keys = HashMap::new();
        match segment {
            None => {
                keys.insert(ALL_KEY.to_string(), ((0, String::new()), T::default()));
            }
            Some(level) => {
                for (k, order) in level.fixed_keys() {
                    keys.insert(k, (order, T::default()));
                }
            }
        }
        Self { segment, keys }
    }

    /// Calls `f` on the value of every key a row's segment cells fall in.
    fn each(&mut self, cells: &[Cell], mut f: impl FnMut(&mut T)) {
        let keys = match self.segment {
            None => vec![(ALL_KEY.to_string(), (0, String::new()))],
            Some(level) => level.keys(cells),
        };
        for (key, order) in keys {
            // A split value equal to an explicit key merges into it and sorts where the
            // first of the two segments does (reporting-api §4.3).
            let entry = self.keys.entry(key).or_insert_with(|| (order.clone(), T::default()));
            entry.0 = entry.0.clone().min(order);
            f(&mut entry.1);
        }
    }

    /// The keys in output order; 413 beyond the per-level key limit (reporting-api §1.12).
    fn sorted(self, ctx: &ReportContext) -> Result<Vec<(String, T)>, ApiError> {
        if self.keys.len() > ctx.limits.keys_per_level {
            return Err(ApiError::too_large(format!(
                "the result has more than {} segment keys; narrow the segments",
                ctx.limits.keys_per_level
            )));
        }
        let mut keys: Vec<(String, (KeyOrder, T))> = self.keys.into_iter().collect();
        keys.sort_by(|a, b| (a.1).0.cmp(&(b.1).0).then_with(|| a.0.cmp(&b.0)));
        Ok(keys.into_iter().map(|(k, (_, v))| (k, v)).collect())
    }
}

/// 413 when an answer would hold more than the configured count of numbers.
fn check_numbers(n: usize, ctx: &ReportContext) -> Result<(), ApiError> {
    if n > ctx.limits.numbers {
        return Err(ApiError::too_large(format!(
            "the result has more than {} numbers; narrow the segments or periods",
            ctx.limits.numbers
        )));
    }
    Ok(())
}

/// Runs `usageDistribution` (reporting-api §10.1, semantics §9.2): every installation active
/// in the range and passing the filters, measured within the range by its active days, the
/// sessions it started and its runtime minutes (overlap ms summed, then floored once).
pub async fn usage_distribution(
    wh: &dyn Warehouse,
    ctx: &ReportContext,
    spec: &UsageDistributionSpec,
) -> Result<Value, ApiError> {
    let prepared = spec.filters.prepare(wh, ctx).await?;
    let (start, stop) = (spec.range.start(), spec.range.stop());
    let mut q = Query::new(wh.dialect());
    let population =
        Population { start, stop, who: Who::Active, filters: &spec.filters, prepared: &prepared, levels: &[] };
    let pop = population.sql(&mut q, ctx);
    let product = q.bind(Param::Int(ctx.product.as_u64() as i64));
    let first = q.bind(Param::Date(start));
    let last = q.bind(Param::Date(stop.min(ctx.today)));
    let [days, sessions, runtime] = Metric::ALL.map(|m| m.bucket_sql(&format!("x.{}", m.name())));
    let sql = format!(
        "SELECT {days}, {sessions}, {runtime}, count(*) FROM (\
           SELECT pop.client_id, count(*) AS activeDays, sum(cd.sessions) AS sessions, \
                  sum(cd.runtime_ms) // 60000 AS runtime \
           FROM ({pop}) pop JOIN client_days cd ON cd.client_id = pop.client_id \
           WHERE cd.product_id = {product} AND cd.day BETWEEN {first} AND {last} \
           GROUP BY pop.client_id) x \
         GROUP BY 1, 2, 3"
    );
    let rows = q.run(wh, sql).await?;
    // Installations per (activeDays, sessions, runtime) bucket triple.
    let cube: Vec<([usize; 3], i64)> =
        rows.rows.iter().map(|r| ([0, 1, 2].map(|i| int(r.get(i)).max(0) as usize), int(r.get(3)))).collect();
    let days_in_range = spec.range.days();
    let mut result = Map::new();
    for (mi, metric) in Metric::ALL.into_iter().enumerate() {
        let mut histogram = Map::new();
        for (bi, bucket) in metric.buckets().iter().enumerate() {
            if metric == Metric::ActiveDays && bucket.lo > days_in_range {
                continue;
            }
            let in_bucket = || cube.iter().filter(move |(k, _)| k[mi] == bi);
            let mut entry = Map::new();
            entry.insert("users".into(), Value::from(in_bucket().map(|(_, n)| n).sum::<i64>()));
            for (oi, other) in Metric::ALL.into_iter().enumerate().filter(|(oi, _)| *oi != mi) {
                // The nested cross-histograms are sparse (reporting-api §10.1).
                let mut cross = Map::new();
                for ob in 0..other.buckets().len() {
                    let n: i64 = in_bucket().filter(|(k, _)| k[oi] == ob).map(|(_, n)| n).sum();
                    if n > 0 {
                        cross.insert(other.label(ob), Value::from(n));
                    }
                }
                entry.insert(other.name().into(), Value::Object(cross));
            }
            histogram.insert(metric.label(bi), Value::Object(entry));
        }
        result.insert(metric.name().into(), Value::Object(histogram));
    }
    Ok(envelope(Value::Object(result)))
}

fn envelope(result: Value) -> Value {
    let mut out = Map::new();
    out.insert("result".into(), result);
    Value::Object(out)
}

/// Per segment key of churnAndEngagement: |E_k|, engaged_k and lost_k for k = 1…periods
/// (index 0 unused).
#[derive(Default)]
struct Cohort {
    eligible: Vec<i64>,
    engaged: Vec<i64>,
    lost: Vec<i64>,
}

impl Cohort {
    fn grow(&mut self, periods: usize) {
        for v in [&mut self.eligible, &mut self.engaged, &mut self.lost] {
            v.resize(periods + 1, 0);
        }
    }
}

/// Runs `churnAndEngagement` (reporting-api §10.2, semantics §5.4).
///
/// For an installation with install day I and period length u, period k covers the days
/// `[I + 1 + (k−1)u, I + ku]`; it is eligible once complete (`I + ku < today`), engaged when
/// active in it, and lost when the installation is lost now with `L ≤ I + ku`.
pub async fn churn_and_engagement(
    wh: &dyn Warehouse,
    ctx: &ReportContext,
    spec: &ChurnEngagementSpec,
) -> Result<Value, ApiError> {
    let prepared = spec.filters.prepare(wh, ctx).await?;
    let levels: Vec<Level> = spec.segment.iter().cloned().collect();
    let width: usize = levels.iter().map(Level::width).sum();
    let population = Population {
        start: spec.range.start(),
        stop: spec.range.stop(),
        who: Who::Installed,
        filters: &spec.filters,
        prepared: &prepared,
        levels: &levels,
    };
    let periods = spec.periods as usize;
    let u = i64::from(spec.period_days);
    let cells = cell_columns(width, "x");

    // Per cohort member: e = its complete periods, floor((today − I − 1) / u); and, when it
    // is lost, lf = ceil((L − I) / u), the first k with L ≤ I + ku.
    let mut q = Query::new(wh.dialect());
    let pop = population.sql(&mut q, ctx);
    let product = q.bind(Param::Int(ctx.product.as_u64() as i64));
    let today = q.bind(Param::Date(ctx.today));
    let period = q.bind(Param::Int(u));
    let last_seen_max = q.bind(Param::Date(ctx.today - Duration::days(i64::from(spec.days_until_lost))));
    let sql = format!(
        "SELECT {cells}x.e, x.lf, count(*) FROM (\
           SELECT pop.*, (date_diff('day', c.date_installed, {today}) - 1) // {period} AS e, \
                  CASE WHEN c.date_last_seen <= {last_seen_max} \
                       THEN (date_diff('day', c.date_installed, c.date_last_seen) + {period} - 1) // {period} END AS lf \
           FROM ({pop}) pop JOIN clients c ON c.product_id = {product} AND c.client_id = pop.client_id) x \
         GROUP BY {}",
        positions(width + 2)
    );
    let members = q.run(wh, sql).await?;

    // Per cohort member and period k it is active in (after its install day, up to period
    // `periods`, only complete periods): one row, counted per segment cells and k.
    let mut q = Query::new(wh.dialect());
    let pop = population.sql(&mut q, ctx);
    let product = q.bind(Param::Int(ctx.product.as_u64() as i64));
    let today = q.bind(Param::Date(ctx.today));
    let period = q.bind(Param::Int(u));
    let span = q.bind(Param::Int(u * periods as i64));
    let offset = "date_diff('day', pc.date_installed, cd.day)";
    let k = format!("(({offset} - 1) // {period} + 1)");
    // One join per SELECT (ClickHouse 18.16): the install day is joined onto the cohort first.
    let sql = format!(
        "SELECT {cells}x.k, count(*) FROM (\
           SELECT DISTINCT pc.*, {k} AS k \
           FROM (SELECT pop.*, c.date_installed AS date_installed FROM ({pop}) pop \
                 JOIN clients c ON c.product_id = {product} AND c.client_id = pop.client_id) pc \
           JOIN client_days cd ON cd.product_id = {product} AND cd.client_id = pc.client_id \
           WHERE {offset} BETWEEN 1 AND {span} \
             AND {k} * {period} < date_diff('day', pc.date_installed, {today})) x \
         GROUP BY {}",
        positions(width + 1)
    );
    let engaged = q.run(wh, sql).await?;

    let segment = spec.segment.as_ref();
    let mut keyed: Keyed<Cohort> = Keyed::new(segment);
    for r in &members.rows {
        let e = int(r.get(width)).min(periods as i64);
        let lost_from = r.get(width + 1).and_then(Cell::as_i64).map(|lf| lf.max(1));
        let n = int(r.get(width + 2));
        keyed.each(&r[..width], |c| {
            c.grow(periods);
            for k in 1..=e.max(0) {
                c.eligible[k as usize] += n;
                if lost_from.is_some_and(|lf| lf <= k) {
                    c.lost[k as usize] += n;
                }
            }
        });
    }
    for r in &engaged.rows {
        let k = int(r.get(width));
        let n = int(r.get(width + 1));
        if (1..=periods as i64).contains(&k) {
            keyed.each(&r[..width], |c| {
                c.grow(periods);
                c.engaged[k as usize] += n;
            });
        }
    }
    let keys = keyed.sorted(ctx)?;
    let numbers: usize = keys.iter().map(|(_, c)| 4 * c.eligible.iter().filter(|n| **n > 0).count()).sum();
    check_numbers(numbers, ctx)?;
    let mut result = Map::new();
    for (key, cohort) in keys {
        let mut by_period = Map::new();
        for k in 1..cohort.eligible.len() {
            let eligible = cohort.eligible[k];
            // Periods no cohort member has completed are left out (semantics §5.4).
            if eligible == 0 {
                continue;
            }
            let (engaged, lost) = (cohort.engaged[k], cohort.lost[k]);
            let mut m = Map::new();
            m.insert("engaged".into(), Value::from(engaged));
            m.insert("engagedPercent".into(), float(ratio(100.0 * engaged as f64, eligible as f64)));
            m.insert("lost".into(), Value::from(lost));
            m.insert("lostPercent".into(), float(ratio(100.0 * lost as f64, eligible as f64)));
            by_period.insert(k.to_string(), Value::Object(m));
        }
        result.insert(key, Value::Object(by_period));
    }
    Ok(envelope(Value::Object(result)))
}

fn float(x: usagi_types::Float2) -> Value {
    serde_json::to_value(x).unwrap_or(Value::Null)
}

/// Runs a churn histogram (reporting-api §10.3): the installations lost in the range (§5.3)
/// that pass the filters, by their lifetime active days, sessions or runtime minutes
/// (semantics §8.7). Every bucket is listed, zero-filled, under every key.
pub async fn churn_histogram(
    wh: &dyn Warehouse,
    ctx: &ReportContext,
    spec: &ChurnHistogramSpec,
) -> Result<Value, ApiError> {
    let prepared = spec.filters.prepare(wh, ctx).await?;
    let levels: Vec<Level> = spec.segment.iter().cloned().collect();
    let width: usize = levels.iter().map(Level::width).sum();
    let population = Population {
        start: spec.range.start(),
        stop: spec.range.stop(),
        who: Who::Lost { days_until_lost: spec.days_until_lost, declared: spec.declared },
        filters: &spec.filters,
        prepared: &prepared,
        levels: &levels,
    };
    let mut q = Query::new(wh.dialect());
    let pop = population.sql(&mut q, ctx);
    let product = q.bind(Param::Int(ctx.product.as_u64() as i64));
    let cells = cell_columns(width, "x");
    let measured = match spec.metric {
        // Lifetime active days: the installation's active days, all of them (purged ones too).
        Metric::ActiveDays => format!(
            "SELECT pop.*, c.active_days AS m FROM ({pop}) pop \
             JOIN clients c ON c.product_id = {product} AND c.client_id = pop.client_id"
        ),
        Metric::Sessions => format!(
            "SELECT pop.*, c.lifetime_sessions AS m FROM ({pop}) pop \
             JOIN clients c ON c.product_id = {product} AND c.client_id = pop.client_id"
        ),
        Metric::Runtime => format!(
            "SELECT pop.*, c.lifetime_runtime_ms // 60000 AS m FROM ({pop}) pop \
             JOIN clients c ON c.product_id = {product} AND c.client_id = pop.client_id"
        ),
    };
    let bucket = spec.metric.bucket_sql("x.m");
    let sql = format!("SELECT {cells}{bucket}, count(*) FROM ({measured}) x GROUP BY {}", positions(width + 1));
    let rows = q.run(wh, sql).await?;
    let buckets = spec.metric.buckets().len();
    let mut keyed: Keyed<Vec<i64>> = Keyed::new(spec.segment.as_ref());
    for r in &rows.rows {
        let b = (int(r.get(width)).max(0) as usize).min(buckets - 1);
        let n = int(r.get(width + 1));
        keyed.each(&r[..width], |counts| {
            counts.resize(buckets, 0);
            counts[b] += n;
        });
    }
    let keys = keyed.sorted(ctx)?;
    check_numbers(keys.len() * buckets, ctx)?;
    let histogram = |counts: &[i64]| {
        let mut m = Map::new();
        for b in 0..buckets {
            m.insert(spec.metric.label(b), Value::from(counts.get(b).copied().unwrap_or(0)));
        }
        Value::Object(m)
    };
    let result = match spec.segment {
        None => keys.first().map_or_else(|| histogram(&[]), |(_, counts)| histogram(counts)),
        Some(_) => Value::Object(keys.iter().map(|(k, counts)| (k.clone(), histogram(counts))).collect()),
    };
    Ok(envelope(result))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ReportContext {
        ReportContext {
            product: usagi_types::ProductId::parse("2376158762").unwrap(),
            today: chrono::NaiveDate::from_ymd_opt(2024, 3, 20).unwrap(),
            days_until_declared_lost: 40,
            retention_days: 1095,
            license_keys: false,
            now: chrono::Utc::now(),
            back_off: Default::default(),
            limits: Default::default(),
        }
    }

    fn body(v: serde_json::Value) -> JsonObject {
        JsonObject::parse_body(v.to_string().as_bytes()).unwrap()
    }

    fn churn(v: serde_json::Value) -> Result<ChurnEngagementSpec, ApiError> {
        ChurnEngagementSpec::parse(&body(v), &ctx())
    }

    #[test]
    fn churn_and_engagement_defaults_and_limits() {
        let s = churn(serde_json::json!({"startDate": "2024-01-01", "stopDate": "2024-01-31", "dateSplit": "week"}))
            .unwrap();
        assert_eq!((s.period_days, s.periods, s.days_until_lost), (7, 12, 40));
        assert!(s.segment.is_none());
        let base = serde_json::json!({"startDate": "2024-01-01", "stopDate": "2024-01-31"});
        let e = churn(base.clone()).unwrap_err();
        assert_eq!(e.reason, "field 'dateSplit' is required");
        let mut b = base.clone();
        b["dateSplit"] = serde_json::json!("year");
        assert_eq!(churn(b).unwrap_err().reason, "field 'dateSplit' must be one of: day, week, month");
        for bad in [serde_json::json!(0), serde_json::json!(101), serde_json::json!(12.0)] {
            let mut b = base.clone();
            b["dateSplit"] = serde_json::json!("day");
            b["periods"] = bad;
            assert!(churn(b).unwrap_err().reason.starts_with("field 'periods' must be an integer"));
        }
        let mut b = base.clone();
        b["dateSplit"] = serde_json::json!("month");
        b["segmentBy"] = serde_json::json!("installationMonth");
        b["segments"] = serde_json::json!([{"type": "regex", "value": ".*", "split": true}]);
        assert!(churn(b).unwrap().segment.is_some());
    }

    #[test]
    fn churn_histograms_take_lost_fields_and_refuse_installation_month() {
        let b = body(serde_json::json!({"startDate": "2024-01-01", "stopDate": "2024-01-31",
            "dateReportedLost": "dateDeclaredLost", "daysUntilDeclaredLost": 7}));
        let s = ChurnHistogramSpec::parse(&b, Metric::Sessions, &ctx()).unwrap();
        assert!(s.declared);
        assert_eq!(s.days_until_lost, 7);
        let b = body(serde_json::json!({"startDate": "2024-01-01", "stopDate": "2024-01-31",
            "segmentBy": "installationMonth", "segments": [{"type": "regex", "value": ".*", "split": true}]}));
        let e = ChurnHistogramSpec::parse(&b, Metric::Sessions, &ctx()).unwrap_err();
        assert!(e.reason.contains("segmentBy"), "{}", e.reason);
    }

    #[test]
    fn usage_distribution_rejects_fields_of_other_reports() {
        let b = body(serde_json::json!({"startDate": "2024-01-01", "stopDate": "2024-01-31", "dateSplit": "day"}));
        assert_eq!(UsageDistributionSpec::parse(&b, &ctx()).unwrap_err().reason, "unknown field 'dateSplit'");
    }
}
