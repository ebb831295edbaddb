//! Two servers on one PostgreSQL catalog, as behind a load balancer (issue 9): a login begun
//! on one completes on the other, and the session works and ends on both.
//! Runs with `USAGI_TEST_CATALOG=postgres`; with the SQLite catalog it prints SKIPPED.

use std::io::Write;
use std::sync::Arc;

use serde_json::json;
use usagi_server::ServerConfig;

use crate::helpers::{Setup, TestApp, EMAIL, PASSWORD};

fn report_body() -> serde_json::Value {
    json!({"startDate": "2024-03-01", "stopDate": "2024-03-07", "clientStatus": ["active"]})
}

#[tokio::test]
async fn servers_on_one_catalog_share_logins_and_sessions() {
    if std::env::var("USAGI_TEST_CATALOG").as_deref() != Ok("postgres") {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED load_balancer::servers_on_one_catalog_share_logins_and_sessions: needs USAGI_TEST_CATALOG=postgres"
        );
        return;
    }
    let base = std::env::var("USAGI_TEST_POSTGRES_URL").expect("USAGI_TEST_POSTGRES_URL");
    let url = usagi_catalog::PostgresCatalog::scratch_schema(&base).await.expect("schema");
    let mut config = ServerConfig::default();
    config.catalog.url = Some(url);
    let a = TestApp::spawn_with(Setup { config: Some(config.clone()), ..Setup::default() }).await;

    // Server B: the same catalog, its own data directory (so its own server.key and warehouse).
    let dir_b = tempfile::tempdir().expect("tempdir");
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.clock.fixed_now = Some(a.server().clock.now());
    config.exports.job_interval_seconds = 0;
    let duck = usagi_warehouse_duckdb::DuckWarehouse::open(&dir_b.path().join("warehouse.duckdb"), &Default::default())
        .expect("warehouse");
    let b = usagi_server::start(dir_b.path(), config, Arc::new(duck)).await.expect("server B starts");
    let base_b = format!("http://{}", b.addr);
    let creds = json!({"userName": EMAIL, "password": PASSWORD});

    // "Cookie Missing" from A sets the CSRF cookie; B accepts it and logs in.
    let first = a.post_json("/v3/auth/web", &creds).await;
    assert_eq!(first.status(), 401);
    let on_b = a
        .client
        .post(format!("{base_b}/v3/auth/web"))
        .headers(TestApp::origin_headers())
        .json(&creds)
        .send()
        .await
        .expect("request");
    assert_eq!(on_b.status(), 200, "B accepts the CSRF cookie A issued");

    // The session B created works on A, and on B.
    assert_eq!(a.date_range(&report_body()).await.0, 200);
    let report_b = a
        .client
        .post(format!("{base_b}/v3/reporting/generic/dateRange/{}", crate::helpers::PRODUCT))
        .headers(TestApp::origin_headers())
        .json(&report_body())
        .send()
        .await
        .expect("request");
    assert_eq!(report_b.status(), 200);

    // Logging out on A ends it on B.
    assert_eq!(a.post_json("/v3/auth/logout", &json!({})).await.status(), 204);
    let after = a
        .client
        .post(format!("{base_b}/v3/reporting/generic/dateRange/{}", crate::helpers::PRODUCT))
        .headers(TestApp::origin_headers())
        .json(&report_body())
        .send()
        .await
        .expect("request");
    assert_eq!(after.status(), 401);
    b.shutdown().await;
}
