//! Errors of a simulation run.

use uuid::Uuid;

use crate::fleet::FleetError;

/// Why a simulation run stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// The product secret is not 32 hex characters.
    #[error("the product secret must be 32 hexadecimal characters")]
    InvalidSecret,
    /// The base URL does not form a valid endpoint URL.
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The fleet configuration cannot be simulated.
    #[error(transparent)]
    Fleet(#[from] FleetError),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// The server does not know the endpoint or product; the SDK would stop calling home.
    #[error("the server answered 404 NOT FOUND for {url}: wrong base URL or product id, or the product is disabled")]
    NotFound {
        /// The sync URL that was called.
        url: String,
    },
    /// The server refused the signature: the secret (or clock) is wrong for every batch alike.
    #[error("the server refused the request signature: {reason} (check the product secret)")]
    Unauthorized {
        /// The server's reason.
        reason: String,
    },
    /// A batch kept failing with retryable errors until the retry budget ran out.
    #[error("batch {batch_id} failed after {attempts} attempts: {reason}")]
    GaveUp {
        /// The batch that could not be delivered.
        batch_id: Uuid,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// Compressing a body failed.
    #[error("cannot compress a batch: {0}")]
    Compress(#[source] std::io::Error),
    /// A worker task panicked or was cancelled.
    #[error("a simulator task failed: {0}")]
    Task(String),
}
