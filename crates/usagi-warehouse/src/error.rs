//! Errors of the warehouse crate.

/// A warehouse failure; never shown to API users verbatim.
#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    /// The backend engine reported an error.
    #[error("warehouse engine error: {0}")]
    Engine(String),
    /// The data directory or a file in it could not be used.
    #[error("warehouse storage error: {0}")]
    Io(#[from] std::io::Error),
    /// A background task died.
    #[error("warehouse task failed: {0}")]
    Task(String),
}
