//! The bad-input matrix of `globalFilters` and `levels` on the generic reports
//! (reporting-api §1.6, §1.9, §3, §4, §9): every case answers 400 `SYNTAX ERROR` (or 403
//! `FORBIDDEN`) with a reason that names the JSON path of the offending member, and none of
//! them changes what the server stores or answers afterwards.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;

/// Where a bad member goes.
#[derive(Clone, Copy)]
enum Slot {
    Filters,
    Levels,
}

/// One bad request: the value of `globalFilters` or `levels`, the expected status, and what
/// the reason must name: for 400 the JSON path of the offending member (see [`names_path`]),
/// for 403 the capability.
struct Case {
    slot: Slot,
    value: Value,
    status: u16,
    needle: String,
    /// Also sent with `"dateSplit":"day"` (dateRange only).
    with_split: bool,
}

fn filter(value: Value, needle: &str) -> Case {
    Case { slot: Slot::Filters, value, status: 400, needle: needle.into(), with_split: false }
}

fn levels(value: Value, needle: &str) -> Case {
    Case { slot: Slot::Levels, value, status: 400, needle: needle.into(), with_split: false }
}

/// A one-level `levels` with the given segments.
fn level1(property: &str, segments: Value) -> Value {
    json!({"level1": {"property": property, "segments": segments}})
}

fn seg(segment: Value) -> Value {
    level1("prodVersion", json!([segment]))
}

fn cases() -> Vec<Case> {
    let long_regex = "a".repeat(1025);
    let many_values: Vec<String> = (0..1001).map(|i| format!("v{i}")).collect();
    let many_segments: Vec<Value> = (0..101).map(|i| json!({"type": "string", "value": format!("{i}.0")})).collect();
    let long_label = "L".repeat(129);
    let mut cases = vec![
        // ---- globalFilters: shape and JSON types ----
        filter(json!([]), "globalFilters"),
        filter(json!({"prodVersion": "1.0"}), "globalFilters.prodVersion"),
        filter(json!({"prodVersion": {"type": 5, "value": "1.0"}}), "globalFilters.prodVersion.type"),
        filter(json!({"prodVersion": {"value": "1.0"}}), "globalFilters.prodVersion.type"),
        filter(json!({"prodVersion": {"type": "string", "value": 1}}), "globalFilters.prodVersion.value"),
        filter(json!({"prodVersion": {"type": "string", "value": null}}), "globalFilters.prodVersion.value"),
        filter(json!({"prodVersion": {"type": "string"}}), "globalFilters.prodVersion.value"),
        filter(json!({"prodVersion": {"type": "stringArray", "value": "1.0"}}), "globalFilters.prodVersion.value"),
        filter(json!({"prodVersion": {"type": "stringArray", "value": []}}), "globalFilters.prodVersion.value"),
        filter(
            json!({"prodVersion": {"type": "stringArray", "value": ["1.0", 2]}}),
            "globalFilters.prodVersion.value[1]",
        ),
        filter(
            json!({"prodVersion": {"type": "stringArray", "value": many_values}}),
            "globalFilters.prodVersion.value",
        ),
        filter(json!({"prodVersion": {"type": "regex", "value": [".*"]}}), "globalFilters.prodVersion.value"),
        filter(json!({"cpuCores": {"type": "number", "value": "four"}}), "globalFilters.cpuCores.value"),
        filter(json!({"cpuCores": {"type": "numberRange", "min": "2"}}), "globalFilters.cpuCores.min"),
        filter(json!({"cpuCores": {"type": "numberRange", "min": 2, "max": [4]}}), "globalFilters.cpuCores.max"),
        filter(json!({"touchScreen": {"type": "boolean", "value": "yes"}}), "globalFilters.touchScreen.value"),
        // ---- unknown operator, unknown property, unknown fields ----
        filter(json!({"prodVersion": {"type": "like", "value": "1%"}}), "globalFilters.prodVersion.type"),
        filter(json!({"prodVersion": {"type": "String", "value": "1.0"}}), "globalFilters.prodVersion.type"),
        filter(json!({"prodVersio": {"type": "string", "value": "1.0"}}), "globalFilters.prodVersio"),
        filter(json!({"C21": {"type": "string", "value": "x"}}), "globalFilters.C21"),
        filter(json!({"prodVersion": {"typ": "string", "value": "1.0"}}), "globalFilters.prodVersion.typ"),
        filter(
            json!({"prodVersion": {"type": "string", "value": "1.0", "extra": 1}}),
            "globalFilters.prodVersion.extra",
        ),
        filter(
            json!({"prodVersion": {"type": "string", "value": "1.0", "segmentLabel": "x"}}),
            "globalFilters.prodVersion.segmentLabel",
        ),
        filter(json!({"cpuCores": {"type": "number", "value": 4, "min": 2}}), "globalFilters.cpuCores.min"),
        filter(json!({"cpuCores": {"type": "numberRange", "min": 2, "value": 3}}), "globalFilters.cpuCores.value"),
        // ---- operator not fitting the property type ----
        filter(json!({"prodVersion": {"type": "number", "value": 1}}), "globalFilters.prodVersion.type"),
        filter(json!({"prodVersion": {"type": "numberRange", "min": 1}}), "globalFilters.prodVersion.type"),
        filter(json!({"prodVersion": {"type": "dateRange", "min": "2024-03-01"}}), "globalFilters.prodVersion.type"),
        filter(json!({"prodVersion": {"type": "boolean", "value": true}}), "globalFilters.prodVersion.type"),
        filter(json!({"cpuCores": {"type": "string", "value": "4"}}), "globalFilters.cpuCores.type"),
        filter(json!({"cpuCores": {"type": "stringArray", "value": ["4"]}}), "globalFilters.cpuCores.type"),
        // regex filters need supportsRegex (cpuCores has none; only segments run regex on numbers)
        filter(json!({"cpuCores": {"type": "regex", "value": "4"}}), "globalFilters.cpuCores.type"),
        filter(json!({"dateInstalled": {"type": "string", "value": "2024-03-01"}}), "globalFilters.dateInstalled.type"),
        filter(json!({"dateInstalled": {"type": "numberRange", "min": 1}}), "globalFilters.dateInstalled.type"),
        // ---- "<NULL>" on a property without supportsNull ----
        filter(json!({"licenseType": {"type": "string", "value": "<NULL>"}}), "globalFilters.licenseType.value"),
        filter(
            json!({"licenseType": {"type": "stringArray", "value": ["purchased", "<NULL>"]}}),
            "globalFilters.licenseType.value[1]",
        ),
        filter(json!({"dateInstalled": {"type": "date", "value": "<NULL>"}}), "globalFilters.dateInstalled.value"),
        filter(json!({"clientId": {"type": "string", "value": "<NULL>"}}), "globalFilters.clientId.value"),
        // ---- regex patterns ----
        filter(json!({"prodVersion": {"type": "regex", "value": "("}}), "globalFilters.prodVersion.value"),
        filter(json!({"prodVersion": {"type": "regex", "value": "a(?=b)"}}), "globalFilters.prodVersion.value"),
        filter(json!({"prodVersion": {"type": "regex", "value": long_regex}}), "globalFilters.prodVersion.value"),
        filter(
            json!({"prodVersion": {"type": "regex", "value": "(a{1000}){1000}"}}),
            "globalFilters.prodVersion.value",
        ),
        // ---- dates in date filters ----
        filter(json!({"dateInstalled": {"type": "dateRange", "min": "2024-02-30"}}), "globalFilters.dateInstalled.min"),
        filter(json!({"dateInstalled": {"type": "dateRange", "max": "2024-3-5"}}), "globalFilters.dateInstalled.max"),
        filter(json!({"dateInstalled": {"type": "dateRange", "min": "NOW+1"}}), "globalFilters.dateInstalled.min"),
        filter(json!({"dateInstalled": {"type": "date", "value": "yesterday"}}), "globalFilters.dateInstalled.value"),
        filter(json!({"dateInstalled": {"type": "date", "value": 20240301}}), "globalFilters.dateInstalled.value"),
        filter(
            json!({"dateInstalled": {"type": "dateRange", "min": "2024-03-01T00:00:00Z"}}),
            "globalFilters.dateInstalled.min",
        ),
        // ---- ranges without bounds ----
        filter(json!({"cpuCores": {"type": "numberRange"}}), "globalFilters.cpuCores"),
        filter(json!({"cpuCores": {"type": "numberRange", "min": null, "max": null}}), "globalFilters.cpuCores"),
        filter(json!({"dateInstalled": {"type": "dateRange"}}), "globalFilters.dateInstalled"),
        // ---- licenseStatus ----
        filter(json!({"licenseStatus": [{"activated": "yes"}]}), "globalFilters.licenseStatus[0].activated"),
        filter(json!({"licenseStatus": [{"activated": true}, {}]}), "globalFilters.licenseStatus[1]"),
        filter(
            json!({"licenseStatus": [{"activated": true, "revoked": true}]}),
            "globalFilters.licenseStatus[0].revoked",
        ),
        filter(json!({"licenseStatus": [{"blocked": true, "blacklisted": true}]}), "globalFilters.licenseStatus[0]"),
        filter(json!({"licenseStatus": {"type": "string", "value": "activated"}}), "globalFilters.licenseStatus"),
        filter(json!({"licenseStatus": "activated"}), "globalFilters.licenseStatus"),
        // ---- permission ----
        Case {
            slot: Slot::Filters,
            value: json!({"licenseKey": {"type": "string", "value": "ABCD-1234"}}),
            status: 403,
            needle: "licenseKey".into(),
            with_split: false,
        },
        // ---- levels: shape ----
        levels(json!([]), "levels"),
        levels(json!({"level1": "prodVersion"}), "levels.level1"),
        levels(json!({"level1": {"property": "prodVersion"}}), "levels.level1.segments"),
        levels(
            json!({"level1": {"segments": [{"type": "regex", "value": ".*", "split": true}]}}),
            "levels.level1.property",
        ),
        levels(
            json!({"level1": {"property": "prodVersion", "segments": {"type": "string"}}}),
            "levels.level1.segments",
        ),
        levels(json!({"level1": {"property": "prodVersion", "segments": ["1.0"]}}), "levels.level1.segments[0]"),
        levels(
            json!({"level1": {"property": 3, "segments": [{"type": "string", "value": "1"}]}}),
            "levels.level1.property",
        ),
        levels(
            json!({"level1": {"property": "prodVersion", "segmnts": [{"type": "string", "value": "1"}]}}),
            "levels.level1.segmnts",
        ),
        levels(
            json!({"levelOne": {"property": "prodVersion", "segments": [{"type": "string", "value": "1"}]}}),
            "levels.levelOne",
        ),
        // ---- levels: count and order ----
        levels(
            json!({"level1": {"property": "prodVersion", "segments": [{"type": "regex", "value": ".*", "split": true}]},
                   "level2": {"property": "prodEdition", "segments": [{"type": "regex", "value": ".*", "split": true}]},
                   "level3": {"property": "C01", "segments": [{"type": "regex", "value": ".*", "split": true}]},
                   "level4": {"property": "licenseType", "segments": [{"type": "regex", "value": ".*", "split": true}]}}),
            "levels.level4",
        ),
        levels(
            json!({"level1": {"property": "prodVersion", "segments": [{"type": "regex", "value": ".*", "split": true}]},
                   "level3": {"property": "C01", "segments": [{"type": "regex", "value": ".*", "split": true}]}}),
            "levels.level3",
        ),
        levels(
            json!({"level2": {"property": "prodVersion", "segments": [{"type": "regex", "value": ".*", "split": true}]}}),
            "levels.level2",
        ),
        // ---- levels: property ----
        levels(
            level1("prodVersio", json!([{"type": "regex", "value": ".*", "split": true}])),
            "levels.level1.property",
        ),
        levels(
            level1("dateInstalled", json!([{"type": "regex", "value": ".*", "split": true}])),
            "levels.level1.property",
        ),
        levels(level1("touchScreen", json!([{"type": "boolean", "value": true}])), "levels.level1.property"),
        levels(level1("os", json!([{"type": "regex", "value": ".*", "split": true}])), "levels.level1.property"),
        levels(
            level1("installationMonth", json!([{"type": "regex", "value": ".*", "split": true}])),
            "levels.level1.property",
        ),
        levels(level1("lifetimeEventUsage", json!([{"type": "number", "value": 1}])), "levels.level1.property"),
        // ---- segments: operator type ----
        levels(seg(json!({"type": "like", "value": "1%", "segmentLabel": "x"})), "levels.level1.segments[0].type"),
        levels(seg(json!({"value": "1.0"})), "levels.level1.segments[0].type"),
        levels(seg(json!({"type": "number", "value": 1})), "levels.level1.segments[0].type"),
        levels(seg(json!({"type": "numberRange", "min": 1, "segmentLabel": "x"})), "levels.level1.segments[0].type"),
        levels(level1("cpuCores", json!([{"type": "string", "value": "4"}])), "levels.level1.segments[0].type"),
        levels(
            level1("cpuCores", json!([{"type": "stringArray", "value": ["4"], "segmentLabel": "x"}])),
            "levels.level1.segments[0].type",
        ),
        // ---- segments: JSON types ----
        levels(seg(json!({"type": "string", "value": 1})), "levels.level1.segments[0].value"),
        levels(seg(json!({"type": "string"})), "levels.level1.segments[0].value"),
        levels(
            seg(json!({"type": "stringArray", "value": "1.0", "segmentLabel": "x"})),
            "levels.level1.segments[0].value",
        ),
        levels(
            seg(json!({"type": "stringArray", "value": ["1.0", false], "segmentLabel": "x"})),
            "levels.level1.segments[0].value[1]",
        ),
        levels(seg(json!({"type": "regex", "value": 5, "split": true})), "levels.level1.segments[0].value"),
        levels(seg(json!({"type": "regex", "value": ".*", "split": "yes"})), "levels.level1.segments[0].split"),
        levels(
            seg(json!({"type": "string", "value": "1.0", "segmentLabel": 7})),
            "levels.level1.segments[0].segmentLabel",
        ),
        levels(level1("cpuCores", json!([{"type": "number", "value": "4"}])), "levels.level1.segments[0].value"),
        levels(
            level1("cpuCores", json!([{"type": "numberRange", "min": "2", "segmentLabel": "x"}])),
            "levels.level1.segments[0].min",
        ),
        // ---- segments: split and segmentLabel rules ----
        levels(seg(json!({"type": "stringArray", "value": ["1.0", "2.0"]})), "levels.level1.segments[0].segmentLabel"),
        levels(
            seg(json!({"type": "stringArray", "value": ["1.0", "2.0"], "split": false})),
            "levels.level1.segments[0].segmentLabel",
        ),
        levels(seg(json!({"type": "regex", "value": "^1"})), "levels.level1.segments[0].segmentLabel"),
        levels(seg(json!({"type": "regex", "value": "^1", "split": false})), "levels.level1.segments[0].segmentLabel"),
        levels(
            seg(json!({"type": "regex", "value": ".*", "split": true, "segmentLabel": "all"})),
            "levels.level1.segments[0].segmentLabel",
        ),
        levels(
            seg(json!({"type": "stringArray", "value": ["1.0"], "split": true, "segmentLabel": "one"})),
            "levels.level1.segments[0].segmentLabel",
        ),
        levels(seg(json!({"type": "string", "value": "1.0", "split": true})), "levels.level1.segments[0].split"),
        levels(
            level1("cpuCores", json!([{"type": "numberRange", "min": 2, "max": 4}])),
            "levels.level1.segments[0].segmentLabel",
        ),
        levels(
            seg(json!({"type": "string", "value": "1.0", "segmentLabel": ""})),
            "levels.level1.segments[0].segmentLabel",
        ),
        levels(
            seg(json!({"type": "string", "value": "1.0", "segmentLabel": long_label})),
            "levels.level1.segments[0].segmentLabel",
        ),
        // ---- segments: ranges, unknown fields ----
        levels(
            level1("cpuCores", json!([{"type": "numberRange", "segmentLabel": "any"}])),
            "levels.level1.segments[0]",
        ),
        levels(
            level1("cpuCores", json!([{"type": "numberRange", "min": 2, "value": 3, "segmentLabel": "x"}])),
            "levels.level1.segments[0].value",
        ),
        levels(seg(json!({"type": "string", "valu": "1.0"})), "levels.level1.segments[0].valu"),
        levels(seg(json!({"type": "string", "value": "1.0", "colour": "red"})), "levels.level1.segments[0].colour"),
        levels(
            json!({"level1": {"property": "prodVersion", "segments": [{"type": "string", "value": "1"}], "sort": "alpha"}}),
            "levels.level1.sort",
        ),
        // ---- segments: regex patterns ----
        levels(seg(json!({"type": "regex", "value": "(", "split": true})), "levels.level1.segments[0].value"),
        levels(seg(json!({"type": "regex", "value": "(a)\\1", "split": true})), "levels.level1.segments[0].value"),
        levels(seg(json!({"type": "regex", "value": long_regex, "split": true})), "levels.level1.segments[0].value"),
        levels(
            seg(json!({"type": "regex", "value": "(a{1000}){1000}", "split": true})),
            "levels.level1.segments[0].value",
        ),
        // ---- segments: "<NULL>" without supportsNull ----
        levels(
            level1("licenseType", json!([{"type": "string", "value": "<NULL>"}])),
            "levels.level1.segments[0].value",
        ),
        levels(
            level1("licenseType", json!([{"type": "stringArray", "value": ["nfr", "<NULL>"], "segmentLabel": "x"}])),
            "levels.level1.segments[0].value[1]",
        ),
        // ---- segments: duplicate keys, too many segments ----
        levels(
            level1("prodVersion", json!([{"type": "string", "value": "1.0"}, {"type": "string", "value": "1.0"}])),
            "levels.level1.segments[1]",
        ),
        levels(
            level1(
                "prodVersion",
                json!([{"type": "string", "value": "2.0", "segmentLabel": "1.0"}, {"type": "string", "value": "1.0"}]),
            ),
            "levels.level1.segments[1]",
        ),
        levels(
            level1(
                "prodVersion",
                json!([{"type": "stringArray", "value": ["1.0"], "segmentLabel": "old"},
                       {"type": "regex", "value": "^0", "segmentLabel": "old"}]),
            ),
            "levels.level1.segments[1]",
        ),
        levels(
            level1("cpuCores", json!([{"type": "number", "value": 4}, {"type": "number", "value": 4}])),
            "levels.level1.segments[1]",
        ),
        levels(level1("prodVersion", Value::Array(many_segments)), "levels.level1.segments"),
        // ---- special segmentation: licenseStatus ----
        levels(level1("licenseStatus", json!([{"activated": true}])), "levels.level1.segments[0].segmentLabel"),
        levels(
            level1("licenseStatus", json!([{"segmentLabel": "on", "activated": "yes"}])),
            "levels.level1.segments[0].activated",
        ),
        levels(
            level1("licenseStatus", json!([{"segmentLabel": "on", "type": "string", "activated": true}])),
            "levels.level1.segments[0].type",
        ),
        levels(
            level1("licenseStatus", json!([{"segmentLabel": "on", "activated": true, "revoked": false}])),
            "levels.level1.segments[0].revoked",
        ),
        levels(
            level1(
                "licenseStatus",
                json!([{"segmentLabel": "on", "activated": true}, {"segmentLabel": "on", "expired": true}]),
            ),
            "levels.level1.segments[1]",
        ),
        // ---- permission ----
        Case {
            slot: Slot::Levels,
            value: level1("licenseKey", json!([{"type": "regex", "value": ".*", "split": true}])),
            status: 403,
            needle: "licenseKey".into(),
            with_split: false,
        },
    ];
    // Two levels together with a split (dateRange only).
    cases.push(Case {
        slot: Slot::Levels,
        value: json!({"level1": {"property": "prodVersion", "segments": [{"type": "regex", "value": ".*", "split": true}]},
                      "level2": {"property": "prodEdition", "segments": [{"type": "regex", "value": ".*", "split": true}]}}),
        status: 400,
        needle: "levels.level2".into(),
        with_split: true,
    });
    cases
}

/// Whether `reason` names the JSON path `path` or a member inside it: `'path'`, `'path.x'` or
/// `'path[i]…'`, quoted as in `field 'levels.level1.segments[0].type' must be …`. A longer
/// name such as `'….value'` for the path `….valu` does not count.
fn names_path(reason: &str, path: &str) -> bool {
    let quoted = format!("'{path}");
    reason
        .match_indices(&quoted)
        .any(|(i, _)| matches!(reason[i + quoted.len()..].chars().next(), Some('\'' | '.' | '[')))
}

/// A request body for failure messages, cut after 400 characters.
fn shorten(body: &Value) -> String {
    let text = body.to_string();
    match text.char_indices().nth(400) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// A test server whose request rate limit does not get in the way of a few hundred requests.
async fn spawn() -> TestApp {
    let mut config = usagi_server::ServerConfig::default();
    config.limits.requests_per_second = 10_000.0;
    config.limits.burst = 10_000.0;
    TestApp::spawn_with(Setup { config: Some(config), ..Setup::default() }).await
}

/// A small data set so that valid reports have something to count.
async fn seed(app: &TestApp) {
    for (d, client) in [(1u32, "00000000000000A1"), (2, "00000000000000A2"), (3, "00000000000000A1")] {
        let records = vec![
            json!({"kind": "event", "t": ms(2024, 3, d, 9, 0), "name": "Tick"}),
            json!({"kind": "properties", "t": ms(2024, 3, d, 9, 1), "product": {"edition": "Pro", "version": "1.0"},
                   "machine": {"cpuCores": 4}, "custom": {"1": "web"}}),
            json!({"kind": "licenseData", "t": ms(2024, 3, d, 9, 2), "licenseType": "purchased", "activated": true}),
        ];
        app.sync_at(at(2024, 3, d, 10, 0, 0), client, records).await;
    }
    app.settle().await;
    app.set_now(at(2024, 3, 20, 12, 0, 0));
}

/// What the server stores, as row counts of its main tables.
async fn stored(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for table in ["clients", "client_days", "observations"] {
        out.push(app.count(&format!("SELECT count(*) FROM {table}")).await);
    }
    out
}

#[tokio::test]
async fn bad_filters_and_levels_name_the_json_path() {
    let app = spawn().await;
    seed(&app).await;
    app.login().await;
    let range = json!({"startDate": "2024-03-01", "stopDate": "2024-03-07", "clientStatus": ["new", "active", "lost"]});
    let current = json!({"startDate": "2024-03-01", "clientStatus": ["new", "active", "lost"]});
    let endpoints = [("dateRange", range.clone()), ("current", current.clone())];
    let valid = |mut b: Value| {
        b["globalFilters"] = json!({"prodVersion": {"type": "string", "value": "1.0"}});
        b
    };
    // The valid answers before the matrix, to compare afterwards.
    let mut before = Vec::new();
    for (kind, base) in &endpoints {
        let resp = app.post_json(&format!("/v3/reporting/generic/{kind}/{PRODUCT}"), &valid(base.clone())).await;
        before.push((resp.status().as_u16(), resp.text().await.expect("body")));
    }
    let stored_before = stored(&app).await;

    let mut failures = Vec::new();
    let mut sent = 0;
    for case in cases() {
        for (kind, base) in &endpoints {
            if case.with_split && *kind == "current" {
                continue;
            }
            let mut body = base.clone();
            match case.slot {
                Slot::Filters => body["globalFilters"] = case.value.clone(),
                Slot::Levels => body["levels"] = case.value.clone(),
            }
            if case.with_split {
                body["dateSplit"] = json!("day");
            }
            let path = format!("/v3/reporting/generic/{kind}/{PRODUCT}");
            let started = Instant::now();
            let resp = app.post_json(&path, &body).await;
            let elapsed = started.elapsed();
            let status = resp.status().as_u16();
            let text = resp.text().await.expect("body");
            sent += 1;
            let expected_status = if case.status == 403 { "FORBIDDEN" } else { "SYNTAX ERROR" };
            let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let reason = parsed["reason"].as_str().unwrap_or("");
            let shape_ok = parsed["status"] == expected_status
                && parsed.as_object().is_some_and(|o| o.len() == 2)
                && if case.status == 403 { reason.contains(&case.needle) } else { names_path(reason, &case.needle) };
            if status != case.status || !shape_ok {
                let shown = shorten(&body);
                failures.push(format!(
                    "POST {path} {shown}\n  expected {} {expected_status} with a reason naming {:?}\n  got      {status} {text}",
                    case.status, case.needle
                ));
            }
            if elapsed > Duration::from_secs(5) {
                failures.push(format!("POST {path} took {elapsed:?} (expected a prompt 400): {}", case.value));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {sent} bad requests were not rejected as expected:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Nothing was stored, and the same valid reports still answer the same.
    assert_eq!(stored(&app).await, stored_before, "bad requests store nothing (clients, client_days, observations)");
    for ((kind, base), expected) in endpoints.iter().zip(&before) {
        let resp = app.post_json(&format!("/v3/reporting/generic/{kind}/{PRODUCT}"), &valid(base.clone())).await;
        let got = (resp.status().as_u16(), resp.text().await.expect("body"));
        assert_eq!(&got, expected, "generic/{kind} answers the same valid report after the bad ones");
    }
}

/// The valid edge cases next to the bad ones above are accepted (so the 400s above are not
/// blanket rejections).
#[tokio::test]
async fn valid_edge_cases_of_filters_and_levels_are_accepted() {
    let app = spawn().await;
    seed(&app).await;
    app.login().await;
    let base = json!({"startDate": "2024-03-01", "stopDate": "2024-03-07", "clientStatus": ["active"]});
    let filters = [
        json!({"prodVersion": {"type": "string", "value": "<NULL>"}}),
        json!({"prodVersion": {"type": "stringArray", "value": ["1.0", "<NULL>"]}}),
        json!({"cpuCores": {"type": "number", "value": "<NULL>"}}),
        json!({"cpuCores": {"type": "numberRange", "min": 2}}),
        json!({"cpuCores": {"type": "numberRange", "max": 2}}),
        json!({"licenseStatus": {"activated": true}}),
        json!({"licenseStatus": [{"blacklisted": false, "whitelisted": false}]}),
        json!({"dateInstalled": {"type": "dateRange", "min": "2019-01-01"}}),
        json!({"dateInstalled": {"type": "date", "value": "NOW-19"}}),
        json!({"touchScreen": {"value": true}}),
        json!({"prodVersion": {"type": "regex", "value": "a".repeat(1024)}}),
    ];
    let levels = [
        level1("cpuCores", json!([{"type": "regex", "value": "^4$", "split": true}])),
        level1("prodVersion", json!([{"type": "stringArray", "value": ["1.0"], "split": true}])),
        level1("prodVersion", json!([{"type": "string", "value": "1.0", "segmentLabel": "one"}])),
        level1("licenseStatus", json!([{"segmentLabel": "Active", "activated": true}])),
        level1("os.platform", json!([{"type": "regex", "value": ".*", "split": true}])),
        level1(
            "prodVersion",
            Value::Array((0..100).map(|i| json!({"type": "string", "value": format!("{i}")})).collect()),
        ),
        json!(null),
        json!({}),
    ];
    let mut failures = Vec::new();
    for f in filters {
        let mut b = base.clone();
        b["globalFilters"] = f;
        let (status, text) = app.date_range(&b).await;
        if status != 200 {
            failures.push(format!("{} → {status} {text}", shorten(&b)));
        }
    }
    for l in levels {
        let mut b = base.clone();
        b["levels"] = l;
        let (status, text) = app.date_range(&b).await;
        if status != 200 {
            failures.push(format!("{} → {status} {text}", shorten(&b)));
        }
    }
    assert!(failures.is_empty(), "expected 200 for these valid requests:\n{}", failures.join("\n"));
}
