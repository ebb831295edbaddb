//! `usagi migrate`: a data directory filled through the real server (simulated fleet, admin
//! commands, a retention pass) copied to PostgreSQL and a ClickHouse cluster, then checked
//! from outside: catalog rows, rows per table, a re-run, a server on the target, and a copy
//! that lost rows being refused.
//!
//! Needs `USAGI_TEST_POSTGRES_URL` and `USAGI_TEST_CLICKHOUSE` (`.ci/run` starts both);
//! without them it prints a SKIPPED line and passes.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::{SubsecRound, Utc};
use serde_json::{json, Value};
use usagi_catalog::{CatalogTransfer, PostgresCatalog, ProductSnapshot, SqliteCatalog};
use usagi_types::ProductId;
use usagi_warehouse::history;
use usagi_warehouse_clickhouse::{ClickHouseConfig, ClickHouseWarehouse};
use usagi_warehouse_duckdb::{DuckConfig, DuckWarehouse};

const BIN: &str = env!("CARGO_BIN_EXE_usagi");
const PRODUCT: &str = "2345678901";

fn run(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("USAGI_DATA_DIR", dir)
        .env("USAGI_LOG", "warn")
        .env_remove("USAGI_CATALOG_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// Runs a command that must succeed; its last stdout line as JSON.
fn usagi(dir: &Path, args: &[&str], stdin: Option<&str>) -> Value {
    let out = run(dir, args, stdin);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "usagi {args:?} failed:\n{stderr}\n{stdout}");
    serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or("null")).unwrap()
}

/// A running `usagi serve`, killed if the test fails before stopping it.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `usagi serve` on `dir` with extra flags; returns it and its base URL.
async fn serve(dir: &Path, extra: &[&str]) -> (Server, String) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(BIN)
        .args(["serve", "--listen", &listen])
        .args(extra)
        .env("USAGI_DATA_DIR", dir)
        .env("USAGI_LOG", "warn")
        .env_remove("USAGI_CATALOG_URL")
        .spawn()
        .unwrap();
    let child = Server(child);
    let base = format!("http://{listen}");
    let deadline = Instant::now() + Duration::from_secs(90);
    while reqwest::get(format!("{base}/v3/openapi.json")).await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (child, base)
}

fn stop(mut server: Server) {
    let _ = Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status();
    assert!(server.0.wait().unwrap().success());
}

/// The reports a user of the target must see unchanged, as response bodies.
async fn reports(base: &str, bearer: &str, today: chrono::NaiveDate) -> Vec<String> {
    let client = reqwest::Client::new();
    let range = json!({"startDate": (today - chrono::Duration::days(29)).to_string(), "stopDate": today.to_string()});
    let mut weekly = range.clone();
    weekly["clientStatus"] = json!(["new", "active", "lost"]);
    weekly["dateSplit"] = json!("week");
    let mut out = Vec::new();
    for (path, body) in [
        ("reporting/generic/dateRange", weekly),
        ("reporting/engagement/usageDistribution", range.clone()),
        ("reporting/eventTracking/basic/dataTable", range),
        ("reporting/clientPropertyList", json!({"pageSize": 200})),
    ] {
        let resp =
            client.post(format!("{base}/v3/{path}/{PRODUCT}")).bearer_auth(bearer).json(&body).send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert_eq!(status, 200, "{path}: {text}");
        out.push(text);
    }
    out
}

fn without_ids(mut s: ProductSnapshot) -> ProductSnapshot {
    s.users.iter_mut().for_each(|u| u.user.id = 0);
    s.tokens.iter_mut().for_each(|t| (t.info.id, t.info.user_id) = (0, 0));
    s
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_copies_a_product_to_postgres_and_clickhouse() {
    let (Some(pg), Some(ch)) = (env("USAGI_TEST_POSTGRES_URL"), env("USAGI_TEST_CLICKHOUSE")) else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED migrate_copies_a_product_to_postgres_and_clickhouse: USAGI_TEST_POSTGRES_URL or USAGI_TEST_CLICKHOUSE is not set"
        );
        return;
    };
    let src_dir = tempfile::tempdir().unwrap();
    let src = src_dir.path();
    let now = Utc::now().trunc_subsecs(0);
    let today = now.date_naive();
    let fixed_now = now.to_rfc3339();

    // The source: a product, a user with a token, operator controls, a simulated fleet.
    let created = usagi(src, &["product", "create", "--name", "Migrated", "--id", PRODUCT], None);
    let secret = created["secret"].as_str().unwrap().to_string();
    usagi(src, &["user", "create", "--email", "ops@example.com", "--password-stdin"], Some("pa55word\n"));
    usagi(src, &["user", "grant", "--email", "ops@example.com", "--product", PRODUCT, "--role", "editor"], None);
    let token = usagi(src, &["token", "create", "--user", "ops@example.com", "--product", PRODUCT], None);
    let bearer = token["token"].as_str().unwrap().to_string();
    usagi(src, &["product", "set", "--id", PRODUCT, "--custom-name", "C01=Source"], None);
    let (server, base) = serve(src, &[]).await;
    let simulated = run(
        src,
        &["simulate", "--url", &base, "--product", PRODUCT, "--secret", &secret, "--installs", "40", "--days", "45"],
        None,
    );
    assert!(simulated.status.success(), "{}", String::from_utf8_lossy(&simulated.stderr));
    stop(server);
    // Retention folds the oldest days into the lifetime base, which must come along.
    usagi(src, &["product", "set", "--id", PRODUCT, "--retention-days", "30"], None);
    usagi(src, &["retention", "run"], None);
    usagi(src, &["client", "disable", "--product", PRODUCT, "--client", "00000000000000AB"], None);
    let (server, base) = serve(src, &["--fixed-now", &fixed_now]).await;
    let before = reports(&base, &bearer, today).await;
    server_kill(server);

    // The target: a fresh PostgreSQL schema and ClickHouse database.
    let pg_url = PostgresCatalog::scratch_schema(&pg).await.unwrap();
    let database = format!("usagi_migrate_{}", now.timestamp_micros());
    let shards: Vec<String> = ch.split(',').map(str::to_string).collect();
    let cfg_dir = tempfile::tempdir().unwrap();
    let config = cfg_dir.path().join("usagi.toml");
    std::fs::write(
        &config,
        format!(
            "[catalog]\nurl = {pg_url:?}\n[warehouse.clickhouse]\nshards = {shards:?}\ndatabase = {database:?}\norigin = \"target-server\"\n"
        ),
    )
    .unwrap();
    let to = config.to_str().unwrap();
    let src_arg = src.to_str().unwrap();

    let first = usagi(src, &["migrate", "--from", src_arg, "--to", to, "--chunk", "7"], None);
    let copied = &first["products"][0];
    assert_eq!(copied["productId"], PRODUCT);
    let installations = copied["installations"].as_u64().unwrap();
    assert!(installations > 30, "{first}");
    let chunks = installations.div_ceil(7);
    assert_eq!(copied["chunksLoaded"], chunks);
    assert!(copied["reportsCompared"].as_u64().unwrap() >= 20, "{first}");
    assert_eq!(copied["differences"], json!([]));
    assert!(copied["rows"]["client_base"].as_u64().unwrap() > 0, "retention left a base to copy: {first}");

    // Catalog rows: the same, credentials included.
    let source_catalog = SqliteCatalog::open(&src.join("catalog.sqlite")).unwrap();
    let target_catalog = PostgresCatalog::connect(&pg_url).await.unwrap();
    let id = ProductId::parse(PRODUCT).unwrap();
    let snapshot = source_catalog.export_product(id).await.unwrap().unwrap();
    assert_eq!(snapshot.installations.len(), 1);
    assert_eq!(without_ids(target_catalog.export_product(id).await.unwrap().unwrap()), without_ids(snapshot));

    // Rows per table, counted independently of the command.
    let duck = DuckWarehouse::open(&src.join("warehouse.duckdb"), &DuckConfig::default()).unwrap();
    let reader = ClickHouseConfig {
        shards: shards.clone(),
        cluster: "usagi".into(),
        database: database.clone(),
        user: None,
        password: None,
        origin: "migrate-test-reader".into(),
    };
    let target = ClickHouseWarehouse::open(&reader).await.unwrap();
    let counts = history::row_counts(&duck, id).await.unwrap();
    assert!(counts.iter().all(|(_, n)| *n > 0), "{counts:?}");
    assert_eq!(history::row_counts(&target, id).await.unwrap(), counts);
    drop(duck);

    // A re-run loads nothing twice.
    let origin = format!("migrate-{PRODUCT}-{}", std::fs::read_to_string(src.join("warehouse-origin")).unwrap().trim());
    let loads = target.committed_loads(&origin).await.unwrap();
    assert_eq!(loads.len() as u64, chunks);
    let again = usagi(src, &["migrate", "--from", src_arg, "--to", to, "--chunk", "7", "--product", PRODUCT], None);
    assert_eq!(again["products"][0]["chunksLoaded"], 0);
    assert_eq!(again["products"][0]["chunksAlreadyLoaded"], chunks);
    assert_eq!(again["products"][0]["rows"], copied["rows"]);
    assert_eq!(target.committed_loads(&origin).await.unwrap(), loads);
    assert_eq!(history::row_counts(&target, id).await.unwrap(), counts);

    // A server on the target answers as the source's did, to the source's token.
    let target_dir = tempfile::tempdir().unwrap();
    let (server, base) = serve(target_dir.path(), &["--config", to, "--fixed-now", &fixed_now]).await;
    let after = reports(&base, &bearer, today).await;
    stop(server);
    for (a, b) in before.iter().zip(&after) {
        assert_eq!(a, b);
    }

    // A copy that lost rows is caught: delete one shard's events and run again.
    let shard = reqwest::Client::new();
    let alter = format!("ALTER TABLE {database}.events_local DELETE WHERE product_id = {PRODUCT}");
    assert!(shard.post(&shards[1]).body(alter).send().await.unwrap().status().is_success());
    let pending = format!("SELECT count() FROM system.mutations WHERE database = '{database}' AND is_done = 0");
    while shard.post(&shards[1]).body(pending.clone()).send().await.unwrap().text().await.unwrap().trim() != "0" {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = run(src, &["migrate", "--from", src_arg, "--to", to, "--chunk", "7"], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rows per table differ"), "{err}");
}

/// Kills a server without letting it finish: what it acknowledged may still be only in its
/// ingest log, which `usagi migrate` must load first.
fn server_kill(server: Server) {
    drop(server);
}
