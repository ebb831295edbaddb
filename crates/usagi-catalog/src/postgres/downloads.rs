//! One-time download tokens and the erasure log.

use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::GenericClient;
use usagi_types::{ClientId, ProductId};

use super::codec::{cid, client_bits_at, get, pid, product_id_at};
use super::products::ensure_product;
use super::{execute, query, query_opt};
use crate::credentials::{digest, is_session_token_shape, new_session_token};
use crate::download::{DownloadGrant, Erasure, IssuedDownload};
use crate::error::Result;

pub(super) async fn issue(
    c: &impl GenericClient,
    product: ProductId,
    file_name: &str,
    expires_at: DateTime<Utc>,
) -> Result<IssuedDownload> {
    ensure_product(c, product).await?;
    // Download tokens have the shape of session tokens: 32 random bytes, base64url.
    let token = new_session_token();
    execute(
        c,
        "INSERT INTO download_tokens (digest, product_id, file_name, expires_at) VALUES ($1, $2, $3, $4)",
        &[&&digest(&token)[..], &pid(product), &file_name, &expires_at],
    )
    .await?;
    Ok(IssuedDownload { token, expires_at })
}

/// One conditional UPDATE: of racing claims (from any process) exactly one gets the row.
pub(super) async fn claim(
    c: &impl GenericClient,
    token: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Option<DownloadGrant>> {
    if !is_session_token_shape(token) {
        return Ok(None);
    }
    let row = query_opt(
        c,
        "UPDATE download_tokens SET claimed_until = $3 \
         WHERE digest = $1 AND NOT spent AND expires_at > $2 AND (claimed_until IS NULL OR claimed_until <= $2) \
         RETURNING product_id, file_name",
        &[&&digest(token)[..], &now, &(now + lease)],
    )
    .await?;
    row.map(|r| Ok(DownloadGrant { product: product_id_at(&r, 0)?, file_name: get(&r, 1)? })).transpose()
}

pub(super) async fn finish(c: &impl GenericClient, token: &str, completed: bool) -> Result<()> {
    let sql = if completed {
        "UPDATE download_tokens SET spent = TRUE, claimed_until = NULL WHERE digest = $1"
    } else {
        "UPDATE download_tokens SET claimed_until = NULL WHERE digest = $1 AND NOT spent"
    };
    execute(c, sql, &[&&digest(token)[..]]).await?;
    Ok(())
}

pub(super) async fn prune(c: &impl GenericClient, now: DateTime<Utc>) -> Result<u64> {
    execute(c, "DELETE FROM download_tokens WHERE spent OR expires_at <= $1", &[&now]).await
}

pub(super) async fn record_erasure(
    c: &impl GenericClient,
    product: ProductId,
    client: ClientId,
    at: DateTime<Utc>,
) -> Result<()> {
    ensure_product(c, product).await?;
    execute(
        c,
        "INSERT INTO erasures (product_id, client_id, erased_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        &[&pid(product), &cid(client), &at],
    )
    .await?;
    Ok(())
}

pub(super) async fn erasures(
    c: &impl GenericClient,
    product: ProductId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Erasure>> {
    let rows = query(
        c,
        "SELECT client_id, erased_at FROM erasures WHERE product_id = $1 AND erased_at >= $2 AND erased_at < $3 \
         ORDER BY erased_at, client_id",
        &[&pid(product), &from, &to],
    )
    .await?;
    rows.iter()
        .map(|r| Ok(Erasure { client: ClientId::from_u64(client_bits_at(r, 0)?), erased_at: get(r, 1)? }))
        .collect()
}

pub(super) async fn prune_erasures(c: &impl GenericClient, product: ProductId, before: DateTime<Utc>) -> Result<u64> {
    execute(c, "DELETE FROM erasures WHERE product_id = $1 AND erased_at < $2", &[&pid(product), &before]).await
}
