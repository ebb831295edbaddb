//! The `usagi` command: help everywhere, admin commands against a running server.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_usagi");

fn usagi(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> Value {
    let mut child = Command::new(BIN)
        .args(args)
        .env("USAGI_DATA_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "usagi {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(text.lines().last().unwrap_or("null")).unwrap()
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["product", "--help"],
        vec!["product", "create", "--help"],
        vec!["product", "set", "--help"],
        vec!["user", "create", "--help"],
        vec!["user", "grant", "--help"],
        vec!["token", "create", "--help"],
        vec!["token", "revoke", "--help"],
        vec!["simulate", "--help"],
        vec!["demo", "--help"],
        vec!["client", "--help"],
        vec!["client", "backoff", "--help"],
        vec!["client", "erase", "--help"],
        vec!["keys", "import", "--help"],
        vec!["keys", "export", "--help"],
        vec!["retention", "run", "--help"],
        vec!["bench", "reports", "--help"],
        vec!["bench", "export", "--help"],
        vec!["export", "build", "--help"],
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage:"), "{args:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_work_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let product = usagi(p, &["product", "create", "--name", "Cli App"], None);
    let id = product["productId"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 10);
    let secret = product["secret"].as_str().unwrap();
    assert!(secret.len() == 32 && secret.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));

    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("USAGI_DATA_DIR", p)
        .env("USAGI_LOG", "warn")
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.get(format!("{base}/v3/openapi.json")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // With the server running on the same data directory:
    usagi(p, &["user", "create", "--email", "Ops@Example.com", "--name", "Op", "--password-stdin"], Some("pa55word\n"));
    usagi(p, &["user", "grant", "--email", "ops@example.com", "--product", &id, "--role", "viewer"], None);
    let token = usagi(p, &["token", "create", "--user", "ops@example.com", "--product", &id, "--read-only"], None);
    let bearer = token["token"].as_str().unwrap().to_string();
    assert!(bearer.starts_with("uit_") && bearer.len() == 47);
    usagi(p, &["product", "set", "--id", &id, "--days-until-declared-lost", "30", "--custom-name", "C01=Source"], None);

    let report = |bearer: String| {
        client
            .post(format!("{base}/v3/reporting/generic/current/{id}"))
            .bearer_auth(bearer)
            .json(&json!({"startDate": "NOW-7", "clientStatus": ["active"]}))
            .send()
    };
    let resp = report(bearer.clone()).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), r#"{"result":{"totals":{"active":0}}}"#);
    // Password login works too (the CLI lower-cased the email).
    let jar = reqwest::Client::builder().cookie_store(true).build().unwrap();
    for expected in [401, 200] {
        let r = jar
            .post(format!("{base}/v3/auth/web"))
            .header("Origin", &base)
            .json(&json!({"userName": "OPS@example.com", "password": "pa55word"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), expected);
    }
    // Revoking while the server runs takes effect at once.
    usagi(p, &["token", "revoke", "--id", &token["tokenId"].to_string()], None);
    assert_eq!(report(bearer).await.unwrap().status(), 401);

    let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    assert!(server.wait().unwrap().success(), "SIGTERM shuts down cleanly with exit 0");
}

#[test]
fn retention_runs_offline_per_product_and_for_all() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let id = usagi(p, &["product", "create", "--name", "Kept App"], None)["productId"].as_str().unwrap().to_string();
    usagi(p, &["product", "create", "--name", "Other App"], None);
    usagi(p, &["product", "set", "--id", &id, "--retention-days", "30"], None);
    let one = usagi(p, &["retention", "run", "--product", &id], None);
    let products = one["products"].as_array().unwrap();
    assert_eq!(products.len(), 1);
    let oldest = (chrono::Utc::now().date_naive() - chrono::Duration::days(30)).to_string();
    assert_eq!(
        products[0],
        json!({"productId": id, "oldestReportedDate": oldest, "installations": 0, "factRows": 0, "receipts": 0})
    );
    let all = usagi(p, &["retention", "run"], None);
    assert_eq!(all["products"].as_array().unwrap().len(), 2);
}

#[test]
fn client_controls_disable_enable_and_back_off() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let product = usagi(p, &["product", "create", "--name", "Ctl App"], None);
    let id = product["productId"].as_str().unwrap().to_string();
    let c = "4f2a9c1e7b3d5a60";
    let shown = usagi(p, &["client", "disable", "--product", &id, "--client", c], None);
    assert_eq!(shown["clientId"], "4F2A9C1E7B3D5A60");
    assert_eq!(shown["disabled"], true);
    let shown = usagi(p, &["client", "enable", "--product", &id, "--client", c], None);
    assert_eq!(shown["disabled"], false);
    let shown = usagi(p, &["client", "backoff", "--product", &id, "--client", c, "--days", "7"], None);
    assert!(shown["backOffUntil"].is_string() && shown["backOffEver"] == true, "{shown}");
    let shown = usagi(p, &["client", "clear-backoff", "--product", &id, "--client", c], None);
    assert!(shown["backOffUntil"].is_null() && shown["backOffEver"] == true, "history is kept: {shown}");
    // With no server running, the CLI erases directly in the warehouse.
    let erased = usagi(p, &["client", "erase", "--product", &id, "--client", c], None);
    assert_eq!((erased["clientId"].as_str(), erased["erasedRecords"].as_u64()), (Some("4F2A9C1E7B3D5A60"), Some(0)));
    let out = Command::new(BIN)
        .args(["client", "show", "--product", &id, "--client", "XYZ"])
        .env("USAGI_DATA_DIR", p)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a malformed client id is refused");
}

#[test]
fn license_keys_import_and_export_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let product = usagi(p, &["product", "create", "--name", "Keys App"], None);
    let id = product["productId"].as_str().unwrap().to_string();
    let csv_path = p.join("keys.csv");
    std::fs::write(
        &csv_path,
        "licenseKey,licenseType,allowed,quota,notes,expiryDate\n\
         K-2,purchased,true,5,\"ACME, Inc.\",2025-12-31\n\
         K-1,evaluation,,,,\n",
    )
    .unwrap();
    let out = usagi(p, &["keys", "import", "--product", &id, csv_path.to_str().unwrap()], None);
    assert_eq!(out, json!({"inserted": 2, "updated": 0}));
    // A second file with only some columns leaves the others untouched.
    std::fs::write(&csv_path, "licenseKey,blocked\nK-2,true\n").unwrap();
    let out = usagi(p, &["keys", "import", "--product", &id, csv_path.to_str().unwrap()], None);
    assert_eq!(out, json!({"inserted": 0, "updated": 1}));
    let export_path = p.join("export.csv");
    let out = usagi(p, &["keys", "export", "--product", &id, export_path.to_str().unwrap()], None);
    assert_eq!(out, json!({"exported": 2}));
    let text = std::fs::read_to_string(&export_path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "licenseKey,licenseType,activated,expired,blocked,allowed,expiryDate,quota,notes,addedDate,autoCollected"
    );
    assert!(lines[1].starts_with("K-1,evaluation,false,false,false,false,,,,"), "{}", lines[1]);
    assert!(lines[2].starts_with("K-2,purchased,false,false,true,true,2025-12-31,5,\"ACME, Inc.\","), "{}", lines[2]);
    assert!(lines[2].ends_with(",false"), "added manually: {}", lines[2]);
    // The export imports back unchanged.
    let out = usagi(p, &["keys", "import", "--product", &id, export_path.to_str().unwrap()], None);
    assert_eq!(out, json!({"inserted": 0, "updated": 2}));
    // Bad files are refused as a whole, naming the line and column.
    for (content, needle) in [
        ("licenseKey,quota\nK-3,5\nK-4,-1\n", "line 3, column 'quota'"),
        ("licenseKey,licenseType\nK-3,gold\n", "line 2, column 'licenseType'"),
        ("licenseKey\nK-3\nK-3\n", "appears twice"),
        ("key\nK-3\n", "unknown column 'key'"),
    ] {
        std::fs::write(&csv_path, content).unwrap();
        let out = Command::new(BIN)
            .args(["keys", "import", "--product", &id, csv_path.to_str().unwrap()])
            .env("USAGI_DATA_DIR", p)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{content}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{content}: {err}");
    }
    let out = usagi(p, &["keys", "export", "--product", &id, export_path.to_str().unwrap()], None);
    assert_eq!(out, json!({"exported": 2}), "nothing of the refused files was stored");
}

/// The rows of one CSV inside a zip.
fn csv_rows(zip_path: &str, entry: &str) -> Vec<String> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip_path).unwrap()).unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut archive.by_name(entry).unwrap(), &mut text).unwrap();
    text.split("\r\n").skip(1).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_build_and_offline_erase() {
    use usagi_protocol::signing::{sign, ProductSecret};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let product = usagi(p, &["product", "create", "--name", "Export App"], None);
    let id = product["productId"].as_str().unwrap().to_string();
    let secret = ProductSecret::parse_hex(product["secret"].as_str().unwrap()).unwrap();

    // A server receives one sync, then stops (its loader drains the log on SIGTERM).
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("USAGI_DATA_DIR", p)
        .env("USAGI_LOG", "warn")
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.get(format!("{base}/v3/openapi.json")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t = chrono::Utc::now().timestamp_millis();
    let body = serde_json::to_vec(&json!({
        "clientId": "4F2A9C1E7B3D5A60", "machineId": "M1", "appName": "ExportApp",
        "sdk": {"name": "ui-sdk-rust", "version": "1.0.0"}, "batchId": uuid::Uuid::new_v4().to_string(), "seq": 1,
        "records": [{"kind": "event", "t": t, "name": "Open"},
                    {"kind": "exception", "t": t, "className": "Io", "methodName": "read"}]}))
    .unwrap();
    let ts = chrono::Utc::now().timestamp().to_string();
    let resp = client
        .post(format!("{base}/callhome/v1/{id}/sync"))
        .header("Content-Type", "application/json")
        .header("X-Timestamp", &ts)
        .header("X-Signature", sign(&secret, &ts, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let answer: Value = resp.json().await.unwrap();
    let received = chrono::DateTime::from_timestamp_millis(answer["serverTime"].as_i64().expect("serverTime, ms"));
    let day = received.expect("a time").format("%Y-%m-%d").to_string();
    let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    assert!(server.wait().unwrap().success());

    let built = usagi(p, &["export", "build", "--product", &id, "--date", &day], None);
    let files = built["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f["fileName"].as_str().unwrap()).collect();
    assert_eq!(names, [format!("{id}_{day}.zip"), format!("{id}_cust_{day}.zip"), format!("{id}_exc_{day}.zip")]);
    let raw = files[0]["path"].as_str().unwrap().to_string();
    assert!(raw.starts_with(p.to_str().unwrap()), "under the data directory: {raw}");
    let events = csv_rows(&raw, "events.csv");
    assert_eq!(events.len(), 1);
    assert!(events[0].contains("4F2A9C1E7B3D5A60") && events[0].contains("M1,ExportApp"), "{events:?}");
    assert_eq!(csv_rows(files[2]["path"].as_str().unwrap(), &format!("{id}_exc_{day}.csv")).len(), 1);

    // Offline erasure, then a rebuild: the installation is gone from the day's files.
    let erased = usagi(p, &["client", "erase", "--product", &id, "--client", "4f2a9c1e7b3d5a60"], None);
    // A contact, an event, an exception, two observations (the envelope and the opt-in a
    // non-optOut record implies) and two property leaves (machineId, appName).
    assert_eq!(erased["erasedRecords"], 7, "{erased}");
    let rebuilt = usagi(p, &["export", "build", "--product", &id, "--date", &day, "--family", "raw"], None);
    assert_eq!(rebuilt["files"].as_array().unwrap().len(), 1);
    assert!(csv_rows(&raw, "events.csv").is_empty());
    assert!(csv_rows(&raw, "clientProperties.csv").is_empty());

    // Bad input is refused with a reason.
    for args in [
        vec!["export", "build", "--product", "12", "--date", "2024-03-19"],
        vec!["export", "build", "--product", id.as_str(), "--date", "2024-3-99"],
        vec!["export", "build", "--product", "9999999999", "--date", "2024-03-19"],
    ] {
        let out = Command::new(BIN).args(&args).env("USAGI_DATA_DIR", p).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?} says why");
    }
}
