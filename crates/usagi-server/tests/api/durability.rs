//! A warehouse that fails loses no acknowledged data; past the backlog bound syncs get 503.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use usagi_server::ServerConfig;
use usagi_warehouse::{Dialect, LoadBatch, Param, Rows, Warehouse, WarehouseError};

use crate::helpers::*;

/// The real warehouse with faults on its loads (queries keep working): an outage switch, and
/// with `attempts` slow loads (so that syncs arrive while one runs and are decoded ahead of the
/// next), the second of which fails after its delay; `attempts` records each one's events.
struct Flaky {
    inner: Arc<dyn Warehouse>,
    down: Arc<AtomicBool>,
    attempts: Option<Arc<Mutex<Vec<usize>>>>,
}

#[async_trait]
impl Warehouse for Flaky {
    fn dialect(&self) -> &'static dyn Dialect {
        self.inner.dialect()
    }
    async fn load(&self, batch: LoadBatch) -> Result<(), WarehouseError> {
        if let Some(attempts) = &self.attempts {
            let attempt = {
                let mut attempts = attempts.lock().expect("lock");
                attempts.push(batch.events.len());
                attempts.len()
            };
            tokio::time::sleep(Duration::from_millis(1000)).await;
            if attempt == 2 {
                return Err(WarehouseError::Engine("simulated failure of the second load".into()));
            }
        }
        if self.down.load(Ordering::SeqCst) {
            return Err(WarehouseError::Engine("simulated outage".into()));
        }
        self.inner.load(batch).await
    }
    async fn applied_lsn(&self) -> Result<u64, WarehouseError> {
        self.inner.applied_lsn().await
    }
    async fn query(&self, sql: String, params: Vec<Param>) -> Result<Rows, WarehouseError> {
        self.inner.query(sql, params).await
    }
    async fn erase_installation(
        &self,
        product: usagi_types::ProductId,
        client: usagi_types::ClientId,
    ) -> Result<u64, WarehouseError> {
        self.inner.erase_installation(product, client).await
    }
    async fn purge_before(
        &self,
        product: usagi_types::ProductId,
        cutoff: chrono::NaiveDate,
    ) -> Result<usagi_warehouse::PurgeStats, WarehouseError> {
        self.inner.purge_before(product, cutoff).await
    }
}

#[tokio::test]
async fn warehouse_outage_keeps_acknowledging_up_to_the_bound_then_recovers() {
    let down = Arc::new(AtomicBool::new(true));
    let switch = down.clone();
    let mut config = ServerConfig::default();
    config.ingest.max_backlog_mb = 0; // every byte counts: the second batch passes the bound
    let wrap: Wrap =
        Box::new(move |inner| Arc::new(Flaky { inner, down: switch, attempts: None }) as Arc<dyn Warehouse>);
    let app = TestApp::spawn_with(Setup { config: Some(config), wrap_warehouse: Some(wrap), ..Setup::default() }).await;
    let t = ms(2024, 3, 20, 11, 0);
    let first = app
        .sync_at(at(2024, 3, 20, 12, 0, 0), "00000000000000A1", vec![json!({"kind":"event","t":t,"name":"Open"})])
        .await;
    assert_eq!(first["accepted"], 1, "acknowledged while the warehouse is down");

    // Past the bound: 503 with Retry-After, and nothing new stored.
    let lsn = app.server().ingest.durable_lsn();
    let body =
        serde_json::to_vec(&json!({"clientId":"00000000000000A2","appName":"DemoApp","sdk":{"name":"s","version":"1"},
        "batchId": uuid::Uuid::new_v4().to_string(),"seq":1,"records":[{"kind":"event","t":t,"name":"Open"}]}))
        .unwrap();
    let resp = app.callhome_raw("sync", body.clone(), None).await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().get("retry-after").is_some());
    assert_eq!(app.server().ingest.durable_lsn(), lsn);

    // The warehouse comes back: the acknowledged batch loads, ingestion resumes.
    down.store(false, Ordering::SeqCst);
    assert!(app.server().ingest.wait_loaded(lsn, Duration::from_secs(30)).await);
    assert_eq!(app.callhome_raw("sync", body, None).await.status(), 200);
    app.settle().await;
    assert_eq!(app.count("SELECT count(*) FROM events").await, 2);
    assert_eq!(app.count("SELECT count(DISTINCT client_id) FROM clients").await, 2);
}

/// The loader decodes what arrives during a load for the next one; when that next load fails,
/// its rows are read from the log again, and every acknowledged event is stored exactly once.
#[tokio::test]
async fn a_failed_load_of_rows_decoded_ahead_loses_and_repeats_nothing() {
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let seen = attempts.clone();
    let down = Arc::new(AtomicBool::new(false));
    let wrap: Wrap = Box::new(move |inner| Arc::new(Flaky { inner, down, attempts: Some(seen) }) as Arc<dyn Warehouse>);
    let app = TestApp::spawn_with(Setup { wrap_warehouse: Some(wrap), ..Setup::default() }).await;
    let t = ms(2024, 3, 20, 11, 0);
    let sync = |name: &'static str| {
        let app = &app;
        async move {
            let client = format!("00000000000000{}", &name[..2]);
            let answer =
                app.sync_at(at(2024, 3, 20, 12, 0, 0), &client, vec![json!({"kind":"event","t":t,"name":name})]).await;
            assert_eq!(answer["accepted"], 1, "{name}: {answer}");
        }
    };
    let started = |n: usize| {
        let attempts = attempts.clone();
        async move {
            for _ in 0..1000 {
                if attempts.lock().expect("lock").len() >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("load attempt {n} never started");
        }
    };
    sync("A1").await;
    started(1).await;
    // Acknowledged while the first load runs: decoded ahead, then loaded by the second attempt.
    sync("B2").await;
    sync("C3").await;
    started(2).await;
    // Acknowledged while the second (failing) attempt runs.
    sync("D4").await;
    app.settle().await;
    let attempts = attempts.lock().expect("lock").clone();
    assert_eq!(attempts[..2], [1, 2], "the second attempt held both events that arrived during the first");
    assert!(attempts.len() >= 3, "{attempts:?}");
    assert_eq!(app.count("SELECT count(*) FROM events").await, 4);
    assert_eq!(app.count("SELECT count(DISTINCT name) FROM events").await, 4);
    assert_eq!(app.count("SELECT count(*) FROM clients").await, 4);
}
