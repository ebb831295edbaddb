//! kill -9 of an SDK process in the middle of a sync, then a restart: no loss, no duplicates.

use std::io::{BufRead, BufReader};

use crate::helpers::*;

#[test]
fn kill_dash_nine_mid_sync_then_restart_resends_the_same_batch() {
    let h = Harness::start();
    let proxy = h.proxy();
    // The start sync goes through; the final sync (with the events) reaches the server,
    // which stores it, but its answer never comes back.
    proxy.set(Faults { hold_after: Some(1), ..Faults::default() });
    let dir = tempfile::tempdir().unwrap();
    let mut child = probe(&h, dir.path(), &proxy.url, 250, false);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().starts_with("client "));
    wait_for(30, "the held sync", || proxy.calls("sync").iter().any(|c| c.held));
    // SIGKILL while the SDK waits for the answer.
    child.kill().unwrap();
    child.wait().unwrap();
    let held = proxy.calls("sync").into_iter().find(|c| c.held).unwrap();
    assert_eq!(held.status, 200, "the server stored the held batch");
    // The 250 events, with sessionStop unless the start sync's round picked the events up
    // before stop() queued it.
    assert_eq!(held.kinds.iter().filter(|k| *k == "event").count(), 250, "{held:?}");

    proxy.set(Faults::default());
    let mut child = probe(&h, dir.path(), &proxy.url, 0, false);
    let out = BufReader::new(child.stdout.take().unwrap()).lines().map(|l| l.unwrap()).collect::<Vec<_>>();
    assert!(child.wait().unwrap().success(), "{out:?}");
    let resent: Vec<_> = proxy.calls("sync").into_iter().filter(|c| c.batch_id == held.batch_id).collect();
    assert_eq!(resent.len(), 2, "the same batchId was sent again");
    assert_eq!(resent[1].duplicate, Some(true));
    assert_eq!(resent[1].seq, held.seq);
    let counts = h.event_counts();
    assert_eq!(counts.len(), 250);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
}
