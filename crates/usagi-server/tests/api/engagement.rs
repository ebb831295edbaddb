//! User engagement histograms (reporting-api §10): worked Example 3's usageDistribution,
//! churnAndEngagement cohorts, the churn histograms, request validation, and a property
//! test of usageDistribution against a naive reference of semantics §8–§9.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::helpers::*;

const P: &str = "1111111111111111";
const Q: &str = "2222222222222222";

fn usage_path() -> String {
    format!("/v3/reporting/engagement/usageDistribution/{PRODUCT}")
}

fn cohort_path() -> String {
    format!("/v3/reporting/engagement/churnAndEngagement/{PRODUCT}")
}

fn churn_path(metric: &str) -> String {
    format!("/v3/reporting/churn/histogram/{metric}/{PRODUCT}")
}

/// POSTs a report and returns status and body text.
async fn report(app: &TestApp, path: &str, body: &Value) -> (u16, String) {
    let resp = app.post_json(path, body).await;
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// The same report as `GET ?query=`.
async fn report_get(app: &TestApp, path: &str, body: &Value) -> (u16, String) {
    let resp = app
        .client
        .get(format!("{}{path}", app.base))
        .query(&[("query", body.to_string())])
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// Example 3's inputs (semantics §14): P's implicit sessions (one closed by the next start
/// at its last record) and Q's explicit session across midnight.
async fn example3(app: &TestApp) {
    let open = |t: i64| json!({"kind": "event", "t": t, "category": "File Operations", "name": "Open"});
    app.sync_at(
        at(2024, 3, 1, 9, 31, 0),
        P,
        vec![
            json!({"kind": "sessionStart", "t": ms(2024, 3, 1, 9, 0)}),
            open(ms(2024, 3, 1, 9, 10)),
            json!({"kind": "sessionStop", "t": ms(2024, 3, 1, 9, 30)}),
        ],
    )
    .await;
    app.sync_at(
        at(2024, 3, 2, 10, 21, 0),
        P,
        vec![
            json!({"kind": "sessionStart", "t": ms(2024, 3, 2, 10, 0)}),
            open(ms(2024, 3, 2, 10, 5)),
            open(ms(2024, 3, 2, 10, 20)),
        ],
    )
    .await;
    app.sync_at(
        at(2024, 3, 3, 8, 6, 0),
        P,
        vec![
            json!({"kind": "sessionStart", "t": ms(2024, 3, 3, 8, 0)}),
            json!({"kind": "sessionStop", "t": ms(2024, 3, 3, 8, 5)}),
        ],
    )
    .await;
    let id = "session-0001";
    app.sync_at(
        at(2024, 3, 4, 23, 0, 30),
        Q,
        vec![
            json!({"kind": "sessionStart", "t": ms(2024, 3, 4, 22, 0), "sessionId": id}),
            json!({"kind": "event", "t": ms(2024, 3, 4, 23, 0), "category": "File Operations", "name": "Open", "sessionId": id}),
        ],
    )
    .await;
    let save = json!({"kind": "event", "t": ms(2024, 3, 5, 1, 0), "category": "File Operations", "name": "Save", "sessionId": id});
    app.sync_at(
        at(2024, 3, 5, 2, 0, 30),
        Q,
        vec![save.clone(), save, json!({"kind": "sessionStop", "t": ms(2024, 3, 5, 2, 0), "sessionId": id})],
    )
    .await;
    app.settle().await;
    app.set_now(at(2024, 3, 20, 12, 0, 0));
}

const EXAMPLE3_USAGE: &str = r#"{"result":{
 "activeDays":{"1":{"users":0,"sessions":{},"runtime":{}},
               "2":{"users":1,"sessions":{"\u2264 1":1},"runtime":{"2:01 - 5:00":1}},
               "3":{"users":1,"sessions":{"3":1},"runtime":{"0:31 - 1:00":1}},
               "4":{"users":0,"sessions":{},"runtime":{}},"5":{"users":0,"sessions":{},"runtime":{}},
               "6":{"users":0,"sessions":{},"runtime":{}},"7":{"users":0,"sessions":{},"runtime":{}}},
 "sessions":{"\u2264 1":{"users":1,"activeDays":{"2":1},"runtime":{"2:01 - 5:00":1}},
             "2":{"users":0,"activeDays":{},"runtime":{}},
             "3":{"users":1,"activeDays":{"3":1},"runtime":{"0:31 - 1:00":1}},
             "4 - 5":{"users":0,"activeDays":{},"runtime":{}},"6 - 8":{"users":0,"activeDays":{},"runtime":{}},
             "9 - 12":{"users":0,"activeDays":{},"runtime":{}},"13 - 20":{"users":0,"activeDays":{},"runtime":{}},
             "21 - 50":{"users":0,"activeDays":{},"runtime":{}},"\u2265 51":{"users":0,"activeDays":{},"runtime":{}}},
 "runtime":{"\u2264 0:05":{"users":0,"activeDays":{},"sessions":{}},"0:06 - 0:15":{"users":0,"activeDays":{},"sessions":{}},
            "0:16 - 0:30":{"users":0,"activeDays":{},"sessions":{}},
            "0:31 - 1:00":{"users":1,"activeDays":{"3":1},"sessions":{"3":1}},
            "1:01 - 2:00":{"users":0,"activeDays":{},"sessions":{}},
            "2:01 - 5:00":{"users":1,"activeDays":{"2":1},"sessions":{"\u2264 1":1}},
            "5:01 - 10:00":{"users":0,"activeDays":{},"sessions":{}},"10:01 - 20:00":{"users":0,"activeDays":{},"sessions":{}},
            "20:01 - 50:00":{"users":0,"activeDays":{},"sessions":{}},"\u2265 50:01":{"users":0,"activeDays":{},"sessions":{}}}}}"#;

/// Compact JSON text as the server writes it: pure ASCII, `≤`/`≥` escaped.
fn ascii(text: &str) -> String {
    compact(text).replace('\u{2264}', "\\u2264").replace('\u{2265}', "\\u2265")
}

#[tokio::test]
async fn example_3_usage_distribution_is_exact() {
    let app = TestApp::spawn().await;
    example3(&app).await;
    app.login().await;
    let body = json!({"startDate": "2024-03-01", "stopDate": "2024-03-07"});
    let (status, text) = report(&app, &usage_path(), &body).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.is_ascii(), "output is pure ASCII");
    assert_eq!(text, ascii(EXAMPLE3_USAGE), "usageDistribution as in semantics.md Example 3");
    // GET ?query= answers the same.
    assert_eq!(report_get(&app, &usage_path(), &body).await, (200, text));

    // 03-05…03-07 (3 day buckets): only Q's half after midnight, 120 min, no session started.
    let (status, text) =
        report(&app, &usage_path(), &json!({"startDate": "2024-03-05", "stopDate": "2024-03-07"})).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["result"]["activeDays"].as_object().unwrap().keys().collect::<Vec<_>>(), ["1", "2", "3"]);
    assert_eq!(
        v["result"]["activeDays"]["1"],
        json!({"users": 1, "sessions": {"\u{2264} 1": 1}, "runtime": {"1:01 - 2:00": 1}})
    );
    assert_eq!(
        v["result"]["runtime"]["1:01 - 2:00"],
        json!({"users": 1, "activeDays": {"1": 1}, "sessions": {"\u{2264} 1": 1}})
    );

    // Filters apply: Q alone by its client id; a stop date in the future counts as today.
    let body = json!({"startDate": "2024-03-01", "stopDate": "2024-04-30",
                      "globalFilters": {"clientId": {"type": "string", "value": Q}}});
    let (status, text) = report(&app, &usage_path(), &body).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["result"]["activeDays"].as_object().unwrap().len(), 11, "61 days: buckets 1 … 31 - 60 and 61 - 90");
    assert_eq!(v["result"]["activeDays"]["2"]["users"], 1);
    assert_eq!(v["result"]["activeDays"]["3"]["users"], 0);
    assert_eq!(v["result"]["sessions"]["\u{2264} 1"]["users"], 1);
    assert_eq!(v["result"]["runtime"]["2:01 - 5:00"]["users"], 1);

    // Nobody active: every bucket still listed, zero-filled.
    let (_, text) = report(&app, &usage_path(), &json!({"startDate": "2024-03-10", "stopDate": "2024-03-10"})).await;
    assert_eq!(
        text,
        ascii(
            r#"{"result":{"activeDays":{"1":{"users":0,"sessions":{},"runtime":{}}},
            "sessions":{"≤ 1":{"users":0,"activeDays":{},"runtime":{}},"2":{"users":0,"activeDays":{},"runtime":{}},
              "3":{"users":0,"activeDays":{},"runtime":{}},"4 - 5":{"users":0,"activeDays":{},"runtime":{}},
              "6 - 8":{"users":0,"activeDays":{},"runtime":{}},"9 - 12":{"users":0,"activeDays":{},"runtime":{}},
              "13 - 20":{"users":0,"activeDays":{},"runtime":{}},"21 - 50":{"users":0,"activeDays":{},"runtime":{}},
              "≥ 51":{"users":0,"activeDays":{},"runtime":{}}},
            "runtime":{"≤ 0:05":{"users":0,"activeDays":{},"sessions":{}},"0:06 - 0:15":{"users":0,"activeDays":{},"sessions":{}},
              "0:16 - 0:30":{"users":0,"activeDays":{},"sessions":{}},"0:31 - 1:00":{"users":0,"activeDays":{},"sessions":{}},
              "1:01 - 2:00":{"users":0,"activeDays":{},"sessions":{}},"2:01 - 5:00":{"users":0,"activeDays":{},"sessions":{}},
              "5:01 - 10:00":{"users":0,"activeDays":{},"sessions":{}},"10:01 - 20:00":{"users":0,"activeDays":{},"sessions":{}},
              "20:01 - 50:00":{"users":0,"activeDays":{},"sessions":{}},"≥ 50:01":{"users":0,"activeDays":{},"sessions":{}}}}}"#
        )
    );
}

/// A fleet for the cohort and churn tests. Each installation runs sessions of the given
/// minutes at 09:00, 12:00, 15:00 … on its days, synced at 20:00 the same day.
///
/// | id | days (2024) | sessions | minutes | L | lost with N = 5 on 03-20 |
/// |---|---|---|---|---|---|
/// | E | 02-20 [30], 02-28 [30] | 2 | 60 | 02-28 | yes (D 03-04) |
/// | A | 03-01 [100], 03-05 [100,10,10], 03-09 [100] | 5 | 320 | 03-09 | yes (D 03-14) |
/// | B | 03-02 [5] | 1 | 5 | 03-02 | yes (D 03-07) |
/// | C | 03-10, 03-18, 03-19 [20 each] | 3 | 60 | 03-19 | no |
/// | D | 03-15, 03-16 [20 each] | 2 | 40 | 03-16 | no (D 03-21) |
const E: &str = "00000000000000EE";
const A: &str = "00000000000000AA";
const B: &str = "00000000000000BB";
const C: &str = "00000000000000CC";
const D: &str = "00000000000000DD";

async fn cohort_fleet(app: &TestApp) {
    let plan: Vec<(&str, (u32, u32), Vec<i64>)> = vec![
        (E, (2, 20), vec![30]),
        (E, (2, 28), vec![30]),
        (A, (3, 1), vec![100]),
        (B, (3, 2), vec![5]),
        (A, (3, 5), vec![100, 10, 10]),
        (A, (3, 9), vec![100]),
        (C, (3, 10), vec![20]),
        (D, (3, 15), vec![20]),
        (D, (3, 16), vec![20]),
        (C, (3, 18), vec![20]),
        (C, (3, 19), vec![20]),
    ];
    for (client, (month, day), minutes) in plan {
        let mut records = Vec::new();
        for (i, m) in minutes.iter().enumerate() {
            let start = ms(2024, month, day, 9 + 3 * i as u32, 0);
            records.push(json!({"kind": "sessionStart", "t": start}));
            records.push(json!({"kind": "sessionStop", "t": start + m * 60_000}));
        }
        app.sync_at(at(2024, month, day, 20, 0, 0), client, records).await;
    }
    app.settle().await;
    app.set_now(at(2024, 3, 20, 12, 0, 0));
}

#[tokio::test]
async fn churn_and_engagement_counts_cohorts_per_period() {
    let app = TestApp::spawn().await;
    cohort_fleet(&app).await;
    app.login().await;

    // Cohort installed 03-01…03-31 = {A, B, C, D}; weeks after each install day.
    // k=1: A [03-02, 03-08] engaged (03-05); B [03-03, 03-09] lost (L 03-02); C [03-11, 03-17]
    //      neither; D's week 1 ends 03-22, not complete → E_1 = {A, B, C}.
    // k=2: A [03-09, 03-15] engaged and lost (L 03-09 ≤ 03-15); B lost → E_2 = {A, B}.
    // k=3: nobody's third week is complete (A's ends 03-22) → left out.
    let body = json!({"startDate": "2024-03-01", "stopDate": "2024-03-31", "dateSplit": "week", "periods": 3,
                      "daysUntilDeclaredLost": 5});
    let (status, text) = report(&app, &cohort_path(), &body).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        text,
        compact(
            r#"{"result":{"all":{"1":{"engaged":1,"engagedPercent":33.33,"lost":1,"lostPercent":33.33},
                                 "2":{"engaged":1,"engagedPercent":50.0,"lost":2,"lostPercent":100.0}}}}"#
        )
    );
    assert_eq!(report_get(&app, &cohort_path(), &body).await, (200, text));

    // Add E (installed 02-20): k=1 [02-21, 02-27] neither; k=2 [02-28, 03-05] engaged and lost;
    // k=3 [03-06, 03-12] lost.
    let mut body = body;
    body["startDate"] = json!("2024-02-01");
    let (status, text) = report(&app, &cohort_path(), &body).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        text,
        compact(
            r#"{"result":{"all":{"1":{"engaged":1,"engagedPercent":25.0,"lost":1,"lostPercent":25.0},
                                 "2":{"engaged":2,"engagedPercent":66.67,"lost":3,"lostPercent":100.0},
                                 "3":{"engaged":0,"engagedPercent":0.0,"lost":1,"lostPercent":100.0}}}}"#
        )
    );

    // Segmented by installationMonth: an explicit month with nobody in it still appears (empty),
    // split months follow in code-point order.
    body["segmentBy"] = json!("installationMonth");
    body["segments"] = json!([{"type": "string", "value": "2024-01"}, {"type": "regex", "value": ".*", "split": true}]);
    let (status, text) = report(&app, &cohort_path(), &body).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        text,
        compact(
            r#"{"result":{"2024-01":{},
                "2024-02":{"1":{"engaged":0,"engagedPercent":0.0,"lost":0,"lostPercent":0.0},
                           "2":{"engaged":1,"engagedPercent":100.0,"lost":1,"lostPercent":100.0},
                           "3":{"engaged":0,"engagedPercent":0.0,"lost":1,"lostPercent":100.0}},
                "2024-03":{"1":{"engaged":1,"engagedPercent":33.33,"lost":1,"lostPercent":33.33},
                           "2":{"engaged":1,"engagedPercent":50.0,"lost":2,"lostPercent":100.0}}}}"#
        )
    );

    // Daily periods: D (installed 03-15) is active on 03-16 (k=1); periods 1…4 end 03-16…03-19,
    // period 5 ends today and is not complete. N defaults to the product's 40: nobody is lost.
    let body = json!({"startDate": "2024-03-15", "stopDate": "2024-03-15", "dateSplit": "day", "periods": 5});
    let (status, text) = report(&app, &cohort_path(), &body).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        text,
        compact(
            r#"{"result":{"all":{"1":{"engaged":1,"engagedPercent":100.0,"lost":0,"lostPercent":0.0},
                                 "2":{"engaged":0,"engagedPercent":0.0,"lost":0,"lostPercent":0.0},
                                 "3":{"engaged":0,"engagedPercent":0.0,"lost":0,"lostPercent":0.0},
                                 "4":{"engaged":0,"engagedPercent":0.0,"lost":0,"lostPercent":0.0}}}}"#
        )
    );

    // 30-day months, default 12 periods: E's first month [02-21, 03-21] is not complete yet.
    let body = json!({"startDate": "2024-02-01", "stopDate": "2024-03-31", "dateSplit": "month"});
    assert_eq!(report(&app, &cohort_path(), &body).await, (200, r#"{"result":{"all":{}}}"#.to_string()));

    // Filters narrow the cohort: licenseType is 'unknown' for everyone.
    let body = json!({"startDate": "2024-02-01", "stopDate": "2024-03-31", "dateSplit": "week",
                      "globalFilters": {"licenseType": {"type": "string", "value": "purchased"}}});
    assert_eq!(report(&app, &cohort_path(), &body).await, (200, r#"{"result":{"all":{}}}"#.to_string()));
}

/// A histogram with every label of `labels`, zero-filled, holding `counts`.
fn histogram(labels: &[&str], counts: &[(&str, i64)]) -> Value {
    let mut m = Map::new();
    for l in labels {
        m.insert(l.to_string(), json!(counts.iter().find(|c| c.0 == *l).map_or(0, |c| c.1)));
    }
    Value::Object(m)
}

const DAY_LABELS: [&str; 14] =
    ["1", "2", "3", "4", "5", "6", "7", "8 - 14", "15 - 30", "31 - 60", "61 - 90", "91 - 180", "181 - 365", "≥ 366"];
const SESSION_LABELS: [&str; 9] = ["≤ 1", "2", "3", "4 - 5", "6 - 8", "9 - 12", "13 - 20", "21 - 50", "≥ 51"];
const RUNTIME_LABELS: [&str; 10] = [
    "≤ 0:05",
    "0:06 - 0:15",
    "0:16 - 0:30",
    "0:31 - 1:00",
    "1:01 - 2:00",
    "2:01 - 5:00",
    "5:01 - 10:00",
    "10:01 - 20:00",
    "20:01 - 50:00",
    "≥ 50:01",
];

fn result(v: Value) -> String {
    ascii(&json!({ "result": v }).to_string())
}

#[tokio::test]
async fn churn_histograms_use_lifetime_values_of_the_lost() {
    let app = TestApp::spawn().await;
    cohort_fleet(&app).await;
    app.login().await;

    // Lost with N = 5 and L in 02-01…03-20: E (2 days, 2 sessions, 60 min), A (3 days,
    // 5 sessions, 320 min) and B (1 day, 1 session, 5 min). C and D are not lost.
    let body = json!({"startDate": "2024-02-01", "stopDate": "2024-03-20", "daysUntilDeclaredLost": 5});
    let (status, text) = report(&app, &churn_path("days"), &body).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(text, result(histogram(&DAY_LABELS, &[("1", 1), ("2", 1), ("3", 1)])));
    assert_eq!(report_get(&app, &churn_path("days"), &body).await, (200, text));
    let (_, text) = report(&app, &churn_path("sessions"), &body).await;
    assert_eq!(text, result(histogram(&SESSION_LABELS, &[("≤ 1", 1), ("2", 1), ("4 - 5", 1)])));
    let (_, text) = report(&app, &churn_path("runtime"), &body).await;
    assert_eq!(text, result(histogram(&RUNTIME_LABELS, &[("≤ 0:05", 1), ("0:31 - 1:00", 1), ("5:01 - 10:00", 1)])));

    // Reported on dateDeclaredLost (L + 5) within 03-01…03-10: E (03-04) and B (03-07), not A (03-14).
    let body = json!({"startDate": "2024-03-01", "stopDate": "2024-03-10", "daysUntilDeclaredLost": 5,
                      "dateReportedLost": "dateDeclaredLost"});
    let (_, text) = report(&app, &churn_path("days"), &body).await;
    assert_eq!(text, result(histogram(&DAY_LABELS, &[("1", 1), ("2", 1)])));
    // With the default N = 40 nobody is lost yet: all buckets, all zero.
    let (status, text) =
        report(&app, &churn_path("runtime"), &json!({"startDate": "2024-02-01", "stopDate": "2024-03-20"})).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(text, result(histogram(&RUNTIME_LABELS, &[])));

    // Segmented by lifetime sessions: labelled ranges, an explicit value nobody has (zero-filled),
    // then split values in code-point order. Every key lists every bucket.
    let body = json!({"startDate": "2024-02-01", "stopDate": "2024-03-20", "daysUntilDeclaredLost": 5,
        "segmentBy": "lifetimeSessionCount",
        "segments": [{"type": "numberRange", "min": 0, "max": 2, "segmentLabel": "few"},
                     {"type": "numberRange", "min": 3, "segmentLabel": "many"},
                     {"type": "number", "value": 7},
                     {"type": "regex", "value": ".*", "split": true}]});
    let (status, text) = report(&app, &churn_path("sessions"), &body).await;
    assert_eq!(status, 200, "{text}");
    let mut expected = Map::new();
    expected.insert("few".into(), histogram(&SESSION_LABELS, &[("≤ 1", 1), ("2", 1)]));
    expected.insert("many".into(), histogram(&SESSION_LABELS, &[("4 - 5", 1)]));
    expected.insert("7".into(), histogram(&SESSION_LABELS, &[]));
    expected.insert("1".into(), histogram(&SESSION_LABELS, &[("≤ 1", 1)]));
    expected.insert("2".into(), histogram(&SESSION_LABELS, &[("2", 1)]));
    expected.insert("5".into(), histogram(&SESSION_LABELS, &[("4 - 5", 1)]));
    assert_eq!(text, result(Value::Object(expected)));
}

#[tokio::test]
async fn segmented_answers_over_the_result_limits_are_413() {
    let mut config = usagi_server::ServerConfig::default();
    config.limits.max_keys_per_level = 2;
    config.limits.max_numbers_per_response = 30;
    let app = TestApp::spawn_with(Setup { config: Some(config), ..Default::default() }).await;
    cohort_fleet(&app).await;
    app.login().await;
    let split = json!([{"type": "regex", "value": ".*", "split": true}]);
    // Three lost installations with 1, 2 and 5 sessions: three split keys.
    let body = json!({"startDate": "2024-02-01", "stopDate": "2024-03-20", "daysUntilDeclaredLost": 5,
                      "segmentBy": "lifetimeSessionCount", "segments": split});
    let (status, text) = report(&app, &churn_path("sessions"), &body).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("TOO LARGE"), "{text}");
    // Two keys of 14 buckets: 28 numbers fit. E alone has 28 complete daily periods of four
    // numbers each: too many.
    let body = json!({"startDate": "2024-02-01", "stopDate": "2024-03-20", "daysUntilDeclaredLost": 5,
                      "segmentBy": "lifetimeSessionCount",
                      "segments": [{"type": "numberRange", "max": 2, "segmentLabel": "few"},
                                   {"type": "numberRange", "min": 3, "segmentLabel": "many"}]});
    assert_eq!(report(&app, &churn_path("days"), &body).await.0, 200);
    let body = json!({"startDate": "2024-02-01", "stopDate": "2024-03-31", "dateSplit": "day", "periods": 100});
    let (status, text) = report(&app, &cohort_path(), &body).await;
    assert_eq!(status, 413, "{text}");
}

#[tokio::test]
async fn engagement_requests_are_validated_naming_the_field() {
    let app = TestApp::spawn().await;
    app.login().await;
    let range = json!({"startDate": "2024-03-01", "stopDate": "2024-03-07"});
    let with = |base: &Value, k: &str, v: Value| {
        let mut b = base.clone();
        if v.is_null() {
            b.as_object_mut().unwrap().remove(k);
        } else {
            b[k] = v;
        }
        b
    };
    let cohort = with(&range, "dateSplit", json!("week"));
    let split = json!([{"type": "regex", "value": ".*", "split": true}]);
    let cases: Vec<(String, Value, &str)> = vec![
        (usage_path(), with(&range, "startDate", Value::Null), "field 'startDate' is required"),
        (usage_path(), with(&range, "stopDate", json!("2024-02-30")), "stopDate"),
        (usage_path(), with(&range, "startDate", json!("NOW+1")), "startDate"),
        (usage_path(), with(&range, "startDate", json!("2024-03-08")), "must not be after stopDate"),
        (usage_path(), with(&range, "startDate", json!("2020-01-01")), "oldest allowed startDate is 2021-03-21"),
        (usage_path(), with(&range, "dateSplit", json!("day")), "unknown field 'dateSplit'"),
        (usage_path(), with(&range, "segmentBy", json!("prodVersion")), "unknown field 'segmentBy'"),
        (
            usage_path(),
            with(&range, "globalFilters", json!({"prodVersion": {"type": "strng", "value": "1"}})),
            "globalFilters.prodVersion.type",
        ),
        (usage_path(), with(&range, "productId", json!("1234567890")), "productId"),
        (cohort_path(), range.clone(), "field 'dateSplit' is required"),
        (cohort_path(), with(&range, "dateSplit", json!("year")), "field 'dateSplit' must be one of: day, week, month"),
        (cohort_path(), with(&cohort, "periods", json!(0)), "field 'periods' must be an integer from 1 to 100"),
        (cohort_path(), with(&cohort, "periods", json!(101)), "field 'periods' must be an integer from 1 to 100"),
        (cohort_path(), with(&cohort, "periods", json!("12")), "field 'periods' must be an integer"),
        (cohort_path(), with(&cohort, "daysUntilDeclaredLost", json!(366)), "daysUntilDeclaredLost"),
        (cohort_path(), with(&cohort, "dateReportedLost", json!("dateLastSeen")), "unknown field 'dateReportedLost'"),
        (
            cohort_path(),
            with(&cohort, "segmentBy", json!("installationMonth")),
            "field 'segmentBy' needs 'segments' as well",
        ),
        (cohort_path(), with(&cohort, "segments", split.clone()), "field 'segments' needs 'segmentBy' as well"),
        (
            cohort_path(),
            with(
                &with(&cohort, "segmentBy", json!("prodVersion")),
                "segments",
                json!([{"type": "regex", "value": ".*"}]),
            ),
            "field 'segments[0].segmentLabel' is required",
        ),
        (
            cohort_path(),
            with(&with(&cohort, "dateSplit", json!("day")), "stopDate", json!("2027-12-31")),
            "at most 1100 are allowed with dateSplit 'day'",
        ),
        (churn_path("days"), with(&range, "periods", json!(3)), "unknown field 'periods'"),
        (
            churn_path("sessions"),
            with(&range, "dateReportedLost", json!("never")),
            "field 'dateReportedLost' must be one of: dateLastSeen, dateDeclaredLost",
        ),
        (
            churn_path("runtime"),
            with(&range, "daysUntilDeclaredLost", json!(0)),
            "field 'daysUntilDeclaredLost' must be an integer from 1 to 365",
        ),
        (
            churn_path("days"),
            with(&with(&range, "segmentBy", json!("installationMonth")), "segments", split.clone()),
            "field 'segmentBy' is accepted only by churnAndEngagement",
        ),
        (churn_path("days"), with(&range, "stopDate", Value::Null), "field 'stopDate' is required"),
    ];
    for (path, body, needle) in cases {
        let (status, text) = report(&app, &path, &body).await;
        assert_eq!(status, 400, "{path} {body} → {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["status"], "SYNTAX ERROR");
        assert!(
            v["reason"].as_str().unwrap().contains(needle),
            "{path} {body}: reason {:?} lacks {needle:?}",
            v["reason"]
        );
    }
    // Valid requests with every optional field; null optional fields are defaults.
    let ok = json!({"startDate": "NOW-30", "stopDate": "NOW", "dateSplit": "month", "periods": 100,
                    "daysUntilDeclaredLost": 365, "globalFilters": {}, "segmentBy": "installationMonth",
                    "segments": split, "user": "someone"});
    assert_eq!(report(&app, &cohort_path(), &ok).await.0, 200);
    let ok = json!({"startDate": "NOW-30", "stopDate": "NOW", "dateReportedLost": null, "daysUntilDeclaredLost": null});
    for m in ["days", "sessions", "runtime"] {
        assert_eq!(report(&app, &churn_path(m), &ok).await.0, 200);
    }
    // Unknown metric: no route. Unknown product: 404.
    let (status, text) = report(&app, &churn_path("weeks"), &range).await;
    assert_eq!(status, 404, "{text}");
    let (status, _) = report(&app, "/v3/reporting/engagement/usageDistribution/1234567890", &range).await;
    assert_eq!(status, 404);
}

// ---------------------------------------------------------------------------------------
// Property test: usageDistribution against a naive reference (semantics §4, §8, §9.2).

/// One generated session: day offset, start minute, length in minutes, implicit (when it
/// does not overlap the previous implicit one) or explicit, and crashed (no stop: it ends at
/// its last record, a heartbeat at the end).
type GenSession = (u32, u32, u32, bool, bool);

const MINUTE: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

fn day0() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 2, 1).unwrap()
}

fn day_of(t: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_millis(t).unwrap().date_naive()
}

fn midnight(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis()
}

/// What the reference knows of one installation: its sessions `[start, end)` and its active days.
struct Installation {
    sessions: Vec<(i64, i64)>,
    days: BTreeSet<NaiveDate>,
}

/// Builds one installation's records (one sync) and its reference quantities.
fn installation(index: usize, sessions: &[GenSession]) -> (Vec<Value>, i64, Installation) {
    let mut sessions: Vec<(i64, i64, bool, bool)> = sessions
        .iter()
        .map(|&(day, minute, len, implicit, crashed)| {
            let start = midnight(day0()) + i64::from(day) * DAY_MS + i64::from(minute) * MINUTE;
            (start, start + i64::from(len) * MINUTE, implicit, crashed)
        })
        .collect();
    sessions.sort();
    let mut records = Vec::new();
    let mut implicit_end: Option<i64> = None;
    let mut out = Installation { sessions: Vec::new(), days: BTreeSet::new() };
    for (i, &(start, end, implicit, crashed)) in sessions.iter().enumerate() {
        // Implicit sessions never overlap (a new start would close the previous one).
        let implicit = implicit && implicit_end.is_none_or(|e| start > e);
        let id = (!implicit).then(|| format!("sess-{index:02}-{i:04}"));
        if implicit {
            implicit_end = Some(end);
        }
        let mark = |kind: &str, t: i64| {
            let mut r = json!({"kind": kind, "t": t});
            if let Some(id) = &id {
                r["sessionId"] = json!(id);
            }
            r
        };
        records.push(mark("sessionStart", start));
        out.days.insert(day_of(start));
        if crashed {
            if end > start {
                records.push(mark("heartbeat", end));
                out.days.insert(day_of(end));
            }
        } else {
            records.push(mark("sessionStop", end));
            out.days.insert(day_of(end));
        }
        // Days covered by [start, end).
        let mut d = day_of(start);
        while midnight(d) < end {
            out.days.insert(d);
            d += Duration::days(1);
        }
        out.sessions.push((start, end));
    }
    let received = sessions.iter().map(|s| s.1).max().unwrap() + MINUTE;
    out.days.insert(day_of(received));
    (records, received, out)
}

/// Bucket index by inclusive upper bounds (the last bucket is open).
fn bucket(value: i64, upper: &[i64]) -> usize {
    upper.iter().position(|u| value <= *u).unwrap_or(upper.len())
}

const DAY_UPPER: [i64; 13] = [1, 2, 3, 4, 5, 6, 7, 14, 30, 60, 90, 180, 365];
const DAY_LOWER: [i64; 14] = [1, 2, 3, 4, 5, 6, 7, 8, 15, 31, 61, 91, 181, 366];
const SESSION_UPPER: [i64; 8] = [1, 2, 3, 5, 8, 12, 20, 50];
const RUNTIME_UPPER: [i64; 9] = [5, 15, 30, 60, 120, 300, 600, 1200, 3000];

/// The expected usageDistribution answer.
fn naive_usage(fleet: &[Installation], start: NaiveDate, stop: NaiveDate) -> Value {
    let (from, to) = (midnight(start), midnight(stop) + DAY_MS);
    let mut cube: Vec<[usize; 3]> = Vec::new();
    for inst in fleet {
        let days = inst.days.iter().filter(|d| **d >= start && **d <= stop).count() as i64;
        if days == 0 {
            continue;
        }
        let sessions = inst.sessions.iter().filter(|s| s.0 >= from && s.0 < to).count() as i64;
        let overlap: i64 = inst.sessions.iter().map(|s| (s.1.min(to) - s.0.max(from)).max(0)).sum();
        cube.push([
            bucket(days, &DAY_UPPER),
            bucket(sessions, &SESSION_UPPER),
            bucket(overlap / MINUTE, &RUNTIME_UPPER),
        ]);
    }
    let range_days = (stop - start).num_days() + 1;
    let labels: [Vec<&str>; 3] = [DAY_LABELS.to_vec(), SESSION_LABELS.to_vec(), RUNTIME_LABELS.to_vec()];
    let names = ["activeDays", "sessions", "runtime"];
    let mut result = Map::new();
    for m in 0..3 {
        let mut hist = Map::new();
        for (b, label) in labels[m].iter().enumerate() {
            if m == 0 && DAY_LOWER[b] > range_days {
                continue;
            }
            let mut entry = Map::new();
            entry.insert("users".into(), json!(cube.iter().filter(|c| c[m] == b).count()));
            for o in (0..3).filter(|o| *o != m) {
                let mut cross = Map::new();
                for (ob, ol) in labels[o].iter().enumerate() {
                    let n = cube.iter().filter(|c| c[m] == b && c[o] == ob).count();
                    if n > 0 {
                        cross.insert(ol.to_string(), json!(n));
                    }
                }
                entry.insert(names[o].into(), Value::Object(cross));
            }
            hist.insert(label.to_string(), Value::Object(entry));
        }
        result.insert(names[m].into(), Value::Object(hist));
    }
    json!({ "result": result })
}

fn gen_session() -> impl Strategy<Value = GenSession> {
    // Up to 15 h, so sessions often span midnight; some start right at midnight or last 0 min.
    (0u32..40, prop_oneof![Just(0u32), 0u32..1440], prop_oneof![Just(0u32), 0u32..900], any::<bool>(), any::<bool>())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, .. ProptestConfig::default() })]

    /// Random fleets of implicit, explicit, crashed and midnight-spanning sessions; eight
    /// random ranges each, compared with the naive reference.
    #[test]
    fn usage_distribution_matches_naive_reference(
        fleet in proptest::collection::vec(proptest::collection::vec(gen_session(), 1..7), 1..6),
        ranges in proptest::collection::vec((0i64..45, 1i64..30), 8),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let app = TestApp::spawn().await;
            let mut reference = Vec::new();
            let mut syncs = Vec::new();
            for (i, sessions) in fleet.iter().enumerate() {
                let (records, received, inst) = installation(i, sessions);
                syncs.push((received, format!("{:016X}", i + 1), records));
                reference.push(inst);
            }
            syncs.sort_by_key(|s| s.0);
            for (received, client, records) in syncs {
                app.sync_at(DateTime::<Utc>::from_timestamp_millis(received).unwrap(), &client, records).await;
            }
            app.settle().await;
            app.set_now(at(2024, 3, 20, 12, 0, 0));
            app.login().await;
            for (offset, len) in &ranges {
                let start = day0() + Duration::days(*offset);
                let stop = start + Duration::days(len - 1);
                let body = json!({"startDate": start.to_string(), "stopDate": stop.to_string()});
                let (status, text) = report(&app, &usage_path(), &body).await;
                assert_eq!(status, 200, "{text}");
                let got: Value = serde_json::from_str(&text).unwrap();
                // Compared as text so that member order counts too.
                let expected = naive_usage(&reference, start, stop);
                assert_eq!(got.to_string(), expected.to_string(), "request {body}, fleet {fleet:?}");
            }
        });
    }
}

#[test]
fn naive_reference_reproduces_example_3() {
    // The reference itself, on Example 3's sessions (as explicit sessions), gives the spec's JSON.
    let t = |d: u32, h: u32, m: u32| ms(2024, 3, d, h, m);
    let p = Installation {
        sessions: vec![(t(1, 9, 0), t(1, 9, 30)), (t(2, 10, 0), t(2, 10, 20)), (t(3, 8, 0), t(3, 8, 5))],
        days: [1, 2, 3].iter().map(|d| NaiveDate::from_ymd_opt(2024, 3, *d).unwrap()).collect(),
    };
    let q = Installation {
        sessions: vec![(t(4, 22, 0), t(5, 2, 0))],
        days: [4, 5].iter().map(|d| NaiveDate::from_ymd_opt(2024, 3, *d).unwrap()).collect(),
    };
    let start = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
    let got = naive_usage(&[p, q], start, start + Duration::days(6));
    assert_eq!(ascii(&got.to_string()), ascii(EXAMPLE3_USAGE));
}
