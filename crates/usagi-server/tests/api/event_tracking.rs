//! Event tracking management (reporting-api §8): listing with flags and days seen, atomic updates.

use serde_json::{json, Value};

use crate::helpers::*;

async fn put_flags(app: &TestApp, body: &Value) -> (u16, Value) {
    let resp = app
        .client
        .put(format!("{}/v3/event-tracking/{PRODUCT}", app.base))
        .headers(TestApp::origin_headers())
        .json(body)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

async fn list(app: &TestApp, query: &str) -> (u16, Value) {
    let resp = app
        .client
        .get(format!("{}/v3/event-tracking/{PRODUCT}{query}", app.base))
        .headers(TestApp::origin_headers())
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

#[tokio::test]
async fn events_are_listed_with_flags_and_days_and_flags_can_be_set() {
    let app = TestApp::spawn().await;
    let event = |c: Option<&str>, n: &str, t| json!({"kind": "event", "t": t, "category": c, "name": n});
    app.sync_at(
        at(2024, 3, 2, 12, 0, 0),
        "00000000000000AA",
        vec![
            event(Some("File Operations"), "Save", ms(2024, 3, 2, 9, 0)),
            event(None, "Startup", ms(2024, 3, 1, 9, 0)),
        ],
    )
    .await;
    app.sync_at(
        at(2024, 3, 19, 12, 0, 0),
        "00000000000000BB",
        vec![
            event(Some("File Operations"), "Open", ms(2024, 3, 19, 9, 0)),
            event(None, "Startup", ms(2024, 3, 19, 8, 0)),
        ],
    )
    .await;
    app.settle().await;
    app.login().await;

    // New events start as basic only; the null category comes first, then code-point order.
    let (status, v) = list(&app, "").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v,
        json!({"result": [
            {"category": null, "categoryEventNames": [
                {"eventName": "Startup", "basic": true, "advanced": false, "dateFirstSeen": "2024-03-01", "dateLastSeen": "2024-03-19"}]},
            {"category": "File Operations", "categoryEventNames": [
                {"eventName": "Open", "basic": true, "advanced": false, "dateFirstSeen": "2024-03-19", "dateLastSeen": "2024-03-19"},
                {"eventName": "Save", "basic": true, "advanced": false, "dateFirstSeen": "2024-03-02", "dateLastSeen": "2024-03-02"}]}]})
    );

    // Set flags: two known events (one with a padded, trimmed name), one pre-registered.
    let (status, v) = put_flags(
        &app,
        &json!({"events": [
            {"category": "File Operations", "name": " Open ", "basic": true, "advanced": true},
            {"category": null, "name": "Startup", "basic": false, "advanced": false},
            {"category": "Export", "name": "PDF", "basic": true, "advanced": true}]}),
    )
    .await;
    assert_eq!((status, v), (200, json!({"result": {"updated": 2, "created": 1}})));
    let (_, v) = list(&app, "?showEvents=advanced").await;
    assert_eq!(
        v,
        json!({"result": [
            {"category": "Export", "categoryEventNames": [
                {"eventName": "PDF", "basic": true, "advanced": true, "dateFirstSeen": null, "dateLastSeen": null}]},
            {"category": "File Operations", "categoryEventNames": [
                {"eventName": "Open", "basic": true, "advanced": true, "dateFirstSeen": "2024-03-19", "dateLastSeen": "2024-03-19"}]}]})
    );
    let (_, v) = list(&app, "?showEvents=basic").await;
    let names: Vec<&str> = v["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["categoryEventNames"].as_array().unwrap().iter().map(|e| e["eventName"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        ["PDF", "Open", "Save"],
        "Startup is neither basic nor advanced now; empty categories are omitted"
    );
    let (_, all) = list(&app, "?showEvents=all").await;
    assert_eq!(all["result"].as_array().unwrap().len(), 3);
    // A second PUT of the same event counts as updated.
    let (_, v) =
        put_flags(&app, &json!({"events": [{"category": "Export", "name": "PDF", "basic": false, "advanced": false}]}))
            .await;
    assert_eq!(v, json!({"result": {"updated": 1, "created": 0}}));

    // Bad input: nothing changes.
    for (body, needle) in [
        (json!({"events": [{"category": "X", "name": "A", "basic": false, "advanced": true}]}), "events[0].advanced"),
        (json!({"events": [{"name": "A", "basic": true, "advanced": false}]}), "events[0].category"),
        (json!({"events": []}), "events"),
        (json!({"events": [{"category": "X", "name": "A", "basic": true}]}), "events[0].advanced"),
        (json!({"events": [{"category": "X", "name": "A", "basic": "yes", "advanced": false}]}), "events[0].basic"),
        (json!({"events": [{"category": "X", "name": "A", "basic": true, "advanced": false, "x": 1}]}), "events[0].x"),
        (
            json!({"events": [{"category": "X", "name": "A", "basic": true, "advanced": false},
                              {"category": "X", "name": "A", "basic": false, "advanced": false}]}),
            "events[1]",
        ),
    ] {
        let (status, v) = put_flags(&app, &body).await;
        assert_eq!(status, 400, "{body} → {v}");
        assert!(v["reason"].as_str().unwrap().contains(needle), "{body}: {v}");
    }
    let (_, after) = list(&app, "?showEvents=all").await;
    assert!(!after.to_string().contains("\"eventName\":\"A\""), "rejected updates store nothing");
    let (status, _) = list(&app, "?showEvents=everything").await;
    assert_eq!(status, 400);
    let (status, _) = list(&app, "?other=1").await;
    assert_eq!(status, 400);

    // A viewer may list but not change flags.
    let viewer = app
        .server()
        .catalog
        .create_user(
            usagi_catalog::NewUser {
                email: "viewer@example.com".into(),
                name: "V".into(),
                surname: "U".into(),
                admin: false,
                password: PASSWORD.into(),
            },
            app.server().clock.now(),
        )
        .await
        .unwrap();
    let pid = usagi_types::ProductId::parse(PRODUCT).unwrap();
    app.server().catalog.grant(viewer.id, pid, usagi_catalog::Role::Viewer, false).await.unwrap();
    let other = TestApp::sibling(&app);
    for _ in 0..2 {
        let r = other.post_json("/v3/auth/web", &json!({"userName": "viewer@example.com", "password": PASSWORD})).await;
        if r.status() == 200 {
            break;
        }
    }
    assert_eq!(list(&other, "").await.0, 200);
    let (status, v) =
        put_flags(&other, &json!({"events": [{"category": null, "name": "Startup", "basic": true, "advanced": true}]}))
            .await;
    assert_eq!(status, 403, "{v}");
}
