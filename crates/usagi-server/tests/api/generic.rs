//! Generic reports: worked Example 1 of semantics.md, request validation, and a
//! property test against a naive reference.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate};
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::helpers::*;

const A: &str = "00000000000000AA";
const B: &str = "00000000000000BB";
const C: &str = "00000000000000CC";

fn session(day: u32) -> Vec<Value> {
    vec![
        json!({"kind": "sessionStart", "t": ms(2024, 3, day, 9, 0)}),
        json!({"kind": "sessionStop", "t": ms(2024, 3, day, 10, 0)}),
    ]
}

/// Ingests Example 1's syncs received up to and including `last_day` of March 2024, in receive order.
async fn example1_syncs(app: &TestApp, from_day: u32, last_day: u32) {
    let mut syncs: Vec<(chrono::DateTime<chrono::Utc>, &str, Vec<Value>)> = Vec::new();
    for d in [1, 2, 5] {
        syncs.push((at(2024, 3, d, 10, 0, 5), A, session(d)));
    }
    for d in [2, 3, 10, 12, 18] {
        syncs.push((at(2024, 3, d, 10, 0, 5), B, session(d)));
    }
    syncs.push((
        at(2024, 3, 7, 8, 0, 5),
        C,
        vec![
            json!({"kind": "sessionStart", "t": ms(2024, 3, 4, 9, 0)}),
            json!({"kind": "sessionStop", "t": ms(2024, 3, 4, 10, 0)}),
            json!({"kind": "sessionStart", "t": ms(2024, 3, 6, 9, 0)}),
            json!({"kind": "event", "t": ms(2024, 3, 6, 9, 30), "category": "File Operations", "name": "Open"}),
            json!({"kind": "sessionStop", "t": ms(2024, 3, 6, 11, 0)}),
            json!({"kind": "sessionStart", "t": ms(2024, 3, 7, 8, 0)}),
        ],
    ));
    syncs.push((at(2024, 3, 7, 8, 10, 5), C, vec![json!({"kind": "sessionStop", "t": ms(2024, 3, 7, 8, 10)})]));
    syncs.sort_by_key(|s| s.0);
    for (received, client, records) in syncs {
        let day = received.day();
        if day >= from_day && day <= last_day {
            app.sync_at(received, client, records).await;
        }
    }
}

const QUERY1: &str = r#"{"startDate":"2024-03-01","stopDate":"2024-03-07","dateSplit":"day","clientStatus":["new","active","lost"],"daysUntilDeclaredLost":3,"dateReportedLost":"dateLastSeen"}"#;
const QUERY2: &str = r#"{"startDate":"2024-03-01","stopDate":"2024-03-14","dateSplit":"week","clientStatus":["new","active","lost"],"daysUntilDeclaredLost":3,"dateReportedLost":"dateDeclaredLost"}"#;

#[tokio::test]
async fn worked_example_1_new_active_lost() {
    let app = TestApp::spawn().await;
    app.login().await;

    // Query 2 run on 2024-03-09 with only the data known by then.
    example1_syncs(&app, 1, 9).await;
    app.set_now(at(2024, 3, 9, 12, 0, 0));
    let (status, body) = app.date_range(&serde_json::from_str(QUERY2).unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        compact(
            r#"{"result":{"2024-02-26":{"new":2,"active":2,"lost":0},
                "2024-03-04":{"new":1,"active":2,"lost":2},
                "2024-03-11":{"new":0,"active":0,"lost":0}}}"#
        )
    );

    // The rest arrives; on 2024-03-20 B has returned and C is lost.
    example1_syncs(&app, 10, 31).await;
    app.set_now(at(2024, 3, 20, 12, 0, 0));
    let (status, body) = app.date_range(&serde_json::from_str(QUERY1).unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        compact(
            r#"{"result":{"2024-03-01":{"new":1,"active":1,"lost":0},"2024-03-02":{"new":1,"active":2,"lost":0},
               "2024-03-03":{"new":0,"active":1,"lost":0},"2024-03-04":{"new":1,"active":1,"lost":0},
               "2024-03-05":{"new":0,"active":1,"lost":1},"2024-03-06":{"new":0,"active":1,"lost":0},
               "2024-03-07":{"new":0,"active":1,"lost":1}}}"#
        )
    );
    let (status, body) = app.date_range(&serde_json::from_str(QUERY2).unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        compact(
            r#"{"result":{"2024-02-26":{"new":2,"active":2,"lost":0},
               "2024-03-04":{"new":1,"active":3,"lost":2},
               "2024-03-11":{"new":0,"active":1,"lost":0}}}"#
        )
    );

    // No split: one total; statuses only as requested, in the order new, active, lost.
    let (_, body) = app
        .date_range(&json!({"startDate":"2024-03-01","stopDate":"2024-03-07","clientStatus":["lost","active"],"daysUntilDeclaredLost":3}))
        .await;
    assert_eq!(body, r#"{"result":{"totals":{"active":3,"lost":2}}}"#);

    // current = dateRange up to today; NOW-n dates; GET with ?query=.
    let resp = app
        .post_json(
            &format!("/v3/reporting/generic/current/{PRODUCT}"),
            &json!({"startDate":"NOW-19","clientStatus":["new","active"]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), r#"{"result":{"totals":{"new":3,"active":3}}}"#);
    let q = r#"{"startDate":"2024-03-01","stopDate":"2024-03-07","dateSplit":"day","clientStatus":["new","active","lost"],"daysUntilDeclaredLost":3}"#;
    let resp = app
        .client
        .get(format!("{}/v3/Reporting/Generic/DateRange/{PRODUCT}/", app.base))
        .query(&[("query", q), ("resultFormat", "raw")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let via_get = resp.text().await.unwrap();
    assert_eq!(via_get, app.date_range(&serde_json::from_str(QUERY1).unwrap()).await.1);
}

#[tokio::test]
async fn generic_report_rejects_bad_requests_naming_the_field() {
    let app = TestApp::spawn().await;
    app.login().await;
    let base = json!({"startDate":"2024-03-01","stopDate":"2024-03-07","clientStatus":["active"]});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (json!({"stopDate":"2024-03-07","clientStatus":["active"]}), "field 'startDate' is required"),
        (with("clientStatus", json!(["active", "gone"])), "field 'clientStatus[1]' must be one of: new, active, lost"),
        (with("clientStatus", json!([])), "clientStatus"),
        (with("clientStatus", json!(["new", "new"])), "clientStatus[1]"),
        (with("daysUntilDeclaredLost", json!(40.0)), "field 'daysUntilDeclaredLost' must be an integer"),
        (with("daysUntilDeclaredLost", json!(0)), "daysUntilDeclaredLost"),
        (with("dateSplit", json!("year")), "field 'dateSplit' must be one of: day, week, month, null"),
        (with("dateReportedLost", json!("never")), "dateReportedLost"),
        (with("startDate", json!("2024-02-30")), "startDate"),
        (with("startDate", json!("NOW+1")), "startDate"),
        (with("startDate", json!("2024-03-08")), "must not be after stopDate"),
        (with("startDate", json!("2020-01-01")), "oldest allowed startDate is 2021-03-21"),
        (with("groupBy", json!("cpuType")), "field 'groupBy' must be one of"),
        (with("levels", json!({"level1":{"property":"prodVersion","segments":[]}})), "levels"),
        (with("dateSplitt", json!("day")), "unknown field 'dateSplitt'"),
        (with("productId", json!("1234567890")), "productId"),
    ];
    for (body, needle) in cases {
        let (status, text) = app.date_range(&body).await;
        assert_eq!(status, 400, "{body} → {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["status"], "SYNTAX ERROR");
        assert!(v["reason"].as_str().unwrap().contains(needle), "{body}: reason {:?} lacks {needle:?}", v["reason"]);
        assert_eq!(v.as_object().unwrap().len(), 2, "error body has exactly status and reason");
    }
    // Tolerated v2 fields and a matching productId pass; null optional fields are defaults.
    let ok = with("productId", json!(PRODUCT));
    let mut ok = ok;
    ok["user"] = json!("someone");
    ok["dateSplit"] = Value::Null;
    ok["levels"] = json!({});
    assert_eq!(app.date_range(&ok).await.0, 200);
    // Malformed JSON, duplicate keys, wrong content type, bad product id, unknown product.
    let raw = |body: &'static str, ct: &'static str| {
        app.client
            .post(format!("{}/v3/reporting/generic/dateRange/{PRODUCT}", app.base))
            .header("Origin", ORIGIN)
            .header("Content-Type", ct)
            .body(body)
            .send()
    };
    assert_eq!(raw("{\"startDate\":", "application/json").await.unwrap().status(), 400);
    let dup = raw(
        r#"{"startDate":"2024-03-01","startDate":"2024-03-02","stopDate":"2024-03-07","clientStatus":["active"]}"#,
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(dup.status(), 400);
    assert!(dup.text().await.unwrap().contains("duplicate field 'startDate'"));
    assert_eq!(raw("{}", "text/plain").await.unwrap().status(), 400);
    let resp = app.post_json("/v3/reporting/generic/dateRange/12345", &base).await;
    assert_eq!(resp.status(), 400);
    let resp = app.post_json("/v3/reporting/generic/dateRange/1234567890", &base).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "NOT FOUND");
    // Oversize body.
    let big = format!(r#"{{"startDate":"2024-03-01","pad":"{}"}}"#, "x".repeat(1 << 20));
    let resp = app
        .client
        .post(format!("{}/v3/reporting/generic/dateRange/{PRODUCT}", app.base))
        .header("Origin", ORIGIN)
        .header("Content-Type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "TOO LARGE");
}

/// A naive reference for new/active/lost over generated fleets (semantics §4–§6).
fn naive(
    active: &BTreeMap<u64, BTreeSet<NaiveDate>>,
    start: NaiveDate,
    stop: NaiveDate,
    split: Option<&str>,
    n: i64,
    declared: bool,
    today: NaiveDate,
) -> Value {
    let key_of = |d: NaiveDate| match split {
        Some("day") => d,
        Some("week") => d - Duration::days(d.weekday().num_days_from_monday() as i64),
        Some("month") => d.with_day(1).unwrap(),
        _ => start,
    };
    let mut keys: Vec<NaiveDate> = Vec::new();
    let mut d = start;
    while d <= stop {
        let k = key_of(d);
        if keys.last() != Some(&k) {
            keys.push(k);
        }
        d += Duration::days(1);
    }
    let mut out = serde_json::Map::new();
    for k in &keys {
        let in_period = |day: NaiveDate| day >= start && day <= stop && day <= today && key_of(day) == *k;
        let (mut new, mut act, mut lost) = (0, 0, 0);
        for days in active.values() {
            let first = *days.iter().next().unwrap();
            let last = *days.iter().next_back().unwrap();
            if in_period(first) {
                new += 1;
            }
            if days.iter().any(|d| in_period(*d)) {
                act += 1;
            }
            let declared_at = last + Duration::days(n);
            let reported = if declared { declared_at } else { last };
            if declared_at <= today && reported >= start && reported <= stop && key_of(reported) == *k {
                lost += 1;
            }
        }
        out.insert(k.format("%Y-%m-%d").to_string(), json!({"new": new, "active": act, "lost": lost}));
    }
    if split.is_none() {
        let v = out.into_iter().next().unwrap().1;
        return json!({"result": {"totals": v}});
    }
    json!({"result": Value::Object(out)})
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Random fleets of records on random days, some uploaded late in one offline sync.
    #[test]
    fn generic_report_matches_naive_reference(
        fleet in proptest::collection::vec(
            (proptest::collection::btree_set(0u32..60, 1..8), 0u32..6), 1..8),
        start_off in 0i64..50,
        len in 1i64..60,
        split in prop_oneof![Just(None), Just(Some("day")), Just(Some("week")), Just(Some("month"))],
        n in 1i64..30,
        declared in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let app = TestApp::spawn().await;
            let day0 = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
            let today = NaiveDate::from_ymd_opt(2024, 3, 20).unwrap();
            let mut expected: BTreeMap<u64, BTreeSet<NaiveDate>> = BTreeMap::new();
            // Every record day's data is sent either the same day or `delay` days later in one sync.
            let mut syncs = Vec::new();
            for (i, (days, delay)) in fleet.iter().enumerate() {
                let client = format!("{:016X}", i + 1);
                let last = *days.iter().next_back().unwrap();
                let received = (day0 + Duration::days((last + delay) as i64)).min(today);
                let records: Vec<Value> = days
                    .iter()
                    .map(|d| json!({"kind":"event","t": (day0 + Duration::days(*d as i64)).and_hms_opt(9, 0, 0).unwrap().and_utc().timestamp_millis(),"name":"Tick"}))
                    .collect();
                let set = expected.entry(i as u64 + 1).or_default();
                set.extend(days.iter().map(|d| day0 + Duration::days(*d as i64)));
                set.insert(received);
                syncs.push((received.and_hms_opt(12, 0, 0).unwrap().and_utc(), client, records));
            }
            syncs.sort_by_key(|s| s.0);
            for (r, client, records) in syncs {
                app.sync_at(r, &client, records).await;
            }
            app.set_now(today.and_hms_opt(12, 0, 0).unwrap().and_utc());
            app.login().await;
            let start = day0 + Duration::days(start_off);
            let stop = start + Duration::days(len - 1);
            let mut body = json!({
                "startDate": start.format("%Y-%m-%d").to_string(), "stopDate": stop.format("%Y-%m-%d").to_string(),
                "clientStatus": ["new", "active", "lost"], "daysUntilDeclaredLost": n,
                "dateReportedLost": if declared { "dateDeclaredLost" } else { "dateLastSeen" },
            });
            if let Some(s) = split { body["dateSplit"] = json!(s); }
            let (status, text) = app.date_range(&body).await;
            assert_eq!(status, 200, "{text}");
            let got: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(got, naive(&expected, start, stop, split, n, declared, today), "request {body}");
        });
    }
}

/// Sends one sync with an envelope machineId.
async fn sync_machine(app: &TestApp, day: u32, client: &str, machine: Option<&str>, records: Vec<Value>) {
    app.set_now(at(2024, 3, day, 12, 0, 0));
    let body = json!({"clientId": client, "machineId": machine, "appName": "DemoApp", "sdk": {"name": "s", "version": "1"},
                      "batchId": uuid::Uuid::new_v4().to_string(), "seq": day, "records": records});
    let resp = app.callhome_raw("sync", serde_json::to_vec(&body).unwrap(), None).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn group_by_units_of_installations() {
    let app = TestApp::spawn().await;
    let custom = |v: &str| vec![json!({"kind": "properties", "t": 0, "custom": {"1": v}})];
    let at_day = |mut r: Vec<Value>, day: u32| {
        for x in &mut r {
            x["t"] = json!(ms(2024, 3, day, 9, 0));
        }
        r
    };
    sync_machine(&app, 1, "00000000000000A1", Some("M1"), at_day(custom("web"), 1)).await;
    sync_machine(&app, 3, "00000000000000A2", Some("M1"), at_day(custom("store"), 3)).await;
    sync_machine(&app, 2, "00000000000000A3", Some("M2"), at_day(custom("web"), 2)).await;
    sync_machine(&app, 2, "00000000000000A4", None, vec![]).await;
    app.set_now(at(2024, 3, 20, 12, 0, 0));
    app.login().await;
    let q = |group_by: &str, split: Value| {
        json!({"startDate":"2024-03-01","stopDate":"2024-03-03","dateSplit":split,"clientStatus":["new","active","lost"],
               "daysUntilDeclaredLost":3,"groupBy":group_by})
    };
    // Units M1 = {A1, A2} (installed 03-01, last seen 03-03) and M2 = {A3}; A4 has no machineId.
    let (status, body) = app.date_range(&q("machineId", Value::Null)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, r#"{"result":{"totals":{"new":2,"active":2,"lost":2}}}"#);
    let (_, body) = app.date_range(&q("machineId", json!("day"))).await;
    assert_eq!(
        body,
        compact(
            r#"{"result":{"2024-03-01":{"new":1,"active":1,"lost":0},"2024-03-02":{"new":1,"active":1,"lost":1},
               "2024-03-03":{"new":0,"active":1,"lost":1}}}"#
        )
    );
    // C01: web = {A1, A3}, store = {A2}.
    let (_, body) = app.date_range(&q("C01", Value::Null)).await;
    assert_eq!(body, r#"{"result":{"totals":{"new":2,"active":2,"lost":2}}}"#);
    let (_, body) = app.date_range(&q("clientId", Value::Null)).await;
    assert_eq!(body, r#"{"result":{"totals":{"new":4,"active":4,"lost":4}}}"#);
    // licenseKey needs the licenseKeys permission.
    let (status, body) = app.date_range(&q("licenseKey", Value::Null)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("licenseKey requires the licenseKeys permission"));
}
