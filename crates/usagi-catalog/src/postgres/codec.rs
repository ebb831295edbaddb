//! Conversions between catalog types and PostgreSQL values.
//!
//! Times are `TIMESTAMPTZ`, days `DATE`, ids and counts `BIGINT`. Client ids are 64-bit values
//! stored bit-for-bit in the signed `BIGINT`, as in the SQLite catalog.

use tokio_postgres::error::SqlState;
use tokio_postgres::types::FromSql;
use tokio_postgres::Row;
use usagi_types::{ClientId, ProductId};

use crate::error::{CatalogError, Result};

impl From<tokio_postgres::Error> for CatalogError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            // PostgreSQL text cannot hold NUL characters (SQLite's can): that is bad input, not a failure.
            Some(db) if db.code() == &SqlState::CHARACTER_NOT_IN_REPERTOIRE => {
                CatalogError::invalid("text must not contain NUL characters")
            }
            Some(db) => CatalogError::Storage(format!("{}: {}", db.code().code(), db.message())),
            None => CatalogError::Storage(e.to_string()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for CatalogError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => CatalogError::Storage(other.to_string()),
        }
    }
}

/// Reads a column; a type mismatch means the schema is not what this build wrote.
pub(super) fn get<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T> {
    row.try_get(idx).map_err(|e| CatalogError::Corrupt(format!("column {idx}: {e}")))
}

/// Reads a `BIGINT` column holding a `u32` setting.
pub(super) fn u32_at(row: &Row, idx: usize) -> Result<u32> {
    let v: i64 = get(row, idx)?;
    u32::try_from(v).map_err(|_| CatalogError::Corrupt(format!("column {idx}: {v} out of range")))
}

/// Reads a nullable `BIGINT` column holding a `u32`.
pub(super) fn opt_u32_at(row: &Row, idx: usize) -> Result<Option<u32>> {
    match get::<Option<i64>>(row, idx)? {
        None => Ok(None),
        Some(v) => {
            u32::try_from(v).map(Some).map_err(|_| CatalogError::Corrupt(format!("column {idx}: {v} out of range")))
        }
    }
}

/// A product id as stored.
pub(super) fn pid(p: ProductId) -> i64 {
    // At most 9,999,999,999: always fits.
    i64::try_from(p.as_u64()).unwrap_or(i64::MAX)
}

/// Reads a stored product id.
pub(super) fn product_id_at(row: &Row, idx: usize) -> Result<ProductId> {
    let v: i64 = get(row, idx)?;
    u64::try_from(v)
        .ok()
        .and_then(|v| ProductId::from_u64(v).ok())
        .ok_or_else(|| CatalogError::Corrupt(format!("invalid product id {v}")))
}

/// A client id as stored: the 64 bits reinterpreted as a signed integer.
pub(super) fn cid(c: ClientId) -> i64 {
    i64::from_ne_bytes(c.as_u64().to_ne_bytes())
}

/// Reads a stored client id's 64 bits.
pub(super) fn client_bits_at(row: &Row, idx: usize) -> Result<u64> {
    let v: i64 = get(row, idx)?;
    Ok(u64::from_ne_bytes(v.to_ne_bytes()))
}

/// An optional `u32` as stored.
pub(super) fn opt_i64(v: Option<u32>) -> Option<i64> {
    v.map(i64::from)
}
