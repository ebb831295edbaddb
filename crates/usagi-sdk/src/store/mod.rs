//! Everything the SDK persists in its data directory (callhome §11 "Persistent state"):
//! `state.json` (identity, next seq, queue position, clock offset, back-off, disable,
//! opt-out delivery), the offline queue (`queue-*.log`) and pending batches (`batches/`).
//!
//! Crash safety rests on three commit points, each an atomic file replacement:
//! - a record is queued once its line is in the queue file (torn lines are cut at open);
//! - a batch exists once its file in `batches/` is written; it names the queue position it
//!   consumed, so a crash before the state write cannot put its records in a second batch;
//! - a batch is gone once its file is deleted, which happens only after a 200. A process
//!   killed mid-sync therefore resends the same bytes (same batchId) at its next start.

mod batch;
mod queue;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use usagi_types::ClientId;

use crate::error::{Result, SdkError};
pub(crate) use batch::{Envelope, PendingBatch};
pub(crate) use queue::{class_of, QueueFile, Tally, DROPPABLE as DROPPABLE_CLASS};

const STATE_FILE: &str = "state.json";
const BATCH_DIR: &str = "batches";

/// The persistent state (`state.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Persisted {
    /// Generated once from 64 CSPRNG bits.
    pub client_id: ClientId,
    /// `seq` of the next batch formed.
    pub next_seq: u64,
    /// Generation of the current queue file.
    pub queue_gen: u64,
    /// Byte offset of the first record not yet in a batch.
    pub queue_head: u64,
    /// Server minus local clock, in ms.
    pub clock_offset_ms: i64,
    /// No call home before this time (unix ms), from a `backOffDays` instruction.
    pub back_off_until_ms: Option<i64>,
    /// Disabled by the server until the data directory is reset.
    pub disabled: bool,
    /// The current opt-out episode has been reported to the server.
    pub opt_out_notified: bool,
}

impl Persisted {
    fn fresh() -> Self {
        Self {
            client_id: ClientId::from_u64(rand::random()),
            next_seq: 1,
            queue_gen: 1,
            queue_head: 0,
            clock_offset_ms: 0,
            back_off_until_ms: None,
            disabled: false,
            opt_out_notified: false,
        }
    }
}

/// The data directory, opened and recovered.
pub(crate) struct Store {
    dir: PathBuf,
    state: Persisted,
    queue: QueueFile,
    pending: Vec<PendingBatch>,
}

impl Store {
    /// Opens (or initialises) a data directory and recovers from any earlier crash.
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |e| SdkError::storage(path, e)
        };
        fs::create_dir_all(dir.join(BATCH_DIR)).map_err(err(dir))?;
        let state_path = dir.join(STATE_FILE);
        let (mut state, fresh) = match fs::read(&state_path) {
            Ok(bytes) => match serde_json::from_slice::<Persisted>(&bytes) {
                Ok(s) => (s, false),
                Err(e) => {
                    // Only a damaged disk gets here (the file is replaced atomically); a new
                    // identity is the protocol's answer to a lost data directory.
                    tracing::warn!(error = %e, "unreadable SDK state; starting as a new installation");
                    (Persisted::fresh(), true)
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => (Persisted::fresh(), true),
            Err(e) => return Err(SdkError::storage(state_path, e)),
        };
        let batch_dir = dir.join(BATCH_DIR);
        let mut pending = batch::load_all(&batch_dir).map_err(err(&batch_dir))?;
        for b in &pending {
            state.next_seq = state.next_seq.max(b.meta.seq + 1);
            if b.meta.queue_gen == state.queue_gen && b.meta.queue_end > state.queue_head {
                // Formed just before a crash that lost the state write: its records are in it.
                state.queue_head = b.meta.queue_end;
            }
        }
        pending.sort_by_key(|b| b.meta.seq);
        remove_stray_queue_files(dir, state.queue_gen);
        let queue = QueueFile::open(dir, state.queue_gen, state.queue_head).map_err(err(dir))?;
        state.queue_head = queue.head();
        let store = Self { dir: dir.to_path_buf(), state, queue, pending };
        if fresh {
            store.save()?;
        }
        Ok(store)
    }

    /// The persistent state.
    pub(crate) fn state(&self) -> &Persisted {
        &self.state
    }

    /// Changes the persistent state and writes it.
    pub(crate) fn update(&mut self, f: impl FnOnce(&mut Persisted)) -> Result<()> {
        let before = self.state.clone();
        f(&mut self.state);
        if self.state != before {
            self.save()?;
        }
        Ok(())
    }

    /// Records waiting in the queue file (not yet in a batch).
    pub(crate) fn queued(&self) -> Tally {
        self.queue.tally()
    }

    /// Records in pending batches.
    pub(crate) fn pending_records(&self) -> u64 {
        self.pending.iter().map(|b| u64::from(b.meta.records)).sum()
    }

    /// Appends complete queue lines and makes them durable.
    pub(crate) fn append(&mut self, lines: &[u8], tally: Tally) -> Result<()> {
        let path = queue::path_of(&self.dir, self.queue.gen());
        self.queue.append(lines, tally).map_err(|e| SdkError::storage(path, e))
    }

    /// Drops records down to the bounds (§11: oldest event/exception/heartbeat first). The
    /// bounds cover pending batches too; those are kept whole (their batchId may already be
    /// at the server), so the queue file gets what they leave.
    pub(crate) fn enforce_bounds(&mut self, max_records: u64, max_bytes: u64) -> Result<Tally> {
        let tally = self.queue.tally();
        let pending_bytes: u64 = self.pending.iter().map(|b| b.size).sum();
        let max_records = max_records.saturating_sub(self.pending_records());
        let max_bytes = max_bytes.saturating_sub(pending_bytes);
        if tally.records <= max_records && tally.bytes <= max_bytes {
            return Ok(Tally::default());
        }
        let (next, dropped) =
            self.queue.compacted(max_records, max_bytes).map_err(|e| SdkError::storage(&self.dir, e))?;
        tracing::warn!(dropped = dropped.records, "offline queue full; dropped the oldest records");
        self.switch_queue(next)?;
        Ok(dropped)
    }

    /// The batch to send next: the oldest pending one, or a new one formed from the queue.
    pub(crate) fn next_batch(
        &mut self,
        envelope: &Envelope,
        max_records: usize,
        max_wire: usize,
    ) -> Result<Option<PendingBatch>> {
        if let Some(b) = self.pending.first() {
            return Ok(Some(b.clone()));
        }
        if self.queue.tally().records == 0 {
            return Ok(None);
        }
        let io = |e| SdkError::storage(&self.dir, e);
        let taken = self.queue.peek(max_records, batch::MAX_RECORDS_JSON).map_err(io)?;
        if taken.records.is_empty() {
            return Ok(None);
        }
        let seq = self.state.next_seq;
        let formed = batch::form(envelope, seq, &taken, max_wire, self.queue.gen()).map_err(io)?;
        let written = formed.write(&self.dir.join(BATCH_DIR), None).map_err(io)?;
        let head = self.queue.consume(&taken, written.meta.records as usize);
        self.state.next_seq = seq + 1;
        self.state.queue_head = head;
        self.pending.push(written.clone());
        if self.queue.drained() {
            // Everything queued is in batches: start an empty file rather than grow this one.
            let next = self.queue.successor().map_err(|e| SdkError::storage(&self.dir, e))?;
            self.switch_queue(next)?;
        } else {
            self.save()?;
        }
        Ok(Some(written))
    }

    /// Forgets a batch after a 200 (or a 400: it can never succeed).
    pub(crate) fn finish(&mut self, batch: &PendingBatch) -> Result<()> {
        self.pending.retain(|b| b.meta.seq != batch.meta.seq);
        batch.delete().map_err(|e| SdkError::storage(&batch.path, e))
    }

    /// Replaces a batch answered 413 by two halves with new batchIds and seqs; a single
    /// record too large is dropped. Returns false when the batch was dropped.
    pub(crate) fn split(&mut self, batch: &PendingBatch, envelope: &Envelope) -> Result<bool> {
        let io = |e| SdkError::storage(&batch.path, e);
        let records = batch.records().map_err(io)?;
        if records.len() <= 1 {
            tracing::warn!(batch_id = %batch.meta.batch_id, "a single record is too large for the server; dropped");
            self.finish(batch)?;
            return Ok(false);
        }
        let mid = records.len() / 2;
        let dir = self.dir.join(BATCH_DIR);
        let mut halves = Vec::with_capacity(2);
        for (i, part) in [&records[..mid], &records[mid..]].into_iter().enumerate() {
            let seq = self.state.next_seq + i as u64;
            let formed = batch::form_from(envelope, seq, part, batch.meta.queue_gen, batch.meta.queue_end);
            halves.push(formed.map_err(io)?.write(&dir, Some(batch.meta.seq)).map_err(io)?);
        }
        self.state.next_seq += 2;
        self.save()?;
        batch.delete().map_err(io)?;
        let at = self.pending.iter().position(|b| b.meta.seq == batch.meta.seq).unwrap_or(0);
        self.pending.retain(|b| b.meta.seq != batch.meta.seq);
        for (i, half) in halves.into_iter().enumerate() {
            self.pending.insert((at + i).min(self.pending.len()), half);
        }
        Ok(true)
    }

    /// Deletes every queued record and pending batch (back-off, disable, opt-out).
    pub(crate) fn clear(&mut self) -> Result<()> {
        for b in std::mem::take(&mut self.pending) {
            b.delete().map_err(|e| SdkError::storage(&b.path, e))?;
        }
        let next = self.queue.successor().map_err(|e| SdkError::storage(&self.dir, e))?;
        self.switch_queue(next)
    }

    fn switch_queue(&mut self, next: QueueFile) -> Result<()> {
        self.state.queue_gen = next.gen();
        self.state.queue_head = 0;
        let old = std::mem::replace(&mut self.queue, next);
        self.save()?;
        old.retire();
        Ok(())
    }

    fn save(&self) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(&self.state).unwrap_or_default();
        write_atomically(&self.dir.join(STATE_FILE), &bytes)
    }
}

/// Replaces a file with new content: a temporary file, fsync, rename, fsync of the directory.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e| SdkError::storage(path, e);
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")));
    Ok(())
}

/// Makes a rename or delete durable; not possible (nor needed) on every platform.
pub(crate) fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

fn remove_stray_queue_files(dir: &Path, current_gen: u64) {
    let current = queue::path_of(dir, current_gen);
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("queue-") && name.ends_with(".log") && path != current {
            let _ = fs::remove_file(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(store: &Store) -> Envelope {
        Envelope { client_id: store.state().client_id, machine_id: None, app_name: "T".into() }
    }

    fn queue_events(store: &mut Store, n: usize) {
        let mut lines = Vec::new();
        let mut tally = Tally::default();
        for i in 0..n {
            let mut line = vec![queue::DROPPABLE];
            line.extend_from_slice(format!(r#"{{"t":{i},"kind":"event","name":"E{i}"}}"#).as_bytes());
            line.push(b'\n');
            tally.add_line(&line);
            lines.extend_from_slice(&line);
        }
        store.append(&lines, tally).unwrap();
    }

    #[test]
    fn a_crash_between_the_batch_file_and_the_state_write_forms_no_second_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        queue_events(&mut store, 10);
        let before = fs::read(dir.path().join(STATE_FILE)).unwrap();
        let batch = store.next_batch(&envelope(&store), 4, 1 << 20).unwrap().unwrap();
        assert_eq!(batch.meta.records, 4);
        drop(store);
        // The process died after writing the batch file but before the state write.
        fs::write(dir.path().join(STATE_FILE), before).unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(store.queued().records, 6, "the batch's records are not queued again");
        assert_eq!(store.state().next_seq, batch.meta.seq + 1);
        let again = store.next_batch(&envelope(&store), 4, 1 << 20).unwrap().unwrap();
        assert_eq!(again.meta.batch_id, batch.meta.batch_id, "the same batch is resent");
        assert_eq!(again.wire().unwrap(), batch.wire().unwrap());
        store.finish(&again).unwrap();
        let next = store.next_batch(&envelope(&store), 100, 1 << 20).unwrap().unwrap();
        assert_eq!((next.meta.seq, next.meta.records), (batch.meta.seq + 1, 6));
    }

    #[test]
    fn split_halves_replace_their_batch_even_after_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        queue_events(&mut store, 10);
        let env = envelope(&store);
        let batch = store.next_batch(&env, 100, 1 << 20).unwrap().unwrap();
        let original = fs::read(&batch.path).unwrap();
        assert!(store.split(&batch, &env).unwrap());
        drop(store);
        // Simulate a crash before the original file was deleted.
        fs::write(&batch.path, original).unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(store.pending_records(), 10);
        let first = store.next_batch(&env, 100, 1 << 20).unwrap().unwrap();
        assert_ne!(first.meta.batch_id, batch.meta.batch_id);
        assert_eq!((first.meta.seq, first.meta.records), (batch.meta.seq + 1, 5));
        assert!(!batch.path.exists(), "the replaced batch is gone");
    }
}
