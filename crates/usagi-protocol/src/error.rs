//! Error types of the protocol crate; the HTTP layer maps each to the spec's error envelope.

/// A request body that can never succeed: answered with 400 `SYNTAX ERROR` and this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct SyntaxError {
    reason: String,
}

impl SyntaxError {
    /// Wraps a reason sentence that names the offending field (`records[3].name must be 1-128 characters`).
    pub fn new(reason: impl Into<String>) -> Self {
        Self { reason: reason.into() }
    }

    /// The reason sentence for the error body.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Why a request body could not be decoded (§4): 400 except [`DecodeError::TooLarge`], which is 413.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A `Content-Encoding` other than `gzip`, `zstd` or `identity`.
    #[error("unsupported Content-Encoding {0:?}")]
    Unsupported(String),
    /// The compressed data is damaged or truncated.
    #[error("corrupt compressed body")]
    Corrupt,
    /// The body is over the size limit; decompression stopped as soon as it was passed.
    #[error("body exceeds the size limit")]
    TooLarge,
}

/// Why a request failed authentication (§3); always 401 `AUTH ERROR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// `X-Timestamp` or `X-Signature` is missing or malformed.
    #[error("missing or malformed signature headers")]
    MalformedHeaders,
    /// `X-Timestamp` is more than 600 s away from the server clock; the answer carries `serverTime`.
    #[error("timestamp out of range")]
    TimestampOutOfRange,
    /// No listed signature verifies under any active secret.
    #[error("bad signature")]
    BadSignature,
}

impl AuthFailure {
    /// The reason sentence for the error body.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MalformedHeaders => "missing or malformed signature headers",
            Self::TimestampOutOfRange => "timestamp out of range",
            Self::BadSignature => "bad signature",
        }
    }
}

/// A product secret that is not 32 hexadecimal characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("product secret must be 32 hexadecimal characters")]
pub struct SecretError;
