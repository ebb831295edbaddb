//! Erasure of one installation: nothing mentions it afterwards, the others are unchanged.

use serde_json::{json, Value};

use crate::event_reports::example_3;
use crate::helpers::*;

const P: &str = "1111111111111111";
const Q: &str = "2222222222222222";

async fn post(app: &TestApp, path: &str, body: Value) -> (u16, String) {
    let resp = app.post_json(&format!("{path}/{PRODUCT}"), &body).await;
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

#[tokio::test]
async fn an_erased_installation_disappears_from_every_report() {
    let app = TestApp::spawn().await;
    example_3(&app).await;
    app.sync_at(
        at(2024, 3, 3, 9, 0, 0),
        P,
        vec![
            json!({"kind": "exception", "t": ms(2024, 3, 3, 8, 30), "className": "Io", "methodName": "read"}),
            json!({"kind": "event", "t": ms(2024, 3, 3, 8, 31), "name": "Share", "custom": {"to": "mail"}}),
        ],
    )
    .await;
    app.settle().await;
    app.set_now(at(2024, 3, 20, 12, 0, 0));

    let range = json!({"startDate": "2024-03-01", "stopDate": "2024-03-07", "clientStatus": ["new", "active"]});
    let (_, before) = app.date_range(&range).await;
    assert_eq!(before, r#"{"result":{"totals":{"new":2,"active":2}}}"#);
    let save = json!({"startDate": "2024-03-01", "stopDate": "2024-03-07",
                      "events": [{"category": "File Operations", "name": "Save"}]});
    let (_, save_before) = post(&app, "/v3/reporting/eventTracking/advanced/fullReport", save.clone()).await;

    // Only a server administrator may erase.
    let (status, text) = post(&app, "/v3/admin/erase", json!({"clientId": P})).await;
    assert_eq!(status, 403, "{text}");
    let admin = app
        .server()
        .catalog
        .create_user(
            usagi_catalog::NewUser {
                email: "admin@example.com".into(),
                name: "A".into(),
                surname: "D".into(),
                admin: true,
                password: PASSWORD.into(),
            },
            app.server().clock.now(),
        )
        .await
        .unwrap();
    let pid = usagi_types::ProductId::parse(PRODUCT).unwrap();
    app.server().catalog.grant(admin.id, pid, usagi_catalog::Role::Editor, false).await.unwrap();
    let ops = TestApp::sibling(&app);
    for _ in 0..2 {
        if ops.post_json("/v3/auth/web", &json!({"userName": "admin@example.com", "password": PASSWORD})).await.status()
            == 200
        {
            break;
        }
    }
    for (body, needle) in
        [(json!({}), "clientId"), (json!({"clientId": "XYZ"}), "clientId"), (json!({"clientId": P, "x": 1}), "x")]
    {
        let (status, text) = post(&ops, "/v3/admin/erase", body.clone()).await;
        assert_eq!(status, 400, "{body} → {text}");
        assert!(text.contains(needle), "{text}");
    }
    let (status, text) = post(&ops, "/v3/admin/erase", json!({"clientId": P.to_lowercase()})).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["result"]["clientId"], P);
    assert!(v["result"]["erasedRecords"].as_u64().unwrap() > 0);

    // Gone from the counts, the lists, the profile, the previews and the property values.
    let (_, after) = app.date_range(&range).await;
    assert_eq!(after, r#"{"result":{"totals":{"new":1,"active":1}}}"#);
    let (_, list) = post(&app, "/v3/reporting/clientPropertyList", json!({})).await;
    assert_eq!(list, format!(r#"{{"result":[{{"clientId":"{Q}"}}],"reachedEnd":true}}"#));
    let resp = app
        .client
        .get(format!("{}/v3/reporting/clientProfile/{PRODUCT}?clientId={P}", app.base))
        .headers(TestApp::origin_headers())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let (_, previews) = post(&app, "/v3/customEventTracking/getLastLines", json!({"lineCount": 100})).await;
    assert!(!previews.contains(P), "{previews}");
    let (_, exceptions) = post(&app, "/v3/exceptionTracking/getLastLines", json!({"lineCount": 100})).await;
    assert!(!exceptions.contains(P), "{exceptions}");
    let (_, values) = post(&app, "/v3/meta/propertyValues", json!({"property": "clientId"})).await;
    assert_eq!(values, format!(r#"{{"result":["{Q}"],"reachedEnd":true}}"#));
    // Event totals are corrected: P's Open on 03-01 and 03-02 are gone, Q's on 03-04 stays.
    let timeline = json!({"startDate": "2024-03-01", "stopDate": "2024-03-04", "dateSplit": "day",
                          "events": [{"category": "File Operations", "name": "Open"}]});
    let (_, t) = post(&app, "/v3/reporting/eventTracking/basic/timeline", timeline).await;
    let t: Value = serde_json::from_str(&t).unwrap();
    let values: Vec<i64> = t["result"].as_object().unwrap().values().map(|e| e[0]["value"].as_i64().unwrap()).collect();
    assert_eq!(values, [0, 0, 0, 1]);
    // Q's own figures are unchanged.
    let (_, save_after) = post(&app, "/v3/reporting/eventTracking/advanced/fullReport", save).await;
    let (b, a): (Value, Value) =
        (serde_json::from_str(&save_before).unwrap(), serde_json::from_str(&save_after).unwrap());
    assert_eq!(a["result"][0]["eventCounts"], b["result"][0]["eventCounts"]);
    assert_eq!(a["result"][0]["uniqueUsersUsedAtLeastOnce"], 1);
    assert_eq!(a["result"][0]["uniqueUsersNeverUsed"], 0, "P no longer counts as a user who never saved");
}
