//! The minimal license-key registry.

use std::collections::HashSet;

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use usagi_types::ProductId;

use super::codec::{day, day_at, opt_day_at, pid};
use super::products::ensure_product;
use crate::error::{CatalogError, Result};
use crate::license_key::{check_key, LicenseKeyPatch, LicenseKeyRecord, LicenseType};

const KEY_COLUMNS: &str = "license_key, license_type, expired, activated, blocked, allowed, \
     expiry_date, quota, notes, auto_collected, added_date";

fn record_from_row(row: &Row<'_>) -> rusqlite::Result<LicenseKeyRecord> {
    let license_type: String = row.get(1)?;
    Ok(LicenseKeyRecord {
        key: row.get(0)?,
        license_type: license_type.parse::<LicenseType>().map_err(|_| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, "invalid license type".into())
        })?,
        expired: row.get(2)?,
        activated: row.get(3)?,
        blocked: row.get(4)?,
        allowed: row.get(5)?,
        expiry_date: opt_day_at(row, 6)?,
        quota: row.get(7)?,
        notes: row.get(8)?,
        auto_collected: row.get(9)?,
        added_date: day_at(row, 10)?,
    })
}

/// Looks up one key.
pub(super) fn get(conn: &Connection, product: ProductId, key: &str) -> Result<Option<LicenseKeyRecord>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM license_keys WHERE product_id = ?1 AND license_key = ?2"))?
        .query_row(params![pid(product), key], record_from_row)
        .optional()?)
}

fn insert(conn: &Connection, product: ProductId, r: &LicenseKeyRecord) -> Result<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO license_keys (product_id, {KEY_COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    ))?
    .execute(params![
        pid(product),
        r.key,
        r.license_type.as_str(),
        r.expired,
        r.activated,
        r.blocked,
        r.allowed,
        r.expiry_date.map(day),
        r.quota,
        r.notes,
        r.auto_collected,
        day(r.added_date),
    ])?;
    Ok(())
}

/// Up to `limit` keys in code-point order from `start_at` on (SQLite's BINARY collation
/// compares UTF-8 bytes, which orders like code points).
pub(super) fn list(
    conn: &Connection,
    product: ProductId,
    start_at: Option<&str>,
    limit: usize,
) -> Result<Vec<LicenseKeyRecord>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {KEY_COLUMNS} FROM license_keys WHERE product_id = ?1 AND license_key >= ?2 \
         ORDER BY license_key LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![pid(product), start_at.unwrap_or(""), limit], record_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn replace(conn: &Connection, product: ProductId, r: &LicenseKeyRecord) -> Result<()> {
    conn.prepare_cached(
        "UPDATE license_keys SET license_type = ?3, expired = ?4, activated = ?5, blocked = ?6, \
         allowed = ?7, expiry_date = ?8, quota = ?9, notes = ?10 \
         WHERE product_id = ?1 AND license_key = ?2",
    )?
    .execute(params![
        pid(product),
        r.key,
        r.license_type.as_str(),
        r.expired,
        r.activated,
        r.blocked,
        r.allowed,
        r.expiry_date.map(day),
        r.quota,
        r.notes,
    ])?;
    Ok(())
}

/// Rejects a key listed twice in one bulk call.
fn check_unique<'a>(keys: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut seen = HashSet::new();
    for key in keys {
        if !seen.insert(key) {
            return Err(CatalogError::invalid(format!("licenseKey '{key}' is listed twice")));
        }
    }
    Ok(())
}

/// Applies every patch in one transaction; returns `(inserted, updated)`.
pub(super) fn update_many(
    conn: &mut Connection,
    product: ProductId,
    patches: &[LicenseKeyPatch],
    today: NaiveDate,
) -> Result<(u64, u64)> {
    check_unique(patches.iter().map(|p| p.key.as_str()))?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    ensure_product(&tx, product)?;
    let (mut inserted, mut updated) = (0, 0);
    for patch in patches {
        let stored = get(&tx, product, &patch.key)?;
        let known = stored.is_some();
        let record = LicenseKeyRecord::patched(stored, patch, today);
        // A failure drops the transaction, so nothing of the call is stored.
        record.validate()?;
        if known {
            replace(&tx, product, &record)?;
            updated += 1;
        } else {
            insert(&tx, product, &record)?;
            inserted += 1;
        }
    }
    tx.commit()?;
    Ok((inserted, updated))
}

/// Deletes the keys in one transaction; returns those that were not stored, in order.
pub(super) fn delete_many(conn: &mut Connection, product: ProductId, keys: &[String]) -> Result<Vec<String>> {
    check_unique(keys.iter().map(String::as_str))?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    ensure_product(&tx, product)?;
    let mut not_found = Vec::new();
    {
        let mut stmt = tx.prepare_cached("DELETE FROM license_keys WHERE product_id = ?1 AND license_key = ?2")?;
        for key in keys {
            if stmt.execute(params![pid(product), key])? == 0 {
                not_found.push(key.clone());
            }
        }
    }
    tx.commit()?;
    Ok(not_found)
}

/// Inserts or replaces a key, keeping a stored key's origin; true if inserted.
pub(super) fn upsert(conn: &mut Connection, product: ProductId, r: &LicenseKeyRecord) -> Result<bool> {
    r.validate()?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    ensure_product(&tx, product)?;
    let inserted = if get(&tx, product, &r.key)?.is_some() {
        replace(&tx, product, r)?;
        false
    } else {
        insert(&tx, product, r)?;
        true
    };
    tx.commit()?;
    Ok(inserted)
}

/// Inserts an unknown key as auto-collected; returns the record and whether it was known.
pub(super) fn auto_collect(
    conn: &mut Connection,
    product: ProductId,
    key: &str,
    today: NaiveDate,
) -> Result<(LicenseKeyRecord, bool)> {
    check_key(key)?;
    // Fast path without the write lock: most license/set calls repeat a known key.
    if let Some(existing) = get(conn, product, key)? {
        return Ok((existing, true));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    ensure_product(&tx, product)?;
    // Checked again under the write lock: another process may have inserted it meanwhile.
    let outcome = match get(&tx, product, key)? {
        Some(existing) => (existing, true),
        None => {
            let record = LicenseKeyRecord::auto_collected(key, today);
            insert(&tx, product, &record)?;
            (record, false)
        }
    };
    tx.commit()?;
    Ok(outcome)
}
