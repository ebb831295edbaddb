//! Previews of custom events and exceptions (reporting-api §13.1, §14).

use serde_json::{json, Value};

use crate::helpers::*;

async fn last_lines(app: &TestApp, family: &str, body: Value) -> (u16, Value) {
    let resp = app.post_json(&format!("/v3/{family}/getLastLines/{PRODUCT}"), &body).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

#[tokio::test]
async fn newest_custom_events_and_exceptions_with_the_properties_of_their_day() {
    let app = TestApp::spawn().await;
    let c = "00000000000000C1";
    let machine = |v: &str, t| {
        json!({"kind": "properties", "t": t, "product": {"version": v, "edition": "Pro"},
               "machine": {"cpuCores": 8, "ram": 16384, "resolutionWidth": 1920, "resolutionHeight": 1080,
                           "os": {"version": "Microsoft Windows 11"}}})
    };
    app.sync_at(
        at(2024, 3, 1, 12, 0, 0),
        c,
        vec![
            machine("1.0", ms(2024, 3, 1, 8, 0)),
            json!({"kind": "event", "t": ms(2024, 3, 1, 9, 0), "category": "Export", "name": "PDF",
                   "custom": {"pages": "12", "quality": null}}),
            json!({"kind": "event", "t": ms(2024, 3, 1, 9, 5), "name": "Plain"}),
            json!({"kind": "exception", "t": ms(2024, 3, 1, 9, 10), "className": "Io", "methodName": "read",
                   "message": null, "stackTrace": "at read()"}),
        ],
    )
    .await;
    app.sync_at(
        at(2024, 3, 2, 12, 0, 0),
        c,
        vec![
            machine("2.0", ms(2024, 3, 2, 8, 0)),
            json!({"kind": "event", "t": ms(2024, 3, 2, 9, 0), "category": null, "name": "Share",
                   "custom": {"target": "mail"}}),
        ],
    )
    .await;
    app.settle().await;
    app.set_now(at(2024, 3, 20, 12, 0, 0));
    app.login().await;

    let (status, v) = last_lines(&app, "customEventTracking", json!({})).await;
    assert_eq!(status, 200, "{v}");
    let names: Vec<&String> = v["fieldNames"].as_object().unwrap().keys().collect();
    assert_eq!(names.first().map(|s| s.as_str()), Some("timestamp"));
    assert_eq!(names.last().map(|s| s.as_str()), Some("customData"));
    assert_eq!(v["fieldNames"]["resolution"], "Screen Resolution");
    let rows = v["result"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "only events with a custom map, newest first");
    assert_eq!(rows[0]["eventName"], "Share");
    assert_eq!(rows[0]["eventCategory"], "<NULL>");
    assert_eq!(rows[0]["prodVersion"], "2.0", "properties as of the end of the record's day");
    assert_eq!(rows[1]["prodVersion"], "1.0");
    assert_eq!(rows[1]["customData"], json!({"pages": "12", "quality": null}));
    assert_eq!(rows[1]["timestamp"], "2024-03-01T09:00:00.000Z");
    assert_eq!(rows[1]["clientId"], c);
    assert_eq!(rows[1]["cpuCores"], 8);
    assert_eq!(rows[1]["resolution"], "1920x1080");
    assert_eq!(rows[1]["os.version"], "Microsoft Windows 11");
    assert_eq!(rows[1]["licenseStatus.allowed"], false);
    assert_eq!(rows[1]["geography.country"], "<NULL>");
    assert_eq!(rows[1].as_object().unwrap().len(), names.len(), "every key of fieldNames");

    let (_, v) = last_lines(&app, "customEventTracking", json!({"lineCount": "1"})).await;
    assert_eq!(v["result"].as_array().unwrap().len(), 1, "lineCount may be a string of digits");

    let (status, v) = last_lines(&app, "exceptionTracking", json!({"lineCount": 5})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["fieldNames"]["className"], "Class");
    assert!(v["fieldNames"].get("eventName").is_none());
    assert_eq!(
        (v["result"][0]["className"].clone(), v["result"][0]["message"].clone(), v["result"][0]["stackTrace"].clone()),
        (json!("Io"), json!("<NULL>"), json!("at read()"))
    );

    for body in [json!({"lineCount": 0}), json!({"lineCount": 1001}), json!({"lineCount": "ten"}), json!({"lines": 3})]
    {
        let (status, v) = last_lines(&app, "exceptionTracking", body.clone()).await;
        assert_eq!(status, 400, "{body} → {v}");
    }
}
