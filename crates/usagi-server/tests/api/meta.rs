//! Metadata queries: property catalogue and oldest reported date.

use serde_json::Value;

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
