//! The ClickHouse side of `usagi bench chaos|ingest --clickhouse-dir`: the shards of a
//! throwaway cluster started by `scripts/clickhouse-cluster.sh start DIR …`, which the chaos
//! run kills with SIGKILL and starts again, and what the runs read back at the end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use usagi_warehouse_clickhouse::{ClickHouseConfig, ClickHouseWarehouse};

use crate::bench_server::http;

/// One shard: its directory (`config.xml`, `server.pid`) and HTTP port.
struct Shard {
    dir: PathBuf,
    port: u16,
}

/// The shards of a cluster directory, in `remote_servers` order.
pub struct Cluster {
    shards: Vec<Shard>,
}

impl Cluster {
    /// Reads `DIR/shard-1`, `DIR/shard-2`, … and their HTTP ports from `config.xml`.
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let mut shards = Vec::new();
        for i in 1.. {
            let shard = dir.join(format!("shard-{i}"));
            let Ok(config) = std::fs::read_to_string(shard.join("config.xml")) else { break };
            let port = config
                .split_once("<http_port>")
                .and_then(|(_, rest)| rest.split_once("</http_port>"))
                .and_then(|(p, _)| p.trim().parse().ok())
                .with_context(|| format!("no <http_port> in {}", shard.join("config.xml").display()))?;
            shards.push(Shard { dir: shard, port });
        }
        if shards.is_empty() {
            bail!("{} holds no shard-1/config.xml (start one with scripts/clickhouse-cluster.sh)", dir.display());
        }
        Ok(Self { shards })
    }

    /// Number of shards.
    pub fn len(&self) -> usize {
        self.shards.len()
    }

    /// The shards' HTTP URLs.
    pub fn urls(&self) -> Vec<String> {
        self.shards.iter().map(|s| format!("http://127.0.0.1:{}", s.port)).collect()
    }

    /// SIGKILLs shard `i` (0-based).
    pub fn kill(&self, i: usize) -> anyhow::Result<()> {
        let pidfile = self.shards[i].dir.join("server.pid");
        let pid = std::fs::read_to_string(&pidfile).with_context(|| format!("reading {}", pidfile.display()))?;
        let status = Command::new("kill").args(["-9", pid.trim()]).status().context("running kill")?;
        if !status.success() {
            bail!("kill -9 {} failed", pid.trim());
        }
        Ok(())
    }

    /// Starts shard `i` again on its directory and waits until it answers `/ping`.
    pub async fn start(&self, i: usize) -> anyhow::Result<()> {
        let shard = &self.shards[i];
        let log = std::fs::OpenOptions::new().create(true).append(true).open(shard.dir.join("stdout.log"))?;
        let child = Command::new("clickhouse-server")
            .arg(format!("--config-file={}", shard.dir.join("config.xml").display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting clickhouse-server")?;
        std::fs::write(shard.dir.join("server.pid"), child.id().to_string())?;
        let addr = ([127, 0, 0, 1], shard.port).into();
        for _ in 0..300 {
            if let Ok((200, _)) = http(&mut None, addr, "GET", "/ping", &[], b"").await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("shard {} did not answer within 30 s after its restart", i + 1)
    }

    /// The `usagi serve` configuration for a fresh database on this cluster.
    pub fn config_toml(&self, database: &str) -> String {
        let urls: Vec<String> = self.urls().iter().map(|u| format!("\"{u}\"")).collect();
        format!("[warehouse.clickhouse]\nshards = [{}]\ndatabase = \"{database}\"\n", urls.join(", "))
    }

    /// Opens the warehouse in `database`, as a checker (its own origin: it loads nothing).
    pub async fn open(&self, database: &str) -> anyhow::Result<ClickHouseWarehouse> {
        ClickHouseWarehouse::open(&ClickHouseConfig {
            shards: self.urls(),
            cluster: usagi_warehouse_clickhouse::schema::DEFAULT_CLUSTER.into(),
            database: database.into(),
            user: None,
            password: None,
            origin: "bench-check".into(),
        })
        .await
        .context("opening the ClickHouse warehouse after the run")
    }

    /// Per installation: (events rows, contacts rows, distinct batch ids in contacts, events
    /// counted by the `client_events` rollup), read from every shard's local tables.
    pub async fn count_rows(
        &self,
        database: &str,
        product_id: &str,
    ) -> anyhow::Result<BTreeMap<i64, (u64, u64, u64, u64)>> {
        let wh = self.open(database).await?;
        let mut out: BTreeMap<i64, (u64, u64, u64, u64)> = BTreeMap::new();
        let p = product_id;
        for s in 0..wh.shard_count() {
            let rows = wh
                .query_shard(
                    s,
                    &format!(
                "SELECT toInt64(client_id), count() FROM events_local WHERE product_id = {p} GROUP BY client_id"
            ),
                )
                .await?;
            for r in rows.rows {
                out.entry(r[0].as_i64().unwrap_or(-1)).or_default().0 = r[1].as_u64().unwrap_or(0);
            }
            let rows = wh
                .query_shard(
                    s,
                    &format!(
                        "SELECT toInt64(client_id), count(), uniqExact(batch_id) FROM contacts_local \
                 WHERE product_id = {p} GROUP BY client_id"
                    ),
                )
                .await?;
            for r in rows.rows {
                let e = out.entry(r[0].as_i64().unwrap_or(-1)).or_default();
                e.1 = r[1].as_u64().unwrap_or(0);
                e.2 = r[2].as_u64().unwrap_or(0);
            }
            let rows = wh
                .query_shard(
                    s,
                    &format!(
                        "SELECT toInt64(client_id), sum(n) FROM client_events_local FINAL \
                 WHERE deleted = 0 AND product_id = {p} GROUP BY client_id"
                    ),
                )
                .await?;
            for r in rows.rows {
                out.entry(r[0].as_i64().unwrap_or(-1)).or_default().3 = r[1].as_u64().unwrap_or(0);
            }
        }
        Ok(out)
    }

    /// Bytes of the database's active parts on every shard together.
    pub async fn bytes_on_disk(&self, database: &str) -> anyhow::Result<u64> {
        let wh = self.open(database).await?;
        let mut total = 0;
        for s in 0..wh.shard_count() {
            let sql = format!("SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = '{database}'");
            total += wh.query_shard(s, &sql).await?.rows.first().and_then(|r| r[0].as_u64()).unwrap_or(0);
        }
        Ok(total)
    }

    /// Drops the run's database on every shard.
    pub async fn drop_database(&self, database: &str) {
        for port in self.shards.iter().map(|s| s.port) {
            let sql = format!("DROP DATABASE IF EXISTS {database}");
            let _ = http(&mut None, ([127, 0, 0, 1], port).into(), "POST", "/", &[], sql.as_bytes()).await;
        }
    }
}
