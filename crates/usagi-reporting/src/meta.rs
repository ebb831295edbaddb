//! `propertyValues` (reporting-api §7.2): the distinct values a filter on a property can match.

use chrono::Duration;
use serde_json::{Map, Value};
use usagi_types::{ApiError, JsonObject};
use usagi_warehouse::{Param, Warehouse};

use crate::context::{warehouse_error, ReportContext};
use crate::properties::find;

/// Values per page.
pub const PAGE: usize = 1000;

/// A validated `propertyValues` request.
#[derive(Debug)]
pub struct PropertyValuesSpec {
    /// The history name: `prodVersion`, `os.version`, `C01`, …
    pub name: String,
    /// Standard (daily history) or current (latest value).
    pub standard: bool,
    /// Narrowing pattern.
    pub filter: Option<regex::Regex>,
    /// Exclusive paging cursor.
    pub start_after: Option<String>,
    /// Geography with `getFullList`: the ISO reference list as well as the observed values.
    pub full_list: bool,
}

const GRANULARITIES: [(&str, &[&str]); 3] = [
    ("os", &["platform", "version", "edition"]),
    ("geography", &["continent", "country", "usState"]),
    ("gpu", &["vendor", "model"]),
];

impl PropertyValuesSpec {
    /// Parses and validates the request body.
    pub fn parse(body: &JsonObject, ctx: &ReportContext) -> Result<Self, ApiError> {
        let prop_value = body.required("property")?;
        let raw = prop_value.string()?;
        let (base, dotted) = match raw.split_once('.') {
            Some((b, g)) => (b.to_string(), Some(g.to_string())),
            None => (raw.clone(), None),
        };
        let prop = find(&base)
            .filter(|p| p.meta)
            .ok_or_else(|| prop_value.error("must be a property that supports propertyValues"))?;
        if base == "licenseKey" && !ctx.license_keys {
            return Err(ApiError::forbidden("licenseKey requires the licenseKeys permission"));
        }
        let granularity = match body.optional("granularity")? {
            Some(v) => Some((v.string()?, v)),
            None => None,
        };
        let name = match GRANULARITIES.iter().find(|(b, _)| *b == base) {
            Some((_, allowed)) => {
                let g = match (&dotted, &granularity) {
                    (Some(d), None) => d.clone(),
                    (None, Some((g, _))) => g.clone(),
                    (Some(d), Some((g, v))) if d == g => {
                        let _ = v;
                        g.clone()
                    }
                    (Some(_), Some((_, v))) => return Err(v.error("differs from the granularity in 'property'")),
                    (None, None) => {
                        return Err(ApiError::syntax(format!("field 'granularity' is required for {base}")))
                    }
                };
                if !allowed.contains(&g.as_str()) {
                    return Err(ApiError::syntax(format!(
                        "field 'granularity' must be one of: {}",
                        allowed.join(", ")
                    )));
                }
                format!("{base}.{g}")
            }
            None => {
                if dotted.is_some() {
                    return Err(prop_value.error("must be a property that supports propertyValues"));
                }
                if let Some((_, v)) = granularity {
                    return Err(v.error("is only accepted for os, geography and gpu"));
                }
                base.clone()
            }
        };
        let filter = match body.optional("filter")? {
            None => None,
            Some(v) => {
                if base == "geography" {
                    return Err(v.error("is not accepted for geography"));
                }
                let f = v.object()?;
                f.required("type")?.enum_of(&["regex"])?;
                Some(crate::pattern::compile(&f.required("value")?)?)
            }
        };
        let start_after = body.optional("startAfter")?.map(|v| v.string()).transpose()?;
        let mut full_list = false;
        if let Some(v) = body.optional("getFullList")? {
            let full = v.boolean()?;
            if !matches!(base.as_str(), "geography" | "os" | "osLanguage") {
                return Err(v.error("is only accepted for geography, os and osLanguage"));
            }
            full_list = full && base == "geography";
        }
        body.accept_v2_fields(&ctx.product)?;
        body.finish()?;
        Ok(Self { name, standard: prop.standard, filter, start_after, full_list })
    }
}

/// Lists one page of values, NULL as `<NULL>`, sorted by code point.
pub async fn run(wh: &dyn Warehouse, ctx: &ReportContext, spec: &PropertyValuesSpec) -> Result<Value, ApiError> {
    let d = wh.dialect();
    let (p1, p2, p3) = (d.placeholder(1), d.placeholder(2), d.placeholder(3));
    let product = Param::Int(ctx.product.as_u64() as i64);
    let mut values: Vec<String> = if spec.name == "clientId" {
        let sql = format!("SELECT client_id FROM clients WHERE product_id = {p1}");
        let rows = wh.query(sql, vec![product]).await.map_err(warehouse_error)?;
        rows.rows.iter().filter_map(|r| r[0].as_u64()).map(|c| format!("{c:016X}")).collect()
    } else {
        // Standard: every end-of-day value within retention, including the one carried
        // into the window; current: each installation's latest value. Installations active
        // without any observation of the property hold NULL.
        let oldest = ctx.today - Duration::days(i64::from(ctx.retention_days));
        // Each installation's last value (before the window, for standard properties), found
        // with max(day) and joined back so a NULL value counts; values are deduplicated below.
        let (in_window, before) = if spec.standard {
            (
                format!(
                    "SELECT value FROM property_days WHERE product_id = {p1} AND name = {p2} AND day >= {p3} \
                     UNION ALL "
                ),
                format!("AND day < {p3}"),
            )
        } else {
            (String::new(), String::new())
        };
        let sql = format!(
            "{in_window}\
             SELECT h.value FROM (SELECT client_id, max(day) AS last_day FROM property_days \
                                  WHERE product_id = {p1} AND name = {p2} {before} GROUP BY client_id) l \
             JOIN (SELECT client_id, day, value FROM property_days WHERE product_id = {p1} AND name = {p2}) h \
               ON h.client_id = l.client_id AND h.day = l.last_day \
             UNION ALL \
             SELECT CAST(NULL AS VARCHAR) FROM clients c WHERE c.product_id = {p1} AND c.client_id NOT IN \
               (SELECT client_id FROM property_days WHERE product_id = {p1} AND name = {p2})"
        );
        let rows = wh
            .query(sql, {
                let mut params = vec![product, Param::Text(spec.name.clone())];
                if spec.standard {
                    params.push(Param::Date(oldest));
                }
                params
            })
            .await
            .map_err(warehouse_error)?;
        rows.rows.iter().map(|r| r[0].as_str().unwrap_or(usagi_types::NULL_TEXT).to_string()).collect()
    };
    if spec.full_list {
        let granularity = spec.name.split_once('.').map_or("", |(_, g)| g);
        values.extend(crate::iso::reference_list(granularity).iter().map(|c| c.to_string()));
    }
    values.sort();
    values.dedup();
    let values: Vec<String> = values
        .into_iter()
        .filter(|v| spec.start_after.as_ref().is_none_or(|after| v.as_str() > after.as_str()))
        .filter(|v| spec.filter.as_ref().is_none_or(|re| re.is_match(v)))
        .collect();
    let reached_end = values.len() <= PAGE;
    let page: Vec<Value> = values.into_iter().take(PAGE).map(Value::String).collect();
    let mut out = Map::new();
    let last = page.last().cloned();
    out.insert("result".into(), Value::Array(page));
    out.insert("reachedEnd".into(), Value::Bool(reached_end));
    if !reached_end {
        if let Some(l) = last {
            out.insert("lastValue".into(), l);
        }
    }
    Ok(Value::Object(out))
}
