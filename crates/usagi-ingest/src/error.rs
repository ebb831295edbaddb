//! Errors of the ingest path.

/// Why an ingest operation failed. None of these lose acknowledged data.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The log or receipts could not be written or read.
    #[error("ingest storage error: {0}")]
    Io(#[from] std::io::Error),
    /// The receipts database failed.
    #[error("receipt store error: {0}")]
    Receipts(#[from] rusqlite::Error),
    /// An entry could not be encoded or decoded.
    #[error("ingest log entry codec error: {0}")]
    Codec(#[from] serde_json::Error),
    /// The log holds a corrupt entry before its tail.
    #[error("ingest log is corrupt: {0}")]
    Corrupt(String),
    /// Too much acknowledged data waits for the warehouse; try again later.
    #[error("ingest backlog is full; retry later")]
    Backlogged,
    /// The ingest service is shutting down.
    #[error("ingest is shutting down")]
    ShuttingDown,
}
