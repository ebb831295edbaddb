//! Reading request bodies and `?query=` parameters (reporting-api §1.6, §1.7).

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Uri};
use usagi_types::ApiError;

/// Largest ordinary request body.
pub const MAX_BODY: usize = 1 << 20;
/// Largest URL accepted for `GET …?query=`.
pub const MAX_URL: usize = 16 << 10;

/// Reads a body up to `limit`; `None` when it is empty. Checks Content-Type when non-empty.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Option<Bytes>, ApiError> {
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::too_large(format!("request body exceeds {} bytes", limit)))?;
    if bytes.is_empty() {
        return Ok(None);
    }
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if mime != "application/json" && mime != "text/javascript" {
        return Err(ApiError::syntax("Content-Type must be application/json"));
    }
    Ok(Some(bytes))
}

/// The query parameters an endpoint accepted.
#[derive(Debug, Default)]
pub struct QueryParams {
    /// `?query=` of a read-only report.
    pub query: Option<String>,
    /// Parameters documented for the endpoint.
    pub other: Vec<(String, String)>,
}

/// Query parameters of a request, checked against what the endpoint documents.
///
/// `resultFormat=raw` / `responseFormat=raw` are accepted everywhere and ignored;
/// `query` is returned when `allow_query` (the endpoint is marked Q).
pub fn query_params(uri: &Uri, allow_query: bool, extra: &[&str]) -> Result<QueryParams, ApiError> {
    if uri.to_string().len() > MAX_URL {
        return Err(ApiError::too_large("URL exceeds 16 KiB"));
    }
    let mut query = None;
    let mut rest = Vec::new();
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "resultFormat" | "responseFormat" => {
                if v != "raw" {
                    return Err(ApiError::syntax("formatted output (highcharts, table) is not supported"));
                }
            }
            "query" if allow_query => query = Some(v.into_owned()),
            other if extra.contains(&other) => rest.push((k.into_owned(), v.into_owned())),
            other => return Err(ApiError::syntax(format!("query parameter '{other}' is not supported here"))),
        }
    }
    Ok(QueryParams { query, other: rest })
}

/// The JSON request of a read-only report: the POST body, or `GET ?query=`.
pub async fn report_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Option<Bytes>, ApiError> {
    let query = query_params(uri, true, &[])?.query;
    let body = read_body(headers, body, MAX_BODY).await?;
    match (method, query, body) {
        (_, Some(_), Some(_)) => Err(ApiError::syntax("send the request either as a body or as ?query=, not both")),
        (&Method::GET, Some(q), None) => Ok(Some(Bytes::from(q))),
        (_, None, b) => Ok(b),
        (_, Some(_), None) => Err(ApiError::syntax("query parameter 'query' is only accepted with GET")),
    }
}
