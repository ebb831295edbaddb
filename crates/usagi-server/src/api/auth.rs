//! `request-csrf`, `auth/web` and `auth/logout` (reporting-api §6).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Duration;
use serde_json::{json, Map, Value};
use usagi_catalog::{SessionLookup, User};
use usagi_types::{ApiError, JsonObject};

use super::body::{read_body, MAX_BODY};
use super::cookies::{clear_cookie, cookie, set_cookie, CsrfProblem, COOKIE_MAX_AGE, CSRF_COOKIE, SESSION_COOKIE};
use super::principal::bearer;
use super::response::ErrorResponse;
use crate::state::AppState;

fn with_cookies(mut resp: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

fn cookie_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::COOKIE).and_then(|v| v.to_str().ok())
}

/// `GET /v3/request-csrf`: 204 with a CSRF cookie (the bound one for a live session).
pub async fn request_csrf(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let now = app.clock.now();
    let cookies = cookie_header(&headers);
    let mut value = None;
    if let (Some(token), Some(csrf)) = (cookie(cookies, SESSION_COOKIE), cookie(cookies, CSRF_COOKIE)) {
        if let Ok(SessionLookup::Valid(s)) = app.catalog.find_session(token, now).await {
            if s.csrf_matches(csrf) {
                value = Some(csrf.to_string());
            }
        }
    }
    let value = value.unwrap_or_else(|| app.csrf.issue(now.timestamp()));
    let secure = app.config.secure_cookies();
    with_cookies(StatusCode::NO_CONTENT.into_response(), &[set_cookie(CSRF_COOKIE, &value, secure)])
}

struct Credentials {
    user_name: String,
    password: String,
}

fn basic_credentials(headers: &HeaderMap) -> Option<Credentials> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    if v.len() < 6 || !v[..6].eq_ignore_ascii_case("basic ") {
        return None;
    }
    let decoded = STANDARD.decode(v[6..].trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user_name, password) = text.split_once(':')?;
    Some(Credentials { user_name: user_name.to_string(), password: password.to_string() })
}

fn read_credentials(obj: &JsonObject) -> Result<Credentials, ApiError> {
    let user_name = obj.required("userName")?.string_len(1, 254)?;
    let password = obj.required("password")?.string_len(1, 1024)?;
    Ok(Credentials { user_name, password })
}

/// Failed-login limit, then the password check (§6.2 steps 4–5); failures count.
async fn check_credentials(app: &AppState, creds: &Credentials) -> Result<User, ApiError> {
    let now_s = app.clock.now().timestamp();
    let catalog_down = |e: usagi_catalog::CatalogError| {
        tracing::error!(error = %e, "catalog failure during login");
        ApiError::server("catalog unavailable")
    };
    if let Some(wait) = app.limits.login_blocked(&creds.user_name, now_s).await.map_err(catalog_down)? {
        return Err(ApiError::rate_limited(wait, "too many failed logins for this user name; try again later"));
    }
    let user = app.catalog.verify_password(&creds.user_name, &creds.password).await.map_err(catalog_down)?;
    match user {
        Some(u) => Ok(u),
        None => {
            app.limits.record_failed_login(&creds.user_name, now_s).await.map_err(catalog_down)?;
            Err(ApiError::auth("Invalid user name or password"))
        }
    }
}

/// `POST /v3/auth/web`.
pub async fn web(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let now = app.clock.now();
    let secure = app.config.secure_cookies();
    let cookies = cookie_header(&headers);
    // Step 2: the CSRF cookie; both failures hand out a fresh one so a retry succeeds.
    let problem = match cookie(cookies, CSRF_COOKIE) {
        None => Some("Cookie Missing"),
        Some(v) => match app.csrf.verify(v, now.timestamp()) {
            Ok(()) => None,
            Err(CsrfProblem::Invalid) | Err(CsrfProblem::Expired) => Some("Cookie Invalid"),
        },
    };
    if let Some(reason) = problem {
        let fresh = set_cookie(CSRF_COOKIE, &app.csrf.issue(now.timestamp()), secure);
        return with_cookies(ErrorResponse(ApiError::auth(reason)).into_response(), &[fresh]);
    }
    match login(&app, &headers, body).await {
        Ok((user, token, csrf)) => match login_body(&app, &user).await {
            Ok(body) => with_cookies(
                super::response::json(&body),
                &[set_cookie(SESSION_COOKIE, &token, secure), set_cookie(CSRF_COOKIE, &csrf, secure)],
            ),
            Err(e) => ErrorResponse(e).into_response(),
        },
        Err(e) => ErrorResponse(e).into_response(),
    }
}

async fn login(app: &AppState, headers: &HeaderMap, body: Body) -> Result<(User, String, String), ApiError> {
    let bytes = read_body(headers, body, MAX_BODY).await?;
    let creds = match bytes {
        None => basic_credentials(headers).ok_or_else(|| ApiError::syntax("field 'userName' is required"))?,
        Some(b) => {
            let obj = JsonObject::parse_body(&b)?;
            // An empty body defers to Basic credentials; a body with fields wins (§6.2).
            match basic_credentials(headers).filter(|_| obj.is_empty()) {
                Some(c) => c,
                None => {
                    let c = read_credentials(&obj)?;
                    obj.finish()?;
                    c
                }
            }
        }
    };
    let user = check_credentials(app, &creds).await?;
    let now = app.clock.now();
    // Logging in again replaces the presented session (§1.4 Decision).
    if let Some(old) = cookie(cookie_header(headers), SESSION_COOKIE) {
        if let Ok(SessionLookup::Valid(_)) = app.catalog.find_session(old, now).await {
            let _ = app.catalog.delete_session(old).await;
        }
    }
    let csrf = app.csrf.issue(now.timestamp());
    let token = app
        .catalog
        .create_session(user.id, &csrf, now, Duration::seconds(COOKIE_MAX_AGE))
        .await
        .map_err(|_| ApiError::server("catalog unavailable"))?;
    Ok((user, token, csrf))
}

/// The login answer of §6.2, member order fixed.
async fn login_body(app: &AppState, user: &User) -> Result<Value, ApiError> {
    let catalog_err = |_| ApiError::server("catalog unavailable");
    let visible = app.catalog.visible_products(user.id).await.map_err(catalog_err)?;
    let mut products = Map::new();
    for access in &visible {
        products.insert(
            access.product.id.to_string(),
            json!({"name": access.product.name, "role": access.permission.role.as_str()}),
        );
    }
    let recorded = app.catalog.current_product(user.id).await.map_err(catalog_err)?;
    let current = recorded
        .and_then(|id| visible.iter().find(|a| a.product.id == id))
        .or_else(|| visible.iter().min_by_key(|a| a.product.id));
    let details = current.map(|a| {
        let s = &a.product.settings;
        let role = a.permission.role;
        let editor = role >= usagi_catalog::Role::Editor;
        let mut names = Map::new();
        for n in 1..=20u8 {
            if let Some(name) = s.custom_property_names.get(&n) {
                names.insert(format!("C{n:02}"), json!(name));
            }
        }
        let oldest = app.clock.today() - Duration::days(i64::from(s.retention_days));
        json!({
            "permissions": {
                "reports": true,
                "manageEvents": editor,
                "licenseKeys": a.permission.license_keys,
                "manageLicenseKeys": editor && a.permission.license_keys,
            },
            "config": {
                "name": a.product.name,
                "daysUntilDeclaredLost": s.days_until_declared_lost,
                "retentionDays": s.retention_days,
                "oldestReportedDate": oldest.format("%Y-%m-%d").to_string(),
                "customPropertyNames": Value::Object(names),
            }
        })
    });
    Ok(json!({
        "account": {
            "name": user.name,
            "surname": user.surname,
            "email": user.email,
            "emailVerified": true,
            "userToken": user.user_token,
            "isSocialUser": false,
            "readTos": 1,
        },
        "freeware": {"canAddFreeProduct": user.admin, "limit": app.config.freeware_limit},
        "products": Value::Object(products),
        "userSettings": {
            "defaultProduct": Value::Null,
            "currentProduct": current.map(|a| Value::String(a.product.id.to_string())).unwrap_or(Value::Null),
        },
        "currentProductDetails": details.unwrap_or(Value::Null),
        "beatInterval": 300,
    }))
}

/// `POST /v3/auth/logout`: 204 in every mode, clearing both cookies (§6.3).
pub async fn logout(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let secure = app.config.secure_cookies();
    let cleared = [clear_cookie(SESSION_COOKIE, secure), clear_cookie(CSRF_COOKIE, secure)];
    match do_logout(&app, &headers, body).await {
        Ok(()) => with_cookies(StatusCode::NO_CONTENT.into_response(), &cleared),
        Err(e) => ErrorResponse(e).into_response(),
    }
}

enum LogoutMode {
    This,
    All,
    Credentials(Credentials),
}

async fn do_logout(app: &AppState, headers: &HeaderMap, body: Body) -> Result<(), ApiError> {
    if bearer(headers).is_some() {
        return Err(ApiError::syntax("bearer tokens are revoked with the admin command"));
    }
    let bytes: Option<Bytes> = read_body(headers, body, MAX_BODY).await?;
    let mode = match bytes {
        None => LogoutMode::This,
        Some(b) => {
            let obj = JsonObject::parse_body(&b)?;
            let all = obj.optional("allSessions")?.map(|v| v.boolean()).transpose()?;
            let has_creds = obj.contains("userName") || obj.contains("password");
            let mode = if has_creds {
                if all == Some(false) {
                    return Err(ApiError::syntax("field 'allSessions' cannot be false together with credentials"));
                }
                LogoutMode::Credentials(read_credentials(&obj)?)
            } else if all == Some(true) {
                LogoutMode::All
            } else {
                LogoutMode::This
            };
            obj.finish()?;
            mode
        }
    };
    let now = app.clock.now();
    match mode {
        LogoutMode::Credentials(c) => {
            let user = check_credentials(app, &c).await?;
            let _ = app.catalog.delete_user_sessions(user.id).await;
        }
        LogoutMode::This | LogoutMode::All => {
            let cookies = cookie_header(headers);
            let (Some(token), Some(csrf)) = (cookie(cookies, SESSION_COOKIE), cookie(cookies, CSRF_COOKIE)) else {
                return Ok(());
            };
            if let Ok(SessionLookup::Valid(s)) = app.catalog.find_session(token, now).await {
                if s.csrf_matches(csrf) {
                    if matches!(mode, LogoutMode::All) {
                        let _ = app.catalog.delete_user_sessions(s.user_id).await;
                    } else {
                        let _ = app.catalog.delete_session(token).await;
                    }
                }
            }
        }
    }
    Ok(())
}
