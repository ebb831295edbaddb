//! Flat fact rows, as the ingest loader hands them to a warehouse.
//!
//! Times are client-clock milliseconds after server clamping (`t`) or server receive
//! times (`received_at`). Records are ordered by `(t, seq, idx)` (callhome §6.1).

use usagi_types::{ClientId, ProductId};
use uuid::Uuid;

/// Everything one loader step applies atomically.
#[derive(Debug, Clone, Default)]
pub struct LoadBatch {
    /// The last ingest-log position covered by this batch.
    pub last_lsn: u64,
    /// One row per accepted sync (a contact, semantics §4).
    pub contacts: Vec<ContactRow>,
    /// `event` records.
    pub events: Vec<EventRow>,
    /// `sessionStart`, `sessionStop` and `heartbeat` records.
    pub session_marks: Vec<SessionMarkRow>,
    /// `exception` records.
    pub exceptions: Vec<ExceptionRow>,
    /// Property observations (semantics §7.1).
    pub observations: Vec<ObservationRow>,
    /// The same observations, one row per property leaf with its catalogue name.
    pub properties: Vec<PropertyRow>,
}

impl LoadBatch {
    /// True when there is no row to apply.
    pub fn is_empty(&self) -> bool {
        self.contacts.is_empty()
            && self.events.is_empty()
            && self.session_marks.is_empty()
            && self.exceptions.is_empty()
            && self.observations.is_empty()
            && self.properties.is_empty()
    }

    /// Number of rows of every kind.
    pub fn row_count(&self) -> usize {
        self.contacts.len()
            + self.events.len()
            + self.session_marks.len()
            + self.exceptions.len()
            + self.observations.len()
            + self.properties.len()
    }

    /// Adds `later`'s rows after this batch's own (`later` covers the log positions after
    /// this batch's), and takes its `last_lsn`.
    pub fn append(&mut self, later: LoadBatch) {
        let LoadBatch { last_lsn, contacts, events, session_marks, exceptions, observations, properties } = later;
        fn join<T>(to: &mut Vec<T>, rows: Vec<T>) {
            if to.is_empty() {
                *to = rows;
            } else {
                to.extend(rows);
            }
        }
        self.last_lsn = self.last_lsn.max(last_lsn);
        join(&mut self.contacts, contacts);
        join(&mut self.events, events);
        join(&mut self.session_marks, session_marks);
        join(&mut self.exceptions, exceptions);
        join(&mut self.observations, observations);
        join(&mut self.properties, properties);
    }

    /// The installations with a row of any kind in this batch, sorted, each once.
    pub fn installations(&self) -> Vec<(ProductId, ClientId)> {
        let mut all: Vec<(ProductId, ClientId)> = self
            .contacts
            .iter()
            .map(|r| (r.product, r.client))
            .chain(self.events.iter().map(|r| (r.product, r.client)))
            .chain(self.session_marks.iter().map(|r| (r.product, r.client)))
            .chain(self.exceptions.iter().map(|r| (r.product, r.client)))
            .chain(self.observations.iter().map(|r| (r.product, r.client)))
            .chain(self.properties.iter().map(|r| (r.product, r.client)))
            .collect();
        all.sort_unstable_by_key(|(p, c)| (p.as_u64(), c.as_u64()));
        all.dedup();
        all
    }
}

/// An accepted sync.
#[derive(Debug, Clone)]
pub struct ContactRow {
    /// Product.
    pub product: ProductId,
    /// Installation.
    pub client: ClientId,
    /// Server receive time, ms.
    pub received_at: i64,
    /// The batch's id.
    pub batch_id: Uuid,
    /// The batch's sequence number.
    pub seq: u64,
    /// Ingest-log position of the batch.
    pub lsn: u64,
}

/// One occurrence of a tracked event.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// Product.
    pub product: ProductId,
    /// Installation.
    pub client: ClientId,
    /// Record time, ms.
    pub t: i64,
    /// Batch sequence number (ordering tie-break).
    pub seq: u64,
    /// Index in the batch (ordering tie-break).
    pub idx: u32,
    /// Explicit session id, if any.
    pub session_id: Option<String>,
    /// Category; None = no category.
    pub category: Option<String>,
    /// Event name.
    pub name: String,
    /// Numeric value ("custom value").
    pub num_value: Option<f64>,
    /// Text value.
    pub text_value: Option<String>,
    /// Custom key/value pairs as a JSON object, for custom events.
    pub custom_json: Option<String>,
    /// Server receive time, ms.
    pub received_at: i64,
    /// The batch it came in.
    pub batch_id: Uuid,
}

/// Kind of a session mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum MarkKind {
    /// `sessionStart`.
    Start = 1,
    /// `sessionStop`.
    Stop = 2,
    /// `heartbeat`.
    Heartbeat = 3,
}

/// A session start, stop or heartbeat.
#[derive(Debug, Clone)]
pub struct SessionMarkRow {
    /// Product.
    pub product: ProductId,
    /// Installation.
    pub client: ClientId,
    /// Record time, ms.
    pub t: i64,
    /// Batch sequence number.
    pub seq: u64,
    /// Index in the batch.
    pub idx: u32,
    /// Which mark.
    pub kind: MarkKind,
    /// Explicit session id, if any.
    pub session_id: Option<String>,
    /// Server receive time, ms.
    pub received_at: i64,
    /// The batch it came in.
    pub batch_id: Uuid,
}

/// A reported exception.
#[derive(Debug, Clone)]
pub struct ExceptionRow {
    /// Product.
    pub product: ProductId,
    /// Installation.
    pub client: ClientId,
    /// Record time, ms.
    pub t: i64,
    /// Batch sequence number.
    pub seq: u64,
    /// Index in the batch.
    pub idx: u32,
    /// Explicit session id, if any.
    pub session_id: Option<String>,
    /// Class name.
    pub class_name: String,
    /// Method name.
    pub method_name: String,
    /// Message.
    pub message: Option<String>,
    /// Stack trace.
    pub stack_trace: Option<String>,
    /// Server receive time, ms.
    pub received_at: i64,
    /// The batch it came in.
    pub batch_id: Uuid,
}

/// Where an observation came from; decides how its payload is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ObservationSource {
    /// The `product` group of a `properties` record.
    Product = 1,
    /// The `machine` group of a `properties` record.
    Machine = 2,
    /// The `custom` group of a `properties` record.
    Custom = 3,
    /// A `licenseData` record.
    License = 4,
    /// Sync envelope fields (`machineId`, `appName`, `sdk`), at receive time.
    Envelope = 5,
    /// Geography derived from the sync's address, at receive time.
    Geo = 6,
    /// A `license/set` call.
    LicenseKey = 7,
    /// An `optOut` record or an `optout` call.
    OptOut = 8,
    /// A sync carrying any record other than `optOut` (the user opted back in, semantics §11).
    OptIn = 9,
    /// An empty `properties` record: no value changes, but evidence of activity.
    Touch = 10,
}

/// A property observation `(installation, property group, value, time)`.
#[derive(Debug, Clone)]
pub struct ObservationRow {
    /// Product.
    pub product: ProductId,
    /// Installation.
    pub client: ClientId,
    /// Observation time, ms.
    pub t: i64,
    /// Batch sequence number (0 for calls outside a batch).
    pub seq: u64,
    /// Index in the batch.
    pub idx: u32,
    /// What kind of observation.
    pub source: ObservationSource,
    /// True when it comes from a stored record and so is evidence of activity
    /// (semantics §4); false for envelope, geography and calls such as `license/set`.
    pub evidence: bool,
    /// Explicit session id, for `licenseData` records.
    pub session_id: Option<String>,
    /// The observed values as a JSON object.
    pub payload: String,
}

/// One property value observed at a time, under its catalogue name (`prodVersion`,
/// `os.platform`, `C01`, `licenseStatus.activated`, …). A group that is replaced sets every
/// leaf of it, so NULLs are rows too (semantics §7.1, callhome §6.3).
#[derive(Debug, Clone)]
pub struct PropertyRow {
    /// Product.
    pub product: ProductId,
    /// Installation.
    pub client: ClientId,
    /// Observation time, ms.
    pub t: i64,
    /// Batch sequence number.
    pub seq: u64,
    /// Index in the batch.
    pub idx: u32,
    /// Catalogue name.
    pub name: String,
    /// The value as text; None = NULL.
    pub value: Option<String>,
    /// Server receive time of the sync or call that carried it, ms (export snapshots).
    pub received_at: i64,
}
