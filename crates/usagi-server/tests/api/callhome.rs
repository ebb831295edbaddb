//! Call-home protocol conformance (callhome-protocol.md §3–§9) against the real server.

use std::io::Write;

use serde_json::{json, Value};
use usagi_protocol::signing::{sign, ProductSecret};

use crate::helpers::*;

const CLIENT: &str = "4F2A9C1E7B3D5A60";

fn batch(batch_id: &str, records: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "clientId": CLIENT, "machineId": "9D1C0B7E5A3F2D48C6E1A0B9F7D3C215", "appName": "DemoApp",
        "sdk": {"name": "ui-sdk-rust", "version": "1.0.0"}, "batchId": batch_id, "seq": 1, "records": records,
    }))
    .unwrap()
}

fn one_event() -> Value {
    json!([{"kind": "event", "t": ms(2024, 3, 20, 11, 0), "category": "File Operations", "name": "Open"}])
}

async fn status_of(resp: reqwest::Response) -> (u16, Value) {
    let code = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asserts an error answer and that the ingest log did not grow.
async fn assert_rejected(
    app: &TestApp,
    resp: reqwest::Response,
    code: u16,
    word: &str,
    reason_part: &str,
    lsn_before: u64,
) {
    let (got, body) = status_of(resp).await;
    assert_eq!(got, code, "{body}");
    assert_eq!(body["status"], word, "{body}");
    assert!(
        body["reason"].as_str().unwrap_or("").contains(reason_part),
        "reason {:?} lacks {reason_part:?}",
        body["reason"]
    );
    assert_eq!(app.server().ingest.durable_lsn(), lsn_before, "nothing was stored");
}

#[tokio::test]
async fn spec_complete_example_is_accepted_then_duplicate() {
    let app = TestApp::spawn().await;
    app.set_now(at(2024, 3, 19, 10, 0, 0));
    let body = br#"{"clientId":"4F2A9C1E7B3D5A60","machineId":"9D1C0B7E5A3F2D48C6E1A0B9F7D3C215","appName":"DemoApp",
 "sdk":{"name":"ui-sdk-rust","version":"1.0.0"},"batchId":"6a0c1f52-93d4-4b8e-a7f1-0e2d5c9b3a71","seq":42,
 "records":[
  {"kind":"sessionStart","t":1710841800000},
  {"kind":"properties","t":1710841800001,
   "product":{"edition":"Pro","language":"en","version":"2.1","build":"2104"},
   "machine":{"os":{"platform":"Microsoft Windows","version":"Microsoft Windows 10","edition":"Microsoft Windows 10 Pro"},
              "osLanguage":"de-DE","osWordLength":64,"cpuType":"Intel(R) Core(TM) i7-8650U","cpuCores":8,"ram":16384,
              "displayCount":2,"resolutionWidth":1920,"resolutionHeight":1080,"screenPpi":96,"touchScreen":false,
              "formFactor":"laptop","gpu":{"vendor":"Intel","model":"UHD Graphics 620"},"vm":"none",
              "dotNetVersion":"4.8, 6.0.25","java":null},
   "custom":{"1":"web-download","2":null}},
  {"kind":"licenseData","t":1710841800002,"licenseType":"purchased","activated":true,"expired":false,"blocked":null,"allowed":null},
  {"kind":"event","t":1710841815000,"category":"File Operations","name":"Open","value":null,"custom":null},
  {"kind":"event","t":1710841830000,"category":"Export","name":"PDF","value":3.5,"custom":{"pages":"12","format":"A4"}},
  {"kind":"exception","t":1710841900000,"className":"ExportService","methodName":"render",
   "message":"font not found","stackTrace":"ExportService.render(ExportService.cs:88)\n..."},
  {"kind":"heartbeat","t":1710842399000}]}"#
        .to_vec();
    let (code, first) = status_of(app.callhome_raw("sync", body.clone(), None).await).await;
    assert_eq!(code, 200, "{first}");
    let keys: Vec<&String> = first.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["accepted", "dropped", "ignored", "duplicate", "nextSyncSeconds", "instruction", "reachOut", "serverTime"]
    );
    assert_eq!(first["accepted"], 7);
    assert_eq!(first["duplicate"], false);
    assert_eq!(first["nextSyncSeconds"], 1200);
    assert_eq!(first["instruction"], Value::Null);
    assert_eq!(first["serverTime"], 1710842400000i64);
    let (code, again) = status_of(app.callhome_raw("sync", body, None).await).await;
    assert_eq!(code, 200);
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["accepted"], 7);
    app.settle().await;
    assert_eq!(app.count("SELECT count(*) FROM contacts").await, 1, "a duplicate is not a second contact");
    assert_eq!(app.count("SELECT count(*) FROM events").await, 2);
    assert_eq!(app.count("SELECT count(*) FROM exceptions").await, 1);
    // One implicit session: start 10:50:00, crashed, last record the heartbeat at 10:59:59.
    assert_eq!(app.count("SELECT end_t - start_t FROM sessions").await, 599_000);
}

#[tokio::test]
async fn concurrent_copies_of_a_batch_are_applied_once() {
    let app = TestApp::spawn().await;
    let id = uuid::Uuid::new_v4().to_string();
    let body = batch(&id, one_event());
    let answers = futures::future::join_all((0..8).map(|_| app.callhome_raw("sync", body.clone(), None))).await;
    let mut fresh = 0;
    for resp in answers {
        let (code, v) = status_of(resp).await;
        assert_eq!(code, 200);
        if v["duplicate"] == false {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1, "exactly one copy is applied");
    app.settle().await;
    assert_eq!(app.count("SELECT count(*) FROM events").await, 1);
}

#[tokio::test]
async fn healthz_reports_the_ingest_backlog() {
    let app = TestApp::spawn().await;
    let health = || async {
        let resp = app.client.get(format!("{}/healthz", app.base)).send().await.expect("healthz");
        assert_eq!(resp.status(), 200, "no credentials needed");
        resp.json::<Value>().await.expect("json")
    };
    let before = health().await;
    assert_eq!(before["status"], "ok");
    let (code, _) =
        status_of(app.callhome_raw("sync", batch(&uuid::Uuid::new_v4().to_string(), one_event()), None).await).await;
    assert_eq!(code, 200);
    app.settle().await;
    let after = health().await;
    let lsn = |v: &Value, k: &str| v["ingest"][k].as_u64().expect("a log position");
    assert!(lsn(&after, "durableLsn") > lsn(&before, "durableLsn"), "the sync moved the log: {before} {after}");
    assert_eq!(lsn(&after, "loadedLsn"), lsn(&after, "durableLsn"), "{after}");
    assert_eq!(after["ingest"]["backlogBytes"], 0, "{after}");
}

/// `ingest.load_linger_ms` / `min_load_kb` (on by default for ClickHouse, which wants large
/// inserts): a small backlog waits for more data; enough data loads at once.
#[tokio::test]
async fn a_lingering_loader_waits_for_enough_data() {
    let mut config = usagi_server::ServerConfig::default();
    (config.ingest.load_linger_ms, config.ingest.min_load_kb) = (Some(3_600_000), 4);
    let app = TestApp::spawn_with(Setup { config: Some(config), ..Default::default() }).await;
    let sync = |records: Value| {
        let app = &app;
        async move {
            let body = batch(&uuid::Uuid::new_v4().to_string(), records);
            assert_eq!(status_of(app.callhome_raw("sync", body, None).await).await.0, 200);
        }
    };
    sync(one_event()).await;
    let ingest = &app.server().ingest;
    let first = ingest.durable_lsn();
    assert!(!ingest.wait_loaded(first, std::time::Duration::from_millis(800)).await, "one event lingers");
    assert!(ingest.backlog_bytes() > 0 && ingest.backlog_bytes() < 4096, "{}", ingest.backlog_bytes());
    let many: Vec<Value> = (0..200)
        .map(|i| json!({"kind": "event", "t": ms(2024, 3, 20, 11, 0) + i, "category": "File Operations", "name": format!("Event {i}")}))
        .collect();
    sync(Value::Array(many)).await;
    assert!(ingest.wait_loaded(ingest.durable_lsn(), std::time::Duration::from_secs(60)).await, "4 KiB load at once");
    assert_eq!(app.count("SELECT count(*) FROM events").await, 201, "both batches, in one load");
}

#[tokio::test]
async fn signing_and_routing_errors() {
    let app = TestApp::spawn().await;
    let lsn = app.server().ingest.durable_lsn();
    let body = batch(&uuid::Uuid::new_v4().to_string(), one_event());
    let url = |p: &str| format!("{}/callhome/v1/{p}", app.base);

    // 404: unknown product, malformed product, unknown action, wrong method.
    let r = app.client.post(url("1111111111/sync")).body(body.clone()).send().await.unwrap();
    assert_rejected(&app, r, 404, "NOT FOUND", "", lsn).await;
    let r = app.client.post(url("12/sync")).body(body.clone()).send().await.unwrap();
    assert_rejected(&app, r, 404, "NOT FOUND", "", lsn).await;
    let r = app.client.post(url(&format!("{PRODUCT}/upload"))).body(body.clone()).send().await.unwrap();
    assert_rejected(&app, r, 404, "NOT FOUND", "", lsn).await;
    let r = app.client.get(url(&format!("{PRODUCT}/sync"))).send().await.unwrap();
    assert_rejected(&app, r, 404, "NOT FOUND", "", lsn).await;

    // 401: missing headers, stale timestamp (with serverTime), bad signature, ASCII-keyed signature.
    let r = app
        .client
        .post(url(&format!("{PRODUCT}/sync")))
        .header("Content-Type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_rejected(&app, r, 401, "AUTH ERROR", "missing or malformed signature headers", lsn).await;
    let secret = ProductSecret::parse_hex(&app.secret).unwrap();
    let stale = (app.server().clock.now().timestamp() - 601).to_string();
    let r = app
        .client
        .post(url(&format!("{PRODUCT}/sync")))
        .header("Content-Type", "application/json")
        .header("X-Timestamp", &stale)
        .header("X-Signature", sign(&secret, &stale, &body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let (code, v) = status_of(r).await;
    assert_eq!((code, v["reason"].as_str()), (401, Some("timestamp out of range")));
    assert_eq!(v["serverTime"], app.server().clock.now().timestamp_millis());
    let ts = app.server().clock.now().timestamp().to_string();
    let wrong = ProductSecret::parse_hex("00000000000000000000000000000000").unwrap();
    let r = app
        .client
        .post(url(&format!("{PRODUCT}/sync")))
        .header("Content-Type", "application/json")
        .header("X-Timestamp", &ts)
        .header("X-Signature", sign(&wrong, &ts, &body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_rejected(&app, r, 401, "AUTH ERROR", "bad signature", lsn).await;
}

#[tokio::test]
async fn body_and_validation_errors_store_nothing() {
    let app = TestApp::spawn().await;
    let lsn = app.server().ingest.durable_lsn();
    let id = uuid::Uuid::new_v4().to_string();

    // 413: over 1 MiB on the wire.
    let huge = vec![b' '; (1 << 20) + 1];
    assert_rejected(&app, app.callhome_raw("sync", huge, None).await, 413, "TOO LARGE", "", lsn).await;
    // 413: a decompression bomb (100 MiB of zeros in ~100 KiB of gzip) is stopped early.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..100 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 1 << 20);
    assert_rejected(&app, app.callhome_raw("sync", bomb, Some("gzip")).await, 413, "TOO LARGE", "", lsn).await;
    // 413: the small endpoints allow 16 KiB.
    let big_ping = format!(r#"{{"clientId":"{CLIENT}","pad":"{}"}}"#, "x".repeat(17 << 10)).into_bytes();
    assert_rejected(&app, app.callhome_raw("ping", big_ping, None).await, 413, "TOO LARGE", "", lsn).await;

    // 400: encoding, corrupt data, content type, JSON.
    assert_rejected(
        &app,
        app.callhome_raw("sync", batch(&id, one_event()), Some("br")).await,
        400,
        "SYNTAX ERROR",
        "br",
        lsn,
    )
    .await;
    assert_rejected(
        &app,
        app.callhome_raw("sync", b"not gzip at all".to_vec(), Some("gzip")).await,
        400,
        "SYNTAX ERROR",
        "",
        lsn,
    )
    .await;
    let ts = app.server().clock.now().timestamp().to_string();
    let secret = ProductSecret::parse_hex(&app.secret).unwrap();
    let body = batch(&id, one_event());
    let r = app
        .client
        .post(format!("{}/callhome/v1/{PRODUCT}/sync", app.base))
        .header("Content-Type", "text/plain")
        .header("X-Timestamp", &ts)
        .header("X-Signature", sign(&secret, &ts, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_rejected(&app, r, 400, "SYNTAX ERROR", "Content-Type", lsn).await;
    assert_rejected(&app, app.callhome_raw("sync", b"[1,2]".to_vec(), None).await, 400, "SYNTAX ERROR", "", lsn).await;
    assert_rejected(&app, app.callhome_raw("sync", vec![0xff, 0xfe, b'{'], None).await, 400, "SYNTAX ERROR", "", lsn)
        .await;
    assert_rejected(
        &app,
        app.callhome_raw("sync", b"{\"clientId\":".to_vec(), None).await,
        400,
        "SYNTAX ERROR",
        "",
        lsn,
    )
    .await;

    // 400: record validation names the record and the field; the whole batch is refused.
    let t = ms(2024, 3, 20, 11, 0);
    let cases: Vec<(Value, &str)> = vec![
        (
            json!([{"kind":"event","t":t,"name":"Open"},{"kind":"event","t":t,"name":""}]),
            "records[1].name must be 1-128 characters",
        ),
        (json!([{"kind":"event","t":t,"name":"Open","category":"x".repeat(129)}]), "records[0].category"),
        (json!([{"kind":"event","t":"soon","name":"Open"}]), "records[0].t"),
        (json!([{"kind":"sessionStart","t":t,"sessionId":"short"}]), "records[0].sessionId"),
        (json!([{"kind":"licenseData","t":t,"licenseType":"gold"}]), "records[0].licenseType"),
        (json!([{"kind":"properties","t":t,"machine":{"cpuCores":0}}]), "records[0].machine.cpuCores"),
        (json!([{"kind":"properties","t":t,"custom":{"21":"x"}}]), "records[0].custom"),
        (json!([{"kind":"exception","t":t,"className":"X"}]), "records[0].methodName"),
        (
            json!([{"kind":"exception","t":t,"className":"X","methodName":"m","message":"m".repeat(1025)}]),
            "records[0].message",
        ),
        (
            json!([{"kind":"exception","t":t,"className":"X","methodName":"m","stackTrace":"s".repeat(32769)}]),
            "records[0].stackTrace",
        ),
        (json!([{"kind":"event","t":t,"name":"Open","value":"v".repeat(1025)}]), "records[0].value"),
        (json!([{"kind":"event","t":t,"name":"Open","value":true}]), "records[0].value"),
        (json!([{"kind":"event","t":t,"name":"Open","custom":{"a key":"v"}}]), "records[0].custom"),
        (
            json!([{"kind":"event","t":t,"name":"Open","custom":(0..51).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()}]),
            "records[0].custom",
        ),
        (json!([{"kind":"event","t":t,"name":"n".repeat(129)}]), "records[0].name"),
        (json!([{"kind":"sessionStart","t":t,"sessionId":"session\t0001"}]), "records[0].sessionId"),
        (json!([{"kind":"properties","t":t,"machine":{"osWordLength":16}}]), "records[0].machine.osWordLength"),
        (json!([{"kind":"properties","t":t,"machine":{"touchScreen":"yes"}}]), "records[0].machine.touchScreen"),
        (
            json!([{"kind":"properties","t":t,"machine":{"resolutionWidth":70000}}]),
            "records[0].machine.resolutionWidth",
        ),
        (json!([{"kind":"properties","t":t,"machine":{"ram":1.5}}]), "records[0].machine.ram"),
        (json!([{"kind":"properties","t":t,"product":{"version":"v".repeat(129)}}]), "records[0].product.version"),
        (json!([{"kind":"properties","t":t,"custom":{"01":"x"}}]), "records[0].custom"),
        (json!([{"kind":"properties","t":t,"custom":{"1":"x".repeat(1025)}}]), "records[0].custom"),
        (json!([{"kind":"licenseData","t":t,"activated":"yes"}]), "records[0].activated"),
        (json!([{"kind":"event","t":-1,"name":"Open"}]), "records[0].t"),
        (json!([{"t":t,"name":"Open"}]), "records[0].kind"),
    ];
    for (records, needle) in cases {
        let resp = app.callhome_raw("sync", batch(&uuid::Uuid::new_v4().to_string(), records.clone()), None).await;
        assert_rejected(&app, resp, 400, "SYNTAX ERROR", needle, lsn).await;
    }
    let bad_envelope = serde_json::to_vec(&json!({"clientId":"4f2a9c1e7b3d5a60","appName":"DemoApp","sdk":{"name":"s","version":"1"},"batchId":id,"seq":1,"records":[]})).unwrap();
    assert_rejected(&app, app.callhome_raw("sync", bad_envelope, None).await, 400, "SYNTAX ERROR", "clientId", lsn)
        .await;
    let bad_id = serde_json::to_vec(&json!({"clientId":CLIENT,"appName":"DemoApp","sdk":{"name":"s","version":"1"},"batchId":"nope","seq":1,"records":[]})).unwrap();
    assert_rejected(&app, app.callhome_raw("sync", bad_id, None).await, 400, "SYNTAX ERROR", "batchId", lsn).await;
    let envelope = |field: &str, value: Value| {
        let mut b = json!({"clientId":CLIENT,"machineId":null,"appName":"DemoApp","sdk":{"name":"s","version":"1"},
                           "batchId":uuid::Uuid::new_v4().to_string(),"seq":1,"records":[]});
        b[field] = value;
        serde_json::to_vec(&b).unwrap()
    };
    let too_many: Vec<Value> = (0..10_001).map(|_| json!({"kind":"heartbeat","t":t})).collect();
    for (field, value) in [
        ("machineId", json!("has space")),
        ("appName", json!("Demo App")),
        ("appName", json!("")),
        ("sdk", json!({"name":"UPPER","version":"1"})),
        ("seq", json!(0)),
        ("seq", json!(9_007_199_254_740_992u64)),
        ("records", Value::Array(too_many)),
    ] {
        assert_rejected(
            &app,
            app.callhome_raw("sync", envelope(field, value), None).await,
            400,
            "SYNTAX ERROR",
            field,
            lsn,
        )
        .await;
    }
}

#[tokio::test]
async fn compression_clamping_unknown_kinds_and_retention() {
    let app = TestApp::spawn().await;
    let now = ms(2024, 3, 20, 12, 0);
    let records = json!([
        {"kind":"event","t": now + 3_600_000, "name":"Future"},
        {"kind":"event","t": now + 500_000, "name":"SlightlyAhead"},
        {"kind":"hologram","t": now},
        {"kind":"event","t": ms(2020, 1, 1, 0, 0), "name":"Ancient"},
        {"kind":"event","t": now, "name":"Plain", "futureMember": 1}
    ]);
    let gz = gzip(&batch(&uuid::Uuid::new_v4().to_string(), records));
    let (code, v) = status_of(app.callhome_raw("sync", gz, Some("gzip")).await).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!((v["accepted"].as_i64(), v["dropped"].as_i64(), v["ignored"].as_i64()), (Some(3), Some(1), Some(1)));
    let zst = zstd::encode_all(&batch(&uuid::Uuid::new_v4().to_string(), one_event())[..], 3).unwrap();
    let (code, v) = status_of(app.callhome_raw("sync", zst, Some("zstd")).await).await;
    assert_eq!((code, v["accepted"].as_i64()), (200, Some(1)));
    app.settle().await;
    assert_eq!(app.count("SELECT t FROM events WHERE name = 'Future'").await, now, "clamped to the receive time");
    assert_eq!(
        app.count("SELECT t FROM events WHERE name = 'SlightlyAhead'").await,
        now + 500_000,
        "within 10 minutes: kept"
    );
    assert_eq!(app.count("SELECT count(*) FROM events WHERE name = 'Ancient'").await, 0);
}

#[tokio::test]
async fn ping_optout_and_license_calls() {
    let app = TestApp::spawn().await;
    let (code, v) = status_of(app.callhome_raw("ping", b"{}".to_vec(), None).await).await;
    assert_eq!(code, 200);
    assert_eq!(
        v,
        json!({"ok": true, "productId": PRODUCT, "protocolVersion": 1, "serverTime": app.server().clock.now_ms()})
    );

    let body =
        serde_json::to_vec(&json!({"clientId": CLIENT, "appName": "DemoApp", "t": ms(2024, 3, 20, 11, 0)})).unwrap();
    let (code, v) = status_of(app.callhome_raw("optout", body, None).await).await;
    assert_eq!((code, &v["optedOut"]), (200, &json!(true)));

    let check = serde_json::to_vec(&json!({"clientId": CLIENT, "licenseKey": "ABCD-1234"})).unwrap();
    let (code, v) = status_of(app.callhome_raw("license/check", check.clone(), None).await).await;
    assert_eq!(code, 200);
    assert_eq!(v["known"], false);
    assert_eq!(v["licenseType"], "unknown");
    let set = serde_json::to_vec(&json!({"clientId": CLIENT, "licenseKey": "ABCD-1234", "t": ms(2024, 3, 20, 11, 0)}))
        .unwrap();
    let (_, v) = status_of(app.callhome_raw("license/set", set.clone(), None).await).await;
    assert_eq!(v["known"], false, "unknown before the call");
    let (_, v) = status_of(app.callhome_raw("license/set", set, None).await).await;
    assert_eq!(v["known"], true, "auto-collected by the first set");
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "licenseKey",
            "known",
            "licenseType",
            "expired",
            "activated",
            "blocked",
            "allowed",
            "expiryDate",
            "serverTime"
        ]
    );
    // 60 license calls per hour per installation, then 429 with Retry-After.
    let mut limited = None;
    for _ in 0..60 {
        let r = app.callhome_raw("license/check", check.clone(), None).await;
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("rate limited within 60 calls");
    assert!(r.headers().get("retry-after").is_some());
    // Neither optout nor license calls are contacts or evidence of activity.
    app.settle().await;
    assert_eq!(app.count("SELECT count(*) FROM contacts").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM clients").await, 0);
}

#[tokio::test]
async fn disabled_and_backed_off_installations_are_answered_with_instructions() {
    let app = TestApp::spawn().await;
    let product = usagi_types::ProductId::parse(PRODUCT).unwrap();
    let client = usagi_types::ClientId::parse(CLIENT).unwrap();
    app.server().catalog.set_installation_disabled(product, client, true).await.unwrap();
    let lsn = app.server().ingest.durable_lsn();
    let (code, v) =
        status_of(app.callhome_raw("sync", batch(&uuid::Uuid::new_v4().to_string(), one_event()), None).await).await;
    assert_eq!(code, 200);
    assert_eq!(v["instruction"], json!({"disable": true}));
    assert_eq!((v["accepted"].as_i64(), v["dropped"].as_i64()), (Some(0), Some(1)));
    assert_eq!(app.server().ingest.durable_lsn(), lsn, "a discarded batch is not stored");

    app.server().catalog.set_installation_disabled(product, client, false).await.unwrap();
    let until = app.server().clock.now() + chrono::Duration::hours(36);
    app.server().catalog.start_back_off(product, Some(client), until).await.unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let (_, v) = status_of(app.callhome_raw("sync", batch(&id, one_event()), None).await).await;
    assert_eq!(v["instruction"], json!({"backOffDays": 2}), "remaining whole days, rounded up");
    // No receipt was kept: once the back-off ends the same batch is judged again and stored.
    app.server().catalog.clear_back_off(product, Some(client)).await.unwrap();
    let (_, v) = status_of(app.callhome_raw("sync", batch(&id, one_event()), None).await).await;
    assert_eq!((v["accepted"].as_i64(), &v["duplicate"], &v["instruction"]), (Some(1), &json!(false), &Value::Null));
}

#[tokio::test]
async fn installations_over_the_quota_are_backed_off() {
    let app = TestApp::spawn().await;
    let product = usagi_types::ProductId::parse(PRODUCT).unwrap();
    let patch = usagi_catalog::ProductSettingsPatch { max_active_installations: Some(Some(1)), ..Default::default() };
    app.server().catalog.update_product_settings(product, patch).await.unwrap();
    let t = ms(2024, 3, 20, 11, 0);
    let first = app
        .sync_at(at(2024, 3, 20, 12, 0, 0), "00000000000000A1", vec![json!({"kind":"event","t":t,"name":"Open"})])
        .await;
    assert_eq!(first["instruction"], Value::Null);
    app.settle().await;
    let second = app
        .sync_at(at(2024, 3, 20, 12, 0, 0), "00000000000000A2", vec![json!({"kind":"event","t":t,"name":"Open"})])
        .await;
    assert_eq!(second["instruction"], json!({"backOffDays": 7}));
    assert_eq!((second["accepted"].as_i64(), second["dropped"].as_i64()), (Some(0), Some(1)));
    // The installation already in the active set keeps syncing.
    let again = app
        .sync_at(at(2024, 3, 20, 12, 5, 0), "00000000000000A1", vec![json!({"kind":"event","t":t,"name":"Save"})])
        .await;
    assert_eq!((again["accepted"].as_i64(), &again["instruction"]), (Some(1), &Value::Null));
    // The backed-off one stays backed off, with the end fixed when it started.
    let later = app.sync_at(at(2024, 3, 22, 12, 0, 0), "00000000000000A2", vec![]).await;
    assert_eq!(later["instruction"], json!({"backOffDays": 5}));
    app.settle().await;
    assert_eq!(app.count("SELECT count(DISTINCT client_id) FROM contacts").await, 1);
}
