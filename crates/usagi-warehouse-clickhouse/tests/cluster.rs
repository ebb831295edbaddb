//! The ClickHouse warehouse against a real cluster.
//!
//! They run when `USAGI_TEST_CLICKHOUSE` lists the HTTP URLs of the shards of a cluster named
//! `usagi` (`.ci/run` starts two `clickhouse-server` processes with
//! `scripts/clickhouse-cluster.sh`). Each test gets a fresh database, dropped when it passes.
//! Without the variable every test prints a SKIPPED line to stderr and returns.

use std::io::Write;

use chrono::NaiveDate;
use usagi_types::{ClientId, ProductId};
use usagi_warehouse::{
    ContactRow, EventRow, LoadBatch, MarkKind, Param, PropertyRow, SessionMarkRow, Value, Warehouse,
};
use usagi_warehouse_clickhouse::purge::PurgeStop;
use usagi_warehouse_clickhouse::{ClickHouseConfig, ClickHouseWarehouse};
use uuid::Uuid;

const VAR: &str = "USAGI_TEST_CLICKHOUSE";

struct TestDb {
    config: ClickHouseConfig,
    wh: ClickHouseWarehouse,
}

impl TestDb {
    async fn create(test: &str) -> Option<TestDb> {
        let urls = match std::env::var(VAR) {
            Ok(v) if !v.trim().is_empty() => v,
            _ => {
                let _ = writeln!(std::io::stderr(), "SKIPPED clickhouse::{test}: {VAR} is not set");
                return None;
            }
        };
        let config = ClickHouseConfig {
            shards: urls.split(',').map(|s| s.trim().to_string()).collect(),
            cluster: "usagi".into(),
            database: format!("t_{}", Uuid::new_v4().simple()),
            user: None,
            password: None,
            origin: "test-origin".into(),
        };
        let wh = ClickHouseWarehouse::open(&config).await.expect("warehouse opens");
        Some(TestDb { config, wh })
    }

    async fn reopen(&self, origin: &str) -> ClickHouseWarehouse {
        let config = ClickHouseConfig { origin: origin.into(), ..self.config.clone() };
        ClickHouseWarehouse::open(&config).await.expect("warehouse reopens")
    }

    /// Rows in `table` per shard, read from each shard's local table.
    async fn per_shard(&self, table: &str) -> Vec<u64> {
        let mut out = Vec::new();
        for s in 0..self.wh.shard_count() {
            let rows = self.wh.query_shard(s, &format!("SELECT count() FROM {table}_local")).await.expect("count");
            out.push(rows.rows[0][0].as_u64().expect("count is a number"));
        }
        out
    }

    async fn count(&self, sql: &str) -> u64 {
        let rows = self.wh.query(sql.into(), vec![]).await.expect("query");
        rows.rows[0][0].as_u64().expect("a count")
    }

    async fn drop(self) {
        for s in 0..self.wh.shard_count() {
            self.wh.query_shard(s, &format!("DROP DATABASE {}", self.config.database)).await.ok();
        }
    }
}

const P: u64 = 7;

fn day_ms(y: i32, m: u32, d: u32) -> i64 {
    NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis()
}

/// One sync of `client`: a contact, a session start, `events` events at `t` and a property.
fn sync(batch: &mut LoadBatch, client: u64, t: i64, events: usize) {
    let product = pid(P);
    let c = ClientId::from_u64(client);
    let batch_id = Uuid::new_v4();
    batch.contacts.push(ContactRow {
        product,
        client: c,
        received_at: t + 1000,
        batch_id,
        seq: 1,
        lsn: batch.last_lsn,
    });
    batch.session_marks.push(SessionMarkRow {
        product,
        client: c,
        t,
        seq: 1,
        idx: 0,
        kind: MarkKind::Start,
        session_id: None,
        received_at: t + 1000,
        batch_id,
    });
    for i in 0..events {
        batch.events.push(EventRow {
            product,
            client: c,
            t: t + i as i64,
            seq: 1,
            idx: i as u32 + 1,
            session_id: None,
            category: if i % 2 == 0 { Some("File".into()) } else { None },
            name: "it's \"quoted\" \\ and ünïcode".into(),
            num_value: if i % 3 == 0 { Some(0.1 + i as f64) } else { None },
            text_value: None,
            custom_json: None,
            received_at: t + 1000,
            batch_id,
        });
    }
    batch.properties.push(PropertyRow {
        product,
        client: c,
        t,
        seq: 1,
        idx: 0,
        name: "prodVersion".into(),
        value: Some("1.0".into()),
        received_at: t + 1000,
    });
}

fn batch(lsn: u64, clients: std::ops::Range<u64>, t: i64, events: usize) -> LoadBatch {
    let mut b = LoadBatch { last_lsn: lsn, ..Default::default() };
    for c in clients {
        sync(&mut b, c, t, events);
    }
    b
}

#[tokio::test]
async fn facts_land_on_the_installations_shard_and_read_back_through_the_cluster() {
    let Some(db) = TestDb::create("facts_land_on_the_installations_shard").await else { return };
    let shards = db.wh.shard_count() as u64;
    db.wh.load(batch(10, 1..11, day_ms(2026, 3, 5), 4)).await.expect("load");

    // 10 installations, 4 events each; installation c lives on shard c % shards.
    let per_shard = db.per_shard("events").await;
    for (s, n) in per_shard.iter().enumerate() {
        let owned = (1..11u64).filter(|c| c % shards == s as u64).count() as u64;
        assert_eq!(*n, owned * 4, "shard {s}");
    }
    assert_eq!(db.count("SELECT count() FROM events").await, 40, "the Distributed table reads every shard");
    assert_eq!(db.count("SELECT uniqExact(client_id) FROM contacts").await, 10);
    assert_eq!(db.wh.applied_lsn().await.unwrap(), 10);

    // Values round-trip: quotes, backslash, non-ASCII, NULLs, floats, dates, UUIDs.
    let rows = db
        .wh
        .query(
            "SELECT name, category, num_value, day, toString(batch_id) FROM events \
             WHERE client_id = $1 AND idx = $2 AND day = $3"
                .into(),
            vec![Param::UInt(3), Param::Int(1), Param::Date(NaiveDate::from_ymd_opt(2026, 3, 5).unwrap())],
        )
        .await
        .expect("query");
    assert_eq!(rows.rows.len(), 1);
    let r = &rows.rows[0];
    assert_eq!(r[0], Value::Text("it's \"quoted\" \\ and ünïcode".into()));
    assert_eq!(r[1], Value::Text("File".into()));
    assert_eq!(r[2], Value::Float(0.1));
    assert_eq!(r[3], Value::Date(NaiveDate::from_ymd_opt(2026, 3, 5).unwrap()));
    assert!(Uuid::parse_str(r[4].as_str().unwrap()).is_ok());
    let nulls = db.count("SELECT count() FROM events WHERE category IS NULL AND num_value IS NULL").await;
    // Per installation: idx 2 and 4 (i = 1, 3) have no category; of those only i = 3 has a value.
    assert_eq!(nulls, 10);
    db.drop().await;
}

#[tokio::test]
async fn a_batch_is_applied_once_however_often_it_is_loaded() {
    let Some(db) = TestDb::create("a_batch_is_applied_once").await else { return };
    let b = batch(5, 1..4, day_ms(2026, 1, 10), 3);
    db.wh.load(b.clone()).await.expect("first load");
    db.wh.load(b.clone()).await.expect("the same batch again");
    db.wh.load(batch(4, 1..4, day_ms(2026, 1, 10), 3)).await.expect("an older batch");
    assert_eq!(db.count("SELECT count() FROM events").await, 9);
    // A second process (another ingest log) has its own positions.
    let other = db.reopen("other-origin").await;
    assert_eq!(other.applied_lsn().await.unwrap(), 0);
    other.load(batch(5, 10..12, day_ms(2026, 1, 10), 3)).await.expect("other origin loads");
    assert_eq!(db.count("SELECT count() FROM events").await, 15);
    // Reopening after a clean stop rolls nothing back.
    let again = db.reopen("test-origin").await;
    assert_eq!(again.applied_lsn().await.unwrap(), 5);
    assert_eq!(db.count("SELECT count() FROM events").await, 15);
    db.drop().await;
}

#[tokio::test]
async fn an_uncommitted_load_is_rolled_back_and_its_retry_counts_once() {
    let Some(db) = TestDb::create("an_uncommitted_load_is_rolled_back").await else { return };
    db.wh.load(batch(3, 1..5, day_ms(2026, 2, 1), 2)).await.expect("committed load");
    // A process that died after inserting a load's facts on one shard, before its commit row:
    // the same rows, tagged with a position beyond the committed one.
    let crashed = db.config.database.clone();
    db.wh
        .query_shard(
            0,
            &format!(
                "INSERT INTO {crashed}.events_local SELECT product_id, client_id, t, day, seq, idx, session_id, \
                 category, name, num_value, text_value, custom, received_at, batch_id, origin, 9 \
                 FROM {crashed}.events_local"
            ),
        )
        .await
        .ok();
    // Another process's uncommitted rows are not this origin's to roll back.
    db.wh
        .query_shard(
            0,
            &format!(
                "INSERT INTO {crashed}.events_local SELECT product_id, client_id, t, day, seq, idx, session_id, \
                 category, name, num_value, text_value, custom, received_at, batch_id, 'someone-else', 9 \
                 FROM {crashed}.events_local WHERE lsn = 3"
            ),
        )
        .await
        .ok();
    let stray = db.count("SELECT count() FROM events").await;
    assert!(stray > 8, "the simulated crash left rows behind ({stray})");

    let restarted = db.reopen("test-origin").await;
    assert_eq!(restarted.applied_lsn().await.unwrap(), 3);
    let own = db.count("SELECT count() FROM events WHERE origin = 'test-origin'").await;
    assert_eq!(own, 8, "only the committed load's rows remain");
    assert!(db.count("SELECT count() FROM events WHERE origin = 'someone-else'").await > 0);
    // The loader's retry of the log range applies it once.
    restarted.load(batch(9, 5..7, day_ms(2026, 2, 2), 2)).await.expect("retry");
    assert_eq!(db.count("SELECT count() FROM events WHERE origin = 'test-origin'").await, 12);
    db.drop().await;
}

#[tokio::test]
async fn erasure_removes_one_installation_from_its_shard() {
    let Some(db) = TestDb::create("erasure_removes_one_installation").await else { return };
    db.wh.load(batch(1, 1..5, day_ms(2026, 4, 1), 3)).await.expect("load");
    let removed = db.wh.erase_installation(pid(P), ClientId::from_u64(2)).await.expect("erase");
    // 1 contact + 1 session mark + 3 events + 1 property change.
    assert_eq!(removed, 6);
    assert_eq!(db.count("SELECT count() FROM events WHERE client_id = 2").await, 0);
    assert_eq!(db.count("SELECT count() FROM contacts WHERE client_id = 2").await, 0);
    assert_eq!(db.count("SELECT count() FROM clients WHERE client_id = 2").await, 0, "rollups too");
    assert_eq!(db.count("SELECT count() FROM client_days WHERE client_id = 2").await, 0);
    assert_eq!(db.count("SELECT count() FROM clients").await, 3);
    assert_eq!(db.count("SELECT count() FROM events").await, 9);
    assert_eq!(db.wh.erase_installation(pid(P), ClientId::from_u64(2)).await.expect("again"), 0);
    db.drop().await;
}

/// The rollup and base tables, with a total order of their rows.
const ROLLUPS: &[(&str, &str)] = &[
    ("sessions", "product_id, client_id, session_key, grp"),
    ("client_days", "product_id, client_id, day"),
    ("clients", "product_id, client_id"),
    ("client_events", "product_id, client_id, category, name"),
    ("event_days", "product_id, client_id, day, category, name"),
    ("property_days", "product_id, client_id, name, day"),
    ("purged_days", "product_id, client_id, day"),
    ("client_base", "product_id, client_id"),
    ("client_event_base", "product_id, client_id, category, name"),
];

/// Asserts that both warehouses hold the same rollups and the same facts per installation-day.
async fn assert_same_as_embedded(ch: &ClickHouseWarehouse, duck: &usagi_warehouse_duckdb::DuckWarehouse, when: &str) {
    for (table, order) in ROLLUPS {
        let sql = format!("SELECT * FROM {table} ORDER BY {order}");
        let want = normal(duck.query(sql.clone(), vec![]).await.expect("duckdb rows"));
        let got = normal(ch.query(sql, vec![]).await.expect("clickhouse rows"));
        assert_eq!(got, want, "{table} {when}");
    }
    for table in ["contacts", "events", "session_marks", "exceptions", "observations", "property_changes"] {
        let sql = format!(
            "SELECT product_id, client_id, day, count(*) FROM {table} GROUP BY product_id, client_id, day \
             ORDER BY product_id, client_id, day"
        );
        let want = normal(duck.query(sql.clone(), vec![]).await.expect("duckdb facts"));
        let got = normal(ch.query(sql, vec![]).await.expect("clickhouse facts"));
        assert_eq!(got, want, "{table} {when}");
    }
}

/// Retention's history: January, early and late February, for product P and another product;
/// a session of installation 1 runs across the cutoff.
fn retention_loads() -> Vec<LoadBatch> {
    let mut loads = vec![
        batch(1, 1..4, day_ms(2026, 1, 20), 2),
        batch(2, 1..4, day_ms(2026, 2, 3), 1),
        batch(3, 2..5, day_ms(2026, 2, 20), 3),
    ];
    let mut crossing = LoadBatch { last_lsn: 4, ..Default::default() };
    mark(&mut crossing, 1, day_ms(2026, 2, 9) + 86_000_000, MarkKind::Start, 9);
    mark(&mut crossing, 1, day_ms(2026, 2, 10) + 1_000_000, MarkKind::Heartbeat, 9);
    loads.push(crossing);
    let mut other = batch(5, 1..3, day_ms(2026, 1, 20), 1);
    let p2 = pid(P + 1);
    other.contacts.iter_mut().for_each(|r| r.product = p2);
    other.session_marks.iter_mut().for_each(|r| r.product = p2);
    other.events.iter_mut().for_each(|r| r.product = p2);
    other.properties.iter_mut().for_each(|r| r.product = p2);
    loads.push(other);
    loads
}

/// Runs one retention scenario: loads into both backends, purges (on ClickHouse stopping
/// where `stop` says, then reopening as after a crash), and compares; then loads more and
/// purges again, comparing each time.
async fn retention_scenario(test: &str, stop: PurgeStop) {
    let Some(db) = TestDb::create(test).await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let duck =
        usagi_warehouse_duckdb::DuckWarehouse::open(&dir.path().join("w.duckdb"), &Default::default()).expect("duckdb");
    for l in retention_loads() {
        duck.load(l.clone()).await.expect("duckdb load");
        db.wh.load(l).await.expect("clickhouse load");
    }
    let cutoff = NaiveDate::from_ymd_opt(2026, 2, 10).unwrap();
    let want = duck.purge_before(pid(P), cutoff).await.expect("duckdb purge");
    assert_eq!(want.installations, 3, "installations 1–3 have detail before the cutoff");
    let got = db.wh.purge_until(pid(P), cutoff, stop).await.expect("clickhouse purge");
    let TestDb { config, wh } = db;
    let wh = if stop == PurgeStop::Never {
        assert_eq!((got.installations, got.fact_rows), (want.installations, want.fact_rows), "purge stats");
        wh
    } else {
        // The process dies here; the next one to open the warehouse finishes the purge.
        drop(wh);
        ClickHouseWarehouse::open(&config).await.expect("warehouse reopens")
    };
    assert_same_as_embedded(&wh, &duck, "after the purge").await;
    // January's partition of the product is gone, not just emptied; the other product's stays.
    for s in 0..wh.shard_count() {
        let parts = |product: u64| {
            format!(
                "SELECT count() FROM system.parts WHERE active AND database = '{}' AND table = 'events_local' \
                 AND partition = '({product}, 202601)'",
                config.database
            )
        };
        let mine = wh.query_shard(s, &parts(P)).await.expect("parts");
        assert_eq!(mine.rows[0][0].as_u64(), Some(0), "shard {s}");
    }
    let others = wh.query(format!("SELECT count() FROM events WHERE product_id = {}", P + 1), vec![]).await;
    assert_eq!(others.expect("count").rows[0][0].as_u64(), Some(2), "another product's January stays");

    // A second pass finds nothing; new data after the purge refreshes on top of the base.
    let want = duck.purge_before(pid(P), cutoff).await.expect("duckdb again");
    let again = wh.purge_before(pid(P), cutoff).await.expect("clickhouse again");
    assert_eq!(want.fact_rows, 0, "nothing more to delete");
    assert_eq!((again.installations, again.fact_rows), (want.installations, want.fact_rows), "second pass");
    assert_same_as_embedded(&wh, &duck, "after a second pass").await;
    let after = batch(6, 1..3, day_ms(2026, 3, 2), 2);
    duck.load(after.clone()).await.expect("duckdb load");
    wh.load(after).await.expect("clickhouse load");
    assert_same_as_embedded(&wh, &duck, "after a later load").await;
    let later = NaiveDate::from_ymd_opt(2026, 2, 25).unwrap();
    let want = duck.purge_before(pid(P), later).await.expect("duckdb purge");
    let got = wh.purge_before(pid(P), later).await.expect("clickhouse purge");
    assert_eq!((got.installations, got.fact_rows), (want.installations, want.fact_rows), "second cutoff");
    assert_same_as_embedded(&wh, &duck, "after a second cutoff").await;
    for s in 0..wh.shard_count() {
        wh.query_shard(s, &format!("DROP DATABASE {}", config.database)).await.ok();
    }
}

#[tokio::test]
async fn retention_folds_like_the_embedded_backend_and_drops_old_months() {
    retention_scenario("retention_folds_like_the_embedded_backend", PurgeStop::Never).await;
}

#[tokio::test]
async fn a_purge_interrupted_while_folding_is_finished_on_open() {
    retention_scenario("a_purge_interrupted_while_folding", PurgeStop::MidFold).await;
}

#[tokio::test]
async fn a_purge_interrupted_before_its_sweep_is_finished_on_open() {
    retention_scenario("a_purge_interrupted_before_its_sweep", PurgeStop::BeforeSweep).await;
}

fn pid(n: u64) -> ProductId {
    ProductId::from_u64(n).expect("a valid product id")
}

/// Cells compared across backends: DuckDB's BOOLEAN is ClickHouse's UInt8, and small
/// unsigned integers may come back either way.
fn normal(rows: usagi_warehouse::Rows) -> Vec<Vec<Value>> {
    rows.rows
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| match v {
                    Value::Bool(b) => Value::Int(i64::from(b)),
                    Value::UInt(u) if u <= i64::MAX as u64 => Value::Int(u as i64),
                    other => other,
                })
                .collect()
        })
        .collect()
}

fn mark(batch: &mut LoadBatch, client: u64, t: i64, kind: MarkKind, seq: u64) {
    batch.session_marks.push(SessionMarkRow {
        product: pid(P),
        client: ClientId::from_u64(client),
        t,
        seq,
        idx: 0,
        kind,
        session_id: None,
        received_at: t,
        batch_id: Uuid::new_v4(),
    });
}

#[tokio::test]
async fn rollups_equal_the_embedded_backends_including_regrouped_sessions() {
    let Some(db) = TestDb::create("rollups_equal_the_embedded_backends").await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let duck =
        usagi_warehouse_duckdb::DuckWarehouse::open(&dir.path().join("w.duckdb"), &Default::default()).expect("duckdb");
    let t0 = day_ms(2026, 5, 4) + 3_600_000;
    let mut loads = vec![batch(1, 1..7, t0, 5), batch(2, 3..9, t0 + 2 * MS, 3)];
    // Installation 1: sessions starting at +1 h and +5 h, stopped; a late batch then brings a
    // start at +3 h, which splits a session: the later groups are renumbered.
    let mut b = LoadBatch { last_lsn: 3, ..Default::default() };
    mark(&mut b, 1, t0 + 3_600_000, MarkKind::Start, 5);
    mark(&mut b, 1, t0 + 3_700_000, MarkKind::Stop, 5);
    mark(&mut b, 1, t0 + 5 * 3_600_000, MarkKind::Start, 5);
    loads.push(b);
    let mut late = LoadBatch { last_lsn: 4, ..Default::default() };
    mark(&mut late, 1, t0 + 3 * 3_600_000, MarkKind::Start, 6);
    mark(&mut late, 1, t0 + 3 * 3_600_000 + 10, MarkKind::Stop, 6);
    loads.push(late);
    loads.push(batch(5, 2..4, t0 + 40 * MS, 2));
    for l in loads {
        duck.load(l.clone()).await.expect("duckdb load");
        db.wh.load(l).await.expect("clickhouse load");
    }
    for (table, order) in &ROLLUPS[..6] {
        let sql = format!("SELECT * FROM {table} ORDER BY {order}");
        let want = normal(duck.query(sql.clone(), vec![]).await.expect("duckdb rows"));
        let got = normal(db.wh.query(sql, vec![]).await.expect("clickhouse rows"));
        assert!(!want.is_empty(), "{table} has rows");
        assert_eq!(got, want, "{table}");
    }
    // Totals over installations: float sums may differ in the last bit by summation order.
    let sql = "SELECT product_id, day, category, name, n, round(value_sum, 9) FROM event_totals \
               ORDER BY product_id, day, category, name";
    let want = normal(duck.query(sql.into(), vec![]).await.expect("duckdb totals"));
    assert_eq!(normal(db.wh.query(sql.into(), vec![]).await.expect("clickhouse totals")), want, "event_totals");
    let sessions = db.count("SELECT count() FROM sessions WHERE client_id = 1").await;
    assert_eq!(sessions, 4, "the implicit session of the syncs and three explicit ones");
    db.drop().await;
}

/// A late `sessionStop` shortens a stored session that ran across two midnights: the day only
/// the longer session covered is no longer active, on ClickHouse as on the embedded backend.
#[tokio::test]
async fn a_late_stop_that_shortens_a_session_removes_the_day_it_no_longer_covers() {
    let Some(db) = TestDb::create("a_late_stop_that_shortens_a_session").await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let duck =
        usagi_warehouse_duckdb::DuckWarehouse::open(&dir.path().join("w.duckdb"), &Default::default()).expect("duckdb");
    let d = day_ms(2026, 6, 1);
    let mut first = LoadBatch { last_lsn: 1, ..Default::default() };
    mark(&mut first, 20, d + 23 * 3_600_000, MarkKind::Start, 1);
    mark(&mut first, 20, d + 2 * MS + 1_800_000, MarkKind::Heartbeat, 1);
    let mut late = LoadBatch { last_lsn: 2, ..Default::default() };
    mark(&mut late, 20, d + 23 * 3_600_000 + 1_800_000, MarkKind::Stop, 2);
    let days = "SELECT CAST(day AS VARCHAR) FROM client_days WHERE client_id = 20 ORDER BY day";
    let texts = |rows: usagi_warehouse::Rows| -> Vec<String> {
        rows.rows.iter().map(|r| r[0].as_str().unwrap_or_default().to_string()).collect()
    };
    for (n, l) in [first, late].into_iter().enumerate() {
        duck.load(l.clone()).await.expect("duckdb load");
        db.wh.load(l).await.expect("clickhouse load");
        let want = texts(duck.query(days.into(), vec![]).await.expect("duckdb days"));
        let got = texts(db.wh.query(days.into(), vec![]).await.expect("clickhouse days"));
        // Worked by hand: 23:00 on June 1st to 00:30 on June 3rd covers three days; stopped at
        // 23:30, the session covers June 1st, and the heartbeat alone keeps June 3rd active.
        let expected: &[&str] =
            if n == 0 { &["2026-06-01", "2026-06-02", "2026-06-03"] } else { &["2026-06-01", "2026-06-03"] };
        assert_eq!(want, expected, "embedded backend after load {}", n + 1);
        assert_eq!(got, expected, "ClickHouse after load {}", n + 1);
    }
    assert_same_as_embedded(&db.wh, &duck, "after the late stop").await;
    db.drop().await;
}

const MS: i64 = 86_400_000;
