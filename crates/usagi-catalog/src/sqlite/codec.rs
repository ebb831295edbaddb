//! Conversions between catalog types and SQLite values.
//!
//! Times are stored as Unix milliseconds (INTEGER), days as `YYYY-MM-DD` text (which sorts
//! like the dates), ids as INTEGER. Client ids are 64-bit values stored bit-for-bit in
//! SQLite's signed 64-bit integers.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::types::Type;
use rusqlite::Row;
use usagi_types::{ClientId, ProductId};

use crate::error::CatalogError;

impl From<rusqlite::Error> for CatalogError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::FromSqlConversionFailure(..) | rusqlite::Error::IntegralValueOutOfRange(..) => {
                CatalogError::Corrupt(e.to_string())
            }
            other => CatalogError::Storage(other.to_string()),
        }
    }
}

fn corrupt(idx: usize, ty: Type, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, ty, format!("invalid {what}").into())
}

/// A time as stored.
pub(super) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Reads a stored time.
pub(super) fn time_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    let v: i64 = row.get(idx)?;
    DateTime::from_timestamp_millis(v).ok_or_else(|| corrupt(idx, Type::Integer, "timestamp"))
}

/// Reads a stored optional time.
pub(super) fn opt_time_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    match row.get::<_, Option<i64>>(idx)? {
        None => Ok(None),
        Some(v) => DateTime::from_timestamp_millis(v).map(Some).ok_or_else(|| corrupt(idx, Type::Integer, "timestamp")),
    }
}

/// A day as stored.
pub(super) fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Reads a stored day.
pub(super) fn day_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<NaiveDate> {
    let s: String = row.get(idx)?;
    NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| corrupt(idx, Type::Text, "date"))
}

/// Reads a stored optional day.
pub(super) fn opt_day_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<NaiveDate>> {
    match row.get::<_, Option<String>>(idx)? {
        None => Ok(None),
        Some(s) => NaiveDate::parse_from_str(&s, "%Y-%m-%d").map(Some).map_err(|_| corrupt(idx, Type::Text, "date")),
    }
}

/// A product id as stored.
pub(super) fn pid(p: ProductId) -> i64 {
    // At most 9,999,999,999: always fits.
    i64::try_from(p.as_u64()).unwrap_or(i64::MAX)
}

/// Reads a stored product id.
pub(super) fn product_id_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<ProductId> {
    let v: i64 = row.get(idx)?;
    u64::try_from(v)
        .ok()
        .and_then(|v| ProductId::from_u64(v).ok())
        .ok_or_else(|| corrupt(idx, Type::Integer, "product id"))
}

/// A client id as stored: the 64 bits reinterpreted as a signed integer.
pub(super) fn cid(c: ClientId) -> i64 {
    i64::from_ne_bytes(c.as_u64().to_ne_bytes())
}
