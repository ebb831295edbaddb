//! Bearer API tokens.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};
use tokio_postgres::Row;
use usagi_types::ProductId;

use super::codec::{get, pid, product_id_at};
use super::products::ensure_product;
use super::users::ensure_user;
use super::{execute, query, query_one, query_opt};
use crate::credentials::{digest, is_api_token_shape, new_api_token, DISPLAY_PREFIX_LEN};
use crate::error::{CatalogError, Result};
use crate::token::{TokenInfo, TokenLookup};

const TOKEN_COLUMNS: &str = "id, user_id, read_only, expires_at, created_at, revoked_at, prefix";

fn token_from_row(row: &Row) -> Result<TokenInfo> {
    Ok(TokenInfo {
        id: get(row, 0)?,
        user_id: get(row, 1)?,
        products: Vec::new(),
        read_only: get(row, 2)?,
        expires_at: get(row, 3)?,
        created_at: get(row, 4)?,
        revoked_at: get(row, 5)?,
        prefix: get(row, 6)?,
    })
}

/// Creates a token and returns it with its description.
pub(super) async fn create(
    client: &mut Client,
    user_id: i64,
    mut products: Vec<ProductId>,
    read_only: bool,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(TokenInfo, String)> {
    if expires_at.is_some_and(|t| t <= now) {
        return Err(CatalogError::invalid("expiresAt must be later than now"));
    }
    products.sort_unstable();
    products.dedup();
    let token = new_api_token();
    let prefix: String = token.chars().take(DISPLAY_PREFIX_LEN).collect();
    let tx = client.transaction().await?;
    ensure_user(&tx, user_id).await?;
    for product in &products {
        ensure_product(&tx, *product).await?;
    }
    let row = query_one(
        &tx,
        "INSERT INTO api_tokens (token_hash, prefix, user_id, read_only, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        &[&&digest(&token)[..], &prefix, &user_id, &read_only, &expires_at, &now],
    )
    .await?;
    let id: i64 = get(&row, 0)?;
    for product in &products {
        execute(&tx, "INSERT INTO api_token_products (token_id, product_id) VALUES ($1, $2)", &[&id, &pid(*product)])
            .await?;
    }
    tx.commit().await?;
    let info = TokenInfo { id, user_id, products, read_only, expires_at, created_at: now, revoked_at: None, prefix };
    Ok((info, token))
}

async fn products_of(c: &impl GenericClient, token_id: i64) -> Result<Vec<ProductId>> {
    query(c, "SELECT product_id FROM api_token_products WHERE token_id = $1 ORDER BY product_id", &[&token_id])
        .await?
        .iter()
        .map(|row| product_id_at(row, 0))
        .collect()
}

/// Looks up a token; anything but a live token is `Invalid`.
pub(super) async fn find(c: &impl GenericClient, token: &str, now: DateTime<Utc>) -> Result<TokenLookup> {
    if !is_api_token_shape(token) {
        return Ok(TokenLookup::Invalid);
    }
    let row =
        query_opt(c, &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1"), &[&&digest(token)[..]])
            .await?;
    match row.as_ref().map(token_from_row).transpose()? {
        Some(mut info) if info.is_active(now) => {
            info.products = products_of(c, info.id).await?;
            Ok(TokenLookup::Valid(info))
        }
        _ => Ok(TokenLookup::Invalid),
    }
}

/// A user's tokens by ascending id.
pub(super) async fn list(c: &impl GenericClient, user_id: i64) -> Result<Vec<TokenInfo>> {
    let mut tokens =
        query(c, &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY id"), &[&user_id])
            .await?
            .iter()
            .map(token_from_row)
            .collect::<Result<Vec<_>>>()?;
    let mut scopes: BTreeMap<i64, Vec<ProductId>> = BTreeMap::new();
    let rows = query(
        c,
        "SELECT tp.token_id, tp.product_id FROM api_token_products tp \
         JOIN api_tokens t ON t.id = tp.token_id WHERE t.user_id = $1 ORDER BY tp.token_id, tp.product_id",
        &[&user_id],
    )
    .await?;
    for row in &rows {
        scopes.entry(get(row, 0)?).or_default().push(product_id_at(row, 1)?);
    }
    for token in &mut tokens {
        token.products = scopes.remove(&token.id).unwrap_or_default();
    }
    Ok(tokens)
}

/// Revokes a token; false if unknown or already revoked.
pub(super) async fn revoke(c: &impl GenericClient, token_id: i64, now: DateTime<Utc>) -> Result<bool> {
    let n =
        execute(c, "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", &[&token_id, &now])
            .await?;
    Ok(n > 0)
}
