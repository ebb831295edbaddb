//! The minimal license-key registry.

use std::collections::HashSet;

use chrono::NaiveDate;
use deadpool_postgres::{Client, GenericClient};
use tokio_postgres::Row;
use usagi_types::ProductId;

use super::codec::{get, opt_i64, opt_u32_at, pid};
use super::products::{ensure_product, lock_product};
use super::{execute, query, query_opt};
use crate::error::{CatalogError, Result};
use crate::license_key::{check_key, LicenseKeyPatch, LicenseKeyRecord, LicenseType};

const KEY_COLUMNS: &str = "license_key, license_type, expired, activated, blocked, allowed, \
     expiry_date, quota, notes, auto_collected, added_date";

fn record_from_row(row: &Row) -> Result<LicenseKeyRecord> {
    Ok(LicenseKeyRecord {
        key: get(row, 0)?,
        license_type: get::<String>(row, 1)?
            .parse::<LicenseType>()
            .map_err(|_| CatalogError::Corrupt("invalid license type".into()))?,
        expired: get(row, 2)?,
        activated: get(row, 3)?,
        blocked: get(row, 4)?,
        allowed: get(row, 5)?,
        expiry_date: get(row, 6)?,
        quota: opt_u32_at(row, 7)?,
        notes: get(row, 8)?,
        auto_collected: get(row, 9)?,
        added_date: get(row, 10)?,
    })
}

/// Looks up one key; `for_update` also locks its row for the rest of the transaction.
async fn read(
    c: &impl GenericClient,
    product: ProductId,
    key: &str,
    for_update: bool,
) -> Result<Option<LicenseKeyRecord>> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {KEY_COLUMNS} FROM license_keys WHERE product_id = $1 AND license_key = $2{lock}");
    query_opt(c, &sql, &[&pid(product), &key]).await?.as_ref().map(record_from_row).transpose()
}

/// Looks up one key.
pub(super) async fn get_key(c: &impl GenericClient, product: ProductId, key: &str) -> Result<Option<LicenseKeyRecord>> {
    read(c, product, key, false).await
}

/// Inserts a key unless it exists; true if inserted.
async fn insert(c: &impl GenericClient, product: ProductId, r: &LicenseKeyRecord) -> Result<bool> {
    let n = execute(
        c,
        &format!(
            "INSERT INTO license_keys (product_id, {KEY_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (product_id, license_key) DO NOTHING"
        ),
        &[
            &pid(product),
            &r.key,
            &r.license_type.as_str(),
            &r.expired,
            &r.activated,
            &r.blocked,
            &r.allowed,
            &r.expiry_date,
            &opt_i64(r.quota),
            &r.notes,
            &r.auto_collected,
            &r.added_date,
        ],
    )
    .await?;
    Ok(n == 1)
}

/// Up to `limit` keys in code-point order from `start_at` on (the column's "C" collation
/// compares UTF-8 bytes, which orders like code points).
pub(super) async fn list(
    c: &impl GenericClient,
    product: ProductId,
    start_at: Option<&str>,
    limit: usize,
) -> Result<Vec<LicenseKeyRecord>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = query(
        c,
        &format!(
            "SELECT {KEY_COLUMNS} FROM license_keys WHERE product_id = $1 AND license_key >= $2 \
             ORDER BY license_key LIMIT $3"
        ),
        &[&pid(product), &start_at.unwrap_or(""), &limit],
    )
    .await?;
    rows.iter().map(record_from_row).collect()
}

async fn replace(c: &impl GenericClient, product: ProductId, r: &LicenseKeyRecord) -> Result<()> {
    execute(
        c,
        "UPDATE license_keys SET license_type = $3, expired = $4, activated = $5, blocked = $6, \
         allowed = $7, expiry_date = $8, quota = $9, notes = $10 \
         WHERE product_id = $1 AND license_key = $2",
        &[
            &pid(product),
            &r.key,
            &r.license_type.as_str(),
            &r.expired,
            &r.activated,
            &r.blocked,
            &r.allowed,
            &r.expiry_date,
            &opt_i64(r.quota),
            &r.notes,
        ],
    )
    .await?;
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
pub(super) async fn update_many(
    client: &mut Client,
    product: ProductId,
    patches: &[LicenseKeyPatch],
    today: NaiveDate,
) -> Result<(u64, u64)> {
    check_unique(patches.iter().map(|p| p.key.as_str()))?;
    let tx = client.transaction().await?;
    // One bulk write per product at a time, whichever process runs it.
    lock_product(&tx, product).await?;
    let (mut inserted, mut updated) = (0, 0);
    for patch in patches {
        // A failure drops the transaction, so nothing of the call is stored.
        if let Some(stored) = read(&tx, product, &patch.key, true).await? {
            let record = LicenseKeyRecord::patched(Some(stored), patch, today);
            record.validate()?;
            replace(&tx, product, &record).await?;
            updated += 1;
            continue;
        }
        let record = LicenseKeyRecord::patched(None, patch, today);
        record.validate()?;
        if insert(&tx, product, &record).await? {
            inserted += 1;
            continue;
        }
        // A `license/set` auto-collected the key since the read: patch the stored record.
        let stored = read(&tx, product, &patch.key, true).await?;
        let record = LicenseKeyRecord::patched(stored, patch, today);
        replace(&tx, product, &record).await?;
        updated += 1;
    }
    tx.commit().await?;
    Ok((inserted, updated))
}

/// Deletes the keys in one transaction; returns those that were not stored, in order.
pub(super) async fn delete_many(client: &mut Client, product: ProductId, keys: &[String]) -> Result<Vec<String>> {
    check_unique(keys.iter().map(String::as_str))?;
    let tx = client.transaction().await?;
    lock_product(&tx, product).await?;
    let mut not_found = Vec::new();
    for key in keys {
        let n =
            execute(&tx, "DELETE FROM license_keys WHERE product_id = $1 AND license_key = $2", &[&pid(product), key])
                .await?;
        if n == 0 {
            not_found.push(key.clone());
        }
    }
    tx.commit().await?;
    Ok(not_found)
}

/// Inserts or replaces a key, keeping a stored key's origin; true if inserted.
pub(super) async fn upsert(c: &impl GenericClient, product: ProductId, r: &LicenseKeyRecord) -> Result<bool> {
    r.validate()?;
    ensure_product(c, product).await?;
    // One statement: `xmax = 0` holds exactly for a row this statement inserted.
    let row = query_opt(
        c,
        &format!(
            "INSERT INTO license_keys (product_id, {KEY_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (product_id, license_key) DO UPDATE SET license_type = excluded.license_type, \
             expired = excluded.expired, activated = excluded.activated, blocked = excluded.blocked, \
             allowed = excluded.allowed, expiry_date = excluded.expiry_date, quota = excluded.quota, \
             notes = excluded.notes \
             RETURNING (xmax = 0)"
        ),
        &[
            &pid(product),
            &r.key,
            &r.license_type.as_str(),
            &r.expired,
            &r.activated,
            &r.blocked,
            &r.allowed,
            &r.expiry_date,
            &opt_i64(r.quota),
            &r.notes,
            &r.auto_collected,
            &r.added_date,
        ],
    )
    .await?;
    match row {
        Some(row) => get(&row, 0),
        None => Err(CatalogError::Storage("upsert returned no row".into())),
    }
}

/// Inserts an unknown key as auto-collected; returns the record and whether it was known.
pub(super) async fn auto_collect(
    c: &impl GenericClient,
    product: ProductId,
    key: &str,
    today: NaiveDate,
) -> Result<(LicenseKeyRecord, bool)> {
    check_key(key)?;
    // Fast path: most license/set calls repeat a known key.
    if let Some(existing) = get_key(c, product, key).await? {
        return Ok((existing, true));
    }
    ensure_product(c, product).await?;
    let record = LicenseKeyRecord::auto_collected(key, today);
    // ON CONFLICT DO NOTHING: of racing calls (in any process) exactly one inserts.
    if insert(c, product, &record).await? {
        return Ok((record, false));
    }
    let existing = get_key(c, product, key).await?;
    // Keys are only deleted by `deleteKeys`; one deleted in between is simply collected again.
    match existing {
        Some(existing) => Ok((existing, true)),
        None if insert(c, product, &record).await? => Ok((record, false)),
        None => Err(CatalogError::Storage(format!("license key {key} changed concurrently"))),
    }
}
