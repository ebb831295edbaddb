//! Reporting API authentication: cookies, CSRF binding, Origin, logout, bearer tokens, limits.

use chrono::Utc;
use serde_json::{json, Value};
use usagi_types::ProductId;

use crate::helpers::*;

fn report_body() -> Value {
    json!({"startDate":"2024-03-01","stopDate":"2024-03-07","clientStatus":["active"]})
}

fn report_path() -> String {
    format!("/v3/reporting/generic/dateRange/{PRODUCT}")
}

fn cookie_value(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get_all("set-cookie").iter().find_map(|h| {
        let s = h.to_str().ok()?;
        let (k, rest) = s.split_once('=')?;
        (k == name).then(|| rest.split(';').next().unwrap_or("").to_string())
    })
}

#[tokio::test]
async fn cookie_missing_then_retry_succeeds_with_the_same_jar() {
    let app = TestApp::spawn().await;
    let creds = json!({"userName": EMAIL, "password": PASSWORD});
    let first = app.post_json("/v3/auth/web", &creds).await;
    assert_eq!(first.status(), 401);
    let csrf = cookie_value(&first, "RUI-Csrf").expect("fresh CSRF cookie");
    let set = first.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly")
            && set.contains("Max-Age=39600")
            && set.contains("SameSite=Strict")
            && !set.contains("Secure")
    );
    assert_eq!(first.json::<Value>().await.unwrap(), json!({"status":"AUTH ERROR","reason":"Cookie Missing"}));
    assert!(!csrf.is_empty());

    let second = app.post_json("/v3/auth/web", &creds).await;
    assert_eq!(second.status(), 200);
    assert!(cookie_value(&second, "RUI-Session-Token").is_some_and(|t| t.len() == 43));
    let h = second.headers();
    assert_eq!(h["access-control-allow-origin"], ORIGIN);
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(h["rui-api"], "Reporting API (3.0.0)");
    assert_eq!(h["cache-control"], "no-store");
    let body: Value = second.json().await.unwrap();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["account", "freeware", "products", "userSettings", "currentProductDetails", "beatInterval"]);
    assert_eq!(body["account"]["email"], EMAIL);
    assert_eq!(body["products"][PRODUCT], json!({"name": "Demo App", "role": "editor"}));
    assert_eq!(body["userSettings"], json!({"defaultProduct": null, "currentProduct": PRODUCT}));
    assert_eq!(
        body["currentProductDetails"]["permissions"],
        json!({"reports": true, "manageEvents": true, "licenseKeys": false, "manageLicenseKeys": false})
    );
    assert_eq!(body["currentProductDetails"]["config"]["oldestReportedDate"], "2021-03-21");

    // The session works for reports.
    assert_eq!(app.date_range(&report_body()).await.0, 200);
}

#[tokio::test]
async fn origin_rules() {
    let app = TestApp::spawn().await;
    app.login().await;
    let wrong = app
        .client
        .post(format!("{}{}", app.base, report_path()))
        .header("Origin", "https://evil.example")
        .json(&report_body())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    assert!(wrong.headers().get("access-control-allow-origin").is_none());
    assert_eq!(wrong.json::<Value>().await.unwrap()["reason"], "Origin 'https://evil.example' is not allowed");
    let missing = app.client.post(format!("{}{}", app.base, report_path())).json(&report_body()).send().await.unwrap();
    assert_eq!(missing.status(), 403);
    assert_eq!(missing.json::<Value>().await.unwrap()["reason"], "Origin header required");
    // GET without Origin is fine; the server's own origin is allowed by default.
    let q = serde_json::to_string(&report_body()).unwrap();
    let get = app.client.get(format!("{}{}", app.base, report_path())).query(&[("query", q)]).send().await.unwrap();
    assert_eq!(get.status(), 200);
    let own = app
        .client
        .post(format!("{}{}", app.base, report_path()))
        .header("Origin", "http://127.0.0.1:8080")
        .json(&report_body())
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    // Preflight.
    let pre = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}{}", app.base, report_path()))
        .header("Origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert_eq!(pre.headers()["access-control-allow-methods"], "GET, POST, PUT, OPTIONS");
    let pre = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}{}", app.base, report_path()))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 403);
    // Unknown route: 404 with the method and path.
    let none =
        app.client.delete(format!("{}{}", app.base, report_path())).header("Origin", ORIGIN).send().await.unwrap();
    assert_eq!(none.status(), 404);
    assert_eq!(none.json::<Value>().await.unwrap()["reason"], format!("no route for DELETE {}", report_path()));
}

#[tokio::test]
async fn session_needs_its_bound_csrf_cookie() {
    let app = TestApp::spawn().await;
    // Log in with a plain client to see the cookies.
    let plain = reqwest::Client::new();
    let r = plain
        .post(format!("{}/v3/auth/web", app.base))
        .header("Origin", ORIGIN)
        .json(&json!({"userName": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let csrf = cookie_value(&r, "RUI-Csrf").unwrap();
    let r = plain
        .post(format!("{}/v3/auth/web", app.base))
        .header("Origin", ORIGIN)
        .header("Cookie", format!("RUI-Csrf={csrf}"))
        .json(&json!({"userName": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let session = cookie_value(&r, "RUI-Session-Token").unwrap();
    let bound = cookie_value(&r, "RUI-Csrf").unwrap();
    let send = |cookie: String| {
        plain
            .post(format!("{}{}", app.base, report_path()))
            .header("Origin", ORIGIN)
            .header("Cookie", cookie)
            .json(&report_body())
            .send()
    };
    assert_eq!(send(format!("RUI-Session-Token={session}; RUI-Csrf={bound}")).await.unwrap().status(), 200);
    for cookie in [format!("RUI-Session-Token={session}"), format!("RUI-Session-Token={session}; RUI-Csrf={csrf}")] {
        let r = send(cookie).await.unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(r.json::<Value>().await.unwrap()["reason"], "CSRF cookie missing or does not match the session");
    }
    let r = send(format!("RUI-Csrf={bound}")).await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["reason"], "Not authenticated");
    // request-csrf while logged in returns the bound value, so the session keeps working.
    let r = plain
        .get(format!("{}/v3/request-csrf", app.base))
        .header("Cookie", format!("RUI-Session-Token={session}; RUI-Csrf={bound}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(cookie_value(&r, "RUI-Csrf").unwrap(), bound);
    // An expired session.
    app.set_now(at(2024, 3, 21, 0, 0, 0));
    let r = send(format!("RUI-Session-Token={session}; RUI-Csrf={bound}")).await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["reason"], "Session expired");
}

#[tokio::test]
async fn logout_modes() {
    let app = TestApp::spawn().await;
    // This session only.
    app.login().await;
    let r = app.post_json("/v3/auth/logout", &json!({})).await;
    assert_eq!(r.status(), 204);
    assert!(r.headers().get_all("set-cookie").iter().all(|c| c.to_str().unwrap().contains("Max-Age=0")));
    assert_eq!(app.date_range(&report_body()).await.0, 401);
    // All sessions: a second client's session dies too.
    let other = clone_client(&app);
    other.login().await;
    app.login().await;
    assert_eq!(app.post_json("/v3/auth/logout", &json!({"allSessions": true})).await.status(), 204);
    assert_eq!(other.date_range(&report_body()).await.0, 401);
    // By credentials, without any cookie.
    other.login().await;
    let plain = reqwest::Client::new();
    let r = plain
        .post(format!("{}/v3/auth/logout", app.base))
        .header("Origin", ORIGIN)
        .json(&json!({"userName": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(other.date_range(&report_body()).await.0, 401);
    // Idempotent without cookies; wrong credentials 401; credentials with allSessions:false 400; bearer 400.
    assert_eq!(
        plain.post(format!("{}/v3/auth/logout", app.base)).header("Origin", ORIGIN).send().await.unwrap().status(),
        204
    );
    let r = plain
        .post(format!("{}/v3/auth/logout", app.base))
        .header("Origin", ORIGIN)
        .json(&json!({"userName": EMAIL, "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = plain
        .post(format!("{}/v3/auth/logout", app.base))
        .header("Origin", ORIGIN)
        .json(&json!({"userName": EMAIL, "password": PASSWORD, "allSessions": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = plain
        .post(format!("{}/v3/auth/logout", app.base))
        .header("Origin", ORIGIN)
        .header("Authorization", "Bearer uit_x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

/// A second client (own cookie jar) on the same server.
fn clone_client(app: &TestApp) -> TestApp {
    TestApp::sibling(app)
}

#[tokio::test]
async fn bearer_tokens_scope_and_errors() {
    let app = TestApp::spawn().await;
    let catalog = &app.server().catalog;
    let now = Utc::now();
    let other = ProductId::parse("1111111111").unwrap();
    catalog.create_product("Other", Some(other), now).await.unwrap();
    let user = catalog.get_user_by_email(EMAIL).await.unwrap().unwrap();
    catalog.grant(user.id, other, usagi_catalog::Role::Viewer, false).await.unwrap();
    let (_, scoped) = catalog.create_token(user.id, vec![other], true, None, now).await.unwrap();
    let plain = reqwest::Client::new();
    let call = |token: String, product: &'static str| {
        plain
            .post(format!("{}/v3/reporting/generic/dateRange/{product}", app.base))
            .header("Authorization", format!("Bearer {token}"))
            .json(&report_body())
            .send()
    };
    // No Origin needed with a bearer token; a read-only token may read.
    assert_eq!(call(scoped.clone(), "1111111111").await.unwrap().status(), 200);
    // The token is narrowed to the other product: this one is invisible.
    let r = call(scoped.clone(), PRODUCT).await.unwrap();
    assert_eq!(r.status(), 404);
    let r = call("uit_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(), PRODUCT).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["reason"], "Invalid bearer token");
    // A present Origin must still be allowlisted.
    let r = plain
        .post(format!("{}/v3/reporting/generic/dateRange/1111111111", app.base))
        .header("Authorization", format!("Bearer {scoped}"))
        .header("Origin", "https://evil.example")
        .json(&report_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A revoked token stops working.
    let tokens = catalog.list_tokens(user.id).await.unwrap();
    catalog.revoke_token(tokens[0].id, now).await.unwrap();
    assert_eq!(call(scoped, "1111111111").await.unwrap().status(), 401);
}

#[tokio::test]
async fn failed_logins_are_rate_limited() {
    let app = TestApp::spawn().await;
    app.client.get(format!("{}/v3/request-csrf", app.base)).send().await.unwrap();
    for _ in 0..10 {
        let r = app.post_json("/v3/auth/web", &json!({"userName": EMAIL, "password": "wrong"})).await;
        assert_eq!(r.status(), 401);
        assert_eq!(r.json::<Value>().await.unwrap()["reason"], "Invalid user name or password");
    }
    let r = app.post_json("/v3/auth/web", &json!({"userName": EMAIL, "password": PASSWORD})).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "RATE LIMITED");
    // Unknown users get the same answer as wrong passwords.
    let r = app.post_json("/v3/auth/web", &json!({"userName": "nobody@example.com", "password": "x"})).await;
    assert_eq!(r.json::<Value>().await.unwrap()["reason"], "Invalid user name or password");
}

#[tokio::test]
async fn request_rate_per_principal_is_limited() {
    let app = TestApp::spawn().await;
    app.login().await;
    // The test clock is pinned, so the bucket does not refill: 50 pass, then 429.
    let mut codes = Vec::new();
    for _ in 0..52 {
        codes.push(app.date_range(&report_body()).await.0);
    }
    assert!(codes[..49].iter().all(|c| *c == 200), "{codes:?}");
    assert_eq!(codes.last(), Some(&429));
}
