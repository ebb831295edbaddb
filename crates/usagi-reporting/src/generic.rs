//! Generic reports: `generic/dateRange` and `generic/current` (reporting-api §9, semantics §5–§6).
//!
//! New, active and lost are computed from two rollups: `client_days` (one row per
//! installation and active day) and `clients` (dateInstalled, dateLastSeen). Lost is
//! never stored: it is a function of dateLastSeen, N and today (semantics §5.3).

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDate};
use serde_json::{Map, Value};
use usagi_types::{periods, ApiError, DateSplit, JsonObject, RangeRule, ReportRange};
use usagi_warehouse::{Dialect, Param, Warehouse};

use crate::context::ReportContext;
use crate::filters::{GlobalFilters, Prepared};
use crate::population::last_active_rows;
use crate::query::Query;
use crate::segments::{parse_levels, KeyOrder, Level};

/// A client status of `clientStatus`, in output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClientStatus {
    /// First active day in the period.
    New,
    /// Any active day in the period.
    Active,
    /// Lost, with the reported lost date in the period.
    Lost,
}

impl ClientStatus {
    /// Position in output order.
    fn index(self) -> usize {
        self as usize
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Active => "active",
            Self::Lost => "lost",
        }
    }
}

/// Which date a lost installation is reported on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostDate {
    /// `dateLastSeen` (default): L.
    LastSeen,
    /// `dateDeclaredLost`: L + N.
    DeclaredLost,
}

/// The unit of counting (semantics §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    /// One installation per unit (default).
    ClientId,
    /// Installations whose latest `machineId` is equal.
    MachineId,
    /// Installations whose latest `licenseKey` is equal (needs the licenseKeys permission).
    LicenseKey,
    /// Installations whose latest custom property `C01`–`C20` (1-based slot) is equal.
    Custom(u8),
}

/// A validated generic report request.
#[derive(Debug, Clone)]
pub struct GenericSpec {
    /// The resolved range.
    pub range: ReportRange,
    /// The split; None = one total.
    pub split: Option<DateSplit>,
    /// Requested statuses, sorted in output order, distinct.
    pub statuses: Vec<ClientStatus>,
    /// N.
    pub days_until_lost: u32,
    /// Lost date reporting.
    pub lost_date: LostDate,
    /// Unit of counting.
    pub group_by: GroupBy,
    /// Global filters, ANDed.
    pub filters: GlobalFilters,
    /// Segmentation levels (0–3; at most 1 with a split).
    pub levels: Vec<Level>,
}

/// Which generic endpoint a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenericKind {
    /// `generic/dateRange`.
    DateRange,
    /// `generic/current`: stop = today, no split.
    Current,
}

impl GenericSpec {
    /// Parses and validates a request body (reporting-api §9.1, §9.2).
    pub fn parse(body: &JsonObject, kind: GenericKind, ctx: &ReportContext) -> Result<Self, ApiError> {
        let today = ctx.today;
        let start = body.required("startDate")?.report_date(today)?;
        let (stop, split) = match kind {
            GenericKind::DateRange => {
                let stop = body.required("stopDate")?.report_date(today)?;
                let split = body.optional("dateSplit")?.map(|v| v.one_of(&DateSplit::NAMES)).transpose()?;
                (stop, split)
            }
            GenericKind::Current => {
                if body.contains("stopDate") {
                    return Err(ApiError::syntax(
                        "field 'stopDate' is not accepted by generic/current; the range ends today",
                    ));
                }
                if let Some(v) = body.optional("dateSplit")? {
                    return Err(v.error("must be null for generic/current"));
                }
                (today, None)
            }
        };
        let mut statuses = Vec::new();
        for (_, item) in body.required("clientStatus")?.array_len(1, 3)?.iter() {
            let status = item.one_of(&[
                ("new", ClientStatus::New),
                ("active", ClientStatus::Active),
                ("lost", ClientStatus::Lost),
            ])?;
            if statuses.contains(&status) {
                return Err(item.error("repeats an earlier value"));
            }
            statuses.push(status);
        }
        statuses.sort();
        let days_until_lost = match body.optional("daysUntilDeclaredLost")? {
            Some(v) => v.integer_in(1, 365)? as u32,
            None => ctx.days_until_declared_lost,
        };
        let lost_date = body
            .optional("dateReportedLost")?
            .map(|v| v.one_of(&[("dateLastSeen", LostDate::LastSeen), ("dateDeclaredLost", LostDate::DeclaredLost)]))
            .transpose()?
            .unwrap_or(LostDate::LastSeen);
        let group_by = parse_group_by(body, ctx)?;
        let filters = GlobalFilters::parse(body.optional("globalFilters")?, ctx)?;
        let levels = parse_levels(body.optional("levels")?, if split.is_some() { 1 } else { 3 }, ctx)?;
        body.accept_v2_fields(&ctx.product)?;
        body.finish()?;
        let rule = if split == Some(DateSplit::Day) { RangeRule::REPORT_DAY_SPLIT } else { RangeRule::REPORT };
        let range = ReportRange::checked(start, stop, ctx.oldest_reported_date(), &rule)?;
        Ok(Self { range, split, statuses, days_until_lost, lost_date, group_by, filters, levels })
    }
}

/// Parses `groupBy` (semantics §3): `clientId` (default), `machineId`, `licenseKey` (needs the
/// permission) or `C01`–`C20`.
pub fn parse_group_by(body: &JsonObject, ctx: &ReportContext) -> Result<GroupBy, ApiError> {
    Ok(match body.optional("groupBy")? {
        None => GroupBy::ClientId,
        Some(v) => {
            let name = v.string()?;
            match name.as_str() {
                "clientId" => GroupBy::ClientId,
                "machineId" => GroupBy::MachineId,
                "licenseKey" if !ctx.license_keys => {
                    return Err(ApiError::forbidden("licenseKey requires the licenseKeys permission"))
                }
                "licenseKey" => GroupBy::LicenseKey,
                n if is_custom_property(n) => GroupBy::Custom(n[1..].parse().unwrap_or(1)),
                _ => return Err(v.error("must be one of: clientId, machineId, licenseKey, C01-C20")),
            }
        }
    })
}

fn is_custom_property(name: &str) -> bool {
    name.len() == 3
        && name.starts_with('C')
        && name[1..].parse::<u8>().is_ok_and(|n| (1..=20).contains(&n))
        && name[1..].chars().all(|c| c.is_ascii_digit())
}

/// The SQL key of the period containing the DATE expression `col` (NULL without a split).
fn key_sql(d: &dyn Dialect, split: Option<DateSplit>, col: &str) -> String {
    match split {
        None => "CAST(NULL AS DATE)".to_string(),
        Some(DateSplit::Day) => col.to_string(),
        Some(DateSplit::Week) => d.week_start(col),
        Some(DateSplit::Month) => d.month_start(col),
    }
}

impl GenericSpec {
    fn needs_standard(&self) -> bool {
        self.filters.uses_standard() || self.levels.iter().any(Level::uses_standard)
    }

    fn needs_current(&self) -> bool {
        self.filters.uses_current() || self.levels.iter().any(Level::uses_current)
    }

    /// The last day that can hold data: the range end, or today (semantics §6).
    fn data_stop(&self, ctx: &ReportContext) -> NaiveDate {
        self.range.stop().min(ctx.today)
    }

    fn lost_window(&self, ctx: &ReportContext) -> (NaiveDate, NaiveDate) {
        // L + N ≤ today  ⟺  L ≤ today − N.
        let last_seen_max = ctx.today - Duration::days(i64::from(self.days_until_lost));
        (last_seen_max, ctx.today)
    }
}

/// One grouped SQL row: period key, the level cells, and how many installations.
struct GroupedRow {
    key: Option<NaiveDate>,
    cells: Vec<usagi_warehouse::Value>,
    n: i64,
}

/// The query of one status for `groupBy = clientId` (semantics §5, §7.3).
///
/// Each installation is classified once per period, on its reference-day row `p`: for
/// active and new, its last active day in the period (standard values only change on
/// active days, so that is its value at e(P)); for lost, its `clients` row (it left, so
/// its latest value is the value it had at e(P) ≥ dateLastSeen).
async fn status_rows(
    wh: &dyn Warehouse,
    ctx: &ReportContext,
    spec: &GenericSpec,
    prepared: &Prepared,
    status: ClientStatus,
) -> Result<Vec<GroupedRow>, ApiError> {
    let mut q = Query::new(wh.dialect());
    let Source { from, mut conds, key, std } = status_source(&mut q, ctx, spec, status);
    conds.push(spec.filters.sql(prepared, ctx, &mut q, std));
    let mut select = vec![format!("{key} AS k")];
    for level in &spec.levels {
        select.extend(level.group_sql(ctx, &mut q, std));
    }
    let groups: Vec<String> = (1..=select.len()).map(|i| i.to_string()).collect();
    let sql = format!(
        "SELECT {}, count(*) AS n FROM {from} WHERE {} GROUP BY {}",
        select.join(", "),
        conds.join(" AND "),
        groups.join(", ")
    );
    let rows = q.run(wh, sql).await?;
    Ok(rows
        .rows
        .into_iter()
        .map(|mut r| {
            let n = r.pop().and_then(|v| v.as_i64()).unwrap_or(0);
            let key = r.first().and_then(|v| v.as_date());
            GroupedRow { key, cells: r.into_iter().skip(1).collect(), n }
        })
        .collect())
}

/// Every requested status in one statement, when all of them read the same rows and key
/// (no split, range reaching today: each status is a condition on `clients`); `None` when
/// they do not. One scan with a conditional count per status instead of one grouped scan
/// per status (the 3-level report took 2.5× its hand-written single-scan SQL before).
async fn folded_status_rows(
    wh: &dyn Warehouse,
    ctx: &ReportContext,
    spec: &GenericSpec,
    prepared: &Prepared,
) -> Result<Option<Vec<(ClientStatus, GroupedRow)>>, ApiError> {
    if spec.statuses.len() < 2 {
        return Ok(None);
    }
    let mut q = Query::new(wh.dialect());
    let sources: Vec<Source> = spec.statuses.iter().map(|&s| status_source(&mut q, ctx, spec, s)).collect();
    let first = &sources[0];
    if sources.iter().any(|s| s.from != first.from || s.key != first.key || s.std != first.std) {
        return Ok(None);
    }
    let (from, key, std) = (&first.from, &first.key, first.std);
    let filters = spec.filters.sql(prepared, ctx, &mut q, std);
    let mut select = vec![format!("{key} AS k")];
    for level in &spec.levels {
        select.extend(level.group_sql(ctx, &mut q, std));
    }
    let width = select.len();
    let each: Vec<String> = sources.iter().map(|s| format!("({})", s.conds.join(" AND "))).collect();
    let counts: Vec<String> = each.iter().map(|c| format!("count(CASE WHEN {c} THEN 1 END)")).collect();
    let groups: Vec<String> = (1..=width).map(|i| i.to_string()).collect();
    let sql = format!(
        "SELECT {}, {} FROM {from} WHERE {filters} AND ({}) GROUP BY {}",
        select.join(", "),
        counts.join(", "),
        each.join(" OR "),
        groups.join(", ")
    );
    let rows = q.run(wh, sql).await?;
    let mut out = Vec::new();
    for mut r in rows.rows {
        let ns = r.split_off(width.min(r.len()));
        let key = r.first().and_then(|v| v.as_date());
        let cells: Vec<_> = r.into_iter().skip(1).collect();
        for (&status, n) in spec.statuses.iter().zip(ns) {
            let n = n.as_i64().unwrap_or(0);
            // A group counted by another status only: the separate queries would not return it for this one.
            if n > 0 {
                out.push((status, GroupedRow { key, cells: cells.clone(), n }));
            }
        }
    }
    Ok(Some(out))
}

/// Where one status's installations come from: the rows, the conditions selecting them, the
/// period key and the alias whose standard columns filters and levels read.
struct Source {
    from: String,
    conds: Vec<String>,
    key: String,
    std: &'static str,
}

fn status_source(q: &mut Query, ctx: &ReportContext, spec: &GenericSpec, status: ClientStatus) -> Source {
    let d = q.dialect();
    let product = q.bind(Param::Int(ctx.product.as_u64() as i64));
    let start = q.bind(Param::Date(spec.range.start()));
    let needs_std = spec.needs_standard();
    let (from, conds, key, std) = match status {
        ClientStatus::Lost => {
            let stop = q.bind(Param::Date(spec.range.stop()));
            let (last_max, _) = spec.lost_window(ctx);
            let last_max = q.bind(Param::Date(last_max));
            let reported = match spec.lost_date {
                LostDate::LastSeen => "c.date_last_seen".to_string(),
                LostDate::DeclaredLost => {
                    d.add_days("c.date_last_seen", &q.bind(Param::Int(i64::from(spec.days_until_lost))))
                }
            };
            let conds = vec![
                format!("c.product_id = {product}"),
                format!("c.date_last_seen <= {last_max}"),
                format!("{reported} BETWEEN {start} AND {stop}"),
            ];
            ("clients c".to_string(), conds, key_sql(d, spec.split, &reported), "c")
        }
        ClientStatus::New if !needs_std => {
            let stop = q.bind(Param::Date(spec.data_stop(ctx)));
            let conds =
                vec![format!("c.product_id = {product}"), format!("c.date_installed BETWEEN {start} AND {stop}")];
            ("clients c".to_string(), conds, key_sql(d, spec.split, "c.date_installed"), "c")
        }
        ClientStatus::New | ClientStatus::Active => {
            let stop = q.bind(Param::Date(spec.data_stop(ctx)));
            let new = status == ClientStatus::New;
            let (mut from, mut conds, key, std) = if spec.split.is_none() && spec.range.stop() >= ctx.today {
                // Every installation active in [start, today] has its last active day in the
                // range, so its reference row is its `clients` row (latest values).
                let since = if new { "c.date_installed" } else { "c.date_last_seen" };
                let conds = vec![format!("c.product_id = {product}"), format!("{since} >= {start}")];
                ("clients c".to_string(), conds, key_sql(d, None, ""), "c")
            } else if spec.split == Some(DateSplit::Day) {
                let first = if new { " AND first_day" } else { "" };
                (
                    format!(
                        "(SELECT * FROM client_days WHERE product_id = {product} \
                         AND day BETWEEN {start} AND {stop}{first}) p"
                    ),
                    Vec::new(),
                    "p.day".to_string(),
                    "p",
                )
            } else if let Some(split @ (DateSplit::Week | DateSplit::Month)) = spec.split {
                // Every period before the one holding the last counted day lies wholly before
                // the range end, so its reference row is the flagged last active day of the
                // period (a period clipped at the start keeps its flagged row iff that row is in
                // the range). Only the last period, possibly clipped, is aggregated.
                let k = key_sql(d, spec.split, "day");
                let flag = if split == DateSplit::Week { "week_last" } else { "month_last" };
                let last_period = usagi_types::period_key(spec.data_stop(ctx), split);
                let last_key = q.bind(Param::Date(last_period));
                let last_from = q.bind(Param::Date(last_period.max(spec.range.start())));
                let cols = if needs_std { "*".to_string() } else { "client_id".to_string() };
                let full = format!(
                    "SELECT {cols}, {k} AS k FROM client_days WHERE product_id = {product} \
                     AND day BETWEEN {start} AND {stop} AND day < {last_key} AND {flag}"
                );
                let last = last_active_rows(&k, &product, &last_from, &stop, "", needs_std);
                let mut from = format!("({full} UNION ALL {last}) p");
                let mut conds = Vec::new();
                if new {
                    // Installed in this period and in the range (semantics §5.1).
                    from = format!("{from} JOIN clients c ON c.product_id = {product} AND c.client_id = p.client_id");
                    conds.push(format!("c.date_installed >= {start}"));
                    conds.push(format!("{} = p.k", key_sql(d, spec.split, "c.date_installed")));
                }
                (from, conds, "p.k".to_string(), "p")
            } else {
                // No split, range ending before today: each installation's last active day in the
                // range; "new" when the range holds its installation day.
                let having = if new { " HAVING bool_or(first_day)" } else { "" };
                let rows = last_active_rows(&key_sql(d, None, "day"), &product, &start, &stop, having, needs_std);
                (format!("({rows}) p"), Vec::new(), "p.k".to_string(), "p")
            };
            let joined = from.contains(" JOIN clients c ");
            if std == "p" && spec.needs_current() && !joined {
                from = format!("{from} JOIN clients c ON c.product_id = {product} AND c.client_id = p.client_id");
            }
            if conds.is_empty() {
                conds.push("TRUE".into());
            }
            (from, conds, key, std)
        }
    };
    Source { from, conds, key, std }
}

/// Per installation of a unit report: its unit, span and level cells.
struct Member {
    unit: String,
    installed: NaiveDate,
    last_seen: NaiveDate,
    cells: Vec<usagi_warehouse::Value>,
}

/// Units of several installations (semantics §3). **Decision:** installations are filtered
/// and segmented once for the whole report, by their values at the end of the range, like
/// the unit membership itself; a unit then falls in a key when some passing member does,
/// and its quantities are computed over the members in that key.
async fn unit_tally(
    wh: &dyn Warehouse,
    ctx: &ReportContext,
    spec: &GenericSpec,
    prepared: &Prepared,
    tally: &mut Tally<'_>,
) -> Result<(), ApiError> {
    let d = wh.dialect();
    let mut q = Query::new(d);
    let product = q.bind(Param::Int(ctx.product.as_u64() as i64));

    let unit = match &spec.group_by {
        GroupBy::MachineId => "c.machine_id".to_string(),
        GroupBy::LicenseKey => "c.license_key".to_string(),
        GroupBy::Custom(n) => format!("c.c{n:02}"),
        GroupBy::ClientId => "CAST(c.client_id AS VARCHAR)".to_string(),
    };
    // The reference row: the last active day up to the end of the range, which is the
    // `clients` row when the range reaches today.
    let (from, std) = if spec.range.stop() >= ctx.today {
        (format!("clients c WHERE c.product_id = {product}"), "c")
    } else {
        let stop = q.bind(Param::Date(spec.data_stop(ctx)));
        let first = q.bind(Param::Date(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()));
        let last_rows = crate::population::last_rows_sql(&product, &first, &stop);
        (
            format!("{last_rows} JOIN clients c ON c.product_id = {product} AND c.client_id = p.client_id WHERE TRUE"),
            "p",
        )
    };
    let mut select =
        vec!["c.client_id".to_string(), unit.clone(), "c.date_installed".into(), "c.date_last_seen".into()];
    for level in &spec.levels {
        select.extend(level.group_sql(ctx, &mut q, std));
    }
    let filters = spec.filters.sql(prepared, ctx, &mut q, std);
    let sql = format!("SELECT {} FROM {from} AND {unit} IS NOT NULL AND {filters}", select.join(", "));
    let rows = q.run(wh, sql).await?;
    let mut members: HashMap<u64, Member> = HashMap::new();
    for mut r in rows.rows {
        let cells = r.split_off(4.min(r.len()));
        let (Some(id), Some(unit), Some(i), Some(l)) =
            (r[0].as_u64(), r[1].as_str().map(str::to_string), r[2].as_date(), r[3].as_date())
        else {
            continue;
        };
        members.insert(id, Member { unit, installed: i, last_seen: l, cells });
    }
    let mut q = Query::new(d);
    let product = q.bind(Param::Int(ctx.product.as_u64() as i64));
    let start = q.bind(Param::Date(spec.range.start()));
    let stop = q.bind(Param::Date(spec.data_stop(ctx)));
    let k = key_sql(d, spec.split, "day");
    let sql = format!(
        "SELECT DISTINCT client_id, {k} FROM client_days WHERE product_id = {product} AND day BETWEEN {start} AND {stop}"
    );
    let mut active: HashMap<u64, Vec<Option<NaiveDate>>> = HashMap::new();
    for r in q.run(wh, sql).await?.rows {
        if let Some(c) = r[0].as_u64().filter(|c| members.contains_key(c)) {
            active.entry(c).or_default().push(r[1].as_date());
        }
    }
    // Per (key path, unit): min dateInstalled, max dateLastSeen, active periods.
    type Agg = (NaiveDate, NaiveDate, HashSet<Option<NaiveDate>>);
    let mut aggs: HashMap<(Vec<(String, KeyOrder)>, String), Agg> = HashMap::new();
    for (id, m) in &members {
        for path in tally.paths(&m.cells) {
            let e = aggs.entry((path, m.unit.clone())).or_insert((m.installed, m.last_seen, HashSet::new()));
            e.0 = e.0.min(m.installed);
            e.1 = e.1.max(m.last_seen);
            e.2.extend(active.get(id).into_iter().flatten().copied());
        }
    }
    let key_of = |day: NaiveDate| spec.split.map(|s| usagi_types::period_key(day, s));
    let (last_max, _) = spec.lost_window(ctx);
    let (start, data_stop) = (spec.range.start(), spec.data_stop(ctx));
    for ((path, _), (installed, last_seen, periods)) in aggs {
        for &status in &spec.statuses {
            match status {
                ClientStatus::New if installed >= start && installed <= data_stop => {
                    tally.add_at(&path, status, key_of(installed), 1)
                }
                ClientStatus::Active => {
                    for p in &periods {
                        tally.add_at(&path, status, *p, 1);
                    }
                }
                ClientStatus::Lost if last_seen <= last_max => {
                    let reported = match spec.lost_date {
                        LostDate::LastSeen => last_seen,
                        LostDate::DeclaredLost => last_seen + Duration::days(i64::from(spec.days_until_lost)),
                    };
                    if spec.range.contains(reported) {
                        tally.add_at(&path, status, key_of(reported), 1);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// One node of the answer: status totals and the next level's keys.
#[derive(Debug, Default)]
struct Node {
    totals: [i64; 3],
    children: HashMap<String, (KeyOrder, Node)>,
}

/// Counts per period and key path, shaped into the answer of reporting-api §9.1.
struct Tally<'a> {
    spec: &'a GenericSpec,
    periods: HashMap<Option<NaiveDate>, Node>,
}

impl<'a> Tally<'a> {
    fn new(spec: &'a GenericSpec) -> Self {
        Self { spec, periods: HashMap::new() }
    }

    /// Every key path (one per level prefix) a row's cells fall in: `[]` for the totals,
    /// then `[k1]`, `[k1, k2]`, … for every combination of matching keys.
    fn paths(&self, cells: &[usagi_warehouse::Value]) -> Vec<Vec<(String, KeyOrder)>> {
        let mut out = vec![Vec::new()];
        let mut frontier: Vec<Vec<(String, KeyOrder)>> = vec![Vec::new()];
        let mut offset = 0;
        for level in &self.spec.levels {
            let w = level.width();
            let keys = level.keys(cells.get(offset..offset + w).unwrap_or(&[]));
            offset += w;
            let mut next = Vec::new();
            for prefix in &frontier {
                for k in &keys {
                    let mut p = prefix.clone();
                    p.push(k.clone());
                    next.push(p);
                }
            }
            out.extend(next.iter().cloned());
            frontier = next;
        }
        out
    }

    fn add_at(&mut self, path: &[(String, KeyOrder)], status: ClientStatus, period: Option<NaiveDate>, n: i64) {
        let mut node = self.periods.entry(period).or_default();
        for (key, order) in path {
            let entry = node.children.entry(key.clone()).or_insert_with(|| (order.clone(), Node::default()));
            entry.0 = entry.0.clone().min(order.clone());
            node = &mut entry.1;
        }
        node.totals[status.index()] += n;
    }

    fn add_row(&mut self, status: ClientStatus, row: &GroupedRow) {
        for path in self.paths(&row.cells) {
            self.add_at(&path, status, row.key, row.n);
        }
    }

    fn totals_json(&self, node: &Node) -> Value {
        let mut m = Map::new();
        for s in &self.spec.statuses {
            m.insert(s.as_str().into(), Value::from(node.totals[s.index()]));
        }
        Value::Object(m)
    }

    /// `{"key": {"totals": …, "levelN+1": …}, …}` for level `depth` under `node`.
    fn level_json(&self, node: &Node, depth: usize, budget: &mut Budget) -> Result<Value, ApiError> {
        let level = &self.spec.levels[depth];
        let empty = Node::default();
        let fixed = level.fixed_keys();
        // A split value equal to a fixed key merges into it and sorts where the fixed key does.
        let fixed_order = |k: &str| fixed.iter().find(|(f, _)| f == k).map(|(_, o)| o.clone());
        let mut keys: Vec<(KeyOrder, &str, &Node)> = node
            .children
            .iter()
            .map(|(k, (o, n))| (fixed_order(k).map_or(o.clone(), |f| f.min(o.clone())), k.as_str(), n))
            .collect();
        for (k, o) in &fixed {
            if !node.children.contains_key(k) {
                keys.push((o.clone(), k.as_str(), &empty));
            }
        }
        keys.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        if keys.len() > budget.keys_per_level {
            return Err(ApiError::too_large(format!(
                "the result has more than {} keys in level{}; narrow the segments",
                budget.keys_per_level,
                depth + 1
            )));
        }
        let mut out = Map::new();
        for (_, key, child) in keys {
            let mut m = Map::new();
            budget.spend(self.spec.statuses.len())?;
            m.insert("totals".into(), self.totals_json(child));
            if depth + 1 < self.spec.levels.len() {
                m.insert(format!("level{}", depth + 2), self.level_json(child, depth + 1, budget)?);
            }
            out.insert(key.to_string(), Value::Object(m));
        }
        Ok(Value::Object(out))
    }

    /// The value of one period (or of the whole range without a split).
    fn period_json(&self, period: Option<NaiveDate>, budget: &mut Budget) -> Result<Value, ApiError> {
        let empty = Node::default();
        let node = self.periods.get(&period).unwrap_or(&empty);
        if self.spec.levels.is_empty() {
            budget.spend(self.spec.statuses.len())?;
            let totals = self.totals_json(node);
            return Ok(if self.spec.split.is_some() {
                totals
            } else {
                let mut m = Map::new();
                m.insert("totals".into(), totals);
                Value::Object(m)
            });
        }
        let mut m = Map::new();
        m.insert("level1".into(), self.level_json(node, 0, budget)?);
        Ok(Value::Object(m))
    }

    fn into_json(self, limits: crate::context::ResultLimits) -> Result<Value, ApiError> {
        let mut budget =
            Budget { keys_per_level: limits.keys_per_level, numbers_left: limits.numbers, limit: limits.numbers };
        let result = match self.spec.split {
            None => self.period_json(None, &mut budget)?,
            Some(split) => {
                let mut m = Map::new();
                for period in periods(self.spec.range.start(), self.spec.range.stop(), Some(split)) {
                    m.insert(
                        period.key.format("%Y-%m-%d").to_string(),
                        self.period_json(Some(period.key), &mut budget)?,
                    );
                }
                Value::Object(m)
            }
        };
        let mut out = Map::new();
        out.insert("result".into(), result);
        Ok(Value::Object(out))
    }
}

/// What an answer may still hold (reporting-api §1.12).
struct Budget {
    keys_per_level: usize,
    numbers_left: usize,
    limit: usize,
}

impl Budget {
    fn spend(&mut self, n: usize) -> Result<(), ApiError> {
        self.numbers_left = self.numbers_left.checked_sub(n).ok_or_else(|| {
            ApiError::too_large(format!(
                "the result has more than {} numbers; narrow the date range, split or segments",
                self.limit
            ))
        })?;
        Ok(())
    }
}

/// Runs a generic report and shapes its result (reporting-api §9.1 shapes 1–4).
pub async fn run(wh: &dyn Warehouse, ctx: &ReportContext, spec: &GenericSpec) -> Result<Value, ApiError> {
    let prepared = spec.filters.prepare(wh, ctx).await?;
    let mut tally = Tally::new(spec);
    if spec.group_by == GroupBy::ClientId {
        if let Some(rows) = folded_status_rows(wh, ctx, spec, &prepared).await? {
            for (status, row) in rows {
                tally.add_row(status, &row);
            }
        } else {
            for &status in &spec.statuses {
                for row in status_rows(wh, ctx, spec, &prepared, status).await? {
                    tally.add_row(status, &row);
                }
            }
        }
    } else {
        unit_tally(wh, ctx, spec, &prepared, &mut tally).await?;
    }
    tally.into_json(ctx.limits)
}
