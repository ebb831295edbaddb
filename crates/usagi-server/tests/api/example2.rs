//! Worked Example 2 of semantics.md through the API: Queries A, B, C and D with the exact
//! JSON of the spec (compacted text, so member order counts), and clientPropertyList paging,
//! types, groups and errors.

use serde_json::{json, Value};

use crate::helpers::*;

const X: &str = "00000000000000A1";
const Y: &str = "00000000000000B2";

/// X active every day 03-01…03-07 (version 1.0, then 2.0 and 2.1 on 03-05); Y active on
/// 03-02 and 03-06 with edition Home and a NULL version.
async fn example2(app: &TestApp) {
    let product = |v: &str, t| {
        json!({"kind": "properties", "t": t,
               "product": {"edition": "Pro", "language": "en", "version": v, "build": "100"}})
    };
    let mut syncs: Vec<(u32, &str, Vec<Value>)> = Vec::new();
    for day in 1..=7u32 {
        let mut records = vec![json!({"kind": "event", "t": ms(2024, 3, day, 12, 0), "name": "Tick"})];
        match day {
            1 => records.push(product("1.0", ms(2024, 3, 1, 8, 0))),
            5 => {
                records.push(product("2.0", ms(2024, 3, 5, 10, 0)));
                records.push(product("2.1", ms(2024, 3, 5, 18, 0)));
            }
            _ => {}
        }
        syncs.push((day, X, records));
    }
    syncs.push((
        2,
        Y,
        vec![
            json!({"kind": "event", "t": ms(2024, 3, 2, 12, 0), "name": "Tick"}),
            json!({"kind": "properties", "t": ms(2024, 3, 2, 9, 0), "product": {"edition": "Home", "version": null}}),
        ],
    ));
    syncs.push((6, Y, vec![json!({"kind": "event", "t": ms(2024, 3, 6, 12, 0), "name": "Tick"})]));
    syncs.sort_by_key(|s| s.0);
    for (day, client, records) in syncs {
        app.sync_at(at(2024, 3, day, 20, 0, 0), client, records).await;
    }
    app.settle().await;
    app.set_now(at(2024, 3, 20, 12, 0, 0));
}

fn query(split: Value, extra: Value) -> Value {
    let mut q = json!({"startDate": "2024-03-01", "stopDate": "2024-03-07", "dateSplit": split,
                       "clientStatus": ["active"]});
    for (k, v) in extra.as_object().expect("object") {
        q[k] = v.clone();
    }
    q
}

fn split_levels() -> Value {
    json!({"levels": {"level1": {"property": "prodVersion", "segments": [{"type": "regex", "value": ".*", "split": true}]}}})
}

#[tokio::test]
async fn example_2_queries_a_b_c() {
    let app = TestApp::spawn().await;
    example2(&app).await;
    app.login().await;

    // Query A: one key per end-of-day value; 2.0 never appears; <NULL> sorts after 1.0 and 2.1.
    let (status, body) = app.date_range(&query(json!("day"), split_levels())).await;
    assert_eq!(status, 200, "Query A answers 200: {body}");
    assert_eq!(
        body,
        compact(
            r#"{"result":{
             "2024-03-01":{"level1":{"1.0":{"totals":{"active":1}}}},
             "2024-03-02":{"level1":{"1.0":{"totals":{"active":1}},"<NULL>":{"totals":{"active":1}}}},
             "2024-03-03":{"level1":{"1.0":{"totals":{"active":1}}}},
             "2024-03-04":{"level1":{"1.0":{"totals":{"active":1}}}},
             "2024-03-05":{"level1":{"2.1":{"totals":{"active":1}}}},
             "2024-03-06":{"level1":{"2.1":{"totals":{"active":1}},"<NULL>":{"totals":{"active":1}}}},
             "2024-03-07":{"level1":{"2.1":{"totals":{"active":1}}}}}}"#
        ),
        "Query A as in semantics.md Example 2"
    );

    // Query B: no split; X is judged by its value at the end of the range.
    let (status, body) = app.date_range(&query(Value::Null, split_levels())).await;
    assert_eq!(status, 200, "Query B answers 200: {body}");
    assert_eq!(
        body, r#"{"result":{"level1":{"2.1":{"totals":{"active":1}},"<NULL>":{"totals":{"active":1}}}}}"#,
        "Query B as in semantics.md Example 2"
    );

    // Query C: a filter on the end-of-range value matches nobody …
    let filter = json!({"globalFilters": {"prodVersion": {"type": "string", "value": "1.0"}}});
    let (status, body) = app.date_range(&query(Value::Null, filter.clone())).await;
    assert_eq!(status, 200, "Query C answers 200: {body}");
    assert_eq!(body, r#"{"result":{"totals":{"active":0}}}"#, "Query C as in semantics.md Example 2");

    // … and, split by day, matches X on 03-01…03-04 only.
    let (status, body) = app.date_range(&query(json!("day"), filter)).await;
    assert_eq!(status, 200, "Query C by day answers 200: {body}");
    assert_eq!(
        body,
        compact(
            r#"{"result":{"2024-03-01":{"active":1},"2024-03-02":{"active":1},"2024-03-03":{"active":1},
               "2024-03-04":{"active":1},"2024-03-05":{"active":0},"2024-03-06":{"active":0},
               "2024-03-07":{"active":0}}}"#
        ),
        "Query C by day as in semantics.md Example 2"
    );
}

async fn client_list(app: &TestApp, body: Value) -> (u16, String) {
    let resp = app.post_json(&format!("/v3/reporting/clientPropertyList/{PRODUCT}"), &body).await;
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

#[tokio::test]
async fn example_2_query_d_client_property_list() {
    let app = TestApp::spawn().await;
    example2(&app).await;
    app.login().await;
    let (status, body) = client_list(
        &app,
        json!({"startAtClientId": null, "properties": ["prodVersion", "prodEdition"],
               "retDailyData": {"startDate": "2024-03-04", "stopDate": "2024-03-06", "properties": ["prodVersion"]}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        compact(
            r#"{"result":[{"clientId":"00000000000000A1","prodVersion":"2.1","prodEdition":"Pro",
            "dailyData":[{"date":"2024-03-04","prodVersion":"1.0"},{"date":"2024-03-05","prodVersion":"2.1"},
                         {"date":"2024-03-06","prodVersion":"2.1"}]},
           {"clientId":"00000000000000B2","prodVersion":"<NULL>","prodEdition":"Home",
            "dailyData":[{"date":"2024-03-06","prodVersion":"<NULL>"}]}],
 "reachedEnd":true}"#
        )
    );

    // Paging (inclusive cursor, case-insensitive), groups, types, lifetime event usage.
    let (_, body) =
        client_list(&app, json!({"pageSize": 1, "properties": ["clientId", "licenseStatus", "dateInstalled"]})).await;
    assert_eq!(
        body,
        compact(
            r#"{"result":[{"clientId":"00000000000000A1","licenseStatus.activated":false,"licenseStatus.expired":false,
              "licenseStatus.blocked":false,"licenseStatus.allowed":false,"dateInstalled":"2024-03-01"}],
              "reachedEnd":false,"nextClientId":"00000000000000B2"}"#
        )
    );
    let (_, body) = client_list(
        &app,
        json!({"startAtClientId": "00000000000000b2", "properties": ["lifetimeEventUsage", "lifetimeSessionCount",
               "optOut", "reachOutDeliveries.auto", "ram", "appName"], "retDailyData": {"startDate": "2024-03-01", "stopDate": "2024-03-03"}}),
    )
    .await;
    assert_eq!(
        body,
        compact(
            r#"{"result":[{"clientId":"00000000000000B2",
              "lifetimeEventUsage":[{"eventCategory":null,"eventName":"Tick","eventCount":2}],"lifetimeSessionCount":0,
              "optOut.historical":false,"optOut.current":false,"reachOutDeliveries.auto":[],"ram":"<NULL>","appName":"DemoApp",
              "dailyData":[{"date":"2024-03-02"}]}],"reachedEnd":true}"#
        )
    );
    // Filters: standard properties as of today.
    let (_, body) =
        client_list(&app, json!({"globalFilters": {"prodVersion": {"type": "string", "value": "2.1"}}})).await;
    assert_eq!(body, r#"{"result":[{"clientId":"00000000000000A1"}],"reachedEnd":true}"#);
    let (_, body) =
        client_list(&app, json!({"globalFilters": {"prodVersion": {"type": "string", "value": "1.0"}}})).await;
    assert_eq!(body, r#"{"result":[],"reachedEnd":true}"#, "1.0 is not X's value today");

    for (body, needle) in [
        (json!({"startAtClientId": "XYZ"}), "startAtClientId"),
        (json!({"properties": ["nope"]}), "properties[0]"),
        (
            json!({"retDailyData": {"startDate": "2024-03-01", "stopDate": "2024-03-03", "properties": ["ram"]}}),
            "retDailyData.properties[0]",
        ),
        (json!({"retDailyData": {"startDate": "2023-01-01", "stopDate": "2024-03-03"}}), "retDailyData"),
        (json!({"pageSize": 201}), "pageSize"),
        (
            json!({"retDailyData": {"startDate": "2024-03-01", "stopDate": "2024-03-03"},
                "reqDailyData": {"startDate": "2024-03-01", "stopDate": "2024-03-03"}}),
            "reqDailyData",
        ),
        (json!({"propertys": []}), "propertys"),
    ] {
        let (status, text) = client_list(&app, body.clone()).await;
        assert_eq!(status, 400, "{body} → {text}");
        assert!(text.contains(needle), "{body}: {text} lacks {needle}");
    }
    let (status, _) = client_list(&app, json!({"properties": ["licenseKey"]})).await;
    assert_eq!(status, 403);
}
