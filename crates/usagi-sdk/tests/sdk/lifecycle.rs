//! Start, track, stop: what the SDK sends arrives once in the reports.

use std::time::Duration;

use usagi_sdk::{LicenseType, ProductData, Sdk, SdkError, SdkState};

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

#[test]
fn periodic_syncs_carry_a_heartbeat_per_open_session() {
    let h = Harness::start();
    let proxy = h.proxy();
    let dir = tempfile::tempdir().unwrap();
    let mut config = h.config(dir.path(), &proxy.url).multi_session(true);
    config.tuning.max_sync_interval = Duration::from_millis(300);
    let sdk = Sdk::new(config).unwrap();
    sdk.start().unwrap();
    sdk.start_session("document-0001").unwrap();
    sdk.start_session("document-0002").unwrap();
    sdk.track_event(Some("Doc"), "Edit", Some("document-0001")).unwrap();
    wait_for(10, "two periodic syncs", || {
        proxy.calls("sync").iter().filter(|c| c.kinds.iter().any(|k| k == "heartbeat")).count() >= 2
    });
    sdk.stop_session("document-0002").unwrap();
    sdk.stop(Some(Duration::from_secs(10))).unwrap();
    let syncs = proxy.calls("sync");
    let with_heartbeats = syncs.iter().find(|c| c.kinds.iter().any(|k| k == "heartbeat")).unwrap();
    assert_eq!(with_heartbeats.kinds.iter().filter(|k| *k == "heartbeat").count(), 2, "{syncs:#?}");
    // Multi-session mode has no implicit session: the start sends properties only.
    assert_eq!(syncs[0].kinds[0], "properties", "{syncs:#?}");
    // document-0002 stopped by the application, document-0001 closed by stop().
    let stops = syncs.iter().flat_map(|c| &c.kinds).filter(|k| *k == "sessionStop").count();
    assert_eq!(stops, 2, "{syncs:#?}");
    assert!(syncs.last().unwrap().kinds.iter().any(|k| k == "sessionStop"), "{syncs:#?}");
    assert_eq!(h.event_counts().get("Edit"), Some(&1));
}

#[test]
fn license_calls_return_the_five_values_and_record_them() {
    let h = Harness::start();
    let dir = tempfile::tempdir().unwrap();
    let sdk = Sdk::new(h.config(dir.path(), &h.base)).unwrap();
    assert!(matches!(sdk.license_check("K-1"), Err(SdkError::WrongState(_))), "needs start");
    sdk.start().unwrap();
    let unknown = sdk.license_check("K-1").unwrap();
    assert!(!unknown.known);
    assert_eq!(unknown.license_type, LicenseType::Unknown);
    let set = sdk.license_set("  K-1  ").unwrap();
    assert_eq!((set.known, set.expired, set.activated, set.blocked, set.allowed), (false, false, false, false, false));
    // license/set registered the key: now it is known.
    assert!(sdk.license_check("K-1").unwrap().known);
    assert!(matches!(sdk.license_check("   "), Err(SdkError::InvalidLicenseKey)));
    sdk.stop(Some(Duration::from_secs(10))).unwrap();
}

#[test]
fn calls_fail_with_typed_errors() {
    let h = Harness::start();
    let dir = tempfile::tempdir().unwrap();
    let bad = |f: fn(&mut usagi_sdk::Config)| {
        let mut c = h.config(dir.path(), &h.base);
        f(&mut c);
        Sdk::new(c).err().unwrap()
    };
    assert!(matches!(bad(|c| c.product_id = "123".into()), SdkError::InvalidProductId));
    assert!(matches!(bad(|c| c.secret = "zz".into()), SdkError::InvalidSecret));
    assert!(matches!(bad(|c| c.server_url = "ftp://x".into()), SdkError::InvalidUrl { .. }));
    assert!(matches!(bad(|c| c.app_name = " \t".into()), SdkError::Empty { field: "app name" }));

    let sdk = Sdk::new(h.config(dir.path(), &h.base)).unwrap();
    assert!(matches!(sdk.track_event(None, "Early", None), Err(SdkError::WrongState("not started"))));
    assert!(matches!(sdk.set_custom_property(21, Some("x")), Err(SdkError::InvalidCustomPropertyIndex(21))));
    sdk.start().unwrap();
    assert!(matches!(sdk.start(), Err(SdkError::WrongState("running"))));
    assert!(matches!(sdk.track_event(None, "  ", None), Err(SdkError::Empty { field: "event name" })));
    assert!(matches!(sdk.track_event_numeric(None, "N", f64::NAN, None), Err(SdkError::NonFiniteValue)));
    assert!(matches!(sdk.track_event(None, "S", Some("session-0001")), Err(SdkError::SessionMode(_))));
    assert!(matches!(sdk.start_session("session-0001"), Err(SdkError::SessionMode(_))));
    assert!(matches!(sdk.track_event_custom(None, "C", &[], None), Err(SdkError::CustomPairCount(0))));
    assert!(matches!(sdk.track_exception("", "m", None, None, None), Err(SdkError::Empty { field: "class name" })));
    // Conditioned, not refused: long names are cut, custom keys lose whitespace.
    sdk.track_event(Some("Long"), &"n".repeat(300), None).unwrap();
    sdk.track_event_custom(Some("Long"), "Custom", &[("a key", Some("v")), ("k", None)], None).unwrap();
    sdk.sync_now().unwrap();
    assert!(matches!(sdk.sync_now(), Err(SdkError::SyncTooSoon)), "one manual sync per 60 s");
    sdk.stop(Some(Duration::from_secs(10))).unwrap();
    assert!(matches!(sdk.track_event(None, "Late", None), Err(SdkError::WrongState("stopped"))));
    let counts = h.event_counts();
    assert_eq!(counts.get(&"n".repeat(128)), Some(&1), "{counts:?}");
    assert_eq!(counts.get("Custom"), Some(&1), "{counts:?}");
}
