//! Turning results into Reporting API responses: ASCII JSON, the error envelope.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use usagi_types::ApiError;

/// A successful JSON answer, written as pure ASCII (reporting-api §1.8).
pub fn json<T: Serialize>(value: &T) -> Response {
    let text = usagi_types::to_ascii_json(value);
    ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], text).into_response()
}

/// An [`ApiError`] as an HTTP response.
pub struct ErrorResponse(pub ApiError);

impl From<ApiError> for ErrorResponse {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp =
            (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], self.0.body_json()).into_response();
        if let Some(wait) = self.0.retry_after_s() {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        }
        resp
    }
}

/// Result type of API handlers.
pub type ApiResult = Result<Response, ErrorResponse>;
