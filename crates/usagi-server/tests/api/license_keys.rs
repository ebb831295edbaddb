//! License key registry management (reporting-api §12, semantics §12): listing with
//! installation figures, filters and paging; all-or-nothing updates; deletes; the
//! one-bulk-call-per-product rule; permissions.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use usagi_catalog::{NewUser, Role};
use usagi_types::ProductId;

use crate::helpers::*;

fn pid() -> ProductId {
    ProductId::parse(PRODUCT).unwrap()
}

async fn answer(resp: reqwest::Response) -> (u16, Value) {
    let code = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// POSTs to `/v3/licenseKeys/<call>/<PRODUCT>`.
async fn call(app: &TestApp, name: &str, body: &Value) -> (u16, Value) {
    answer(app.post_json(&format!("/v3/licenseKeys/{name}/{PRODUCT}"), body).await).await
}

/// The keys of a listKeys answer, in order.
fn keys(v: &Value) -> Vec<String> {
    v["result"].as_array().unwrap().iter().map(|r| r["licenseKey"].as_str().unwrap().to_string()).collect()
}

/// A second user with `role` (and the flag when asked), logged in with its own cookie jar.
async fn user_client(app: &TestApp, email: &str, role: Role, flag: bool) -> TestApp {
    let server = app.server();
    let user = server
        .catalog
        .create_user(
            NewUser {
                email: email.into(),
                name: "K".into(),
                surname: "U".into(),
                admin: false,
                password: PASSWORD.into(),
            },
            server.clock.now(),
        )
        .await
        .unwrap();
    server.catalog.grant(user.id, pid(), role, flag).await.unwrap();
    let client = TestApp::sibling(app);
    for _ in 0..2 {
        let r = client.post_json("/v3/auth/web", &json!({"userName": email, "password": PASSWORD})).await;
        if r.status() == 200 {
            return client;
        }
    }
    panic!("{email} could not log in");
}

/// The call-home `license/set` of `client` at `t` (the clock moves there).
async fn set_key(app: &TestApp, t: DateTime<Utc>, client: &str, key: &str) {
    app.set_now(t);
    let body = json!({"clientId": client, "licenseKey": key, "t": t.timestamp_millis()});
    let resp = app.callhome_raw("license/set", serde_json::to_vec(&body).unwrap(), None).await;
    assert_eq!(resp.status(), 200, "license/set accepted");
}

const A: &str = "000000000000000A";
const B: &str = "000000000000000B";
const C: &str = "000000000000000C";
const D: &str = "000000000000000D";
const E: &str = "000000000000000E";

/// Five installations (today is 2024-03-20, N = 40, so lost means last seen ≤ 2024-02-09):
/// A uses K-1 and was seen 03-19; B used K-1 and was last seen 01-05 (lost); C moved from
/// K-3 to K-2 and was seen 03-18; D uses K-2, seen 03-10; E set K-4 but never synced.
async fn fleet(app: &TestApp) {
    app.sync_at(at(2024, 1, 5, 12, 0, 0), B, vec![]).await;
    set_key(app, at(2024, 1, 5, 13, 0, 0), B, "K-1").await;
    set_key(app, at(2024, 3, 1, 10, 0, 0), C, "K-3").await;
    app.sync_at(at(2024, 3, 1, 12, 0, 0), C, vec![]).await;
    set_key(app, at(2024, 3, 10, 10, 0, 0), D, "K-2").await;
    app.sync_at(at(2024, 3, 10, 12, 0, 0), D, vec![]).await;
    set_key(app, at(2024, 3, 18, 10, 0, 0), C, "K-2").await;
    app.sync_at(at(2024, 3, 18, 12, 0, 0), C, vec![]).await;
    set_key(app, at(2024, 3, 19, 9, 0, 0), A, " K-1 ").await;
    app.sync_at(at(2024, 3, 19, 12, 0, 0), A, vec![]).await;
    set_key(app, at(2024, 3, 20, 11, 0, 0), E, "K-4").await;
    app.set_now(at(2024, 3, 20, 12, 0, 0));
    app.settle().await;
}

#[tokio::test]
async fn keys_are_listed_with_their_installations_filtered_and_paged() {
    let app = TestApp::spawn().await;
    fleet(&app).await;
    let keeper = user_client(&app, "keys@example.com", Role::Editor, true).await;
    let (status, v) = call(
        &keeper,
        "updateKeys",
        &json!({"keyUpdates": [
            {"licenseKey": "K-1", "licenseType": "purchased", "activated": true, "expiryDate": "2024-03-19", "quota": 0},
            {"licenseKey": "K-2", "quota": 5, "notes": "ACME", "blacklisted": true},
            {"licenseKey": "M-1", "licenseType": "nfr", "whitelisted": true, "expiryDate": "2025-12-31", "quota": 1}]}),
    )
    .await;
    assert_eq!((status, v), (200, json!({"result": {"inserted": 1, "updated": 2}})));

    let (status, all) = call(&keeper, "listKeys", &json!({})).await;
    assert_eq!(status, 200, "{all}");
    // Hand-checked: K-1 has A (active) and B (lost): 1 active, last seen 03-19, expired since
    // its expiry day passed; K-2 has C and D; K-3 is nobody's current key any more; E never
    // synced, so K-4 has no active installation and no dateLastSeen.
    let record = |key: &str, ty: &str, flags: [bool; 4], expiry: Value, added: &str, auto: bool, quota: Value| {
        json!({"licenseKey": key, "licenseType": ty, "activated": flags[0], "expired": flags[1],
               "blocked": flags[2], "allowed": flags[3], "expiryDate": expiry, "addedDate": added,
               "autoCollected": auto, "quota": quota})
    };
    let mut expected = vec![
        record("K-1", "purchased", [true, true, false, false], json!("2024-03-19"), "2024-01-05", true, json!(0)),
        record("K-2", "unknown", [false, false, true, false], Value::Null, "2024-03-10", true, json!(5)),
        record("K-3", "unknown", [false; 4], Value::Null, "2024-03-01", true, Value::Null),
        record("K-4", "unknown", [false; 4], Value::Null, "2024-03-20", true, Value::Null),
        record("M-1", "nfr", [false, false, false, true], json!("2025-12-31"), "2024-03-20", false, json!(1)),
    ];
    let figures = [
        (1, json!(1), json!("2024-03-19"), json!(null)),
        (2, json!(-3), json!("2024-03-18"), json!("ACME")),
        (0, Value::Null, Value::Null, Value::Null),
        (0, Value::Null, Value::Null, Value::Null),
        (0, json!(-1), Value::Null, Value::Null),
    ];
    for (r, (active, over, seen, notes)) in expected.iter_mut().zip(figures) {
        let m = r.as_object_mut().unwrap();
        m.insert("activeClients".into(), json!(active));
        m.insert("overQuotaCount".into(), over);
        m.insert("dateLastSeen".into(), seen);
        m.insert("notes".into(), notes);
    }
    assert_eq!(all, json!({"result": expected, "reachedEnd": true}));
    // Member order is part of the contract (the comparison above ignores it).
    let raw = keeper
        .post_json(&format!("/v3/licenseKeys/listKeys/{PRODUCT}"), &json!({"pageSize": 1}))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        raw,
        r#"{"result":[{"licenseKey":"K-1","licenseType":"purchased","activated":true,"expired":true,"blocked":false,"allowed":false,"expiryDate":"2024-03-19","addedDate":"2024-01-05","autoCollected":true,"quota":0,"activeClients":1,"overQuotaCount":1,"dateLastSeen":"2024-03-19","notes":null}],"reachedEnd":false,"nextKey":"K-2"}"#
    );

    // Every filter, alone and combined.
    for (filters, want) in [
        (json!({"licenseKey": {"type": "string", "value": "K-2"}}), vec!["K-2"]),
        (json!({"licenseKey": {"type": "stringArray", "value": ["M-1", "K-3", "nope"]}}), vec!["K-3", "M-1"]),
        (json!({"licenseKey": {"type": "regex", "value": "^K-[13]$"}}), vec!["K-1", "K-3"]),
        (json!({"licenseType": {"type": "string", "value": "nfr"}}), vec!["M-1"]),
        (
            json!({"licenseType": {"type": "stringArray", "value": ["purchased", "unknown"]}}),
            vec!["K-1", "K-2", "K-3", "K-4"],
        ),
        (json!({"licenseStatus": {"expired": true}}), vec!["K-1"]),
        (json!({"licenseStatus": [{"blacklisted": true}, {"whitelisted": true}]}), vec!["K-2", "M-1"]),
        (json!({"licenseStatus": [{"expired": false, "activated": false}]}), vec!["K-2", "K-3", "K-4", "M-1"]),
        (json!({"addedDate": {"type": "date", "value": "NOW"}}), vec!["K-4", "M-1"]),
        (json!({"addedDate": {"type": "dateRange", "min": "2024-03-01", "max": "2024-03-10"}}), vec!["K-2", "K-3"]),
        (json!({"expiryDate": {"type": "date", "value": "<NULL>"}}), vec!["K-2", "K-3", "K-4"]),
        (json!({"expiryDate": {"type": "date", "value": "NOW-1"}}), vec!["K-1"]),
        (json!({"expiryDate": {"type": "dateRange", "min": "NOW"}}), vec!["M-1"]),
        (json!({"autoCollected": false}), vec!["M-1"]),
        (json!({"autoCollected": true}), vec!["K-1", "K-2", "K-3", "K-4"]),
        (json!({"overQuotaCount": {"type": "number", "value": 1}}), vec!["K-1"]),
        (json!({"overQuotaCount": {"type": "numberRange", "max": 0}}), vec!["K-2", "M-1"]),
        (json!({"overQuotaCount": {"type": "numberRange", "min": -1}}), vec!["K-1", "M-1"]),
        (json!({"autoCollected": true, "overQuotaCount": {"type": "numberRange", "min": -10}}), vec!["K-1", "K-2"]),
    ] {
        let (status, v) = call(&keeper, "listKeys", &json!({ "filters": filters })).await;
        assert_eq!(status, 200, "{filters}: {v}");
        assert_eq!(keys(&v), want, "{filters}");
        assert_eq!(v["reachedEnd"], true);
    }

    // Paging: inclusive startAtKey, exact nextKey, no nextKey on the last page.
    let (_, p1) = call(&keeper, "listKeys", &json!({"pageSize": 2})).await;
    assert_eq!(
        (keys(&p1), &p1["reachedEnd"], &p1["nextKey"]),
        (vec!["K-1".into(), "K-2".into()], &json!(false), &json!("K-3"))
    );
    let (_, p2) = call(&keeper, "listKeys", &json!({"pageSize": 2, "startAtKey": "K-3"})).await;
    assert_eq!((keys(&p2), &p2["nextKey"]), (vec!["K-3".into(), "K-4".into()], &json!("M-1")));
    let (_, p3) = call(&keeper, "listKeys", &json!({"pageSize": 2, "startAtKey": "M-1"})).await;
    assert_eq!(p3["reachedEnd"], true);
    assert!(p3.get("nextKey").is_none(), "{p3}");
    assert_eq!(keys(&p3), ["M-1"]);
    let (_, between) = call(&keeper, "listKeys", &json!({"startAtKey": "K-20"})).await;
    assert_eq!(keys(&between), ["K-3", "K-4", "M-1"], "a cursor between keys starts at the next one");
    // With a filter, nextKey is the next *matching* key, and a page that takes the last match ends.
    let only_auto = json!({"autoCollected": true});
    let (_, f1) = call(&keeper, "listKeys", &json!({"filters": only_auto, "pageSize": 3})).await;
    assert_eq!((keys(&f1).len(), &f1["nextKey"]), (3, &json!("K-4")));
    let (_, f2) = call(&keeper, "listKeys", &json!({"filters": only_auto, "pageSize": 4})).await;
    assert_eq!((keys(&f2).len(), &f2["reachedEnd"]), (4, &json!(true)));

    // GET ?query= answers like the POST.
    let q = json!({"pageSize": 2, "startAtKey": "K-3"}).to_string();
    let resp = keeper
        .client
        .get(format!("{}/v3/licenseKeys/listKeys/{PRODUCT}", keeper.base))
        .query(&[("query", q.as_str())])
        .headers(TestApp::origin_headers())
        .send()
        .await
        .unwrap();
    assert_eq!(answer(resp).await, (200, p2));
}

#[tokio::test]
async fn updates_are_all_or_nothing_and_leave_unsent_fields() {
    let app = TestApp::spawn().await;
    set_key(&app, at(2024, 3, 19, 10, 0, 0), A, "AUTO").await;
    app.set_now(at(2024, 3, 20, 12, 0, 0));
    let keeper = user_client(&app, "keys@example.com", Role::Editor, true).await;
    let list = |body: Value| {
        let keeper = &keeper;
        async move { call(keeper, "listKeys", &body).await.1["result"].clone() }
    };

    let (status, v) = call(
        &keeper,
        "updateKeys",
        &json!({"keyUpdates": [
            {"licenseKey": "AUTO", "quota": 3, "notes": "first", "expiryDate": "2030-01-01", "expired": true, "allowed": true},
            {"licenseKey": "  NEW  "}]}),
    )
    .await;
    assert_eq!((status, v), (200, json!({"result": {"inserted": 1, "updated": 1}})));
    let got = list(json!({})).await;
    assert_eq!(got[0]["licenseKey"], "AUTO");
    assert_eq!(
        (&got[0]["quota"], &got[0]["notes"], &got[0]["expiryDate"], &got[0]["expired"], &got[0]["allowed"]),
        (&json!(3), &json!("first"), &json!("2030-01-01"), &json!(true), &json!(true))
    );
    assert_eq!((&got[0]["autoCollected"], &got[0]["addedDate"]), (&json!(true), &json!("2024-03-19")), "origin kept");
    // A new key gets the defaults, added today, not auto-collected; its key is trimmed.
    assert_eq!(
        got[1],
        json!({"licenseKey": "NEW", "licenseType": "unknown", "activated": false, "expired": false,
               "blocked": false, "allowed": false, "expiryDate": null, "addedDate": "2024-03-20",
               "autoCollected": false, "quota": null, "activeClients": 0, "overQuotaCount": null,
               "dateLastSeen": null, "notes": null})
    );

    // Fields not sent stay; null clears expiryDate, quota and notes; older spellings work.
    let (status, _) = call(
        &keeper,
        "updateKeys",
        &json!({"keyUpdates": [{"licenseKey": "AUTO", "whitelisted": false, "quota": null, "notes": null,
                                "expiryDate": null, "licenseType": "evaluation", "activated": null}]}),
    )
    .await;
    assert_eq!(status, 200);
    let got = list(json!({"filters": {"licenseKey": {"type": "string", "value": "AUTO"}}})).await;
    assert_eq!(
        got[0],
        json!({"licenseKey": "AUTO", "licenseType": "evaluation", "activated": false, "expired": true,
               "blocked": false, "allowed": false, "expiryDate": null, "addedDate": "2024-03-19",
               "autoCollected": true, "quota": null, "activeClients": 0, "overQuotaCount": null,
               "dateLastSeen": null, "notes": null})
    );

    // One bad item, or a key listed twice, and nothing is stored.
    let before = list(json!({})).await;
    for (items, needle) in [
        (json!([{"licenseKey": "AUTO", "quota": 9}, {"licenseKey": "X", "quota": -1}]), "keyUpdates[1].quota"),
        (json!([{"licenseKey": "Y"}, {"licenseKey": "AUTO", "notes": 5}]), "keyUpdates[1].notes"),
        (json!([{"licenseKey": "Z"}, {"licenseKey": "Z "}]), "keyUpdates[1].licenseKey"),
        (json!([{"licenseKey": "Z", "blocked": true, "blacklisted": false}]), "keyUpdates[0].blocked"),
        (json!([{"licenseKey": "Z", "licenseType": "gold"}]), "keyUpdates[0].licenseType"),
        (json!([{"licenseKey": "Z", "expiryDate": "2024-02-30"}]), "keyUpdates[0].expiryDate"),
        (json!([{"licenseKey": "Z", "autoCollected": true}]), "keyUpdates[0].autoCollected"),
        (json!([{"licenseKey": "x".repeat(257)}]), "keyUpdates[0].licenseKey"),
        (json!([{"quota": 1}]), "keyUpdates[0].licenseKey"),
        (json!([]), "keyUpdates"),
    ] {
        let (status, v) = call(&keeper, "updateKeys", &json!({ "keyUpdates": items })).await;
        assert_eq!((status, &v["status"]), (400, &json!("SYNTAX ERROR")), "{items}: {v}");
        assert!(v["reason"].as_str().unwrap().contains(&format!("'{needle}'")), "{items}: {v}");
    }
    let (status, v) = call(&keeper, "updateKeys", &json!({})).await;
    assert!(status == 400 && v["reason"].as_str().unwrap().contains("'keyUpdates'"), "{v}");
    assert_eq!(list(json!({})).await, before, "rejected calls store nothing");

    // 10,000 items is the limit.
    let many: Vec<Value> = (0..10_001).map(|i| json!({"licenseKey": format!("B-{i:05}")})).collect();
    let (status, v) = call(&keeper, "updateKeys", &json!({ "keyUpdates": many[..10_000] })).await;
    assert_eq!((status, v), (200, json!({"result": {"inserted": 10_000, "updated": 0}})));
    let (status, v) = call(&keeper, "updateKeys", &json!({ "keyUpdates": many })).await;
    assert!(status == 400 && v["reason"].as_str().unwrap().contains("1 to 10000"), "{v}");
}

#[tokio::test]
async fn deletes_name_the_keys_not_found() {
    let app = TestApp::spawn().await;
    set_key(&app, at(2024, 3, 18, 10, 0, 0), A, "K-1").await;
    app.sync_at(at(2024, 3, 18, 12, 0, 0), A, vec![]).await;
    app.set_now(at(2024, 3, 20, 12, 0, 0));
    let keeper = user_client(&app, "keys@example.com", Role::Editor, true).await;
    call(&keeper, "updateKeys", &json!({"keyUpdates": [{"licenseKey": "K-2"}, {"licenseKey": "K-3"}]})).await;

    let (status, v) = call(&keeper, "deleteKeys", &json!({"licenseKeys": ["K-1", "nope", " K-3 "]})).await;
    assert_eq!((status, v), (200, json!({"result": {"deleted": 2, "notFound": ["nope"]}})));
    let (_, v) = call(&keeper, "listKeys", &json!({})).await;
    assert_eq!(keys(&v), ["K-2"]);
    // The installation keeps its key; setting it again re-adds it as auto-collected, with its figures.
    set_key(&app, at(2024, 3, 20, 12, 0, 0), A, "K-1").await;
    app.settle().await;
    let (_, v) =
        call(&keeper, "listKeys", &json!({"filters": {"licenseKey": {"type": "string", "value": "K-1"}}})).await;
    let r = &v["result"][0];
    assert_eq!(
        (&r["autoCollected"], &r["addedDate"], &r["activeClients"], &r["dateLastSeen"]),
        (&json!(true), &json!("2024-03-20"), &json!(1), &json!("2024-03-18"))
    );

    for (body, needle) in [
        (json!({"licenseKeys": ["A", "B", "A"]}), "licenseKeys[2]"),
        (json!({"licenseKeys": []}), "licenseKeys"),
        (json!({"licenseKeys": "A"}), "licenseKeys"),
        (json!({"licenseKeys": [""]}), "licenseKeys[0]"),
        (json!({"licenseKeys": ["A"], "keys": []}), "keys"),
    ] {
        let (status, v) = call(&keeper, "deleteKeys", &body).await;
        assert_eq!(status, 400, "{body}: {v}");
        assert!(v["reason"].as_str().unwrap().contains(&format!("'{needle}'")), "{body}: {v}");
    }
}

#[tokio::test]
async fn a_second_bulk_call_on_the_product_gets_409() {
    let app = TestApp::spawn().await;
    let keeper = user_client(&app, "keys@example.com", Role::Editor, true).await;
    let update = json!({"keyUpdates": [{"licenseKey": "K-1"}]});

    // A bulk call in progress (its slot held) refuses the next at once instead of queueing it.
    let product = ProductId::parse(PRODUCT).unwrap();
    let running = app.server().limits.bulk_slot(product).await.unwrap().expect("slot free");
    let (status, v) = call(&keeper, "updateKeys", &update).await;
    assert_eq!((status, &v["status"]), (409, &json!("CONFLICT")), "{v}");
    assert!(v["reason"].as_str().unwrap().contains("updateKeys or deleteKeys"), "{v}");
    let (status, _) = call(&keeper, "deleteKeys", &json!({"licenseKeys": ["K-1"]})).await;
    assert_eq!(status, 409);
    // Validation comes first (§1.9), and reading is not blocked.
    assert_eq!(call(&keeper, "updateKeys", &json!({"keyUpdates": []})).await.0, 400);
    assert_eq!(call(&keeper, "listKeys", &json!({})).await.0, 200);
    running.release().await;
    assert_eq!(call(&keeper, "updateKeys", &update).await, (200, json!({"result": {"inserted": 1, "updated": 0}})));

    // Real overlapping calls: each is applied whole or refused whole with 409.
    let body = |tag: &str| json!({"keyUpdates": (0..10_000).map(|i| json!({"licenseKey": format!("O-{i:05}"), "notes": tag})).collect::<Vec<_>>()});
    let (first, second) = (body("first"), body("second"));
    let (a, b) = tokio::join!(call(&keeper, "updateKeys", &first), call(&keeper, "updateKeys", &second));
    let mut applied = Vec::new();
    for ((status, v), tag) in [(a, "first"), (b, "second")] {
        match status {
            200 => applied.push(tag),
            409 => assert_eq!(v["status"], "CONFLICT"),
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert!(!applied.is_empty());
    let (_, v) = call(&keeper, "listKeys", &json!({"startAtKey": "O-", "pageSize": 10_000})).await;
    let notes: std::collections::HashSet<&str> =
        v["result"].as_array().unwrap().iter().map(|r| r["notes"].as_str().unwrap()).collect();
    assert_eq!(notes.len(), 1, "never a mix of two calls");
    assert!(applied.contains(notes.iter().next().unwrap()));
}

#[tokio::test]
async fn permissions_follow_role_flag_and_token() {
    let app = TestApp::spawn().await;
    app.login().await; // the test user: editor without the licenseKeys flag
    let list = json!({});
    let update = json!({"keyUpdates": [{"licenseKey": "K-1"}]});
    let delete = json!({"licenseKeys": ["K-1"]});
    let forbidden = |(status, v): (u16, Value), needle: &str| {
        assert_eq!((status, &v["status"]), (403, &json!("FORBIDDEN")), "{v}");
        assert!(v["reason"].as_str().unwrap().contains(needle), "{v}");
    };
    for (name, body) in [("listKeys", &list), ("updateKeys", &update), ("deleteKeys", &delete)] {
        forbidden(call(&app, name, body).await, "licenseKeys permission");
    }
    // The flag check comes before validation (§1.9).
    forbidden(call(&app, "updateKeys", &json!({"bogus": 1})).await, "licenseKeys permission");

    let viewer = user_client(&app, "viewer@example.com", Role::Viewer, false).await;
    forbidden(call(&viewer, "listKeys", &list).await, "licenseKeys permission");
    let flagged_viewer = user_client(&app, "fviewer@example.com", Role::Viewer, true).await;
    assert_eq!(call(&flagged_viewer, "listKeys", &list).await.0, 200);
    forbidden(call(&flagged_viewer, "updateKeys", &update).await, "editor role");
    forbidden(call(&flagged_viewer, "deleteKeys", &delete).await, "editor role");

    let keeper = user_client(&app, "keys@example.com", Role::Editor, true).await;
    assert_eq!(call(&keeper, "updateKeys", &update).await.0, 200);
    assert_eq!(call(&keeper, "listKeys", &list).await.0, 200);
    assert_eq!(call(&keeper, "deleteKeys", &delete).await.0, 200);

    // A read-only token of that editor may list but not change the registry.
    let catalog = &app.server().catalog;
    let user = catalog.get_user_by_email("keys@example.com").await.unwrap().unwrap();
    let now = app.server().clock.now();
    let (_, token) = catalog.create_token(user.id, vec![], true, None, now).await.unwrap();
    let plain = reqwest::Client::new();
    let bearer = |name: &str, body: &Value| {
        plain
            .post(format!("{}/v3/licenseKeys/{name}/{PRODUCT}", app.base))
            .header("Authorization", format!("Bearer {token}"))
            .json(body)
            .send()
    };
    assert_eq!(answer(bearer("listKeys", &list).await.unwrap()).await.0, 200);
    forbidden(answer(bearer("updateKeys", &update).await.unwrap()).await, "read-only");
    forbidden(answer(bearer("deleteKeys", &delete).await.unwrap()).await, "read-only");
    let (_, writer) = catalog.create_token(user.id, vec![], false, None, now).await.unwrap();
    let resp = plain
        .post(format!("{}/v3/licenseKeys/updateKeys/{PRODUCT}", app.base))
        .header("Authorization", format!("Bearer {writer}"))
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(answer(resp).await, (200, json!({"result": {"inserted": 1, "updated": 0}})));

    // Product id and route checks come first.
    let (status, _) = answer(keeper.post_json("/v3/licenseKeys/listKeys/123", &list).await).await;
    assert_eq!(status, 400);
    let (status, _) = answer(keeper.post_json("/v3/licenseKeys/listKeys/1111111111", &list).await).await;
    assert_eq!(status, 404);
    let resp = keeper
        .client
        .get(format!("{}/v3/licenseKeys/updateKeys/{PRODUCT}", keeper.base))
        .headers(TestApp::origin_headers())
        .send()
        .await
        .unwrap();
    let (status, v) = answer(resp).await;
    assert!(status == 404 && v["reason"].as_str().unwrap().contains("no route"), "{v}");
}

#[tokio::test]
async fn bad_list_requests_name_the_path() {
    let app = TestApp::spawn().await;
    let keeper = user_client(&app, "keys@example.com", Role::Editor, true).await;
    for (body, needle) in [
        (json!({"filters": {"licenseKey": {"type": "regex", "value": "("}}}), "filters.licenseKey.value"),
        (json!({"filters": {"licenseKey": {"type": "number", "value": 1}}}), "filters.licenseKey.type"),
        (json!({"filters": {"licenseType": {"type": "string", "value": "gold"}}}), "filters.licenseType.value"),
        (json!({"filters": {"licenseStatus": [{"expired": true}, {"valid": true}]}}), "filters.licenseStatus[1].valid"),
        (json!({"filters": {"licenseStatus": {}}}), "filters.licenseStatus"),
        (json!({"filters": {"addedDate": {"type": "date", "value": "<NULL>"}}}), "filters.addedDate.value"),
        (json!({"filters": {"expiryDate": {"type": "dateRange", "min": "2024-13-01"}}}), "filters.expiryDate.min"),
        (json!({"filters": {"autoCollected": "yes"}}), "filters.autoCollected"),
        (json!({"filters": {"overQuotaCount": {"type": "numberRange"}}}), "filters.overQuotaCount"),
        (json!({"filters": {"activeClients": {"type": "number", "value": 1}}}), "filters.activeClients"),
        (json!({"pageSize": 0}), "pageSize"),
        (json!({"pageSize": 10_001}), "pageSize"),
        (json!({"pageSize": 10.5}), "pageSize"),
        (json!({"startAtKey": 5}), "startAtKey"),
        (json!({"filter": {}}), "filter"),
        (json!({"productId": "1111111111"}), "productId"),
    ] {
        let (status, v) = call(&keeper, "listKeys", &body).await;
        assert_eq!(status, 400, "{body}: {v}");
        assert!(v["reason"].as_str().unwrap().contains(&format!("'{needle}'")), "{body}: {v}");
    }
    // v2 fields are tolerated; a body together with ?query= is not.
    assert_eq!(call(&keeper, "listKeys", &json!({"user": "x", "productId": PRODUCT})).await.0, 200);
    let resp = keeper
        .client
        .post(format!("{}/v3/licenseKeys/listKeys/{PRODUCT}?query=%7B%7D", keeper.base))
        .headers(TestApp::origin_headers())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer(resp).await.0, 400);

    // Body limits: 1 MiB for listKeys, 8 MiB for the bulk calls.
    let padding = "x".repeat(1 << 20);
    let (status, _) = call(&keeper, "listKeys", &json!({"startAtKey": padding})).await;
    assert_eq!(status, 413);
    let (status, v) = call(&keeper, "deleteKeys", &json!({"licenseKeys": [padding]})).await;
    assert!(status == 400 && v["reason"].as_str().unwrap().contains("'licenseKeys[0]'"), "under 8 MiB: {v}");
    let (status, _) = call(&keeper, "deleteKeys", &json!({"licenseKeys": ["x".repeat(9 << 20)]})).await;
    assert_eq!(status, 413);
    let resp = keeper
        .client
        .post(format!("{}/v3/licenseKeys/updateKeys/{PRODUCT}", keeper.base))
        .headers(TestApp::origin_headers())
        .header("Content-Type", "text/plain")
        .body(r#"{"keyUpdates":[{"licenseKey":"A"}]}"#)
        .send()
        .await
        .unwrap();
    let (status, v) = answer(resp).await;
    assert!(status == 400 && v["reason"].as_str().unwrap().contains("Content-Type"), "{v}");
}
