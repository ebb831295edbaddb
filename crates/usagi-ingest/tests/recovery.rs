//! Crash recovery of the ingest path against a real DuckDB warehouse file.

use std::sync::Arc;
use std::time::Duration;

use usagi_ingest::log::LogWriter;
use usagi_ingest::{BeginSync, Ingest, IngestConfig, LogEntry, StoredResponse, SyncEntry};
use usagi_protocol::{Record, RecordBody};
use usagi_types::{ClientId, ProductId};
use usagi_warehouse::Warehouse;
use usagi_warehouse_duckdb::{DuckConfig, DuckWarehouse};

fn entry(batch: uuid::Uuid, client: u64, events: usize) -> SyncEntry {
    SyncEntry {
        product: ProductId::parse("2376158762").unwrap(),
        received_at: 1_710_842_400_000,
        client: ClientId::from_u64(client),
        batch_id: batch,
        seq: 1,
        machine_id: None,
        app_name: "DemoApp".into(),
        sdk_name: "t".into(),
        sdk_version: "1".into(),
        geo: None,
        records: (0..events)
            .map(|i| Record {
                t: 1_710_842_300_000 + i as i64,
                index: i as u32,
                body: RecordBody::Event {
                    category: None,
                    name: format!("E{i}"),
                    session_id: None,
                    value: None,
                    custom: None,
                },
            })
            .collect(),
        response: StoredResponse { accepted: events as u32, dropped: 0, ignored: 0, next_sync_seconds: 1200 },
    }
}

async fn events(wh: &Arc<dyn Warehouse>) -> i64 {
    wh.query("SELECT count(*) FROM events".into(), vec![]).await.unwrap().rows[0][0].as_i64().unwrap()
}

#[tokio::test]
async fn receipts_lost_in_a_crash_are_rebuilt_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let wh: Arc<dyn Warehouse> =
        Arc::new(DuckWarehouse::open(&dir.path().join("w.duckdb"), &DuckConfig::default()).unwrap());
    let config = IngestConfig::new(dir.path().join("ingest"));
    let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    // A crash right after the fsync: the log holds the batch (twice, as a retry might),
    // but no receipt was written.
    {
        let mut log = LogWriter::open(&config.dir.join("log"), 1 << 20).unwrap().writer;
        let e = serde_json::to_vec(&LogEntry::Sync(entry(a, 1, 3))).unwrap();
        log.append_group(&[&e, &e]).unwrap();
    }
    let ingest = Ingest::open(config.clone(), wh.clone()).await.unwrap();
    assert!(
        matches!(ingest.begin_sync(ProductId::parse("2376158762").unwrap(), a).await.unwrap(), BeginSync::Duplicate(r) if r.lsn == 1)
    );
    match ingest.begin_sync(ProductId::parse("2376158762").unwrap(), b).await.unwrap() {
        BeginSync::Fresh(guard) => {
            guard.commit(entry(b, 2, 5)).await.unwrap();
        }
        BeginSync::Duplicate(_) => panic!("b is new"),
    }
    assert!(ingest.wait_loaded(ingest.durable_lsn(), Duration::from_secs(10)).await);
    assert_eq!(events(&wh).await, 3 + 5, "the second copy of a is skipped");
    ingest.shutdown(Duration::from_secs(5)).await;

    // Reopening changes nothing: the warehouse remembers what it applied.
    let ingest = Ingest::open(config, wh.clone()).await.unwrap();
    assert!(ingest.wait_loaded(ingest.durable_lsn(), Duration::from_secs(10)).await);
    assert_eq!(events(&wh).await, 8);
    assert!(matches!(
        ingest.begin_sync(ProductId::parse("2376158762").unwrap(), b).await.unwrap(),
        BeginSync::Duplicate(_)
    ));
    ingest.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn concurrent_copies_wait_for_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let wh: Arc<dyn Warehouse> =
        Arc::new(DuckWarehouse::open(&dir.path().join("w.duckdb"), &DuckConfig::default()).unwrap());
    let ingest = Ingest::open(IngestConfig::new(dir.path().join("ingest")), wh).await.unwrap();
    let p = ProductId::parse("2376158762").unwrap();
    let id = uuid::Uuid::new_v4();
    let BeginSync::Fresh(guard) = ingest.begin_sync(p, id).await.unwrap() else { panic!("new batch") };
    let waiter = {
        let ingest = ingest.clone();
        tokio::spawn(async move { matches!(ingest.begin_sync(p, id).await.unwrap(), BeginSync::Duplicate(_)) })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiter.is_finished(), "the copy waits while the first is in flight");
    guard.commit(entry(id, 1, 1)).await.unwrap();
    assert!(waiter.await.unwrap(), "then sees the first copy's receipt");
    // A guard dropped without commit (a discarded batch) lets the next copy be judged again.
    let other = uuid::Uuid::new_v4();
    let BeginSync::Fresh(g) = ingest.begin_sync(p, other).await.unwrap() else { panic!() };
    drop(g);
    assert!(matches!(ingest.begin_sync(p, other).await.unwrap(), BeginSync::Fresh(_)));
    ingest.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn the_pause_file_holds_loading_back_and_its_removal_resumes_it() {
    let dir = tempfile::tempdir().unwrap();
    let wh: Arc<dyn Warehouse> =
        Arc::new(DuckWarehouse::open(&dir.path().join("w.duckdb"), &DuckConfig::default()).unwrap());
    let config = IngestConfig::new(dir.path().join("ingest"));
    let ingest = Ingest::open(config.clone(), wh.clone()).await.unwrap();
    let pause = config.dir.join(usagi_ingest::PAUSE_FILE);
    std::fs::write(&pause, b"").unwrap();
    let p = ProductId::parse("2376158762").unwrap();
    let id = uuid::Uuid::new_v4();
    let BeginSync::Fresh(guard) = ingest.begin_sync(p, id).await.unwrap() else { panic!("new batch") };
    let lsn = guard.commit(entry(id, 1, 4)).await.unwrap();
    assert!(!ingest.wait_loaded(lsn, Duration::from_millis(600)).await, "acknowledged but not loaded while paused");
    assert_eq!(events(&wh).await, 0);
    assert!(ingest.backlog_bytes() > 0);
    std::fs::remove_file(&pause).unwrap();
    assert!(ingest.wait_loaded(lsn, Duration::from_secs(10)).await, "loads once the file is gone");
    assert_eq!(events(&wh).await, 4);
    assert_eq!(ingest.backlog_bytes(), 0);

    // Paused at shutdown: no drain is waited for; the next start loads the rest.
    std::fs::write(&pause, b"").unwrap();
    let id = uuid::Uuid::new_v4();
    let BeginSync::Fresh(guard) = ingest.begin_sync(p, id).await.unwrap() else { panic!("new batch") };
    guard.commit(entry(id, 2, 3)).await.unwrap();
    let t = std::time::Instant::now();
    ingest.shutdown(Duration::from_secs(20)).await;
    assert!(t.elapsed() < Duration::from_secs(5), "shutdown does not wait for a paused loader");
    std::fs::remove_file(&pause).unwrap();
    let ingest = Ingest::open(config, wh.clone()).await.unwrap();
    assert!(ingest.wait_loaded(ingest.durable_lsn(), Duration::from_secs(10)).await);
    assert_eq!(events(&wh).await, 7);
    ingest.shutdown(Duration::from_secs(5)).await;
}
