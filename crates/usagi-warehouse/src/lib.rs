//! The warehouse: telemetry facts and the rollups reports read.
//!
//! The ingest loader hands the warehouse [`LoadBatch`]es of flat fact rows; reports
//! ask it SQL written once against the logical schema in [`schema`], through the
//! [`Dialect`] of the backend. The embedded backend is the `usagi-warehouse-duckdb` crate.

pub mod columns;
pub mod dialect;
pub mod error;
pub mod facts;
pub mod history;
pub mod rows;
pub mod schema;

use async_trait::async_trait;
use chrono::NaiveDate;
use usagi_types::{ClientId, ProductId};

pub use dialect::Dialect;
pub use error::WarehouseError;
pub use facts::{
    ContactRow, EventRow, ExceptionRow, LoadBatch, MarkKind, ObservationRow, ObservationSource, PropertyRow,
    SessionMarkRow,
};
pub use rows::{Param, Rows, Value};

/// A telemetry store: loads facts exactly once per log position and answers SQL.
#[async_trait]
pub trait Warehouse: Send + Sync + 'static {
    /// The SQL dialect report queries must be written in.
    fn dialect(&self) -> &'static dyn Dialect;

    /// Applies a batch of facts and refreshes the rollups of the installations it touches.
    ///
    /// Idempotent by log position: a batch whose `last_lsn` is not beyond
    /// [`Warehouse::applied_lsn`] is skipped, so a loader that crashed after the
    /// warehouse committed but before it noticed never applies anything twice.
    async fn load(&self, batch: LoadBatch) -> Result<(), WarehouseError>;

    /// The last ingest-log position whose facts are committed here.
    async fn applied_lsn(&self) -> Result<u64, WarehouseError>;

    /// Runs a read-only query.
    async fn query(&self, sql: String, params: Vec<Param>) -> Result<Rows, WarehouseError>;

    /// Erases every fact and rollup row of one installation and corrects the rollups that
    /// sum over installations; returns how many fact rows were removed.
    async fn erase_installation(&self, product: ProductId, client: ClientId) -> Result<u64, WarehouseError>;

    /// Purges the detail data of `product` dated before `cutoff` (retention: semantics §2,
    /// callhome §9.4), in one transaction.
    ///
    /// The lifetime aggregates survive: what is purged is first folded into per-installation
    /// base values (dateInstalled, dateLastSeen, lifetime sessions, runtime, active days and
    /// exceptions, all-time counts per event), and later loads combine those with the facts
    /// they keep. Each installation keeps its latest value of every property, so values still
    /// carry forward into the first retained day. Purging the same cutoff twice changes nothing.
    async fn purge_before(&self, product: ProductId, cutoff: NaiveDate) -> Result<PurgeStats, WarehouseError>;

    /// Streams the rows of a read-only query into `sink`, in chunks, without ever holding the
    /// whole result: export files are written from it with memory that does not grow with
    /// the size of a day. Every column must be text (cast in SQL); NULL stays `None`.
    /// Returns the number of rows sent. A closed `sink` stops the query with an error.
    ///
    /// The default runs [`Warehouse::query`] and forwards its rows as text, for backends that
    /// cannot stream.
    async fn stream_text(&self, sql: String, params: Vec<Param>, sink: TextSink) -> Result<u64, WarehouseError> {
        let rows = self.query(sql, params).await?;
        let mut sent = 0u64;
        for chunk in rows.rows.chunks(STREAM_CHUNK_ROWS) {
            let text: Vec<TextRow> = chunk.iter().map(|r| r.iter().map(Value::to_text).collect()).collect();
            sent += text.len() as u64;
            sink.send(text).map_err(|_| WarehouseError::Task("the export stream was closed".into()))?;
        }
        Ok(sent)
    }

    /// Runs a read-only query that may read `inputs` by name, as tables of text columns.
    ///
    /// Reports use it for value sets computed in Rust (regex matches, installation sets
    /// from the catalog) that are too large to inline as parameters.
    async fn query_with(
        &self,
        sql: String,
        params: Vec<Param>,
        inputs: Vec<InputTable>,
    ) -> Result<Rows, WarehouseError> {
        if inputs.is_empty() {
            self.query(sql, params).await
        } else {
            Err(WarehouseError::Engine("this warehouse does not accept input tables".into()))
        }
    }
}

/// What one [`Warehouse::purge_before`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeStats {
    /// Installations whose old data was folded into their lifetime aggregates.
    pub installations: u64,
    /// Fact rows deleted (records, contacts and superseded observations).
    pub fact_rows: u64,
}

/// One streamed row: nullable text cells.
pub type TextRow = Vec<Option<String>>;

/// Receives the chunks of [`Warehouse::stream_text`]; bounded, so a slow writer slows the query
/// instead of letting rows pile up in memory.
pub type TextSink = std::sync::mpsc::SyncSender<Vec<TextRow>>;

/// Rows per chunk of [`Warehouse::stream_text`].
pub const STREAM_CHUNK_ROWS: usize = 2048;

/// A small table sent along with one query; every column is nullable text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputTable {
    /// Table name, a plain SQL identifier chosen by the caller.
    pub name: String,
    /// Column names, plain SQL identifiers.
    pub columns: Vec<&'static str>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<Option<String>>>,
}
