//! The ingest service: dedupe, durable group commit, and the loader, behind one handle.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{oneshot, watch, Notify};
use usagi_types::ProductId;
use usagi_warehouse::Warehouse;
use uuid::Uuid;

use crate::entry::{LogEntry, StoredResponse, SyncEntry};
use crate::loader::{run_loader, LoaderConfig, Progress};
use crate::log::{LogReader, LogWriter};
use crate::receipts::{Receipt, ReceiptStore};
use crate::IngestError;

/// The file in the ingest directory whose presence pauses warehouse loading: syncs are still
/// acknowledged into the log (up to the backlog bound, then 503) and load once it is removed.
/// For operators (maintenance of the warehouse file, a full disk) and for outage tests.
pub const PAUSE_FILE: &str = "pause-loader";

/// Tuning of the ingest path.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Directory of the log segments and the receipts database.
    pub dir: PathBuf,
    /// Size at which a new log segment is started.
    pub segment_bytes: u64,
    /// Acknowledged-but-unloaded bytes beyond which new work gets 503.
    pub max_backlog_bytes: u64,
    /// Largest group written with one fsync.
    pub max_group_bytes: usize,
    /// Largest log read per warehouse load.
    pub max_load_bytes: usize,
    /// A load waits up to this long for `min_load_bytes` to accumulate (zero: loads at once).
    /// ClickHouse wants few large inserts (≥ 10,000 rows or about one per second).
    pub load_linger: Duration,
    /// See `load_linger`.
    pub min_load_bytes: u64,
}

impl IngestConfig {
    /// Defaults for a data directory.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            segment_bytes: 64 << 20,
            max_backlog_bytes: 2 << 30,
            max_group_bytes: 8 << 20,
            max_load_bytes: 32 << 20,
            load_linger: Duration::ZERO,
            min_load_bytes: 1 << 20,
        }
    }
}

type ReceiptInfo = (ProductId, Uuid, StoredResponse, i64);

struct WriteRequest {
    payload: Vec<u8>,
    receipt: Option<ReceiptInfo>,
    ack: oneshot::Sender<Result<u64, String>>,
}

struct Inner {
    tx: Mutex<Option<mpsc::Sender<WriteRequest>>>,
    receipts: Arc<ReceiptStore>,
    progress: Arc<Progress>,
    inflight: Mutex<HashMap<(ProductId, Uuid), watch::Receiver<()>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    loader: Mutex<Option<tokio::task::JoinHandle<()>>>,
    max_backlog_bytes: u64,
}

/// A cheap, cloneable handle to the ingest service.
#[derive(Clone)]
pub struct Ingest {
    inner: Arc<Inner>,
}

/// The outcome of [`Ingest::begin_sync`].
pub enum BeginSync {
    /// The batch was committed before: answer with this receipt and `duplicate:true`.
    Duplicate(Receipt),
    /// The batch is new; the caller holds the only right to commit it.
    Fresh(SyncGuard),
}

/// Exclusive right to commit one `(product, batchId)`. Concurrent copies of the same
/// batch wait until the guard is committed or dropped, then see its receipt.
pub struct SyncGuard {
    inner: Arc<Inner>,
    key: (ProductId, Uuid),
    _release: watch::Sender<()>,
}

impl Drop for SyncGuard {
    fn drop(&mut self) {
        // Waiters wake when the sender drops, after the key is gone.
        self.inner.inflight.lock().remove(&self.key);
    }
}

impl SyncGuard {
    /// Makes the batch durable and records its receipt; returns its log position.
    pub async fn commit(self, entry: SyncEntry) -> Result<u64, IngestError> {
        let receipt = Some((entry.product, entry.batch_id, entry.response, entry.received_at));
        append(&self.inner, &LogEntry::Sync(entry), receipt).await
    }
}

async fn append(inner: &Arc<Inner>, entry: &LogEntry, receipt: Option<ReceiptInfo>) -> Result<u64, IngestError> {
    if inner.progress.backlog_bytes.load(Ordering::Acquire) > inner.max_backlog_bytes {
        return Err(IngestError::Backlogged);
    }
    let payload = crate::encoding::encode(entry)?;
    let (ack, done) = oneshot::channel();
    {
        let tx = inner.tx.lock();
        let tx = tx.as_ref().ok_or(IngestError::ShuttingDown)?;
        tx.send(WriteRequest { payload, receipt, ack }).map_err(|_| IngestError::ShuttingDown)?;
    }
    match done.await {
        Ok(Ok(lsn)) => Ok(lsn),
        Ok(Err(e)) => Err(IngestError::Io(std::io::Error::other(e))),
        Err(_) => Err(IngestError::ShuttingDown),
    }
}

fn writer_loop(
    rx: mpsc::Receiver<WriteRequest>,
    mut log: LogWriter,
    receipts: Arc<ReceiptStore>,
    progress: Arc<Progress>,
    max_group_bytes: usize,
) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        let mut bytes = group[0].payload.len();
        while bytes < max_group_bytes {
            match rx.try_recv() {
                Ok(req) => {
                    bytes += req.payload.len();
                    group.push(req);
                }
                Err(_) => break,
            }
        }
        let payloads: Vec<&[u8]> = group.iter().map(|r| r.payload.as_slice()).collect();
        let result = log.append_group(&payloads).inspect(|&first_lsn| {
            let last = first_lsn + group.len() as u64 - 1;
            let items: Vec<_> = group
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.receipt.map(|(p, b, resp, at)| (p, b, first_lsn + i as u64, resp, at)))
                .collect();
            // The entries are durable now; should recording receipts fail, they are
            // replayed from the log at the next start, so the group still counts.
            if let Err(e) = receipts.record(&items, last) {
                tracing::error!(error = %e, "could not record batch receipts; they are rebuilt from the log at restart");
            }
        });
        match result {
            Ok(first_lsn) => {
                let last = first_lsn + group.len() as u64 - 1;
                progress.backlog_bytes.fetch_add(bytes as u64, Ordering::AcqRel);
                progress.durable.store(last, Ordering::Release);
                progress.durable_moved.notify_waiters();
                for (i, req) in group.into_iter().enumerate() {
                    let _ = req.ack.send(Ok(first_lsn + i as u64));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "ingest log append failed");
                let msg = e.to_string();
                for req in group {
                    let _ = req.ack.send(Err(msg.clone()));
                }
            }
        }
    }
}

impl Ingest {
    /// Opens the log and receipts, recovers from any crash, and starts the writer and loader.
    pub async fn open(config: IngestConfig, warehouse: Arc<dyn Warehouse>) -> Result<Self, IngestError> {
        let dir = config.dir.clone();
        let warehouse_lsn =
            warehouse.applied_lsn().await.map_err(|e| IngestError::Io(std::io::Error::other(e.to_string())))?;
        let cfg = config.clone();
        let (recovered, receipts, backlog) = tokio::task::spawn_blocking(move || {
            let recovered = LogWriter::open(&cfg.dir.join("log"), cfg.segment_bytes)?;
            let receipts = ReceiptStore::open(&cfg.dir.join("receipts.sqlite"))?;
            let last = recovered.last_lsn;
            let receipted = receipts.max_lsn()?;
            let mut reader = LogReader::new(&cfg.dir.join("log"));
            let from = receipted.min(warehouse_lsn) + 1;
            let mut backlog = 0u64;
            let mut next = from;
            while next <= last {
                let chunk = reader.read(next, last, 64 << 20)?;
                let Some(end) = chunk.last().map(|c| c.0) else { break };
                let mut items = Vec::new();
                for (lsn, payload) in &chunk {
                    if *lsn > warehouse_lsn {
                        backlog += payload.len() as u64;
                    }
                    if *lsn > receipted {
                        if let LogEntry::Sync(s) = crate::encoding::decode(payload)? {
                            items.push((s.product, s.batch_id, *lsn, s.response, s.received_at));
                        }
                    }
                }
                if end > receipted {
                    receipts.record(&items, end)?;
                }
                next = end + 1;
            }
            if warehouse_lsn > last {
                tracing::warn!(warehouse_lsn, log_lsn = last, "warehouse is ahead of the ingest log");
            }
            Ok::<_, IngestError>((recovered, receipts, backlog))
        })
        .await
        .map_err(|e| IngestError::Io(std::io::Error::other(e.to_string())))??;

        let last = recovered.last_lsn;
        let progress = Arc::new(Progress {
            durable: AtomicU64::new(last.max(warehouse_lsn)),
            loaded: AtomicU64::new(warehouse_lsn),
            backlog_bytes: AtomicU64::new(backlog),
            durable_moved: Notify::new(),
            loaded_moved: Notify::new(),
            stopping: AtomicBool::new(false),
        });
        if backlog > 0 {
            tracing::info!(
                from = warehouse_lsn + 1,
                to = last,
                backlog_bytes = backlog,
                "resuming load of the ingest log"
            );
        }
        let receipts = Arc::new(receipts);
        let (tx, rx) = mpsc::channel();
        let writer = {
            let (receipts, progress, max) = (receipts.clone(), progress.clone(), config.max_group_bytes);
            let log = recovered.writer;
            std::thread::Builder::new()
                .name("usagi-ingest-writer".into())
                .spawn(move || writer_loop(rx, log, receipts, progress, max))?
        };
        let loader = tokio::spawn(run_loader(
            LogReader::new(&dir.join("log")),
            receipts.clone(),
            warehouse,
            progress.clone(),
            LoaderConfig {
                max_batch_bytes: config.max_load_bytes,
                linger: config.load_linger,
                min_batch_bytes: config.min_load_bytes,
                retry_initial: Duration::from_millis(200),
                pause_file: Some(dir.join(PAUSE_FILE)),
            },
        ));
        Ok(Self {
            inner: Arc::new(Inner {
                tx: Mutex::new(Some(tx)),
                receipts,
                progress,
                inflight: Mutex::new(HashMap::new()),
                writer: Mutex::new(Some(writer)),
                loader: Mutex::new(Some(loader)),
                max_backlog_bytes: config.max_backlog_bytes,
            }),
        })
    }

    /// Claims a batch for processing, or finds it already committed.
    pub async fn begin_sync(&self, product: ProductId, batch_id: Uuid) -> Result<BeginSync, IngestError> {
        let key = (product, batch_id);
        loop {
            let waiting = {
                let mut map = self.inner.inflight.lock();
                match map.get(&key) {
                    Some(rx) => Err(rx.clone()),
                    None => {
                        let (tx, rx) = watch::channel(());
                        map.insert(key, rx);
                        Ok(SyncGuard { inner: self.inner.clone(), key, _release: tx })
                    }
                }
            };
            match waiting {
                Err(mut rx) => {
                    // Resolves when the other copy's guard is dropped (committed or not).
                    let _ = rx.changed().await;
                }
                Ok(guard) => {
                    let receipts = self.inner.receipts.clone();
                    let found = tokio::task::spawn_blocking(move || receipts.find(product, batch_id))
                        .await
                        .map_err(|e| IngestError::Io(std::io::Error::other(e.to_string())))??;
                    return Ok(match found {
                        Some(r) => BeginSync::Duplicate(r),
                        None => BeginSync::Fresh(guard),
                    });
                }
            }
        }
    }

    /// Makes a non-batch entry (`license/set`, `optout`) durable.
    pub async fn commit(&self, entry: LogEntry) -> Result<u64, IngestError> {
        append(&self.inner, &entry, None).await
    }

    /// The batch receipts (retention prunes them).
    pub fn receipts(&self) -> Arc<ReceiptStore> {
        self.inner.receipts.clone()
    }

    /// The highest acknowledged log position.
    pub fn durable_lsn(&self) -> u64 {
        self.inner.progress.durable.load(Ordering::Acquire)
    }

    /// The highest log position loaded into the warehouse.
    pub fn loaded_lsn(&self) -> u64 {
        self.inner.progress.loaded.load(Ordering::Acquire)
    }

    /// Acknowledged bytes waiting for the warehouse.
    pub fn backlog_bytes(&self) -> u64 {
        self.inner.progress.backlog_bytes.load(Ordering::Acquire)
    }

    /// Waits until the warehouse holds everything up to `lsn`; false on timeout.
    pub async fn wait_loaded(&self, lsn: u64, timeout: Duration) -> bool {
        let progress = &self.inner.progress;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = progress.loaded_moved.notified();
            if progress.loaded.load(Ordering::Acquire) >= lsn {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return progress.loaded.load(Ordering::Acquire) >= lsn;
            }
        }
    }

    /// Stops accepting work, lets the writer finish, and lets the loader drain the log
    /// for at most `drain` (whatever is left is loaded at the next start).
    pub async fn shutdown(&self, drain: Duration) {
        self.inner.tx.lock().take();
        let writer = self.inner.writer.lock().take();
        if let Some(w) = writer {
            let _ = tokio::task::spawn_blocking(move || w.join()).await;
        }
        self.inner.progress.stopping.store(true, Ordering::Release);
        self.inner.progress.durable_moved.notify_waiters();
        let loader = self.inner.loader.lock().take();
        if let Some(l) = loader {
            let abort = l.abort_handle();
            if tokio::time::timeout(drain, l).await.is_err() {
                abort.abort();
                tracing::warn!("loader did not drain in time; the rest is loaded at the next start");
            }
        }
    }
}
