//! Call-home protocol v1: `/callhome/v1/{product_id}/…` (callhome-protocol.md).

pub mod geo;
mod license;
mod optout;
mod ping;
mod sync;

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use usagi_catalog::Product;
use usagi_protocol::decode::{decode_body, DecodeError, SMALL_MAX, SYNC_MAX_DECOMPRESSED, SYNC_MAX_WIRE};
use usagi_protocol::signing::{verify_request, AuthFailure, ProductSecret};
use usagi_types::{ApiError, ErrorKind, ProductId};

use crate::state::AppState;

/// The call-home routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/callhome/v1/{product_id}/{*action}", any(dispatch))
        .route("/callhome/{*rest}", any(|| async { CallhomeError::not_found("no such call-home endpoint") }))
}

/// A call-home error: the Reporting API's envelope, plus `serverTime` on clock errors.
#[derive(Debug)]
pub struct CallhomeError {
    error: ApiError,
    server_time: Option<i64>,
    /// Answer 503 instead of 500: the request is fine, the server is temporarily full.
    unavailable: bool,
}

impl CallhomeError {
    fn new(kind: ErrorKind, reason: impl Into<String>) -> Self {
        Self { error: ApiError { kind, reason: reason.into() }, server_time: None, unavailable: false }
    }
    fn not_found(reason: &str) -> Self {
        Self::new(ErrorKind::NotFound, reason)
    }
    fn syntax(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Syntax, reason)
    }
    fn too_large(reason: &str) -> Self {
        Self::new(ErrorKind::TooLarge, reason)
    }
    fn server(reason: &str) -> Self {
        Self::new(ErrorKind::Server, reason)
    }
    fn unavailable(reason: &str) -> Self {
        Self { unavailable: true, ..Self::new(ErrorKind::Server, reason) }
    }
}

impl IntoResponse for CallhomeError {
    fn into_response(self) -> Response {
        let mut body = serde_json::Map::new();
        body.insert("status".into(), self.error.kind.status_word().into());
        body.insert("reason".into(), self.error.reason.clone().into());
        if let Some(t) = self.server_time {
            body.insert("serverTime".into(), t.into());
        }
        let status = if self.unavailable {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::from_u16(self.error.kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        };
        let mut resp = (status, json_body(&serde_json::Value::Object(body))).into_response();
        match self.error.kind {
            ErrorKind::RateLimited { retry_after_s } => {
                resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
            }
            ErrorKind::Server => {
                resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(5u64));
            }
            _ => {}
        }
        resp
    }
}

fn json_body<T: serde::Serialize>(v: &T) -> Response {
    let text = usagi_types::to_ascii_json(v);
    ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], text).into_response()
}

/// A verified request: its product and decoded JSON body.
struct Verified {
    product: Product,
    json: Vec<u8>,
    peer: SocketAddr,
    headers: HeaderMap,
    /// Server receive time, ms.
    received_at: i64,
}

async fn dispatch(
    State(app): State<AppState>,
    Path((product_raw, action)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let method = request.method().clone();
    let action = action.trim_end_matches('/').to_string();
    let known = matches!(action.as_str(), "sync" | "ping" | "optout" | "license/check" | "license/set");
    if !known || method != Method::POST {
        return CallhomeError::not_found(&format!("no route for {method} /callhome/v1/{product_raw}/{action}"))
            .into_response();
    }
    let received_at = app.clock.now_ms();
    let result = match verify(&app, &product_raw, &action, peer, request, received_at).await {
        Ok(v) => match action.as_str() {
            "sync" => sync::handle(&app, v).await,
            "ping" => ping::handle(&app, v).await,
            "optout" => optout::handle(&app, v).await,
            "license/check" => license::handle(&app, v, false).await,
            _ => license::handle(&app, v, true).await,
        },
        Err(e) => Err(e),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Steps 1–4 of callhome §9.1: product, wire size, signature, decompression.
async fn verify(
    app: &AppState,
    product_raw: &str,
    action: &str,
    peer: SocketAddr,
    request: Request,
    received_at: i64,
) -> Result<Verified, CallhomeError> {
    let unknown = || CallhomeError::not_found("unknown product");
    let product_id = ProductId::parse(product_raw).map_err(|_| unknown())?;
    let product = app
        .catalog
        .get_product(product_id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "catalog lookup failed");
            CallhomeError::server("catalog unavailable")
        })?
        .filter(|p| !p.disabled)
        .ok_or_else(unknown)?;

    let (parts, body) = request.into_parts();
    let wire_max = if action == "sync" { SYNC_MAX_WIRE } else { SMALL_MAX };
    let wire = read_limited(body, wire_max).await?;

    let now = app.clock.now();
    let secrets: Vec<ProductSecret> = app
        .catalog
        .active_secrets(product_id, now)
        .await
        .map_err(|_| CallhomeError::server("catalog unavailable"))?
        .iter()
        .filter_map(|s| ProductSecret::parse_hex(s).ok())
        .collect();
    let header_str = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    verify_request(&secrets, header_str("x-timestamp"), header_str("x-signature"), &wire, now.timestamp()).map_err(
        |failure| {
            let mut e = CallhomeError::new(ErrorKind::Auth, failure.reason());
            if matches!(failure, AuthFailure::TimestampOutOfRange) {
                e.server_time = Some(received_at);
            }
            e
        },
    )?;

    let content_type = header_str("content-type").unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if mime != "application/json" {
        return Err(CallhomeError::syntax("Content-Type must be application/json"));
    }
    let max_json = if action == "sync" { SYNC_MAX_DECOMPRESSED } else { SMALL_MAX };
    let json = decode_body(header_str("content-encoding"), &wire, max_json).map_err(|e| match e {
        DecodeError::TooLarge => CallhomeError::too_large("decompressed body exceeds the limit"),
        DecodeError::Corrupt => CallhomeError::syntax("body is not valid compressed data"),
        DecodeError::Unsupported(enc) => CallhomeError::syntax(format!("Content-Encoding '{enc}' is not supported")),
    })?;
    Ok(Verified { product, json, peer, headers: parts.headers, received_at })
}

async fn read_limited(body: Body, max: usize) -> Result<Bytes, CallhomeError> {
    axum::body::to_bytes(body, max).await.map_err(|_| CallhomeError::too_large("body exceeds the size limit"))
}

/// Clamps a client time into the server's clock window (callhome §9.3).
fn clamp(t: i64, received_at: i64) -> i64 {
    if t > received_at + 600_000 {
        received_at
    } else {
        t
    }
}
