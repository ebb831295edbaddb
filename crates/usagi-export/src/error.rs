//! Export errors.

use thiserror::Error;

/// Why an export file could not be built or served.
#[derive(Debug, Error)]
pub enum ExportError {
    /// File system trouble.
    #[error("export file I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Writing the zip.
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// Writing a CSV.
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    /// Writing JSON.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// The warehouse query failed.
    #[error("warehouse: {0}")]
    Warehouse(String),
    /// The catalog failed.
    #[error("catalog: {0}")]
    Catalog(#[from] usagi_catalog::CatalogError),
    /// A worker task failed.
    #[error("task: {0}")]
    Task(String),
    /// A request that makes no sense.
    #[error("{0}")]
    Invalid(String),
}
