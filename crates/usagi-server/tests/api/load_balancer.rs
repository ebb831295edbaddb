//! Two servers on one PostgreSQL catalog, as behind a load balancer (issue 9): a login begun
//! on one completes on the other, the session works and ends on both, and the limits (failed
//! logins, request rate, the bulk key lock) are one limit across both.
//! Runs with `USAGI_TEST_CATALOG=postgres`; with the SQLite catalog it prints SKIPPED.

use std::io::Write;
use std::time::Duration;

use serde_json::{json, Value};
use usagi_server::ratelimit::bulk_lease_key;
use usagi_server::ServerConfig;
use usagi_types::ProductId;

use crate::helpers::{Setup, TestApp, EMAIL, PASSWORD, PRODUCT};

fn report_body() -> serde_json::Value {
    json!({"startDate": "2024-03-01", "stopDate": "2024-03-07", "clientStatus": ["active"]})
}

/// Servers A and B on one fresh PostgreSQL schema, both with `config`; `None` (after printing
/// SKIPPED) unless `USAGI_TEST_CATALOG=postgres`.
async fn two_servers(test: &str, mut config: ServerConfig) -> Option<(TestApp, TestApp)> {
    if std::env::var("USAGI_TEST_CATALOG").as_deref() != Ok("postgres") {
        let _ = writeln!(std::io::stderr(), "SKIPPED load_balancer::{test}: needs USAGI_TEST_CATALOG=postgres");
        return None;
    }
    let base = std::env::var("USAGI_TEST_POSTGRES_URL").expect("USAGI_TEST_POSTGRES_URL");
    config.catalog.url = Some(usagi_catalog::PostgresCatalog::scratch_schema(&base).await.expect("schema"));
    let a = TestApp::spawn_with(Setup { config: Some(config.clone()), ..Setup::default() }).await;
    let b = a.second_server(config).await;
    Some((a, b))
}

async fn login(app: &TestApp, password: &str) -> u16 {
    app.post_json("/v3/auth/web", &json!({"userName": EMAIL, "password": password})).await.status().as_u16()
}

#[tokio::test]
async fn servers_on_one_catalog_share_logins_and_sessions() {
    let test = "servers_on_one_catalog_share_logins_and_sessions";
    let Some((a, b)) = two_servers(test, ServerConfig::default()).await else { return };

    // "Cookie Missing" from A sets the CSRF cookie; B accepts it and logs in.
    assert_eq!(login(&a, PASSWORD).await, 401);
    assert_eq!(login(&b, PASSWORD).await, 200, "B accepts the CSRF cookie A issued");

    // The session B created works on A, and on B.
    assert_eq!(a.date_range(&report_body()).await.0, 200);
    assert_eq!(b.date_range(&report_body()).await.0, 200);

    // Logging out on A ends it on B.
    assert_eq!(a.post_json("/v3/auth/logout", &json!({})).await.status(), 204);
    assert_eq!(b.date_range(&report_body()).await.0, 401);
    b.server.expect("B").shutdown().await;
}

#[tokio::test]
async fn failed_logins_on_either_server_lock_the_user_out_of_both() {
    let mut config = ServerConfig::default();
    config.limits.failed_logins = 3;
    let test = "failed_logins_on_either_server_lock_the_user_out_of_both";
    let Some((a, b)) = two_servers(test, config).await else { return };
    a.client.get(format!("{}/v3/request-csrf", a.base)).send().await.expect("csrf cookie");

    // Two failures on A and one on B: three for the user name, though neither server saw three.
    assert_eq!(login(&a, "wrong").await, 401);
    assert_eq!(login(&a, "wrong").await, 401);
    assert_eq!(login(&b, "wrong").await, 401);
    for server in [&b, &a] {
        let r = server.post_json("/v3/auth/web", &json!({"userName": EMAIL, "password": PASSWORD})).await;
        assert_eq!(r.status(), 429, "locked out on {}", server.base);
        assert!(r.headers().get("retry-after").is_some());
        assert_eq!(r.json::<Value>().await.expect("json")["status"], "RATE LIMITED");
    }
    b.server.expect("B").shutdown().await;
}

#[tokio::test]
async fn the_request_rate_is_one_limit_across_servers() {
    let mut config = ServerConfig::default();
    config.limits.requests_per_second = 0.01;
    config.limits.burst = 4.0;
    let test = "the_request_rate_is_one_limit_across_servers";
    let Some((a, b)) = two_servers(test, config).await else { return };
    a.login().await;

    // The clocks are pinned, so the bucket does not refill: 4 requests in all, wherever they go.
    let mut codes = Vec::new();
    for server in [&a, &b, &b, &a, &b, &a] {
        codes.push(server.date_range(&report_body()).await.0);
    }
    assert_eq!(codes, [200, 200, 200, 200, 429, 429]);
    b.server.expect("B").shutdown().await;
}

/// A user with the `licenseKeys` flag, logged in (on A; the session works on B too).
async fn key_editor(a: &TestApp) {
    let catalog = &a.server().catalog;
    let user = catalog.get_user_by_email(EMAIL).await.expect("catalog").expect("user");
    catalog.grant(user.id, ProductId::parse(PRODUCT).expect("id"), usagi_catalog::Role::Editor, true).await.unwrap();
    a.login().await;
}

async fn update_keys(app: &TestApp, key: &str) -> (u16, Value) {
    let body = json!({"keyUpdates": [{"licenseKey": key}]});
    let r = app.post_json(&format!("/v3/licenseKeys/updateKeys/{PRODUCT}"), &body).await;
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_bulk_key_call_running_on_one_server_makes_the_other_answer_409() {
    let test = "a_bulk_key_call_running_on_one_server_makes_the_other_answer_409";
    let Some((a, b)) = two_servers(test, ServerConfig::default()).await else { return };
    key_editor(&a).await;
    let product = ProductId::parse(PRODUCT).expect("id");

    // A bulk call in progress on A (A holds the product's lock): B refuses at once.
    let running_on_a = a.server().limits.bulk_slot(product).await.expect("catalog").expect("lock free");
    let (status, v) = update_keys(&b, "K-1").await;
    assert_eq!((status, &v["status"]), (409, &json!("CONFLICT")), "{v}");
    assert_eq!(update_keys(&a, "K-1").await.0, 409);
    running_on_a.release().await;
    assert_eq!(update_keys(&b, "K-1").await, (200, json!({"result": {"inserted": 1, "updated": 0}})));
    b.server.expect("B").shutdown().await;
}

#[tokio::test]
async fn the_lock_of_a_dead_server_expires() {
    let test = "the_lock_of_a_dead_server_expires";
    let Some((a, b)) = two_servers(test, ServerConfig::default()).await else { return };
    key_editor(&a).await;
    let product = ProductId::parse(PRODUCT).expect("id");

    // A server took the lock and died: nobody renews or releases it.
    let ttl = Duration::from_millis(1500);
    let catalog = &a.server().catalog;
    assert!(catalog.acquire_lease(&bulk_lease_key(product), "dead-server-1", 1, ttl).await.expect("catalog"));
    assert_eq!(update_keys(&b, "K-1").await.0, 409);
    assert_eq!(update_keys(&a, "K-1").await.0, 409);
    tokio::time::sleep(ttl + Duration::from_millis(300)).await;
    assert_eq!(update_keys(&b, "K-1").await, (200, json!({"result": {"inserted": 1, "updated": 0}})));
    assert_eq!(update_keys(&a, "K-1").await, (200, json!({"result": {"inserted": 0, "updated": 1}})));
    b.server.expect("B").shutdown().await;
}
