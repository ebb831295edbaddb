//! A fixed battery of report requests over one date range, run against a warehouse: what
//! `usagi migrate` compares between the warehouse it copied from and the one it copied to.
//!
//! The requests are the API's own JSON bodies, parsed by each report's own parser, so the
//! battery exercises the same code a server runs: the generic report (total, every date
//! split, three segmentation levels, current), the engagement family, event tracking
//! (listing, basic table and timeline, advanced and lifetime tables), the installation list,
//! the profiles of some installations and property values.

use chrono::NaiveDate;
use serde_json::{json, Value};
use usagi_types::{ApiError, ClientId, JsonObject};
use usagi_warehouse::Warehouse;

use crate::client_profile::InstallationStatus;
use crate::engagement::{ChurnEngagementSpec, ChurnHistogramSpec, UsageDistributionSpec};
use crate::event_lifetime::LifetimeTableSpec;
use crate::event_tracking::{EventFlags, ShowEvents};
use crate::generic::{GenericKind, GenericSpec};
use crate::histogram::Metric;
use crate::{client_list, client_profile, engagement, event_advanced, event_lifetime, event_reports};
use crate::{event_tracking, generic, meta, ReportContext};

/// What the battery needs besides the warehouse: the range and the catalog's view of the product.
#[derive(Debug, Clone)]
pub struct BatteryInput {
    /// First day of the range.
    pub start: NaiveDate,
    /// Last day of the range.
    pub stop: NaiveDate,
    /// The product's explicit event flags (catalog).
    pub event_flags: Vec<EventFlags>,
    /// The product's default for newly seen events (catalog).
    pub new_events_basic: bool,
    /// Installations whose profiles are asked for, with their catalog status.
    pub profiles: Vec<(ClientId, InstallationStatus)>,
}

/// One report of the battery: its name and its answer (the response body, or the API error).
pub type BatteryResult = (String, Result<Value, ApiError>);

fn object(body: Value) -> Result<JsonObject, ApiError> {
    JsonObject::parse_body(body.to_string().as_bytes())
}

/// Runs every report of the battery; one failing report does not stop the others.
pub async fn run(wh: &dyn Warehouse, ctx: &ReportContext, input: &BatteryInput) -> Vec<BatteryResult> {
    let (start, stop) = (input.start.to_string(), input.stop.to_string());
    let range = json!({"startDate": start, "stopDate": stop});
    let with = |extra: Value| {
        let mut body = range.clone();
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        body
    };
    let mut out: Vec<BatteryResult> = Vec::new();

    let all = json!(["new", "active", "lost"]);
    // One segment per value of the property.
    let split_all = json!([{"type": "regex", "value": ".*", "split": true}]);
    let generic_bodies = [
        ("generic/dateRange total", with(json!({"clientStatus": all}))),
        ("generic/dateRange by day", with(json!({"clientStatus": all, "dateSplit": "day"}))),
        ("generic/dateRange by week", with(json!({"clientStatus": all, "dateSplit": "week"}))),
        ("generic/dateRange by month", with(json!({"clientStatus": all, "dateSplit": "month"}))),
        (
            "generic/dateRange by week, 1 level",
            with(json!({"clientStatus": all, "dateSplit": "week", "levels": {
                "level1": {"property": "prodVersion", "segments": split_all}}})),
        ),
        (
            "generic/dateRange 3 levels",
            with(json!({"clientStatus": all, "levels": {
                "level1": {"property": "prodVersion", "segments": split_all},
                "level2": {"property": "os.platform", "segments": split_all},
                "level3": {"property": "geography.country", "segments": split_all}}})),
        ),
    ];
    for (name, body) in generic_bodies {
        let r =
            async { generic::run(wh, ctx, &GenericSpec::parse(&object(body)?, GenericKind::DateRange, ctx)?).await };
        out.push((name.into(), r.await));
    }
    let current = json!({"startDate": start, "clientStatus": all});
    let r = async { generic::run(wh, ctx, &GenericSpec::parse(&object(current)?, GenericKind::Current, ctx)?).await };
    out.push(("generic/current".into(), r.await));

    let r = async {
        engagement::usage_distribution(wh, ctx, &UsageDistributionSpec::parse(&object(range.clone())?, ctx)?).await
    };
    out.push(("engagement/usageDistribution".into(), r.await));
    let body = with(json!({"dateSplit": "week", "periods": 4}));
    let r =
        async { engagement::churn_and_engagement(wh, ctx, &ChurnEngagementSpec::parse(&object(body)?, ctx)?).await };
    out.push(("engagement/churnAndEngagement".into(), r.await));
    for (name, metric) in
        [("activeDays", Metric::ActiveDays), ("sessions", Metric::Sessions), ("runtime", Metric::Runtime)]
    {
        let r = async {
            let spec = ChurnHistogramSpec::parse(&object(range.clone())?, metric, ctx)?;
            engagement::churn_histogram(wh, ctx, &spec).await
        };
        out.push((format!("engagement/churnHistogram/{name}"), r.await));
    }

    let known = event_tracking::known_events(wh, ctx.product, &input.event_flags, input.new_events_basic).await;
    let known = match known {
        Ok(k) => k,
        Err(e) => {
            out.push(("eventTracking/list".into(), Err(e)));
            return out;
        }
    };
    let all_events = ShowEvents::parse(Some("all")).map(|show| event_tracking::listing(&known, show));
    out.push(("eventTracking/list".into(), all_events));
    let r = async {
        let spec = event_reports::DataTableSpec::parse(&object(range.clone())?, ctx)?;
        event_reports::data_table(wh, ctx, &spec, &known).await
    };
    out.push(("eventTracking/basic/dataTable".into(), r.await));
    let events: Vec<Value> = known
        .iter()
        .filter(|k| k.flags.basic)
        .take(5)
        .map(|k| json!({"category": k.flags.category, "name": k.flags.name}))
        .collect();
    if !events.is_empty() {
        let body = with(json!({"dateSplit": "week", "events": events}));
        let r = async {
            let spec = event_reports::TimelineSpec::parse(&object(body)?, ctx)?;
            event_reports::timeline(wh, ctx, &spec, &known).await
        };
        out.push(("eventTracking/basic/timeline".into(), r.await));
    }
    let r = async {
        let spec = event_advanced::FullReportSpec::parse(&object(range.clone())?, ctx)?;
        event_advanced::full_report(wh, ctx, &spec, &known).await
    };
    out.push(("eventTracking/advanced/fullReport".into(), r.await));
    let r = async {
        let spec = LifetimeTableSpec::parse(&object(range.clone())?, ctx, false)?;
        event_lifetime::data_table(wh, ctx, &spec, &known).await
    };
    out.push(("eventTracking/lifetime/dataTable".into(), r.await));

    let body = json!({"pageSize": 200, "properties": ["clientId", "dateInstalled", "dateLastSeen", "prodVersion"]});
    let r = async { client_list::run(wh, ctx, &client_list::ClientListSpec::parse(&object(body)?, ctx)?).await };
    out.push(("clientList".into(), r.await));
    for (client, status) in &input.profiles {
        let r = client_profile::run(wh, ctx, *client, status).await.map(|v| v.unwrap_or(Value::Null));
        out.push((format!("clientProfile {client}"), r));
    }
    for property in ["prodVersion", "os.platform"] {
        let r = async {
            let body = json!({"property": property});
            meta::run(wh, ctx, &meta::PropertyValuesSpec::parse(&object(body)?, ctx)?).await
        };
        out.push((format!("meta/propertyValues {property}"), r.await));
    }
    out
}

/// Compares two battery runs report by report: `Ok(n)` when all `n` answers are equal and
/// none is an error, else one line per difference or failure.
pub fn compare(source: &[BatteryResult], target: &[BatteryResult]) -> Result<usize, Vec<String>> {
    let mut problems = Vec::new();
    if source.len() != target.len() {
        problems.push(format!("{} reports on the source, {} on the target", source.len(), target.len()));
    }
    for ((name, a), (_, b)) in source.iter().zip(target) {
        match (a, b) {
            (Ok(a), Ok(b)) if a == b => {}
            (Ok(a), Ok(b)) => problems.push(format!("{name}: answers differ: {}", first_difference(a, b, ""))),
            (Err(e), _) => problems.push(format!("{name}: failed on the source: {e}")),
            (_, Err(e)) => problems.push(format!("{name}: failed on the target: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(source.len())
    } else {
        Err(problems)
    }
}

/// The path and values of the first place two JSON documents differ.
fn first_difference(a: &Value, b: &Value, path: &str) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    Some(w) if w == v => {}
                    Some(w) => return first_difference(v, w, &format!("{path}.{k}")),
                    None => return format!("{path}.{k} only on the source"),
                }
            }
            match y.keys().find(|k| !x.contains_key(*k)) {
                Some(k) => format!("{path}.{k} only on the target"),
                None => format!("{path}: objects differ"),
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find(|(_, (v, w))| v != w)
            .map(|(i, (v, w))| first_difference(v, w, &format!("{path}[{i}]")))
            .unwrap_or_else(|| format!("{path}: arrays differ")),
        _ => {
            let show = |v: &Value| v.to_string().chars().take(200).collect::<String>();
            format!("{path}: {} on the source, {} on the target", show(a), show(b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_located() {
        let a = json!({"result": {"totals": [1, 2, 3]}});
        let b = json!({"result": {"totals": [1, 5, 3]}});
        assert_eq!(first_difference(&a, &b, ""), ".result.totals[1]: 2 on the source, 5 on the target");
        let ok: Vec<BatteryResult> = vec![("r".into(), Ok(a.clone()))];
        assert_eq!(compare(&ok, &ok), Ok(1));
        let bad: Vec<BatteryResult> = vec![("r".into(), Ok(b))];
        assert_eq!(compare(&ok, &bad).unwrap_err().len(), 1);
        let failed: Vec<BatteryResult> = vec![("r".into(), Err(ApiError::server("x")))];
        assert!(compare(&failed, &failed).is_err(), "an error on both sides is not a match");
    }
}
