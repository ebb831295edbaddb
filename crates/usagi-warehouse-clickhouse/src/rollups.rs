//! Rollups on ClickHouse, written by the loader.
//!
//! After a load's facts are on their shards, the loader reads the whole history of every
//! installation the load touched from that installation's shard, computes the installation's
//! rollups in a private in-memory DuckDB with exactly the embedded backend's SQL
//! (`usagi_warehouse_duckdb::schema::refresh_rollups`), and writes the resulting rows back
//! to the shard. So the numbers of both backends come from one definition.
//!
//! Each rollup table is a `ReplacingMergeTree(version)` per shard, keyed by its natural key,
//! behind a `Distributed` table `<name>_all` and a view `<name>` that reads it `FINAL`: a
//! refresh writes every row of an installation with a newer version. Keys rarely disappear on a
//! refresh (new records add active days, sessions, events or property days; a late
//! `sessionStart` renumbers later groups, which all still exist), but a late `sessionStop` can
//! shorten a session and take away a day only it covered, so a refresh then writes tombstones
//! (`deleted = 1`) for the installation's rows it did not rewrite. Erasure deletes rows by
//! mutation, and retention, which makes keys disappear (the purged days), writes tombstones for
//! them too (see [`crate::purge`]). `event_totals`, the one rollup summed over
//! installations, is a view over `event_days`.
//!
//! The column lists and types come from the in-memory DuckDB's own schema, so a new DuckDB
//! migration that adds a rollup column reaches ClickHouse without a second list to keep.

use std::fmt::Write as _;

use clickhouse::Client;
use usagi_warehouse::facts::*;
use usagi_warehouse::{Value, Warehouse, WarehouseError};
use usagi_warehouse_duckdb::{DuckConfig, DuckWarehouse};

use crate::{engine, fetch};

/// One rollup table of the logical schema.
pub struct RollupTable {
    /// Logical name (the view reports read).
    pub name: &'static str,
    /// The natural key: ReplacingMergeTree keeps the newest row per key.
    pub order_by: &'static str,
    /// Partition expression.
    pub partition_by: &'static str,
}

/// The per-installation rollups, as the embedded backend computes them.
pub const ROLLUP_TABLES: &[RollupTable] = &[
    RollupTable { name: "sessions", order_by: "(product_id, client_id, session_key, grp)", partition_by: "product_id" },
    RollupTable {
        name: "client_days",
        order_by: "(product_id, client_id, day)",
        partition_by: "(product_id, toYYYYMM(day))",
    },
    RollupTable { name: "clients", order_by: "(product_id, client_id)", partition_by: "product_id" },
    RollupTable {
        name: "client_events",
        order_by: "(product_id, client_id, ifNull(category, '\\0'), name)",
        partition_by: "product_id",
    },
    RollupTable {
        name: "event_days",
        order_by: "(product_id, client_id, day, ifNull(category, '\\0'), name)",
        partition_by: "(product_id, toYYYYMM(day))",
    },
    RollupTable {
        name: "property_days",
        order_by: "(product_id, client_id, name, day)",
        partition_by: "(product_id, toYYYYMM(day))",
    },
    // The retention base (what purged detail data leaves behind): reports read it beside the
    // rollups; a refresh starts the in-memory computation from it and writes it back unchanged.
    RollupTable { name: "purged_days", order_by: "(product_id, client_id, day)", partition_by: "product_id" },
    RollupTable { name: "client_base", order_by: "(product_id, client_id)", partition_by: "product_id" },
    RollupTable {
        name: "client_event_base",
        order_by: "(product_id, client_id, ifNull(category, '\\0'), name)",
        partition_by: "product_id",
    },
];

/// A column of a rollup table: name, ClickHouse type.
#[derive(Debug, Clone)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// ClickHouse type, `Nullable(…)` where DuckDB allows NULL.
    pub ty: String,
}

/// The columns of every rollup table, read from DuckDB's schema.
#[derive(Debug, Clone)]
pub struct RollupSchema {
    /// Per table of [`ROLLUP_TABLES`], in the same order.
    pub tables: Vec<Vec<Column>>,
    /// Names of the columns that are BOOLEAN in DuckDB (UInt8 here): query results with
    /// these names are turned back into booleans.
    pub booleans: std::collections::HashSet<String>,
}

fn clickhouse_type(duck: &str) -> Result<&'static str, WarehouseError> {
    Ok(match duck {
        "BIGINT" => "Int64",
        "UBIGINT" => "UInt64",
        "INTEGER" => "Int32",
        "UINTEGER" => "UInt32",
        "SMALLINT" => "Int16",
        "USMALLINT" => "UInt16",
        "TINYINT" => "Int8",
        "UTINYINT" | "BOOLEAN" => "UInt8",
        "DOUBLE" => "Float64",
        "FLOAT" => "Float32",
        "DATE" => "Date",
        "VARCHAR" => "String",
        "UUID" => "UUID",
        other => return Err(engine(format!("no ClickHouse type for DuckDB's {other}"))),
    })
}

impl RollupSchema {
    /// Reads the rollup columns from a DuckDB warehouse with the current schema.
    pub async fn read(duck: &DuckWarehouse) -> Result<Self, WarehouseError> {
        let mut tables = Vec::new();
        let mut booleans = std::collections::HashSet::new();
        for t in ROLLUP_TABLES {
            let rows = duck
                .query(
                    format!(
                        "SELECT column_name, data_type, is_nullable FROM information_schema.columns \
                         WHERE table_name = '{}' ORDER BY ordinal_position",
                        t.name
                    ),
                    vec![],
                )
                .await?;
            let mut cols = Vec::new();
            for r in rows.rows {
                let (Some(name), Some(ty), Some(nullable)) = (r[0].as_str(), r[1].as_str(), r[2].as_str()) else {
                    return Err(engine("unexpected information_schema row"));
                };
                if ty == "BOOLEAN" {
                    booleans.insert(name.to_string());
                }
                let base = clickhouse_type(ty)?;
                let ty = if nullable == "YES" { format!("Nullable({base})") } else { base.to_string() };
                cols.push(Column { name: name.to_string(), ty });
            }
            if cols.is_empty() {
                return Err(engine(format!("DuckDB has no rollup table {}", t.name)));
            }
            tables.push(cols);
        }
        Ok(Self { tables, booleans })
    }

    /// DDL for the rollup tables, their `Distributed` tables and views; idempotent.
    pub fn create_statements(&self, database: &str, cluster: &str) -> Vec<String> {
        let mut all = Vec::new();
        for (t, cols) in ROLLUP_TABLES.iter().zip(&self.tables) {
            let defs: Vec<String> = cols.iter().map(|c| format!("{} {}", c.name, c.ty)).collect();
            let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
            all.push(format!(
                "CREATE TABLE IF NOT EXISTS {database}.{n}_local ({defs}, version UInt64, deleted UInt8) \
                 ENGINE = ReplacingMergeTree(version) PARTITION BY {p} ORDER BY {o}",
                n = t.name,
                defs = defs.join(", "),
                p = t.partition_by,
                o = t.order_by
            ));
            all.push(format!(
                "CREATE TABLE IF NOT EXISTS {database}.{n}_all AS {database}.{n}_local \
                 ENGINE = Distributed({cluster}, {database}, {n}_local, client_id)",
                n = t.name
            ));
            all.push(format!(
                "CREATE VIEW IF NOT EXISTS {database}.{n} AS SELECT {cols} FROM {database}.{n}_all FINAL \
                 WHERE deleted = 0",
                n = t.name,
                cols = names.join(", ")
            ));
        }
        all.push(format!(
            "CREATE VIEW IF NOT EXISTS {database}.event_totals AS \
             SELECT product_id, day, category, name, sum(n) AS n, sum(value_sum) AS value_sum \
             FROM {database}.event_days GROUP BY product_id, day, category, name"
        ));
        all
    }
}

/// `(product_id, client_id) IN (…)` for a list of installations.
fn in_list(clients: &[(i64, u64)]) -> String {
    let mut s = String::from("(product_id, client_id) IN (");
    for (i, (p, c)) in clients.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "({p}, {c})");
    }
    s.push(')');
    s
}

/// Installations per refresh round: keeps the `IN` list well under 18.16's 256 KiB
/// `max_query_size` and the in-memory DuckDB small.
pub const REFRESH_CHUNK: usize = 500;

/// Reads the complete facts of `clients` from one shard as a load batch (the columns and
/// their decoding are the logical schema's, shared with `usagi migrate`).
async fn history(shard: &Client, clients: &[(i64, u64)]) -> Result<LoadBatch, WarehouseError> {
    let cond = in_list(clients);
    let mut batch = LoadBatch { last_lsn: 1, ..Default::default() };
    for (table, columns) in usagi_warehouse::history::FACT_SELECTS {
        let sql = crate::dialect::normalize(&format!("SELECT {columns} FROM {table}_local WHERE {cond}"));
        usagi_warehouse::history::push_rows(&mut batch, table, fetch(shard, &sql).await?)?;
    }
    Ok(batch)
}

/// One cell as JSON for `JSONEachRow` (dates as text, booleans as 0/1).
pub(crate) fn json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Int(i) => (*i).into(),
        Value::UInt(u) => (*u).into(),
        Value::Float(f) => serde_json::Number::from_f64(*f).map(serde_json::Value::Number).unwrap_or_default(),
        Value::Text(s) => s.clone().into(),
        Value::Date(d) => d.format("%Y-%m-%d").to_string().into(),
        Value::Bool(b) => u8::from(*b).into(),
    }
}

/// The retention base tables among [`ROLLUP_TABLES`]: what purged detail data leaves behind.
/// A refresh starts the in-memory computation from them, as the embedded backend's rollups
/// combine them with the remaining facts.
pub const BASE_TABLES: &[&str] = &["purged_days", "client_base", "client_event_base"];

/// A cell as a DuckDB literal (`boolean`: the column is BOOLEAN there, UInt8 here).
fn literal(v: &Value, boolean: bool) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Int(i) if boolean => (*i != 0).to_string(),
        Value::UInt(u) if boolean => (*u != 0).to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Date(d) => format!("DATE '{}'", d.format("%Y-%m-%d")),
        Value::Bool(b) => b.to_string(),
    }
}

/// Copies the base rows of `clients` from the shard into the in-memory computation.
async fn load_base(
    shard: &Client,
    schema: &RollupSchema,
    clients: &[(i64, u64)],
    duck: &DuckWarehouse,
) -> Result<(), WarehouseError> {
    for (t, cols) in ROLLUP_TABLES.iter().zip(&schema.tables).filter(|(t, _)| BASE_TABLES.contains(&t.name)) {
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        let rows = fetch(
            shard,
            &format!(
                "SELECT {} FROM {}_local FINAL WHERE deleted = 0 AND {}",
                names.join(", "),
                t.name,
                in_list(clients)
            ),
        )
        .await?;
        if rows.rows.is_empty() {
            continue;
        }
        let flags: Vec<bool> = names.iter().map(|n| schema.booleans.contains(*n)).collect();
        let mut sql = format!("INSERT INTO {} ({}) VALUES ", t.name, names.join(", "));
        for (i, r) in rows.rows.iter().enumerate() {
            let cells: Vec<String> = r.iter().zip(&flags).map(|(v, b)| literal(v, *b)).collect();
            let _ = write!(sql, "{}({})", if i > 0 { ", " } else { "" }, cells.join(", "));
        }
        duck.execute_batch(sql).await?;
    }
    // A load adds its events to the stored `client_events` rows, which on the embedded
    // warehouse already hold what retention folded into `client_event_base`; here nothing is
    // stored yet, so the rows start as the base alone (what a rebuild gives without events).
    duck.execute_batch(
        "INSERT INTO client_events SELECT product_id, client_id, category, name, n, first_day, last_day FROM client_event_base"
            .into(),
    )
    .await?;
    Ok(())
}

/// The rollups of `clients` (all on `shard`), computed in a private in-memory DuckDB from
/// their base rows and facts; also returns the facts read when `keep_facts`.
pub(crate) async fn compute(
    shard: &Client,
    schema: &RollupSchema,
    clients: &[(i64, u64)],
    keep_facts: bool,
) -> Result<(DuckWarehouse, Option<LoadBatch>), WarehouseError> {
    let facts = history(shard, clients).await?;
    let duck = DuckWarehouse::open_in_memory(&DuckConfig {
        threads: 1,
        memory_limit: "512MB".into(),
        ..DuckConfig::default()
    })?;
    load_base(shard, schema, clients, &duck).await?;
    let kept = keep_facts.then(|| facts.clone());
    duck.load(facts).await?;
    Ok((duck, kept))
}

/// Writes the rollup rows of the in-memory computation that `only` (an SQL condition) admits
/// to the shard with `version`.
pub(crate) async fn write(
    shard: &Client,
    schema: &RollupSchema,
    duck: &DuckWarehouse,
    version: u64,
    only: &str,
) -> Result<(), WarehouseError> {
    // `client_base` last: a retention purge takes its row as the mark of an installation whose
    // rollups are all written (see `crate::purge`).
    let last = |t: &&RollupTable| t.name == "client_base";
    let tables = ROLLUP_TABLES.iter().zip(&schema.tables);
    for (t, cols) in tables.clone().filter(|(t, _)| !last(t)).chain(tables.filter(|(t, _)| last(t))) {
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        let rows = duck.query(format!("SELECT {} FROM {} WHERE {only}", names.join(", "), t.name), vec![]).await?;
        let mut body = String::new();
        for r in &rows.rows {
            let mut obj = serde_json::Map::new();
            for (name, v) in names.iter().zip(r) {
                obj.insert((*name).to_string(), json(v));
            }
            obj.insert("version".into(), version.into());
            obj.insert("deleted".into(), 0.into());
            body.push_str(&serde_json::Value::Object(obj).to_string());
            body.push('\n');
        }
        if body.is_empty() {
            continue;
        }
        let mut insert = shard.insert_formatted_with(format!("INSERT INTO {}_local FORMAT JSONEachRow", t.name));
        insert.send(body.into()).await.map_err(engine)?;
        insert.end().await.map_err(engine)?;
    }
    Ok(())
}

/// Recomputes the rollups of `clients` (all on `shard`) and writes them with `version`.
pub async fn refresh(
    shard: &Client,
    schema: &RollupSchema,
    clients: &[(i64, u64)],
    version: u64,
) -> Result<(), WarehouseError> {
    let (duck, _) = compute(shard, schema, clients, false).await?;
    write(shard, schema, &duck, version, "TRUE").await?;
    tombstone_unwritten(shard, schema, clients, version).await
}

/// Writes tombstones (`deleted = 1`, `version`) for the rollup rows of `clients` that a refresh
/// with `version` did not write again: keys the recomputation no longer has. A late
/// `sessionStop` that shortens a stored session can take away an active day that only the
/// longer session covered (`client_days`); the refresh rewrote every other row of these
/// installations with `version`, so the rows left with an older version are exactly those.
async fn tombstone_unwritten(
    shard: &Client,
    schema: &RollupSchema,
    clients: &[(i64, u64)],
    version: u64,
) -> Result<(), WarehouseError> {
    for (t, cols) in ROLLUP_TABLES.iter().zip(&schema.tables) {
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        let names = names.join(", ");
        shard
            .query_raw(&format!(
                "INSERT INTO {t}_local ({names}, version, deleted) SELECT {names}, {version}, 1 FROM {t}_local FINAL \
                 WHERE deleted = 0 AND version < {version} AND {clients}",
                t = t.name,
                clients = in_list(clients),
            ))
            .execute()
            .await
            .map_err(engine)?;
    }
    Ok(())
}

/// Deletes every rollup row of one installation (erasure), by mutation on its shard.
pub async fn erase(shard: &Client, product: i64, client: u64) -> Result<(), WarehouseError> {
    for t in ROLLUP_TABLES {
        shard
            .query_raw(&format!(
                "ALTER TABLE {}_local DELETE WHERE product_id = {product} AND client_id = {client}",
                t.name
            ))
            .execute()
            .await
            .map_err(engine)?;
    }
    Ok(())
}
