//! The dashboard: served at `/` by the server itself, and allowed to call `/v3` from the
//! server's own origin (and its loopback aliases) whatever `allowed_origins` says.

use serde_json::{json, Value};
use usagi_server::ServerConfig;

use crate::helpers::*;

async fn login_from(app: &TestApp, origin: &str) -> reqwest::Response {
    let creds = json!({"userName": EMAIL, "password": PASSWORD});
    let mut last = None;
    // The first answer is "Cookie Missing" and sets RUI-Csrf; the second logs in.
    for _ in 0..2 {
        last = Some(
            app.client
                .post(format!("{}/v3/auth/web", app.base))
                .header("Origin", origin)
                .header("Content-Type", "application/json")
                .body(creds.to_string())
                .send()
                .await
                .expect("request"),
        );
    }
    last.expect("two attempts")
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_next_to_v3() {
    let app = TestApp::spawn().await;
    let page = app.client.get(format!("{}/", app.base)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert!(page.text().await.unwrap().contains("/static/js/main.js"));
    let js = app.client.get(format!("{}/static/js/api.js", app.base)).send().await.unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(js.headers()["content-type"], "text/javascript; charset=utf-8");
    // The dashboard's requests are ordinary /v3 requests: nothing private.
    assert!(js.text().await.unwrap().contains("/v3/auth/web"));
    // /v3 keeps its own JSON 404; other unknown paths are not the dashboard's.
    let v3 = app.client.get(format!("{}/v3/no/such/path", app.base)).send().await.unwrap();
    assert_eq!(v3.status(), 404);
    assert_eq!(v3.json::<Value>().await.unwrap()["status"], "NOT FOUND");
    let other = app.client.get(format!("{}/static/missing.js", app.base)).send().await.unwrap();
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn the_servers_own_origin_and_its_loopback_aliases_may_log_in() {
    // Public URL http://127.0.0.1:8080 (the default): a browser on localhost:8080 is the same server.
    let app = TestApp::spawn().await;
    for origin in ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080"] {
        let r = login_from(&app, origin).await;
        assert_eq!(r.status(), 200, "{origin}");
        assert_eq!(r.headers()["access-control-allow-origin"], origin);
    }
    let other_port = login_from(&app, "http://localhost:9999").await;
    assert_eq!(other_port.status(), 403);
    assert_eq!(other_port.json::<Value>().await.unwrap()["reason"], "Origin 'http://localhost:9999' is not allowed");
}

#[tokio::test]
async fn an_explicit_allowlist_keeps_the_servers_own_origin() {
    let config = ServerConfig {
        public_url: "https://ui.example.com".into(),
        allowed_origins: Some(vec!["https://partner.example.com".into()]),
        ..Default::default()
    };
    let app = TestApp::spawn_with(Setup { config: Some(config), ..Default::default() }).await;
    // Both pass the Origin check (whether the test client's jar returns the Secure cookies
    // over plain http decides between "Cookie Missing" and a login; neither is a 403).
    for origin in ["https://ui.example.com", "https://partner.example.com"] {
        let r = login_from(&app, origin).await;
        assert_ne!(r.status(), 403, "{origin}");
        assert_eq!(r.headers()["access-control-allow-origin"], origin);
    }
    let revenera = login_from(&app, "https://analytics.revenera.com").await;
    assert_eq!(revenera.status(), 403);
}
