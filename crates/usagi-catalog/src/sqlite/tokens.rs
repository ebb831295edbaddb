//! Bearer API tokens.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use usagi_types::ProductId;

use super::codec::{ms, opt_time_at, pid, product_id_at, time_at};
use super::products::ensure_product;
use super::users::ensure_user;
use crate::credentials::{digest, is_api_token_shape, new_api_token, DISPLAY_PREFIX_LEN};
use crate::error::{CatalogError, Result};
use crate::token::{TokenInfo, TokenLookup};

const TOKEN_COLUMNS: &str = "id, user_id, read_only, expires_at, created_at, revoked_at, prefix";

fn token_from_row(row: &Row<'_>) -> rusqlite::Result<TokenInfo> {
    Ok(TokenInfo {
        id: row.get(0)?,
        user_id: row.get(1)?,
        products: Vec::new(),
        read_only: row.get(2)?,
        expires_at: opt_time_at(row, 3)?,
        created_at: time_at(row, 4)?,
        revoked_at: opt_time_at(row, 5)?,
        prefix: row.get(6)?,
    })
}

/// Creates a token and returns it with its description.
pub(super) fn create(
    conn: &mut Connection,
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
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    ensure_user(&tx, user_id)?;
    for product in &products {
        ensure_product(&tx, *product)?;
    }
    tx.prepare_cached(
        "INSERT INTO api_tokens (token_hash, prefix, user_id, read_only, expires_at, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![&digest(&token)[..], prefix, user_id, read_only, expires_at.map(ms), ms(now)])?;
    let id = tx.last_insert_rowid();
    {
        let mut insert = tx.prepare_cached("INSERT INTO api_token_products (token_id, product_id) VALUES (?1, ?2)")?;
        for product in &products {
            insert.execute(params![id, pid(*product)])?;
        }
    }
    tx.commit()?;
    let info = TokenInfo { id, user_id, products, read_only, expires_at, created_at: now, revoked_at: None, prefix };
    Ok((info, token))
}

fn products_of(conn: &Connection, token_id: i64) -> Result<Vec<ProductId>> {
    Ok(conn
        .prepare_cached("SELECT product_id FROM api_token_products WHERE token_id = ?1 ORDER BY product_id")?
        .query_map([token_id], |row| product_id_at(row, 0))?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Looks up a token; anything but a live token is `Invalid`.
pub(super) fn find(conn: &Connection, token: &str, now: DateTime<Utc>) -> Result<TokenLookup> {
    if !is_api_token_shape(token) {
        return Ok(TokenLookup::Invalid);
    }
    let info = conn
        .prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ?1"))?
        .query_row([&digest(token)[..]], token_from_row)
        .optional()?;
    match info {
        Some(mut info) if info.is_active(now) => {
            info.products = products_of(conn, info.id)?;
            Ok(TokenLookup::Valid(info))
        }
        _ => Ok(TokenLookup::Invalid),
    }
}

/// A user's tokens by ascending id.
pub(super) fn list(conn: &Connection, user_id: i64) -> Result<Vec<TokenInfo>> {
    let mut tokens = conn
        .prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = ?1 ORDER BY id"))?
        .query_map([user_id], token_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut scopes: BTreeMap<i64, Vec<ProductId>> = BTreeMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT tp.token_id, tp.product_id FROM api_token_products tp \
         JOIN api_tokens t ON t.id = tp.token_id WHERE t.user_id = ?1 ORDER BY tp.token_id, tp.product_id",
    )?;
    for row in stmt.query_map([user_id], |row| Ok((row.get::<_, i64>(0)?, product_id_at(row, 1)?)))? {
        let (token_id, product) = row?;
        scopes.entry(token_id).or_default().push(product);
    }
    for token in &mut tokens {
        token.products = scopes.remove(&token.id).unwrap_or_default();
    }
    Ok(tokens)
}

/// Revokes a token; false if unknown or already revoked.
pub(super) fn revoke(conn: &Connection, token_id: i64, now: DateTime<Utc>) -> Result<bool> {
    let n = conn
        .prepare_cached("UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")?
        .execute(params![token_id, ms(now)])?;
    Ok(n > 0)
}
