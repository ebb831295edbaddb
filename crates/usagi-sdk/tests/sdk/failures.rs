//! Server failures (500, 413, 401): nothing lost, nothing doubled.

use std::collections::HashSet;
use std::time::Duration;

use usagi_sdk::Sdk;

use crate::helpers::*;

#[test]
fn server_errors_then_recovery_lose_and_double_nothing() {
    let h = Harness::start();
    let proxy = h.proxy();
    // Two 500s before the server sees the batch, then two after it stored it (lost answers).
    proxy.set(Faults { fail_before: 2, fail_after: 2, ..Faults::default() });
    let dir = tempfile::tempdir().unwrap();
    let sdk = Sdk::new(h.config(dir.path(), &proxy.url)).unwrap();
    sdk.start().unwrap();
    for i in 0..30 {
        sdk.track_event(Some("Err"), &format!("E{}", i % 3), None).unwrap();
    }
    sdk.flush().unwrap();
    wait_for(20, "delivery after the failures", || sdk.status().delivered_batches >= 1);
    sdk.stop(Some(Duration::from_secs(10))).unwrap();
    let s = sdk.status();
    assert_eq!((s.queued_records, s.pending_records), (0, 0), "{s:?}");

    let syncs = proxy.calls("sync");
    assert!(syncs.iter().filter(|c| c.status == 500).count() == 4, "{syncs:#?}");
    // The first batch was retried with the same batchId until the server said duplicate.
    let first = syncs[0].batch_id.clone().unwrap();
    assert!(syncs.iter().filter(|c| c.batch_id.as_deref() == Some(first.as_str())).count() >= 5, "{syncs:#?}");
    assert!(syncs.iter().any(|c| c.duplicate == Some(true)), "{syncs:#?}");
    let counts = h.event_counts();
    assert_eq!(counts.values().sum::<u64>(), 30, "{counts:?}");
    assert_eq!(counts.get("E0"), Some(&10));
}

#[test]
fn too_large_batches_are_split_with_new_ids() {
    let h = Harness::start();
    let proxy = h.proxy();
    proxy.set(Faults { max_wire: Some(1500), ..Faults::default() });
    let dir = tempfile::tempdir().unwrap();
    let sdk = Sdk::new(h.config(dir.path(), &proxy.url)).unwrap();
    sdk.start().unwrap();
    for i in 0..300 {
        // Distinct names compress badly, so the first batch is well over the proxy's limit.
        sdk.track_event(Some("Split"), &format!("Event-{i}-{:x}", i * 7919), None).unwrap();
    }
    sdk.stop(Some(Duration::from_secs(20))).unwrap();
    let s = sdk.status();
    assert_eq!((s.queued_records, s.pending_records), (0, 0), "{s:?}");
    let syncs = proxy.calls("sync");
    assert!(syncs.iter().any(|c| c.status == 413), "{syncs:#?}");
    let delivered: Vec<_> = syncs.iter().filter(|c| c.status == 200).collect();
    let ids: HashSet<_> = delivered.iter().map(|c| c.batch_id.clone()).collect();
    assert_eq!(ids.len(), delivered.len(), "every delivered batch has its own batchId");
    let seqs: HashSet<_> = syncs.iter().map(|c| c.seq).collect();
    assert!(seqs.len() > 2, "halves get new seqs");
    let counts = h.event_counts();
    assert_eq!(counts.len(), 300);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
}

#[test]
fn a_skewed_clock_is_corrected_from_the_401_server_time() {
    // The server lives three hours ahead of the SDK's machine.
    let ahead = chrono::Duration::hours(3);
    let h = Harness::start_with_clock(Some(chrono::Utc::now() + ahead));
    let proxy = h.proxy();
    let dir = tempfile::tempdir().unwrap();
    let sdk = Sdk::new(h.config(dir.path(), &proxy.url)).unwrap();
    sdk.start().unwrap();
    sdk.track_event(Some("Clock"), "Tick", None).unwrap();
    sdk.stop(Some(Duration::from_secs(10))).unwrap();
    let syncs = proxy.calls("sync");
    assert_eq!(syncs[0].status, 401, "{syncs:#?}");
    assert_eq!(syncs[1].status, 200, "retried at once with the corrected clock: {syncs:#?}");
    assert_eq!(syncs[0].batch_id, syncs[1].batch_id);
    let offset = sdk.status().clock_offset_ms;
    assert!((offset - ahead.num_milliseconds()).abs() < 60_000, "{offset}");
    drop(sdk);
    // The offset is persisted: the next run signs correctly from its first request.
    let sdk = Sdk::new(h.config(dir.path(), &proxy.url)).unwrap();
    assert!((sdk.status().clock_offset_ms - ahead.num_milliseconds()).abs() < 60_000);
    sdk.start().unwrap();
    sdk.stop(Some(Duration::from_secs(10))).unwrap();
    assert!(proxy.calls("sync")[2..].iter().all(|c| c.status == 200), "{:#?}", proxy.calls("sync"));
    assert_eq!(h.event_counts().get("Tick"), Some(&1));
}
