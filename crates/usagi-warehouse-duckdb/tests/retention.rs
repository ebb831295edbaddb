//! Retention (semantics §2, callhome §9.4) on real DuckDB files: purging detail data before a
//! cutoff leaves every lifetime aggregate and every rollup row within retention exactly as a
//! warehouse that never purged computes them, also after later loads.

use chrono::{NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use usagi_types::{ClientId, ProductId};
use usagi_warehouse::{
    ContactRow, EventRow, ExceptionRow, LoadBatch, MarkKind, ObservationRow, ObservationSource, PropertyRow,
    SessionMarkRow, Value, Warehouse,
};
use usagi_warehouse_duckdb::{DuckConfig, DuckWarehouse};

const DAY_MS: i64 = 86_400_000;

fn product() -> ProductId {
    ProductId::parse("2376158762").unwrap()
}

/// Midnight of 2024-03-`d`, ms.
fn day_ms(d: i64) -> i64 {
    Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).single().unwrap().timestamp_millis() + (d - 1) * DAY_MS
}

fn march(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, d).unwrap()
}

/// What one session of the generated fleet holds.
#[derive(Debug, Clone)]
struct SessionPlan {
    /// Minutes after the previous session's last record.
    gap_min: i64,
    /// Minutes from the start to each member record.
    records: Vec<(i64, Record)>,
    /// Minutes from the last record to the stop, if stopped.
    stop_after: Option<i64>,
    explicit: bool,
}

#[derive(Debug, Clone)]
enum Record {
    Event(u8),
    Exception,
    Heartbeat,
    Version(Option<u8>),
    LicenseKey(u8),
    OptOut(bool),
}

/// Builds the facts of one installation's sessions, starting at `from_ms`; returns where it ended.
fn build(batch: &mut LoadBatch, client: u64, from_ms: i64, plans: &[SessionPlan], seq0: u64) -> i64 {
    let p = product();
    let c = ClientId::from_u64(client);
    let mut cursor = from_ms;
    for (i, plan) in plans.iter().enumerate() {
        let seq = seq0 + i as u64;
        let start = cursor + plan.gap_min * 60_000;
        let sid = plan.explicit.then(|| format!("session-{client:04x}-{seq:04}"));
        let received = start + 3_600_000;
        let batch_id = uuid::Uuid::from_u64_pair(client, seq);
        batch.contacts.push(ContactRow { product: p, client: c, received_at: received, batch_id, seq, lsn: seq });
        let mark = |t, idx, kind| SessionMarkRow {
            product: p,
            client: c,
            t,
            seq,
            idx,
            kind,
            session_id: sid.clone(),
            received_at: received,
            batch_id,
        };
        batch.session_marks.push(mark(start, 0, MarkKind::Start));
        let mut last = start;
        for (i, (at, record)) in plan.records.iter().enumerate() {
            let t = start + at * 60_000;
            last = last.max(t);
            let idx = i as u32 + 1;
            match record {
                Record::Event(n) => batch.events.push(EventRow {
                    product: p,
                    client: c,
                    t,
                    seq,
                    idx,
                    session_id: sid.clone(),
                    category: (*n % 2 == 0).then(|| "File".to_string()),
                    name: format!("E{}", n % 3),
                    num_value: Some(f64::from(*n)),
                    text_value: None,
                    custom_json: None,
                    received_at: received,
                    batch_id,
                }),
                Record::Exception => batch.exceptions.push(ExceptionRow {
                    product: p,
                    client: c,
                    t,
                    seq,
                    idx,
                    session_id: sid.clone(),
                    class_name: "Io".into(),
                    method_name: "read".into(),
                    message: None,
                    stack_trace: None,
                    received_at: received,
                    batch_id,
                }),
                Record::Heartbeat => batch.session_marks.push(mark(t, idx, MarkKind::Heartbeat)),
                Record::Version(v) => {
                    let value = v.map(|v| format!("1.{v}"));
                    let obs = Obs { source: ObservationSource::Product, evidence: true, session_id: sid.clone() };
                    observe(batch, c, (t, seq, idx), obs, "prodVersion", value, received);
                }
                Record::LicenseKey(k) => {
                    // Like license/set: an observation that is no evidence of activity.
                    let value = Some(format!("KEY-{k}"));
                    let obs = Obs { source: ObservationSource::LicenseKey, evidence: false, session_id: None };
                    observe(batch, c, (t, seq, idx), obs, "licenseKey", value, received);
                }
                Record::OptOut(out) => {
                    let source = if *out { ObservationSource::OptOut } else { ObservationSource::OptIn };
                    batch.observations.push(ObservationRow {
                        product: p,
                        client: c,
                        t,
                        seq,
                        idx,
                        source,
                        evidence: false,
                        session_id: None,
                        payload: "{}".into(),
                    });
                }
            }
        }
        if let Some(after) = plan.stop_after {
            last += after * 60_000;
            batch.session_marks.push(mark(last, 99, MarkKind::Stop));
        }
        cursor = last;
    }
    cursor
}

/// How an observation is stored.
struct Obs {
    source: ObservationSource,
    evidence: bool,
    /// The session the record belongs to (as the SDK tags it).
    session_id: Option<String>,
}

fn observe(
    batch: &mut LoadBatch,
    c: ClientId,
    (t, seq, idx): (i64, u64, u32),
    obs: Obs,
    name: &str,
    value: Option<String>,
    received_at: i64,
) {
    let p = product();
    batch.observations.push(ObservationRow {
        product: p,
        client: c,
        t,
        seq,
        idx,
        source: obs.source,
        evidence: obs.evidence,
        session_id: obs.session_id,
        payload: "{}".into(),
    });
    batch.properties.push(PropertyRow { product: p, client: c, t, seq, idx, name: name.into(), value, received_at });
}

/// Everything a report may read within retention, and every lifetime aggregate.
async fn snapshot(wh: &DuckWarehouse, cutoff: NaiveDate) -> Vec<(String, Vec<Vec<Value>>)> {
    let c = format!("DATE '{cutoff}'");
    let cms = (cutoff - NaiveDate::default()).num_days() * DAY_MS;
    let queries = [
        "SELECT * FROM clients ORDER BY client_id".to_string(),
        "SELECT * FROM client_events ORDER BY client_id, category NULLS FIRST, name".to_string(),
        format!("SELECT * FROM client_days WHERE day >= {c} ORDER BY client_id, day"),
        format!("SELECT * FROM event_days WHERE day >= {c} ORDER BY client_id, day, category NULLS FIRST, name"),
        format!("SELECT * FROM event_totals WHERE day >= {c} ORDER BY day, category NULLS FIRST, name"),
        format!("SELECT * FROM property_days WHERE day >= {c} ORDER BY client_id, name, day"),
        format!("SELECT * EXCLUDE (grp) FROM sessions WHERE end_t >= {cms} ORDER BY client_id, session_key, start_t"),
        // Lifetime active days, ISO weeks and months, as the lifetime event reports count them.
        "SELECT client_id, count(DISTINCT day), count(DISTINCT date_trunc('week', day)), \
         count(DISTINCT date_trunc('month', day)) FROM (SELECT client_id, day FROM client_days \
         UNION ALL SELECT client_id, day FROM purged_days) GROUP BY 1 ORDER BY 1"
            .to_string(),
    ];
    let mut out = Vec::new();
    for sql in queries {
        let rows = wh.query(sql.clone(), vec![]).await.unwrap().rows;
        out.push((sql, rows));
    }
    out
}

async fn count(wh: &DuckWarehouse, sql: &str) -> i64 {
    wh.query(sql.into(), vec![]).await.unwrap().rows[0][0].as_i64().unwrap()
}

fn open(dir: &tempfile::TempDir, name: &str) -> DuckWarehouse {
    DuckWarehouse::open(
        &dir.path().join(name),
        &DuckConfig { threads: 1, memory_limit: "512MB".into(), ..DuckConfig::default() },
    )
    .unwrap()
}

fn assert_same(left: &[(String, Vec<Vec<Value>>)], right: &[(String, Vec<Vec<Value>>)]) {
    for ((sql, a), (_, b)) in left.iter().zip(right) {
        assert_eq!(a, b, "differs: {sql}");
    }
}

fn session(gap_min: i64, records: Vec<(i64, Record)>, stop_after: Option<i64>) -> SessionPlan {
    SessionPlan { gap_min, records, stop_after, explicit: false }
}

/// A: sessions before, across and after the cutoff (03-10), events, exceptions, property
/// changes before it only, an opt-out before it. B: active only before the cutoff, with a
/// license key set on a day without activity. C: active only after it.
fn fleet() -> LoadBatch {
    use Record::*;
    let mut b = LoadBatch { last_lsn: 1, ..Default::default() };
    let a = [
        session(60, vec![(1, Version(Some(0))), (5, Event(0)), (6, Event(1)), (7, Exception)], Some(30)),
        session(2 * 1440, vec![(10, Version(Some(1))), (20, Event(0)), (30, OptOut(true))], None),
        // From 03-09 22:00 into 03-10: across the cutoff, rebuilt whole from its kept start.
        session(0, vec![(60, Heartbeat), (180, Event(2)), (200, Exception)], Some(40)),
        session(3 * 1440, vec![(5, Event(0)), (6, Event(4))], Some(10)),
    ];
    build(&mut b, 0xA, day_ms(2), &a[..2], 1);
    build(&mut b, 0xA, day_ms(9) + 22 * 3_600_000, &a[2..], 3);
    let bb = [
        session(30, vec![(1, Version(Some(2))), (2, Event(3))], Some(60)),
        session(1440, vec![(1, Event(3))], Some(5)),
    ];
    build(&mut b, 0xB, day_ms(3), &bb, 1);
    let key = Some("KEY-7".to_string());
    let (client, t) = (ClientId::from_u64(0xB), day_ms(6) + 3_600_000);
    let obs = Obs { source: ObservationSource::LicenseKey, evidence: false, session_id: None };
    observe(&mut b, client, (t, 9, 0), obs, "licenseKey", key, t);
    let cc = vec![session(10, vec![(1, Version(None)), (2, Event(5))], None)];
    build(&mut b, 0xC, day_ms(12), &cc, 1);
    b
}

#[tokio::test]
async fn purging_keeps_lifetime_aggregates_and_everything_within_retention() {
    let dir = tempfile::tempdir().unwrap();
    let wh = open(&dir, "w.duckdb");
    let reference = open(&dir, "reference.duckdb");
    let batch = fleet();
    wh.load(batch.clone()).await.unwrap();
    reference.load(batch).await.unwrap();
    let cutoff = march(10);
    let before = snapshot(&wh, cutoff).await;

    let stats = wh.purge_before(product(), cutoff).await.unwrap();
    assert_eq!(stats.installations, 2, "A and B had data before the cutoff");
    assert!(stats.fact_rows > 10);
    assert_same(&before, &snapshot(&wh, cutoff).await);

    // No detail older than the cutoff is left but what carries forward: the latest value of
    // each property leaf, the latest observation per source, and the start of the session
    // reaching across the cutoff.
    for table in ["contacts", "events", "exceptions", "client_days", "event_days", "event_totals"] {
        assert_eq!(
            count(&wh, &format!("SELECT count(*) FROM {table} WHERE day < DATE '2024-03-10'")).await,
            0,
            "{table}"
        );
    }
    let marks = wh
        .query("SELECT client_id, kind, t FROM session_marks WHERE day < DATE '2024-03-10'".into(), vec![])
        .await
        .unwrap()
        .rows;
    assert_eq!(marks, vec![vec![Value::UInt(0xA), Value::Int(1), Value::Int(day_ms(9) + 22 * 3_600_000)]]);
    assert_eq!(
        count(&wh, "SELECT count(*) FROM property_changes WHERE day < DATE '2024-03-10'").await,
        3,
        "A's prodVersion, B's prodVersion and licenseKey"
    );

    // B left before the cutoff: its row survives whole, from the base alone.
    let b = wh
        .query(
            "SELECT CAST(date_installed AS VARCHAR), CAST(date_last_seen AS VARCHAR), lifetime_sessions, prod_version, \
             license_key, active_days FROM clients WHERE client_id = 11"
                .into(),
            vec![],
        )
        .await
        .unwrap()
        .rows;
    assert_eq!(
        b[0],
        vec![
            Value::Text("2024-03-03".into()),
            Value::Text("2024-03-04".into()),
            Value::Int(2),
            Value::Text("1.2".into()),
            Value::Text("KEY-7".into()),
            Value::Int(2)
        ]
    );
    // A: opted out before the cutoff and still is.
    assert_eq!(count(&wh, "SELECT count(*) FROM clients WHERE client_id = 10 AND opt_out_current").await, 1);

    // Purging the same cutoff again changes nothing; neither does a later cutoff with nothing new.
    wh.purge_before(product(), cutoff).await.unwrap();
    assert_same(&before, &snapshot(&wh, cutoff).await);

    // New batches after the purge: lifetime = base + new, exactly as without purging.
    let mut later = LoadBatch { last_lsn: 2, ..Default::default() };
    use Record::*;
    build(&mut later, 0xA, day_ms(16), &[session(0, vec![(1, Event(0)), (2, Version(Some(3)))], Some(15))], 10);
    build(&mut later, 0xB, day_ms(17), &[session(0, vec![(1, Event(3)), (3, Exception)], Some(5))], 10);
    wh.load(later.clone()).await.unwrap();
    reference.load(later).await.unwrap();
    assert_same(&snapshot(&reference, cutoff).await, &snapshot(&wh, cutoff).await);

    // A second purge later on folds into the same base.
    let cutoff = march(15);
    let before = snapshot(&reference, cutoff).await;
    wh.purge_before(product(), cutoff).await.unwrap();
    assert_same(&before, &snapshot(&wh, cutoff).await);
    assert_eq!(count(&wh, "SELECT count(*) FROM session_marks WHERE day < DATE '2024-03-15'").await, 0);
}

fn record() -> impl Strategy<Value = Record> {
    prop_oneof![
        4 => (0u8..6).prop_map(Record::Event),
        1 => Just(Record::Exception),
        1 => Just(Record::Heartbeat),
        2 => proptest::option::of(0u8..3).prop_map(Record::Version),
        1 => (0u8..3).prop_map(Record::LicenseKey),
        1 => any::<bool>().prop_map(Record::OptOut),
    ]
}

fn plan() -> impl Strategy<Value = SessionPlan> {
    (
        prop_oneof![3 => 10i64..600, 2 => 600i64..4000],
        proptest::collection::vec((0i64..1500, record()), 0..4),
        proptest::option::of(0i64..120),
        proptest::bool::weighted(0.3),
    )
        .prop_map(|(gap_min, mut records, stop_after, explicit)| {
            records.sort_by_key(|r| r.0);
            SessionPlan { gap_min, records, stop_after, explicit }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Any fleet, any cutoff, purged once or twice and loaded again: every lifetime aggregate
    /// and every rollup row within retention equals the never-purged computation.
    #[test]
    fn purge_then_refresh_equals_never_purging(
        fleet in proptest::collection::vec((0i64..12 * 24, proptest::collection::vec(plan(), 1..6)), 1..5),
        later in proptest::collection::vec(plan(), 0..3),
        first_cutoff in 3u32..14,
        second in 0u32..4,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let wh = open(&dir, "w.duckdb");
            let reference = open(&dir, "reference.duckdb");
            let mut batch = LoadBatch { last_lsn: 1, ..Default::default() };
            let mut ends = Vec::new();
            for (i, (offset_h, plans)) in fleet.iter().enumerate() {
                ends.push(build(&mut batch, 0x100 + i as u64, day_ms(1) + offset_h * 3_600_000, plans, 1));
            }
            wh.load(batch.clone()).await.unwrap();
            reference.load(batch).await.unwrap();
            let cutoffs = [march(first_cutoff), march(first_cutoff + second)];
            for cutoff in cutoffs {
                wh.purge_before(product(), cutoff).await.unwrap();
            }
            let cutoff = cutoffs[1];
            assert_same(&snapshot(&reference, cutoff).await, &snapshot(&wh, cutoff).await);

            // Later syncs of every installation, each starting a new session after its last record.
            let mut more = LoadBatch { last_lsn: 2, ..Default::default() };
            for (i, end) in ends.iter().enumerate() {
                build(&mut more, 0x100 + i as u64, (*end).max(cutoff_ms(cutoff)), &later, 100);
            }
            wh.load(more.clone()).await.unwrap();
            reference.load(more).await.unwrap();
            assert_same(&snapshot(&reference, cutoff).await, &snapshot(&wh, cutoff).await);
        });
    }
}

fn cutoff_ms(d: NaiveDate) -> i64 {
    (d - NaiveDate::default()).num_days() * DAY_MS
}
