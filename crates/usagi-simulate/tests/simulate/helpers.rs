//! Shared test fixtures: dates and a tiny in-process call-home server.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde_json::json;
use usagi_protocol::signing::{verify_request, ProductSecret};
use usagi_simulate::{FleetConfig, RetryPolicy, SimulateConfig};
use usagi_types::{ClientId, ProductId};
use uuid::Uuid;

/// The product the test server knows.
pub const PRODUCT: &str = "2376158762";
/// Its secret (the spec's test vector secret).
pub const SECRET: &str = "8f3a61c2d94b07e5a1c6f0d2b7e49a35";

/// (clientId, batchId, receive time, records, FNV-1a of the body) of the first batch of
/// `FleetConfig::new(5, 10, 2024-03-20, 42)`.
pub const PINNED_FIRST_BATCH: (&str, &str, i64, u32, u64) =
    ("988142127D5E6B27", "4566ed39-af1e-47f4-8ef7-e7179bb64594", 1_710_492_392_243, 70, 16_639_646_468_221_463_966);

/// A calendar date.
pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// The UTC day of an instant in ms.
pub fn day_of_ms(ms: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(ms).expect("in range").date_naive()
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis() as i64
}

/// How the test server misbehaves.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Answer 503 to the first attempt of every batch whose `seq` is a multiple of this.
    pub fail_first_attempt_every: Option<u64>,
    /// Answer the very first request with 401 `timestamp out of range` and a `serverTime`.
    pub clock_skew_once: bool,
    /// Answer this installation's first batch with `{"backOffDays":7}`.
    pub back_off_client: Option<ClientId>,
}

/// Everything the test server saw.
#[derive(Debug, Default)]
pub struct ServerLog {
    /// Correctly signed attempts per batch.
    pub attempts: HashMap<Uuid, u32>,
    /// 200 answers that stored a batch (a duplicate does not count).
    pub stored: HashMap<Uuid, u32>,
    /// Stored batches in arrival order: (client, seq, batch).
    pub arrivals: Vec<(ClientId, u64, Uuid)>,
    /// The decompressed body of each batch's first attempt.
    pub first_body: HashMap<Uuid, Vec<u8>>,
    /// Attempts whose body differed from the first attempt of the same batch.
    pub changed_bodies: u32,
    /// The `X-Usagi-Receive-Time` of each stored batch.
    pub receive_times: HashMap<Uuid, Option<i64>>,
    /// Requests refused for their signature.
    pub bad_signatures: u32,
    /// 503s the server gave.
    pub injected_503: u32,
    /// 401 clock answers the server gave.
    pub injected_401: u32,
    /// `backOffDays` instructions the server gave.
    pub instructed: u32,
    /// Requests without the expected headers.
    pub bad_headers: u32,
    clock_skew_done: bool,
}

struct App {
    secret: ProductSecret,
    faults: Faults,
    log: Mutex<ServerLog>,
}

/// A running test server.
pub struct TestServer {
    pub base_url: String,
    app: Arc<App>,
}

impl TestServer {
    /// Starts a server on an ephemeral loopback port.
    pub async fn start(faults: Faults) -> TestServer {
        let app = Arc::new(App {
            secret: ProductSecret::parse_hex(SECRET).expect("secret"),
            faults,
            log: Mutex::new(ServerLog::default()),
        });
        let router = Router::new().route("/callhome/v1/{product}/sync", post(sync)).with_state(Arc::clone(&app));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            axum::serve(listener, router).await.expect("serve");
        });
        TestServer { base_url: format!("http://{addr}"), app }
    }

    /// Runs `f` on the log.
    pub fn log<T>(&self, f: impl FnOnce(&ServerLog) -> T) -> T {
        f(&self.app.log.lock().expect("log lock"))
    }

    /// A simulation config aimed at this server, with fast retries.
    pub fn config(&self, fleet: FleetConfig) -> SimulateConfig {
        let mut cfg =
            SimulateConfig::new(self.base_url.clone(), ProductId::parse(PRODUCT).expect("product"), SECRET, fleet);
        cfg.concurrency = 4;
        cfg.retry = RetryPolicy {
            max_retries: 6,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(40),
            request_timeout: Duration::from_secs(10),
        };
        cfg
    }
}

fn error(status: StatusCode, word: &str, reason: &str) -> Response {
    (status, Json(json!({"status": word, "reason": reason}))).into_response()
}

async fn sync(State(app): State<Arc<App>>, Path(product): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    if product != PRODUCT {
        return error(StatusCode::NOT_FOUND, "NOT FOUND", "unknown product");
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = now_ms();
    if let Err(e) = verify_request(
        std::slice::from_ref(&app.secret),
        header("x-timestamp"),
        header("x-signature"),
        &body,
        now / 1000,
    ) {
        app.log.lock().expect("log lock").bad_signatures += 1;
        return error(StatusCode::UNAUTHORIZED, "AUTH ERROR", &format!("{e:?}"));
    }
    if header("content-type") != Some("application/json") || header("user-agent") != Some("usagi-sim/1.0.0 (Linux)") {
        app.log.lock().expect("log lock").bad_headers += 1;
        return error(StatusCode::BAD_REQUEST, "SYNTAX ERROR", "bad headers");
    }
    let json = match header("content-encoding") {
        Some("gzip") => {
            let mut out = Vec::new();
            if flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut out).is_err() {
                return error(StatusCode::BAD_REQUEST, "SYNTAX ERROR", "corrupt gzip");
            }
            out
        }
        None | Some("identity") => body.to_vec(),
        Some(_) => return error(StatusCode::BAD_REQUEST, "SYNTAX ERROR", "unsupported encoding"),
    };
    let batch = match usagi_protocol::parse_sync(&json) {
        Ok(batch) => batch,
        Err(e) => return error(StatusCode::BAD_REQUEST, "SYNTAX ERROR", e.reason()),
    };
    let receive_time = header("x-usagi-receive-time").and_then(|v| v.parse::<i64>().ok());

    let mut log = app.log.lock().expect("log lock");
    let attempt = {
        let n = log.attempts.entry(batch.batch_id).or_default();
        *n += 1;
        *n
    };
    match log.first_body.get(&batch.batch_id) {
        Some(first) if *first != json => log.changed_bodies += 1,
        Some(_) => {}
        None => {
            log.first_body.insert(batch.batch_id, json.clone());
        }
    }
    if app.faults.clock_skew_once && !log.clock_skew_done {
        log.clock_skew_done = true;
        log.injected_401 += 1;
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"status": "AUTH ERROR", "reason": "timestamp out of range", "serverTime": now})),
        )
            .into_response();
    }
    if attempt == 1 && app.faults.fail_first_attempt_every.is_some_and(|k| batch.seq % k == 0) {
        log.injected_503 += 1;
        let mut response = error(StatusCode::SERVICE_UNAVAILABLE, "SERVER ERROR", "try again");
        if batch.seq % 2 == 0 {
            response.headers_mut().insert("retry-after", "0".parse().expect("header value"));
        }
        return response;
    }
    let n = batch.records.len() as u64;
    if app.faults.back_off_client == Some(batch.client_id) {
        log.instructed += 1;
        return Json(json!({"accepted": 0, "dropped": n, "ignored": 0, "duplicate": false, "nextSyncSeconds": 1200,
            "instruction": {"backOffDays": 7}, "reachOut": null, "serverTime": now}))
        .into_response();
    }
    let duplicate = log.stored.contains_key(&batch.batch_id);
    if !duplicate {
        log.stored.insert(batch.batch_id, 1);
        log.arrivals.push((batch.client_id, batch.seq, batch.batch_id));
        log.receive_times.insert(batch.batch_id, receive_time);
    } else if let Some(count) = log.stored.get_mut(&batch.batch_id) {
        *count += 1;
    }
    Json(json!({"accepted": n, "dropped": 0, "ignored": 0, "duplicate": duplicate, "nextSyncSeconds": 1200,
        "instruction": null, "reachOut": null, "serverTime": now}))
    .into_response()
}
