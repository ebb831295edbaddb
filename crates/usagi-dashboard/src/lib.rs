//! The Usagi web dashboard: `dashboard/web/` embedded in the binary and served at `/`.
//!
//! The dashboard is a pure client of the documented `/v3` API: this crate serves static
//! files only and knows nothing of the server's state. Page state lives in the URL's
//! fragment (`/#/overview?product=…`), so the server needs no SPA fallback and every
//! other path keeps its own answer (`/v3` 404s stay JSON).

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The URL prefix of every asset except the page itself.
pub const STATIC_PREFIX: &str = "/static/";

/// The content security policy of every dashboard file: only this origin's scripts and
/// API; inline style attributes are allowed because the charting library's tooltips use them.
const CSP: &str = "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data: blob:; \
                   style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
                   form-action 'self'";

/// The embedded file at `path` (relative to `dashboard/web/`), with its ETag.
pub fn asset(path: &str) -> Option<(&'static [u8], &'static str)> {
    ASSETS.iter().find(|(p, _, _)| *p == path).map(|(_, bytes, etag)| (*bytes, *etag))
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "text/plain; charset=utf-8",
    }
}

/// Answers one embedded file; `If-None-Match` with the current ETag gets 304. Every file is
/// revalidated on use (`no-cache`), so an upgraded binary never serves a stale mix of modules.
fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some((bytes, etag)) = asset(path) else {
        return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "not found\n")
            .into_response();
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { bytes.into_response() };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    h.insert(header::ETAG, HeaderValue::from_static(etag));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn static_file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    // `index.html` is the page, served at `/` only.
    if path == "index.html" {
        return serve("", &headers);
    }
    serve(&path, &headers)
}

/// The dashboard routes: `/`, `/index.html` and `/static/…`. Merged into the server's router.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/static/{*path}", get(static_file))
        .layer(tower_http::compression::CompressionLayer::new().gzip(true).no_br().no_deflate().no_zstd())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(path: &str, etag: Option<&str>) -> Response {
        let mut req = Request::get(path);
        if let Some(e) = etag {
            req = req.header(header::IF_NONE_MATCH, e);
        }
        router::<()>().oneshot(req.body(Body::empty()).expect("request")).await.expect("infallible")
    }

    #[tokio::test]
    async fn page_and_assets_have_their_types() {
        let page = get("/", None).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(page.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii")
            .contains("default-src 'self'"));
        let js = get("/static/js/main.js", None).await;
        assert_eq!(js.status(), StatusCode::OK);
        assert_eq!(js.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        let lib = get("/static/vendor/echarts/echarts.esm.min.js", None).await;
        assert_eq!(lib.status(), StatusCode::OK);
        assert_eq!(get("/static/nope.js", None).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(get("/static/index.html", None).await.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn etag_revalidation() {
        let first = get("/static/app.css", None).await;
        let etag = first.headers()[header::ETAG].to_str().expect("ascii").to_string();
        assert_eq!(first.headers()[header::CACHE_CONTROL], "no-cache");
        assert_eq!(get("/static/app.css", Some(&etag)).await.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(get("/static/app.css", Some("\"other\"")).await.status(), StatusCode::OK);
    }

    /// Every relative `import … from './x.js'` of every module names an embedded file, so a
    /// renamed module fails here and not only in a browser.
    #[test]
    fn every_module_import_resolves() {
        for (path, bytes, _) in ASSETS.iter().filter(|(p, _, _)| p.ends_with(".js") && !p.starts_with("vendor/")) {
            let text = std::str::from_utf8(bytes).expect("modules are UTF-8");
            let dir: Vec<&str> = path.split('/').collect::<Vec<_>>()[..path.matches('/').count()].to_vec();
            for spec in text.split("from '").skip(1).filter_map(|rest| rest.split('\'').next()) {
                let mut parts = dir.clone();
                for seg in spec.split('/') {
                    match seg {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        s => parts.push(s),
                    }
                }
                let target = parts.join("/");
                assert!(asset(&target).is_some(), "{path} imports {spec}, which is not embedded ({target})");
            }
        }
        let page = std::str::from_utf8(asset("index.html").expect("page").0).expect("UTF-8");
        for reference in page.split(STATIC_PREFIX).skip(1).filter_map(|r| r.split('"').next()) {
            assert!(asset(reference).is_some(), "index.html references {reference}");
        }
    }

    #[test]
    fn every_vendored_file_has_its_license() {
        for f in ["vendor/echarts/LICENSE", "vendor/echarts/NOTICE", "vendor/echarts/VERSION"] {
            assert!(asset(f).is_some(), "{f} is embedded");
        }
    }
}
