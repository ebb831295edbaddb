//! Opt-out: nothing recorded, `optout` sent once per episode.

use std::time::Duration;

use usagi_sdk::{Sdk, SdkState};

use crate::helpers::*;

fn run(h: &Harness, dir: &std::path::Path, url: &str, opted_out: bool, events: &[&str]) {
    let sdk = Sdk::new(h.config(dir, url)).unwrap();
    if opted_out {
        sdk.opt_out().unwrap();
    }
    sdk.start().unwrap();
    if opted_out {
        assert_eq!(sdk.state(), SdkState::OptedOut);
    }
    for e in events {
        sdk.track_event(Some("Opt"), e, None).unwrap();
    }
    sdk.stop(Some(Duration::from_secs(10))).unwrap();
}

#[test]
fn opt_out_records_nothing_and_notifies_once_per_episode() {
    let h = Harness::start();
    let proxy = h.proxy();
    let dir = tempfile::tempdir().unwrap();
    // Data from before the opt-out sits in the queue (offline run).
    run(&h, dir.path(), &dead_url(), false, &["Before"]);

    run(&h, dir.path(), &proxy.url, true, &["Secret1", "Secret2"]);
    assert_eq!(proxy.calls("optout").len(), 1, "{:#?}", proxy.seen());
    assert_eq!(proxy.calls("optout")[0].status, 200);
    assert!(proxy.calls("sync").is_empty(), "the queue was deleted, nothing synced");
    // Still opted out on the next run: no second notice.
    run(&h, dir.path(), &proxy.url, true, &["Secret3"]);
    assert_eq!(proxy.calls("optout").len(), 1);
    assert!(proxy.calls("sync").is_empty());

    // Opted back in: works normally.
    run(&h, dir.path(), &proxy.url, false, &["Visible"]);
    assert!(!proxy.calls("sync").is_empty());
    // A new episode gets its own notice.
    run(&h, dir.path(), &proxy.url, true, &["Secret4"]);
    assert_eq!(proxy.calls("optout").len(), 2);

    let counts = h.event_counts();
    assert_eq!(counts.keys().collect::<Vec<_>>(), ["Visible"], "{counts:?}");
}

#[test]
fn opt_out_during_a_run_sends_the_record_then_nothing() {
    let h = Harness::start();
    let proxy = h.proxy();
    let dir = tempfile::tempdir().unwrap();
    let sdk = Sdk::new(h.config(dir.path(), &proxy.url)).unwrap();
    sdk.start().unwrap();
    sdk.track_event(Some("Opt"), "Kept", None).unwrap();
    sdk.opt_out().unwrap();
    assert_eq!(sdk.state(), SdkState::OptedOut);
    sdk.track_event(Some("Opt"), "Dropped", None).unwrap();
    wait_for(10, "the optOut record", || {
        proxy.calls("sync").iter().any(|c| c.status == 200) && sdk.status().queued_records == 0
    });
    sdk.stop(Some(Duration::from_secs(5))).unwrap();
    let counts = h.event_counts();
    assert_eq!(counts.keys().collect::<Vec<_>>(), ["Kept"], "{counts:?}");
    // The episode is known to the server: a next opted-out run sends no notice.
    drop(sdk);
    let sdk = Sdk::new(h.config(dir.path(), &proxy.url)).unwrap();
    sdk.opt_out().unwrap();
    sdk.start().unwrap();
    sdk.stop(Some(Duration::from_secs(5))).unwrap();
    assert!(proxy.calls("optout").is_empty(), "{:#?}", proxy.seen());
}
