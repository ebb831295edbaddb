//! `usagi-sdk-probe`: a minimal application embedding the SDK.
//!
//! `usagi-sdk-probe bench` measures the SDK's overhead (BENCHMARKS.md). Without arguments
//! it is the SDK process of the kill -9 test, configured by environment variables:
//! `USAGI_SDK_DIR`, `USAGI_URL`, `USAGI_PRODUCT`, `USAGI_SECRET`, `PROBE_EVENTS` (events
//! tracked after the start sync was delivered), `PROBE_STOP_TIMEOUT_MS`, `PROBE_OFFLINE` (set:
//! do not wait for the start sync).
//! It prints `client <id>` at start and `stopped` at the end.

use std::time::{Duration, Instant};

use usagi_sdk::{Config, Sdk, Tuning};

mod bench;

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

fn main() -> Result<(), String> {
    if std::env::args().nth(1).as_deref() == Some("bench") {
        return bench::run().map_err(|e| e.to_string());
    }
    let events: u32 = var("PROBE_EVENTS").unwrap_or_default().parse().unwrap_or(0);
    let stop_ms: u64 = var("PROBE_STOP_TIMEOUT_MS").unwrap_or_default().parse().unwrap_or(5000);
    let tuning = Tuning {
        retry_base: Duration::from_millis(50),
        retry_cap: Duration::from_millis(500),
        request_timeout: Duration::from_secs(120),
        ..Tuning::default()
    };
    let mut config =
        Config::new(var("USAGI_SDK_DIR")?, var("USAGI_PRODUCT")?, "ProbeApp", var("USAGI_URL")?, var("USAGI_SECRET")?);
    config.tuning = tuning;
    let sdk = Sdk::new(config).map_err(|e| e.to_string())?;
    println!("client {}", sdk.client_id());
    sdk.start().map_err(|e| e.to_string())?;
    // Let the start sync (and any batch left by an earlier run) go first, unless offline.
    let wait_s = if var("PROBE_OFFLINE").is_ok() { 0 } else { 30 };
    let deadline = Instant::now() + Duration::from_secs(wait_s);
    while sdk.status().delivered_batches == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    for i in 0..events {
        sdk.track_event(Some("Probe"), &format!("E{i}"), None).map_err(|e| e.to_string())?;
    }
    sdk.flush().map_err(|e| e.to_string())?;
    println!("tracked {events}");
    sdk.stop(Some(Duration::from_millis(stop_ms))).map_err(|e| e.to_string())?;
    println!("stopped {:?}", sdk.status());
    Ok(())
}
