//! Products, their settings and secrets.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use usagi_types::ProductId;

use super::codec::{ms, pid, product_id_at, time_at};
use crate::credentials::new_product_secret;
use crate::error::{CatalogError, Result};
use crate::product::{clean_name, Product, ProductSettings, ProductSettingsPatch};

/// Columns read by [`product_from_row`], in order; callers may alias the table as `p`.
pub(super) const PRODUCT_COLUMNS: &str = "p.id, p.name, p.created_at, p.disabled, \
     p.days_until_declared_lost, p.retention_days, p.next_sync_seconds, \
     p.max_active_installations, p.back_off_days, p.export_retention_days, p.new_events_basic";

/// Number of columns in [`PRODUCT_COLUMNS`].
pub(super) const PRODUCT_COLUMN_COUNT: usize = 11;

/// How many random ids to try before giving up; with 9·10⁹ ids this never runs out.
const RANDOM_ID_ATTEMPTS: usize = 32;

/// Reads a product without its custom property names (see [`attach_custom_names`]).
pub(super) fn product_from_row(row: &Row<'_>) -> rusqlite::Result<Product> {
    Ok(Product {
        id: product_id_at(row, 0)?,
        name: row.get(1)?,
        created_at: time_at(row, 2)?,
        disabled: row.get(3)?,
        settings: ProductSettings {
            days_until_declared_lost: row.get(4)?,
            retention_days: row.get(5)?,
            next_sync_seconds: row.get(6)?,
            max_active_installations: row.get(7)?,
            back_off_days: row.get(8)?,
            export_retention_days: row.get(9)?,
            new_events_basic: row.get(10)?,
            custom_property_names: BTreeMap::new(),
        },
    })
}

/// Fills in the custom property names of the given products (one query for all).
pub(super) fn attach_custom_names<'a>(
    conn: &Connection,
    products: impl IntoIterator<Item = &'a mut Product>,
) -> Result<()> {
    let mut by_id: BTreeMap<ProductId, &mut Product> = products.into_iter().map(|p| (p.id, p)).collect();
    if by_id.is_empty() {
        return Ok(());
    }
    // One product: read its names. Several: read every name once (catalogs are small).
    let only = match by_id.keys().next() {
        Some(id) if by_id.len() == 1 => Some(pid(*id)),
        _ => None,
    };
    let mut stmt = conn.prepare_cached(
        "SELECT product_id, slot, name FROM product_custom_property_names \
         WHERE ?1 IS NULL OR product_id = ?1",
    )?;
    let rows =
        stmt.query_map([only], |row| Ok((product_id_at(row, 0)?, row.get::<_, u8>(1)?, row.get::<_, String>(2)?)))?;
    for row in rows {
        let (id, slot, name) = row?;
        if let Some(product) = by_id.get_mut(&id) {
            product.settings.custom_property_names.insert(slot, name);
        }
    }
    Ok(())
}

/// Fails with `NotFound` unless the product exists.
pub(super) fn ensure_product(conn: &Connection, id: ProductId) -> Result<()> {
    if product_exists(conn, id)? {
        Ok(())
    } else {
        Err(not_found(id))
    }
}

fn product_exists(conn: &Connection, id: ProductId) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM products WHERE id = ?1)")?
        .query_row([pid(id)], |r| r.get(0))?)
}

fn not_found(id: ProductId) -> CatalogError {
    CatalogError::NotFound(format!("product {id}"))
}

/// Looks up one product.
pub(super) fn get(conn: &Connection, id: ProductId) -> Result<Option<Product>> {
    let mut product = conn
        .prepare_cached(&format!("SELECT {PRODUCT_COLUMNS} FROM products p WHERE p.id = ?1"))?
        .query_row([pid(id)], product_from_row)
        .optional()?;
    attach_custom_names(conn, product.iter_mut())?;
    Ok(product)
}

/// Every product by ascending id.
pub(super) fn list(conn: &Connection) -> Result<Vec<Product>> {
    let mut products = conn
        .prepare_cached(&format!("SELECT {PRODUCT_COLUMNS} FROM products p ORDER BY p.id"))?
        .query_map([], product_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    attach_custom_names(conn, products.iter_mut())?;
    Ok(products)
}

/// Creates a product and its first secret.
pub(super) fn create(
    conn: &mut Connection,
    name: &str,
    id: Option<ProductId>,
    now: DateTime<Utc>,
) -> Result<(Product, String)> {
    let name = clean_name("name", name)?;
    // IMMEDIATE takes the write lock first, so the existence check and the insert are atomic.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let id = match id {
        Some(id) if product_exists(&tx, id)? => return Err(CatalogError::AlreadyExists(format!("product {id}"))),
        Some(id) => id,
        None => draw_free_id(&tx)?,
    };
    let settings = ProductSettings::default();
    tx.prepare_cached(
        "INSERT INTO products (id, name, created_at, disabled, days_until_declared_lost, retention_days, \
         next_sync_seconds, max_active_installations, back_off_days, export_retention_days, new_events_basic) \
         VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        pid(id),
        name,
        ms(now),
        settings.days_until_declared_lost,
        settings.retention_days,
        settings.next_sync_seconds,
        settings.max_active_installations,
        settings.back_off_days,
        settings.export_retention_days,
        settings.new_events_basic,
    ])?;
    let secret = new_product_secret();
    insert_current_secret(&tx, id, &secret, now)?;
    tx.commit()?;
    let product = Product { id, name, created_at: now, disabled: false, settings };
    Ok((product, secret))
}

fn draw_free_id(conn: &Connection) -> Result<ProductId> {
    let mut rng = rand::thread_rng();
    for _ in 0..RANDOM_ID_ATTEMPTS {
        // Ten digits with no leading zero, so the id reads the same as a number.
        let candidate = ProductId::from_u64(rng.gen_range(1_000_000_000..=9_999_999_999))
            .map_err(|e| CatalogError::Storage(e.to_string()))?;
        if !product_exists(conn, candidate)? {
            return Ok(candidate);
        }
    }
    Err(CatalogError::Storage("could not draw a free product id".into()))
}

fn insert_current_secret(conn: &Connection, id: ProductId, secret: &str, now: DateTime<Utc>) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO product_secrets (product_id, secret_hex, created_at, expires_at) VALUES (?1, ?2, ?3, NULL)",
    )?
    .execute(params![pid(id), secret, ms(now)])?;
    Ok(())
}

/// Renames a product.
pub(super) fn rename(conn: &Connection, id: ProductId, name: &str) -> Result<Product> {
    let name = clean_name("name", name)?;
    let changed =
        conn.prepare_cached("UPDATE products SET name = ?2 WHERE id = ?1")?.execute(params![pid(id), name])?;
    if changed == 0 {
        return Err(not_found(id));
    }
    get(conn, id)?.ok_or_else(|| not_found(id))
}

/// Validates and stores a settings patch.
pub(super) fn update_settings(conn: &mut Connection, id: ProductId, patch: &ProductSettingsPatch) -> Result<Product> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut product = get(&tx, id)?.ok_or_else(|| not_found(id))?;
    let s = product.settings.apply(patch)?;
    tx.prepare_cached(
        "UPDATE products SET days_until_declared_lost = ?2, retention_days = ?3, next_sync_seconds = ?4, \
         max_active_installations = ?5, back_off_days = ?6, export_retention_days = ?7, new_events_basic = ?8 \
         WHERE id = ?1",
    )?
    .execute(params![
        pid(id),
        s.days_until_declared_lost,
        s.retention_days,
        s.next_sync_seconds,
        s.max_active_installations,
        s.back_off_days,
        s.export_retention_days,
        s.new_events_basic,
    ])?;
    if s.custom_property_names != product.settings.custom_property_names {
        tx.prepare_cached("DELETE FROM product_custom_property_names WHERE product_id = ?1")?.execute([pid(id)])?;
        let mut insert = tx
            .prepare_cached("INSERT INTO product_custom_property_names (product_id, slot, name) VALUES (?1, ?2, ?3)")?;
        for (slot, name) in &s.custom_property_names {
            insert.execute(params![pid(id), slot, name])?;
        }
    }
    tx.commit()?;
    product.settings = s;
    Ok(product)
}

/// Disables or re-enables a product.
pub(super) fn set_disabled(conn: &Connection, id: ProductId, disabled: bool) -> Result<()> {
    let changed =
        conn.prepare_cached("UPDATE products SET disabled = ?2 WHERE id = ?1")?.execute(params![pid(id), disabled])?;
    if changed == 0 {
        return Err(not_found(id));
    }
    Ok(())
}

/// The secrets valid at `now`, current first.
pub(super) fn active_secrets(conn: &Connection, id: ProductId, now: DateTime<Utc>) -> Result<Vec<String>> {
    let secrets = conn
        .prepare_cached(
            "SELECT secret_hex FROM product_secrets \
             WHERE product_id = ?1 AND (expires_at IS NULL OR expires_at > ?2) \
             ORDER BY expires_at IS NOT NULL, id DESC",
        )?
        .query_map(params![pid(id), ms(now)], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(secrets)
}

/// Demotes the current secret to "previous" and makes a new current one.
pub(super) fn rotate_secret(
    conn: &mut Connection,
    id: ProductId,
    previous_valid_for: Duration,
    now: DateTime<Utc>,
) -> Result<String> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    ensure_product(&tx, id)?;
    // At most two secrets are ever active (callhome §3): an older "previous" goes now.
    tx.prepare_cached("DELETE FROM product_secrets WHERE product_id = ?1 AND expires_at IS NOT NULL")?
        .execute([pid(id)])?;
    if previous_valid_for > Duration::zero() {
        let expires = now
            .checked_add_signed(previous_valid_for)
            .ok_or_else(|| CatalogError::invalid("previousValidFor is too large"))?;
        tx.prepare_cached("UPDATE product_secrets SET expires_at = ?2 WHERE product_id = ?1 AND expires_at IS NULL")?
            .execute(params![pid(id), ms(expires)])?;
    } else {
        tx.prepare_cached("DELETE FROM product_secrets WHERE product_id = ?1 AND expires_at IS NULL")?
            .execute([pid(id)])?;
    }
    let secret = new_product_secret();
    insert_current_secret(&tx, id, &secret, now)?;
    tx.commit()?;
    Ok(secret)
}
