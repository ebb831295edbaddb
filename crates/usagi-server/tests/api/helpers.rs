//! `TestApp`: a real Usagi server on port 0 with a pinned clock, plus typed client helpers.

use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{json, Value};
use usagi_catalog::{NewUser, Role};
use usagi_protocol::signing::{sign, ProductSecret};
use usagi_server::{Running, ServerConfig};
use usagi_warehouse::Warehouse;

/// The product the worked examples use.
pub const PRODUCT: &str = "2376158762";
/// The Origin every test sends unless it tests Origin handling.
pub const ORIGIN: &str = "https://analytics.revenera.com";
/// The test user's credentials.
pub const EMAIL: &str = "tester@example.com";
pub const PASSWORD: &str = "correct horse battery staple";

/// A UTC instant from its parts.
pub fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().expect("valid test time")
}

/// Milliseconds of a UTC instant.
pub fn ms(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
    at(y, mo, d, h, mi, 0).timestamp_millis()
}

/// The catalog each test server gets: with `USAGI_TEST_CATALOG=postgres`, a fresh schema of
/// the PostgreSQL database `USAGI_TEST_POSTGRES_URL` (`.ci/run` runs the suite both ways);
/// otherwise (or `sqlite`) the embedded SQLite file of the test's data directory.
async fn catalog_url() -> Option<String> {
    match std::env::var("USAGI_TEST_CATALOG").as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => None,
        Ok("postgres") => {
            let base = std::env::var("USAGI_TEST_POSTGRES_URL")
                .expect("USAGI_TEST_CATALOG=postgres needs USAGI_TEST_POSTGRES_URL");
            Some(usagi_catalog::PostgresCatalog::scratch_schema(&base).await.expect("test schema"))
        }
        Ok(other) => panic!("USAGI_TEST_CATALOG must be sqlite or postgres, not {other:?}"),
    }
}

/// The warehouse each test server gets: with `USAGI_TEST_WAREHOUSE=clickhouse`, a fresh
/// database on the cluster whose shards `USAGI_TEST_CLICKHOUSE` lists (`.ci/run` starts two);
/// otherwise (or `duckdb`) the embedded DuckDB file of the test's data directory.
pub async fn test_warehouse(dir: &std::path::Path) -> Arc<dyn Warehouse> {
    // `USAGI_TEST_LOG=warn` (an env-filter) shows the servers' logs, e.g. failed warehouse queries.
    if let Ok(filter) = std::env::var("USAGI_TEST_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
    match std::env::var("USAGI_TEST_WAREHOUSE").as_deref() {
        Err(_) | Ok("") | Ok("duckdb") => Arc::new(
            usagi_warehouse_duckdb::DuckWarehouse::open(&dir.join("warehouse.duckdb"), &Default::default())
                .expect("warehouse opens"),
        ),
        Ok("clickhouse") => {
            let shards = std::env::var("USAGI_TEST_CLICKHOUSE")
                .expect("USAGI_TEST_WAREHOUSE=clickhouse needs USAGI_TEST_CLICKHOUSE");
            let config = usagi_warehouse_clickhouse::ClickHouseConfig {
                shards: shards.split(',').map(|s| s.trim().to_string()).collect(),
                cluster: "usagi".into(),
                database: format!("api_{}", uuid::Uuid::new_v4().simple()),
                user: None,
                password: None,
                origin: "api-test".into(),
            };
            Arc::new(usagi_warehouse_clickhouse::ClickHouseWarehouse::open(&config).await.expect("warehouse opens"))
        }
        Ok(other) => panic!("USAGI_TEST_WAREHOUSE must be duckdb or clickhouse, not {other:?}"),
    }
}

/// A running server and a client for it.
pub struct TestApp {
    pub server: Option<Running>,
    pub base: String,
    pub secret: String,
    pub client: reqwest::Client,
    pub warehouse: Arc<dyn Warehouse>,
    pub _dir: tempfile::TempDir,
    seq: std::sync::atomic::AtomicU64,
}

/// Decorates the real warehouse (fault injection).
pub type Wrap = Box<dyn FnOnce(Arc<dyn Warehouse>) -> Arc<dyn Warehouse> + Send>;

/// How to start a test server.
#[derive(Default)]
pub struct Setup {
    pub config: Option<ServerConfig>,
    /// Keep `exports.job_interval_seconds` of `config` (tests otherwise drive the job).
    pub config_keeps_export_job: bool,
    pub wrap_warehouse: Option<Wrap>,
}

impl TestApp {
    /// A server pinned at 2024-03-20T12:00:00Z with product 2376158762 and one editor.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Setup::default()).await
    }

    /// A server with custom configuration.
    pub async fn spawn_with(setup: Setup) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = setup.config.unwrap_or_default();
        config.listen = "127.0.0.1:0".parse().expect("addr");
        if config.clock.fixed_now.is_none() {
            config.clock.fixed_now = Some(at(2024, 3, 20, 12, 0, 0));
        }
        if config.catalog.url.is_none() {
            config.catalog.url = catalog_url().await;
        }
        // Reports wait for acknowledged data (read-your-writes) as long as a loaded CI machine
        // may need: tests assert numbers, not the 2 s production bound.
        config.limits.read_your_writes_ms = config.limits.read_your_writes_ms.max(30_000);
        // Tests run the export job at chosen instants (`Running::exports`).
        if !setup.config_keeps_export_job {
            config.exports.job_interval_seconds = 0;
        }
        let mut warehouse = test_warehouse(dir.path()).await;
        if let Some(wrap) = setup.wrap_warehouse {
            warehouse = wrap(warehouse);
        }
        let server = usagi_server::start(dir.path(), config, warehouse).await.expect("server starts");
        let now = server.clock.now();
        let (_, secret) = server
            .catalog
            .create_product("Demo App", Some(usagi_types::ProductId::parse(PRODUCT).expect("id")), now)
            .await
            .expect("product");
        let user = server
            .catalog
            .create_user(
                NewUser {
                    email: EMAIL.into(),
                    name: "Test".into(),
                    surname: "User".into(),
                    admin: false,
                    password: PASSWORD.into(),
                },
                now,
            )
            .await
            .expect("user");
        server
            .catalog
            .grant(user.id, usagi_types::ProductId::parse(PRODUCT).expect("id"), Role::Editor, false)
            .await
            .expect("grant");
        let base = format!("http://{}", server.addr);
        let client = reqwest::Client::builder().cookie_store(true).build().expect("client");
        let warehouse = server.warehouse.clone();
        TestApp { server: Some(server), base, secret, client, warehouse, _dir: dir, seq: 1.into() }
    }

    /// Another client with its own cookie jar against the same server (no server of its own).
    pub fn sibling(app: &TestApp) -> TestApp {
        TestApp {
            server: None,
            base: app.base.clone(),
            secret: app.secret.clone(),
            client: reqwest::Client::builder().cookie_store(true).build().expect("client"),
            warehouse: app.warehouse.clone(),
            _dir: tempfile::tempdir().expect("tempdir"),
            seq: 1.into(),
        }
    }

    /// A second server on this one's catalog (`config.catalog.url` must name it), as another
    /// process behind a load balancer: its own data directory, warehouse and `server.key`, the
    /// same pinned time, reached with this client's cookie jar (cookies ignore ports).
    pub async fn second_server(&self, mut config: ServerConfig) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        config.listen = "127.0.0.1:0".parse().expect("addr");
        config.clock.fixed_now = Some(self.server().clock.now());
        config.exports.job_interval_seconds = 0;
        let warehouse = test_warehouse(dir.path()).await;
        let server = usagi_server::start(dir.path(), config, warehouse.clone()).await.expect("second server starts");
        TestApp {
            base: format!("http://{}", server.addr),
            server: Some(server),
            secret: self.secret.clone(),
            client: self.client.clone(),
            warehouse,
            _dir: dir,
            seq: 1.into(),
        }
    }

    /// The server.
    pub fn server(&self) -> &Running {
        self.server.as_ref().expect("server running")
    }

    /// Moves the pinned clock.
    pub fn set_now(&self, t: DateTime<Utc>) {
        self.server().clock.set(t);
    }

    /// Signs and posts a raw call-home body.
    pub async fn callhome_raw(&self, action: &str, body: Vec<u8>, encoding: Option<&str>) -> reqwest::Response {
        let ts = self.server().clock.now().timestamp().to_string();
        let secret = ProductSecret::parse_hex(&self.secret).expect("secret");
        let mut req = self
            .client
            .post(format!("{}/callhome/v1/{PRODUCT}/{action}", self.base))
            .header("Content-Type", "application/json")
            .header("X-Timestamp", &ts)
            .header("X-Signature", sign(&secret, &ts, &body));
        if let Some(enc) = encoding {
            req = req.header("Content-Encoding", enc);
        }
        req.body(body).send().await.expect("request")
    }

    /// Sends one sync batch of `records` for `client` with the clock at `received`.
    pub async fn sync_at(&self, received: DateTime<Utc>, client: &str, records: Vec<Value>) -> Value {
        self.set_now(received);
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let body = json!({
            "clientId": client, "machineId": null, "appName": "DemoApp",
            "sdk": {"name": "ui-sdk-rust", "version": "1.0.0"},
            "batchId": uuid::Uuid::new_v4().to_string(), "seq": seq, "records": records,
        });
        let resp = self.callhome_raw("sync", serde_json::to_vec(&body).expect("json"), None).await;
        let status = resp.status();
        let answer: Value = resp.json().await.expect("json answer");
        assert_eq!(status, 200, "sync accepted: {answer}");
        answer
    }

    /// Headers of a browser-like client.
    pub fn origin_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("Origin", HeaderValue::from_static(ORIGIN));
        h
    }

    /// Logs in through the "Cookie Missing" flow; the cookie jar then holds the session.
    pub async fn login(&self) {
        let first = self.post_json("/v3/auth/web", &json!({"userName": EMAIL, "password": PASSWORD})).await;
        if first.status() == 200 {
            return; // the jar still held a valid CSRF cookie
        }
        assert_eq!(first.status(), 401);
        assert_eq!(first.json::<Value>().await.expect("json")["reason"], "Cookie Missing");
        let second = self.post_json("/v3/auth/web", &json!({"userName": EMAIL, "password": PASSWORD})).await;
        assert_eq!(second.status(), 200, "login succeeds on retry");
    }

    /// POSTs JSON with the Origin header.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .headers(Self::origin_headers())
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// Runs a generic dateRange report and returns the raw body text.
    pub async fn date_range(&self, body: &Value) -> (u16, String) {
        let resp = self.post_json(&format!("/v3/reporting/generic/dateRange/{PRODUCT}"), body).await;
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    }

    /// How many rows a warehouse table holds.
    pub async fn count(&self, sql: &str) -> i64 {
        let rows = self.warehouse.query(sql.to_string(), vec![]).await.expect("query");
        rows.rows[0][0].as_i64().expect("count")
    }

    /// Waits until everything acknowledged is in the warehouse.
    pub async fn settle(&self) {
        let ingest = &self.server().ingest;
        // Generous: a ClickHouse load (facts on every shard, then the rollups) on a loaded CI
        // machine can take several seconds.
        assert!(ingest.wait_loaded(ingest.durable_lsn(), std::time::Duration::from_secs(60)).await, "loader caught up");
    }
}

/// Gzip-compresses bytes.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

/// Removes all whitespace outside strings of a JSON text, for comparing with the spec.
pub fn compact(json_text: &str) -> String {
    let v: Value = serde_json::from_str(json_text).expect("valid JSON");
    serde_json::to_string(&v).expect("json")
}
