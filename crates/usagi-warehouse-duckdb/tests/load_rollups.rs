//! A load rebuilds the per-installation rollups of the installations it touches and adds its
//! events' aggregates to the event rollups (`event_days`, `client_events`, `event_totals`).
//! Whatever order batches arrive in — late, offline, a `sessionStart` before stored records,
//! a stop that shortens a stored session, values observed on a day before stored ones, a
//! retention purge in between — the rollups after every load must equal a from-scratch
//! rebuild from the same facts.

use chrono::{NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use usagi_types::{ClientId, ProductId};
use usagi_warehouse::{
    ContactRow, EventRow, ExceptionRow, LoadBatch, MarkKind, ObservationRow, ObservationSource, PropertyRow,
    SessionMarkRow, Value, Warehouse,
};
use usagi_warehouse_duckdb::{refresh_rollups, DuckConfig, DuckWarehouse};

fn product() -> ProductId {
    ProductId::parse("2376158762").unwrap()
}

fn start_ms() -> i64 {
    // A Saturday, so the generated week crosses a week boundary, and two days before the
    // end of the month.
    Utc.with_ymd_and_hms(2024, 3, 30, 0, 0, 0).single().unwrap().timestamp_millis()
}

/// What one generated record is.
#[derive(Debug, Clone)]
enum Kind {
    Event(u8),
    Start(u8),
    Stop(u8),
    Heartbeat(u8),
    Exception(u8),
    Evidence(u8),
    OptOut,
    OptIn,
    Property(u8, u8),
    Contact,
}

#[derive(Debug, Clone)]
struct Rec {
    client: u64,
    /// Minutes after `start_ms`: coarse, so records often share a time.
    minute: i64,
    kind: Kind,
}

const KEYS: [Option<&str>; 2] = [None, Some("session-0000000001")];
const PROPS: [&str; 4] = ["prodVersion", "licenseType", "licenseStatus.activated", "cpuCores"];
const VALUES: [Option<&str>; 3] = [Some("1"), Some("2"), None];

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        4 => (0u8..2).prop_map(Kind::Event),
        3 => (0u8..2).prop_map(Kind::Start),
        2 => (0u8..2).prop_map(Kind::Stop),
        1 => (0u8..2).prop_map(Kind::Heartbeat),
        1 => (0u8..2).prop_map(Kind::Exception),
        1 => (0u8..2).prop_map(Kind::Evidence),
        1 => Just(Kind::OptOut),
        1 => Just(Kind::OptIn),
        3 => (0u8..4, 0u8..3).prop_map(|(p, v)| Kind::Property(p, v)),
        1 => Just(Kind::Contact),
    ]
}

fn rec() -> impl Strategy<Value = Rec> {
    // Five days, in 20-minute steps: sessions often cross midnight.
    (0u64..2, 0i64..(5 * 72), kind()).prop_map(|(client, step, kind)| Rec { client, minute: step * 20, kind })
}

/// The records of one batch (one `seq` per batch, `idx` by position) as a load.
fn batch(records: &[Rec], seq: u64, lsn: u64) -> LoadBatch {
    let mut b = LoadBatch { last_lsn: lsn, ..Default::default() };
    for (idx, r) in records.iter().enumerate() {
        let (client, t, idx) = (ClientId::from_u64(0xC000 + r.client), start_ms() + r.minute * 60_000, idx as u32);
        let product = product();
        let batch_id = uuid::Uuid::nil();
        let session = |k: &u8| KEYS[*k as usize].map(str::to_string);
        let mark = |k: &u8, kind| SessionMarkRow {
            product,
            client,
            t,
            seq,
            idx,
            kind,
            session_id: session(k),
            received_at: t,
            batch_id,
        };
        match &r.kind {
            Kind::Event(k) => b.events.push(EventRow {
                product,
                client,
                t,
                seq,
                idx,
                session_id: session(k),
                category: None,
                name: format!("E{}", r.minute % 3),
                num_value: Some(1.5),
                text_value: None,
                custom_json: None,
                received_at: t,
                batch_id,
            }),
            Kind::Start(k) => b.session_marks.push(mark(k, MarkKind::Start)),
            Kind::Stop(k) => b.session_marks.push(mark(k, MarkKind::Stop)),
            Kind::Heartbeat(k) => b.session_marks.push(mark(k, MarkKind::Heartbeat)),
            Kind::Exception(k) => b.exceptions.push(ExceptionRow {
                product,
                client,
                t,
                seq,
                idx,
                session_id: session(k),
                class_name: "E".into(),
                method_name: "m".into(),
                message: None,
                stack_trace: None,
                received_at: t,
                batch_id,
            }),
            Kind::Evidence(_) | Kind::OptOut | Kind::OptIn => b.observations.push(ObservationRow {
                product,
                client,
                t,
                seq,
                idx,
                source: match r.kind {
                    Kind::OptOut => ObservationSource::OptOut,
                    Kind::OptIn => ObservationSource::OptIn,
                    _ => ObservationSource::Touch,
                },
                evidence: matches!(r.kind, Kind::Evidence(_)),
                session_id: if let Kind::Evidence(k) = &r.kind { session(k) } else { None },
                payload: "{}".into(),
            }),
            Kind::Property(p, v) => b.properties.push(PropertyRow {
                product,
                client,
                t,
                seq,
                idx,
                name: PROPS[*p as usize].into(),
                value: VALUES[*v as usize].map(str::to_string),
                received_at: t,
            }),
            Kind::Contact => b.contacts.push(ContactRow { product, client, received_at: t, batch_id, seq, lsn }),
        }
    }
    b
}

const ROLLUPS: &[&str] = &[
    "sessions",
    "client_days",
    "property_days",
    "clients",
    "event_days",
    "client_events",
    "event_totals",
    "evidence_days",
];

async fn snapshot(wh: &DuckWarehouse) -> Vec<(&'static str, Vec<Vec<Value>>)> {
    let mut all = Vec::new();
    for t in ROLLUPS {
        all.push((*t, wh.query(format!("SELECT * FROM {t} ORDER BY ALL"), vec![]).await.unwrap().rows));
    }
    all
}

/// Rebuilds every installation's rollups from all of its facts.
async fn rebuild(wh: &DuckWarehouse) {
    wh.execute_batch(format!(
        "DELETE FROM affected;
         INSERT INTO affected SELECT DISTINCT product_id, client_id FROM (
             SELECT product_id, client_id FROM contacts UNION ALL SELECT product_id, client_id FROM events
             UNION ALL SELECT product_id, client_id FROM session_marks UNION ALL SELECT product_id, client_id FROM exceptions
             UNION ALL SELECT product_id, client_id FROM observations UNION ALL SELECT product_id, client_id FROM property_changes);
         DELETE FROM affected_days;
         INSERT INTO affected_days SELECT DISTINCT product_id, day FROM events;
         DELETE FROM event_totals;
         {}",
        refresh_rollups()
    ))
    .await
    .unwrap();
}

/// Loads `batches` in `order` (a permutation), each its own load; after each load the
/// rollups equal a rebuild. With `purge`, retention purges the days before the given day
/// after that many loads.
async fn check(
    batches: Vec<Vec<Rec>>,
    order: Vec<usize>,
    purge: Option<(usize, i64)>,
) -> Result<(DuckWarehouse, tempfile::TempDir), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let wh = DuckWarehouse::open(&dir.path().join("w.duckdb"), &DuckConfig::default()).unwrap();
    for (n, i) in order.iter().enumerate() {
        if let Some((after, day)) = purge {
            if after == n {
                let cutoff = NaiveDate::from_ymd_opt(2024, 3, 30).unwrap() + chrono::Days::new(day as u64);
                wh.purge_before(product(), cutoff).await.unwrap();
            }
        }
        wh.load(batch(&batches[*i], *i as u64 + 1, n as u64 + 1)).await.unwrap();
        let loaded = snapshot(&wh).await;
        rebuild(&wh).await;
        let rebuilt = snapshot(&wh).await;
        for ((table, a), (_, b)) in loaded.iter().zip(&rebuilt) {
            prop_assert_eq!(a, b, "{} after load {} (batch {})", table, n + 1, i);
        }
    }
    Ok((wh, dir))
}

fn batches() -> impl Strategy<Value = (Vec<Vec<Rec>>, Vec<usize>)> {
    prop::collection::vec(prop::collection::vec(rec(), 1..12), 1..7).prop_flat_map(|mut batches| {
        // Most batches hold records in time order, as an SDK sends them.
        for b in batches.iter_mut().step_by(2) {
            b.sort_by_key(|r| r.minute);
        }
        let order = Just((0..batches.len()).collect::<Vec<_>>()).prop_shuffle();
        (Just(batches), order)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_load_leaves_the_rollups_a_rebuild_would((batches, order) in batches(), purge in prop::option::of((0usize..6, 1i64..4))) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(check(batches, order, purge))?;
    }
}

/// Batches whose records are in time order across batches, as one SDK sends them: after its
/// first load an installation's property observations all come after its stored ones, the
/// case `property_days` is rebuilt from the load alone.
fn batches_in_time_order() -> impl Strategy<Value = Vec<Vec<Rec>>> {
    prop::collection::vec(prop::collection::vec(rec(), 1..12), 1..7).prop_map(|batches| {
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        let mut all: Vec<Rec> = batches.into_iter().flatten().collect();
        all.sort_by_key(|r| r.minute);
        let mut records = all.into_iter();
        sizes.iter().map(|n| records.by_ref().take(*n).collect()).collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn loads_in_time_order_leave_the_rollups_a_rebuild_would(batches in batches_in_time_order(), purge in prop::option::of((0usize..6, 1i64..4))) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let order = (0..batches.len()).collect();
        rt.block_on(check(batches, order, purge))?;
    }
}

/// Rows in the scratch tables of the two property paths after the last load.
async fn scratch(wh: &DuckWarehouse) -> (Value, Value) {
    let count = |t: &str| format!("SELECT count(*) FROM {t}");
    let a = wh.query(count("load_prop_days"), vec![]).await.unwrap().rows[0][0].clone();
    let b = wh.query(count("props_from"), vec![]).await.unwrap().rows[0][0].clone();
    (a, b)
}

/// The in-order path is the one taken for a second batch in time order, and a batch before the
/// stored observations takes the general rebuild.
#[tokio::test]
async fn properties_in_time_order_are_rebuilt_from_the_load_alone() {
    let r = |minute, kind| Rec { client: 0, minute, kind };
    let first = vec![r(100, Kind::Property(0, 0)), r(1500, Kind::Property(0, 1))];
    let second = vec![r(1600, Kind::Property(0, 0)), r(1700, Kind::Property(1, 2))];
    let late = vec![r(1400, Kind::Property(0, 2))];
    let (wh, _dir) = check(vec![first.clone(), second.clone()], vec![0, 1], None).await.unwrap();
    // Day 2 (minutes 1600, 1700): one row per property observed.
    assert_eq!(scratch(&wh).await, (Value::Int(2), Value::Int(0)));
    let (wh, _dir) = check(vec![first, second, late], vec![0, 1, 2], None).await.unwrap();
    assert_eq!(scratch(&wh).await, (Value::Int(0), Value::Int(1)));
    let mark = wh.query(
        "SELECT (t - $1) // 60000, seq FROM property_marks".into(),
        vec![usagi_warehouse::Param::Int(start_ms())],
    );
    // The mark stays the greatest observation (minute 1700 of batch 2), not the late one's.
    assert_eq!(mark.await.unwrap().rows, vec![vec![Value::Int(1700), Value::Int(2)]]);
}

/// A fixed case of what the rebuild bounds exist for: a batch in time order after a later one.
#[tokio::test]
async fn a_late_start_before_stored_records_renumbers_the_sessions_after_it() {
    let r = |minute, kind| Rec { client: 0, minute, kind };
    let later = vec![r(600, Kind::Start(0)), r(620, Kind::Event(0)), r(2000, Kind::Event(0))];
    let earlier = vec![r(100, Kind::Start(0)), r(1300, Kind::Start(0)), r(1320, Kind::Stop(0))];
    let (wh, _dir) = check(vec![later, earlier], vec![0, 1], None).await.unwrap();
    let sessions = wh
        .query(
            "SELECT grp, (start_t - $1) // 60000, (end_t - $1) // 60000 FROM sessions ORDER BY grp".into(),
            vec![usagi_warehouse::Param::Int(start_ms())],
        )
        .await
        .unwrap()
        .rows;
    let m = |g: i64, s: i64, e: i64| vec![Value::Int(g), Value::Int(s), Value::Int(e)];
    // 100 has no member (ends where it starts); 600 runs to its last member before the next
    // start (620); 1300 ends at its stop, and the event at 2000 stays in it without moving the end.
    assert_eq!(sessions, vec![m(1, 100, 100), m(2, 600, 620), m(3, 1300, 1320)]);
}

/// A load runs on `load_threads` and gives DuckDB its full thread count back afterwards, for
/// the reports that run between loads; a load it skips (already applied) does too.
#[tokio::test]
async fn a_load_gives_the_threads_back_when_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let config = DuckConfig { threads: 3, load_threads: 1, ..DuckConfig::default() };
    let wh = DuckWarehouse::open(&dir.path().join("w.duckdb"), &config).unwrap();
    let threads = || async { wh.query("SELECT current_setting('threads')".into(), vec![]).await.unwrap().rows };
    assert_eq!(threads().await, vec![vec![Value::Int(3)]]);
    let records = vec![Rec { client: 0, minute: 10, kind: Kind::Start(0) }];
    wh.load(batch(&records, 1, 1)).await.unwrap();
    assert_eq!(threads().await, vec![vec![Value::Int(3)]]);
    wh.load(batch(&records, 1, 1)).await.unwrap();
    assert_eq!(threads().await, vec![vec![Value::Int(3)]]);
    let stored = wh.query("SELECT count(*) FROM session_marks".into(), vec![]).await.unwrap().rows;
    assert_eq!(stored, vec![vec![Value::Int(1)]]);
}
