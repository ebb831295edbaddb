//! `sdk/examples/c/example.c` compiled with `cc` against the built library, run against a
//! live server; the Reporting API then shows what it tracked.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use usagi_catalog::{NewUser, Role};
use usagi_types::ProductId;

const PRODUCT: &str = "2376158762";

/// The directory cargo put `libusagi_sdk_ffi` in: this test binary's own (`deps/`) or its parent.
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps dir").to_path_buf();
    let name = if cfg!(target_os = "macos") { "libusagi_sdk_ffi.dylib" } else { "libusagi_sdk_ffi.so" };
    [deps.clone(), deps.parent().map(Path::to_path_buf).unwrap_or_default()]
        .into_iter()
        .find(|d| d.join(name).exists())
        .unwrap_or_else(|| panic!("{name} not found next to {}", exe.display()))
}

#[test]
fn c_example_builds_runs_and_its_data_arrives() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let work = tempfile::tempdir().unwrap();
    let exe = work.path().join("example");
    let lib = library_dir();
    let cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .arg(root.join("sdk/examples/c/example.c"))
        .arg("-std=c99")
        .arg("-Wall")
        .arg("-Werror")
        .arg("-I")
        .arg(root.join("sdk/include"))
        .arg("-L")
        .arg(&lib)
        .arg("-lusagi_sdk_ffi")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("cc runs");
    assert!(cc.status.success(), "cc failed: {}", String::from_utf8_lossy(&cc.stderr));

    let rt = tokio::runtime::Runtime::new().unwrap();
    let server_dir = tempfile::tempdir().unwrap();
    let (server, secret, token) = rt.block_on(async {
        let config = usagi_server::ServerConfig { listen: "127.0.0.1:0".parse().unwrap(), ..Default::default() };
        let duck =
            usagi_warehouse_duckdb::DuckWarehouse::open(&server_dir.path().join("w.duckdb"), &Default::default())
                .unwrap();
        let server = usagi_server::start(server_dir.path(), config, Arc::new(duck)).await.unwrap();
        let now = server.clock.now();
        let pid = ProductId::parse(PRODUCT).unwrap();
        let (_, secret) = server.catalog.create_product("C Example", Some(pid), now).await.unwrap();
        let user = NewUser {
            email: "c@example.com".into(),
            name: "C".into(),
            surname: "Example".into(),
            admin: false,
            password: "long enough password".into(),
        };
        let user = server.catalog.create_user(user, now).await.unwrap();
        server.catalog.grant(user.id, pid, Role::Editor, false).await.unwrap();
        let (_, token) = server.catalog.create_token(user.id, vec![], true, None, now).await.unwrap();
        (server, secret, token)
    });
    let base = format!("http://{}", server.addr);

    let data = work.path().join("sdk-data");
    let run = Command::new(&exe).arg(&data).arg(&base).arg(PRODUCT).arg(&secret).output().expect("example runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "example failed:\n{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("license known=0 type=3"), "{stdout}");
    assert!(stdout.contains("state 5"), "{stdout}");

    let today = server.clock.now().date_naive().to_string();
    let report: Value = rt.block_on(async {
        assert!(server.ingest.wait_loaded(server.ingest.durable_lsn(), Duration::from_secs(20)).await);
        reqwest::Client::new()
            .post(format!("{base}/v3/reporting/eventTracking/basic/dataTable/{PRODUCT}"))
            .bearer_auth(&token)
            .json(&json!({"startDate": today, "stopDate": today}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let events = &report["result"][0]["categoryEventsData"];
    assert_eq!(report["result"][0]["category"], "C API", "{report}");
    assert_eq!(events["Open"]["eventUsage"]["cumulativeUsageCount"], 3, "{report}");
    assert_eq!(events["Export"]["eventCustomValues"]["cumulativeCustomValues"], 2.5, "{report}");
    assert_eq!(events["Theme"]["eventUsage"]["cumulativeUsageCount"], 1, "{report}");
    assert_eq!(events["Print"]["eventUsage"]["cumulativeUsageCount"], 1, "{report}");
}
