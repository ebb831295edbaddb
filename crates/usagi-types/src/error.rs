//! The single error vocabulary of the Reporting API (spec §1.9).
//!
//! Every error a client can see is an [`ApiError`]: one of the eight statuses of the
//! spec's table plus one English sentence. The HTTP layer maps it to a response in
//! one place using [`ErrorKind::http_status`] and [`ApiError::body_json`].

use std::fmt;

use serde::Serialize;

use crate::json::to_ascii_json;

/// The kind of an API error; each kind has exactly one HTTP status and status word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 400: malformed JSON, validation failures, malformed product id, bad query parameters.
    Syntax,
    /// 401: not authenticated, wrong credentials, cookie or token problems.
    Auth,
    /// 403: Origin missing or not allowed; missing permission.
    Forbidden,
    /// 404: unknown route, product, client, file or download URL.
    NotFound,
    /// 409: file not downloadable yet; a concurrent bulk key update.
    Conflict,
    /// 413: body, URL or result over a limit.
    TooLarge,
    /// 429: rate limit reached; the response must carry `Retry-After`.
    RateLimited {
        /// Seconds to put in the `Retry-After` header (§1.9: always set).
        retry_after_s: u64,
    },
    /// 500: unexpected failure or time budget exceeded.
    Server,
}

impl ErrorKind {
    /// The HTTP status code of this kind, as a plain number (this crate knows no HTTP framework).
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Syntax => 400,
            Self::Auth => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::TooLarge => 413,
            Self::RateLimited { .. } => 429,
            Self::Server => 500,
        }
    }

    /// The `status` member of the error body.
    pub fn status_word(&self) -> &'static str {
        match self {
            Self::Syntax => "SYNTAX ERROR",
            Self::Auth => "AUTH ERROR",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT FOUND",
            Self::Conflict => "CONFLICT",
            Self::TooLarge => "TOO LARGE",
            Self::RateLimited { .. } => "RATE LIMITED",
            Self::Server => "SERVER ERROR",
        }
    }
}

/// An error as the client sees it: a kind plus one sentence naming what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Which status the error answers with.
    pub kind: ErrorKind,
    /// One English sentence naming the offending field, header or value.
    pub reason: String,
}

impl ApiError {
    /// An error of any kind.
    pub fn new(kind: ErrorKind, reason: impl Into<String>) -> Self {
        Self { kind, reason: reason.into() }
    }

    /// 400 `SYNTAX ERROR`.
    pub fn syntax(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Syntax, reason)
    }

    /// 401 `AUTH ERROR`.
    pub fn auth(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Auth, reason)
    }

    /// 403 `FORBIDDEN`.
    pub fn forbidden(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, reason)
    }

    /// 404 `NOT FOUND`.
    pub fn not_found(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, reason)
    }

    /// 409 `CONFLICT`.
    pub fn conflict(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, reason)
    }

    /// 413 `TOO LARGE`.
    pub fn too_large(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::TooLarge, reason)
    }

    /// 429 `RATE LIMITED`, telling the client when to retry.
    pub fn rate_limited(retry_after_s: u64, reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::RateLimited { retry_after_s }, reason)
    }

    /// 500 `SERVER ERROR`.
    pub fn server(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Server, reason)
    }

    /// The HTTP status code (shortcut for `self.kind.http_status()`).
    pub fn http_status(&self) -> u16 {
        self.kind.http_status()
    }

    /// The `Retry-After` value in seconds, for rate-limit errors only.
    pub fn retry_after_s(&self) -> Option<u64> {
        match self.kind {
            ErrorKind::RateLimited { retry_after_s } => Some(retry_after_s),
            _ => None,
        }
    }

    /// The response body: exactly `{"status":"…","reason":"…"}`, pure ASCII (§1.8, §1.9).
    pub fn body_json(&self) -> String {
        // A struct rather than a map so that the member order is fixed by the type.
        #[derive(Serialize)]
        struct Body<'a> {
            status: &'static str,
            reason: &'a str,
        }
        to_ascii_json(&Body { status: self.kind.status_word(), reason: &self.reason })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.status_word(), self.reason)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_words() {
        let table = [
            (ErrorKind::Syntax, 400, "SYNTAX ERROR"),
            (ErrorKind::Auth, 401, "AUTH ERROR"),
            (ErrorKind::Forbidden, 403, "FORBIDDEN"),
            (ErrorKind::NotFound, 404, "NOT FOUND"),
            (ErrorKind::Conflict, 409, "CONFLICT"),
            (ErrorKind::TooLarge, 413, "TOO LARGE"),
            (ErrorKind::RateLimited { retry_after_s: 3 }, 429, "RATE LIMITED"),
            (ErrorKind::Server, 500, "SERVER ERROR"),
        ];
        for (kind, status, word) in table {
            assert_eq!(kind.http_status(), status);
            assert_eq!(kind.status_word(), word);
        }
    }

    #[test]
    fn constructors_pick_their_kind() {
        assert_eq!(ApiError::syntax("x").kind, ErrorKind::Syntax);
        assert_eq!(ApiError::auth("x").kind, ErrorKind::Auth);
        assert_eq!(ApiError::forbidden("x").kind, ErrorKind::Forbidden);
        assert_eq!(ApiError::not_found("x").kind, ErrorKind::NotFound);
        assert_eq!(ApiError::conflict("x").kind, ErrorKind::Conflict);
        assert_eq!(ApiError::too_large("x").kind, ErrorKind::TooLarge);
        assert_eq!(ApiError::server("x").kind, ErrorKind::Server);
        let limited = ApiError::rate_limited(7, "slow down");
        assert_eq!(limited.http_status(), 429);
        assert_eq!(limited.retry_after_s(), Some(7));
        assert_eq!(ApiError::syntax("x").retry_after_s(), None);
    }

    #[test]
    fn body_is_exact_envelope() {
        let e = ApiError::syntax("field 'clientStatus[1]' must be one of: new, active, lost");
        assert_eq!(
            e.body_json(),
            r#"{"status":"SYNTAX ERROR","reason":"field 'clientStatus[1]' must be one of: new, active, lost"}"#
        );
        assert_eq!(
            ApiError::auth("Not authenticated").body_json(),
            r#"{"status":"AUTH ERROR","reason":"Not authenticated"}"#
        );
    }

    #[test]
    fn body_escapes_quotes_and_non_ascii() {
        let e = ApiError::syntax("unknown field 'caf\u{e9}\"x' \u{1F600}");
        assert_eq!(e.body_json(), r#"{"status":"SYNTAX ERROR","reason":"unknown field 'caf\u00e9\"x' \ud83d\ude00"}"#);
    }

    #[test]
    fn display_names_status_and_reason() {
        assert_eq!(ApiError::not_found("no route for GET /v3/x").to_string(), "NOT FOUND: no route for GET /v3/x");
    }
}
