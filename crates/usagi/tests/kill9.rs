//! `kill -9` of a real `usagi serve` process loses no acknowledged batch, and every
//! batch — re-sent after the restart whether or not it was acknowledged — is applied
//! exactly once.

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use usagi_protocol::signing::{sign, ProductSecret};

const BIN: &str = env!("CARGO_BIN_EXE_usagi");
const PRODUCT: &str = "2376158762";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn serve(dir: &Path, port: u16) -> Child {
    Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("USAGI_DATA_DIR", dir)
        .env("USAGI_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("usagi serve starts")
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if client.get(format!("{base}/v3/openapi.json")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not come up");
}

fn body(i: usize) -> (String, Vec<u8>) {
    let id = uuid::Uuid::new_v4().to_string();
    let t = chrono::Utc::now().timestamp_millis() - 60_000;
    let records: Vec<Value> = (0..20).map(|k| json!({"kind":"event","t": t + k,"name": format!("E{k}")})).collect();
    let b = json!({"clientId": format!("{:016X}", i + 1), "appName":"DemoApp","sdk":{"name":"t","version":"1"},
                   "batchId": id, "seq": 1, "records": records});
    (id, serde_json::to_vec(&b).unwrap())
}

async fn send(client: &reqwest::Client, base: &str, secret: &ProductSecret, body: &[u8]) -> Option<Value> {
    let ts = chrono::Utc::now().timestamp().to_string();
    let resp = client
        .post(format!("{base}/callhome/v1/{PRODUCT}/sync"))
        .header("Content-Type", "application/json")
        .header("X-Timestamp", &ts)
        .header("X-Signature", sign(secret, &ts, body))
        .body(body.to_vec())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    if resp.status() != 200 {
        return None;
    }
    resp.json().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_dash_nine_loses_no_acknowledged_batch() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["product", "create", "--name", "Kill Test", "--id", PRODUCT])
        .env("USAGI_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let secret = ProductSecret::parse_hex(created["secret"].as_str().unwrap()).unwrap();

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = serve(dir.path(), port);
    wait_ready(&client, &base).await;

    // 1000 batches from 16 concurrent senders; the server is killed in the middle.
    let batches: Vec<(String, Vec<u8>)> = (0..1000).map(body).collect();
    let acked = std::sync::Arc::new(parking_lot_free::Acked::default());
    let mut tasks = Vec::new();
    for w in 0..16 {
        let (client, base, secret, acked) = (client.clone(), base.clone(), secret.clone(), acked.clone());
        let mine: Vec<(String, Vec<u8>)> = batches.iter().skip(w).step_by(16).cloned().collect();
        tasks.push(tokio::spawn(async move {
            for (id, b) in mine {
                if send(&client, &base, &secret, &b).await.is_some() {
                    acked.insert(id);
                }
            }
        }));
    }
    // Kill once a good share is acknowledged, while the rest is in flight.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.len() < 150 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked_before = acked.snapshot();
    assert!(acked_before.len() >= 150 && acked_before.len() < 1000, "killed mid-stream ({} acked)", acked_before.len());

    // Restart; every batch is sent again (an SDK retries what it has not seen acknowledged,
    // and here we also re-send the acknowledged ones to prove they are not applied twice).
    let mut server = serve(dir.path(), port);
    wait_ready(&client, &base).await;
    for (id, b) in &batches {
        let answer = send(&client, &base, &secret, b).await.expect("accepted after restart");
        if acked_before.contains(id) {
            assert_eq!(answer["duplicate"], true, "an acknowledged batch survived the kill");
        }
    }
    // Graceful stop (SIGTERM) flushes the loader; then count what the warehouse holds.
    let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    let status = server.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0");
    let wh =
        usagi_warehouse_duckdb::DuckWarehouse::open(&dir.path().join("warehouse.duckdb"), &Default::default()).unwrap();
    use usagi_warehouse::Warehouse;
    let rows = wh.query("SELECT count(*), count(DISTINCT client_id) FROM events".into(), vec![]).await.unwrap();
    assert_eq!(rows.rows[0][0].as_i64(), Some(1000 * 20), "every batch exactly once");
    assert_eq!(rows.rows[0][1].as_i64(), Some(1000));
    let contacts = wh.query("SELECT count(*) FROM contacts".into(), vec![]).await.unwrap();
    assert_eq!(contacts.rows[0][0].as_i64(), Some(1000));
}

mod parking_lot_free {
    use std::collections::HashSet;
    use std::sync::Mutex;

    /// Batch ids acknowledged so far.
    #[derive(Default)]
    pub struct Acked(Mutex<HashSet<String>>);

    impl Acked {
        pub fn insert(&self, id: String) {
            self.0.lock().unwrap().insert(id);
        }
        pub fn len(&self) -> usize {
            self.0.lock().unwrap().len()
        }
        pub fn snapshot(&self) -> super::HashSet<String> {
            self.0.lock().unwrap().clone()
        }
    }
}
