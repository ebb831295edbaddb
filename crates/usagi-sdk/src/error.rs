//! The SDK's error vocabulary: every way a call can fail, each one an application can act on.

use std::path::PathBuf;

/// Why an SDK call failed.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// The product id is not 10 digits.
    #[error("product id must be 10 digits")]
    InvalidProductId,
    /// The product secret is not 32 hexadecimal characters.
    #[error("product secret must be 32 hexadecimal characters")]
    InvalidSecret,
    /// The server URL cannot be used.
    #[error("invalid server URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A required text (app name, event name, class or method name, key) is empty after trimming.
    #[error("{field} must not be empty")]
    Empty {
        /// The parameter.
        field: &'static str,
    },
    /// A session id is not 10–64 characters after conditioning.
    #[error("session id must be 10-64 characters (got {len})")]
    InvalidSessionId {
        /// Its length after trimming and removing whitespace other than plain spaces.
        len: usize,
    },
    /// Explicit sessions need multi-session mode, and multi-session mode needs explicit session ids.
    #[error("{0}")]
    SessionMode(&'static str),
    /// A custom property index outside 1–20.
    #[error("custom property index must be 1-20 (got {0})")]
    InvalidCustomPropertyIndex(u32),
    /// An event value that is not a finite number.
    #[error("event value must be a finite number")]
    NonFiniteValue,
    /// A custom event with no pairs, or more than 50.
    #[error("a custom event needs 1-50 key/value pairs (got {0})")]
    CustomPairCount(usize),
    /// A license key that is not 1–256 characters after trimming.
    #[error("license key must be 1-256 characters")]
    InvalidLicenseKey,
    /// The call is not allowed in the SDK's current state (e.g. start twice, track after stop).
    #[error("not allowed while the SDK is {0}")]
    WrongState(&'static str),
    /// The user opted out: nothing is recorded and nothing but the opt-out notice is sent.
    #[error("the user opted out")]
    OptedOut,
    /// The server told this installation to back off, or disabled it; no call home is made.
    #[error("the server told this installation to stop calling home")]
    Suspended,
    /// A manual sync less than 60 s after the previous one.
    #[error("manual syncs are limited to one per 60 seconds")]
    SyncTooSoon,
    /// The data directory cannot be used.
    #[error("data directory {path}: {source}")]
    Storage {
        /// The file or directory involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A real-time call (license check/set) failed on the network or with an HTTP error.
    #[error("call home failed: {0}")]
    Network(String),
    /// The server refused a real-time call with a protocol error (`status`/`reason` envelope).
    #[error("server answered {http}: {reason}")]
    Server {
        /// HTTP status.
        http: u16,
        /// The reason sentence of the error body.
        reason: String,
    },
    /// A real-time call did not finish in time.
    #[error("call home timed out")]
    Timeout,
    /// The SDK's background thread could not be started.
    #[error("cannot start the SDK's background thread: {0}")]
    Thread(#[source] std::io::Error),
}

impl SdkError {
    /// An I/O error on a path of the data directory.
    pub(crate) fn storage(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Storage { path: path.into(), source }
    }
}

/// Shorthand for SDK results.
pub type Result<T, E = SdkError> = std::result::Result<T, E>;
