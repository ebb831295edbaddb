//! The rollups equal semantics.md §4 and §8 on the worked examples, on a real DuckDB file.

use chrono::{NaiveDate, TimeZone, Utc};
use usagi_types::{ClientId, ProductId};
use usagi_warehouse::{
    ContactRow, EventRow, LoadBatch, MarkKind, ObservationRow, ObservationSource, SessionMarkRow, Value, Warehouse,
};
use usagi_warehouse_duckdb::{DuckConfig, DuckWarehouse};

fn ms(d: u32, h: u32, m: u32) -> i64 {
    Utc.with_ymd_and_hms(2024, 3, d, h, m, 0).single().unwrap().timestamp_millis()
}

fn product() -> ProductId {
    ProductId::parse("2376158762").unwrap()
}

fn mark(client: u64, t: i64, idx: u32, kind: MarkKind, session: Option<&str>) -> SessionMarkRow {
    SessionMarkRow {
        product: product(),
        client: ClientId::from_u64(client),
        t,
        seq: 1,
        idx,
        kind,
        session_id: session.map(str::to_string),
        received_at: t,
        batch_id: uuid::Uuid::nil(),
    }
}

fn event(client: u64, t: i64, idx: u32, name: &str, session: Option<&str>) -> EventRow {
    EventRow {
        product: product(),
        client: ClientId::from_u64(client),
        t,
        seq: 1,
        idx,
        session_id: session.map(str::to_string),
        category: Some("File Operations".into()),
        name: name.into(),
        num_value: None,
        text_value: None,
        custom_json: None,
        received_at: t,
        batch_id: uuid::Uuid::nil(),
    }
}

async fn rows(wh: &DuckWarehouse, sql: &str) -> Vec<Vec<Value>> {
    wh.query(sql.into(), vec![]).await.unwrap().rows
}

#[tokio::test]
async fn example_3_sessions_runtime_and_active_days() {
    let dir = tempfile::tempdir().unwrap();
    let wh = DuckWarehouse::open(&dir.path().join("w.duckdb"), &DuckConfig::default()).unwrap();
    let (p, q) = (0x1111111111111111u64, 0x2222222222222222u64);
    let s = Some("session-0001");
    let mut batch = LoadBatch { last_lsn: 1, ..Default::default() };
    batch.session_marks = vec![
        mark(p, ms(1, 9, 0), 0, MarkKind::Start, None),
        mark(p, ms(1, 9, 30), 2, MarkKind::Stop, None),
        mark(p, ms(2, 10, 0), 3, MarkKind::Start, None),
        mark(p, ms(3, 8, 0), 6, MarkKind::Start, None),
        mark(p, ms(3, 8, 5), 7, MarkKind::Stop, None),
        mark(q, ms(4, 22, 0), 0, MarkKind::Start, s),
        mark(q, ms(5, 2, 0), 4, MarkKind::Stop, s),
    ];
    batch.events = vec![
        event(p, ms(1, 9, 10), 1, "Open", None),
        event(p, ms(2, 10, 5), 4, "Open", None),
        event(p, ms(2, 10, 20), 5, "Open", None),
        event(q, ms(4, 23, 0), 1, "Open", s),
        event(q, ms(5, 1, 0), 2, "Save", s),
        event(q, ms(5, 1, 0), 3, "Save", s),
    ];
    wh.load(batch.clone()).await.unwrap();

    // P: 30 + 20 (crash closed at its last record) + 5 minutes; Q: 240 minutes.
    let r = rows(&wh, "SELECT client_id, count(*), sum(end_t - start_t) FROM sessions GROUP BY 1 ORDER BY 1").await;
    assert_eq!(r[0][1..], [Value::Int(3), Value::Int(55 * 60_000)]);
    assert_eq!(r[1][1..], [Value::Int(1), Value::Int(240 * 60_000)]);
    let r = rows(
        &wh,
        "SELECT day, runtime_ms, sessions FROM client_days WHERE client_id = 2459565876494606882 ORDER BY day",
    )
    .await;
    let d = |n| Value::Date(NaiveDate::from_ymd_opt(2024, 3, n).unwrap());
    assert_eq!(
        r,
        vec![vec![d(4), Value::Int(120 * 60_000), Value::Int(1)], vec![d(5), Value::Int(120 * 60_000), Value::Int(0)]]
    );
    let r = rows(&wh, "SELECT date_installed, date_last_seen FROM clients ORDER BY client_id").await;
    assert_eq!(r, vec![vec![d(1), d(3)], vec![d(4), d(5)]]);

    // Loading the same log position again changes nothing (exactly once by LSN).
    wh.load(batch).await.unwrap();
    assert_eq!(rows(&wh, "SELECT count(*) FROM events").await[0][0], Value::Int(6));
    assert_eq!(wh.applied_lsn().await.unwrap(), 1);
}

#[tokio::test]
async fn late_records_and_contacts_rebuild_the_rollups() {
    let dir = tempfile::tempdir().unwrap();
    let wh = DuckWarehouse::open(&dir.path().join("w.duckdb"), &DuckConfig::default()).unwrap();
    let c = 0xCC;
    // Example 1's C: offline sessions on 03-04 and 03-06, uploaded on 03-07.
    let mut b1 = LoadBatch { last_lsn: 1, ..Default::default() };
    b1.contacts.push(ContactRow {
        product: product(),
        client: ClientId::from_u64(c),
        received_at: ms(7, 8, 0) + 5_000,
        batch_id: uuid::Uuid::nil(),
        seq: 1,
        lsn: 1,
    });
    b1.session_marks = vec![
        mark(c, ms(4, 9, 0), 0, MarkKind::Start, None),
        mark(c, ms(4, 10, 0), 1, MarkKind::Stop, None),
        mark(c, ms(6, 9, 0), 2, MarkKind::Start, None),
        mark(c, ms(6, 11, 0), 4, MarkKind::Stop, None),
        mark(c, ms(7, 8, 0), 5, MarkKind::Start, None),
    ];
    b1.events.push(event(c, ms(6, 9, 30), 3, "Open", None));
    // A call that is not evidence of activity (license/set) on 03-01.
    b1.observations.push(ObservationRow {
        product: product(),
        client: ClientId::from_u64(c),
        t: ms(1, 0, 0),
        seq: 0,
        idx: 0,
        source: ObservationSource::LicenseKey,
        evidence: false,
        session_id: None,
        payload: "{}".into(),
    });
    wh.load(b1).await.unwrap();
    let days = rows(&wh, "SELECT day FROM client_days ORDER BY day").await;
    let d = |n| vec![Value::Date(NaiveDate::from_ymd_opt(2024, 3, n).unwrap())];
    assert_eq!(days, vec![d(4), d(6), d(7)], "03-05 is not covered by any session; 03-01 is no evidence");
    // The stop of the open session arrives in a later load.
    let mut b2 = LoadBatch { last_lsn: 2, ..Default::default() };
    b2.session_marks.push(SessionMarkRow { seq: 2, ..mark(c, ms(7, 8, 10), 0, MarkKind::Stop, None) });
    wh.load(b2).await.unwrap();
    let r = rows(&wh, "SELECT end_t - start_t FROM sessions ORDER BY start_t").await;
    assert_eq!(r, vec![vec![Value::Int(3_600_000)], vec![Value::Int(7_200_000)], vec![Value::Int(600_000)]]);
}

/// `stream_text` hands over every row, in bounded chunks, NULL as `None`.
#[tokio::test]
async fn streams_text_rows_in_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let wh = DuckWarehouse::open(&dir.path().join("w.duckdb"), &DuckConfig::default()).unwrap();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<usagi_warehouse::TextRow>>(2);
    let reader = std::thread::spawn(move || {
        let mut sizes = Vec::new();
        let mut rows = Vec::new();
        for chunk in rx {
            sizes.push(chunk.len());
            rows.extend(chunk);
        }
        (sizes, rows)
    });
    let sql = "SELECT CAST(i AS VARCHAR), CASE WHEN i % 2 = 0 THEN 'even' END FROM range(5000) t(i) WHERE i >= $1";
    let sent = wh.stream_text(sql.into(), vec![usagi_warehouse::Param::Int(0)], tx).await.unwrap();
    let (sizes, rows) = reader.join().unwrap();
    assert_eq!(sent, 5000);
    assert_eq!(rows.len(), 5000);
    assert!(sizes.iter().all(|n| *n <= usagi_warehouse::STREAM_CHUNK_ROWS), "{sizes:?}");
    let mut seen: Vec<(i64, Option<String>)> =
        rows.into_iter().map(|r| (r[0].as_deref().unwrap().parse().unwrap(), r[1].clone())).collect();
    seen.sort();
    assert_eq!(seen[0], (0, Some("even".into())));
    assert_eq!(seen[4999], (4999, None));
}
