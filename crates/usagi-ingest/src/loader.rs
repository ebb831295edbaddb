//! The loader: drains the log into the warehouse in large batches, exactly once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Notify;
use usagi_protocol::{EventValue, RecordBody};
use usagi_warehouse::{
    ContactRow, EventRow, ExceptionRow, LoadBatch, MarkKind, ObservationRow, ObservationSource, PropertyRow,
    SessionMarkRow, Warehouse,
};

use crate::entry::{LogEntry, SyncEntry};
use crate::log::LogReader;
use crate::properties::{self as leaves, Leaves};
use crate::receipts::ReceiptStore;
use crate::IngestError;
use usagi_types::{ClientId, ProductId};

/// Converts log entries into warehouse rows, one at a time: each entry is dropped once its
/// rows are made, so a load holds its log bytes and its rows but never a decoded copy of all
/// its entries. `lsn` of each entry is given so that a duplicate copy of a batch (one whose
/// receipt names another LSN) is skipped.
pub fn to_load_batch(
    entries: impl IntoIterator<Item = Result<(u64, LogEntry), IngestError>>,
    receipts: &ReceiptStore,
) -> Result<LoadBatch, IngestError> {
    let mut batch = LoadBatch::default();
    for entry in entries {
        let (lsn, entry) = entry?;
        batch.last_lsn = batch.last_lsn.max(lsn);
        match &entry {
            LogEntry::Sync(s) => {
                let first_copy = receipts.find(s.product, s.batch_id)?.map(|r| r.lsn == lsn).unwrap_or(true);
                if !first_copy {
                    tracing::debug!(lsn, batch_id = %s.batch_id, "skipping a second copy of a batch");
                    continue;
                }
                push_sync(&mut batch, lsn, s);
            }
            LogEntry::LicenseSet(l) => {
                push_leaves(
                    &mut batch,
                    l.product,
                    l.client,
                    (l.t, 0, 0),
                    l.t,
                    vec![("licenseKey", Some(l.license_key.clone()))],
                );
                batch.observations.push(ObservationRow {
                    product: l.product,
                    client: l.client,
                    t: l.t,
                    seq: 0,
                    idx: 0,
                    source: ObservationSource::LicenseKey,
                    evidence: false,
                    session_id: l.session_id.clone(),
                    payload: json!({ "licenseKey": l.license_key }).to_string(),
                })
            }
            LogEntry::OptOut(o) => batch.observations.push(ObservationRow {
                product: o.product,
                client: o.client,
                t: o.t,
                seq: 0,
                idx: 0,
                source: ObservationSource::OptOut,
                evidence: false,
                session_id: None,
                payload: json!({ "appName": o.app_name, "machineId": o.machine_id, "via": "optout" }).to_string(),
            }),
        }
    }
    Ok(batch)
}

fn push_sync(batch: &mut LoadBatch, lsn: u64, s: &SyncEntry) {
    let (product, client, seq) = (s.product, s.client, s.seq);
    batch.contacts.push(ContactRow { product, client, received_at: s.received_at, batch_id: s.batch_id, seq, lsn });
    let observe = |t, idx, source, evidence, session_id: Option<String>, payload: String| ObservationRow {
        product,
        client,
        t,
        seq,
        idx,
        source,
        evidence,
        session_id,
        payload,
    };
    batch.observations.push(observe(
        s.received_at,
        u32::MAX,
        ObservationSource::Envelope,
        false,
        None,
        json!({ "machineId": s.machine_id, "appName": s.app_name, "sdkName": s.sdk_name, "sdkVersion": s.sdk_version })
            .to_string(),
    ));
    push_leaves(
        batch,
        product,
        client,
        (s.received_at, seq, u32::MAX),
        s.received_at,
        vec![("machineId", s.machine_id.clone()), ("appName", Some(s.app_name.clone()))],
    );
    if let Some(geo) = &s.geo {
        push_leaves(
            batch,
            product,
            client,
            (s.received_at, seq, u32::MAX),
            s.received_at,
            vec![
                ("geography.continent", geo.continent.clone()),
                ("geography.country", geo.country.clone()),
                ("geography.usState", geo.us_state.clone()),
            ],
        );
        batch.observations.push(observe(
            s.received_at,
            u32::MAX,
            ObservationSource::Geo,
            false,
            None,
            json!({ "continent": geo.continent, "country": geo.country, "usState": geo.us_state }).to_string(),
        ));
    }
    // The last record other than optOut, if it comes after every optOut, opts the user back in.
    let mut last_other: Option<(i64, u32)> = None;
    let mut last_optout: Option<(i64, u32)> = None;
    for r in &s.records {
        let key = (r.t, r.index);
        match &r.body {
            RecordBody::OptOut => last_optout = last_optout.max(Some(key)),
            _ => last_other = last_other.max(Some(key)),
        }
        let (t, idx) = (r.t, r.index);
        match &r.body {
            RecordBody::SessionStart { session_id } => push_mark(batch, s, t, idx, MarkKind::Start, session_id),
            RecordBody::SessionStop { session_id } => push_mark(batch, s, t, idx, MarkKind::Stop, session_id),
            RecordBody::Heartbeat { session_id } => push_mark(batch, s, t, idx, MarkKind::Heartbeat, session_id),
            RecordBody::Event { category, name, session_id, value, custom } => {
                let (num_value, text_value) = match value {
                    Some(EventValue::Number(n)) => (Some(*n), None),
                    Some(EventValue::Text(s)) => (None, Some(s.clone())),
                    None => (None, None),
                };
                let custom_json = custom.as_ref().map(|pairs| {
                    let map: serde_json::Map<String, serde_json::Value> = pairs
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone().map_or(serde_json::Value::Null, serde_json::Value::String)))
                        .collect();
                    serde_json::Value::Object(map).to_string()
                });
                batch.events.push(EventRow {
                    product,
                    client,
                    t,
                    seq,
                    idx,
                    session_id: session_id.clone(),
                    category: category.clone(),
                    name: name.clone(),
                    num_value,
                    text_value,
                    custom_json,
                    received_at: s.received_at,
                    batch_id: s.batch_id,
                });
            }
            RecordBody::Exception { class_name, method_name, message, stack_trace, session_id } => {
                batch.exceptions.push(ExceptionRow {
                    product,
                    client,
                    t,
                    seq,
                    idx,
                    session_id: session_id.clone(),
                    class_name: class_name.clone(),
                    method_name: method_name.clone(),
                    message: message.clone(),
                    stack_trace: stack_trace.clone(),
                    received_at: s.received_at,
                    batch_id: s.batch_id,
                });
            }
            RecordBody::Properties(p) => {
                push_leaves(batch, product, client, (t, seq, idx), s.received_at, leaves::properties(p));
                // One observation per group present, without a payload: the group's values are
                // its leaves in `property_changes`, and a copy of the group's JSON per record
                // was the largest column of the warehouse.
                let groups = [
                    (p.product.is_some(), ObservationSource::Product),
                    (p.machine.is_some(), ObservationSource::Machine),
                    (p.custom.is_some(), ObservationSource::Custom),
                ];
                let mut any = false;
                for (_, source) in groups.into_iter().filter(|(present, _)| *present) {
                    any = true;
                    batch.observations.push(observe(t, idx, source, true, None, "{}".into()));
                }
                if !any {
                    // An empty snapshot changes nothing but is still evidence of activity.
                    batch.observations.push(observe(t, idx, ObservationSource::Touch, true, None, "{}".into()));
                }
            }
            RecordBody::LicenseData { license_type, expired, activated, blocked, allowed, session_id } => {
                let set = leaves::license(
                    license_type.as_ref().map(|l| l.as_str()),
                    [
                        ("licenseStatus.activated", *activated),
                        ("licenseStatus.expired", *expired),
                        ("licenseStatus.blocked", *blocked),
                        ("licenseStatus.allowed", *allowed),
                    ],
                );
                push_leaves(batch, product, client, (t, seq, idx), s.received_at, set);
                let mut map = serde_json::Map::new();
                if let Some(lt) = license_type {
                    map.insert("licenseType".into(), json!(lt.as_str()));
                }
                for (k, v) in
                    [("expired", expired), ("activated", activated), ("blocked", blocked), ("allowed", allowed)]
                {
                    if let Some(v) = v {
                        map.insert(k.into(), json!(v));
                    }
                }
                batch.observations.push(observe(
                    t,
                    idx,
                    ObservationSource::License,
                    true,
                    session_id.clone(),
                    serde_json::Value::Object(map).to_string(),
                ));
            }
            RecordBody::OptOut => {
                batch.observations.push(observe(t, idx, ObservationSource::OptOut, true, None, "{}".into()))
            }
        }
    }
    if let Some((t, idx)) = last_other {
        if last_optout.is_some_and(|o| o < (t, idx)) || last_optout.is_none() {
            batch.observations.push(observe(t, idx, ObservationSource::OptIn, false, None, "{}".into()));
        }
    }
}

/// Records property leaves observed at `(t, seq, idx)`.
fn push_leaves(
    batch: &mut LoadBatch,
    product: ProductId,
    client: ClientId,
    at: (i64, u64, u32),
    received_at: i64,
    leaves: Leaves,
) {
    let (t, seq, idx) = at;
    batch.properties.extend(leaves.into_iter().map(|(name, value)| PropertyRow {
        product,
        client,
        t,
        seq,
        idx,
        name: name.to_string(),
        value,
        received_at,
    }));
}

fn push_mark(batch: &mut LoadBatch, s: &SyncEntry, t: i64, idx: u32, kind: MarkKind, session_id: &Option<String>) {
    batch.session_marks.push(SessionMarkRow {
        product: s.product,
        client: s.client,
        t,
        seq: s.seq,
        idx,
        kind,
        session_id: session_id.clone(),
        received_at: s.received_at,
        batch_id: s.batch_id,
    });
}

/// Shared progress counters between the writer, the loader and waiting readers.
pub struct Progress {
    /// Highest LSN that is durable in the log.
    pub durable: AtomicU64,
    /// Highest LSN committed in the warehouse.
    pub loaded: AtomicU64,
    /// Payload bytes durable in the log but not yet loaded.
    pub backlog_bytes: AtomicU64,
    /// Woken when `durable` moves.
    pub durable_moved: Notify,
    /// Woken when `loaded` moves.
    pub loaded_moved: Notify,
    /// Set to stop the loader after it drained the log.
    pub stopping: AtomicBool,
}

/// Tuning of the loader.
#[derive(Debug, Clone)]
pub struct LoaderConfig {
    /// Largest amount of log payload read into one warehouse load.
    pub max_batch_bytes: usize,
    /// Waits up to this long after data arrives for `min_batch_bytes` to accumulate before
    /// loading (zero: load at once). A stopping loader never waits.
    pub linger: Duration,
    /// See `linger`.
    pub min_batch_bytes: u64,
    /// Pause after a failed load before trying again (doubles up to 30 s).
    pub retry_initial: Duration,
    /// While this file exists the loader loads nothing (see [`crate::service::PAUSE_FILE`]).
    pub pause_file: Option<std::path::PathBuf>,
}

/// Runs the loader until [`Progress::stopping`] is set and the log is drained.
pub async fn run_loader(
    mut reader: LogReader,
    receipts: Arc<ReceiptStore>,
    warehouse: Arc<dyn Warehouse>,
    progress: Arc<Progress>,
    config: LoaderConfig,
) {
    let mut retry = config.retry_initial;
    let mut paused = false;
    // Since when unloaded data has been waiting for a load that lingers.
    let mut waiting_since: Option<std::time::Instant> = None;
    // Rows decoded while the previous load ran (see below), continuing at `loaded + 1`.
    let mut prefetched: Option<Decoded> = None;
    loop {
        if let Some(file) = &config.pause_file {
            if file.exists() {
                if !paused {
                    paused = true;
                    tracing::warn!(file = %file.display(), "warehouse loading paused; acknowledged data accumulates in the ingest log until the file is removed");
                }
                // Shutdown does not wait for a drain that cannot happen; the next start loads the rest.
                if progress.stopping.load(Ordering::Acquire) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            if paused {
                paused = false;
                tracing::warn!(file = %file.display(), "warehouse loading resumed");
            }
        }
        let loaded = progress.loaded.load(Ordering::Acquire);
        let durable = progress.durable.load(Ordering::Acquire);
        if loaded >= durable {
            if progress.stopping.load(Ordering::Acquire) {
                return;
            }
            let wake = progress.durable_moved.notified();
            if progress.durable.load(Ordering::Acquire) <= loaded {
                let _ = tokio::time::timeout(Duration::from_millis(500), wake).await;
            }
            continue;
        }
        if !config.linger.is_zero()
            && !progress.stopping.load(Ordering::Acquire)
            && progress.backlog_bytes.load(Ordering::Acquire) < config.min_batch_bytes
        {
            let since = *waiting_since.get_or_insert_with(std::time::Instant::now);
            let left = config.linger.saturating_sub(since.elapsed());
            if !left.is_zero() {
                let wake = progress.durable_moved.notified();
                let _ = tokio::time::timeout(left.min(Duration::from_millis(100)), wake).await;
                continue;
            }
        }
        waiting_since = None;
        let batch = prefetched.take().unwrap_or_else(|| Decoded::empty(loaded));
        let step = load_step(&mut reader, &receipts, &warehouse, &progress, &config, batch, durable).await;
        match step {
            Ok((last, bytes, next)) => {
                prefetched = next;
                retry = config.retry_initial;
                progress.loaded.store(last, Ordering::Release);
                progress
                    .backlog_bytes
                    .fetch_sub(bytes.min(progress.backlog_bytes.load(Ordering::Acquire)), Ordering::AcqRel);
                progress.loaded_moved.notify_waiters();
                if let Err(e) = reader.delete_through(last) {
                    tracing::warn!(error = %e, "could not delete loaded ingest log segments");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, retry_in_ms = retry.as_millis() as u64, "warehouse load failed; acknowledged data stays in the ingest log");
                if progress.stopping.load(Ordering::Acquire) {
                    return;
                }
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Tops `batch` (what was decoded while the previous load ran, continuing at `loaded + 1`) up
/// from the log to `max_batch_bytes` and loads it. While the warehouse loads, the entries that
/// become durable are decoded for the next load, so decoding them is not part of its delay;
/// returns them with the last LSN loaded and the log bytes it covered.
async fn load_step(
    reader: &mut LogReader,
    receipts: &Arc<ReceiptStore>,
    warehouse: &Arc<dyn Warehouse>,
    progress: &Progress,
    config: &LoaderConfig,
    mut batch: Decoded,
    durable: u64,
) -> Result<(u64, u64, Option<Decoded>), IngestError> {
    let loaded = progress.loaded.load(Ordering::Acquire);
    batch.top_up(reader, receipts, durable, config.max_batch_bytes).await?;
    let (last, bytes) = (batch.rows.last_lsn, batch.bytes);
    if last <= loaded {
        return Err(IngestError::Corrupt(format!("durable LSN {durable} not readable after {loaded}")));
    }
    let rows = batch.rows.row_count();
    let mut next = Decoded::empty(last);
    let load = warehouse.load(batch.rows);
    tokio::pin!(load);
    let result = loop {
        tokio::select! {
            result = &mut load => break result,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                let durable = progress.durable.load(Ordering::Acquire);
                let room = config.max_batch_bytes.saturating_sub(next.bytes as usize);
                if next.healthy && room > 0 && next.rows.last_lsn < durable {
                    if let Err(e) = next.top_up(reader, receipts, durable, room.min(PREFETCH_CHUNK_BYTES)).await {
                        // The next load reads these entries again and reports the error.
                        tracing::debug!(error = %e, "decoding ahead of the load failed");
                        next.healthy = false;
                    }
                }
            }
        }
    };
    result.map_err(|e| IngestError::Io(std::io::Error::other(e.to_string())))?;
    tracing::debug!(last_lsn = last, rows, "loaded into the warehouse");
    let next = (next.healthy && next.rows.last_lsn > last).then_some(next);
    Ok((last, bytes, next))
}

/// Log entries decoded into warehouse rows: those after `from` through `rows.last_lsn`.
struct Decoded {
    rows: LoadBatch,
    /// Log payload bytes decoded.
    bytes: u64,
    /// False once decoding failed; the entries are then read again by the next load.
    healthy: bool,
}

/// Log bytes decoded at a time while a load runs, so the loader notices the load's end soon.
const PREFETCH_CHUNK_BYTES: usize = 4 << 20;

impl Decoded {
    /// Nothing decoded yet; the next entry is `after + 1`.
    fn empty(after: u64) -> Self {
        Self { rows: LoadBatch { last_lsn: after, ..LoadBatch::default() }, bytes: 0, healthy: true }
    }

    /// Reads the entries after `rows.last_lsn` through `durable`, up to `max_bytes` of payload
    /// (at least one entry), and decodes them on a blocking thread.
    async fn top_up(
        &mut self,
        reader: &mut LogReader,
        receipts: &Arc<ReceiptStore>,
        durable: u64,
        max_bytes: usize,
    ) -> Result<(), IngestError> {
        let from = self.rows.last_lsn + 1;
        if from > durable || max_bytes == 0 {
            return Ok(());
        }
        let raw = reader.read(from, durable, max_bytes)?;
        let Some(last) = raw.last().map(|(lsn, _)| *lsn) else {
            return Ok(());
        };
        let bytes: u64 = raw.iter().map(|(_, p)| p.len() as u64).sum();
        let receipts = receipts.clone();
        let mut chunk = tokio::task::spawn_blocking(move || {
            // Each payload is freed as soon as it is decoded, each entry once it is converted.
            let entries = raw.into_iter().map(|(lsn, payload)| Ok((lsn, crate::encoding::decode(&payload)?)));
            to_load_batch(entries, &receipts)
        })
        .await
        .map_err(|e| IngestError::Io(std::io::Error::other(e.to_string())))??;
        chunk.last_lsn = last;
        self.rows.append(chunk);
        self.bytes += bytes;
        Ok(())
    }
}
