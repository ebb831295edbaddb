//! Ingestion: validated telemetry becomes durable, then reaches the warehouse exactly once.
//!
//! ```text
//!  sync handler ──► Ingest::begin_sync ──► (duplicate? stored receipt)
//!                        │ SyncGuard::commit
//!                        ▼
//!               log writer thread: append, fdatasync (group commit), receipts ──► ack
//!                        │
//!                        ▼
//!               loader task: read log ► LoadBatch ► Warehouse::load (exactly once by LSN)
//! ```
//!
//! A sync is acknowledged once its entry is fsynced in the log; the warehouse can be
//! slow or down without losing acknowledged data. Past a bounded backlog, new work
//! is refused with [`IngestError::Backlogged`] (HTTP 503 with Retry-After).

pub mod encoding;
pub mod entry;
pub mod error;
pub mod loader;
pub mod log;
pub mod properties;
pub mod receipts;
pub mod service;

pub use entry::{Geo, LicenseSetEntry, LogEntry, OptOutEntry, StoredResponse, SyncEntry};
pub use error::IngestError;
pub use receipts::Receipt;
pub use service::{BeginSync, Ingest, IngestConfig, SyncGuard, PAUSE_FILE};
