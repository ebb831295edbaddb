//! Generic reports: `generic/dateRange` and `generic/current` (reporting-api §9, semantics §5–§6).
//!
//! New, active and lost are computed from two rollups: `client_days` (one row per
//! installation and active day) and `clients` (dateInstalled, dateLastSeen). Lost is
//! never stored: it is a function of dateLastSeen, N and today (semantics §5.3).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use serde_json::{Map, Value};
use usagi_types::{periods, ApiError, DateSplit, JsonObject, RangeRule, ReportRange};
use usagi_warehouse::{Dialect, ObservationSource, Param, Warehouse};

use crate::context::{warehouse_error, ReportContext};

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
        let group_by = match body.optional("groupBy")? {
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
        };
        for unsupported in ["globalFilters", "levels"] {
            if let Some(v) = body.optional(unsupported)? {
                if !v.object()?.is_empty() {
                    return Err(v.error("is not supported yet"));
                }
            }
        }
        body.accept_v2_fields(&ctx.product)?;
        body.finish()?;
        let rule = if split == Some(DateSplit::Day) { RangeRule::REPORT_DAY_SPLIT } else { RangeRule::REPORT };
        let range = ReportRange::checked(start, stop, ctx.oldest_reported_date(), &rule)?;
        Ok(Self { range, split, statuses, days_until_lost, lost_date, group_by })
    }
}

fn is_custom_property(name: &str) -> bool {
    name.len() == 3
        && name.starts_with('C')
        && name[1..].parse::<u8>().is_ok_and(|n| (1..=20).contains(&n))
        && name[1..].chars().all(|c| c.is_ascii_digit())
}

/// The SQL key of the period containing the DATE expression `col`.
fn key_expr(d: &dyn Dialect, split: Option<DateSplit>, col: &str) -> Option<String> {
    match split {
        None => None,
        Some(DateSplit::Day) => Some(col.to_string()),
        Some(DateSplit::Week) => Some(d.week_start(col)),
        Some(DateSplit::Month) => Some(d.month_start(col)),
    }
}

/// `SELECT key, count FROM … WHERE … [GROUP BY key]`, or one total row without a split.
fn counted(d: &dyn Dialect, split: Option<DateSplit>, date_col: &str, count: &str, from_where: &str) -> String {
    match key_expr(d, split, date_col) {
        Some(k) => format!("SELECT {k} AS k, {count} AS n FROM {from_where} GROUP BY 1"),
        None => format!("SELECT CAST(NULL AS DATE) AS k, {count} AS n FROM {from_where}"),
    }
}

/// Counts per period key (`None` key = the whole range).
type Counts = Vec<(Option<NaiveDate>, i64)>;

async fn status_counts(
    wh: &dyn Warehouse,
    ctx: &ReportContext,
    spec: &GenericSpec,
    status: ClientStatus,
) -> Result<Counts, ApiError> {
    let d = wh.dialect();
    let (p1, p2, p3) = (d.placeholder(1), d.placeholder(2), d.placeholder(3));
    let product = Param::Int(ctx.product.as_u64() as i64);
    let start = spec.range.start();
    // Days after today hold no data (semantics §6).
    let stop = spec.range.stop().min(ctx.today);
    let (sql, params) = match status {
        ClientStatus::Active => {
            let count = if spec.split == Some(DateSplit::Day) { "count(*)" } else { "count(DISTINCT client_id)" };
            let from = format!("client_days WHERE product_id = {p1} AND day BETWEEN {p2} AND {p3}");
            (counted(d, spec.split, "day", count, &from), vec![product, Param::Date(start), Param::Date(stop)])
        }
        ClientStatus::New => {
            let from = format!("clients WHERE product_id = {p1} AND date_installed BETWEEN {p2} AND {p3}");
            (
                counted(d, spec.split, "date_installed", "count(*)", &from),
                vec![product, Param::Date(start), Param::Date(stop)],
            )
        }
        ClientStatus::Lost => {
            let (p4, p5) = (d.placeholder(4), d.placeholder(5));
            let declared = d.add_days("date_last_seen", &p4);
            let reported = match spec.lost_date {
                LostDate::LastSeen => "date_last_seen".to_string(),
                LostDate::DeclaredLost => declared.clone(),
            };
            let from =
                format!("clients WHERE product_id = {p1} AND {declared} <= {p5} AND {reported} BETWEEN {p2} AND {p3}");
            (
                counted(d, spec.split, &reported, "count(*)", &from),
                vec![
                    product,
                    Param::Date(start),
                    Param::Date(spec.range.stop()),
                    Param::Int(i64::from(spec.days_until_lost)),
                    Param::Date(ctx.today),
                ],
            )
        }
    };
    if start > stop && status != ClientStatus::Lost {
        return Ok(Vec::new());
    }
    let rows = wh.query(sql, params).await.map_err(warehouse_error)?;
    Ok(rows
        .rows
        .iter()
        .map(|r| (r.first().and_then(|v| v.as_date()), r.get(1).and_then(|v| v.as_i64()).unwrap_or(0)))
        .collect())
}

/// The latest value of the groupBy property per installation; NULL values belong to no unit.
async fn unit_of_clients(
    wh: &dyn Warehouse,
    ctx: &ReportContext,
    group_by: &GroupBy,
) -> Result<HashMap<u64, String>, ApiError> {
    let (source, key) = match group_by {
        GroupBy::ClientId => return Ok(HashMap::new()),
        GroupBy::MachineId => (ObservationSource::Envelope, "machineId".to_string()),
        GroupBy::LicenseKey => (ObservationSource::LicenseKey, "licenseKey".to_string()),
        GroupBy::Custom(n) => (ObservationSource::Custom, n.to_string()),
    };
    let d = wh.dialect();
    let sql = format!(
        "SELECT client_id, payload FROM (SELECT client_id, payload, row_number() OVER \
         (PARTITION BY client_id ORDER BY t DESC, seq DESC, idx DESC) AS rn FROM observations \
         WHERE product_id = {} AND source = {}) AS latest WHERE rn = 1",
        d.placeholder(1),
        d.placeholder(2)
    );
    let params = vec![Param::Int(ctx.product.as_u64() as i64), Param::Int(source as u8 as i64)];
    let rows = wh.query(sql, params).await.map_err(warehouse_error)?;
    let mut units = HashMap::new();
    for r in rows.rows {
        let (Some(client), Some(payload)) = (r.first().and_then(|v| v.as_u64()), r.get(1).and_then(|v| v.as_str()))
        else {
            continue;
        };
        let value = serde_json::from_str::<Value>(payload)
            .ok()
            .and_then(|p| p.get(&key).and_then(|v| v.as_str().map(str::to_string)));
        if let Some(v) = value {
            units.insert(client, v);
        }
    }
    Ok(units)
}

/// Counts per period for units of several installations (semantics §3): activity days are
/// the union over members, dateInstalled the min, dateLastSeen the max.
async fn unit_counts(
    wh: &dyn Warehouse,
    ctx: &ReportContext,
    spec: &GenericSpec,
    units: &HashMap<u64, String>,
) -> Result<Vec<(ClientStatus, Counts)>, ApiError> {
    let d = wh.dialect();
    let product = Param::Int(ctx.product.as_u64() as i64);
    let key_of = |day: NaiveDate| spec.split.map(|s| usagi_types::period_key(day, s));
    let in_range = |day: NaiveDate| day >= spec.range.start() && day <= spec.range.stop();
    let mut out = Vec::new();
    // Per unit: dateInstalled and dateLastSeen.
    let rows = wh
        .query(
            format!(
                "SELECT client_id, date_installed, date_last_seen FROM clients WHERE product_id = {}",
                d.placeholder(1)
            ),
            vec![product.clone()],
        )
        .await
        .map_err(warehouse_error)?;
    let mut spans: HashMap<&str, (NaiveDate, NaiveDate)> = HashMap::new();
    for r in &rows.rows {
        let (Some(c), Some(i), Some(l)) = (r[0].as_u64(), r[1].as_date(), r[2].as_date()) else { continue };
        if let Some(unit) = units.get(&c) {
            let e = spans.entry(unit.as_str()).or_insert((i, l));
            e.0 = e.0.min(i);
            e.1 = e.1.max(l);
        }
    }
    for &status in &spec.statuses {
        let mut counts: HashMap<Option<NaiveDate>, i64> = HashMap::new();
        match status {
            ClientStatus::New => {
                for (installed, _) in spans.values() {
                    if in_range(*installed) && *installed <= ctx.today {
                        *counts.entry(key_of(*installed)).or_default() += 1;
                    }
                }
            }
            ClientStatus::Lost => {
                let n = chrono::Duration::days(i64::from(spec.days_until_lost));
                for (_, last) in spans.values() {
                    let declared = *last + n;
                    let reported = if spec.lost_date == LostDate::DeclaredLost { declared } else { *last };
                    if declared <= ctx.today && in_range(reported) {
                        *counts.entry(key_of(reported)).or_default() += 1;
                    }
                }
            }
            ClientStatus::Active => {
                let stop = spec.range.stop().min(ctx.today);
                let key = key_expr(d, spec.split, "day").unwrap_or_else(|| "CAST(NULL AS DATE)".into());
                let sql = format!(
                    "SELECT DISTINCT client_id, {key} FROM client_days WHERE product_id = {} AND day BETWEEN {} AND {}",
                    d.placeholder(1),
                    d.placeholder(2),
                    d.placeholder(3)
                );
                let rows = wh
                    .query(sql, vec![product.clone(), Param::Date(spec.range.start()), Param::Date(stop)])
                    .await
                    .map_err(warehouse_error)?;
                let mut seen: HashSet<(&str, Option<NaiveDate>)> = HashSet::new();
                for r in &rows.rows {
                    let Some(unit) = r[0].as_u64().and_then(|c| units.get(&c)) else { continue };
                    if seen.insert((unit.as_str(), r[1].as_date())) {
                        *counts.entry(r[1].as_date()).or_default() += 1;
                    }
                }
            }
        }
        out.push((status, counts.into_iter().collect()));
    }
    Ok(out)
}

/// Runs a generic report and shapes its result (reporting-api §9.1 shapes 1 and 2).
pub async fn run(wh: &dyn Warehouse, ctx: &ReportContext, spec: &GenericSpec) -> Result<Value, ApiError> {
    let per_status = if spec.group_by == GroupBy::ClientId {
        let mut per_status = Vec::new();
        for &status in &spec.statuses {
            per_status.push((status, status_counts(wh, ctx, spec, status).await?));
        }
        per_status
    } else {
        let units = unit_of_clients(wh, ctx, &spec.group_by).await?;
        unit_counts(wh, ctx, spec, &units).await?
    };
    let totals_for = |key: Option<NaiveDate>| {
        let mut m = Map::new();
        for (status, counts) in &per_status {
            let n = counts.iter().filter(|(k, _)| *k == key).map(|(_, n)| *n).sum::<i64>();
            m.insert(status.as_str().into(), Value::from(n));
        }
        Value::Object(m)
    };
    let mut result = Map::new();
    match spec.split {
        None => {
            result.insert("totals".into(), totals_for(None));
        }
        Some(split) => {
            for period in periods(spec.range.start(), spec.range.stop(), Some(split)) {
                result.insert(period.key.format("%Y-%m-%d").to_string(), totals_for(Some(period.key)));
            }
        }
    }
    let mut out = Map::new();
    out.insert("result".into(), Value::Object(result));
    Ok(Value::Object(out))
}
