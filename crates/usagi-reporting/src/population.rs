//! Report populations: the installations a range report counts, each judged once on one
//! reference row at the end of the range (semantics §7.3), with the cells of its segmentation.
//!
//! Engagement, churn and event reports embed [`population_sql`] as a subquery and join
//! their own per-installation measures to it; segment keys come from
//! [`crate::segments::Level::keys`] over the returned cells.

use chrono::{Duration, NaiveDate};
use usagi_types::{ApiError, DateSplit};
use usagi_warehouse::{Param, Value, Warehouse};

use crate::context::ReportContext;
use crate::filters::{GlobalFilters, Prepared};
use crate::query::Query;
use crate::segments::Level;

/// Which installations a report counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// With at least one active day in the range (semantics §5.2, §10.3).
    Active,
    /// With `dateInstalled` in the range (a churnAndEngagement cohort, semantics §5.4).
    Installed,
    /// Lost with the reported lost date in the range (semantics §5.3).
    Lost {
        /// N.
        days_until_lost: u32,
        /// true: reported on dateDeclaredLost (L + N); false: on dateLastSeen.
        declared: bool,
    },
}

/// A population request.
pub struct Population<'a> {
    /// First day of the range.
    pub start: NaiveDate,
    /// Last day of the range (may lie after today).
    pub stop: NaiveDate,
    /// Which installations.
    pub who: Who,
    /// Global filters.
    pub filters: &'a GlobalFilters,
    /// What the filters looked up.
    pub prepared: &'a Prepared,
    /// Segmentation levels whose cells to return (0 or more).
    pub levels: &'a [Level],
}

/// One row per installation and period key `k` (an SQL expression over `day`) within
/// `[start, stop]`: its last active day there (the reference row, semantics §7.3), as the
/// whole `client_days` row plus `k` when `full_rows`, else as `client_id, k`. `having` may
/// narrow the periods (e.g. `HAVING bool_or(first_day)`).
pub fn last_active_rows(k: &str, product: &str, start: &str, stop: &str, having: &str, full_rows: bool) -> String {
    let periods = format!(
        "SELECT client_id, {k} AS k, max(day) AS last_day FROM client_days \
         WHERE product_id = {product} AND day BETWEEN {start} AND {stop} GROUP BY 1, 2{having}"
    );
    if full_rows {
        format!(
            "SELECT cd.*, m.k FROM client_days cd JOIN ({periods}) m \
             ON cd.client_id = m.client_id AND cd.day = m.last_day WHERE cd.product_id = {product}"
        )
    } else {
        format!("SELECT client_id, k FROM ({periods}) m")
    }
}

/// The last active day of every installation within `[start, stop]`, as rows of
/// `client_days` aliased `p` (the reference rows of an aggregated report).
pub fn last_rows_sql(product: &str, start: &str, stop: &str) -> String {
    format!("({}) p", last_active_rows("CAST(NULL AS DATE)", product, start, stop, "", true))
}

impl Population<'_> {
    /// `SELECT client_id, <cells of every level…>` for this population.
    pub fn sql(&self, q: &mut Query, ctx: &ReportContext) -> String {
        let product = q.bind(Param::Int(ctx.product.as_u64() as i64));
        let start = q.bind(Param::Date(self.start));
        let (from, mut conds, std) = match self.who {
            Who::Lost { days_until_lost, declared } => {
                let stop = q.bind(Param::Date(self.stop));
                let last_max = q.bind(Param::Date(ctx.today - Duration::days(i64::from(days_until_lost))));
                let reported = if declared {
                    let n = q.bind(Param::Int(i64::from(days_until_lost)));
                    q.dialect().add_days("c.date_last_seen", &n)
                } else {
                    "c.date_last_seen".to_string()
                };
                let conds = vec![
                    format!("c.product_id = {product}"),
                    format!("c.date_last_seen <= {last_max}"),
                    format!("{reported} BETWEEN {start} AND {stop}"),
                ];
                ("clients c".to_string(), conds, "c")
            }
            Who::Active | Who::Installed if self.stop >= ctx.today => {
                // The last active day of everyone active in [start, today] is in the range:
                // the reference row is the `clients` row.
                let since = if self.who == Who::Active { "c.date_last_seen" } else { "c.date_installed" };
                ("clients c".to_string(), vec![format!("c.product_id = {product}"), format!("{since} >= {start}")], "c")
            }
            Who::Active | Who::Installed => {
                let stop = q.bind(Param::Date(self.stop));
                let from = format!(
                    "{} JOIN clients c ON c.product_id = {product} AND c.client_id = p.client_id",
                    last_rows_sql(&product, &start, &stop)
                );
                let mut conds = Vec::new();
                if self.who == Who::Installed {
                    conds.push(format!("c.date_installed BETWEEN {start} AND {stop}"));
                }
                (from, conds, "p")
            }
        };
        conds.push(self.filters.sql(self.prepared, ctx, q, std));
        let mut select = vec![format!("{std}.client_id AS client_id")];
        for level in self.levels {
            select.extend(level.group_sql(ctx, q, std));
        }
        let select: Vec<String> = select
            .into_iter()
            .enumerate()
            .map(|(i, s)| if i == 0 { s } else { format!("{s} AS g{}", i - 1) })
            .collect();
        format!("SELECT {} FROM {from} WHERE {}", select.join(", "), conds.join(" AND "))
    }

    /// Runs the population on its own: `(client id, cells)` per installation.
    pub async fn members(&self, wh: &dyn Warehouse, ctx: &ReportContext) -> Result<Vec<(u64, Vec<Value>)>, ApiError> {
        let mut q = Query::new(wh.dialect());
        let sql = self.sql(&mut q, ctx);
        let rows = q.run(wh, sql).await?;
        Ok(rows
            .rows
            .into_iter()
            .filter_map(|mut r| {
                if r.is_empty() {
                    return None;
                }
                let cells = r.split_off(1);
                Some((r[0].as_u64()?, cells))
            })
            .collect())
    }
}

/// `SELECT client_id, k` of the installations active in each period of `[start, stop]`
/// that pass the filters, each judged on its last active day of the period (the value at
/// e(P), semantics §7.3); `k` is the period key (`DateSplit::Day` keys are the days).
pub fn period_rows_sql(
    q: &mut Query,
    ctx: &ReportContext,
    start: NaiveDate,
    stop: NaiveDate,
    split: DateSplit,
    filters: &GlobalFilters,
    prepared: &Prepared,
) -> String {
    let d = q.dialect();
    let product = q.bind(Param::Int(ctx.product.as_u64() as i64));
    let s = q.bind(Param::Date(start));
    let e = q.bind(Param::Date(stop.min(ctx.today)));
    let k = match split {
        DateSplit::Day => "day".to_string(),
        DateSplit::Week => d.week_start("day"),
        DateSplit::Month => d.month_start("day"),
    };
    let from = if split == DateSplit::Day {
        format!("(SELECT *, day AS k FROM client_days WHERE product_id = {product} AND day BETWEEN {s} AND {e}) p")
    } else {
        format!("({}) p", last_active_rows(&k, &product, &s, &e, "", true))
    };
    let join = if filters.uses_current() {
        format!(" JOIN clients c ON c.product_id = {product} AND c.client_id = p.client_id")
    } else {
        String::new()
    };
    let cond = filters.sql(prepared, ctx, q, "p");
    format!("SELECT p.client_id AS client_id, p.k AS k FROM {from}{join} WHERE {cond}")
}
