//! The sender against the in-process server.

use std::collections::{BTreeMap, HashMap};

use usagi_simulate::{run, Fleet, FleetConfig, SimulateError};
use usagi_types::ProductId;

use crate::helpers::{date, Faults, TestServer};

fn small_fleet() -> FleetConfig {
    FleetConfig::new(30, 20, date(2024, 3, 20), 99)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_batch_arrives_exactly_once_despite_failures() {
    let server =
        TestServer::start(Faults { fail_first_attempt_every: Some(3), clock_skew_once: true, back_off_client: None })
            .await;
    let mut cfg = server.config(small_fleet());
    cfg.simulated_receive_time = true;
    let expected: Vec<_> = Fleet::new(small_fleet()).expect("fleet").batches_in_time_order().collect();
    let total_records: u64 = expected.iter().map(|b| u64::from(b.record_count)).sum();

    let bar = indicatif::ProgressBar::hidden();
    let summary = run(cfg, Some(bar.clone())).await.expect("run succeeds");

    assert_eq!(summary.batches_sent, expected.len() as u64);
    assert_eq!(summary.records_sent, total_records);
    assert_eq!(summary.accepted, total_records);
    assert_eq!((summary.rejected_batches, summary.duplicates, summary.skipped_batches), (0, 0, 0));
    assert_eq!(bar.position(), total_records);
    assert_eq!(bar.length(), Some(total_records));

    server.log(|log| {
        assert_eq!(log.bad_signatures, 0, "every signature verifies");
        assert_eq!(log.bad_headers, 0);
        assert!(log.injected_503 > 0 && log.injected_401 == 1);
        assert_eq!(summary.retries, u64::from(log.injected_503 + log.injected_401));
        assert_eq!(log.stored.len(), expected.len());
        for b in &expected {
            assert_eq!(log.stored.get(&b.batch_id), Some(&1), "batch {} stored exactly once", b.batch_id);
            assert_eq!(log.receive_times.get(&b.batch_id), Some(&Some(b.receive_time_ms)));
            assert_eq!(log.first_body.get(&b.batch_id), Some(&b.body));
        }
        // Retries resent the same batch: same batchId, same body.
        assert!(log.attempts.values().any(|n| *n > 1));
        assert_eq!(log.changed_bodies, 0);
        // Each installation's batches arrived in seq order.
        let mut last_seq = HashMap::new();
        for (client, seq, _) in &log.arrivals {
            let previous = last_seq.insert(*client, *seq).unwrap_or(0);
            assert!(*seq > previous, "{client} sent seq {seq} after {previous}");
        }
    });
    assert!(summary.to_string().contains("batches sent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_back_off_instruction_stops_the_installation() {
    let fleet = Fleet::new(small_fleet()).expect("fleet");
    // The installation with the most batches, so some are left to skip.
    let mut per_client = BTreeMap::new();
    for b in fleet.batches_in_time_order() {
        *per_client.entry(b.client_id).or_insert(0u64) += 1;
    }
    let (client, count) = per_client.iter().max_by_key(|(_, n)| **n).map(|(c, n)| (*c, *n)).expect("batches");
    assert!(count > 1);

    let server = TestServer::start(Faults { back_off_client: Some(client), ..Faults::default() }).await;
    let mut cfg = server.config(small_fleet());
    cfg.gzip = false;
    let summary = run(cfg, None).await.expect("run succeeds");
    assert_eq!(summary.stopped_installations, 1);
    assert_eq!(summary.skipped_batches, count - 1);
    assert_eq!(server.log(|log| log.instructed), 1);
    assert_eq!(summary.batches_sent + summary.skipped_batches, per_client.values().sum::<u64>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_fails_fast() {
    let server = TestServer::start(Faults::default()).await;
    let mut cfg = server.config(small_fleet());
    cfg.secret_hex = "00000000000000000000000000000000".into();
    let err = run(cfg, None).await.expect_err("must fail");
    assert!(matches!(err, SimulateError::Unauthorized { .. }), "{err}");
    assert_eq!(server.log(|log| log.stored.len()), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_product_aborts() {
    let server = TestServer::start(Faults::default()).await;
    let mut cfg = server.config(small_fleet());
    cfg.product_id = ProductId::parse("0000000001").expect("product id");
    let err = run(cfg, None).await.expect_err("must fail");
    assert!(matches!(err, SimulateError::NotFound { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_gives_up_after_the_retries() {
    // Bind and drop a listener to get a loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let server = TestServer::start(Faults::default()).await;
    let mut cfg = server.config(small_fleet());
    cfg.base_url = format!("http://127.0.0.1:{port}");
    cfg.retry.max_retries = 2;
    let err = run(cfg, None).await.expect_err("must fail");
    assert!(matches!(err, SimulateError::GaveUp { attempts: 3, .. }), "{err}");
}
