//! `usagi-sdk-probe bench`: the SDK's cost to the application, for BENCHMARKS.md — the
//! time a tracking call takes on the calling thread (the network is down, so a blocking call
//! would show), and the process memory with a full offline queue.

use std::time::{Duration, Instant};

use usagi_sdk::{Config, Sdk, SdkError};

/// Timed `track_event` calls.
const EVENTS: usize = 50_000;
/// A 1 ms pause after every 1,000 calls, so the timing covers background flushes and sync
/// attempts rather than one burst.
const PAUSE_EVERY: usize = 1000;

/// Resident set size of this process in KiB (Linux; 0 elsewhere).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Runs the benchmark and prints a small table.
pub fn run() -> Result<(), SdkError> {
    let dir = std::env::temp_dir().join(format!("usagi-sdk-bench-{}", std::process::id()));
    let io = |e| SdkError::Storage { path: dir.clone(), source: e };
    let result = measure(&dir);
    std::fs::remove_dir_all(&dir).map_err(io)?;
    result
}

fn measure(dir: &std::path::Path) -> Result<(), SdkError> {
    // Port 9 (discard) on localhost: connections are refused, so every sync fails and retries
    // in the background while the application keeps tracking.
    let url = "http://127.0.0.1:9";
    let secret = "8f3a61c2d94b07e5a1c6f0d2b7e49a35";
    let rss_before = rss_kib();
    let sdk = Sdk::new(Config::new(dir.join("a"), "2376158762", "BenchApp", url, secret))?;
    sdk.start()?;
    let names: Vec<String> = (0..50).map(|i| format!("Feature{i}")).collect();
    for i in 0..2_000 {
        sdk.track_event(Some("Warmup"), &names[i % names.len()], None)?;
    }
    let mut plain = Vec::with_capacity(EVENTS);
    let mut custom = Vec::with_capacity(EVENTS / 10);
    for i in 0..EVENTS {
        let t = Instant::now();
        sdk.track_event(Some("Bench"), &names[i % names.len()], None)?;
        plain.push(t.elapsed());
        if i % 10 == 0 {
            let t = Instant::now();
            sdk.track_event_custom(Some("Bench"), "Export", &[("format", Some("pdf")), ("pages", Some("12"))], None)?;
            custom.push(t.elapsed());
        }
        if i % PAUSE_EVERY == PAUSE_EVERY - 1 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    plain.sort();
    custom.sort();
    println!("track_event on the calling thread (server unreachable, syncs retrying in the background)");
    println!("{:<22} {:>9} {:>9} {:>9} {:>9} {:>9}", "call", "calls", "median", "p99", "p99.9", "max");
    for (label, v) in [("track_event", &plain), ("track_event_custom", &custom)] {
        println!(
            "{label:<22} {:>9} {:>8.2?} {:>8.2?} {:>8.2?} {:>8.2?}",
            v.len(),
            percentile(v, 0.5),
            percentile(v, 0.99),
            percentile(v, 0.999),
            v[v.len() - 1]
        );
    }
    sdk.stop(Some(Duration::ZERO))?;
    drop(sdk);

    // A full queue: 150,000 events into a queue bounded at 100,000 records.
    let sdk = Sdk::new(Config::new(dir.join("b"), "2376158762", "BenchApp", url, secret))?;
    sdk.start()?;
    let rss_started = rss_kib();
    let started = Instant::now();
    for i in 0..150_000usize {
        sdk.track_event(Some("Fill"), &names[i % names.len()], None)?;
        if i % 1000 == 999 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    sdk.flush()?;
    let status = sdk.status();
    let rss_full = rss_kib();
    let disk: u64 = std::fs::read_dir(dir.join("b"))
        .map_err(|e| SdkError::Storage { path: dir.join("b"), source: e })?
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!();
    println!("full offline queue ({:.1} s to track 150,000 events)", started.elapsed().as_secs_f64());
    println!("  queued records        {:>10}", status.queued_records + status.pending_records);
    println!("  dropped records       {:>10}", status.dropped_records);
    println!("  queue on disk         {:>10} KiB", disk / 1024);
    println!("  RSS before the SDK    {:>10} KiB", rss_before);
    println!("  RSS after start       {:>10} KiB", rss_started);
    println!("  RSS with a full queue {:>10} KiB", rss_full);
    sdk.stop(Some(Duration::ZERO))?;
    Ok(())
}
