//! The scale-out warehouse: a ClickHouse cluster of one or more shards.
//!
//! Facts live in `MergeTree` tables on every shard (`<table>_local`, partitioned by product and
//! month, sorted by product, installation and time) behind `Distributed` tables of the logical
//! names, sharded by installation ([`schema`]). The loader inserts each batch's rows straight
//! into the owning shard's local tables, one large `RowBinary` insert per table and shard.
//!
//! **Exactly once.** Every fact row carries the ingest log it came from (`origin`, one per
//! Usagi process) and the log position of its load (`lsn`). A load is committed by one row in
//! the `loads` table of the first shard, written after every shard took its rows. A load that
//! failed half-way (a shard down, the process killed) leaves rows beyond the committed
//! position; before the next load, and on open, they are deleted by mutation on every shard
//! and the mutations waited for, so the loader's retry of the same log range inserts them once.
//! Several Usagi processes may load into one cluster: each rolls back only its own origin.
//!
//! Erasure deletes an installation's rows by mutation on its shard. Retention folds old detail
//! into the base rows with the embedded backend's SQL, then drops whole `(product, month)`
//! partitions and deletes the rest by mutation, in steps a crash can finish later ([`purge`]).

pub mod dialect;
pub mod load;
pub mod migrate;
pub mod purge;
pub mod rollups;
pub mod schema;
pub mod sql;

use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use clickhouse::Client;
use tokio::sync::Mutex;
use usagi_types::{ClientId, ProductId};
use usagi_warehouse::dialect::ClickHouseDialect;
use usagi_warehouse::{Dialect, LoadBatch, Param, PurgeStats, Rows, Warehouse, WarehouseError};
use usagi_warehouse_duckdb::{DuckConfig, DuckWarehouse};

use crate::rollups::{RollupSchema, REFRESH_CHUNK};

use crate::schema::FACT_TABLES;

/// Where the cluster is and who this process is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickHouseConfig {
    /// HTTP URL of every shard, in the order of the cluster's `remote_servers` entry.
    pub shards: Vec<String>,
    /// The cluster name in `remote_servers` (default `usagi`).
    pub cluster: String,
    /// Database holding Usagi's tables, created if missing.
    pub database: String,
    /// User, if not `default`.
    pub user: Option<String>,
    /// Password of `user`.
    pub password: Option<String>,
    /// This process's ingest log: a stable name, unique among the processes sharing the
    /// cluster (each rolls back only its own half-applied loads).
    pub origin: String,
}

fn engine(e: impl std::fmt::Display) -> WarehouseError {
    WarehouseError::Engine(e.to_string())
}

/// A warehouse on a ClickHouse cluster.
pub struct ClickHouseWarehouse {
    shards: Vec<Client>,
    database: String,
    origin: String,
    rollup_schema: RollupSchema,
    /// Held by a load from start to commit; `true` while rows of a failed load may remain.
    dirty: Mutex<bool>,
}

impl ClickHouseWarehouse {
    /// Connects to every shard, creates missing databases and tables, and rolls back any load
    /// of this origin that did not commit.
    pub async fn open(config: &ClickHouseConfig) -> Result<Self, WarehouseError> {
        if config.shards.is_empty() {
            return Err(engine("the ClickHouse warehouse needs at least one shard URL"));
        }
        if !is_identifier(&config.database) || !is_identifier(&config.cluster) {
            return Err(engine("database and cluster names must be plain identifiers"));
        }
        let shards = config
            .shards
            .iter()
            .map(|url| {
                let mut c = Client::default().with_url(url.trim_end_matches('/')).with_validation(false);
                if let Some(user) = &config.user {
                    c = c.with_user(user);
                }
                if let Some(password) = &config.password {
                    c = c.with_password(password);
                }
                c
            })
            .collect::<Vec<_>>();
        let duck = DuckWarehouse::open_in_memory(&DuckConfig {
            threads: 1,
            memory_limit: "64MB".into(),
            ..DuckConfig::default()
        })?;
        let rollup_schema = RollupSchema::read(&duck).await?;
        drop(duck);
        let mut ddl = schema::create_statements(&config.database, &config.cluster);
        ddl.extend(rollup_schema.create_statements(&config.database, &config.cluster));
        for shard in &shards {
            for stmt in &ddl {
                shard.query_raw(stmt).execute().await.map_err(engine)?;
            }
        }
        // Report SQL names the logical tables unqualified; unmatched outer-join rows get NULLs,
        // not type defaults, as in standard SQL; a subquery over a Distributed table inside a
        // query over another runs on each shard's local table, which is exact because every
        // table is sharded by installation (and avoids shipping one side to every shard).
        let shards = shards
            .into_iter()
            .map(|c| {
                c.with_database(&config.database)
                    .with_setting("join_use_nulls", "1")
                    .with_setting("distributed_product_mode", "local")
            })
            .collect();
        let wh = Self {
            shards,
            database: config.database.clone(),
            origin: config.origin.clone(),
            rollup_schema,
            dirty: Mutex::new(true),
        };
        {
            let mut dirty = wh.dirty.lock().await;
            wh.roll_back(&mut dirty).await?;
            wh.resume_purges().await?;
        }
        Ok(wh)
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Runs one statement on one shard (tests and tools: per-shard inspection).
    pub async fn query_shard(&self, shard: usize, sql: &str) -> Result<Rows, WarehouseError> {
        let client = self.shards.get(shard).ok_or_else(|| engine(format!("no shard {shard}")))?;
        fetch(client, sql).await
    }

    /// ClickHouse 18.16 has no boolean type: result columns named like a boolean rollup
    /// column (`ls_activated`, `c.touch_screen`, `first_day`, …) come back as booleans, as
    /// DuckDB returns them.
    fn booleans(&self, mut rows: Rows) -> Rows {
        let flags: Vec<bool> = rows
            .columns
            .iter()
            .map(|c| self.rollup_schema.booleans.contains(c.rsplit('.').next().unwrap_or(c)))
            .collect();
        if flags.iter().any(|f| *f) {
            for row in &mut rows.rows {
                for (cell, flag) in row.iter_mut().zip(&flags) {
                    if *flag {
                        if let Some(b) = cell.as_bool() {
                            *cell = usagi_warehouse::Value::Bool(b);
                        }
                    }
                }
            }
        }
        rows
    }

    async fn committed(&self) -> Result<u64, WarehouseError> {
        let rows = fetch(
            &self.shards[0],
            &format!("SELECT max(lsn) FROM {}.loads WHERE origin = {}", self.database, sql::quote(&self.origin)),
        )
        .await?;
        Ok(rows.rows.first().and_then(|r| r.first()).and_then(|v| v.as_u64()).unwrap_or(0))
    }

    /// Deletes the rows of loads of this origin beyond the committed position, on every shard,
    /// and waits until the mutations are done.
    async fn roll_back(&self, dirty: &mut bool) -> Result<(), WarehouseError> {
        if !*dirty {
            return Ok(());
        }
        let applied = self.committed().await?;
        let origin = sql::quote(&self.origin);
        for (i, shard) in self.shards.iter().enumerate() {
            for t in FACT_TABLES {
                let table = format!("{}.{}_local", self.database, t.name);
                let cond = format!("origin = {origin} AND lsn > {applied}");
                let left = fetch(shard, &format!("SELECT count() FROM {table} WHERE {cond}")).await?;
                let n = left.rows.first().and_then(|r| r.first()).and_then(|v| v.as_u64()).unwrap_or(0);
                if n > 0 {
                    tracing::warn!(shard = i, table = t.name, rows = n, applied, "rolling back an uncommitted load");
                    shard
                        .query_raw(&format!("ALTER TABLE {table} DELETE WHERE {cond}"))
                        .execute()
                        .await
                        .map_err(engine)?;
                }
            }
            self.wait_for_mutations(shard).await?;
        }
        *dirty = false;
        Ok(())
    }

    /// Waits until no mutation of this database is pending on `shard` (18.16 has no
    /// `mutations_sync`).
    async fn wait_for_mutations(&self, shard: &Client) -> Result<(), WarehouseError> {
        let sql = format!(
            "SELECT count() FROM system.mutations WHERE database = {} AND is_done = 0",
            sql::quote(&self.database)
        );
        for attempt in 0u32.. {
            let rows = fetch(shard, &sql).await?;
            if rows.rows.first().and_then(|r| r.first()).and_then(|v| v.as_u64()) == Some(0) {
                return Ok(());
            }
            if attempt >= 6000 {
                return Err(engine("a ClickHouse mutation did not finish within 10 minutes"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    async fn insert_shard(&self, shard: &Client, rows: &load::ShardRows<'_>) -> Result<(), WarehouseError> {
        async fn put<T: clickhouse::RowWrite + clickhouse::Row>(
            client: &Client,
            table: &str,
            rows: &[T::Value<'_>],
        ) -> Result<(), WarehouseError> {
            if rows.is_empty() {
                return Ok(());
            }
            let mut insert = client.insert::<T>(table).await.map_err(engine)?;
            for r in rows {
                insert.write(r).await.map_err(engine)?;
            }
            insert.end().await.map_err(engine)
        }
        // Unqualified: the clients' database is set (the crate quotes the name as one identifier).
        put::<load::Contact>(shard, "contacts_local", &rows.contacts).await?;
        put::<load::Event>(shard, "events_local", &rows.events).await?;
        put::<load::SessionMark>(shard, "session_marks_local", &rows.session_marks).await?;
        put::<load::Exception>(shard, "exceptions_local", &rows.exceptions).await?;
        put::<load::Observation>(shard, "observations_local", &rows.observations).await?;
        put::<load::PropertyChange>(shard, "property_changes_local", &rows.properties).await?;
        Ok(())
    }

    async fn load_locked(&self, batch: &LoadBatch) -> Result<(), WarehouseError> {
        let split = load::split(batch, &self.origin, self.shards.len());
        let total: usize = split.iter().map(load::ShardRows::len).sum();
        for (shard, rows) in self.shards.iter().zip(&split) {
            self.insert_shard(shard, rows).await?;
        }
        // Versions order refreshes of one installation: taken after the facts are in, so the
        // newest refresh has read them all (also across processes, with clocks in step).
        let version = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or_default();
        for (shard, rows) in self.shards.iter().zip(&split) {
            for chunk in rows.installations().chunks(REFRESH_CHUNK) {
                rollups::refresh(shard, &self.rollup_schema, chunk, version).await?;
            }
        }
        self.shards[0]
            .query_raw(&format!(
                "INSERT INTO {}.loads VALUES ({}, {}, {}, now())",
                self.database,
                sql::quote(&self.origin),
                batch.last_lsn,
                total
            ))
            .execute()
            .await
            .map_err(engine)
    }
}

fn parse_partition(p: &str) -> Option<(i64, i32)> {
    let inner = p.trim().strip_prefix('(')?.strip_suffix(')')?;
    let (a, b) = inner.split_once(',')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && !s.as_bytes()[0].is_ascii_digit()
}

async fn fetch(client: &Client, sql: &str) -> Result<Rows, WarehouseError> {
    let mut cursor = client.query_raw(sql).fetch_bytes("JSONCompact").map_err(engine)?;
    let body = cursor.collect().await.map_err(engine)?;
    sql::parse_compact(&body)
}

#[async_trait]
impl Warehouse for ClickHouseWarehouse {
    fn dialect(&self) -> &'static dyn Dialect {
        &ClickHouseDialect
    }

    async fn load(&self, batch: LoadBatch) -> Result<(), WarehouseError> {
        let mut dirty = self.dirty.lock().await;
        self.roll_back(&mut dirty).await?;
        if batch.last_lsn <= self.committed().await? {
            tracing::debug!(last_lsn = batch.last_lsn, "load batch already applied; skipped");
            return Ok(());
        }
        *dirty = true;
        self.load_locked(&batch).await?;
        *dirty = false;
        Ok(())
    }

    async fn applied_lsn(&self) -> Result<u64, WarehouseError> {
        self.committed().await
    }

    async fn query(&self, sql: String, params: Vec<Param>) -> Result<Rows, WarehouseError> {
        self.query_with(sql, params, Vec::new()).await
    }

    async fn query_with(
        &self,
        sql: String,
        params: Vec<Param>,
        inputs: Vec<usagi_warehouse::InputTable>,
    ) -> Result<Rows, WarehouseError> {
        let normalized = dialect::normalize_with(&sql::inline_inputs(&sql, &inputs), &self.rollup_schema.booleans);
        let bound = sql::bind(&normalized, &params)?;
        let result = fetch(&self.shards[0], &bound).await.map(|rows| self.booleans(rows));
        if let Err(e) = &result {
            // The SQL before binding: values (which may be user data) stay out of the log.
            tracing::warn!(error = %e, sql = %sql.chars().take(4000).collect::<String>(), "ClickHouse query failed");
        }
        result
    }

    async fn erase_installation(&self, product: ProductId, client: ClientId) -> Result<u64, WarehouseError> {
        let shard = &self.shards[load::shard_of(client.as_u64(), self.shards.len())];
        let cond = format!("product_id = {} AND client_id = {}", product.as_u64() as i64, client.as_u64());
        let mut removed = 0u64;
        for t in FACT_TABLES {
            let table = format!("{}.{}_local", self.database, t.name);
            let n = fetch(shard, &format!("SELECT count() FROM {table} WHERE {cond}")).await?;
            let n = n.rows.first().and_then(|r| r.first()).and_then(|v| v.as_u64()).unwrap_or(0);
            if n > 0 {
                shard.query_raw(&format!("ALTER TABLE {table} DELETE WHERE {cond}")).execute().await.map_err(engine)?;
                removed += n;
            }
        }
        rollups::erase(shard, product.as_u64() as i64, client.as_u64()).await?;
        self.wait_for_mutations(shard).await?;
        Ok(removed)
    }

    async fn purge_before(&self, product: ProductId, cutoff: NaiveDate) -> Result<PurgeStats, WarehouseError> {
        self.purge(product, cutoff).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_ids_are_read_back() {
        assert_eq!(parse_partition("(3, 202601)"), Some((3, 202601)));
        assert_eq!(parse_partition("(-1,202612)"), Some((-1, 202612)));
        assert_eq!(parse_partition("202601"), None);
    }

    #[test]
    fn names_must_be_identifiers() {
        assert!(is_identifier("usagi_2"));
        assert!(!is_identifier("usagi; DROP"));
        assert!(!is_identifier("1abc"));
        assert!(!is_identifier(""));
    }
}
