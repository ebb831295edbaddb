//! Export files: what vendors download instead of querying (reporting-api §13, §14, §16).
//!
//! ```text
//!  background job (job.rs) ──► Exporter (build.rs): streaming query ► CSV ► zip entry
//!        │ what is due: finalized days, today's open file (hourly),          │
//!        │ monthly roll-ups, retention                                       ▼
//!        └──────────────────────────────────────────────────────────► ExportStore (store.rs)
//!  listFiles / getDownloadUrl (server) ◄── list / find ──────────────────────┘
//! ```
//!
//! Files are partitioned by server **receive** date, so a finalized file never changes.
//! Raw data zips carry `manifest.json`, four CSVs and `erasures.json` (the installations
//! erased that day, for downstream copies of earlier files).

pub mod build;
pub mod error;
pub mod job;
pub mod names;
pub mod store;

pub use build::{client_properties_header, day_start_ms, Exporter, RawDayInputs, FORMAT_VERSION};
pub use error::ExportError;
pub use job::{ExportJob, JobSummary};
pub use names::{Family, FileName, Span};
pub use store::{ExportStore, Kind, StoredFile};
