//! Segmentation (reporting-api §4): `levels` of generic reports and the segment objects
//! every segmented report shares.
//!
//! SQL groups the counted rows by the raw values a level reads; Rust then maps each value
//! to the output keys of its segments. A row (a set of distinct installations holding the
//! same values) adds to every key it maps to, so overlapping segments count a client in
//! each, and a value reaching one key twice still counts it once.

use std::collections::HashSet;

use regex::Regex;
use usagi_types::{ApiError, JsonKind, JsonObject, JsonValue, NULL_TEXT};
use usagi_warehouse::Value;

use crate::access::{value_sql, ValueKind};
use crate::context::ReportContext;
use crate::filters::{back_off_sql, license_flags, text_value, LICENSE_FLAGS};
use crate::pattern;
use crate::properties::find;
use crate::query::Query;

/// Most segment objects per level.
pub const MAX_SEGMENTS: usize = 100;

/// What a level reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LevelSource {
    /// One property value (history name: `prodVersion`, `os.version`, `cpuCores`, …).
    Value(String),
    /// The four license status flags.
    LicenseStatus,
    /// `optOut` historical and current.
    OptOut,
    /// `backOff` historical and current.
    BackOff,
}

/// A value condition of a segment.
#[derive(Debug, Clone)]
pub enum SegCond {
    /// Equal to any of these texts (NULL as `<NULL>`).
    Texts(HashSet<String>),
    /// The pattern is found in the text (numbers: their decimal text).
    Regex(Regex),
    /// Numerically equal.
    Number(f64),
    /// NULL.
    Null,
    /// Inclusive range, never NULL.
    Range(Option<f64>, Option<f64>),
}

/// One segment object.
#[derive(Debug, Clone)]
pub enum Segment {
    /// A value segment: one key (`key`), or one key per matching value when `split`.
    Value { key: Option<String>, split: bool, cond: SegCond },
    /// A flags segment (licenseStatus, optOut, backOff): label and flags ANDed.
    Flags { label: String, flags: Vec<(usize, bool)> },
}

/// One segmentation level.
#[derive(Debug, Clone)]
pub struct Level {
    /// What it reads.
    pub source: LevelSource,
    /// Its segments, in request order.
    pub segments: Vec<Segment>,
}

/// Where a key sorts: segment index first, then the split value by code point.
pub type KeyOrder = (usize, String);

impl Level {
    /// Parses `{"property","segments"}` at `levels.levelN`.
    pub fn parse(v: &JsonValue, ctx: &ReportContext) -> Result<Self, ApiError> {
        let o = v.object()?;
        o.known_fields(&["property", "segments"])?;
        Self::from_parts(&o.required("property")?, &o.required("segments")?, ctx, false)
    }

    /// Parses a property name and its segments array (for `levels` and for `segmentBy` +
    /// `segments`); `installation_month` admits `installationMonth` (churnAndEngagement only).
    pub fn from_parts(
        pv: &JsonValue,
        segments: &JsonValue,
        ctx: &ReportContext,
        installation_month: bool,
    ) -> Result<Self, ApiError> {
        let name = pv.string()?;
        let source = match name.as_str() {
            "licenseStatus" => LevelSource::LicenseStatus,
            "optOut" => LevelSource::OptOut,
            "backOff" => LevelSource::BackOff,
            "os" | "geography" | "gpu" => {
                return Err(pv.error(format_args!("must name a granularity, e.g. '{name}.{}'", granular_example(&name))))
            }
            "installationMonth" if installation_month => LevelSource::Value(name.clone()),
            "installationMonth" => return Err(pv.error("is accepted only by churnAndEngagement")),
            "licenseKey" if !ctx.license_keys => {
                return Err(ApiError::forbidden("licenseKey requires the licenseKeys permission"))
            }
            n => {
                let base = n.split_once('.').map_or(n, |(b, _)| b);
                let known = find(base).is_some_and(|p| p.segment) && value_sql(n, "p").is_some();
                let dotted_ok = !n.contains('.') || matches!(base, "os" | "geography" | "gpu");
                if !known || !dotted_ok {
                    return Err(pv.error("is not a property that can be segmented by"));
                }
                LevelSource::Value(n.to_string())
            }
        };
        let arr = segments.array_len(1, MAX_SEGMENTS)?;
        let mut segments = Vec::new();
        let mut keys: HashSet<String> = HashSet::new();
        for (_, item) in arr.iter() {
            let seg = parse_segment(&item, &source)?;
            let explicit = match &seg {
                Segment::Value { key: Some(k), split: false, .. } => Some(k.clone()),
                Segment::Flags { label, .. } => Some(label.clone()),
                _ => None,
            };
            if let Some(k) = explicit {
                if !keys.insert(k.clone()) {
                    let so = item.object()?;
                    let at = so.optional("segmentLabel")?.or(so.optional("value")?).unwrap_or(item.clone());
                    return Err(at.error(format_args!("repeats the key '{k}' of an earlier segment")));
                }
            }
            segments.push(seg);
        }
        Ok(Self { source, segments })
    }

    /// Whether the level reads the `clients` row.
    pub fn uses_current(&self) -> bool {
        match &self.source {
            LevelSource::Value(n) => value_sql(n, "p").is_some_and(|v| v.current),
            LevelSource::OptOut => true,
            _ => false,
        }
    }

    /// Whether the level reads the reference-day row.
    pub fn uses_standard(&self) -> bool {
        match &self.source {
            LevelSource::Value(n) => value_sql(n, "p").is_some_and(|v| !v.current),
            LevelSource::LicenseStatus => true,
            _ => false,
        }
    }

    /// The SQL expressions the level groups by.
    pub fn group_sql(&self, ctx: &ReportContext, q: &mut Query, std: &str) -> Vec<String> {
        match &self.source {
            LevelSource::Value(n) => {
                vec![value_sql(n, std).map(|v| v.expr).unwrap_or_else(|| "CAST(NULL AS VARCHAR)".into())]
            }
            LevelSource::LicenseStatus => LICENSE_FLAGS
                .iter()
                .map(|(_, _, h)| value_sql(h, std).map(|v| v.expr).unwrap_or_else(|| "CAST(NULL AS VARCHAR)".into()))
                .collect(),
            LevelSource::OptOut => vec!["c.opt_out_historical".into(), "c.opt_out_current".into()],
            LevelSource::BackOff => {
                let (h, c) = back_off_sql(ctx, q, std);
                vec![h, c]
            }
        }
    }

    /// How many SQL columns [`Level::group_sql`] yields.
    pub fn width(&self) -> usize {
        match self.source {
            LevelSource::Value(_) => 1,
            LevelSource::LicenseStatus => 4,
            LevelSource::OptOut | LevelSource::BackOff => 2,
        }
    }

    /// Every key the grouped `cells` fall in, each once, with its sort order.
    pub fn keys(&self, cells: &[Value]) -> Vec<(String, KeyOrder)> {
        let mut out: Vec<(String, KeyOrder)> = Vec::new();
        let mut add = |key: String, order: KeyOrder| match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, o)) => *o = (*o).clone().min(order),
            None => out.push((key, order)),
        };
        for (i, seg) in self.segments.iter().enumerate() {
            match seg {
                Segment::Flags { label, flags } => {
                    if flags.iter().all(|(f, want)| cells.get(*f).and_then(Value::as_bool).unwrap_or(false) == *want) {
                        add(label.clone(), (i, String::new()));
                    }
                }
                Segment::Value { key, split, cond } => {
                    let cell = cells.first().unwrap_or(&Value::Null);
                    let text = cell_text(cell);
                    let hit = match cond {
                        SegCond::Texts(set) => set.contains(&text),
                        SegCond::Regex(re) => re.is_match(&text),
                        SegCond::Number(x) => cell_number(cell).is_some_and(|v| v == *x),
                        SegCond::Null => cell.is_null(),
                        SegCond::Range(min, max) => {
                            cell_number(cell).is_some_and(|v| min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m))
                        }
                    };
                    if hit {
                        match (split, key) {
                            (true, _) => add(text.clone(), (i, text)),
                            (false, Some(k)) => add(k.clone(), (i, String::new())),
                            (false, None) => {}
                        }
                    }
                }
            }
        }
        out
    }

    /// The keys that always appear (non-split segments), with their order.
    pub fn fixed_keys(&self) -> Vec<(String, KeyOrder)> {
        self.segments
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Segment::Value { key: Some(k), split: false, .. } => Some((k.clone(), (i, String::new()))),
                Segment::Flags { label, .. } => Some((label.clone(), (i, String::new()))),
                _ => None,
            })
            .collect()
    }
}

fn granular_example(base: &str) -> &'static str {
    match base {
        "os" => "version",
        "geography" => "country",
        _ => "vendor",
    }
}

/// A grouped cell as segment text: NULL as `<NULL>`, numbers in decimal.
fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => NULL_TEXT.to_string(),
        Value::Text(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Date(d) => d.format("%Y-%m-%d").to_string(),
    }
}

fn cell_number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::UInt(u) => Some(*u as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

fn label(o: &JsonObject) -> Result<Option<String>, ApiError> {
    o.optional("segmentLabel")?.map(|l| l.string_len(1, 128)).transpose()
}

fn parse_segment(item: &JsonValue, source: &LevelSource) -> Result<Segment, ApiError> {
    let o = item.object()?;
    let mut allowed: Vec<&str> = vec!["segmentLabel"];
    match source {
        LevelSource::Value(_) => allowed.extend(["type", "value", "min", "max", "split"]),
        LevelSource::LicenseStatus => allowed.extend(crate::filters::LICENSE_FIELDS),
        LevelSource::OptOut | LevelSource::BackOff => allowed.extend(["historical", "current"]),
    }
    o.known_fields(&allowed)?;
    let flag_names: &[&str] = match source {
        LevelSource::LicenseStatus => &[],
        LevelSource::OptOut | LevelSource::BackOff => &["historical", "current"],
        LevelSource::Value(_) => {
            return parse_value_segment(&o, source);
        }
    };
    let label = match label(&o)? {
        Some(l) => l,
        None => return Err(ApiError::syntax(format!("field '{}.segmentLabel' is required", o.path()))),
    };
    let flags = if flag_names.is_empty() {
        license_flags(&o, item)?
    } else {
        let mut flags = Vec::new();
        for (i, n) in flag_names.iter().enumerate() {
            if let Some(v) = o.optional(n)? {
                flags.push((i, v.boolean()?));
            }
        }
        if flags.is_empty() {
            return Err(item.error("must hold 'historical' or 'current'"));
        }
        flags
    };
    Ok(Segment::Flags { label, flags })
}

fn parse_value_segment(o: &JsonObject, source: &LevelSource) -> Result<Segment, ApiError> {
    let LevelSource::Value(name) = source else { return Err(ApiError::syntax("segment of a flags level")) };
    let base = name.split_once('.').map_or(name.as_str(), |(b, _)| b);
    // installationMonth (`YYYY-MM` of dateInstalled) is a derived string that is never NULL.
    let derived = || find("appName").map(|p| crate::properties::Prop { name: "installationMonth", null: false, ..p });
    let prop = find(base)
        .or_else(|| if base == "installationMonth" { derived() } else { None })
        .ok_or_else(|| ApiError::syntax(format!("field '{}' names an unknown property", o.path())))?;
    let number = value_sql(name, "p").is_some_and(|v| v.kind == ValueKind::Int);
    let allowed: &[&str] =
        if number { &["number", "numberRange", "regex"] } else { &["string", "stringArray", "regex"] };
    let ty = o.required("type")?.enum_of(allowed)?;
    let split_value = o.optional("split")?;
    let split = match &split_value {
        Some(s) => {
            let b = s.boolean()?;
            if !matches!(ty, "stringArray" | "regex") {
                return Err(s.error("is only accepted for stringArray and regex segments"));
            }
            b
        }
        None => false,
    };
    let label_value = o.optional("segmentLabel")?;
    let label = label(o)?;
    if split {
        if let Some(l) = label_value {
            return Err(l.error("is not accepted together with split:true"));
        }
    }
    let needs_label = ty == "numberRange" || (!split && matches!(ty, "stringArray" | "regex"));
    if needs_label && label.is_none() {
        return Err(ApiError::syntax(format!("field '{}.segmentLabel' is required", o.path())));
    }
    let (cond, default_key) = match ty {
        "string" => {
            let s = text_value(&o.required("value")?, &prop)?;
            (SegCond::Texts(HashSet::from([s.clone()])), Some(s))
        }
        "stringArray" => {
            let v = o.required("value")?;
            let set = v.array_len(1, 1000)?.items().iter().map(|x| text_value(x, &prop)).collect::<Result<_, _>>()?;
            (SegCond::Texts(set), None)
        }
        "regex" => (SegCond::Regex(pattern::compile(&o.required("value")?)?), None),
        "number" => {
            let v = o.required("value")?;
            if v.kind() == JsonKind::String {
                let s = text_value(&v, &prop)?;
                if s != NULL_TEXT {
                    return Err(v.error("must be a number or \"<NULL>\""));
                }
                (SegCond::Null, Some(s))
            } else {
                let x = v.number()?;
                (SegCond::Number(x), Some(v.number_text()?.to_string()))
            }
        }
        _ => {
            let min = o.optional("min")?.map(|v| v.number()).transpose()?;
            let max = o.optional("max")?.map(|v| v.number()).transpose()?;
            if min.is_none() && max.is_none() {
                return Err(ApiError::syntax(format!("field '{}' needs 'min' or 'max'", o.path())));
            }
            (SegCond::Range(min, max), None)
        }
    };
    let key = if split { None } else { label.or(default_key) };
    Ok(Segment::Value { key, split, cond })
}

/// Parses `segmentBy` + `segments` of histogram and event reports (reporting-api §4.2): both
/// or neither.
pub fn parse_segment_by(
    body: &JsonObject,
    ctx: &ReportContext,
    installation_month: bool,
) -> Result<Option<Level>, ApiError> {
    match (body.optional("segmentBy")?, body.optional("segments")?) {
        (None, None) => Ok(None),
        (Some(p), Some(s)) => Level::from_parts(&p, &s, ctx, installation_month).map(Some),
        (Some(p), None) => Err(p.error("needs 'segments' as well")),
        (None, Some(s)) => Err(s.error("needs 'segmentBy' as well")),
    }
}

/// Parses `levels` (absent, null or `{}` = none): consecutive `level1`…`level3`, at most
/// `max` of them.
pub fn parse_levels(v: Option<JsonValue>, max: usize, ctx: &ReportContext) -> Result<Vec<Level>, ApiError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let o = v.object()?;
    let entries = o.entries();
    for (i, (key, value)) in entries.iter().enumerate() {
        if *key != format!("level{}", i + 1) {
            return Err(value.error("is not expected: levels must be level1, level2, level3, consecutive and in order"));
        }
    }
    if let Some((_, extra)) = entries.get(max) {
        let why = if max == 1 {
            "is not allowed: with a dateSplit at most 1 level"
        } else {
            "is not allowed: at most 3 levels"
        };
        return Err(extra.error(why));
    }
    entries.iter().map(|(_, value)| Level::parse(value, ctx)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ReportContext {
        ReportContext {
            product: usagi_types::ProductId::parse("2376158762").unwrap(),
            today: chrono::NaiveDate::from_ymd_opt(2024, 3, 20).unwrap(),
            days_until_declared_lost: 40,
            retention_days: 3650,
            license_keys: false,
            now: chrono::Utc::now(),
            back_off: Default::default(),
            limits: Default::default(),
        }
    }

    fn level(v: serde_json::Value) -> Result<Level, ApiError> {
        let body = JsonObject::parse_body(serde_json::json!({ "l": v }).to_string().as_bytes()).unwrap();
        Level::parse(&body.required("l").unwrap(), &ctx())
    }

    #[test]
    fn keys_follow_request_order_merge_and_overlap() {
        let l = level(serde_json::json!({"property": "prodVersion", "segments": [
            {"type": "string", "value": "2.1"},
            {"type": "regex", "value": ".*", "split": true},
            {"type": "stringArray", "value": ["1.0", "2.1"], "segmentLabel": "old and new"}]}))
        .unwrap();
        let keys: Vec<String> = l.keys(&[Value::Text("2.1".into())]).into_iter().map(|k| k.0).collect();
        assert_eq!(keys, ["2.1", "old and new"], "the split value merges into the explicit key");
        let keys = l.keys(&[Value::Null]);
        assert_eq!(keys, vec![("<NULL>".to_string(), (1, "<NULL>".to_string()))]);
        assert_eq!(l.fixed_keys().len(), 2);
    }

    #[test]
    fn numbers_and_flags() {
        let l = level(serde_json::json!({"property": "cpuCores", "segments": [
            {"type": "number", "value": 1}, {"type": "numberRange", "min": 2, "max": 4, "segmentLabel": "2 - 4"},
            {"type": "regex", "value": "^1", "split": true}]}))
        .unwrap();
        let keys: Vec<String> = l.keys(&[Value::Int(1)]).into_iter().map(|k| k.0).collect();
        assert_eq!(keys, ["1"]);
        let keys: Vec<String> = l.keys(&[Value::Int(12)]).into_iter().map(|k| k.0).collect();
        assert_eq!(keys, ["12"]);
        assert!(l.keys(&[Value::Null]).is_empty(), "numberRange never matches NULL");
        let l = level(serde_json::json!({"property": "licenseStatus", "segments": [
            {"segmentLabel": "Active & allowed", "activated": true, "whitelisted": true}]}))
        .unwrap();
        let on = [Value::Bool(true), Value::Bool(false), Value::Bool(false), Value::Bool(true)];
        assert_eq!(l.keys(&on).len(), 1);
    }

    #[test]
    fn bad_segments_name_their_path() {
        let e = level(serde_json::json!({"property": "prodVersion", "segments": [{"type": "regex", "value": ".*"}]}))
            .unwrap_err();
        assert!(e.reason.contains("'l.segments[0].segmentLabel' is required"), "{}", e.reason);
        let e = level(serde_json::json!({"property": "prodVersion", "segments": [
            {"type": "regex", "value": ".*", "split": true, "segmentLabel": "x"}]}))
        .unwrap_err();
        assert!(e.reason.contains("l.segments[0].segmentLabel"), "{}", e.reason);
        let e = level(serde_json::json!({"property": "prodVersion", "segments": [
            {"type": "string", "value": "a"}, {"type": "string", "value": "a"}]}))
        .unwrap_err();
        assert!(e.reason.contains("l.segments[1].value"), "{}", e.reason);
        let e =
            level(serde_json::json!({"property": "os", "segments": [{"type": "string", "value": "a"}]})).unwrap_err();
        assert!(e.reason.contains("l.property"), "{}", e.reason);
        let e = level(serde_json::json!({"property": "cpuCores", "segments": [{"type": "string", "value": "a"}]}))
            .unwrap_err();
        assert!(e.reason.contains("l.segments[0].type"), "{}", e.reason);
        let e =
            level(serde_json::json!({"property": "licenseType", "segments": [{"type": "string", "value": "<NULL>"}]}))
                .unwrap_err();
        assert!(e.reason.contains("l.segments[0].value"), "{}", e.reason);
        assert_eq!(
            level(serde_json::json!({"property": "licenseKey", "segments": [{"type": "string", "value": "a"}]}))
                .unwrap_err()
                .kind,
            usagi_types::ErrorKind::Forbidden
        );
    }
}
