//! Retention (callhome §9.4, semantics §2): the daily pass purges detail data older than
//! today − retentionDays; lifetime aggregates and every report within retention are unchanged.

use serde_json::{json, Value};

use crate::helpers::*;

const P: &str = "1111111111111111";
const Q: &str = "2222222222222222";
const R: &str = "3333333333333333";

fn session(start: i64, minutes: i64, mut inner: Vec<Value>) -> Vec<Value> {
    let mut records = vec![json!({"kind": "sessionStart", "t": start})];
    records.append(&mut inner);
    records.push(json!({"kind": "sessionStop", "t": start + minutes * 60_000}));
    records
}

fn event(t: i64, name: &str) -> Value {
    json!({"kind": "event", "t": t, "category": "File Operations", "name": name})
}

fn version(t: i64, v: &str) -> Value {
    json!({"kind": "properties", "t": t, "product": {"version": v, "edition": "Pro"}})
}

/// P: active before the cutoff (03-10), across it and after it; Q: only before it; R: only after.
async fn fleet(app: &TestApp) {
    let at_ms = |d, h, m| ms(2024, 3, d, h, m);
    let p1 = session(at_ms(1, 9, 0), 30, vec![version(at_ms(1, 9, 1), "1.0"), event(at_ms(1, 9, 10), "Open")]);
    app.sync_at(at(2024, 3, 1, 10, 0, 0), P, p1).await;
    let mut p2 = session(at_ms(3, 8, 0), 5, vec![event(at_ms(3, 8, 2), "Save"), version(at_ms(3, 8, 4), "2.0")]);
    p2.push(json!({"kind": "exception", "t": at_ms(3, 8, 3), "className": "Io", "methodName": "read"}));
    app.sync_at(at(2024, 3, 3, 9, 0, 0), P, p2).await;
    // 03-09 23:00 to 03-10 01:30: a session reaching across the cutoff.
    let across = session(at_ms(9, 23, 0), 150, vec![event(at_ms(9, 23, 30), "Open"), event(at_ms(10, 1, 0), "Save")]);
    app.sync_at(at(2024, 3, 10, 2, 0, 0), P, across).await;
    app.sync_at(at(2024, 3, 15, 10, 0, 0), P, session(at_ms(15, 9, 0), 20, vec![event(at_ms(15, 9, 5), "Open")])).await;
    let q = session(at_ms(2, 10, 0), 45, vec![version(at_ms(2, 10, 1), "1.0"), event(at_ms(2, 10, 5), "Open")]);
    app.sync_at(at(2024, 3, 2, 11, 0, 0), Q, q).await;
    app.sync_at(at(2024, 3, 12, 10, 0, 0), R, session(at_ms(12, 9, 0), 60, vec![event(at_ms(12, 9, 5), "Open")])).await;
    let r2 = session(at_ms(16, 9, 0), 10, vec![version(at_ms(16, 9, 1), "3.0"), event(at_ms(16, 9, 2), "Save")]);
    app.sync_at(at(2024, 3, 16, 10, 0, 0), R, r2).await;
    app.settle().await;
    app.set_now(at(2024, 3, 20, 12, 0, 0));
}

async fn post(app: &TestApp, path: &str, body: &Value) -> String {
    let resp = app.post_json(&format!("{path}/{PRODUCT}"), body).await;
    assert_eq!(resp.status(), 200, "{path}");
    resp.text().await.expect("body")
}

async fn get(app: &TestApp, path: &str) -> Value {
    let resp =
        app.client.get(format!("{}{path}", app.base)).headers(TestApp::origin_headers()).send().await.expect("get");
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().await.expect("json")
}

/// Every report a retention of 10 days allows (03-10 to 03-20), as text, plus each profile
/// without its recent sessions and exceptions (capped lists, not limited to retention).
async fn reports(app: &TestApp) -> Vec<(String, String)> {
    let range = json!({"startDate": "2024-03-10", "stopDate": "2024-03-20"});
    let with = |extra: Value| {
        let mut body = range.clone();
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let list = json!({
        "properties": ["dateInstalled", "dateLastSeen", "lifetimeSessionCount", "lifetimeRuntimeMinutes",
                       "lifetimeEventUsage", "prodVersion", "prodEdition"],
        "retDailyData": {"startDate": "2024-03-10", "stopDate": "2024-03-20", "properties": ["prodVersion"]}});
    let opened_twice = json!({"globalFilters": {"lifetimeEventUsage": {"category": "File Operations", "name": "Open", "min": 2}},
                              "properties": ["lifetimeEventUsage"]});
    let opened_at_most_once = json!({"globalFilters": {"lifetimeEventUsage": {"category": "File Operations", "name": "Open", "max": 1}},
                              "properties": ["lifetimeEventUsage"]});
    let events =
        json!([{"category": "File Operations", "name": "Open"}, {"category": "File Operations", "name": "Save"}]);
    let calls = vec![
        (
            "/v3/reporting/generic/dateRange",
            with(
                json!({"dateSplit": "day", "clientStatus": ["new", "active", "lost"], "daysUntilDeclaredLost": 10, "dateReportedLost": "dateDeclaredLost"}),
            ),
        ),
        (
            "/v3/reporting/generic/dateRange",
            with(
                json!({"dateSplit": "week", "clientStatus": ["new", "active", "lost"], "daysUntilDeclaredLost": 10, "dateReportedLost": "dateDeclaredLost"}),
            ),
        ),
        (
            "/v3/reporting/generic/dateRange",
            with(json!({"clientStatus": ["new", "active", "lost"], "daysUntilDeclaredLost": 10,
            "levels": {"level1": {"property": "prodVersion", "segments": [{"type": "regex", "value": ".*", "split": true}]}}})),
        ),
        (
            "/v3/reporting/generic/current",
            json!({"startDate": "2024-03-10", "clientStatus": ["new", "active", "lost"], "daysUntilDeclaredLost": 10, "dateReportedLost": "dateDeclaredLost"}),
        ),
        ("/v3/reporting/engagement/usageDistribution", range.clone()),
        (
            "/v3/reporting/churn/histogram/days",
            with(json!({"daysUntilDeclaredLost": 10, "dateReportedLost": "dateDeclaredLost"})),
        ),
        (
            "/v3/reporting/churn/histogram/sessions",
            with(json!({"daysUntilDeclaredLost": 10, "dateReportedLost": "dateDeclaredLost"})),
        ),
        (
            "/v3/reporting/churn/histogram/runtime",
            with(json!({"daysUntilDeclaredLost": 10, "dateReportedLost": "dateDeclaredLost"})),
        ),
        ("/v3/reporting/eventTracking/basic/dataTable", range.clone()),
        ("/v3/reporting/eventTracking/basic/timeline", with(json!({"dateSplit": "day", "events": events}))),
        ("/v3/reporting/eventTracking/advanced/fullReport", with(json!({"events": events}))),
        ("/v3/reporting/eventTracking/lifetime/dataTable", with(json!({"events": events}))),
        (
            "/v3/reporting/eventTracking/churn/lifetime/dataTable",
            with(json!({"events": events, "daysUntilDeclaredLost": 10, "dateReportedLost": "dateDeclaredLost"})),
        ),
        ("/v3/reporting/eventTracking/lifetime/histogram", with(json!({"events": events}))),
        ("/v3/reporting/clientPropertyList", list),
        ("/v3/reporting/clientPropertyList", opened_twice),
        ("/v3/reporting/clientPropertyList", opened_at_most_once),
        ("/v3/meta/propertyValues", json!({"property": "prodVersion"})),
    ];
    let mut out = Vec::new();
    for (path, body) in calls {
        out.push((format!("{path} {body}"), post(app, path, &body).await));
    }
    out.push(("event-tracking".into(), get(app, &format!("/v3/event-tracking/{PRODUCT}")).await.to_string()));
    for c in [P, Q, R] {
        let mut v = get(app, &format!("/v3/reporting/clientProfile/{PRODUCT}?clientId={c}")).await;
        let r = v["result"].as_object_mut().unwrap();
        r.remove("recentSessions");
        r.remove("recentExceptions");
        out.push((format!("profile {c}"), v.to_string()));
    }
    out
}

fn assert_same(before: &[(String, String)], after: &[(String, String)]) {
    for ((what, a), (_, b)) in before.iter().zip(after) {
        assert_eq!(a, b, "{what}");
    }
}

#[tokio::test]
async fn the_daily_pass_purges_old_detail_and_keeps_lifetime_aggregates() {
    let mut config = usagi_server::ServerConfig::default();
    (config.limits.requests_per_second, config.limits.burst) = (1000.0, 1000.0);
    let app = TestApp::spawn_with(Setup { config: Some(config), ..Default::default() }).await;
    fleet(&app).await;
    app.login().await;
    let flags = json!({"events": [{"category": "File Operations", "name": "Open", "basic": true, "advanced": true},
                                  {"category": "File Operations", "name": "Save", "basic": true, "advanced": true}]});
    let resp = app
        .client
        .put(format!("{}/v3/event-tracking/{PRODUCT}", app.base))
        .headers(TestApp::origin_headers())
        .json(&flags)
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 200);
    let pid = usagi_types::ProductId::parse(PRODUCT).unwrap();
    let patch = usagi_catalog::ProductSettingsPatch { retention_days: Some(10), ..Default::default() };
    app.server().catalog.update_product_settings(pid, patch).await.unwrap();
    let before = reports(&app).await;
    // The two sides of a lifetimeEventUsage filter (at least 2 / at most 1 opens, counting the
    // installations without any) split the fleet.
    let ids = |path: &str| {
        let (_, body) =
            before.iter().find(|(k, _)| k.starts_with("/v3/reporting/clientPropertyList") && k.contains(path)).unwrap();
        let v: Value = serde_json::from_str(body).unwrap();
        v["result"].as_array().unwrap().iter().map(|c| c["clientId"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let (twice, at_most_once) = (ids("\"min\":2"), ids("\"max\":1"));
    assert!(!twice.is_empty() && !at_most_once.is_empty(), "{twice:?} {at_most_once:?}");
    let mut all = [twice, at_most_once].concat();
    all.sort();
    assert_eq!(all, [P, Q, R].map(str::to_string).to_vec(), "disjoint, together the fleet");
    let profile_p = get(&app, &format!("/v3/reporting/clientProfile/{PRODUCT}?clientId={P}")).await;
    assert_eq!(
        profile_p["result"]["lifetime"]["sessionCount"], 4,
        "the lifetime counters span the purged days: {profile_p}"
    );

    let passes = app.server().run_retention().await.unwrap();
    assert_eq!(passes.len(), 1);
    assert_eq!(passes[0].cutoff.to_string(), "2024-03-10");
    assert_eq!(passes[0].purged.installations, 2, "P and Q had detail before 03-10");
    assert_eq!(passes[0].receipts, 3, "the batches received before 03-10");
    for table in ["contacts", "events", "exceptions", "client_days", "event_days", "event_totals"] {
        let n = app.count(&format!("SELECT count(*) FROM {table} WHERE day < DATE '2024-03-10'")).await;
        assert_eq!(n, 0, "{table}");
    }
    assert_same(&before, &reports(&app).await);

    // The first retained day carries the value set before the cutoff.
    let list = post(
        &app,
        "/v3/reporting/clientPropertyList",
        &json!({"properties": ["prodVersion"], "retDailyData": {"startDate": "2024-03-10", "stopDate": "2024-03-10",
                "properties": ["prodVersion"]}}),
    )
    .await;
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["result"][0]["dailyData"], json!([{"date": "2024-03-10", "prodVersion": "2.0"}]));

    // While another server holds the product's purge lease, this one skips the product.
    let catalog = &app.server().catalog;
    let key = usagi_server::retention::purge_lease_key(pid);
    assert!(catalog.acquire_lease(&key, "another-server", 1, std::time::Duration::from_secs(60)).await.unwrap());
    assert!(app.server().run_retention().await.unwrap().is_empty(), "skipped while leased elsewhere");
    catalog.release_lease(&key, "another-server").await.unwrap();

    // The pass is idempotent; the daily task at the next start finds nothing more.
    let again = app.server().run_retention().await.unwrap();
    assert_eq!((again[0].purged.fact_rows, again[0].receipts), (0, 0));
    assert_same(&before, &reports(&app).await);

    // Late old records are dropped at ingest; new ones add to the kept lifetime counters.
    let late = app.sync_at(at(2024, 3, 20, 12, 0, 0), Q, vec![event(ms(2024, 3, 5, 9, 0), "Open")]).await;
    assert_eq!((late["accepted"].as_u64(), late["dropped"].as_u64()), (Some(0), Some(1)), "{late}");
    let new = session(ms(2024, 3, 20, 9, 0), 10, vec![event(ms(2024, 3, 20, 9, 1), "Open")]);
    app.sync_at(at(2024, 3, 20, 12, 0, 0), P, new).await;
    app.settle().await;
    let after = get(&app, &format!("/v3/reporting/clientProfile/{PRODUCT}?clientId={P}")).await;
    let (was, now) = (&profile_p["result"], &after["result"]);
    assert_eq!(now["dateInstalled"], "2024-03-01");
    assert_eq!(now["lifetime"]["sessionCount"], was["lifetime"]["sessionCount"].as_i64().unwrap() + 1);
    assert_eq!(now["lifetime"]["runtimeMinutes"], was["lifetime"]["runtimeMinutes"].as_i64().unwrap() + 10);
    assert_eq!(now["lifetime"]["activeDays"], was["lifetime"]["activeDays"].as_i64().unwrap() + 1);
    assert_eq!(now["lifetime"]["exceptionCount"], 1);
    assert_eq!(
        now["lifetime"]["eventUsage"],
        json!([{"eventCategory": "File Operations", "eventName": "Open", "eventCount": 4,
                "dateFirstUsed": "2024-03-01", "dateLastUsed": "2024-03-20"},
               {"eventCategory": "File Operations", "eventName": "Save", "eventCount": 2,
                "dateFirstUsed": "2024-03-03", "dateLastUsed": "2024-03-10"}])
    );
}
