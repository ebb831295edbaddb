//! The single-installation profile (reporting-api §15.2) on Example 3's data.

use serde_json::{json, Value};

use crate::event_reports::example_3;
use crate::helpers::*;

async fn profile(app: &TestApp, query: &str) -> (u16, Value) {
    let resp = app
        .client
        .get(format!("{}/v3/reporting/clientProfile/{PRODUCT}{query}", app.base))
        .headers(TestApp::origin_headers())
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

#[tokio::test]
async fn profile_of_one_installation() {
    let app = TestApp::spawn().await;
    example_3(&app).await;
    // An exception and a product snapshot for P on a later sync.
    app.sync_at(
        at(2024, 3, 3, 9, 0, 0),
        "1111111111111111",
        vec![
            json!({"kind": "exception", "t": ms(2024, 3, 3, 8, 30), "className": "Io", "methodName": "read",
                   "message": "disk full", "stackTrace": "at read()"}),
            json!({"kind": "properties", "t": ms(2024, 3, 3, 8, 31), "product": {"version": "2.0", "edition": "Pro"}}),
        ],
    )
    .await;
    app.settle().await;
    app.set_now(at(2024, 3, 20, 12, 0, 0));

    // Lowercase ids are accepted.
    let (status, v) = profile(&app, "?clientId=1111111111111111").await;
    assert_eq!(status, 200, "{v}");
    let r = &v["result"];
    assert_eq!(r["clientId"], "1111111111111111");
    assert_eq!(r["appName"], "DemoApp");
    assert_eq!(r["machineId"], "<NULL>");
    assert_eq!(r["sdk"], json!({"name": "ui-sdk-rust", "version": "1.0.0"}));
    assert_eq!((r["dateInstalled"].as_str(), r["dateLastSeen"].as_str()), (Some("2024-03-01"), Some("2024-03-03")));
    assert_eq!(r["lastSyncAt"], "2024-03-03T09:00:00.000Z");
    assert_eq!(
        r["status"],
        json!({"lost": false, "daysUntilDeclaredLost": 40, "optOut": {"historical": false, "current": false},
               "backOff": {"historical": false, "current": false, "until": null}, "disabled": false})
    );
    assert_eq!(
        r["lifetime"],
        json!({"sessionCount": 3, "runtimeMinutes": 55, "activeDays": 3, "eventCount": 3, "exceptionCount": 1,
               "eventUsage": [{"eventCategory": "File Operations", "eventName": "Open", "eventCount": 3,
                               "dateFirstUsed": "2024-03-01", "dateLastUsed": "2024-03-02"}]})
    );
    let props = r["properties"].as_object().unwrap();
    assert_eq!(props.keys().next().map(String::as_str), Some("clientId"), "clientId first, then list order");
    assert_eq!(props["prodVersion"], "2.0");
    assert_eq!(props["licenseType"], "unknown");
    assert_eq!(props["licenseStatus.activated"], false);
    assert_eq!(props["cpuCores"], "<NULL>");
    assert_eq!(props["lifetimeRuntimeMinutes"], 55);
    assert!(!props.contains_key("licenseKey"), "licenseKey needs the permission");
    assert!(!props.contains_key("lifetimeEventUsage"));
    // History: first known values, then changes only.
    let history = r["propertyHistory"].as_array().unwrap();
    let of = |name: &str| history.iter().filter(|h| h["property"] == name).cloned().collect::<Vec<_>>();
    assert_eq!(of("appName"), vec![json!({"date": "2024-03-01", "property": "appName", "value": "DemoApp"})]);
    assert_eq!(of("prodVersion"), vec![json!({"date": "2024-03-03", "property": "prodVersion", "value": "2.0"})]);
    // Sessions newest first: the crash-closed one ended at its last record (10:20).
    assert_eq!(
        r["recentSessions"],
        json!([
            {"sessionId": null, "start": "2024-03-03T08:00:00.000Z", "end": "2024-03-03T08:05:00.000Z", "runtimeMinutes": 5, "closed": true},
            {"sessionId": null, "start": "2024-03-02T10:00:00.000Z", "end": "2024-03-02T10:20:00.000Z", "runtimeMinutes": 20, "closed": true},
            {"sessionId": null, "start": "2024-03-01T09:00:00.000Z", "end": "2024-03-01T09:30:00.000Z", "runtimeMinutes": 30, "closed": true}])
    );
    assert_eq!(
        r["recentExceptions"],
        json!([{"timestamp": "2024-03-03T08:30:00.000Z", "sessionId": null, "className": "Io", "methodName": "read",
                "message": "disk full"}])
    );
    // Q's explicit session over midnight.
    let (_, v) = profile(&app, "?clientId=2222222222222222").await;
    assert_eq!(v["result"]["recentSessions"][0]["sessionId"], "session-0001");
    assert_eq!(v["result"]["recentSessions"][0]["runtimeMinutes"], 240);

    for (query, status) in [
        ("", 400),
        ("?clientId=XYZ", 400),
        ("?clientId=1111111111111111&x=1", 400),
        ("?clientId=0000000000000001", 404),
    ] {
        let (got, v) = profile(&app, query).await;
        assert_eq!(got, status, "{query}: {v}");
    }
}
