//! Retention on ClickHouse: [`Warehouse::purge_before`](usagi_warehouse::Warehouse::purge_before).
//!
//! The embedded backend purges in one transaction: it folds the old detail of every affected
//! installation into its base rows (lifetime sessions, runtime, exceptions, event counts,
//! purged active days, last property values), deletes the old facts except the few it keeps
//! (each installation's latest observation per source and value per property, and the starts
//! of sessions running across the cutoff), and refreshes the rollups. ClickHouse has no
//! transactions, so the same work is done in steps that a crash at any point can finish
//! later, with the numbers computed by exactly the embedded SQL:
//!
//! 1. **Journal.** A row `(product, cutoff, version V, origin, state 0)` in `purges` on the
//!    first shard.
//! 2. **Fold**, per shard, in chunks of candidate installations (those with anything the
//!    embedded purge would fold): their base rows and facts go into a private in-memory
//!    DuckDB, which runs the embedded `purge_before`. For the installations it folded, the
//!    kept old rows are inserted again as copies tagged `origin = 'purge', lsn = V`, then
//!    every rollup and base row is written with version `V + 1`. A base row of version `V + 1`
//!    marks an installation as folded by this purge.
//! 3. Journal state 1.
//! 4. **Sweep**, per shard: tombstones (`deleted = 1`, version `V`) for the rollup rows of
//!    folded installations that the fold did not rewrite (their purged days); then the folded
//!    installations' facts before the cutoff, except the copies, are deleted by mutation, and
//!    whole months of the tables that keep no old rows are dropped as partitions.
//! 5. Journal state 2.
//!
//! A purge interrupted before state 1 is folded again when the warehouse next opens or purges:
//! the copies of installations whose base row was not written yet are deleted, and those
//! installations are folded from the start; installations already folded are left alone (the
//! base row is written last, after the copies and every other rollup). A purge interrupted
//! after state 1 just sweeps again; every step of the sweep is idempotent.
//!
//! Purges and loads of one process exclude each other (the load lock). Processes sharing a
//! cluster take a per-product lease in the catalog before they purge (usagi-server's
//! retention pass), so one purge of a product runs at a time.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate};
use clickhouse::Client;
use usagi_types::ProductId;
use usagi_warehouse::facts::LoadBatch;
use usagi_warehouse::{PurgeStats, Value, Warehouse, WarehouseError};
use usagi_warehouse_duckdb::DuckWarehouse;

use crate::rollups::{self, REFRESH_CHUNK, ROLLUP_TABLES};
use crate::schema::FACT_TABLES;
use crate::{engine, fetch, load, parse_partition, sql, ClickHouseWarehouse};

/// The origin of the old rows a purge keeps, inserted again as copies.
pub(crate) const PURGE_ORIGIN: &str = "purge";

/// The fact tables a purge keeps some old rows of; the others lose all rows before the cutoff.
const KEEPS_ROWS: &[&str] = &["session_marks", "observations", "property_changes"];

/// Where a purge stops: the whole way, or (tests) right after a step, as a crash would.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgeStop {
    /// Run to the end.
    Never,
    /// After the first folded chunk of the first shard, before its rollups are written.
    MidFold,
    /// After the fold, before the sweep.
    BeforeSweep,
}

/// One purge: product, cutoff and version.
#[derive(Debug, Clone, Copy)]
struct Purge {
    product: i64,
    cutoff: NaiveDate,
    version: u64,
}

impl Purge {
    fn date(&self) -> String {
        format!("toDate('{}')", self.cutoff)
    }

    /// A fact row that is a copy this purge kept.
    fn copy(&self) -> String {
        format!("(origin = '{PURGE_ORIGIN}' AND lsn = {})", self.version)
    }

    /// The installations (on one shard) this purge has folded: their base row is its version.
    fn folded(&self) -> String {
        format!(
            "(SELECT client_id FROM client_base_local FINAL WHERE product_id = {} AND version = {})",
            self.product,
            self.version + 1
        )
    }

    /// Installations of `product` on a shard with anything the embedded purge would fold (its
    /// `affected` set): rollup days or records before the cutoff, or more than one old
    /// observation per source or value per property; except those this purge folded already.
    fn candidates(&self) -> String {
        let (p, c) = (self.product, self.date());
        let old = format!("product_id = {p} AND day < {c}");
        format!(
            "SELECT DISTINCT product_id, client_id FROM (\
             SELECT product_id, client_id FROM client_days_local FINAL WHERE deleted = 0 AND {old} \
             UNION ALL SELECT product_id, client_id FROM contacts_local WHERE {old} \
             UNION ALL SELECT product_id, client_id FROM events_local WHERE {old} \
             UNION ALL SELECT product_id, client_id FROM exceptions_local WHERE {old} \
             UNION ALL SELECT product_id, client_id FROM session_marks_local WHERE {old} \
             UNION ALL SELECT product_id, client_id FROM observations_local WHERE {old} \
                GROUP BY product_id, client_id, source HAVING count() > 1 \
             UNION ALL SELECT product_id, client_id FROM property_changes_local WHERE {old} \
                GROUP BY product_id, client_id, name HAVING count() > 1\
             ) WHERE client_id NOT IN {folded} ORDER BY product_id, client_id",
            folded = self.folded()
        )
    }
}

fn now_micros() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or_default()
}

fn pairs(rows: &usagi_warehouse::Rows) -> Result<Vec<(i64, u64)>, WarehouseError> {
    rows.rows
        .iter()
        .map(|r| match (r.first().and_then(Value::as_i64), r.get(1).and_then(Value::as_u64)) {
            (Some(p), Some(c)) => Ok((p, c)),
            _ => Err(engine("unexpected installation row")),
        })
        .collect()
}

/// The old rows the in-memory purge kept, of the installations it folded, as copies to insert.
async fn kept_rows(
    duck: &DuckWarehouse,
    facts: &LoadBatch,
    folded: &HashSet<u64>,
    purge: &Purge,
) -> Result<LoadBatch, WarehouseError> {
    let keys = |table: &str, discriminator: &str| {
        let sql = format!(
            "SELECT client_id, t, seq, idx, CAST({discriminator} AS VARCHAR) FROM {table} WHERE day < DATE '{}'",
            purge.cutoff
        );
        async move {
            let rows = duck.query(sql, vec![]).await?;
            Ok::<_, WarehouseError>(
                rows.rows
                    .iter()
                    .filter_map(|r| {
                        Some((
                            r[0].as_u64()?,
                            r[1].as_i64()?,
                            r[2].as_u64()?,
                            r[3].as_u64()? as u32,
                            r[4].as_str()?.to_string(),
                        ))
                    })
                    .collect::<HashSet<_>>(),
            )
        }
    };
    let marks = keys("session_marks", "kind").await?;
    let observations = keys("observations", "source").await?;
    let properties = keys("property_changes", "name").await?;
    let mine = |c: u64| folded.contains(&c);
    Ok(LoadBatch {
        session_marks: facts
            .session_marks
            .iter()
            .filter(|r| mine(r.client.as_u64()))
            .filter(|r| marks.contains(&(r.client.as_u64(), r.t, r.seq, r.idx, (r.kind as u8).to_string())))
            .cloned()
            .collect(),
        observations: facts
            .observations
            .iter()
            .filter(|r| mine(r.client.as_u64()))
            .filter(|r| observations.contains(&(r.client.as_u64(), r.t, r.seq, r.idx, (r.source as u8).to_string())))
            .cloned()
            .collect(),
        properties: facts
            .properties
            .iter()
            .filter(|r| mine(r.client.as_u64()))
            .filter(|r| properties.contains(&(r.client.as_u64(), r.t, r.seq, r.idx, r.name.clone())))
            .cloned()
            .collect(),
        last_lsn: purge.version,
        ..LoadBatch::default()
    })
}

impl ClickHouseWarehouse {
    /// Purges `product` before `cutoff` (see the module documentation).
    pub(crate) async fn purge(&self, product: ProductId, cutoff: NaiveDate) -> Result<PurgeStats, WarehouseError> {
        self.purge_until(product, cutoff, PurgeStop::Never).await
    }

    /// [`Self::purge`], stopping early as a crash would (tests of the recovery).
    #[doc(hidden)]
    pub async fn purge_until(
        &self,
        product: ProductId,
        cutoff: NaiveDate,
        stop: PurgeStop,
    ) -> Result<PurgeStats, WarehouseError> {
        let mut dirty = self.dirty.lock().await;
        self.roll_back(&mut dirty).await?;
        self.resume_purges().await?;
        let purge = Purge { product: product.as_u64() as i64, cutoff, version: now_micros() };
        self.journal(&purge, 0).await?;
        let stats = self.fold(&purge, false, stop).await?;
        if stop != PurgeStop::Never {
            return Ok(stats);
        }
        self.journal(&purge, 1).await?;
        self.sweep(&purge).await?;
        self.journal(&purge, 2).await?;
        Ok(stats)
    }

    /// Finishes this origin's purges that a crash interrupted. The caller holds the load lock.
    pub(crate) async fn resume_purges(&self) -> Result<(), WarehouseError> {
        let rows = fetch(
            &self.shards[0],
            &format!(
                "SELECT product_id, toString(cutoff), version, max(state) FROM {}.purges WHERE origin = {} \
                 GROUP BY product_id, cutoff, version HAVING max(state) < 2 ORDER BY version",
                self.database,
                sql::quote(&self.origin)
            ),
        )
        .await?;
        for r in &rows.rows {
            let parsed = (
                r[0].as_i64(),
                r[1].as_str().and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
                r[2].as_u64(),
                r[3].as_u64(),
            );
            let (Some(product), Some(cutoff), Some(version), Some(state)) = parsed else {
                return Err(engine("unexpected row in the purge journal"));
            };
            let purge = Purge { product, cutoff, version };
            tracing::warn!(product, %cutoff, state, "finishing an interrupted retention purge");
            if state < 1 {
                self.fold(&purge, true, PurgeStop::Never).await?;
                self.journal(&purge, 1).await?;
            }
            self.sweep(&purge).await?;
            self.journal(&purge, 2).await?;
        }
        Ok(())
    }

    async fn journal(&self, purge: &Purge, state: u8) -> Result<(), WarehouseError> {
        self.shards[0]
            .query_raw(&format!(
                "INSERT INTO {}.purges VALUES ({}, toDate('{}'), {}, {}, {state}, now())",
                self.database,
                purge.product,
                purge.cutoff,
                purge.version,
                sql::quote(&self.origin)
            ))
            .execute()
            .await
            .map_err(engine)
    }

    /// Step 2: folds every candidate installation, shard by shard.
    async fn fold(&self, purge: &Purge, resumed: bool, stop: PurgeStop) -> Result<PurgeStats, WarehouseError> {
        let product = ProductId::from_u64(purge.product as u64).map_err(|e| engine(format!("product: {e}")))?;
        let mut stats = PurgeStats::default();
        for (i, shard) in self.shards.iter().enumerate() {
            if resumed {
                // Copies of installations whose rollups were not written are written again.
                for t in KEEPS_ROWS {
                    self.mutate(
                        shard,
                        t,
                        &format!(
                            "product_id = {} AND {} AND client_id NOT IN {}",
                            purge.product,
                            purge.copy(),
                            purge.folded()
                        ),
                    )
                    .await?;
                }
                self.wait_for_mutations(shard).await?;
            }
            let candidates = pairs(&fetch(shard, &purge.candidates()).await?)?;
            for chunk in candidates.chunks(REFRESH_CHUNK) {
                let (duck, facts) = rollups::compute(shard, &self.rollup_schema, chunk, true).await?;
                let facts = facts.unwrap_or_default();
                // The embedded purge's own choice of installations, read before it runs.
                let affected = duck.purge_affected(product, purge.cutoff).await?;
                let done = duck.purge_before(product, purge.cutoff).await?;
                if affected.is_empty() {
                    continue;
                }
                stats.installations += done.installations;
                stats.fact_rows += done.fact_rows;
                let folded: HashSet<u64> = affected.into_iter().collect();
                let kept = kept_rows(&duck, &facts, &folded, purge).await?;
                let split = load::split(&kept, PURGE_ORIGIN, self.shards.len());
                self.insert_shard(shard, &split[i]).await?;
                if stop == PurgeStop::MidFold {
                    return Ok(stats);
                }
                let list: Vec<String> = folded.iter().map(u64::to_string).collect();
                rollups::write(
                    shard,
                    &self.rollup_schema,
                    &duck,
                    purge.version + 1,
                    &format!("client_id IN ({})", list.join(", ")),
                )
                .await?;
            }
        }
        Ok(stats)
    }

    /// Step 4: tombstones for the purged rollup rows, then the old facts.
    async fn sweep(&self, purge: &Purge) -> Result<(), WarehouseError> {
        let (p, date, folded) = (purge.product, purge.date(), purge.folded());
        let month = purge.cutoff.year() * 100 + purge.cutoff.month() as i32;
        for shard in &self.shards {
            for (t, cols) in ROLLUP_TABLES.iter().zip(&self.rollup_schema.tables) {
                let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
                let names = names.join(", ");
                shard
                    .query_raw(&format!(
                        "INSERT INTO {t}_local ({names}, version, deleted) SELECT {names}, {v}, 1 FROM {t}_local FINAL \
                         WHERE deleted = 0 AND version < {v} AND product_id = {p} AND client_id IN {folded}",
                        t = t.name,
                        v = purge.version
                    ))
                    .execute()
                    .await
                    .map_err(engine)?;
            }
            for t in FACT_TABLES {
                if !KEEPS_ROWS.contains(&t.name) {
                    self.drop_months_before(shard, t.name, p, month).await?;
                }
                let cond =
                    format!("product_id = {p} AND day < {date} AND NOT {} AND client_id IN {folded}", purge.copy());
                self.mutate(shard, t.name, &cond).await?;
            }
            self.wait_for_mutations(shard).await?;
        }
        Ok(())
    }

    /// Deletes the rows of `<table>_local` matching `cond` by mutation, if there are any.
    async fn mutate(&self, shard: &Client, table: &str, cond: &str) -> Result<(), WarehouseError> {
        let local = format!("{}.{table}_local", self.database);
        let n = fetch(shard, &format!("SELECT count() FROM {local} WHERE {cond}")).await?;
        if n.rows.first().and_then(|r| r.first()).and_then(Value::as_u64).unwrap_or(0) > 0 {
            shard.query_raw(&format!("ALTER TABLE {local} DELETE WHERE {cond}")).execute().await.map_err(engine)?;
        }
        Ok(())
    }

    /// Drops the product's partitions of `<table>_local` for months before `month` (yyyymm).
    async fn drop_months_before(
        &self,
        shard: &Client,
        table: &str,
        product: i64,
        month: i32,
    ) -> Result<(), WarehouseError> {
        let parts = fetch(
            shard,
            &format!(
                "SELECT DISTINCT partition FROM system.parts WHERE active AND database = {} AND table = {}",
                sql::quote(&self.database),
                sql::quote(&format!("{table}_local"))
            ),
        )
        .await?;
        for part in parts.rows.iter().filter_map(|r| r.first().and_then(|v| v.as_str())) {
            // Partition ids print as "(product, yyyymm)".
            if let Some((p_product, p_month)) = parse_partition(part) {
                if p_product == product && p_month < month {
                    shard
                        .query_raw(&format!("ALTER TABLE {}.{table}_local DROP PARTITION {part}", self.database))
                        .execute()
                        .await
                        .map_err(engine)?;
                }
            }
        }
        Ok(())
    }
}
