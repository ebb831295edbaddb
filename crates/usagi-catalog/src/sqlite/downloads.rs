//! One-time download tokens and the erasure log.

use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use usagi_types::{ClientId, ProductId};

use super::codec::{cid, ms, pid, product_id_at, time_at};
use super::products::ensure_product;
use crate::credentials::{digest, is_session_token_shape, new_session_token};
use crate::download::{DownloadGrant, Erasure, IssuedDownload};
use crate::error::Result;

pub(super) fn issue(
    conn: &mut Connection,
    product: ProductId,
    file_name: &str,
    expires_at: DateTime<Utc>,
) -> Result<IssuedDownload> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    ensure_product(&tx, product)?;
    // Download tokens have the shape of session tokens: 32 random bytes, base64url.
    let token = new_session_token();
    tx.execute(
        "INSERT INTO download_tokens (digest, product_id, file_name, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![digest(&token).as_slice(), pid(product), file_name, ms(expires_at)],
    )?;
    tx.commit()?;
    Ok(IssuedDownload { token, expires_at })
}

pub(super) fn claim(
    conn: &mut Connection,
    token: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Option<DownloadGrant>> {
    if !is_session_token_shape(token) {
        return Ok(None);
    }
    let key = digest(token);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let grant = tx
        .query_row(
            "SELECT product_id, file_name FROM download_tokens \
             WHERE digest = ?1 AND spent = 0 AND expires_at > ?2 AND (claimed_until IS NULL OR claimed_until <= ?2)",
            params![key.as_slice(), ms(now)],
            |r| Ok(DownloadGrant { product: product_id_at(r, 0)?, file_name: r.get(1)? }),
        )
        .optional()?;
    if grant.is_some() {
        tx.execute(
            "UPDATE download_tokens SET claimed_until = ?2 WHERE digest = ?1",
            params![key.as_slice(), ms(now + lease)],
        )?;
    }
    tx.commit()?;
    Ok(grant)
}

pub(super) fn finish(conn: &Connection, token: &str, completed: bool) -> Result<()> {
    let sql = if completed {
        "UPDATE download_tokens SET spent = 1, claimed_until = NULL WHERE digest = ?1"
    } else {
        "UPDATE download_tokens SET claimed_until = NULL WHERE digest = ?1 AND spent = 0"
    };
    conn.execute(sql, params![digest(token).as_slice()])?;
    Ok(())
}

pub(super) fn prune(conn: &Connection, now: DateTime<Utc>) -> Result<u64> {
    let n = conn.execute("DELETE FROM download_tokens WHERE spent = 1 OR expires_at <= ?1", params![ms(now)])?;
    Ok(n as u64)
}

pub(super) fn record_erasure(
    conn: &mut Connection,
    product: ProductId,
    client: ClientId,
    at: DateTime<Utc>,
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    ensure_product(&tx, product)?;
    tx.execute(
        "INSERT OR IGNORE INTO erasures (product_id, client_id, erased_at) VALUES (?1, ?2, ?3)",
        params![pid(product), cid(client), ms(at)],
    )?;
    tx.commit()?;
    Ok(())
}

pub(super) fn erasures(
    conn: &Connection,
    product: ProductId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Erasure>> {
    let mut stmt = conn.prepare_cached(
        "SELECT client_id, erased_at FROM erasures WHERE product_id = ?1 AND erased_at >= ?2 AND erased_at < ?3 \
         ORDER BY erased_at, client_id",
    )?;
    let rows = stmt
        .query_map(params![pid(product), ms(from), ms(to)], |r| {
            Ok(Erasure {
                client: ClientId::from_u64(u64::from_ne_bytes(r.get::<_, i64>(0)?.to_ne_bytes())),
                erased_at: time_at(r, 1)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(super) fn prune_erasures(conn: &Connection, product: ProductId, before: DateTime<Utc>) -> Result<u64> {
    let n = conn
        .execute("DELETE FROM erasures WHERE product_id = ?1 AND erased_at < ?2", params![pid(product), ms(before)])?;
    Ok(n as u64)
}
