//! What `usagi migrate` writes besides facts: the rollups of installations whose old data
//! retention purged in the embedded warehouse.
//!
//! The loader computes an installation's rollups from its facts; for an installation whose
//! old facts are gone that is not enough: the embedded backend folded them into the retention
//! base (`client_base`, `client_event_base`, `purged_days`), and its rollups combine the two.
//! The migration therefore copies those installations' rollup and base rows as the source holds
//! them, replacing whatever the load computed.

use std::collections::BTreeMap;

use usagi_types::ProductId;
use usagi_warehouse::{Rows, WarehouseError};

use crate::rollups::{json, ROLLUP_TABLES};
use crate::{engine, load, ClickHouseWarehouse};

/// The names of the rollup tables, retention base included, that [`ClickHouseWarehouse::replace_rollups`] takes.
pub fn rollup_table_names() -> Vec<&'static str> {
    ROLLUP_TABLES.iter().map(|t| t.name).collect()
}

impl ClickHouseWarehouse {
    /// Replaces every rollup row of the listed installations of `product` by `tables` (rows of
    /// [`rollup_table_names`] tables, every column by name, as another warehouse holds them):
    /// the old rows are deleted by mutation (waited for), the new ones written to each
    /// installation's shard with a fresh version. Idempotent. Returns the rows written.
    pub async fn replace_rollups(
        &self,
        product: ProductId,
        clients: &[u64],
        tables: &[(String, Rows)],
    ) -> Result<u64, WarehouseError> {
        if clients.is_empty() {
            return Ok(0);
        }
        let shards = self.shards.len();
        let mut by_shard: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for c in clients {
            by_shard.entry(load::shard_of(*c, shards)).or_default().push(c.to_string());
        }
        let pid = product.as_u64() as i64;
        for (shard, ids) in &by_shard {
            let client = &self.shards[*shard];
            for t in ROLLUP_TABLES {
                client
                    .query_raw(&format!(
                        "ALTER TABLE {}_local DELETE WHERE product_id = {pid} AND client_id IN ({})",
                        t.name,
                        ids.join(", ")
                    ))
                    .execute()
                    .await
                    .map_err(engine)?;
            }
            self.wait_for_mutations(client).await?;
        }
        // Taken after the deletes and after any load of these installations: newer than every
        // version the loader wrote for them.
        let version = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or_default();
        let mut written = 0u64;
        for (table, rows) in tables {
            if !ROLLUP_TABLES.iter().any(|t| t.name == table) {
                return Err(engine(format!("{table} is not a rollup table")));
            }
            let at = rows
                .columns
                .iter()
                .position(|c| c == "client_id")
                .ok_or_else(|| engine(format!("{table}: no client_id column")))?;
            let mut bodies: BTreeMap<usize, String> = BTreeMap::new();
            for r in &rows.rows {
                let c = r[at].as_u64().ok_or_else(|| engine(format!("{table}: client_id is not an integer")))?;
                let mut obj = serde_json::Map::new();
                for (name, v) in rows.columns.iter().zip(r) {
                    obj.insert(name.clone(), json(v));
                }
                obj.insert("version".into(), version.into());
                obj.insert("deleted".into(), 0.into());
                let body = bodies.entry(load::shard_of(c, shards)).or_default();
                body.push_str(&serde_json::Value::Object(obj).to_string());
                body.push('\n');
                written += 1;
            }
            for (shard, body) in bodies {
                let mut insert =
                    self.shards[shard].insert_formatted_with(format!("INSERT INTO {table}_local FORMAT JSONEachRow"));
                insert.send(body.into()).await.map_err(engine)?;
                insert.end().await.map_err(engine)?;
            }
        }
        Ok(written)
    }

    /// The log position of every committed load of `origin`, ascending, with the
    /// number of fact rows each wrote (a migration checks that a re-run would write the same).
    pub async fn committed_loads(&self, origin: &str) -> Result<Vec<(u64, u64)>, WarehouseError> {
        let rows = crate::fetch(
            &self.shards[0],
            &format!(
                "SELECT lsn, rows FROM {}.loads WHERE origin = {} ORDER BY lsn",
                self.database,
                crate::sql::quote(origin)
            ),
        )
        .await?;
        rows.rows
            .iter()
            .map(|r| {
                let lsn = r[0].as_u64().ok_or_else(|| engine("loads.lsn"))?;
                Ok((lsn, r[1].as_u64().ok_or_else(|| engine("loads.rows"))?))
            })
            .collect()
    }

    /// Fact rows of `product` per origin, every fact table together (a migration refuses a
    /// target product that a server already loads into).
    pub async fn rows_by_origin(&self, product: ProductId) -> Result<Vec<(String, u64)>, WarehouseError> {
        let pid = product.as_u64() as i64;
        let union: Vec<String> = crate::schema::FACT_TABLES
            .iter()
            .map(|t| format!("SELECT origin FROM {}.{} WHERE product_id = {pid}", self.database, t.name))
            .collect();
        let rows = crate::fetch(
            &self.shards[0],
            &format!("SELECT origin, count() FROM ({}) GROUP BY origin ORDER BY origin", union.join(" UNION ALL ")),
        )
        .await?;
        rows.rows
            .iter()
            .map(|r| Ok((r[0].as_str().unwrap_or_default().to_string(), r[1].as_u64().ok_or_else(|| engine("count"))?)))
            .collect()
    }
}
