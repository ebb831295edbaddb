//! Smoke runs of the `usagi bench` scenarios at a tiny scale, so the harness never rots: each
//! runs the real command and checks its JSON results for sane, consistent fields. No timing
//! assertions (CI machines are shared and slow).

use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_usagi");

/// Runs `usagi bench <args> --json <file>` and returns its JSON results.
fn bench_json(args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("result.json");
    let out = Command::new(BIN)
        .arg("bench")
        .args(args)
        .arg("--json")
        .arg(&json)
        .env("USAGI_LOG", "warn")
        .output()
        .expect("usagi bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench {args:?} failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    serde_json::from_slice(&std::fs::read(&json).expect("the JSON results are written")).unwrap()
}

#[test]
fn ingest_smoke_run_acknowledges_stores_and_shows_every_batch() {
    let r = bench_json(&["ingest", "--installs", "3", "--records", "50", "--duration", "2", "--warmup", "1"]);
    assert_eq!(r["scenario"], "ingest");
    assert!(r["recordsAcked"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["recordsAcked"].as_u64().unwrap(), r["batchesAcked"].as_u64().unwrap() * 50, "{r}");
    assert_eq!(r["allAcked"], true, "{r}");
    assert_eq!(r["rejectedBatches"], 0, "{r}");
    assert_eq!(r["warehouse"]["exact"], true, "{r}");
    assert_eq!(r["warehouse"]["installationsSynced"], 3, "one installation per sender: {r}");
    assert!(r["window"]["recordsPerSecond"].as_f64().unwrap() > 0.0, "{r}");
    for p in ["p50", "p95", "p99"] {
        assert!(r["ackMs"][p].as_f64().unwrap() > 0.0, "{r}");
    }
    assert!(r["visibilityMs"]["probes"].as_u64().unwrap() >= 2, "{r}");
    assert_eq!(r["visibilityMs"]["notVisibleWithin60s"], 0, "{r}");
    if cfg!(target_os = "linux") {
        assert!(r["rssMiB"]["peak"].as_f64().unwrap() > 1.0, "{r}");
    }
}

#[test]
fn ingest_smoke_run_with_a_fleet_rotates_the_senders_over_its_installations() {
    let r = bench_json(&[
        "ingest",
        "--installs",
        "2",
        "--fleet",
        "6",
        "--records",
        "20",
        "--duration",
        "2",
        "--warmup",
        "1",
    ]);
    assert_eq!(r["fleet"], 6, "{r}");
    assert_eq!(r["warehouse"]["exact"], true, "{r}");
    // Each sender takes its three installations in turn, one batch each; a 3-second run sends
    // far more than three batches per sender.
    assert!(r["batchesAcked"].as_u64().unwrap() >= 6, "{r}");
    assert_eq!(r["warehouse"]["installationsSynced"], 6, "{r}");
}

#[test]
fn reports_smoke_run_times_in_process_http_and_raw_sql() {
    let r = bench_json(&[
        "reports",
        "--installs",
        "300",
        "--days",
        "60",
        "--event-kinds",
        "3",
        "--runs",
        "1",
        "--http",
        "--raw",
    ]);
    assert_eq!(r["scenario"], "reports");
    let cases = r["cases"].as_array().unwrap();
    assert!(cases.len() >= 10, "{r}");
    for c in cases {
        assert!(c["p50Ms"].as_f64().unwrap() > 0.0, "{c}");
        assert!(c["http"]["coldMs"].as_f64().unwrap() > 0.0, "{c}");
        assert!(c["http"]["p50Ms"].as_f64().unwrap() > 0.0, "{c}");
    }
    let raw = r["raw"].as_array().unwrap();
    assert_eq!(raw.len(), 3, "{r}");
    // The daily split's raw SQL computes the same totals as the report.
    assert_eq!(raw[0]["check"]["raw"], raw[0]["check"]["api"], "{r}");
    assert_eq!(r["serverStartMs"].as_array().unwrap().len(), cases.len(), "{r}");
}

#[test]
fn dataset_smoke_run_builds_a_fleet_through_ingest_and_measures_it() {
    let r = bench_json(&["dataset", "--installs", "30", "--days", "20", "--concurrency", "4"]);
    assert_eq!(r["scenario"], "dataset");
    assert!(r["records"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["records"], r["accepted"], "{r}");
    assert_eq!(r["rejectedBatches"], 0, "{r}");
    assert!(r["rows"]["events"].as_u64().unwrap() > 0, "{r}");
    assert!(r["rows"]["installations"].as_u64().unwrap() > 0, "{r}");
    assert!(r["warehouseBytesPerEvent"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["serverStartMs"].as_f64().unwrap() > 0.0, "{r}");
}
