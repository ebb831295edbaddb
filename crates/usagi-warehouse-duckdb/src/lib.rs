//! The embedded warehouse: one DuckDB file in the data directory.

mod append;
mod schema;

/// The full rebuild of the rollups of the installations in the table `affected` (what
/// retention runs). Public for tests that compare a load's rollups with it.
#[doc(hidden)]
pub use schema::refresh_rollups;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate};
use duckdb::types::{TimeUnit, Value as DuckValue};
use duckdb::{params, params_from_iter, Connection, ToSql};
use parking_lot::Mutex;

use usagi_types::{ClientId, ProductId};
use usagi_warehouse::dialect::{Dialect, DuckDialect};
use usagi_warehouse::schema::MS_PER_DAY;
use usagi_warehouse::{
    InputTable, LoadBatch, ObservationSource, Param, PurgeStats, Rows, TextRow, TextSink, Value, Warehouse,
    WarehouseError, STREAM_CHUNK_ROWS,
};

fn engine(e: duckdb::Error) -> WarehouseError {
    WarehouseError::Engine(e.to_string())
}

/// Turns off DuckDB's join filter pushdown (the min/max of a join's build side pushed into the
/// probe side's table scan) for the whole database.
///
/// DuckDB 2.0 corrupts its heap when such a scan reads a table the same transaction has
/// deleted some rows of: a load deletes the `property_days` rows of each installation from the
/// first day of its new observations on, and a later statement of the load that joins
/// `property_days` aborted the server (`malloc(): invalid size`, `munmap_chunk(): invalid
/// pointer`): in 8 of 8 runs of simulating 40 installations and stopping the server, and in
/// 10 of 10 starts on a data directory saved just before such a load. With this setting: 0 of
/// 16 and 0 of 10. It cannot be set per connection (DuckDB refuses `SET SESSION` for it), so
/// report queries go without it too.
const NO_JOIN_FILTER_PUSHDOWN: &str = "SET disabled_optimizers = 'join_filter_pushdown';";

/// Tuning of the embedded engine.
#[derive(Debug, Clone)]
pub struct DuckConfig {
    /// Worker threads DuckDB may use per query.
    pub threads: usize,
    /// Worker threads while the loader loads, for every query (DuckDB's thread count is one
    /// setting for the whole database); `0` = one fewer than `threads`, at least one. On two
    /// cores a load on two threads spends its second one mostly waiting on the first (small
    /// operators, planning), and takes it from the ingest path, which acknowledges batches on
    /// the same cores: 16 senders on 2 cores made 94.8k records/s with loads on two threads,
    /// 102.8k on one (BENCHMARKS.md, 2026-11-28).
    pub load_threads: usize,
    /// DuckDB's memory limit, e.g. `"1GB"`.
    pub memory_limit: String,
    /// WAL size past which a commit checkpoints (`checkpoint_threshold`), e.g. `"16MB"`.
    pub checkpoint_threshold: String,
}

impl Default for DuckConfig {
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            load_threads: 0,
            memory_limit: "1GB".into(),
            checkpoint_threshold: "16MB".into(),
        }
    }
}

/// A DuckDB-backed [`Warehouse`]: one writer connection for the loader, a pool of readers for reports.
pub struct DuckWarehouse {
    writer: Arc<Mutex<Connection>>,
    threads: Threads,
    readers: Arc<Mutex<Vec<Connection>>>,
    /// A connection kept only to clone new readers from.
    origin: Arc<Mutex<Connection>>,
}

impl DuckWarehouse {
    /// Opens (creating if needed) the warehouse file and brings its schema up to date.
    pub fn open(path: &Path, config: &DuckConfig) -> Result<Self, WarehouseError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        Self::on(Connection::open(path).map_err(engine)?, config)
    }

    /// A private in-memory warehouse with the full schema: the ClickHouse backend computes the
    /// rollups of the installations a load touches in one, with the same SQL as this backend.
    pub fn open_in_memory(config: &DuckConfig) -> Result<Self, WarehouseError> {
        Self::on(Connection::open_in_memory().map_err(engine)?, config)
    }

    fn on(conn: Connection, config: &DuckConfig) -> Result<Self, WarehouseError> {
        conn.execute_batch(&format!(
            "SET threads = {}; SET memory_limit = '{}'; SET checkpoint_threshold = '{}';
             SET preserve_insertion_order = false; {NO_JOIN_FILTER_PUSHDOWN}",
            config.threads.max(1),
            config.memory_limit.replace('\'', ""),
            config.checkpoint_threshold.replace('\'', "")
        ))
        .map_err(engine)?;
        migrate(&conn).map_err(engine)?;
        let writer = conn.try_clone().map_err(engine)?;
        writer.execute_batch(schema::WRITER_SCRATCH).map_err(engine)?;
        // Room for every statement of a load ([`schema::LoadStep::reusable`]) and then some.
        writer.set_prepared_statement_cache_capacity(64);
        Ok(Self {
            writer: Arc::new(Mutex::new(writer)),
            threads: Threads::of(config),
            readers: Arc::new(Mutex::new(Vec::new())),
            origin: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs statements on the writer connection, for tools that bulk-generate data
    /// (the `usagi bench` fleets); the server itself writes only through [`Warehouse::load`].
    pub async fn execute_batch(&self, sql: String) -> Result<(), WarehouseError> {
        self.with_writer(move |conn| conn.execute_batch(&sql).map_err(engine)).await
    }

    /// The installations [`Warehouse::purge_before`] would fold (its `affected` set), without
    /// purging: the ClickHouse backend runs the purge in an in-memory copy and needs to know
    /// whose rows it rewrote.
    pub async fn purge_affected(&self, product: ProductId, cutoff: NaiveDate) -> Result<Vec<u64>, WarehouseError> {
        let p = product.as_u64() as i64;
        self.with_writer(move |conn| affected_blocking(conn, p, cutoff).map_err(engine)).await
    }

    fn reader(&self) -> Result<Connection, WarehouseError> {
        if let Some(c) = self.readers.lock().pop() {
            return Ok(c);
        }
        self.origin.lock().try_clone().map_err(engine)
    }

    fn give_back(&self, conn: Connection) {
        let mut pool = self.readers.lock();
        if pool.len() < 16 {
            pool.push(conn);
        }
    }

    /// Runs a closure on the writer connection in a blocking thread.
    async fn with_writer<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, WarehouseError> + Send + 'static,
    ) -> Result<T, WarehouseError> {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || f(&mut writer.lock()))
            .await
            .map_err(|e| WarehouseError::Task(e.to_string()))?
    }
}

fn migrate(conn: &Connection) -> duckdb::Result<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);")?;
    let current: i64 = conn.query_row("SELECT coalesce(max(version), 0) FROM schema_version", [], |r| r.get(0))?;
    for (i, sql) in schema::migrations().iter().enumerate() {
        let version = i as i64 + 1;
        if version <= current {
            continue;
        }
        conn.execute_batch("BEGIN TRANSACTION")?;
        let applied = conn
            .execute_batch(sql)
            .and_then(|_| conn.execute("INSERT INTO schema_version VALUES (?)", params![version]).map(|_| ()));
        match applied {
            Ok(()) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
        tracing::info!(version, "warehouse schema migrated");
    }
    Ok(())
}

fn day_of(t_ms: i64) -> NaiveDate {
    let days = t_ms.div_euclid(MS_PER_DAY);
    DateTime::from_timestamp(days * 86_400, 0).map(|d| d.date_naive()).unwrap_or_default()
}

/// DuckDB's worker threads outside and during loads ([`DuckConfig::load_threads`]).
#[derive(Debug, Clone, Copy)]
struct Threads {
    all: usize,
    load: usize,
}

impl Threads {
    fn of(config: &DuckConfig) -> Self {
        let all = config.threads.max(1);
        let load = match config.load_threads {
            0 => all.saturating_sub(1),
            n => n,
        };
        Self { all, load: load.clamp(1, all) }
    }
}

/// [`load_blocking`] with DuckDB's thread count set to `threads.load` for its duration, and
/// back to `threads.all` after it, whether the load succeeded or not.
fn load_on_threads(conn: &mut Connection, batch: &LoadBatch, threads: Threads) -> duckdb::Result<()> {
    if threads.load == threads.all {
        return load_blocking(conn, batch);
    }
    conn.execute_batch(&format!("SET threads = {}", threads.load))?;
    let loaded = load_blocking(conn, batch);
    let reset = conn.execute_batch(&format!("SET threads = {}", threads.all));
    loaded.and(reset)
}

fn load_blocking(conn: &mut Connection, batch: &LoadBatch) -> duckdb::Result<()> {
    let started = std::time::Instant::now();
    let applied: u64 =
        conn.prepare_cached("SELECT applied_lsn FROM loader_state WHERE id = 1")?.query_row([], |r| r.get(0))?;
    if batch.last_lsn <= applied {
        tracing::debug!(last_lsn = batch.last_lsn, applied, "load batch already applied; skipped");
        return Ok(());
    }
    let tx = conn.transaction()?;
    {
        let mut timings = vec![("read_state", started.elapsed().as_millis() as u64)];
        let mut step = std::time::Instant::now();
        let mut lap = |name: &'static str, timings: &mut Vec<(&'static str, u64)>| {
            timings.push((name, step.elapsed().as_millis() as u64));
            step = std::time::Instant::now();
        };
        append::facts(&tx, batch)?;
        lap("facts", &mut timings);
        let affected = batch.installations();
        run_prepared(&tx, "DELETE FROM affected")?;
        let mut app = tx.appender("affected")?;
        for (p, c) in &affected {
            app.append_row(params![p.as_u64() as i64, c.as_u64()])?;
        }
        drop(app);
        let days = append::event_delta(&tx, &batch.events)?;
        lap("event_delta", &mut timings);
        let sessions_from = session_bounds(&tx, batch)?;
        let properties = property_bounds(&tx, batch)?;
        evidence_days(&tx, batch)?;
        client_changes(&tx, batch)?;
        lap("bounds", &mut timings);
        for step in schema::load_steps(days, sessions_from, properties) {
            if step.reusable {
                run_prepared(&tx, &step.sql)?;
            } else {
                tx.execute_batch(&step.sql)?;
            }
            lap(step.rollup, &mut timings);
        }
        tx.prepare_cached("UPDATE loader_state SET applied_lsn = ? WHERE id = 1")?.execute(params![batch.last_lsn])?;
        let commit = std::time::Instant::now();
        tx.commit()?;
        timings.push(("commit", commit.elapsed().as_millis() as u64));
        tracing::debug!(
            rows = batch.row_count(),
            installations = affected.len(),
            total_ms = started.elapsed().as_millis() as u64,
            ?timings,
            "warehouse load (ms per step)"
        );
    }
    Ok(())
}

/// An installation and session key (`None`: the implicit session).
fn session_key(p: ProductId, c: ClientId, session: &Option<String>) -> (u64, u64, Option<&str>) {
    (p.as_u64(), c.as_u64(), session.as_deref())
}

/// Writes the earliest new session record of each installation and session key to
/// `load_keys`, derives where each installation's sessions are rebuilt from
/// ([`schema::SESSION_BOUNDS`]) and returns the earliest such time, `None` when the load has
/// no session records.
fn session_bounds(tx: &duckdb::Transaction<'_>, batch: &LoadBatch) -> duckdb::Result<Option<i64>> {
    use std::collections::HashMap;
    let records = (batch.events.iter().map(|e| (session_key(e.product, e.client, &e.session_id), e.t)))
        .chain(batch.session_marks.iter().map(|m| (session_key(m.product, m.client, &m.session_id), m.t)))
        .chain(batch.exceptions.iter().map(|x| (session_key(x.product, x.client, &x.session_id), x.t)))
        .chain(
            batch
                .observations
                .iter()
                .filter(|o| o.evidence)
                .map(|o| (session_key(o.product, o.client, &o.session_id), o.t)),
        );
    let mut first: HashMap<(u64, u64, Option<&str>), i64> = HashMap::new();
    for (k, t) in records {
        let e = first.entry(k).or_insert(t);
        *e = (*e).min(t);
    }
    run_prepared(tx, "DELETE FROM load_keys")?;
    if first.is_empty() {
        return Ok(None);
    }
    let mut app = tx.appender("load_keys")?;
    for ((p, c, k), t) in &first {
        app.append_row(params![*p as i64, c, k.unwrap_or_default(), t])?;
    }
    drop(app);
    run_prepared(tx, schema::SESSION_BOUNDS)?;
    tx.prepare_cached("SELECT min(from_t) FROM sessions_from")?.query_row([], |r| r.get(0))
}

/// Splits the installations with new property observations in two. Those whose new
/// observations all come after their `property_marks` (the usual case: an installation's
/// batches arrive in order) get their last value per property and day in `load_prop_days`
/// ([`schema::PROPERTY_DAYS_IN_ORDER`]) and their new mark in `load_prop_marks`; the others
/// (out of order, or no mark yet) get the first day of their new observations in `props_from`
/// and are rebuilt from the stored observations, which also gives their marks.
fn property_bounds(tx: &duckdb::Transaction<'_>, batch: &LoadBatch) -> duckdb::Result<schema::PropertyLoad> {
    use std::collections::HashMap;
    /// An observation's place in the order of semantics §7.2: time, then batch seq, then index.
    type Key = (i64, i64, u32);
    let key = |p: &usagi_warehouse::PropertyRow| (p.t, p.seq as i64, p.idx);
    let installation = |p: &usagi_warehouse::PropertyRow| (p.product.as_u64() as i64, p.client.as_u64());
    run_prepared(tx, "DELETE FROM props_from; DELETE FROM load_prop_days; DELETE FROM load_prop_marks")?;
    // The least and the greatest new observation of each installation.
    let mut span: HashMap<(i64, u64), (Key, Key)> = HashMap::new();
    for p in &batch.properties {
        let k = key(p);
        let e = span.entry(installation(p)).or_insert((k, k));
        e.0 = e.0.min(k);
        e.1 = e.1.max(k);
    }
    if span.is_empty() {
        return Ok(schema::PropertyLoad::default());
    }
    let mut marks: HashMap<(i64, u64), Key> = HashMap::new();
    {
        let mut st = tx.prepare_cached(
            "SELECT product_id, client_id, t, seq, idx FROM property_marks JOIN affected USING (product_id, client_id)",
        )?;
        let rows = st.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?, r.get(4)?))))?;
        for row in rows {
            let (installation, mark) = row?;
            marks.insert(installation, mark);
        }
    }
    let in_order =
        |i: &(i64, u64)| matches!((marks.get(i), span.get(i)), (Some(mark), Some((least, _))) if mark < least);
    let general: Vec<(i64, u64, NaiveDate)> =
        span.iter().filter(|(i, _)| !in_order(i)).map(|((p, c), (least, _))| (*p, *c, day_of(least.0))).collect();
    append::installation_days(tx, "props_from", &general)?;
    let mut last: HashMap<(i64, u64, &str, NaiveDate), (Key, Option<&str>)> = HashMap::new();
    for p in batch.properties.iter().filter(|p| in_order(&installation(p))) {
        let (i, k) = (installation(p), key(p));
        let e = last.entry((i.0, i.1, p.name.as_str(), day_of(p.t))).or_insert((k, p.value.as_deref()));
        if k >= e.0 {
            *e = (k, p.value.as_deref());
        }
    }
    let rows: Vec<append::LastValue<'_>> =
        last.into_iter().map(|((p, c, name, day), (_, value))| (p, c, name, day, value)).collect();
    append::last_values(tx, &rows)?;
    let new_marks: Vec<(i64, u64, i64, i64, u32)> =
        span.iter().filter(|(i, _)| in_order(i)).map(|((p, c), (_, (t, s, x)))| (*p, *c, *t, *s, *x)).collect();
    append::property_marks(tx, &new_marks)?;
    Ok(schema::PropertyLoad { general: general.iter().map(|r| r.2).min(), in_order: !rows.is_empty() })
}

/// Adds the days the load's records show activity on to `evidence_days`.
fn evidence_days(tx: &duckdb::Transaction<'_>, batch: &LoadBatch) -> duckdb::Result<()> {
    use std::collections::HashSet;
    let key = |p: ProductId, c: ClientId, t: i64| (p.as_u64() as i64, c.as_u64(), day_of(t));
    let days: HashSet<(i64, u64, NaiveDate)> = (batch.contacts.iter().map(|r| key(r.product, r.client, r.received_at)))
        .chain(batch.events.iter().map(|r| key(r.product, r.client, r.t)))
        .chain(batch.session_marks.iter().map(|r| key(r.product, r.client, r.t)))
        .chain(batch.exceptions.iter().map(|r| key(r.product, r.client, r.t)))
        .chain(batch.observations.iter().filter(|r| r.evidence).map(|r| key(r.product, r.client, r.t)))
        .collect();
    run_prepared(tx, "DELETE FROM load_days")?;
    let rows: Vec<(i64, u64, NaiveDate)> = days.into_iter().collect();
    append::installation_days(tx, "load_days", &rows)?;
    run_prepared(tx, schema::EVIDENCE_DAYS_OF_LOAD)
}

/// Writes to `load_clients`, for every installation of the load, what the load adds to its
/// `clients` row besides its sessions: its last contact and its number of exceptions, and from
/// when its opt-out state is recomputed (see `schema::clients_of_load`): from the least of
/// the load's opt-out and opt-in observations, from the beginning for an installation without
/// a row, never (NULL) for one with a row and none in the load.
fn client_changes(tx: &duckdb::Transaction<'_>, batch: &LoadBatch) -> duckdb::Result<()> {
    use std::collections::{HashMap, HashSet};
    #[derive(Default)]
    struct Change {
        last_sync_at: Option<i64>,
        exceptions: i64,
        opt_from: Option<i64>,
    }
    let key = |p: ProductId, c: ClientId| (p.as_u64() as i64, c.as_u64());
    let mut changes: HashMap<(i64, u64), Change> =
        batch.installations().into_iter().map(|(p, c)| (key(p, c), Change::default())).collect();
    for r in &batch.contacts {
        let e = changes.entry(key(r.product, r.client)).or_default();
        e.last_sync_at = e.last_sync_at.max(Some(r.received_at));
    }
    for r in &batch.exceptions {
        changes.entry(key(r.product, r.client)).or_default().exceptions += 1;
    }
    let opt =
        |o: &&usagi_warehouse::ObservationRow| matches!(o.source, ObservationSource::OptOut | ObservationSource::OptIn);
    for r in batch.observations.iter().filter(opt) {
        let e = changes.entry(key(r.product, r.client)).or_default();
        e.opt_from = Some(e.opt_from.map_or(r.t, |t| t.min(r.t)));
    }
    let with_row: HashSet<(i64, u64)> = {
        let mut st =
            tx.prepare_cached("SELECT product_id, client_id FROM clients JOIN affected USING (product_id, client_id)")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<duckdb::Result<_>>()?
    };
    run_prepared(tx, "DELETE FROM load_clients")?;
    let mut app = tx.appender("load_clients")?;
    for (installation, change) in &changes {
        let opt_from = if with_row.contains(installation) { change.opt_from } else { Some(i64::MIN) };
        app.append_row(params![installation.0, installation.1, change.last_sync_at, change.exceptions, opt_from])?;
    }
    Ok(())
}

/// Runs the statements of `sql` through the connection's statement cache, so a load's
/// statements are parsed once per connection ([`schema::LoadStep::reusable`]).
fn run_prepared(conn: &Connection, sql: &str) -> duckdb::Result<()> {
    for statement in schema::statements(sql) {
        conn.prepare_cached(statement)?.execute([])?;
    }
    Ok(())
}

fn to_sql(p: &Param) -> Box<dyn ToSql> {
    match p {
        Param::Int(v) => Box::new(*v),
        Param::UInt(v) => Box::new(*v),
        Param::Float(v) => Box::new(*v),
        Param::Text(v) => Box::new(v.clone()),
        Param::Date(d) => Box::new(*d),
        Param::Bool(b) => Box::new(*b),
    }
}

fn from_duck(v: DuckValue) -> Value {
    match v {
        DuckValue::Null => Value::Null,
        DuckValue::Boolean(b) => Value::Bool(b),
        DuckValue::TinyInt(i) => Value::Int(i.into()),
        DuckValue::SmallInt(i) => Value::Int(i.into()),
        DuckValue::Int(i) => Value::Int(i.into()),
        DuckValue::BigInt(i) => Value::Int(i),
        DuckValue::HugeInt(i) => i64::try_from(i).map(Value::Int).unwrap_or(Value::Float(i as f64)),
        DuckValue::UTinyInt(i) => Value::Int(i.into()),
        DuckValue::USmallInt(i) => Value::Int(i.into()),
        DuckValue::UInt(i) => Value::Int(i.into()),
        DuckValue::UBigInt(i) => Value::UInt(i),
        DuckValue::Float(f) => Value::Float(f.into()),
        DuckValue::Double(f) => Value::Float(f),
        DuckValue::Decimal(d) => Value::Float(d.to_string().parse().unwrap_or(0.0)),
        DuckValue::Text(s) => Value::Text(s),
        DuckValue::Date32(d) => Value::Date(day_of(i64::from(d) * MS_PER_DAY)),
        DuckValue::Timestamp(unit, n) => {
            let ms = match unit {
                TimeUnit::Second => n * 1000,
                TimeUnit::Millisecond => n,
                TimeUnit::Microsecond => n / 1000,
                TimeUnit::Nanosecond => n / 1_000_000,
            };
            Value::Int(ms)
        }
        other => Value::Text(format!("{other:?}")),
    }
}

fn query_blocking(conn: &Connection, sql: &str, params: &[Param]) -> duckdb::Result<Rows> {
    let mut stmt = conn.prepare(sql)?;
    let boxed: Vec<Box<dyn ToSql>> = params.iter().map(to_sql).collect();
    let mut out = Rows::default();
    let mut rows = stmt.query(params_from_iter(boxed.iter()))?;
    let mut width = None;
    while let Some(row) = rows.next()? {
        let n = *width.get_or_insert_with(|| row.as_ref().column_count());
        let mut cells = Vec::with_capacity(n);
        for i in 0..n {
            cells.push(from_duck(row.get::<_, DuckValue>(i)?));
        }
        out.rows.push(cells);
    }
    drop(rows);
    out.columns = stmt.column_names();
    Ok(out)
}

/// Streams a text-only query through DuckDB's streaming result: Arrow batches are fetched as
/// the sink takes them, so neither side materialises the result.
fn stream_blocking(conn: &Connection, sql: &str, params: &[Param], sink: &TextSink) -> Result<u64, WarehouseError> {
    use duckdb::arrow::array::{Array, StringArray};
    use duckdb::arrow::compute::cast;
    use duckdb::arrow::datatypes::DataType;

    let mut stmt = conn.prepare(sql).map_err(engine)?;
    let boxed: Vec<Box<dyn ToSql>> = params.iter().map(to_sql).collect();
    let stream = stmt.stream_arrow(params_from_iter(boxed.iter())).map_err(engine)?;
    let mut sent = 0u64;
    let mut chunk: Vec<TextRow> = Vec::with_capacity(STREAM_CHUNK_ROWS);
    for batch in stream {
        let batch = batch.map_err(engine)?;
        let columns: Vec<StringArray> = batch
            .columns()
            .iter()
            .map(|c| {
                let text = cast(c, &DataType::Utf8).map_err(|e| WarehouseError::Engine(e.to_string()))?;
                text.as_any()
                    .downcast_ref::<StringArray>()
                    .cloned()
                    .ok_or_else(|| WarehouseError::Engine("a streamed column is not text".into()))
            })
            .collect::<Result<_, _>>()?;
        for row in 0..batch.num_rows() {
            chunk.push(columns.iter().map(|c| (!c.is_null(row)).then(|| c.value(row).to_string())).collect());
            if chunk.len() == STREAM_CHUNK_ROWS {
                sent += chunk.len() as u64;
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(STREAM_CHUNK_ROWS));
                sink.send(full).map_err(|_| WarehouseError::Task("the export stream was closed".into()))?;
            }
        }
    }
    if !chunk.is_empty() {
        sent += chunk.len() as u64;
        sink.send(chunk).map_err(|_| WarehouseError::Task("the export stream was closed".into()))?;
    }
    Ok(sent)
}

/// Runs `f` with `inputs` present as temporary tables of this connection, dropping them after.
fn with_inputs<T>(
    conn: &Connection,
    inputs: &[InputTable],
    f: impl FnOnce() -> duckdb::Result<T>,
) -> duckdb::Result<T> {
    for t in inputs {
        let cols: Vec<String> = t.columns.iter().map(|c| format!("{c} VARCHAR")).collect();
        conn.execute_batch(&format!("CREATE OR REPLACE TEMP TABLE {} ({})", t.name, cols.join(", ")))?;
        let width = t.columns.len().max(1);
        // Chunked multi-row inserts keep the statement under DuckDB's parameter limits.
        for chunk in t.rows.chunks((2048 / width).max(1)) {
            let row = format!("({})", vec!["?"; width].join(", "));
            let sql = format!("INSERT INTO {} VALUES {}", t.name, vec![row; chunk.len()].join(", "));
            let values: Vec<Option<&str>> = chunk.iter().flat_map(|r| r.iter().map(|v| v.as_deref())).collect();
            conn.execute(&sql, params_from_iter(values.iter()))?;
        }
    }
    let result = f();
    for t in inputs {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS temp.{}", t.name))?;
    }
    result
}

/// Deletes one installation everywhere, then recomputes the event totals of its days.
fn erase_blocking(conn: &mut Connection, product: i64, client: u64) -> duckdb::Result<u64> {
    let tx = conn.transaction()?;
    tx.execute_batch("DELETE FROM affected_days")?;
    tx.execute(
        "INSERT INTO affected_days SELECT DISTINCT product_id, day FROM event_days WHERE product_id = ? AND client_id = ?",
        params![product, client],
    )?;
    let mut removed = 0u64;
    for table in schema::INSTALLATION_TABLES {
        let n = tx.execute(
            &format!("DELETE FROM {table} WHERE product_id = ? AND client_id = ?"),
            params![product, client],
        )?;
        if !matches!(
            *table,
            "sessions"
                | "client_days"
                | "clients"
                | "property_days"
                | "client_events"
                | "event_days"
                | "evidence_days"
                | "property_marks"
        ) {
            removed += n as u64;
        }
    }
    tx.execute_batch(schema::EVENT_TOTALS)?;
    tx.execute_batch("DELETE FROM affected_days")?;
    tx.commit()?;
    Ok(removed)
}

/// The installations a purge before `cutoff` would fold, without folding them.
fn affected_blocking(conn: &mut Connection, product: i64, cutoff: NaiveDate) -> duckdb::Result<Vec<u64>> {
    let sql = schema::purge_before(product, cutoff);
    let tx = conn.transaction()?;
    tx.execute_batch(&sql.prepare)?;
    let ids = {
        let mut st = tx.prepare("SELECT client_id FROM affected ORDER BY client_id")?;
        let rows = st.query_map([], |r| r.get::<_, u64>(0))?;
        rows.collect::<duckdb::Result<Vec<u64>>>()?
    };
    tx.rollback()?;
    Ok(ids)
}

/// Folds and deletes one product's detail data before `cutoff` (see [`schema::purge_before`]).
fn purge_blocking(conn: &mut Connection, product: i64, cutoff: NaiveDate) -> duckdb::Result<PurgeStats> {
    let sql = schema::purge_before(product, cutoff);
    let tx = conn.transaction()?;
    tx.execute_batch(&sql.prepare)?;
    let installations: i64 = tx.query_row("SELECT count(*) FROM affected", [], |r| r.get(0))?;
    let mut stats = PurgeStats { installations: installations as u64, fact_rows: 0 };
    if installations == 0 {
        // Nothing older than the cutoff: the daily pass of an up-to-date product ends here.
        tx.execute_batch("DROP TABLE kept_starts")?;
        tx.commit()?;
        return Ok(stats);
    }
    tx.execute_batch(&sql.fold)?;
    for (table, delete) in &sql.fact_deletes {
        let n = tx.execute(delete, [])? as u64;
        tracing::debug!(table, rows = n, "purged");
        stats.fact_rows += n;
    }
    tx.execute_batch(&sql.rollups)?;
    tx.commit()?;
    Ok(stats)
}

#[async_trait]
impl Warehouse for DuckWarehouse {
    async fn purge_before(&self, product: ProductId, cutoff: NaiveDate) -> Result<PurgeStats, WarehouseError> {
        let p = product.as_u64() as i64;
        self.with_writer(move |conn| purge_blocking(conn, p, cutoff).map_err(engine)).await
    }

    async fn erase_installation(&self, product: ProductId, client: ClientId) -> Result<u64, WarehouseError> {
        let (p, c) = (product.as_u64() as i64, client.as_u64());
        self.with_writer(move |conn| erase_blocking(conn, p, c).map_err(engine)).await
    }

    fn dialect(&self) -> &'static dyn Dialect {
        &DuckDialect
    }

    async fn load(&self, batch: LoadBatch) -> Result<(), WarehouseError> {
        let threads = self.threads;
        self.with_writer(move |conn| load_on_threads(conn, &batch, threads).map_err(engine)).await
    }

    async fn applied_lsn(&self) -> Result<u64, WarehouseError> {
        self.with_writer(|conn| {
            conn.query_row("SELECT applied_lsn FROM loader_state WHERE id = 1", [], |r| r.get(0)).map_err(engine)
        })
        .await
    }

    async fn query(&self, sql: String, params: Vec<Param>) -> Result<Rows, WarehouseError> {
        self.query_with(sql, params, Vec::new()).await
    }

    async fn stream_text(&self, sql: String, params: Vec<Param>, sink: TextSink) -> Result<u64, WarehouseError> {
        let conn = self.reader()?;
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let r = stream_blocking(&conn, &sql, &params, &sink);
            (conn, r)
        })
        .await
        .map_err(|e| WarehouseError::Task(e.to_string()))?;
        self.give_back(conn);
        result
    }

    async fn query_with(
        &self,
        sql: String,
        params: Vec<Param>,
        inputs: Vec<InputTable>,
    ) -> Result<Rows, WarehouseError> {
        let conn = self.reader()?;
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let r = with_inputs(&conn, &inputs, || query_blocking(&conn, &sql, &params));
            (conn, r)
        })
        .await
        .map_err(|e| WarehouseError::Task(e.to_string()))?;
        self.give_back(conn);
        result.map_err(engine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A warehouse written by an older version (schema 2: facts, narrow rollups) is brought
    /// up to date on open, with every rollup rebuilt from its facts.
    #[test]
    fn old_warehouses_are_migrated_and_their_rollups_rebuilt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("warehouse.duckdb");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch("CREATE TABLE schema_version (version INTEGER NOT NULL);").expect("version table");
            for (i, sql) in schema::migrations().iter().take(2).enumerate() {
                conn.execute_batch(sql).expect("old migration");
                conn.execute("INSERT INTO schema_version VALUES (?)", params![i as i64 + 1]).expect("version");
            }
            // One installation: a contact on 2024-03-01 and 03-02, a product snapshot on 03-01,
            // two events on 03-02.
            let (p, c) = (2_376_158_762_i64, 0xAA_u64);
            conn.execute_batch(&format!(
                "INSERT INTO contacts VALUES ({p}, {c}, 1709283600000, DATE '2024-03-01', gen_random_uuid(), 1, 1);
                 INSERT INTO contacts VALUES ({p}, {c}, 1709370000000, DATE '2024-03-02', gen_random_uuid(), 2, 2);
                 INSERT INTO observations VALUES ({p}, {c}, 1709280000000, DATE '2024-03-01', 1, 0, 1, true, NULL, '{{}}');
                 INSERT INTO property_changes VALUES ({p}, {c}, 1709280000000, DATE '2024-03-01', 1, 0, 'prodVersion', '1.0');
                 INSERT INTO events VALUES ({p}, {c}, 1709366400000, DATE '2024-03-02', 2, 0, NULL, 'File', 'Open', 2.5, NULL, NULL, 1709370000000);
                 INSERT INTO events VALUES ({p}, {c}, 1709366400001, DATE '2024-03-02', 2, 1, NULL, 'File', 'Open', NULL, NULL, NULL, 1709370000000);"
            ))
            .expect("old facts");
        }
        let wh = DuckWarehouse::open(&path, &DuckConfig::default()).expect("migrates");
        let conn = wh.origin.lock();
        let version: i64 =
            conn.query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0)).expect("version");
        assert_eq!(version as usize, schema::migrations().len());
        let days: Vec<(String, bool, Option<String>)> = conn
            .prepare("SELECT CAST(day AS VARCHAR), first_day, prod_version FROM client_days ORDER BY day")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
            .expect("client_days");
        assert_eq!(
            days,
            vec![("2024-03-01".into(), true, Some("1.0".into())), ("2024-03-02".into(), false, Some("1.0".into()))],
            "end-of-day values carried forward, the installation day flagged"
        );
        let flags: Vec<(bool, bool)> = conn
            .prepare("SELECT week_last, month_last FROM client_days ORDER BY day")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .expect("flags");
        assert_eq!(flags, vec![(false, false), (true, true)], "03-02 is the last active day of its week and month");
        let (lt, installed): (String, String) = conn
            .query_row("SELECT license_type, CAST(date_installed AS VARCHAR) FROM clients", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("clients");
        assert_eq!((lt.as_str(), installed.as_str()), ("unknown", "2024-03-01"));
        let (n, sum): (i64, f64) = conn
            .query_row("SELECT n, value_sum FROM event_totals", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("totals");
        assert_eq!((n, sum), (2, 2.5));
        let n: i64 = conn.query_row("SELECT n FROM client_events", [], |r| r.get(0)).expect("client_events");
        assert_eq!(n, 2);
        // Migration 8: old rows take receive time and batch from the contact of their `seq`.
        let matched: i64 = conn
            .query_row(
                "SELECT count(*) FROM events e JOIN contacts k ON k.batch_id = e.batch_id AND k.seq = 2",
                [],
                |r| r.get(0),
            )
            .expect("events.batch_id");
        assert_eq!(matched, 2, "both events name the batch of contact seq 2");
        let received: i64 =
            conn.query_row("SELECT received_at FROM property_changes", [], |r| r.get(0)).expect("received_at");
        assert_eq!(received, 1_709_283_600_000, "the property change was received with contact seq 1");
    }

    /// Migration 12 keeps the `property_days` rows on which a value first appears or changes.
    #[test]
    fn property_days_of_an_older_warehouse_keep_only_their_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("warehouse.duckdb");
        let before_12 = 11;
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch("CREATE TABLE schema_version (version INTEGER NOT NULL);").expect("version table");
            for (i, sql) in schema::migrations().iter().take(before_12).enumerate() {
                conn.execute_batch(sql).expect("old migration");
                conn.execute("INSERT INTO schema_version VALUES (?)", params![i as i64 + 1]).expect("version");
            }
            // Installation A: 1.0, 1.0, 2.0, 2.0, 1.0 on five days; installation B: NULL twice,
            // then 1.0; B's edition on one day.
            let row = |c: u32, name: &str, day: u32, v: Option<&str>| {
                let v = v.map_or("NULL".to_string(), |v| format!("'{v}'"));
                format!("INSERT INTO property_days VALUES (1, {c}, '{name}', DATE '2024-03-0{day}', {v});")
            };
            let rows: String = [
                row(1, "prodVersion", 1, Some("1.0")),
                row(1, "prodVersion", 2, Some("1.0")),
                row(1, "prodVersion", 3, Some("2.0")),
                row(1, "prodVersion", 4, Some("2.0")),
                row(1, "prodVersion", 5, Some("1.0")),
                row(2, "prodVersion", 1, None),
                row(2, "prodVersion", 2, None),
                row(2, "prodVersion", 3, Some("1.0")),
                row(2, "prodEdition", 2, Some("Pro")),
            ]
            .concat();
            conn.execute_batch(&rows).expect("old property days");
        }
        let wh = DuckWarehouse::open(&path, &DuckConfig::default()).expect("migrates");
        let conn = wh.origin.lock();
        let kept: Vec<(u32, String, String, Option<String>)> = conn
            .prepare("SELECT client_id, name, CAST(day AS VARCHAR), value FROM property_days ORDER BY ALL")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect())
            .expect("property_days");
        let day = |d: u32| format!("2024-03-0{d}");
        let v = |s: &str| Some(s.to_string());
        assert_eq!(
            kept,
            vec![
                (1, "prodVersion".into(), day(1), v("1.0")),
                (1, "prodVersion".into(), day(3), v("2.0")),
                (1, "prodVersion".into(), day(5), v("1.0")),
                (2, "prodEdition".into(), day(2), v("Pro")),
                (2, "prodVersion".into(), day(1), None),
                (2, "prodVersion".into(), day(3), v("1.0")),
            ]
        );
    }
}
