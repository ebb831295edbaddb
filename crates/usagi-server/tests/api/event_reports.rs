//! Basic event reports (reporting-api §11.1, §11.2) on semantics.md Example 3's data.

use serde_json::{json, Value};

use crate::helpers::*;

const P: &str = "1111111111111111";
const Q: &str = "2222222222222222";

fn open(t: i64) -> Value {
    json!({"kind": "event", "t": t, "category": "File Operations", "name": "Open"})
}

/// Example 3: P's three implicit sessions (one crash-closed), Q's explicit session over midnight.
pub async fn example_3(app: &TestApp) {
    let start = |t| json!({"kind": "sessionStart", "t": t});
    let stop = |t| json!({"kind": "sessionStop", "t": t});
    app.sync_at(
        at(2024, 3, 1, 9, 31, 0),
        P,
        vec![start(ms(2024, 3, 1, 9, 0)), open(ms(2024, 3, 1, 9, 10)), stop(ms(2024, 3, 1, 9, 30))],
    )
    .await;
    app.sync_at(
        at(2024, 3, 2, 10, 21, 0),
        P,
        vec![start(ms(2024, 3, 2, 10, 0)), open(ms(2024, 3, 2, 10, 5)), open(ms(2024, 3, 2, 10, 20))],
    )
    .await;
    app.sync_at(at(2024, 3, 3, 8, 6, 0), P, vec![start(ms(2024, 3, 3, 8, 0)), stop(ms(2024, 3, 3, 8, 5))]).await;
    let sid = |mut v: Value| {
        v["sessionId"] = json!("session-0001");
        v
    };
    app.sync_at(
        at(2024, 3, 4, 23, 30, 0),
        Q,
        vec![sid(start(ms(2024, 3, 4, 22, 0))), sid(open(ms(2024, 3, 4, 23, 0)))],
    )
    .await;
    let save = |t| sid(json!({"kind": "event", "t": t, "category": "File Operations", "name": "Save", "value": 2.5}));
    app.sync_at(
        at(2024, 3, 5, 2, 30, 0),
        Q,
        vec![save(ms(2024, 3, 5, 1, 0)), save(ms(2024, 3, 5, 1, 0)), sid(stop(ms(2024, 3, 5, 2, 0)))],
    )
    .await;
    app.settle().await;
    // Example 3 is read on 2024-03-20 (sync_at moved the clock along with the syncs).
    app.set_now(at(2024, 3, 20, 12, 0, 0));
    app.login().await;
    let resp = app
        .client
        .put(format!("{}/v3/event-tracking/{PRODUCT}", app.base))
        .headers(TestApp::origin_headers())
        .json(&json!({"events": [
            {"category": "File Operations", "name": "Open", "basic": true, "advanced": true},
            {"category": "File Operations", "name": "Save", "basic": true, "advanced": true}]}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
}

async fn report(app: &TestApp, path: &str, body: Value) -> (u16, String) {
    let resp = app.post_json(&format!("/v3/reporting/eventTracking/basic/{path}/{PRODUCT}"), &body).await;
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

fn timeline_body(divisor: Value, view: &str) -> Value {
    json!({"startDate": "2024-03-01", "stopDate": "2024-03-07", "dateSplit": "day", "dataView": view,
           "divisor": divisor, "events": [{"category": "File Operations", "name": "Open"}]})
}

fn values(text: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(text).expect("json");
    v["result"].as_object().expect("periods").values().map(|entries| entries[0]["value"].clone()).collect()
}

#[tokio::test]
async fn example_3_basic_timeline_every_divisor() {
    let app = TestApp::spawn().await;
    example_3(&app).await;
    // semantics.md Example 3: Open per active user, per day.
    let (status, text) = report(&app, "timeline", timeline_body(json!("users"), "usageCount")).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.starts_with(
            r#"{"result":{"2024-03-01":[{"category":"File Operations","name":"Open","value":1.0}],"2024-03-02":"#
        ),
        "{text}"
    );
    assert_eq!(values(&text), [json!(1.0), json!(2.0), json!(0.0), json!(1.0), json!(0.0), json!(0.0), json!(0.0)]);
    // Runtime: 03-04 has 120 minutes of Q's session → 1 / 2.0 h.
    let (_, text) = report(&app, "timeline", timeline_body(json!("runtime"), "usageCount")).await;
    assert_eq!(values(&text)[3], json!(0.5));
    // P's 03-01 session: 30 min → 1 / 0.5 h; 03-02: the crash-closed session, 20 min → 2 / (1/3) h.
    assert_eq!(values(&text)[0], json!(2.0));
    assert_eq!(values(&text)[1], json!(6.0));
    // No divisor: integers.
    let (_, text) = report(&app, "timeline", timeline_body(Value::Null, "usageCount")).await;
    assert_eq!(values(&text), [json!(1), json!(2), json!(0), json!(1), json!(0), json!(0), json!(0)]);
    // Sessions started that day.
    let (_, text) = report(&app, "timeline", timeline_body(json!("sessions"), "usageCount")).await;
    assert_eq!(values(&text), [json!(1.0), json!(2.0), json!(0.0), json!(1.0), json!(0.0), json!(0.0), json!(0.0)]);

    // Custom values of Save (2 × 2.5 on 03-05), also per occurrence; a combination echoes its label.
    let body = json!({"startDate": "2024-03-04", "stopDate": "2024-03-05", "dateSplit": "day", "dataView": "customValues",
        "divisor": "usageCounts", "events": [
            {"category": "File Operations", "name": "Save"},
            {"combiLabel": "File ops", "combiArray": [{"category": "File Operations", "name": ".*", "nameType": "regex"}]}]});
    let (status, text) = report(&app, "timeline", body).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        compact(&text),
        compact(
            r#"{"result":{"2024-03-04":[{"category":"File Operations","name":"Save","value":0.0},{"combiLabel":"File ops","value":0.0}],
                          "2024-03-05":[{"category":"File Operations","name":"Save","value":2.5},{"combiLabel":"File ops","value":2.5}]}}"#
        )
    );
    // Weekly split: every period present, keyed by the Monday.
    let body = json!({"startDate": "2024-03-01", "stopDate": "2024-03-07", "dateSplit": "week",
        "events": [{"category": "File Operations", "name": "Open"}, {"category": null, "name": "Never seen"}]});
    let (_, text) = report(&app, "timeline", body).await;
    assert_eq!(
        compact(&text),
        compact(
            r#"{"result":{"2024-02-26":[{"category":"File Operations","name":"Open","value":3},{"category":null,"name":"Never seen","value":0}],
                          "2024-03-04":[{"category":"File Operations","name":"Open","value":1},{"category":null,"name":"Never seen","value":0}]}}"#
        )
    );
}

#[tokio::test]
async fn basic_data_table_and_tier_gating() {
    let app = TestApp::spawn().await;
    example_3(&app).await;
    // |U| = 2 installations, |S| = 4 sessions; Open 4 times, Save twice with 2.5 each.
    let (status, text) = report(&app, "dataTable", json!({"startDate": "2024-03-01", "stopDate": "2024-03-07"})).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        compact(&text),
        compact(
            r#"{"result":[{"category":"File Operations",
                "categoryUsageSummary":{"cumulativeUsageCount":6,"averageCountPerUser":3.0,"averageCountPerSession":1.5},
                "categoryCustomValuesSummary":{"cumulativeCustomValues":5.0,"averageCustomValuesPerUser":2.5,"averageCustomValuesPerSession":1.25},
                "categoryEventsData":{
                  "Open":{"eventUsage":{"cumulativeUsageCount":4,"averageCountPerUser":2.0,"averageCountPerSession":1.0},
                          "eventCustomValues":{"cumulativeCustomValues":0.0,"averageCustomValuesPerUser":0.0,"averageCustomValuesPerSession":0.0}},
                  "Save":{"eventUsage":{"cumulativeUsageCount":2,"averageCountPerUser":1.0,"averageCountPerSession":0.5},
                          "eventCustomValues":{"cumulativeCustomValues":5.0,"averageCustomValuesPerUser":2.5,"averageCustomValuesPerSession":1.25}}}}]}"#
        )
    );
    // Filters apply per installation: only Q.
    let body = json!({"startDate": "2024-03-01", "stopDate": "2024-03-07",
                      "globalFilters": {"clientId": {"type": "string", "value": Q}}});
    let (_, text) = report(&app, "dataTable", body).await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["result"][0]["categoryUsageSummary"]["cumulativeUsageCount"], 3);
    assert_eq!(v["result"][0]["categoryUsageSummary"]["averageCountPerSession"], 3.0);

    // Switching Save off for basic reports removes it from both reports.
    let resp = app
        .client
        .put(format!("{}/v3/event-tracking/{PRODUCT}", app.base))
        .headers(TestApp::origin_headers())
        .json(&json!({"events": [{"category": "File Operations", "name": "Save", "basic": false, "advanced": false}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (_, text) = report(&app, "dataTable", json!({"startDate": "2024-03-01", "stopDate": "2024-03-07"})).await;
    assert!(!text.contains("Save"), "{text}");
    let body = json!({"startDate": "2024-03-05", "stopDate": "2024-03-05", "dateSplit": "day",
                      "events": [{"category": "File Operations", "name": "Save"}]});
    let (_, text) = report(&app, "timeline", body).await;
    assert_eq!(values(&text), [json!(0)], "a disabled event contributes nothing");
}

#[tokio::test]
async fn basic_event_reports_reject_bad_requests_naming_the_field() {
    let app = TestApp::spawn().await;
    app.login().await;
    let base = json!({"startDate": "2024-03-01", "stopDate": "2024-03-07", "dateSplit": "day",
                      "events": [{"category": "File Operations", "name": "Open"}]});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, needle) in [
        (with("divisor", json!("usageCounts")), "divisor"),
        (with("dataView", json!("counts")), "dataView"),
        (with("dateSplit", json!(null)), "dateSplit"),
        (with("events", json!([])), "events"),
        (with("events", json!([{"name": "Open"}])), "events[0].category"),
        (with("events", json!([{"category": null, "name": "Open", "nameType": "regex"}])), "events[0].nameType"),
        (with("events", json!([{"combiLabel": "x", "combiArray": []}])), "events[0].combiArray"),
        (
            with(
                "events",
                json!([{"combiLabel": "x", "combiArray": [{"category": "a", "name": "(", "nameType": "regex"}]}]),
            ),
            "events[0].combiArray[0].name",
        ),
        (
            with(
                "events",
                json!([{"combiLabel": "x", "combiArray": [{"category": null, "name": "a"}]},
                                   {"combiLabel": "x", "combiArray": [{"category": null, "name": "b"}]}]),
            ),
            "events[1].combiLabel",
        ),
        (with("startDate", json!("2024-03-08")), "startDate"),
        (with("globalFilters", json!({"nope": {"type": "string", "value": "1"}})), "globalFilters.nope"),
        (with("extra", json!(1)), "extra"),
    ] {
        let (status, text) = report(&app, "timeline", body.clone()).await;
        assert_eq!(status, 400, "{body} → {text}");
        assert!(text.contains(needle), "{body}: {text} lacks {needle}");
    }
    let (status, text) = report(&app, "dataTable", json!({"startDate": "2024-03-01"})).await;
    assert_eq!(status, 400);
    assert!(text.contains("stopDate"), "{text}");
}

async fn full_report(app: &TestApp, body: Value) -> (u16, String) {
    let resp = app.post_json(&format!("/v3/reporting/eventTracking/advanced/fullReport/{PRODUCT}"), &body).await;
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

#[tokio::test]
async fn example_3_full_report() {
    let app = TestApp::spawn().await;
    example_3(&app).await;
    // semantics.md Example 3, exactly: |U| = 2, |S| = 4.
    let (status, text) =
        full_report(&app, json!({"startDate": "2024-03-01", "stopDate": "2024-03-07", "sort": "alpha"})).await;
    assert_eq!(status, 200, "{text}");
    let expected = r#"{"result":[
 {"category":"File Operations","name":"Open","eventCounts":4,"uniqueUsersUsedAtLeastOnce":2,"uniqueUsersNeverUsed":0,
  "averageEventCountPerUserAtLeastOnce":2.0,"averageEventCountPerUserAll":2.0,
  "averageEventCountPerSessionUsedAtLeastOnce":1.0,"averageEventCountPerSessionAll":1.0,
  "usageFrequency":{"1":1,"2":0,"3":1,"4 - 5":0,"6 - 10":0,"11 - 20":0,"21 - 50":0,"51 - 100":0,"101 - 500":0,"\u2265 501":0}},
 {"category":"File Operations","name":"Save","eventCounts":2,"uniqueUsersUsedAtLeastOnce":1,"uniqueUsersNeverUsed":1,
  "averageEventCountPerUserAtLeastOnce":2.0,"averageEventCountPerUserAll":1.0,
  "averageEventCountPerSessionUsedAtLeastOnce":2.0,"averageEventCountPerSessionAll":0.5,
  "usageFrequency":{"1":0,"2":1,"3":0,"4 - 5":0,"6 - 10":0,"11 - 20":0,"21 - 50":0,"51 - 100":0,"101 - 500":0,"\u2265 501":0}}]}"#;
    assert_eq!(text, compact_ascii(expected));

    // eventCounts descending by default; a combination of both events counts each occurrence once.
    let body = json!({"startDate": "2024-03-01", "stopDate": "2024-03-07", "sort": "eventCounts", "events": [
        {"category": "File Operations", "name": "Save"},
        {"combiLabel": "Any file op", "combiArray": [
            {"category": "File Operations", "name": "Open"}, {"category": "File Operations", "name": ".*", "nameType": "regex"}]},
        {"category": "File Operations", "name": "Open"}]});
    let (_, text) = full_report(&app, body).await;
    let v: Value = serde_json::from_str(&text).unwrap();
    let order: Vec<(Value, Value)> =
        v["result"].as_array().unwrap().iter().map(|e| (e["combiLabel"].clone(), e["eventCounts"].clone())).collect();
    assert_eq!(
        order,
        vec![(json!("Any file op"), json!(6)), (Value::Null, json!(4)), (Value::Null, json!(2))],
        "combination: 4 Open + 2 Save; then Open, then Save"
    );
    assert_eq!(v["result"][0]["uniqueUsersUsedAtLeastOnce"], 2);
    assert_eq!(v["result"][0]["usageFrequency"]["3"], 2, "P used file ops 3 times, Q 3 times");

    // Segmented by client id: one array per segment; only Q has Save.
    let body = json!({"startDate": "2024-03-01", "stopDate": "2024-03-07", "segmentBy": "clientId",
        "segments": [{"type": "regex", "value": ".*", "split": true}], "events": [{"category": "File Operations", "name": "Save"}]});
    let (status, text) = full_report(&app, body).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&String> = v["result"].as_object().unwrap().keys().collect();
    assert_eq!(keys, [P, Q]);
    assert_eq!(v["result"][P][0]["eventCounts"], 0);
    assert_eq!(v["result"][P][0]["uniqueUsersNeverUsed"], 1);
    assert_eq!(v["result"][Q][0]["eventCounts"], 2);
    assert_eq!(v["result"][Q][0]["averageEventCountPerSessionAll"], 2.0);

    // Events no longer advanced disappear from the default list.
    let resp = app
        .client
        .put(format!("{}/v3/event-tracking/{PRODUCT}", app.base))
        .headers(TestApp::origin_headers())
        .json(&json!({"events": [{"category": "File Operations", "name": "Save", "basic": true, "advanced": false}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (_, text) = full_report(&app, json!({"startDate": "2024-03-01", "stopDate": "2024-03-07"})).await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["result"].as_array().unwrap().len(), 1);
    for (body, needle) in [
        (json!({"startDate": "2024-03-01", "stopDate": "2024-03-07", "sort": "name"}), "sort"),
        (json!({"startDate": "2024-03-01", "stopDate": "2024-03-07", "segmentBy": "prodVersion"}), "segmentBy"),
        (json!({"startDate": "2024-03-01", "stopDate": "2024-03-07", "sortDirection": "up"}), "sortDirection"),
        (
            json!({"startDate": "2024-03-01", "stopDate": "2024-03-07", "events": [{"combiArray": []}]}),
            "events[0].combiLabel",
        ),
    ] {
        let (status, text) = full_report(&app, body.clone()).await;
        assert_eq!(status, 400, "{body} → {text}");
        assert!(text.contains(needle), "{body}: {text}");
    }
}

/// Compacts a JSON text and writes it as the server does (pure ASCII).
fn compact_ascii(text: &str) -> String {
    let v: Value = serde_json::from_str(text).expect("valid JSON");
    usagi_types::to_ascii_json(&v)
}

async fn lifetime(app: &TestApp, path: &str, body: Value) -> (u16, String) {
    let resp = app.post_json(&format!("/v3/reporting/eventTracking/{path}/{PRODUCT}"), &body).await;
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

#[tokio::test]
async fn example_3_lifetime_and_churn_reports() {
    let app = TestApp::spawn().await;
    example_3(&app).await;
    let range = json!({"startDate": "2024-03-01", "stopDate": "2024-03-07"});
    let with = |extra: Value| {
        let mut b = range.clone();
        b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        b
    };
    // P: Open ×3 over 3 active days; Q: Open ×1 and Save ×2 over 2 active days.
    let open = r#"{"eventCategory":"File Operations","eventName":"Open","eventCount":4,"usersUsedAtLeastOnce":2,"usersNeverUsed":0,
        "eventCountPerUserUsedAtLeastOnce":2.0,"eventCountPerUserUsedAtLeastOnceActiveDay":0.8,"eventCountPerUserAll":2.0}"#;
    let save = r#"{"eventCategory":"File Operations","eventName":"Save","eventCount":2,"usersUsedAtLeastOnce":1,"usersNeverUsed":1,
        "eventCountPerUserUsedAtLeastOnce":2.0,"eventCountPerUserUsedAtLeastOnceActiveDay":1.0,"eventCountPerUserAll":1.0}"#;
    let (status, text) = lifetime(&app, "lifetime/dataTable", range.clone()).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(text, compact(&format!(r#"{{"result":[{open},{save}],"page":1,"pageSize":100,"totalCount":2}}"#)));
    let (_, text) = lifetime(&app, "lifetime/dataTable", with(json!({"pageSize": 1, "page": 2}))).await;
    assert_eq!(text, compact(&format!(r#"{{"result":[{save}],"page":2,"pageSize":1,"totalCount":2}}"#)));
    let (_, text) = lifetime(&app, "lifetime/dataTable", with(json!({"pageSize": 1, "page": 3}))).await;
    assert_eq!(text, r#"{"result":[],"page":3,"pageSize":1,"totalCount":2}"#);
    let (_, text) = lifetime(&app, "lifetime/dataTable", with(json!({"categorizeEvents": true}))).await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["totalCount"], 1);
    assert_eq!(v["result"][0]["eventCategory"], "File Operations");
    assert_eq!(v["result"][0]["categoryData"][0]["eventName"], "Open");
    assert!(v["result"][0]["categoryData"][0].get("eventCategory").is_none());
    // Segments: the element covers everyone, each segment its own units.
    let (_, text) = lifetime(
        &app,
        "lifetime/dataTable",
        with(json!({"segmentBy": "clientId", "segments": [{"type": "string", "value": P, "segmentLabel": "P"},
                                                          {"type": "string", "value": Q, "segmentLabel": "Q"}]})),
    )
    .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    let open_segments = &v["result"][0]["segments"];
    assert_eq!(open_segments[0]["segmentLabel"], "P");
    assert_eq!(open_segments[0]["eventCount"], 3);
    assert_eq!(open_segments[0]["eventCountPerUserUsedAtLeastOnceActiveDay"], 1.0);
    assert_eq!(open_segments[1]["eventCount"], 1);
    assert_eq!(v["result"][1]["segments"][0]["usersNeverUsed"], 1, "P never saved");

    // Histograms with the default bins.
    let events =
        json!([{"category": "File Operations", "name": "Open"}, {"category": "File Operations", "name": "Save"}]);
    let (status, text) = lifetime(&app, "lifetime/histogram", with(json!({"events": events}))).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let pair = |x: &Value| (x[0]["value"].as_i64().unwrap(), x[1]["value"].as_i64().unwrap());
    assert_eq!(pair(&v["result"]["summary"]["usedAtLeastOnce"]), (2, 1));
    assert_eq!(pair(&v["result"]["summary"]["neverUsed"]), (0, 1));
    let h = &v["result"]["histograms"];
    assert_eq!(pair(&h["eventCount"]["1"]), (1, 0));
    assert_eq!(pair(&h["eventCount"]["2"]), (0, 1));
    assert_eq!(pair(&h["eventCount"]["3 - 5"]), (1, 0));
    assert_eq!(h["eventCount"].as_object().unwrap().len(), 9);
    assert_eq!(pair(&h["averageCountPerActiveDay"]["0.50 - 1.00"]), (1, 1), "P 3/3 days, Q Save 2/2");
    assert_eq!(pair(&h["averageCountPerActiveDay"]["0.25 - 0.50"]), (1, 0), "Q Open 1/2 days");
    assert_eq!(pair(&h["averageCountPerActiveWeek"]["2.00 - 5.00"]), (1, 0), "P: 3 in one ISO week");
    assert_eq!(pair(&h["averageCountPerActiveWeek"]["1.00 - 2.00"]), (0, 1));
    assert_eq!(pair(&h["averageCountPerActiveMonth"]["0.50 - 1.00"]), (1, 0));
    assert!(text.contains(r#""\u2265 501":"#) && text.contains(r#""> 10.00":"#), "{text}");
    // Custom bins: values below the lower bound fall in no bin.
    let (_, text) = lifetime(
        &app,
        "lifetime/histogram",
        with(json!({"events": events, "lowerBounds": {"eventCount": 2}, "binUpperBounds": {"eventCount": [3, "inf"]}})),
    )
    .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    let counts = &v["result"]["histograms"]["eventCount"];
    assert_eq!(counts.as_object().unwrap().keys().collect::<Vec<_>>(), ["2 - 3", "\u{2265} 4"]);
    assert_eq!(pair(&counts["2 - 3"]), (1, 1));

    // Churn: with N = 16 only P (last seen 03-03, declared lost 03-19) is lost by 03-20.
    let (status, text) = lifetime(&app, "churn/lifetime/dataTable", with(json!({"daysUntilDeclaredLost": 16}))).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["totalCount"], 1, "only Open was used by the lost population: {text}");
    assert_eq!(v["result"][0]["eventCount"], 3);
    let (_, text) =
        lifetime(&app, "churn/lifetime/histogram", with(json!({"daysUntilDeclaredLost": 3, "events": events}))).await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(pair(&v["result"]["summary"]["usedAtLeastOnce"]), (2, 1), "both lost with N = 3");

    for (path, body, needle) in [
        ("lifetime/histogram", with(json!({})), "events"),
        (
            "lifetime/histogram",
            with(json!({"events": events, "lowerBounds": {"eventCount": 1}})),
            "lowerBounds.eventCount",
        ),
        (
            "lifetime/histogram",
            with(json!({"events": events, "lowerBounds": {"eventCount": 1}, "binUpperBounds": {"eventCount": [5, 3]}})),
            "binUpperBounds.eventCount[1]",
        ),
        (
            "lifetime/histogram",
            with(
                json!({"events": events, "lowerBounds": {"eventCount": 1}, "binUpperBounds": {"eventCount": ["inf", 3]}}),
            ),
            "binUpperBounds.eventCount[0]",
        ),
        (
            "lifetime/histogram",
            with(json!({"events": events, "lowerBounds": {"eventCount": 1}, "binUpperBounds": {"eventCount": [2.5]}})),
            "binUpperBounds.eventCount[0]",
        ),
        (
            "lifetime/histogram",
            with(
                json!({"events": events, "lowerBounds": {"averageCountPerActiveDay": 1}, "binUpperBounds": {"averageCountPerActiveDay": [0.5]}}),
            ),
            "binUpperBounds.averageCountPerActiveDay[0]",
        ),
        ("lifetime/histogram", with(json!({"events": events, "lowerBounds": {"eventCnt": 1}})), "lowerBounds.eventCnt"),
        (
            "lifetime/dataTable",
            with(
                json!({"categorizeEvents": true, "events": [{"combiLabel": "x", "combiArray": [{"category": null, "name": "a"}]}]}),
            ),
            "categorizeEvents",
        ),
        ("lifetime/dataTable", with(json!({"pageSize": 1001})), "pageSize"),
        ("lifetime/dataTable", with(json!({"page": 0})), "page"),
        ("churn/lifetime/dataTable", with(json!({"groupBy": "machineId"})), "groupBy"),
        ("lifetime/dataTable", with(json!({"daysUntilDeclaredLost": 3})), "daysUntilDeclaredLost"),
    ] {
        let (status, text) = lifetime(&app, path, body.clone()).await;
        assert_eq!(status, 400, "{path} {body} → {text}");
        assert!(text.contains(needle), "{path} {body}: {text} lacks {needle}");
    }
}
