//! Export files (reporting-api §13.2–§13.3, §14, §16): listings, one-time download URLs and
//! the download itself.
//!
//! A file is *listed* when it exists in the store, belongs to the product and family, and is
//! within `exportRetentionDays`; only listed files get a URL. The URL names the file, not its
//! bytes: today's open file may be regenerated between issue and download, and the download
//! serves the version current when it starts.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, NaiveDate};
use futures::Stream;
use serde_json::{json, Map, Value};
use usagi_catalog::{Catalog, Product};
use usagi_export::{job::first_kept_day, Family, FileName, Kind, Span, StoredFile};
use usagi_types::{ApiError, JsonObject};

use super::body::{query_params, read_body, MAX_BODY};
use super::principal::{authenticate, product_scope, rate_limit, Need, ProductScope};
use super::response::{json, ApiResult, ErrorResponse};
use crate::state::AppState;

/// How long one transfer may hold a download URL before another may try.
const TRANSFER_LEASE_HOURS: i64 = 6;

/// Authentication, rate limit and viewer access to a product, for the file endpoints.
async fn scope(app: &AppState, product: &str, request: Request) -> Result<(ProductScope, Body), ErrorResponse> {
    let (parts, body) = request.into_parts();
    let principal = authenticate(app, &parts.headers).await?;
    rate_limit(app, &principal).await?;
    let scope = product_scope(app, &principal, product, Need::VIEWER).await?;
    query_params(&parts.uri, false, &[])?;
    let body = match read_body(&parts.headers, body, MAX_BODY).await? {
        Some(bytes) => Body::from(bytes),
        None => Body::empty(),
    };
    Ok((scope, body))
}

/// Sizes are KiB with three decimals, as in the vendor's examples.
fn kib(bytes: u64) -> f64 {
    (bytes as f64 / 1024.0 * 1000.0).round() / 1000.0
}

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The listed files of a family: open (today's), finalized daily, monthly.
struct Listing {
    open: Vec<(StoredFile, bool)>,
    building_first: Vec<FileName>,
    daily: Vec<StoredFile>,
    monthly: Vec<StoredFile>,
}

fn listing(app: &AppState, product: &Product, family: Family) -> Result<Listing, ApiError> {
    let store = app.exports.exporter().store();
    let today = app.clock.today();
    let keep_from = first_kept_day(product, today);
    let io = |e: std::io::Error| {
        tracing::error!(error = %e, "export store unreadable");
        ApiError::server("the export files could not be listed")
    };
    let in_window = |f: &StoredFile| match f.name.span {
        Span::Day(d) => d >= keep_from && d <= today,
        Span::Month { stop, .. } => stop >= keep_from,
    };
    let daily: Vec<StoredFile> = store
        .list(product.id, family, Kind::Daily)
        .map_err(io)?
        .into_iter()
        .filter(|f| in_window(f) && f.name.span != Span::Day(today))
        .collect();
    let monthly = if family == Family::Raw {
        Vec::new()
    } else {
        store.list(product.id, family, Kind::Monthly).map_err(io)?.into_iter().filter(in_window).collect()
    };
    let today_name = FileName::day(product.id, family, today);
    let (open, building_first) = if family == Family::Raw {
        (Vec::new(), Vec::new())
    } else {
        let open: Vec<(StoredFile, bool)> = store
            .list(product.id, family, Kind::Open)
            .map_err(io)?
            .into_iter()
            .filter(|f| f.name == today_name)
            .map(|f| {
                let building = store.is_building(&f.name);
                (f, !building)
            })
            .collect();
        // A first build of today's file that has not finished yet is listed as unavailable.
        let first = if open.is_empty() && store.is_building(&today_name) { vec![today_name] } else { vec![] };
        (open, first)
    };
    Ok(Listing { open, building_first, daily, monthly })
}

fn family_listing_json(l: &Listing) -> Value {
    let mut open: Vec<Value> = l
        .open
        .iter()
        .map(|(f, available)| {
            json!({"fileName": f.name.to_string(), "uncompressedSizeKB": kib(f.uncompressed_bytes),
                   "fileDate": span_date(f), "isAvailable": available})
        })
        .collect();
    open.extend(l.building_first.iter().map(|n| {
        let day = match n.span {
            Span::Day(d) => date(d),
            Span::Month { start, .. } => date(start),
        };
        json!({"fileName": n.to_string(), "uncompressedSizeKB": 0.0, "fileDate": day, "isAvailable": false})
    }));
    let daily: Vec<Value> = l
        .daily
        .iter()
        .map(|f| {
            json!({"fileName": f.name.to_string(), "uncompressedSizeKB": kib(f.uncompressed_bytes),
                   "compressedSizeKB": kib(f.compressed_bytes), "fileDate": span_date(f)})
        })
        .collect();
    let monthly: Vec<Value> = l
        .monthly
        .iter()
        .filter_map(|f| match f.name.span {
            Span::Month { start, stop } => Some(json!({"fileName": f.name.to_string(),
                "uncompressedSizeKB": kib(f.uncompressed_bytes), "compressedSizeKB": kib(f.compressed_bytes),
                "fileStartDate": date(start), "fileStopDate": date(stop)})),
            Span::Day(_) => None,
        })
        .collect();
    let mut out = Map::new();
    out.insert("openDailyFiles".into(), Value::Array(open));
    out.insert("dailyFiles".into(), Value::Array(daily));
    out.insert("monthlyFiles".into(), Value::Array(monthly));
    Value::Object(out)
}

fn span_date(f: &StoredFile) -> String {
    match f.name.span {
        Span::Day(d) => date(d),
        Span::Month { start, .. } => date(start),
    }
}

async fn list_family(app: AppState, product: String, request: Request, family: Family) -> ApiResult {
    let (scope, _) = scope(&app, &product, request).await?;
    Ok(json(&family_listing_json(&listing(&app, &scope.product, family)?)))
}

/// `GET /v3/customEventTracking/listFiles/{product_id}`.
pub async fn custom_event_files(State(app): State<AppState>, Path(p): Path<String>, r: Request) -> ApiResult {
    list_family(app, p, r, Family::CustomEvents).await
}

/// `GET /v3/exceptionTracking/listFiles/{product_id}`.
pub async fn exception_files(State(app): State<AppState>, Path(p): Path<String>, r: Request) -> ApiResult {
    list_family(app, p, r, Family::Exceptions).await
}

/// `GET /v3/rawEvents/download/listFiles/{product_id}`: finalized daily files, newest first.
pub async fn raw_files(State(app): State<AppState>, Path(p): Path<String>, r: Request) -> ApiResult {
    let (scope, _) = scope(&app, &p, r).await?;
    let l = listing(&app, &scope.product, Family::Raw)?;
    let files: Vec<Value> = l
        .daily
        .iter()
        .map(|f| {
            json!({"fileName": f.name.to_string(), "fileDate": span_date(f),
                   "compressedSizeKB": kib(f.compressed_bytes)})
        })
        .collect();
    Ok(json(&json!({ "fileList": files })))
}

/// Issues a URL for a listed file of `family`: 404 when not listed, 409 while an open file
/// is being regenerated.
async fn download_url(app: AppState, product: String, request: Request, family: Family) -> ApiResult {
    let (scope, body) = scope(&app, &product, request).await?;
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let body = JsonObject::parse_body(&bytes)?;
    let name_value = body.required("fileName")?;
    let file_name = name_value.string()?.to_string();
    body.finish()?;
    let l = listing(&app, &scope.product, family)?;
    let not_listed = || ApiError::not_found(format!("no file '{file_name}' is listed for this product"));
    let listed = l.daily.iter().chain(&l.monthly).any(|f| f.name.to_string() == file_name);
    if !listed {
        match l.open.iter().find(|(f, _)| f.name.to_string() == file_name) {
            Some((_, true)) => {}
            Some((_, false)) => {
                return Err(ApiError::conflict(format!("'{file_name}' is being regenerated; try again shortly")).into())
            }
            None if l.building_first.iter().any(|n| n.to_string() == file_name) => {
                return Err(ApiError::conflict(format!("'{file_name}' is being generated; try again shortly")).into())
            }
            None => return Err(not_listed().into()),
        }
    }
    let expires = app.clock.now() + Duration::hours(i64::from(app.config.exports.download_expiry_hours));
    let issued = app.catalog.issue_download(scope.product.id, &file_name, expires).await.map_err(|e| {
        tracing::error!(error = %e, "download URL not issued");
        ApiError::server("the download URL could not be issued")
    })?;
    let base = app.config.public_url.trim_end_matches('/');
    Ok(json(&json!({ "downloadUrl": format!("{base}/v3/download/{}", issued.token) })))
}

/// `POST /v3/customEventTracking/getDownloadUrl/{product_id}`.
pub async fn custom_event_download_url(State(app): State<AppState>, Path(p): Path<String>, r: Request) -> ApiResult {
    download_url(app, p, r, Family::CustomEvents).await
}

/// `POST /v3/exceptionTracking/getDownloadUrl/{product_id}`.
pub async fn exception_download_url(State(app): State<AppState>, Path(p): Path<String>, r: Request) -> ApiResult {
    download_url(app, p, r, Family::Exceptions).await
}

/// `POST /v3/rawEvents/download/getDownloadUrl/{product_id}`.
pub async fn raw_download_url(State(app): State<AppState>, Path(p): Path<String>, r: Request) -> ApiResult {
    download_url(app, p, r, Family::Raw).await
}

/// `GET /v3/download/{token}`: the file, once. No credentials: the token is the credential.
pub async fn download(State(app): State<AppState>, Path(token): Path<String>) -> Response {
    let gone = || ErrorResponse(ApiError::not_found("this download URL is unknown, spent or expired")).into_response();
    let now = app.clock.now();
    let grant = match app.catalog.claim_download(&token, now, Duration::hours(TRANSFER_LEASE_HOURS)).await {
        Ok(Some(g)) => g,
        Ok(None) => return gone(),
        Err(e) => {
            tracing::error!(error = %e, "download token lookup failed");
            return ErrorResponse(ApiError::server("the download could not start")).into_response();
        }
    };
    let release = Release { catalog: app.catalog.clone(), token: token.clone(), completed: false };
    let found = FileName::parse(&grant.file_name)
        .filter(|n| n.product == grant.product)
        .and_then(|n| app.exports.exporter().store().find(&n).ok().flatten());
    let Some(file) = found else {
        // Removed by retention since the URL was issued.
        drop(release);
        return gone();
    };
    let opened = match tokio::fs::File::open(&file.path).await {
        Ok(f) => f,
        Err(_) => {
            drop(release);
            return gone();
        }
    };
    let length = match opened.metadata().await {
        Ok(m) => m.len(),
        Err(_) => {
            drop(release);
            return gone();
        }
    };
    tracing::info!(file = %grant.file_name, bytes = length, "download started");
    let body =
        Body::from_stream(FileBody { file: opened, remaining: length, release: Some(release), buf: vec![0; 64 << 10] });
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", grant.file_name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Ends a claimed transfer when dropped: spends the token if the body was sent whole,
/// otherwise releases it for another try.
struct Release {
    catalog: Arc<dyn Catalog>,
    token: String,
    completed: bool,
}

impl Drop for Release {
    fn drop(&mut self) {
        let (catalog, token, completed) = (self.catalog.clone(), std::mem::take(&mut self.token), self.completed);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = catalog.finish_download(&token, completed).await {
                    tracing::error!(error = %e, "download token not updated");
                }
                tracing::info!(completed, "download ended");
            });
        }
    }
}

/// The file's bytes; the token is spent once the last byte is handed to the connection, and
/// released if the body is dropped before (the client went away).
struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
    release: Option<Release>,
    buf: Vec<u8>,
}

impl Stream for FileBody {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.remaining == 0 {
            if let Some(mut r) = this.release.take() {
                r.completed = true;
            }
            return Poll::Ready(None);
        }
        let want = this.buf.len().min(usize::try_from(this.remaining).unwrap_or(usize::MAX));
        let mut buf = tokio::io::ReadBuf::new(&mut this.buf[..want]);
        match tokio::io::AsyncRead::poll_read(Pin::new(&mut this.file), cx, &mut buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                Poll::Ready(Some(Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "export file shrank"))))
            }
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len();
                this.remaining -= n as u64;
                if this.remaining == 0 {
                    // The last bytes go to the connection now. With a Content-Length the server
                    // never asks for more, so this is the closest point to "sent completely".
                    if let Some(mut r) = this.release.take() {
                        r.completed = true;
                    }
                }
                Poll::Ready(Some(Ok(Bytes::copy_from_slice(buf.filled()))))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
        }
    }
}
