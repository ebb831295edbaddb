//! The OpenAPI document covers every route the router serves.

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn every_served_route_is_documented() {
    let app = TestApp::spawn().await;
    let doc: Value =
        app.client.get(format!("{}/v3/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    for route in usagi_server::api::routes() {
        let documented = &doc["paths"][route.path][route.method.to_lowercase()];
        assert!(documented.is_object(), "{} {} is missing from the document", route.method, route.path);
        if route.query {
            assert!(doc["paths"][route.path]["get"].is_object(), "GET ?query= of {} is missing", route.path);
        }
        // The router really serves it: anything but the "no route" 404.
        let url = format!("{}{}", app.base, route.path.replace("{product_id}", PRODUCT));
        let resp = app
            .client
            .request(route.method.parse().unwrap(), &url)
            .header("Origin", ORIGIN)
            .header("Content-Type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(!text.contains("no route for"), "{} {} is not served: {status} {text}", route.method, route.path);
    }
    // Every schema reference resolves, and the filter and segment schemas name their members.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in &all {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(doc["components"]["schemas"][name].is_object(), "{r} does not resolve");
    }
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["GlobalFilter"]["properties"]["type"].is_object(), "filter operator documented as 'type'");
    assert!(schemas["Segment"]["properties"]["segmentLabel"].is_object());
    assert!(schemas["Level"]["properties"]["segments"].is_object());
    // And the document lists nothing the table does not.
    let table: Vec<&str> = usagi_server::api::routes().iter().map(|r| r.path).collect();
    for path in doc["paths"].as_object().unwrap().keys() {
        assert!(table.contains(&path.as_str()), "{path} documented but not in the route table");
    }
}

#[tokio::test]
async fn responses_are_gzip_compressed_when_accepted() {
    let app = TestApp::spawn().await;
    let plain = reqwest::Client::builder().no_gzip().build().unwrap();
    let resp =
        plain.get(format!("{}/v3/openapi.json", app.base)).header("Accept-Encoding", "gzip").send().await.unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let resp = plain.get(format!("{}/v3/openapi.json", app.base)).send().await.unwrap();
    assert!(resp.headers().get("content-encoding").is_none());
}
