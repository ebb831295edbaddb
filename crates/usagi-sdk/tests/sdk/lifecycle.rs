//! Start, track, stop: what the SDK sends arrives once in the reports.

use std::time::Duration;

use usagi_sdk::{ProductData, Sdk, SdkState};

use crate::helpers::*;

#[test]
fn tracked_events_reach_the_reports() {
    let h = Harness::start();
    let dir = tempfile::tempdir().unwrap();
    let sdk = Sdk::new(h.config(dir.path(), &h.base)).unwrap();
    sdk.set_product_data(&ProductData { version: Some("2.1".into()), ..Default::default() }).unwrap();
    sdk.set_custom_property(1, Some("web")).unwrap();
    sdk.start().unwrap();
    assert_eq!(sdk.state(), SdkState::Running);
    for i in 0..10 {
        sdk.track_event(Some("File"), &format!("Open{}", i % 2), None).unwrap();
    }
    sdk.track_event_numeric(Some("File"), "Export", 2.5, None).unwrap();
    sdk.track_exception("Svc", "run", Some("boom"), None, None).unwrap();
    sdk.stop(Some(Duration::from_secs(10))).unwrap();
    let s = sdk.status();
    assert_eq!((s.queued_records, s.pending_records), (0, 0), "{s:?}");
    let counts = h.event_counts();
    assert_eq!(counts.get("Open0"), Some(&5), "{counts:?}");
    assert_eq!(counts.get("Open1"), Some(&5), "{counts:?}");
    assert_eq!(counts.get("Export"), Some(&1), "{counts:?}");
}
