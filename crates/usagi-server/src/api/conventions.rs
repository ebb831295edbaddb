//! Conventions every `/v3` request goes through before routing (reporting-api §1.1–§1.3).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use usagi_types::ApiError;

use super::response::ErrorResponse;
use crate::config::normalize_origin;
use crate::state::AppState;

/// The canonical spelling of every fixed `/v3` path segment; incoming segments are
/// matched case-insensitively against these (reporting-api §1.1 Decision).
const SEGMENTS: &[&str] = &[
    "v3",
    "request-csrf",
    "auth",
    "web",
    "logout",
    "meta",
    "productProperties",
    "propertyValues",
    "oldestReportedDate",
    "event-tracking",
    "reporting",
    "generic",
    "dateRange",
    "current",
    "engagement",
    "usageDistribution",
    "churnAndEngagement",
    "churn",
    "histogram",
    "days",
    "sessions",
    "runtime",
    "eventTracking",
    "basic",
    "dataTable",
    "timeline",
    "advanced",
    "fullReport",
    "lifetime",
    "licenseKeys",
    "listKeys",
    "updateKeys",
    "deleteKeys",
    "customEventTracking",
    "getLastLines",
    "listFiles",
    "getDownloadUrl",
    "exceptionTracking",
    "clientPropertyList",
    "clientProfile",
    "rawEvents",
    "download",
    "openapi.json",
];

/// Rewrites a `/v3` path to its canonical spelling and drops one trailing slash, so
/// that routing sees one spelling. Download tokens are left untouched.
pub fn canonical_path(path: &str) -> Option<String> {
    let lower = path.to_ascii_lowercase();
    if !(lower == "/v3" || lower.starts_with("/v3/")) {
        return None;
    }
    let trimmed = path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(path);
    let mut out = String::with_capacity(trimmed.len());
    let mut previous = "";
    for seg in trimmed.split('/').skip(1) {
        out.push('/');
        let canonical = if previous == "download" && out.starts_with("/v3/download") {
            None
        } else {
            SEGMENTS.iter().find(|c| c.eq_ignore_ascii_case(seg))
        };
        match canonical {
            Some(c) => {
                out.push_str(c);
                previous = c;
            }
            None => {
                out.push_str(seg);
                previous = "";
            }
        }
    }
    Some(out)
}

fn origin_of(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

fn is_bearer(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "))
}

fn printable_ascii(v: &HeaderValue) -> bool {
    v.len() <= 64 && v.as_bytes().iter().all(|b| (0x20..0x7f).contains(b))
}

/// Origin allowlist, CORS, the fixed response headers and header validation.
pub async fn v3_conventions(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    let headers = request.headers().clone();
    let origin = origin_of(&headers).map(str::to_string);
    let allowed_origin =
        origin.as_deref().and_then(normalize_origin).filter(|o| app.origins.iter().any(|a| a == o)).and(origin.clone());
    let is_download = path.starts_with("/v3/download/");

    let early: Option<ApiError> = if is_download {
        None
    } else if let Some(o) = origin.as_deref().filter(|_| allowed_origin.is_none()) {
        Some(ApiError::forbidden(format!("Origin '{o}' is not allowed")))
    } else if origin.is_none()
        && matches!(method, Method::POST | Method::PUT)
        && (!is_bearer(&headers) || path.starts_with("/v3/auth/"))
    {
        Some(ApiError::forbidden("Origin header required"))
    } else if method == Method::OPTIONS {
        None
    } else {
        ["rui-client", "rui-client-version"].iter().find_map(|name| {
            headers.get(*name).filter(|v| !printable_ascii(v)).map(|_| {
                ApiError::syntax(format!(
                    "header '{}' must be at most 64 printable ASCII characters",
                    canonical_header(name)
                ))
            })
        })
    };

    let mut response = if let Some(e) = early {
        ErrorResponse(e).into_response()
    } else if method == Method::OPTIONS && !is_download {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert("access-control-allow-methods", HeaderValue::from_static("GET, POST, PUT, OPTIONS"));
        h.insert(
            "access-control-allow-headers",
            HeaderValue::from_static("Content-Type, RUI-Client, RUI-Client-Version, Authorization"),
        );
        h.insert("access-control-max-age", HeaderValue::from_static("600"));
        r
    } else {
        next.run(request).await
    };
    if !is_download || allowed_origin.is_some() {
        decorate(response.headers_mut(), allowed_origin.as_deref());
    }
    response
}

fn canonical_header(name: &str) -> &'static str {
    if name == "rui-client" {
        "RUI-Client"
    } else {
        "RUI-Client-Version"
    }
}

fn decorate(h: &mut HeaderMap, origin: Option<&str>) {
    if let Some(o) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    let fixed: [(&str, &str); 5] = [
        ("rui-api", "Reporting API (3.0.0)"),
        ("x-content-type-options", "nosniff"),
        ("x-xss-protection", "1; mode=block"),
        ("referrer-policy", "no-referrer-when-downgrade"),
        ("cache-control", "no-store"),
    ];
    for (k, v) in fixed {
        h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
    }
    h.insert(HeaderName::from_static("rui-lib"), HeaderValue::from_static(env!("CARGO_PKG_VERSION")));
}

/// The answer for an unknown route or an unsupported method (404, not 405: §1.1 Decision).
pub async fn no_route(request: Request<Body>) -> Response {
    let reason = format!("no route for {} {}", request.method(), request.uri().path());
    ErrorResponse(ApiError::not_found(reason)).into_response()
}

#[cfg(test)]
mod tests {
    use super::canonical_path;

    #[test]
    fn paths_are_canonicalised() {
        assert_eq!(
            canonical_path("/V3/reporting/generic/DATERANGE/2376158762/").as_deref(),
            Some("/v3/reporting/generic/dateRange/2376158762")
        );
        assert_eq!(canonical_path("/v3/download/AbCdReporting").as_deref(), Some("/v3/download/AbCdReporting"));
        assert_eq!(canonical_path("/callhome/v1/x"), None);
        assert_eq!(
            canonical_path("/v3/reporting/eventtracking/basic/timeline/1").as_deref(),
            Some("/v3/reporting/eventTracking/basic/timeline/1")
        );
    }
}
