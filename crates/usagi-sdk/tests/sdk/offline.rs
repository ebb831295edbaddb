//! The offline queue: kept across restarts, bounded with the §11 drop order.

use std::time::Duration;

use usagi_sdk::{Sdk, Tuning};

use crate::helpers::*;

#[test]
fn offline_then_online_queue_persists_across_a_restart() {
    let h = Harness::start();
    let dir = tempfile::tempdir().unwrap();
    // Run 1: the network is down; everything stays queued on disk.
    let sdk = Sdk::new(h.config(dir.path(), &dead_url())).unwrap();
    let client = sdk.client_id();
    sdk.start().unwrap();
    for i in 0..40 {
        sdk.track_event(Some("Offline"), &format!("E{}", i % 4), None).unwrap();
    }
    wait_for(10, "a failed attempt", || sdk.status().failures >= 1);
    sdk.stop(Some(Duration::from_millis(200))).unwrap();
    let s = sdk.status();
    assert_eq!(s.queued_records + s.pending_records, 43, "sessionStart, properties, 40 events, sessionStop: {s:?}");
    drop(sdk);
    assert!(h.event_counts().is_empty());

    // Run 2: online; the same installation delivers run 1's queue and its own records.
    let sdk = Sdk::new(h.config(dir.path(), &h.base)).unwrap();
    assert_eq!(sdk.client_id(), client, "identity persists");
    sdk.start().unwrap();
    sdk.track_event(Some("Online"), "Back", None).unwrap();
    sdk.stop(Some(Duration::from_secs(10))).unwrap();
    let s = sdk.status();
    assert_eq!((s.queued_records, s.pending_records), (0, 0), "{s:?}");
    let counts = h.event_counts();
    for i in 0..4 {
        assert_eq!(counts.get(&format!("E{i}")), Some(&10), "{counts:?}");
    }
    assert_eq!(counts.get("Back"), Some(&1));
}

#[test]
fn offline_process_then_online_process() {
    let h = Harness::start();
    let dir = tempfile::tempdir().unwrap();
    let offline = probe(&h, dir.path(), &dead_url(), 120, true).wait_with_output().unwrap();
    assert!(offline.status.success(), "{}", String::from_utf8_lossy(&offline.stdout));
    assert!(h.event_counts().is_empty());
    let online = probe(&h, dir.path(), &h.base, 0, false).wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&online.stdout);
    assert!(online.status.success(), "{out}");
    assert!(out.contains("queued_records: 0, pending_records: 0"), "{out}");
    let counts = h.event_counts();
    assert_eq!(counts.len(), 120, "{counts:?}");
    assert!(counts.values().all(|n| *n == 1));
}

#[test]
fn a_full_queue_drops_the_oldest_events_first() {
    let h = Harness::start();
    let dir = tempfile::tempdir().unwrap();
    let mut config = h.config(dir.path(), &dead_url());
    config.tuning = Tuning { max_queue_records: 50, ..config.tuning };
    let sdk = Sdk::new(config).unwrap();
    sdk.start().unwrap();
    // The start sync fails: its batch (sessionStart, properties) waits whole for a retry.
    wait_for(10, "a failed attempt", || sdk.status().failures >= 1);
    for i in 0..200 {
        sdk.track_event(Some("Q"), &format!("E{i:03}"), None).unwrap();
    }
    sdk.flush().unwrap();
    let s = sdk.status();
    assert!(s.queued_records + s.pending_records <= 50, "{s:?}");
    assert!(s.dropped_records >= 150, "{s:?}");
    sdk.stop(Some(Duration::from_millis(100))).unwrap();
    drop(sdk);

    let mut config = h.config(dir.path(), &h.base);
    config.tuning = Tuning { max_queue_records: 50, ..config.tuning };
    let sdk = Sdk::new(config).unwrap();
    sdk.start().unwrap();
    sdk.stop(Some(Duration::from_secs(10))).unwrap();
    // The pending start batch kept its session and properties; run 1's sessionStop and
    // run 2's sessionStart and properties took 3 more places, and run 2's sessionStop one
    // more if stop() came before its start sync had drained the queue. The newest events
    // took the rest.
    let counts = h.event_counts();
    let kept: Vec<usize> = counts.keys().map(|k| k[1..].parse().unwrap()).collect();
    assert!((44..=45).contains(&kept.len()), "{counts:?}");
    assert_eq!(kept, (200 - kept.len()..200).collect::<Vec<_>>(), "the newest, contiguous: {counts:?}");
    let sessions = h.report(
        "generic/dateRange",
        serde_json::json!({"startDate": h.today(), "stopDate": h.today(), "dateSplit": "day", "clientStatus": ["active"]}),
    );
    assert!(sessions.to_string().contains("\"active\":1"), "{sessions}");
}
