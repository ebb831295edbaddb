//! Properties of generated fleets.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::NaiveDate;
use serde_json::Value;
use usagi_simulate::{Fleet, FleetConfig, RecordKind, SimBatch};

use crate::helpers::{date, day_of_ms};

fn fleet(installs: u32, days: u32, seed: u64) -> Fleet {
    Fleet::new(FleetConfig::new(installs, days, date(2024, 3, 20), seed)).expect("valid config")
}

fn all_batches(fleet: &Fleet) -> Vec<SimBatch> {
    fleet.batches_in_time_order().collect()
}

fn records(batch: &SimBatch) -> Vec<Value> {
    let body: Value = serde_json::from_slice(&batch.body).expect("JSON body");
    body["records"].as_array().expect("records array").clone()
}

#[test]
fn same_seed_gives_identical_batches_and_another_seed_does_not() {
    let a = all_batches(&fleet(60, 45, 7));
    let b = all_batches(&fleet(60, 45, 7));
    assert!(!a.is_empty());
    assert_eq!(a, b, "same seed must give byte-identical batches and ids");

    let c = all_batches(&fleet(60, 45, 8));
    let ids_a: HashSet<_> = a.iter().map(|x| x.batch_id).collect();
    assert!(c.iter().all(|x| !ids_a.contains(&x.batch_id)), "another seed must give other batch ids");
    let clients_a: HashSet<_> = a.iter().map(|x| x.client_id).collect();
    assert!(c.iter().all(|x| !clients_a.contains(&x.client_id)));
    assert_ne!(a.iter().map(|x| &x.body).collect::<Vec<_>>(), c.iter().map(|x| &x.body).collect::<Vec<_>>());
}

#[test]
fn first_batch_of_a_known_seed_is_pinned() {
    // Guards seed portability: the ChaCha stream, our own sampling and the libm maths must
    // give the same fleet on every platform. A deliberate change to the model updates this.
    let fleet = fleet(5, 10, 42);
    let first = fleet.batches_in_time_order().next().expect("a batch");
    let digest =
        first.body.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
    let (client, batch, receive, count, hash) = crate::helpers::PINNED_FIRST_BATCH;
    assert_eq!(
        (first.client_id.to_hex(), first.batch_id.to_string(), first.receive_time_ms, first.record_count, digest),
        (client.to_string(), batch.to_string(), receive, count, hash)
    );
}

#[test]
fn every_body_passes_the_server_parser_and_respects_limits_and_clock() {
    let fleet = fleet(150, 60, 11);
    let start_ms = NaiveDate::and_hms_opt(&fleet.start_date(), 0, 0, 0).unwrap().and_utc().timestamp_millis();
    let end_ms = start_ms + 60 * 86_400_000;
    let mut n = 0;
    for batch in fleet.batches_in_time_order() {
        n += 1;
        let parsed = usagi_protocol::parse_sync(&batch.body).unwrap_or_else(|e| {
            panic!("batch {} rejected: {e}\n{}", batch.batch_id, String::from_utf8_lossy(&batch.body))
        });
        assert_eq!(parsed.unknown_kinds, 0);
        assert_eq!(parsed.batch_id, batch.batch_id);
        assert_eq!(parsed.client_id, batch.client_id);
        assert_eq!(parsed.seq, batch.seq);
        assert_eq!(parsed.records.len(), batch.record_count as usize);
        assert!(batch.record_count >= 1 && batch.record_count <= 100);
        assert!((start_ms..end_ms).contains(&batch.receive_time_ms), "receive time outside the period");
        for r in records(&batch) {
            let t = r["t"].as_i64().expect("t");
            assert!(t <= batch.receive_time_ms + 600_000, "record in the future of its batch: {r}");
        }
    }
    assert!(n > 500, "only {n} batches");
}

#[test]
fn batch_size_limit_is_configurable() {
    let mut config = FleetConfig::new(40, 30, date(2024, 3, 20), 3);
    config.max_records_per_batch = 7;
    let fleet = Fleet::new(config).expect("valid config");
    let batches = all_batches(&fleet);
    assert!(batches.iter().all(|b| (1..=7).contains(&b.record_count)));
    assert!(batches.iter().any(|b| b.record_count == 7));
    config.max_records_per_batch = 0;
    assert!(Fleet::new(config).is_err());
}

#[test]
fn per_installation_order_and_global_time_order() {
    let fleet = fleet(80, 40, 5);
    let merged = all_batches(&fleet);
    assert!(merged.windows(2).all(|w| w[0].receive_time_ms <= w[1].receive_time_ms));

    let mut per_install: BTreeMap<u32, Vec<&SimBatch>> = BTreeMap::new();
    for b in &merged {
        per_install.entry(b.installation).or_default().push(b);
    }
    for (index, batches) in &per_install {
        let direct: Vec<SimBatch> = fleet.batches_of(*index).expect("installation").collect();
        assert_eq!(direct.len(), batches.len());
        for (i, (d, m)) in direct.iter().zip(batches).enumerate() {
            assert_eq!(d, *m);
            assert_eq!(d.seq, i as u64 + 1, "seq is 1, 2, … per installation");
        }
        assert!(direct.windows(2).all(|w| w[0].receive_time_ms <= w[1].receive_time_ms));
    }
    let ids: HashSet<_> = merged.iter().map(|b| b.batch_id).collect();
    assert_eq!(ids.len(), merged.len(), "batch ids are unique");
}

#[test]
fn summary_matches_the_batches() {
    let fleet = fleet(120, 50, 9);
    let summary = fleet.summary();
    let batches = all_batches(&fleet);
    assert_eq!(summary.batches, batches.len() as u64);
    assert_eq!(summary.records, batches.iter().map(|b| u64::from(b.record_count)).sum::<u64>());
    assert_eq!(summary.delayed_batches, batches.iter().filter(|b| b.delayed).count() as u64);
    let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
    for b in &batches {
        for r in records(b) {
            *by_kind.entry(r["kind"].as_str().expect("kind").to_string()).or_default() += 1;
        }
    }
    for kind in RecordKind::ALL {
        assert_eq!(summary.records_by_kind[&kind], by_kind.get(kind.as_str()).copied().unwrap_or(0), "{kind:?}");
    }
    let reporting: BTreeSet<_> = batches.iter().map(|b| b.client_id).collect();
    assert_eq!(summary.reporting_installs as usize, reporting.len());
    assert!(!summary.to_string().is_empty());
}

#[test]
fn a_two_month_fleet_looks_like_real_usage() {
    let fleet = fleet(200, 60, 2024);
    let summary = fleet.summary();
    let end = fleet.config().end_date;
    let batches = all_batches(&fleet);

    // Lost-looking installations: nothing at all in the last 40 days.
    let mut last_seen: BTreeMap<_, NaiveDate> = BTreeMap::new();
    let mut first_seen: BTreeMap<_, NaiveDate> = BTreeMap::new();
    for b in &batches {
        let mut day = day_of_ms(b.receive_time_ms);
        for r in records(b) {
            day = day.max(day_of_ms(r["t"].as_i64().expect("t")));
        }
        let e = last_seen.entry(b.client_id).or_insert(day);
        *e = (*e).max(day);
        first_seen.entry(b.client_id).or_insert(day_of_ms(b.receive_time_ms));
    }
    let lost = last_seen.values().filter(|d| **d <= end - chrono::Days::new(40)).count();
    assert!(lost >= 5, "only {lost} lost-looking installations");
    assert_eq!(summary.quiet_installs as usize, lost);

    // Offline syncs: records uploaded days after they happened.
    let delayed: Vec<&SimBatch> = batches.iter().filter(|b| b.delayed).collect();
    assert!(delayed.len() >= 5, "only {} delayed batches", delayed.len());
    assert!(delayed.iter().any(|b| {
        let oldest = records(b).iter().filter_map(|r| r["t"].as_i64()).min().unwrap_or(b.receive_time_ms);
        b.receive_time_ms - oldest > 2 * 86_400_000
    }));

    // Growth: more installations arrive in the last third than in the first.
    let start = fleet.start_date();
    let first_third = fleet.installations().filter(|i| i.install_date < start + chrono::Days::new(20)).count();
    let last_third = fleet.installations().filter(|i| i.install_date >= start + chrono::Days::new(40)).count();
    assert!(last_third > first_third, "{first_third} early vs {last_third} late installs");

    // Some machines are shared by two installations.
    let mut machines: BTreeMap<&str, u32> = BTreeMap::new();
    for i in fleet.installations() {
        *machines.entry(i.machine_id).or_default() += 1;
    }
    assert!(machines.values().any(|n| *n == 2));
    assert!(machines.keys().all(|m| m.len() == 32 && m.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())));

    // Every kind of record shows up, events dominate.
    for kind in [
        RecordKind::SessionStart,
        RecordKind::SessionStop,
        RecordKind::Heartbeat,
        RecordKind::Event,
        RecordKind::Exception,
        RecordKind::Properties,
        RecordKind::LicenseData,
    ] {
        assert!(summary.records_by_kind[&kind] > 0, "no {kind:?} records");
    }
    assert!(summary.records_by_kind[&RecordKind::Event] > summary.records_by_kind[&RecordKind::SessionStart]);
    // Crashed sessions have no stop.
    assert!(summary.records_by_kind[&RecordKind::SessionStop] < summary.records_by_kind[&RecordKind::SessionStart]);
}

#[test]
fn larger_fleets_have_opt_outs_upgrades_and_conversions() {
    let fleet = fleet(600, 120, 77);
    let mut opt_outs = 0;
    let mut builds = BTreeSet::new();
    let mut purchased_later = 0;
    let mut midnight_sessions = 0;
    let mut opted_out = HashSet::new();
    let mut opted_back_in = HashSet::new();
    for b in fleet.batches_in_time_order() {
        let recs = records(&b);
        if opted_out.contains(&b.client_id) {
            opted_back_in.insert(b.client_id);
        }
        let mut open_start: Option<i64> = None;
        for r in &recs {
            match r["kind"].as_str() {
                Some("optOut") => {
                    opt_outs += 1;
                    opted_out.insert(b.client_id);
                }
                Some("properties") => {
                    builds.insert(r["product"]["build"].as_str().unwrap_or_default().to_string());
                    assert_eq!(r["machine"]["osWordLength"].as_u64().map(|w| w == 32 || w == 64), Some(true));
                    assert!(r["custom"]["1"].is_string() && r["custom"]["2"].is_string());
                }
                Some("licenseData") if r["licenseType"] == "purchased" && r.get("blocked").is_none() => {
                    purchased_later += 1
                }
                Some("sessionStart") => open_start = r["t"].as_i64(),
                Some("sessionStop") => {
                    if let (Some(s), Some(e)) = (open_start, r["t"].as_i64()) {
                        if s.div_euclid(86_400_000) != e.div_euclid(86_400_000) {
                            midnight_sessions += 1;
                        }
                    }
                }
                _ => {}
            }
        }
    }
    assert!(opt_outs >= 3, "only {opt_outs} opt-outs");
    assert!(!opted_back_in.is_empty(), "nobody opted back in");
    assert!(builds.len() >= 5, "builds seen: {builds:?}");
    assert!(purchased_later >= 10, "only {purchased_later} trial conversions");
    assert!(midnight_sessions >= 5, "only {midnight_sessions} sessions spanning midnight");
}
