//! Rate limits and leases shared by every server on the database.
//!
//! A token is taken in one `INSERT … ON CONFLICT DO UPDATE` (the conflicting row is locked, so
//! racing takes from any process queue on it). A window check-and-record reads its row
//! `FOR UPDATE`. Acquiring a lease counts the live leases of a key and inserts one under a
//! transaction-scoped advisory lock on that key, so two processes never both take the last.

use std::time::Duration;

use deadpool_postgres::{Client, GenericClient};
use sha2::{Digest, Sha256};

use super::codec::get;
use super::{execute, query_one, query_opt};
use crate::error::Result;
use crate::limits::{live_events, token_wait, window_wait, IDLE_BUCKET_SECONDS};

/// First key of the advisory locks on lease keys (the two-`int4` key space, apart from the
/// migration lock's `bigint` one).
const LEASE_LOCK_CLASS: i32 = 0x5553_4c45; // "USLE"

pub(super) async fn take_token(
    c: &impl GenericClient,
    key: &str,
    rate: f64,
    burst: f64,
    now_s: f64,
) -> Result<Option<u64>> {
    // The refill of `Bucket::take` (crate::limits), written out where the old row is in scope.
    let row = query_one(
        c,
        "INSERT INTO limit_buckets AS b (key, tokens, at, granted) \
         VALUES ($1, CASE WHEN $3::FLOAT8 >= 1 THEN $3 - 1 ELSE $3 END, $4::FLOAT8, $3 >= 1) \
         ON CONFLICT (key) DO UPDATE SET \
             tokens = LEAST($3, b.tokens + GREATEST($4 - b.at, 0) * $2::FLOAT8) \
                    - CASE WHEN LEAST($3, b.tokens + GREATEST($4 - b.at, 0) * $2) >= 1 THEN 1 ELSE 0 END, \
             at = GREATEST(b.at, $4), \
             granted = LEAST($3, b.tokens + GREATEST($4 - b.at, 0) * $2) >= 1 \
         RETURNING granted, tokens",
        &[&key.as_bytes(), &rate, &burst, &now_s],
    )
    .await?;
    let (granted, tokens): (bool, f64) = (get(&row, 0)?, get(&row, 1)?);
    Ok((!granted).then(|| token_wait(tokens, rate)))
}

async fn live(c: &impl GenericClient, key: &str, window_s: i64, now_s: i64, lock: bool) -> Result<Vec<i64>> {
    let sql = if lock {
        "SELECT events FROM limit_windows WHERE key = $1 FOR UPDATE"
    } else {
        "SELECT events FROM limit_windows WHERE key = $1"
    };
    let mut events: Vec<i64> = match query_opt(c, sql, &[&key.as_bytes()]).await? {
        Some(row) => get(&row, 0)?,
        None => Vec::new(),
    };
    live_events(&mut events, window_s, now_s);
    Ok(events)
}

pub(super) async fn window_blocked(
    c: &impl GenericClient,
    key: &str,
    limit: u32,
    window_s: i64,
    now_s: i64,
) -> Result<Option<u64>> {
    Ok(window_wait(&live(c, key, window_s, now_s, false).await?, limit, window_s, now_s))
}

/// One statement: drops the events out of the window and appends this one.
pub(super) async fn window_record(c: &impl GenericClient, key: &str, window_s: i64, now_s: i64) -> Result<()> {
    execute(
        c,
        "INSERT INTO limit_windows AS w (key, events, until) VALUES ($1, ARRAY[$2::BIGINT], $2 + $3) \
         ON CONFLICT (key) DO UPDATE SET \
             events = ARRAY(SELECT e FROM unnest(w.events) AS e WHERE e > $2 - $3) || $2::BIGINT, \
             until = GREATEST(w.until, $2 + $3)",
        &[&key.as_bytes(), &now_s, &window_s],
    )
    .await?;
    Ok(())
}

pub(super) async fn window_try_record(
    client: &mut Client,
    key: &str,
    limit: u32,
    window_s: i64,
    now_s: i64,
) -> Result<Option<u64>> {
    let tx = client.transaction().await?;
    // The row must exist to be locked; a refusal rolls the empty one back.
    execute(
        &tx,
        "INSERT INTO limit_windows (key, events, until) VALUES ($1, '{}', 0) ON CONFLICT (key) DO NOTHING",
        &[&key.as_bytes()],
    )
    .await?;
    let events = live(&tx, key, window_s, now_s, true).await?;
    if let Some(wait) = window_wait(&events, limit, window_s, now_s) {
        return Ok(Some(wait));
    }
    window_record(&tx, key, window_s, now_s).await?;
    tx.commit().await?;
    Ok(None)
}

/// The advisory lock id of a lease key.
fn lease_lock(key: &str) -> i32 {
    let d = Sha256::digest(key.as_bytes());
    i32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

pub(super) async fn acquire_lease(
    client: &mut Client,
    key: &str,
    holder: &str,
    limit: u32,
    ttl: Duration,
) -> Result<bool> {
    let tx = client.transaction().await?;
    execute(&tx, "SELECT pg_advisory_xact_lock($1, $2)", &[&LEASE_LOCK_CLASS, &lease_lock(key)]).await?;
    // Expired leases count for nothing; a holder asking again replaces its own.
    execute(
        &tx,
        "DELETE FROM limit_leases WHERE key = $1 AND (expires_at <= now() OR holder = $2)",
        &[&key.as_bytes(), &holder],
    )
    .await?;
    let held: i64 =
        get(&query_one(&tx, "SELECT count(*) FROM limit_leases WHERE key = $1", &[&key.as_bytes()]).await?, 0)?;
    let free = held < i64::from(limit);
    if free {
        execute(
            &tx,
            "INSERT INTO limit_leases (key, holder, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))",
            &[&key.as_bytes(), &holder, &ttl.as_secs_f64()],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(free)
}

pub(super) async fn renew_lease(c: &impl GenericClient, key: &str, holder: &str, ttl: Duration) -> Result<bool> {
    let n = execute(
        c,
        "UPDATE limit_leases SET expires_at = now() + make_interval(secs => $3) \
         WHERE key = $1 AND holder = $2 AND expires_at > now()",
        &[&key.as_bytes(), &holder, &ttl.as_secs_f64()],
    )
    .await?;
    Ok(n == 1)
}

pub(super) async fn release_lease(c: &impl GenericClient, key: &str, holder: &str) -> Result<()> {
    execute(c, "DELETE FROM limit_leases WHERE key = $1 AND holder = $2", &[&key.as_bytes(), &holder]).await?;
    Ok(())
}

pub(super) async fn prune(c: &impl GenericClient, now_s: i64) -> Result<u64> {
    let idle_since = now_s as f64 - IDLE_BUCKET_SECONDS;
    let buckets = execute(c, "DELETE FROM limit_buckets WHERE at <= $1", &[&idle_since]).await?;
    let windows = execute(c, "DELETE FROM limit_windows WHERE until <= $1", &[&now_s]).await?;
    let leases = execute(c, "DELETE FROM limit_leases WHERE expires_at <= now()", &[]).await?;
    Ok(buckets + windows + leases)
}
