//! The license key registry (reporting-api §12, semantics §12): the `listKeys` request,
//! its filters and paging, the key record with its installation figures, and the
//! requests of `updateKeys` and `deleteKeys`.
//!
//! Registry rows come from the catalog (through a fetch function, so this crate knows no
//! catalog); `activeClients` and `dateLastSeen` come from one warehouse query over the
//! `clients` rollup grouped by each installation's current key. Filters run in Rust on the
//! finished records, because `expired` and `overQuotaCount` are only known there.

use std::collections::HashMap;
use std::future::Future;

use chrono::{Duration, NaiveDate};
use regex::Regex;
use serde::Serialize;
use serde_json::Value;
use usagi_types::{
    parse_report_date, ApiError, JsonKind, JsonObject, JsonValue, LicenseKeyPatch, LicenseType, ProductId, NULL_TEXT,
};
use usagi_warehouse::{Param, Warehouse};

use crate::context::{warehouse_error, ReportContext};
use crate::filters::{license_flags, NumberCond, LICENSE_FIELDS};
use crate::pattern;

/// Largest `pageSize`, and its default.
pub const MAX_PAGE_SIZE: i64 = 10_000;
const DEFAULT_PAGE_SIZE: usize = 1000;
/// Most items of one `updateKeys` or `deleteKeys` call.
pub const MAX_BULK_ITEMS: usize = 10_000;
/// Longest key, in characters after trimming.
const MAX_KEY_CHARS: usize = 256;
/// Longest `notes`, in characters.
const MAX_NOTES_CHARS: usize = 1024;
/// Most values of a `stringArray` filter.
const MAX_FILTER_VALUES: usize = 1000;
/// Registry rows read from the catalog per round trip while a page fills.
const FETCH_CHUNK: usize = 1000;

/// One registry row as the catalog stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryKey {
    /// The key.
    pub key: String,
    /// License type.
    pub license_type: LicenseType,
    /// Activated flag.
    pub activated: bool,
    /// The stored expired flag (the record shows the effective one).
    pub expired: bool,
    /// Blocked flag.
    pub blocked: bool,
    /// Allowed flag.
    pub allowed: bool,
    /// Expiry day.
    pub expiry_date: Option<NaiveDate>,
    /// Day the key entered the registry.
    pub added_date: NaiveDate,
    /// First arrived through `license/set`.
    pub auto_collected: bool,
    /// Installations allowed; `None` = unlimited.
    pub quota: Option<u32>,
    /// Free text.
    pub notes: Option<String>,
}

/// The installations whose current key is one key (semantics §12).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyUsage {
    /// Those not lost under the product's N.
    pub active_clients: u64,
    /// The latest `dateLastSeen` among all of them, lost ones included.
    pub date_last_seen: Option<NaiveDate>,
}

/// A key record of the response, members in the order of the §12 table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRecord {
    /// The key.
    pub license_key: String,
    /// License type.
    pub license_type: LicenseType,
    /// Activated flag.
    pub activated: bool,
    /// Effective expired: stored flag or an expiry day before today.
    pub expired: bool,
    /// Blocked flag.
    pub blocked: bool,
    /// Allowed flag.
    pub allowed: bool,
    /// Expiry day.
    pub expiry_date: Option<NaiveDate>,
    /// Day the key entered the registry.
    pub added_date: NaiveDate,
    /// First arrived through `license/set`.
    pub auto_collected: bool,
    /// Installations allowed; null = unlimited.
    pub quota: Option<u32>,
    /// Active installations using the key.
    pub active_clients: u64,
    /// `activeClients − quota`; null when the quota is.
    pub over_quota_count: Option<i64>,
    /// Latest `dateLastSeen` of the installations using the key.
    pub date_last_seen: Option<NaiveDate>,
    /// Free text.
    pub notes: Option<String>,
}

impl KeyRecord {
    /// Shapes a registry row with its usage as of `today`.
    pub fn new(row: RegistryKey, usage: KeyUsage, today: NaiveDate) -> Self {
        let expired = row.expired || row.expiry_date.is_some_and(|d| d < today);
        let active = i64::try_from(usage.active_clients).unwrap_or(i64::MAX);
        Self {
            over_quota_count: row.quota.map(|q| active - i64::from(q)),
            license_key: row.key,
            license_type: row.license_type,
            activated: row.activated,
            expired,
            blocked: row.blocked,
            allowed: row.allowed,
            expiry_date: row.expiry_date,
            added_date: row.added_date,
            auto_collected: row.auto_collected,
            quota: row.quota,
            active_clients: usage.active_clients,
            date_last_seen: usage.date_last_seen,
            notes: row.notes,
        }
    }

    /// The four flags in the order of `filters::LICENSE_FLAGS`.
    fn flags(&self) -> [bool; 4] {
        [self.activated, self.expired, self.blocked, self.allowed]
    }
}

/// A condition on the key text.
#[derive(Debug, Clone)]
pub enum KeyCond {
    /// Equal to one of these.
    AnyOf(Vec<String>),
    /// The pattern is found in the key.
    Regex(Regex),
}

/// A condition on a registry day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayCond {
    /// No day (`"<NULL>"`; `expiryDate` only).
    IsNull,
    /// Equal.
    Equals(NaiveDate),
    /// Inclusive range; never matches no day.
    Range(Option<NaiveDate>, Option<NaiveDate>),
}

impl DayCond {
    fn matches(&self, day: Option<NaiveDate>) -> bool {
        match (self, day) {
            (DayCond::IsNull, d) => d.is_none(),
            (DayCond::Equals(want), Some(d)) => d == *want,
            (DayCond::Range(min, max), Some(d)) => min.is_none_or(|m| d >= m) && max.is_none_or(|m| d <= m),
            (_, None) => false,
        }
    }
}

/// The `filters` of `listKeys` (ANDed).
#[derive(Debug, Clone, Default)]
pub struct KeyFilters {
    /// `licenseKey`.
    pub license_key: Option<KeyCond>,
    /// `licenseType`: any of these.
    pub license_type: Option<Vec<LicenseType>>,
    /// `licenseStatus`: flags ANDed inside an object, objects ORed; `expired` is effective.
    pub license_status: Option<Vec<Vec<(usize, bool)>>>,
    /// `addedDate`.
    pub added_date: Option<DayCond>,
    /// `expiryDate`.
    pub expiry_date: Option<DayCond>,
    /// `autoCollected`.
    pub auto_collected: Option<bool>,
    /// `overQuotaCount`; keys without a quota never match.
    pub over_quota_count: Option<NumberCond>,
}

impl KeyFilters {
    /// Whether a record passes every filter.
    pub fn matches(&self, r: &KeyRecord) -> bool {
        let key_ok = match &self.license_key {
            None => true,
            Some(KeyCond::AnyOf(values)) => values.contains(&r.license_key),
            Some(KeyCond::Regex(re)) => re.is_match(&r.license_key),
        };
        let status_ok = self.license_status.as_ref().is_none_or(|ors| {
            let flags = r.flags();
            ors.iter().any(|ands| ands.iter().all(|(i, want)| flags[*i] == *want))
        });
        let over_ok = match (&self.over_quota_count, r.over_quota_count) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(cond), Some(n)) => {
                let n = n as f64;
                match cond {
                    NumberCond::Equals(v) => n == *v,
                    NumberCond::Range(min, max) => min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m),
                    NumberCond::IsNull => false,
                }
            }
        };
        key_ok
            && status_ok
            && over_ok
            && self.license_type.as_ref().is_none_or(|ts| ts.contains(&r.license_type))
            && self.added_date.as_ref().is_none_or(|c| c.matches(Some(r.added_date)))
            && self.expiry_date.as_ref().is_none_or(|c| c.matches(r.expiry_date))
            && self.auto_collected.is_none_or(|b| b == r.auto_collected)
    }

    /// Parses `filters` (absent, null or `{}` = every key).
    fn parse(v: Option<JsonValue>, today: NaiveDate) -> Result<Self, ApiError> {
        let mut out = Self::default();
        let Some(v) = v else { return Ok(out) };
        let o = v.object()?;
        o.known_fields(&[
            "licenseKey",
            "licenseType",
            "licenseStatus",
            "addedDate",
            "expiryDate",
            "autoCollected",
            "overQuotaCount",
        ])?;
        // Read in document order, so the first bad filter the client wrote is the one named.
        for (name, value) in o.entries() {
            match name.as_str() {
                "licenseKey" => out.license_key = Some(key_cond(&value)?),
                "licenseType" => out.license_type = Some(type_cond(&value)?),
                "licenseStatus" => out.license_status = Some(status_cond(&value)?),
                "addedDate" => out.added_date = Some(day_cond(&value, today, false)?),
                "expiryDate" => out.expiry_date = Some(day_cond(&value, today, true)?),
                "autoCollected" => out.auto_collected = Some(value.boolean()?),
                _ => out.over_quota_count = Some(over_quota_cond(&value)?),
            }
        }
        Ok(out)
    }
}

/// A filter object `{"type", "value" | "min"/"max"}` and its operator, one of `ops`.
fn operator<'a>(v: &JsonValue, ops: &[&'a str]) -> Result<(JsonObject, &'a str), ApiError> {
    let o = v.object()?;
    o.known_fields(&["type", "value", "min", "max"])?;
    let op = o.required("type")?.enum_of(ops)?;
    Ok((o, op))
}

fn strings(v: &JsonValue) -> Result<Vec<String>, ApiError> {
    v.array_len(1, MAX_FILTER_VALUES)?.items().iter().map(JsonValue::string).collect()
}

fn key_cond(v: &JsonValue) -> Result<KeyCond, ApiError> {
    let (o, op) = operator(v, &["string", "stringArray", "regex"])?;
    let value = o.required("value")?;
    Ok(match op {
        "string" => KeyCond::AnyOf(vec![value.string()?]),
        "stringArray" => KeyCond::AnyOf(strings(&value)?),
        _ => KeyCond::Regex(pattern::compile(&value)?),
    })
}

fn license_type(v: &JsonValue) -> Result<LicenseType, ApiError> {
    let choices: Vec<(&str, LicenseType)> = LicenseType::ALL.iter().map(|t| (t.as_str(), *t)).collect();
    v.one_of(&choices)
}

fn type_cond(v: &JsonValue) -> Result<Vec<LicenseType>, ApiError> {
    let (o, op) = operator(v, &["string", "stringArray"])?;
    let value = o.required("value")?;
    if op == "string" {
        return Ok(vec![license_type(&value)?]);
    }
    value.array_len(1, MAX_FILTER_VALUES)?.items().iter().map(license_type).collect()
}

fn status_cond(v: &JsonValue) -> Result<Vec<Vec<(usize, bool)>>, ApiError> {
    let objects = match v.kind() {
        JsonKind::Array => v.array_len(1, 100)?.items(),
        _ => vec![v.clone()],
    };
    let mut ors = Vec::new();
    for item in objects {
        let o = item.object()?;
        o.known_fields(&LICENSE_FIELDS)?;
        ors.push(license_flags(&o, &item)?);
    }
    Ok(ors)
}

fn day(v: &JsonValue, today: NaiveDate) -> Result<NaiveDate, ApiError> {
    let s = v.string().map_err(|_| v.error("must be a date written as YYYY-MM-DD, NOW or NOW-<n>"))?;
    parse_report_date(&s, today).map_err(|e| v.error(e))
}

fn day_cond(v: &JsonValue, today: NaiveDate, nullable: bool) -> Result<DayCond, ApiError> {
    let (o, op) = operator(v, &["date", "dateRange"])?;
    if op == "dateRange" {
        let min = o.optional("min")?.map(|m| day(&m, today)).transpose()?;
        let max = o.optional("max")?.map(|m| day(&m, today)).transpose()?;
        if min.is_none() && max.is_none() {
            return Err(v.error("needs 'min' or 'max'"));
        }
        return Ok(DayCond::Range(min, max));
    }
    let value = o.required("value")?;
    if value.string().is_ok_and(|s| s == NULL_TEXT) {
        if !nullable {
            return Err(value.error("cannot be <NULL>: addedDate is never NULL"));
        }
        return Ok(DayCond::IsNull);
    }
    Ok(DayCond::Equals(day(&value, today)?))
}

fn over_quota_cond(v: &JsonValue) -> Result<NumberCond, ApiError> {
    let (o, op) = operator(v, &["number", "numberRange"])?;
    if op == "numberRange" {
        let min = o.optional("min")?.map(|m| m.number()).transpose()?;
        let max = o.optional("max")?.map(|m| m.number()).transpose()?;
        if min.is_none() && max.is_none() {
            return Err(v.error("needs 'min' or 'max'"));
        }
        return Ok(NumberCond::Range(min, max));
    }
    Ok(NumberCond::Equals(o.required("value")?.number()?))
}

/// A validated `listKeys` request (reporting-api §12.1).
#[derive(Debug, Clone)]
pub struct ListKeysSpec {
    /// The filters.
    pub filters: KeyFilters,
    /// Inclusive cursor: the first key considered.
    pub start_at: Option<String>,
    /// Keys per page.
    pub page_size: usize,
}

impl ListKeysSpec {
    /// Parses the request.
    pub fn parse(body: &JsonObject, ctx: &ReportContext) -> Result<Self, ApiError> {
        let filters = KeyFilters::parse(body.optional("filters")?, ctx.today)?;
        let start_at = body.optional("startAtKey")?.map(|v| v.string()).transpose()?;
        let page_size = body
            .optional("pageSize")?
            .map(|v| v.integer_in(1, MAX_PAGE_SIZE))
            .transpose()?
            .map_or(DEFAULT_PAGE_SIZE, |n| n as usize);
        body.accept_v2_fields(&ctx.product)?;
        body.finish()?;
        Ok(Self { filters, start_at, page_size })
    }
}

/// `activeClients` and `dateLastSeen` of every key some installation currently uses
/// (semantics §12): one query over `clients`, whose `license_key` is the key of each
/// installation's latest `license/set`. Installations without activity have no row.
pub async fn key_usage(wh: &dyn Warehouse, ctx: &ReportContext) -> Result<HashMap<String, KeyUsage>, ApiError> {
    let d = wh.dialect();
    // Not lost: dateLastSeen + N > today, i.e. dateLastSeen > today − N.
    let lost_before = ctx.today - Duration::days(i64::from(ctx.days_until_declared_lost));
    let sql = format!(
        "SELECT license_key, count(CASE WHEN date_last_seen > {p2} THEN 1 END), max(date_last_seen) \
         FROM clients WHERE product_id = {p1} AND license_key IS NOT NULL GROUP BY license_key",
        p1 = d.placeholder(1),
        p2 = d.placeholder(2),
    );
    let params = vec![Param::Int(ctx.product.as_u64() as i64), Param::Date(lost_before)];
    let rows = wh.query(sql, params).await.map_err(warehouse_error)?;
    Ok(rows
        .rows
        .iter()
        .filter_map(|r| {
            let key = r[0].as_str()?.to_string();
            let active = r[1].as_u64().unwrap_or(0);
            Some((key, KeyUsage { active_clients: active, date_last_seen: r[2].as_date() }))
        })
        .collect())
}

/// The `listKeys` answer: `{"result":[…],"reachedEnd":…,"nextKey"?:…}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyPage {
    result: Vec<KeyRecord>,
    reached_end: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_key: Option<String>,
}

/// Runs `listKeys`. `fetch(start_at, limit)` returns up to `limit` registry rows in
/// code-point order from `start_at` (inclusive) on.
///
/// Rows are read in chunks until the page holds `pageSize` matches plus one more, whose
/// key is `nextKey`: so `reachedEnd` is false only when another matching key exists.
pub async fn run<F, Fut>(
    wh: &dyn Warehouse,
    ctx: &ReportContext,
    spec: &ListKeysSpec,
    mut fetch: F,
) -> Result<Value, ApiError>
where
    F: FnMut(Option<String>, usize) -> Fut,
    Fut: Future<Output = Result<Vec<RegistryKey>, ApiError>>,
{
    let usage = key_usage(wh, ctx).await?;
    let chunk = FETCH_CHUNK.max(spec.page_size + 1);
    let mut cursor = spec.start_at.clone();
    let mut page = Vec::new();
    let mut next_key = None;
    'chunks: loop {
        let rows = fetch(cursor.take(), chunk).await?;
        let full = rows.len() == chunk;
        // The smallest string after `last` in code-point order is `last` + U+0000, so an
        // inclusive cursor there continues right after it.
        let after = rows.last().map(|r| format!("{}\u{0}", r.key));
        for row in rows {
            let u = usage.get(&row.key).copied().unwrap_or_default();
            let record = KeyRecord::new(row, u, ctx.today);
            if !spec.filters.matches(&record) {
                continue;
            }
            if page.len() == spec.page_size {
                next_key = Some(record.license_key);
                break 'chunks;
            }
            page.push(record);
        }
        if !full {
            break;
        }
        cursor = after;
    }
    let answer = KeyPage { result: page, reached_end: next_key.is_none(), next_key };
    serde_json::to_value(&answer).map_err(|e| {
        tracing::error!(error = %e, "listKeys answer could not be written");
        ApiError::server("the report could not be computed")
    })
}

/// A key as sent in `updateKeys` or `deleteKeys`: trimmed, 1–256 characters.
fn request_key(v: &JsonValue) -> Result<String, ApiError> {
    let key = v.string()?.trim().to_string();
    let n = key.chars().count();
    if n == 0 || n > MAX_KEY_CHARS {
        return Err(v.error(format_args!("must be 1 to {MAX_KEY_CHARS} characters after trimming")));
    }
    Ok(key)
}

/// Remembers the keys of a bulk request; a repeated one is a 400 naming both items.
struct SeenKeys {
    first: HashMap<String, String>,
}

impl SeenKeys {
    fn new() -> Self {
        Self { first: HashMap::new() }
    }

    fn insert(&mut self, key: &str, at: &JsonValue, item_path: &str) -> Result<(), ApiError> {
        match self.first.get(key) {
            Some(first) => Err(at.error(format_args!("repeats the key of '{first}'; each key may appear once"))),
            None => {
                self.first.insert(key.to_string(), item_path.to_string());
                Ok(())
            }
        }
    }
}

/// Parses an `updateKeys` body (reporting-api §12.2) into one patch per item.
pub fn parse_update(
    body: &JsonObject,
    product: &ProductId,
    today: NaiveDate,
) -> Result<Vec<LicenseKeyPatch>, ApiError> {
    let items = body.required("keyUpdates")?.array_len(1, MAX_BULK_ITEMS)?;
    let mut seen = SeenKeys::new();
    let mut out = Vec::with_capacity(items.len());
    for (_, item) in items.iter() {
        let o = item.object()?;
        o.known_fields(&[
            "licenseKey",
            "licenseType",
            "activated",
            "expired",
            "blocked",
            "blacklisted",
            "allowed",
            "whitelisted",
            "expiryDate",
            "quota",
            "notes",
        ])?;
        let key_value = o.required("licenseKey")?;
        let key = request_key(&key_value)?;
        seen.insert(&key, &key_value, item.path())?;
        let flag = |name: &str, aliases: &[&str]| -> Result<Option<bool>, ApiError> {
            o.optional_alias(name, aliases)?.map(|v| v.boolean()).transpose()
        };
        let mut patch = LicenseKeyPatch {
            license_type: o.optional("licenseType")?.map(|v| license_type(&v)).transpose()?,
            activated: flag("activated", &[])?,
            expired: flag("expired", &[])?,
            blocked: flag("blocked", &["blacklisted"])?,
            allowed: flag("allowed", &["whitelisted"])?,
            ..LicenseKeyPatch::new(key)
        };
        // Here null has a meaning of its own: it clears the value (reporting-api §1.6).
        if let Some(v) = o.present("expiryDate") {
            patch.expiry_date = Some(if v.is_null() { None } else { Some(day(&v, today)?) });
        }
        if let Some(v) = o.present("quota") {
            patch.quota = Some(if v.is_null() { None } else { Some(v.integer_in(0, i64::from(u32::MAX))? as u32) });
        }
        if let Some(v) = o.present("notes") {
            patch.notes = Some(if v.is_null() {
                None
            } else {
                let notes = v.string()?;
                if notes.chars().count() > MAX_NOTES_CHARS {
                    return Err(v.error(format_args!("must be at most {MAX_NOTES_CHARS} characters")));
                }
                Some(notes)
            });
        }
        out.push(patch);
    }
    body.accept_v2_fields(product)?;
    body.finish()?;
    Ok(out)
}

/// Parses a `deleteKeys` body (reporting-api §12.3): the trimmed keys, each once.
pub fn parse_delete(body: &JsonObject, product: &ProductId) -> Result<Vec<String>, ApiError> {
    let items = body.required("licenseKeys")?.array_len(1, MAX_BULK_ITEMS)?;
    let mut seen = SeenKeys::new();
    let mut out = Vec::with_capacity(items.len());
    for (_, item) in items.iter() {
        let key = request_key(&item)?;
        seen.insert(&key, &item, item.path())?;
        out.push(key);
    }
    body.accept_v2_fields(product)?;
    body.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 3, 20).unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn body(v: Value) -> JsonObject {
        JsonObject::parse_body(v.to_string().as_bytes()).unwrap()
    }

    fn filters(v: Value) -> Result<KeyFilters, ApiError> {
        let b = body(json!({ "filters": v }));
        let f = KeyFilters::parse(b.optional("filters")?, today())?;
        b.finish()?;
        Ok(f)
    }

    fn row(key: &str) -> RegistryKey {
        RegistryKey {
            key: key.into(),
            license_type: LicenseType::Unknown,
            activated: false,
            expired: false,
            blocked: false,
            allowed: false,
            expiry_date: None,
            added_date: d("2024-03-01"),
            auto_collected: false,
            quota: None,
            notes: None,
        }
    }

    fn pid() -> ProductId {
        ProductId::parse("2376158762").unwrap()
    }

    #[test]
    fn records_have_the_table_order_and_effective_expiry() {
        let r = KeyRecord::new(
            RegistryKey { expiry_date: Some(d("2024-03-19")), quota: Some(2), ..row("K-1") },
            KeyUsage { active_clients: 3, date_last_seen: Some(d("2024-03-18")) },
            today(),
        );
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"licenseKey":"K-1","licenseType":"unknown","activated":false,"expired":true,"blocked":false,"allowed":false,"expiryDate":"2024-03-19","addedDate":"2024-03-01","autoCollected":false,"quota":2,"activeClients":3,"overQuotaCount":1,"dateLastSeen":"2024-03-18","notes":null}"#
        );
        let on_the_day =
            KeyRecord::new(RegistryKey { expiry_date: Some(today()), ..row("K") }, KeyUsage::default(), today());
        assert!(!on_the_day.expired, "expires after its expiry day");
        assert_eq!(on_the_day.over_quota_count, None);
    }

    #[test]
    fn filters_match_as_specified() {
        let rec = |r: RegistryKey, active| {
            KeyRecord::new(r, KeyUsage { active_clients: active, date_last_seen: None }, today())
        };
        let a =
            rec(RegistryKey { quota: Some(1), activated: true, expiry_date: Some(d("2024-01-01")), ..row("A-1") }, 3);
        let b = rec(RegistryKey { auto_collected: true, license_type: LicenseType::Purchased, ..row("B-2") }, 0);
        let check = |f: Value, want: [bool; 2]| {
            let f = filters(f).unwrap();
            assert_eq!([f.matches(&a), f.matches(&b)], want, "{f:?}");
        };
        check(json!({"licenseKey": {"type": "string", "value": "A-1"}}), [true, false]);
        check(json!({"licenseKey": {"type": "stringArray", "value": ["x", "B-2"]}}), [false, true]);
        check(json!({"licenseKey": {"type": "regex", "value": "-[12]$"}}), [true, true]);
        check(json!({"licenseType": {"type": "stringArray", "value": ["purchased", "nfr"]}}), [false, true]);
        check(json!({"licenseStatus": {"expired": true}}), [true, false]);
        check(json!({"licenseStatus": [{"activated": false, "blacklisted": false}, {"expired": true}]}), [true, true]);
        check(json!({"expiryDate": {"type": "date", "value": "<NULL>"}}), [false, true]);
        check(json!({"expiryDate": {"type": "dateRange", "min": "2023-12-01"}}), [true, false]);
        check(json!({"addedDate": {"type": "date", "value": "NOW-19"}}), [true, true]);
        check(json!({"addedDate": {"type": "dateRange", "max": "2024-02-29"}}), [false, false]);
        check(json!({"autoCollected": true}), [false, true]);
        check(json!({"overQuotaCount": {"type": "number", "value": 2}}), [true, false]);
        check(json!({"overQuotaCount": {"type": "numberRange", "max": 0}}), [false, false]);
        check(json!({"autoCollected": false, "licenseStatus": {"activated": true}}), [true, false]);
    }

    #[test]
    fn bad_filters_name_the_path() {
        for (f, needle) in [
            (json!({"licenseKey": {"type": "date", "value": "x"}}), "filters.licenseKey.type"),
            (json!({"licenseKey": {"value": "x"}}), "filters.licenseKey.type"),
            (json!({"licenseKey": {"type": "regex", "value": "("}}), "filters.licenseKey.value"),
            (json!({"licenseType": {"type": "string", "value": "Purchased"}}), "filters.licenseType.value"),
            (json!({"licenseStatus": {"expird": true}}), "filters.licenseStatus.expird"),
            (json!({"licenseStatus": {}}), "filters.licenseStatus"),
            (json!({"addedDate": {"type": "date", "value": "<NULL>"}}), "filters.addedDate.value"),
            (json!({"expiryDate": {"type": "dateRange"}}), "filters.expiryDate"),
            (json!({"autoCollected": {"type": "boolean", "value": true}}), "filters.autoCollected"),
            (json!({"overQuotaCount": {"type": "number", "value": "<NULL>"}}), "filters.overQuotaCount.value"),
            (json!({"quota": {"type": "number", "value": 1}}), "filters.quota"),
            (
                json!({"addedDate": {"type": "date", "value": "2024-01-01", "min": "2024-01-01"}}),
                "filters.addedDate.min",
            ),
        ] {
            let e = filters(f.clone()).unwrap_err();
            assert!(e.reason.contains(&format!("'{needle}'")), "{f}: {}", e.reason);
        }
    }

    #[test]
    fn update_items_parse_with_aliases_nulls_and_untouched_fields() {
        let b = body(json!({"keyUpdates": [
            {"licenseKey": " K-1 ", "licenseType": "purchased", "blacklisted": true, "expiryDate": "2025-12-31", "quota": 5, "notes": "ACME"},
            {"licenseKey": "K-2", "whitelisted": false, "expiryDate": null, "quota": null, "notes": null, "activated": null}]}));
        let got = parse_update(&b, &pid(), today()).unwrap();
        assert_eq!(
            got[0],
            LicenseKeyPatch {
                license_type: Some(LicenseType::Purchased),
                blocked: Some(true),
                expiry_date: Some(Some(d("2025-12-31"))),
                quota: Some(Some(5)),
                notes: Some(Some("ACME".into())),
                ..LicenseKeyPatch::new("K-1")
            }
        );
        assert_eq!(
            got[1],
            LicenseKeyPatch {
                allowed: Some(false),
                expiry_date: Some(None),
                quota: Some(None),
                notes: Some(None),
                ..LicenseKeyPatch::new("K-2")
            }
        );
    }

    #[test]
    fn bad_update_items_name_the_item_field() {
        for (items, needle) in [
            (json!([{"licenseType": "nfr"}]), "keyUpdates[0].licenseKey"),
            (json!([{"licenseKey": "A"}, {"licenseKey": "   "}]), "keyUpdates[1].licenseKey"),
            (json!([{"licenseKey": "A"}, {"licenseKey": " A"}]), "keyUpdates[1].licenseKey"),
            (json!([{"licenseKey": "A", "quota": -1}]), "keyUpdates[0].quota"),
            (json!([{"licenseKey": "A", "quota": 1.5}]), "keyUpdates[0].quota"),
            (json!([{"licenseKey": "A", "expiryDate": "31.12.2025"}]), "keyUpdates[0].expiryDate"),
            (json!([{"licenseKey": "A", "notes": "x".repeat(1025)}]), "keyUpdates[0].notes"),
            (json!([{"licenseKey": "A", "blocked": true, "blacklisted": true}]), "keyUpdates[0].blocked"),
            (json!([{"licenseKey": "A", "licenseType": "gold"}]), "keyUpdates[0].licenseType"),
            (json!([{"licenseKey": "A", "addedDate": "2024-01-01"}]), "keyUpdates[0].addedDate"),
            (json!([{"licenseKey": "A", "activated": "yes"}]), "keyUpdates[0].activated"),
            (json!([]), "keyUpdates"),
        ] {
            let e = parse_update(&body(json!({ "keyUpdates": items })), &pid(), today()).unwrap_err();
            assert!(e.reason.contains(&format!("'{needle}'")), "{items}: {}", e.reason);
        }
        let e = parse_update(&body(json!({"keyUpdates": [{"licenseKey": "A"}], "extra": 1})), &pid(), today());
        assert!(e.unwrap_err().reason.contains("'extra'"));
    }

    #[test]
    fn delete_lists_trimmed_unique_keys() {
        let got = parse_delete(&body(json!({"licenseKeys": [" K-1", "K-2"]})), &pid()).unwrap();
        assert_eq!(got, ["K-1", "K-2"]);
        let e = parse_delete(&body(json!({"licenseKeys": ["K-1", "K-1 "]})), &pid()).unwrap_err();
        assert!(e.reason.contains("'licenseKeys[1]'") && e.reason.contains("licenseKeys[0]"), "{}", e.reason);
        let e = parse_delete(&body(json!({"licenseKeys": []})), &pid()).unwrap_err();
        assert!(e.reason.contains("'licenseKeys'"), "{}", e.reason);
    }
}
