//! ClickHouse DDL: one MergeTree table per fact on every shard (`<name>_local`) and a
//! `Distributed` table of the same name over the cluster, sharded by installation.
//!
//! Every statement is valid on ClickHouse 18.16 (Debian's package) and on current releases:
//! plain `MergeTree` with a custom partition key, `Nullable`, `UUID`, `Date`, and `Distributed`
//! with a sharding expression. Nothing relies on `LowCardinality`, `Bool`, TTLs, projections or
//! server-side query parameters, which 18.16 lacks.

/// One fact table: its columns (name, ClickHouse type) and sort key.
pub struct FactTable {
    /// Logical name (the `Distributed` table); the shard-local table is `<name>_local`.
    pub name: &'static str,
    /// Columns in insert order, with their ClickHouse types.
    pub columns: &'static [(&'static str, &'static str)],
    /// The MergeTree sort key: reports and rollups scan one product's installations by day.
    pub order_by: &'static str,
}

/// Columns every fact row carries for exactly-once loading: which ingest log (`origin`) and
/// which position in it (`lsn`) the row came from. A load that did not commit is rolled back
/// by deleting `origin = o AND lsn > applied` (see [`crate::ClickHouseWarehouse`]).
const LOAD_TAG: [(&str, &str); 2] = [("origin", "String"), ("lsn", "UInt64")];

macro_rules! columns {
    ($($name:literal : $ty:literal),* $(,)?) => {
        &[$(($name, $ty)),*, LOAD_TAG[0], LOAD_TAG[1]]
    };
}

/// The fact tables of the logical schema (`usagi_warehouse::schema`), in load order.
pub const FACT_TABLES: &[FactTable] = &[
    FactTable {
        name: "contacts",
        columns: columns!(
            "product_id": "Int64", "client_id": "UInt64", "received_at": "Int64", "day": "Date",
            "batch_id": "UUID", "seq": "Int64",
        ),
        order_by: "(product_id, client_id, day, received_at)",
    },
    FactTable {
        name: "events",
        columns: columns!(
            "product_id": "Int64", "client_id": "UInt64", "t": "Int64", "day": "Date", "seq": "Int64",
            "idx": "UInt32", "session_id": "Nullable(String)", "category": "Nullable(String)", "name": "String",
            "num_value": "Nullable(Float64)", "text_value": "Nullable(String)", "custom": "Nullable(String)",
            "received_at": "Int64", "batch_id": "UUID",
        ),
        order_by: "(product_id, client_id, day, t, seq, idx)",
    },
    FactTable {
        name: "session_marks",
        columns: columns!(
            "product_id": "Int64", "client_id": "UInt64", "t": "Int64", "day": "Date", "seq": "Int64",
            "idx": "UInt32", "kind": "UInt8", "session_id": "Nullable(String)", "received_at": "Int64",
            "batch_id": "UUID",
        ),
        order_by: "(product_id, client_id, day, t, seq, idx)",
    },
    FactTable {
        name: "exceptions",
        columns: columns!(
            "product_id": "Int64", "client_id": "UInt64", "t": "Int64", "day": "Date", "seq": "Int64",
            "idx": "UInt32", "session_id": "Nullable(String)", "class_name": "String", "method_name": "String",
            "message": "Nullable(String)", "stack_trace": "Nullable(String)", "received_at": "Int64",
            "batch_id": "UUID",
        ),
        order_by: "(product_id, client_id, day, t, seq, idx)",
    },
    FactTable {
        name: "observations",
        columns: columns!(
            "product_id": "Int64", "client_id": "UInt64", "t": "Int64", "day": "Date", "seq": "Int64",
            "idx": "UInt32", "source": "UInt8", "evidence": "UInt8", "session_id": "Nullable(String)",
            "payload": "String",
        ),
        order_by: "(product_id, client_id, day, t, seq, idx)",
    },
    FactTable {
        name: "property_changes",
        columns: columns!(
            "product_id": "Int64", "client_id": "UInt64", "t": "Int64", "day": "Date", "seq": "Int64",
            "idx": "UInt32", "name": "String", "value": "Nullable(String)", "received_at": "Int64",
        ),
        order_by: "(product_id, client_id, name, day, t, seq, idx)",
    },
];

/// The name of the cluster in `remote_servers` unless configured otherwise.
pub const DEFAULT_CLUSTER: &str = "usagi";

/// Statements creating the database and every table on one shard; idempotent.
///
/// Partitions are `(product_id, month)`: retention drops a product's whole months with
/// `DROP PARTITION` and deletes only the days of the cutoff's own month by mutation. The
/// `Distributed` tables shard by `client_id` (modulo the shard count, equal weights), the same
/// function the loader uses to insert straight into the owning shard's local tables, so every
/// per-installation computation is local to one shard.
pub fn create_statements(database: &str, cluster: &str) -> Vec<String> {
    let mut all = vec![format!("CREATE DATABASE IF NOT EXISTS {database}")];
    for t in FACT_TABLES {
        let cols: Vec<String> = t.columns.iter().map(|(n, ty)| format!("{n} {ty}")).collect();
        all.push(format!(
            "CREATE TABLE IF NOT EXISTS {database}.{name}_local ({cols}) ENGINE = MergeTree \
             PARTITION BY (product_id, toYYYYMM(day)) ORDER BY {order}",
            name = t.name,
            cols = cols.join(", "),
            order = t.order_by
        ));
        all.push(format!(
            "CREATE TABLE IF NOT EXISTS {database}.{name} AS {database}.{name}_local \
             ENGINE = Distributed({cluster}, {database}, {name}_local, client_id)",
            name = t.name
        ));
    }
    // Committed loads, written on the first shard only, after every shard took the facts.
    all.push(format!(
        "CREATE TABLE IF NOT EXISTS {database}.loads (origin String, lsn UInt64, rows UInt64, at DateTime) \
         ENGINE = MergeTree ORDER BY (origin, lsn)"
    ));
    // The retention purges' journal, on the first shard: one row per step (`crate::purge`).
    all.push(format!(
        "CREATE TABLE IF NOT EXISTS {database}.purges (product_id Int64, cutoff Date, version UInt64, \
         origin String, state UInt8, at DateTime) ENGINE = MergeTree ORDER BY (product_id, version)"
    ));
    all
}
