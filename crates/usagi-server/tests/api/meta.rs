//! Metadata queries: property catalogue, property values and oldest reported date.

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn product_properties_and_oldest_date() {
    let app = TestApp::spawn().await;
    let product = usagi_types::ProductId::parse(PRODUCT).unwrap();
    let patch = usagi_catalog::ProductSettingsPatch {
        custom_property_names: [(1u8, Some("Download Source".to_string()))].into_iter().collect(),
        ..Default::default()
    };
    app.server().catalog.update_product_settings(product, patch).await.unwrap();
    app.login().await;
    let get = |path: String| app.client.get(format!("{}{path}", app.base)).send();
    let resp = get(format!("/v3/meta/productProperties/{PRODUCT}")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let first = &v["result"][0];
    assert_eq!(first["category"], "Identity");
    assert_eq!(
        first["properties"][0].to_string(),
        r#"{"name":"clientId","friendlyName":"Client ID","filterType":"current","dataType":"string","supportsRegex":true,"supportsMeta":true,"supportsNull":false}"#
    );
    let text = v.to_string();
    assert!(text.contains(r#"{"name":"C01","friendlyName":"Download Source","filterType":"standard""#));
    assert!(!text.contains("licenseKey"), "hidden without the licenseKeys permission");
    let resp = get(format!("/v3/meta/oldestReportedDate/{PRODUCT}")).await.unwrap();
    assert_eq!(resp.text().await.unwrap(), r#"{"oldestDate":"2021-03-21"}"#);
    // Undocumented parameters, unauthenticated calls and unknown products.
    assert_eq!(get(format!("/v3/meta/oldestReportedDate/{PRODUCT}?x=1")).await.unwrap().status(), 400);
    assert_eq!(reqwest::get(format!("{}/v3/meta/oldestReportedDate/{PRODUCT}", app.base)).await.unwrap().status(), 401);
    assert_eq!(get("/v3/meta/productProperties/9999999999".into()).await.unwrap().status(), 404);
}

/// Posts a propertyValues query.
async fn values(app: &TestApp, body: Value) -> (u16, Value) {
    let resp = app.post_json(&format!("/v3/meta/propertyValues/{PRODUCT}"), &body).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

#[tokio::test]
async fn property_values_lists_end_of_day_values_pages_and_filters() {
    let app = TestApp::spawn().await;
    // Example 2's data: X goes 1.0 → (2.0 → 2.1 the same day), Y reports a NULL version.
    let product =
        |v: Option<&str>, t| json!({"kind": "properties", "t": t, "product": {"edition": "Pro", "version": v}});
    app.sync_at(at(2024, 3, 1, 20, 0, 0), "00000000000000A1", vec![product(Some("1.0"), ms(2024, 3, 1, 8, 0))]).await;
    app.sync_at(
        at(2024, 3, 5, 20, 0, 0),
        "00000000000000A1",
        vec![product(Some("2.0"), ms(2024, 3, 5, 10, 0)), product(Some("2.1"), ms(2024, 3, 5, 18, 0))],
    )
    .await;
    app.sync_at(at(2024, 3, 2, 20, 0, 0), "00000000000000B2", vec![product(None, ms(2024, 3, 2, 9, 0))]).await;
    // 1,001 installations with distinct machine ids (a current property) for paging.
    for i in 0..1001u32 {
        let body = json!({
            "clientId": format!("{:016X}", 0x1000 + i), "machineId": format!("M{i:04}"), "appName": "DemoApp",
            "sdk": {"name": "ui-sdk-rust", "version": "1.0.0"}, "batchId": uuid::Uuid::new_v4().to_string(),
            "seq": 1, "records": [],
        });
        let resp = app.callhome_raw("sync", serde_json::to_vec(&body).unwrap(), None).await;
        assert_eq!(resp.status(), 200, "sync accepted");
    }
    app.settle().await;
    app.login().await;

    let (status, v) = values(&app, json!({"property": "prodVersion"})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v, json!({"result": ["1.0", "2.1", "<NULL>"], "reachedEnd": true}), "2.0 was never an end-of-day value");
    let (_, v) = values(&app, json!({"property": "prodVersion", "filter": {"type": "regex", "value": "^2"}})).await;
    assert_eq!(v["result"], json!(["2.1"]));
    let (_, v) = values(&app, json!({"property": "prodVersion", "startAfter": "1.0"})).await;
    assert_eq!(v["result"], json!(["2.1", "<NULL>"]));

    // Paging: 1,000 per page, `lastValue` only when the end is not reached.
    let (_, first) = values(&app, json!({"property": "machineId"})).await;
    assert_eq!(first["result"].as_array().unwrap().len(), 1000);
    assert_eq!(first["reachedEnd"], false);
    // The Example 2 installations sent no machine id: NULL, which sorts first by code point.
    assert_eq!(first["result"][0], "<NULL>");
    assert_eq!(first["lastValue"], "M0998");
    let (_, second) = values(&app, json!({"property": "machineId", "startAfter": "M0998"})).await;
    assert_eq!(second, json!({"result": ["M0999", "M1000"], "reachedEnd": true}));
    let (_, v) =
        values(&app, json!({"property": "clientId", "filter": {"type": "regex", "value": "^00000000000000"}})).await;
    assert_eq!(v["result"], json!(["00000000000000A1", "00000000000000B2"]));

    // Geography: no location observed here, so NULL only; getFullList adds the ISO list.
    let (_, v) = values(&app, json!({"property": "geography", "granularity": "continent"})).await;
    assert_eq!(v["result"], json!(["<NULL>"]));
    let (_, v) = values(&app, json!({"property": "geography.continent", "getFullList": true})).await;
    assert_eq!(v["result"], json!(["<NULL>", "AF", "AN", "AS", "EU", "NA", "OC", "SA"]));
    let (_, v) = values(&app, json!({"property": "geography", "granularity": "country", "getFullList": true})).await;
    assert_eq!(v["result"].as_array().unwrap().len(), 250, "249 ISO countries and <NULL>");
    let (status, _) = values(&app, json!({"property": "os.version", "getFullList": true})).await;
    assert_eq!(status, 200, "accepted, no effect, for os");

    for (body, needle) in [
        (json!({"property": "cpuCores"}), "property"),
        (json!({"property": "geography"}), "granularity"),
        (json!({"property": "os", "granularity": "country"}), "granularity"),
        (json!({"property": "geography.country", "filter": {"type": "regex", "value": "D"}}), "filter"),
        (json!({"property": "prodVersion", "filter": {"type": "regex", "value": "("}}), "filter.value"),
        (json!({"property": "prodVersion", "filter": {"type": "string", "value": "1.0"}}), "filter.type"),
        (json!({"property": "prodVersion", "getFullList": true}), "getFullList"),
        (json!({"property": "prodVersion", "startAfer": "x"}), "startAfer"),
    ] {
        let (status, v) = values(&app, body.clone()).await;
        assert_eq!(status, 400, "{body} → {v}");
        assert!(v["reason"].as_str().unwrap().contains(needle), "{body}: {v}");
    }
    let (status, _) = values(&app, json!({"property": "licenseKey"})).await;
    assert_eq!(status, 403, "licenseKey needs the permission");
}
