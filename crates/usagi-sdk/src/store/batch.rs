//! Pending batches: formed from the queue, written to `batches/` with their batchId and seq,
//! resent unchanged until answered (callhome §11 "Batches").

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use usagi_protocol::limits::SYNC_MAX_DECOMPRESSED;
use usagi_protocol::SdkInfo;
use usagi_types::ClientId;
use uuid::Uuid;

use super::queue::Taken;
use crate::transport::{gzip, SDK_NAME, SDK_VERSION};

/// Room for the envelope within the server's decompressed limit.
pub(crate) const MAX_RECORDS_JSON: usize = SYNC_MAX_DECOMPRESSED - (64 << 10);

/// The envelope members every batch of this installation shares.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    pub client_id: ClientId,
    pub machine_id: Option<String>,
    pub app_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Head<'a> {
    client_id: ClientId,
    machine_id: &'a Option<String>,
    app_name: &'a str,
    sdk: SdkInfo,
    batch_id: Uuid,
    seq: u64,
}

/// What a batch file says about its batch (first line of the file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BatchMeta {
    pub batch_id: Uuid,
    pub seq: u64,
    pub records: u32,
    /// Queue generation and end offset of the records it took (crash recovery).
    pub queue_gen: u64,
    pub queue_end: u64,
    /// The seq of the batch this one half-replaces after a 413.
    #[serde(default)]
    pub replaces: Option<u64>,
}

/// A batch on disk, waiting for a 200.
#[derive(Debug, Clone)]
pub(crate) struct PendingBatch {
    pub meta: BatchMeta,
    pub path: PathBuf,
    /// Size of the batch file in bytes.
    pub size: u64,
}

/// A batch formed in memory, not yet written.
pub(crate) struct Formed {
    meta: BatchMeta,
    wire: Vec<u8>,
}

/// The uncompressed body of a batch.
fn body(envelope: &Envelope, batch_id: Uuid, seq: u64, records: &[Vec<u8>]) -> Vec<u8> {
    let head = Head {
        client_id: envelope.client_id,
        machine_id: &envelope.machine_id,
        app_name: &envelope.app_name,
        sdk: SdkInfo { name: SDK_NAME.into(), version: SDK_VERSION.into() },
        batch_id,
        seq,
    };
    let mut out = serde_json::to_vec(&head).unwrap_or_default();
    out.pop(); // the closing brace: records follow
    out.extend_from_slice(b",\"records\":[");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(r);
    }
    out.extend_from_slice(b"]}");
    out
}

/// Forms a batch from the first records of `taken`, halving the count until the gzip body
/// fits `max_wire` (one record is always taken).
pub(crate) fn form(envelope: &Envelope, seq: u64, taken: &Taken, max_wire: usize, gen: u64) -> io::Result<Formed> {
    let mut n = taken.records.len();
    loop {
        let batch_id = Uuid::new_v4();
        let wire = gzip(&body(envelope, batch_id, seq, &taken.records[..n]))?;
        if wire.len() <= max_wire || n == 1 {
            let meta = BatchMeta {
                batch_id,
                seq,
                records: n as u32,
                queue_gen: gen,
                queue_end: taken.ends[n - 1],
                replaces: None,
            };
            return Ok(Formed { meta, wire });
        }
        n /= 2;
    }
}

/// A batch of exactly these records (a half of a split batch).
pub(crate) fn form_from(envelope: &Envelope, seq: u64, records: &[Vec<u8>], gen: u64, end: u64) -> io::Result<Formed> {
    let batch_id = Uuid::new_v4();
    let wire = gzip(&body(envelope, batch_id, seq, records))?;
    let meta =
        BatchMeta { batch_id, seq, records: records.len() as u32, queue_gen: gen, queue_end: end, replaces: None };
    Ok(Formed { meta, wire })
}

impl Formed {
    /// Writes the batch file atomically; from then on the batch exists.
    pub(crate) fn write(mut self, dir: &Path, replaces: Option<u64>) -> io::Result<PendingBatch> {
        self.meta.replaces = replaces;
        let path = dir.join(format!("{:016}.batch", self.meta.seq));
        let mut bytes = serde_json::to_vec(&self.meta).map_err(io::Error::other)?;
        bytes.push(b'\n');
        bytes.extend_from_slice(&self.wire);
        super::write_atomically(&path, &bytes).map_err(|e| io::Error::other(e.to_string()))?;
        Ok(PendingBatch { meta: self.meta, path, size: bytes.len() as u64 })
    }
}

impl PendingBatch {
    /// The gzip body exactly as sent every time.
    pub(crate) fn wire(&self) -> io::Result<Vec<u8>> {
        let bytes = fs::read(&self.path)?;
        let at = bytes.iter().position(|b| *b == b'\n').ok_or_else(|| io::Error::other("batch file without header"))?;
        Ok(bytes[at + 1..].to_vec())
    }

    /// The records' JSON, for splitting.
    pub(crate) fn records(&self) -> io::Result<Vec<Vec<u8>>> {
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(self.wire()?.as_slice()).read_to_end(&mut json)?;
        let value: serde_json::Value = serde_json::from_slice(&json).map_err(io::Error::other)?;
        let records = value.get("records").and_then(serde_json::Value::as_array).cloned().unwrap_or_default();
        records.iter().map(|r| serde_json::to_vec(r).map_err(io::Error::other)).collect()
    }

    pub(crate) fn delete(&self) -> io::Result<()> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        if let Some(dir) = self.path.parent() {
            super::sync_dir(dir);
        }
        Ok(())
    }
}

/// Every batch file of the directory; halves of a split win over the batch they replace.
pub(crate) fn load_all(dir: &Path) -> io::Result<Vec<PendingBatch>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("batch") {
            if path.extension().and_then(|e| e.to_str()) == Some("tmp") {
                let _ = fs::remove_file(&path);
            }
            continue;
        }
        let bytes = fs::read(&path)?;
        let meta = bytes
            .iter()
            .position(|b| *b == b'\n')
            .and_then(|at| serde_json::from_slice::<BatchMeta>(&bytes[..at]).ok());
        match meta {
            Some(meta) => out.push(PendingBatch { meta, path, size: bytes.len() as u64 }),
            None => {
                tracing::warn!(path = %path.display(), "unreadable batch file; deleted");
                let _ = fs::remove_file(&path);
            }
        }
    }
    let replaced: Vec<u64> = out.iter().filter_map(|b| b.meta.replaces).collect();
    let (gone, kept): (Vec<_>, Vec<_>) = out.into_iter().partition(|b| replaced.contains(&b.meta.seq));
    for b in gone {
        b.delete()?;
    }
    Ok(kept)
}
