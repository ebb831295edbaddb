//! Server instructions: back-off and disable stop all calls home and clear the queue.

use std::time::Duration;

use usagi_sdk::{Sdk, SdkError, SdkState};
use usagi_types::{ClientId, ProductId};

use crate::helpers::*;

#[test]
fn back_off_instruction_silences_the_installation_across_restarts() {
    let h = Harness::start();
    let proxy = h.proxy();
    let dir = tempfile::tempdir().unwrap();
    let sdk = Sdk::new(h.config(dir.path(), &proxy.url)).unwrap();
    let client = ClientId::parse(&sdk.client_id()).unwrap();
    h.rt.block_on(h.server.catalog.start_back_off(
        ProductId::parse(PRODUCT).unwrap(),
        Some(client),
        h.server.clock.now() + chrono::Duration::days(3),
    ))
    .unwrap();
    sdk.start().unwrap();
    wait_for(10, "the back-off answer", || matches!(sdk.state(), SdkState::BackedOff { .. }));
    let SdkState::BackedOff { until_ms } = sdk.state() else { unreachable!() };
    let days = (until_ms - chrono::Utc::now().timestamp_millis()) as f64 / 86_400_000.0;
    assert!((2.9..=3.01).contains(&days), "{days}");
    // Nothing is recorded, nothing is sent, license calls included.
    sdk.track_event(None, "Ignored", None).unwrap();
    let s = sdk.status();
    assert_eq!((s.queued_records, s.pending_records), (0, 0), "queue cleared: {s:?}");
    assert!(matches!(sdk.sync_now(), Err(SdkError::Suspended)));
    assert!(matches!(sdk.license_check("KEY-1"), Err(SdkError::Suspended)));
    let calls = proxy.seen().len();
    sdk.stop(Some(Duration::from_secs(2))).unwrap();
    drop(sdk);
    let sdk = Sdk::new(h.config(dir.path(), &proxy.url)).unwrap();
    sdk.start().unwrap();
    assert!(matches!(sdk.state(), SdkState::BackedOff { .. }));
    sdk.track_event(None, "Ignored", None).unwrap();
    sdk.stop(Some(Duration::from_secs(2))).unwrap();
    assert_eq!(proxy.seen().len(), calls, "no call home while backed off");
    assert!(h.event_counts().is_empty());
}

#[test]
fn disable_instruction_is_permanent() {
    let h = Harness::start();
    let proxy = h.proxy();
    let dir = tempfile::tempdir().unwrap();
    let sdk = Sdk::new(h.config(dir.path(), &proxy.url)).unwrap();
    let client = ClientId::parse(&sdk.client_id()).unwrap();
    h.rt.block_on(h.server.catalog.set_installation_disabled(ProductId::parse(PRODUCT).unwrap(), client, true))
        .unwrap();
    sdk.start().unwrap();
    wait_for(10, "the disable answer", || sdk.state() == SdkState::Disabled);
    sdk.stop(Some(Duration::from_secs(2))).unwrap();
    let calls = proxy.seen().len();
    let sdk = Sdk::new(h.config(dir.path(), &proxy.url)).unwrap();
    sdk.start().unwrap();
    assert_eq!(sdk.state(), SdkState::Disabled);
    sdk.stop(Some(Duration::from_secs(2))).unwrap();
    assert_eq!(proxy.seen().len(), calls);
}
