//! Event tracking management (reporting-api §8): the known events with their flags, and
//! the request that sets them.
//!
//! Events are known from two places: the warehouse (every event ever received, with its
//! first and last day) and the catalog (flags set by `PUT`, and pre-registered events).
//! **Decision:** an event without flags of its own takes the product's current default
//! (`new_events_basic`: basic on, advanced off; or both off).

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use serde_json::{json, Map, Value};
use usagi_types::{ApiError, JsonObject, ProductId};
use usagi_warehouse::{Param, Warehouse};

use crate::query::Query;

/// The flags of one event.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventFlags {
    /// Category; `None` = no category.
    pub category: Option<String>,
    /// Name.
    pub name: String,
    /// Shown in basic reports.
    pub basic: bool,
    /// Shown in advanced, lifetime and churn reports.
    pub advanced: bool,
}

/// One event of the product with its flags and first/last day seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownEvent {
    /// Flags (explicit or the product default).
    pub flags: EventFlags,
    /// First day an occurrence was stored; None for pre-registered events never received.
    pub first_seen: Option<NaiveDate>,
    /// Last day an occurrence was stored.
    pub last_seen: Option<NaiveDate>,
}

/// Which report tier an event list is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Basic reports.
    Basic,
    /// Advanced, lifetime and churn reports.
    Advanced,
}

/// Every event the product knows: the warehouse's received events and the catalog's flags,
/// sorted with the null category first, then by code point.
pub async fn known_events(
    wh: &dyn Warehouse,
    product: ProductId,
    explicit: &[EventFlags],
    new_events_basic: bool,
) -> Result<Vec<KnownEvent>, ApiError> {
    let mut q = Query::new(wh.dialect());
    let product = q.bind(Param::Int(product.as_u64() as i64));
    // `client_events` keeps each event's first and last day when retention purges detail data.
    let sql = format!(
        "SELECT category, name, min(first_day), max(last_day) FROM client_events WHERE product_id = {product} GROUP BY 1, 2"
    );
    let rows = q.run(wh, sql).await?;
    let mut all: BTreeMap<(Option<String>, String), KnownEvent> = BTreeMap::new();
    for r in rows.rows {
        let (Some(name), category) = (r[1].as_str().map(str::to_string), r[0].as_str().map(str::to_string)) else {
            continue;
        };
        let flags =
            EventFlags { category: category.clone(), name: name.clone(), basic: new_events_basic, advanced: false };
        all.insert((category, name), KnownEvent { flags, first_seen: r[2].as_date(), last_seen: r[3].as_date() });
    }
    for f in explicit {
        let e = all.entry((f.category.clone(), f.name.clone())).or_insert_with(|| KnownEvent {
            flags: f.clone(),
            first_seen: None,
            last_seen: None,
        });
        e.flags = f.clone();
    }
    // BTreeMap order: None < Some(..), then code point; names by code point.
    Ok(all.into_values().collect())
}

/// The events a report tier may show.
pub fn enabled(events: &[KnownEvent], tier: Tier) -> HashSet<(Option<String>, String)> {
    events
        .iter()
        .filter(|e| match tier {
            Tier::Basic => e.flags.basic,
            Tier::Advanced => e.flags.advanced,
        })
        .map(|e| (e.flags.category.clone(), e.flags.name.clone()))
        .collect()
}

/// `showEvents`: which events `GET /v3/event-tracking` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShowEvents {
    /// Every event.
    pub all: bool,
    /// Events with basic=true.
    pub basic: bool,
    /// Events with advanced=true.
    pub advanced: bool,
}

impl ShowEvents {
    /// Parses `all`, `basic`, `advanced` or a comma-separated combination; absent = all.
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let Some(raw) = raw else { return Ok(Self { all: true, basic: false, advanced: false }) };
        let mut show = Self { all: false, basic: false, advanced: false };
        for part in raw.split(',') {
            match part.trim() {
                "all" => show.all = true,
                "basic" => show.basic = true,
                "advanced" => show.advanced = true,
                other => {
                    return Err(ApiError::syntax(format!(
                        "query parameter 'showEvents' must be all, basic, advanced or a comma-separated list of them, not '{other}'"
                    )))
                }
            }
        }
        Ok(show)
    }

    fn shows(&self, f: &EventFlags) -> bool {
        self.all || (self.basic && f.basic) || (self.advanced && f.advanced)
    }
}

/// The `GET /v3/event-tracking` answer; categories left empty by `show` are omitted.
pub fn listing(events: &[KnownEvent], show: ShowEvents) -> Value {
    let mut categories: Vec<(Option<String>, Vec<Value>)> = Vec::new();
    for e in events.iter().filter(|e| show.shows(&e.flags)) {
        let f = &e.flags;
        let day = |d: Option<NaiveDate>| d.map_or(Value::Null, |d| Value::String(d.format("%Y-%m-%d").to_string()));
        let item = json!({"eventName": f.name, "basic": f.basic, "advanced": f.advanced,
                          "dateFirstSeen": day(e.first_seen), "dateLastSeen": day(e.last_seen)});
        match categories.last_mut() {
            Some((c, items)) if *c == f.category => items.push(item),
            _ => categories.push((f.category.clone(), vec![item])),
        }
    }
    let result: Vec<Value> = categories
        .into_iter()
        .map(|(c, items)| {
            let mut m = Map::new();
            m.insert("category".into(), c.map_or(Value::Null, Value::String));
            m.insert("categoryEventNames".into(), Value::Array(items));
            Value::Object(m)
        })
        .collect();
    json!({ "result": result })
}

/// Longest category or name, characters.
const MAX_EVENT_TEXT: usize = 128;

/// Parses the `PUT /v3/event-tracking` body (reporting-api §8.2).
pub fn parse_update(body: &JsonObject) -> Result<Vec<EventFlags>, ApiError> {
    let arr = body.required("events")?.array_len(1, 10_000)?;
    let mut out = Vec::with_capacity(arr.len());
    let mut seen = HashSet::new();
    for (_, item) in arr.iter() {
        let o = item.object()?;
        let category = match o.required_nullable("category")? {
            None => None,
            Some(v) => {
                let c = v.string()?.trim().to_string();
                if c.chars().count() > MAX_EVENT_TEXT {
                    return Err(v.error(format_args!("must be at most {MAX_EVENT_TEXT} characters")));
                }
                // An empty category is no category (callhome-protocol §6.4).
                (!c.is_empty()).then_some(c)
            }
        };
        let name_value = o.required("name")?;
        let name = name_value.string()?.trim().to_string();
        if name.is_empty() || name.chars().count() > MAX_EVENT_TEXT {
            return Err(name_value.error(format_args!("must be 1 to {MAX_EVENT_TEXT} characters after trimming")));
        }
        let basic = o.required("basic")?.boolean()?;
        let advanced_value = o.required("advanced")?;
        let advanced = advanced_value.boolean()?;
        if advanced && !basic {
            return Err(advanced_value.error("cannot be true while 'basic' is false: advanced implies basic"));
        }
        if !seen.insert((category.clone(), name.clone())) {
            return Err(item.error("lists an event (category and name) a second time"));
        }
        out.push(EventFlags { category, name, basic, advanced });
    }
    body.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(v: serde_json::Value) -> Result<Vec<EventFlags>, ApiError> {
        parse_update(&JsonObject::parse_body(v.to_string().as_bytes()).unwrap())
    }

    #[test]
    fn update_trims_nulls_empty_categories_and_rejects_bad_items() {
        let got = update(json!({"events": [
            {"category": " File ", "name": " Open ", "basic": true, "advanced": true},
            {"category": "  ", "name": "Start", "basic": false, "advanced": false}]}))
        .unwrap();
        assert_eq!(
            got[0],
            EventFlags { category: Some("File".into()), name: "Open".into(), basic: true, advanced: true }
        );
        assert_eq!(got[1].category, None);
        let e =
            update(json!({"events": [{"category": null, "name": "A", "basic": false, "advanced": true}]})).unwrap_err();
        assert!(e.reason.contains("events[0].advanced"), "{}", e.reason);
        let e = update(json!({"events": [{"name": "A", "basic": true, "advanced": false}]})).unwrap_err();
        assert!(e.reason.contains("events[0].category' is required"), "{}", e.reason);
        let e = update(json!({"events": [
            {"category": "X", "name": "A", "basic": true, "advanced": false},
            {"category": "X ", "name": " A", "basic": false, "advanced": false}]}))
        .unwrap_err();
        assert!(e.reason.contains("events[1]"), "{}", e.reason);
        let e = update(json!({"events": []})).unwrap_err();
        assert!(e.reason.contains("events"), "{}", e.reason);
        let e =
            update(json!({"events": [{"category": "X", "name": "  ", "basic": true, "advanced": false}]})).unwrap_err();
        assert!(e.reason.contains("events[0].name"), "{}", e.reason);
    }

    #[test]
    fn show_events_parses_combinations() {
        assert_eq!(
            ShowEvents::parse(Some("basic,advanced")).unwrap(),
            ShowEvents { all: false, basic: true, advanced: true }
        );
        assert_eq!(ShowEvents::parse(None).unwrap(), ShowEvents { all: true, basic: false, advanced: false });
        assert!(ShowEvents::parse(Some("everything")).is_err());
    }
}
