//! A real Usagi server on port 0 (real clock unless skewed), a fault-injecting proxy in front
//! of it, SDK configs with short timings, and Reporting API reads through a bearer token.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use usagi_catalog::{NewUser, Role};
use usagi_sdk::{Config, Tuning};
use usagi_server::{Running, ServerConfig};
use usagi_types::ProductId;

pub const PRODUCT: &str = "2376158762";

/// The server, its product secret and a report token.
pub struct Harness {
    pub rt: tokio::runtime::Runtime,
    pub server: Running,
    pub base: String,
    pub secret: String,
    token: String,
    pub _dir: tempfile::TempDir,
}

impl Harness {
    /// A server on the real clock.
    pub fn start() -> Harness {
        Self::start_with_clock(None)
    }

    /// A server whose clock is pinned at `now` (e.g. hours away from the SDK's clock).
    pub fn start_with_clock(now: Option<DateTime<Utc>>) -> Harness {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let (server, secret, token) = rt.block_on(async {
            let mut config = ServerConfig { listen: "127.0.0.1:0".parse().expect("addr"), ..Default::default() };
            config.clock.fixed_now = now;
            let duck =
                usagi_warehouse_duckdb::DuckWarehouse::open(&dir.path().join("warehouse.duckdb"), &Default::default())
                    .expect("warehouse opens");
            let server = usagi_server::start(dir.path(), config, Arc::new(duck)).await.expect("server starts");
            let now = server.clock.now();
            let pid = ProductId::parse(PRODUCT).expect("id");
            let (_, secret) = server.catalog.create_product("SDK Test", Some(pid), now).await.expect("product");
            let user = server
                .catalog
                .create_user(
                    NewUser {
                        email: "sdk@example.com".into(),
                        name: "S".into(),
                        surname: "D".into(),
                        admin: false,
                        password: "long enough password".into(),
                    },
                    now,
                )
                .await
                .expect("user");
            server.catalog.grant(user.id, pid, Role::Editor, false).await.expect("grant");
            let (_, token) = server.catalog.create_token(user.id, vec![], true, None, now).await.expect("token");
            (server, secret, token)
        });
        let base = format!("http://{}", server.addr);
        Harness { rt, server, base, secret, token, _dir: dir }
    }

    /// An SDK configuration for `url` with test timings (retries in milliseconds).
    pub fn config(&self, dir: &Path, url: &str) -> Config {
        let mut c = Config::new(dir, PRODUCT, "SdkTest", url, &self.secret);
        c.tuning = Tuning {
            retry_base: Duration::from_millis(40),
            retry_cap: Duration::from_millis(400),
            flush_interval: Duration::from_millis(200),
            manual_sync_interval: Duration::from_secs(60),
            request_timeout: Duration::from_secs(20),
            ..Tuning::default()
        };
        c
    }

    /// The server's "today".
    pub fn today(&self) -> String {
        self.server.clock.now().date_naive().to_string()
    }

    /// Event name → occurrences yesterday and today (server days), from the basic event data table
    /// (Reporting API). Yesterday is included because an SDK whose clock runs behind the server's
    /// (see `start_with_clock`) stamps its records with its own date, which late in the UTC day is
    /// the server's yesterday.
    pub fn event_counts(&self) -> BTreeMap<String, u64> {
        let today = self.server.clock.now().date_naive();
        let yesterday = today.pred_opt().expect("a date after 0001-01-01");
        let body = self.report(
            "eventTracking/basic/dataTable",
            json!({"startDate": yesterday.to_string(), "stopDate": today.to_string()}),
        );
        let mut out = BTreeMap::new();
        for category in body["result"].as_array().cloned().unwrap_or_default() {
            for (name, data) in category["categoryEventsData"].as_object().cloned().unwrap_or_default() {
                out.insert(name, data["eventUsage"]["cumulativeUsageCount"].as_u64().unwrap_or(0));
            }
        }
        out
    }

    /// POSTs a report with the bearer token after the loader caught up; panics unless 200.
    pub fn report(&self, path: &str, body: Value) -> Value {
        self.rt.block_on(async {
            let ingest = &self.server.ingest;
            assert!(ingest.wait_loaded(ingest.durable_lsn(), Duration::from_secs(20)).await, "loader caught up");
            let resp = reqwest::Client::new()
                .post(format!("{}/v3/reporting/{path}/{PRODUCT}", self.base))
                .bearer_auth(&self.token)
                .json(&body)
                .send()
                .await
                .expect("report request");
            let status = resp.status();
            let text = resp.text().await.expect("body");
            assert_eq!(status, 200, "{text}");
            serde_json::from_str(&text).expect("json")
        })
    }

    /// Starts a proxy in front of the server.
    pub fn proxy(&self) -> Proxy {
        let state = Arc::new(ProxyState {
            upstream: self.base.clone(),
            faults: Mutex::new(Faults::default()),
            log: Mutex::new(Vec::new()),
            client: reqwest::Client::new(),
        });
        let listener = self.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let app = axum::Router::new().fallback(forward).with_state(Arc::clone(&state));
        self.rt.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Proxy { url, state }
    }
}

const PROBE: &str = env!("CARGO_BIN_EXE_usagi-sdk-probe");

/// Starts `usagi-sdk-probe`: a separate SDK process that tracks `events` events after its
/// start sync (not waiting for it when `offline`) and stops with a 60 s timeout.
pub fn probe(h: &Harness, dir: &Path, url: &str, events: u32, offline: bool) -> Child {
    let mut cmd = Command::new(PROBE);
    cmd.env("USAGI_SDK_DIR", dir)
        .env("USAGI_URL", url)
        .env("USAGI_PRODUCT", PRODUCT)
        .env("USAGI_SECRET", &h.secret)
        .env("PROBE_EVENTS", events.to_string())
        .env("PROBE_STOP_TIMEOUT_MS", if offline { "200" } else { "60000" })
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if offline {
        cmd.env("PROBE_OFFLINE", "1");
    }
    cmd.spawn().expect("probe starts")
}

/// A URL where nothing listens (the network is "down").
pub fn dead_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    format!("http://127.0.0.1:{port}")
}

/// Polls `f` until it holds or `secs` pass.
pub fn wait_for(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

/// Faults the proxy injects into `sync` calls.
#[derive(Debug, Default, Clone)]
pub struct Faults {
    /// Answer 500 without forwarding, this many times.
    pub fail_before: u32,
    /// Forward (the server stores the batch) but answer 500, this many times.
    pub fail_after: u32,
    /// Answer 413 to bodies larger than this on the wire.
    pub max_wire: Option<usize>,
    /// Forward and then never answer, after letting this many syncs through.
    pub hold_after: Option<u32>,
}

/// One call the proxy saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub action: String,
    pub batch_id: Option<String>,
    pub seq: Option<u64>,
    /// The `kind` of every record, in order.
    pub kinds: Vec<String>,
    pub forwarded: bool,
    pub status: u16,
    pub duplicate: Option<bool>,
    pub held: bool,
}

pub struct ProxyState {
    upstream: String,
    pub faults: Mutex<Faults>,
    pub log: Mutex<Vec<Seen>>,
    client: reqwest::Client,
}

/// A running proxy.
pub struct Proxy {
    pub url: String,
    pub state: Arc<ProxyState>,
}

impl Proxy {
    pub fn set(&self, faults: Faults) {
        *self.state.faults.lock().expect("faults") = faults;
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.log.lock().expect("log").clone()
    }

    pub fn calls(&self, action: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.action == action).collect()
    }
}

fn plain(status: u16, body: &str) -> Response {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("response")
}

async fn forward(State(p): State<Arc<ProxyState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 32 << 20).await.unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let action = path.splitn(5, '/').nth(4).unwrap_or("").to_owned();
    let gz = parts.headers.get("content-encoding").is_some_and(|v| v == "gzip");
    let json: Value = {
        let mut raw = Vec::new();
        if gz {
            let _ = flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut raw);
        } else {
            raw = bytes.to_vec();
        }
        serde_json::from_slice(&raw).unwrap_or(Value::Null)
    };
    let mut seen = Seen {
        action: action.clone(),
        batch_id: json["batchId"].as_str().map(str::to_owned),
        seq: json["seq"].as_u64(),
        kinds: json["records"]
            .as_array()
            .map(|rs| rs.iter().map(|r| r["kind"].as_str().unwrap_or("").to_owned()).collect())
            .unwrap_or_default(),
        forwarded: false,
        status: 0,
        duplicate: None,
        held: false,
    };
    let sync = action == "sync";
    let (too_large, fail_before) = {
        let mut f = p.faults.lock().expect("faults");
        let too_large = sync && f.max_wire.is_some_and(|m| bytes.len() > m);
        let fail_before = sync && !too_large && f.fail_before > 0;
        if fail_before {
            f.fail_before -= 1;
        }
        (too_large, fail_before)
    };
    if too_large || fail_before {
        seen.status = if too_large { 413 } else { 500 };
        p.log.lock().expect("log").push(seen);
        return if too_large {
            plain(413, r#"{"status":"TOO LARGE","reason":"body exceeds the size limit"}"#)
        } else {
            plain(500, r#"{"status":"SERVER ERROR","reason":"injected"}"#)
        };
    }
    let mut upstream = p.client.post(format!("{}{path}", p.upstream)).body(bytes.to_vec());
    for name in ["content-type", "content-encoding", "x-timestamp", "x-signature", "user-agent"] {
        if let Some(v) = parts.headers.get(name) {
            upstream = upstream.header(name, v.as_bytes());
        }
    }
    let resp = match upstream.send().await {
        Ok(r) => r,
        Err(_) => return plain(502, r#"{"status":"SERVER ERROR","reason":"upstream down"}"#),
    };
    let status = resp.status().as_u16();
    let date = resp.headers().get("date").cloned();
    let retry_after = resp.headers().get("retry-after").cloned();
    let body = resp.bytes().await.unwrap_or_default();
    let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.forwarded = true;
    seen.status = status;
    seen.duplicate = answer["duplicate"].as_bool();
    let (fail_after, hold) = {
        let mut f = p.faults.lock().expect("faults");
        let fail_after = sync && f.fail_after > 0;
        if fail_after {
            f.fail_after -= 1;
        }
        let hold = sync
            && !fail_after
            && match &mut f.hold_after {
                Some(0) => true,
                Some(n) => {
                    *n -= 1;
                    false
                }
                None => false,
            };
        (fail_after, hold)
    };
    seen.held = hold;
    if fail_after {
        seen.status = 500;
    }
    p.log.lock().expect("log").push(seen);
    if hold {
        std::future::pending::<()>().await;
    }
    if fail_after {
        return plain(500, r#"{"status":"SERVER ERROR","reason":"injected after commit"}"#);
    }
    let mut out = Response::builder().status(status).header("Content-Type", "application/json");
    if let Some(d) = date {
        out = out.header("Date", d);
    }
    if let Some(r) = retry_after {
        out = out.header("Retry-After", r);
    }
    out.body(Body::from(body)).expect("response")
}
