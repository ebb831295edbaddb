//! Batch receipts: `(product, batchId) → answer`, the memory behind exactly-once.
//!
//! Receipts are derived from the log: the writer records them right after each
//! group's fsync, and opening the store replays any log entry whose receipt a crash
//! lost. The first copy of a batch in the log wins; the loader skips later copies.

use std::path::Path;

use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};
use usagi_types::ProductId;
use uuid::Uuid;

use crate::entry::StoredResponse;
use crate::IngestError;

/// A stored receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// Log position of the copy that counts.
    pub lsn: u64,
    /// The answer given to it.
    pub response: StoredResponse,
}

/// The SQLite file holding receipts.
pub struct ReceiptStore {
    conn: Mutex<Connection>,
}

impl ReceiptStore {
    /// Opens or creates the receipts database.
    pub fn open(path: &Path) -> Result<Self, IngestError> {
        let conn = Connection::open(path)?;
        // The log is the durable record; receipts may lag after a power loss and are
        // replayed from the log, so a WAL without fsync per commit is enough.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS receipts (
                 product_id INTEGER NOT NULL, batch_id BLOB NOT NULL, lsn INTEGER NOT NULL,
                 accepted INTEGER NOT NULL, dropped INTEGER NOT NULL, ignored INTEGER NOT NULL,
                 next_sync_seconds INTEGER NOT NULL, received_at INTEGER NOT NULL,
                 PRIMARY KEY (product_id, batch_id)) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS receipt_state (id INTEGER PRIMARY KEY, max_lsn INTEGER NOT NULL);
             INSERT OR IGNORE INTO receipt_state VALUES (1, 0);",
        )?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    /// The highest log position whose receipts are recorded.
    pub fn max_lsn(&self) -> Result<u64, IngestError> {
        let conn = self.conn.lock();
        let v: i64 = conn.query_row("SELECT max_lsn FROM receipt_state WHERE id = 1", [], |r| r.get(0))?;
        Ok(v as u64)
    }

    /// Records the receipts of a group of log entries up to `last_lsn`; the first copy wins.
    pub fn record(
        &self,
        items: &[(ProductId, Uuid, u64, StoredResponse, i64)],
        last_lsn: u64,
    ) -> Result<(), IngestError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        {
            let mut stmt =
                tx.prepare_cached("INSERT OR IGNORE INTO receipts VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?;
            for (product, batch, lsn, r, received_at) in items {
                stmt.execute(params![
                    product.as_u64() as i64,
                    batch.as_bytes().as_slice(),
                    *lsn as i64,
                    r.accepted,
                    r.dropped,
                    r.ignored,
                    r.next_sync_seconds,
                    received_at
                ])?;
            }
            tx.execute("UPDATE receipt_state SET max_lsn = max(max_lsn, ?1) WHERE id = 1", params![last_lsn as i64])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets the receipts of `product` received before `before_ms` (callhome §9.2: receipts
    /// are kept for the product's retention period); returns how many.
    ///
    /// A batch re-sent after that is judged again, and its records, older than retention by
    /// then, are dropped at ingest.
    pub fn prune(&self, product: ProductId, before_ms: i64) -> Result<u64, IngestError> {
        let conn = self.conn.lock();
        let n = conn.execute(
            "DELETE FROM receipts WHERE product_id = ?1 AND received_at < ?2",
            params![product.as_u64() as i64, before_ms],
        )?;
        Ok(n as u64)
    }

    /// The receipt of a batch, if it was committed.
    pub fn find(&self, product: ProductId, batch: Uuid) -> Result<Option<Receipt>, IngestError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT lsn, accepted, dropped, ignored, next_sync_seconds FROM receipts WHERE product_id = ?1 AND batch_id = ?2",
        )?;
        let found = stmt
            .query_row(params![product.as_u64() as i64, batch.as_bytes().as_slice()], |r| {
                Ok(Receipt {
                    lsn: r.get::<_, i64>(0)? as u64,
                    response: StoredResponse {
                        accepted: r.get(1)?,
                        dropped: r.get(2)?,
                        ignored: r.get(3)?,
                        next_sync_seconds: r.get(4)?,
                    },
                })
            })
            .optional()?;
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_copy_wins() {
        let dir = tempfile::tempdir().unwrap();
        let store = ReceiptStore::open(&dir.path().join("r.sqlite")).unwrap();
        let p = ProductId::parse("2376158762").unwrap();
        let b = Uuid::new_v4();
        let r1 = StoredResponse { accepted: 3, dropped: 0, ignored: 0, next_sync_seconds: 1200 };
        let r2 = StoredResponse { accepted: 9, dropped: 1, ignored: 0, next_sync_seconds: 1200 };
        store.record(&[(p, b, 5, r1, 0)], 5).unwrap();
        store.record(&[(p, b, 7, r2, 0)], 7).unwrap();
        assert_eq!(store.find(p, b).unwrap(), Some(Receipt { lsn: 5, response: r1 }));
        assert_eq!(store.max_lsn().unwrap(), 7);
        assert_eq!(store.find(p, Uuid::new_v4()).unwrap(), None);
    }

    #[test]
    fn receipts_older_than_retention_are_pruned_per_product() {
        let dir = tempfile::tempdir().unwrap();
        let store = ReceiptStore::open(&dir.path().join("r.sqlite")).unwrap();
        let (p, q) = (ProductId::parse("2376158762").unwrap(), ProductId::parse("1234567890").unwrap());
        let r = StoredResponse { accepted: 1, dropped: 0, ignored: 0, next_sync_seconds: 1200 };
        let (old, new, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        store.record(&[(p, old, 1, r, 999), (p, new, 2, r, 1000), (q, other, 3, r, 10)], 3).unwrap();
        assert_eq!(store.prune(p, 1000).unwrap(), 1);
        assert_eq!(store.find(p, old).unwrap(), None);
        assert!(store.find(p, new).unwrap().is_some());
        assert!(store.find(q, other).unwrap().is_some(), "another product keeps its receipts");
        assert_eq!(store.max_lsn().unwrap(), 3, "pruning never rewinds the replay position");
    }
}
