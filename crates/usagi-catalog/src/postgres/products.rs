//! Products, their settings and secrets.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::{Client, GenericClient};
use rand::Rng;
use tokio_postgres::Row;
use usagi_types::ProductId;

use super::codec::{get, opt_i64, opt_u32_at, pid, product_id_at, u32_at};
use super::{execute, query, query_one, query_opt};
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
pub(super) fn product_from_row(row: &Row) -> Result<Product> {
    Ok(Product {
        id: product_id_at(row, 0)?,
        name: get(row, 1)?,
        created_at: get(row, 2)?,
        disabled: get(row, 3)?,
        settings: ProductSettings {
            days_until_declared_lost: u32_at(row, 4)?,
            retention_days: u32_at(row, 5)?,
            next_sync_seconds: u32_at(row, 6)?,
            max_active_installations: opt_u32_at(row, 7)?,
            back_off_days: u32_at(row, 8)?,
            export_retention_days: u32_at(row, 9)?,
            new_events_basic: get(row, 10)?,
            custom_property_names: BTreeMap::new(),
        },
    })
}

/// Fills in the custom property names of the given products (one query for all).
pub(super) async fn attach_custom_names(c: &impl GenericClient, products: Vec<&mut Product>) -> Result<()> {
    let mut by_id: BTreeMap<ProductId, &mut Product> = products.into_iter().map(|p| (p.id, p)).collect();
    if by_id.is_empty() {
        return Ok(());
    }
    // One product: read its names. Several: read every name once (catalogs are small).
    let only = match by_id.keys().next() {
        Some(id) if by_id.len() == 1 => Some(pid(*id)),
        _ => None,
    };
    let rows = query(
        c,
        "SELECT product_id, slot, name FROM product_custom_property_names \
         WHERE $1::BIGINT IS NULL OR product_id = $1",
        &[&only],
    )
    .await?;
    for row in rows {
        let id = product_id_at(&row, 0)?;
        let slot = u8::try_from(get::<i64>(&row, 1)?).map_err(|_| CatalogError::Corrupt("property slot".into()))?;
        if let Some(product) = by_id.get_mut(&id) {
            product.settings.custom_property_names.insert(slot, get(&row, 2)?);
        }
    }
    Ok(())
}

/// Fails with `NotFound` unless the product exists.
pub(super) async fn ensure_product(c: &impl GenericClient, id: ProductId) -> Result<()> {
    let exists: bool =
        get(&query_one(c, "SELECT EXISTS(SELECT 1 FROM products WHERE id = $1)", &[&pid(id)]).await?, 0)?;
    if exists {
        Ok(())
    } else {
        Err(not_found(id))
    }
}

/// Locks a product's row for the rest of the transaction (`NotFound` if there is none).
///
/// This serialises the multi-statement writes of one product (settings, secrets, bulk key
/// and event-flag updates) across every process. `FOR NO KEY UPDATE` does not conflict with
/// the key-share locks that inserts referencing the product take, so call-home writes go on.
pub(super) async fn lock_product(c: &impl GenericClient, id: ProductId) -> Result<()> {
    match query_opt(c, "SELECT 1 FROM products WHERE id = $1 FOR NO KEY UPDATE", &[&pid(id)]).await? {
        Some(_) => Ok(()),
        None => Err(not_found(id)),
    }
}

fn not_found(id: ProductId) -> CatalogError {
    CatalogError::NotFound(format!("product {id}"))
}

/// Looks up one product.
pub(super) async fn get_product(c: &impl GenericClient, id: ProductId) -> Result<Option<Product>> {
    let row = query_opt(c, &format!("SELECT {PRODUCT_COLUMNS} FROM products p WHERE p.id = $1"), &[&pid(id)]).await?;
    let mut product = row.as_ref().map(product_from_row).transpose()?;
    attach_custom_names(c, product.iter_mut().collect()).await?;
    Ok(product)
}

/// Every product by ascending id.
pub(super) async fn list(c: &impl GenericClient) -> Result<Vec<Product>> {
    let rows = query(c, &format!("SELECT {PRODUCT_COLUMNS} FROM products p ORDER BY p.id"), &[]).await?;
    let mut products = rows.iter().map(product_from_row).collect::<Result<Vec<_>>>()?;
    attach_custom_names(c, products.iter_mut().collect()).await?;
    Ok(products)
}

/// Inserts a product row unless its id is taken; true if inserted.
async fn insert_product(
    c: &impl GenericClient,
    id: ProductId,
    name: &str,
    s: &ProductSettings,
    now: DateTime<Utc>,
) -> Result<bool> {
    let n = execute(
        c,
        "INSERT INTO products (id, name, created_at, disabled, days_until_declared_lost, retention_days, \
         next_sync_seconds, max_active_installations, back_off_days, export_retention_days, new_events_basic) \
         VALUES ($1, $2, $3, FALSE, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
        &[
            &pid(id),
            &name,
            &now,
            &i64::from(s.days_until_declared_lost),
            &i64::from(s.retention_days),
            &i64::from(s.next_sync_seconds),
            &opt_i64(s.max_active_installations),
            &i64::from(s.back_off_days),
            &i64::from(s.export_retention_days),
            &s.new_events_basic,
        ],
    )
    .await?;
    Ok(n == 1)
}

/// Creates a product and its first secret.
pub(super) async fn create(
    client: &mut Client,
    name: &str,
    id: Option<ProductId>,
    now: DateTime<Utc>,
) -> Result<(Product, String)> {
    let name = clean_name("name", name)?;
    let settings = ProductSettings::default();
    let tx = client.transaction().await?;
    // ON CONFLICT makes the existence check and the insert one atomic step.
    let id = match id {
        Some(id) => {
            if !insert_product(&tx, id, &name, &settings, now).await? {
                return Err(CatalogError::AlreadyExists(format!("product {id}")));
            }
            id
        }
        None => {
            let mut drawn = None;
            for _ in 0..RANDOM_ID_ATTEMPTS {
                // Ten digits with no leading zero, so the id reads the same as a number.
                let n = rand::thread_rng().gen_range(1_000_000_000..=9_999_999_999);
                let candidate = ProductId::from_u64(n).map_err(|e| CatalogError::Storage(e.to_string()))?;
                if insert_product(&tx, candidate, &name, &settings, now).await? {
                    drawn = Some(candidate);
                    break;
                }
            }
            drawn.ok_or_else(|| CatalogError::Storage("could not draw a free product id".into()))?
        }
    };
    let secret = new_product_secret();
    insert_current_secret(&tx, id, &secret, now).await?;
    tx.commit().await?;
    let product = Product { id, name, created_at: now, disabled: false, settings };
    Ok((product, secret))
}

async fn insert_current_secret(c: &impl GenericClient, id: ProductId, secret: &str, now: DateTime<Utc>) -> Result<()> {
    execute(
        c,
        "INSERT INTO product_secrets (product_id, secret_hex, created_at, expires_at) VALUES ($1, $2, $3, NULL)",
        &[&pid(id), &secret, &now],
    )
    .await?;
    Ok(())
}

/// Renames a product.
pub(super) async fn rename(c: &impl GenericClient, id: ProductId, name: &str) -> Result<Product> {
    let name = clean_name("name", name)?;
    if execute(c, "UPDATE products SET name = $2 WHERE id = $1", &[&pid(id), &name]).await? == 0 {
        return Err(not_found(id));
    }
    get_product(c, id).await?.ok_or_else(|| not_found(id))
}

/// Validates and stores a settings patch (read and write under the product's row lock).
pub(super) async fn update_settings(
    client: &mut Client,
    id: ProductId,
    patch: &ProductSettingsPatch,
) -> Result<Product> {
    let tx = client.transaction().await?;
    lock_product(&tx, id).await?;
    let mut product = get_product(&tx, id).await?.ok_or_else(|| not_found(id))?;
    let s = product.settings.apply(patch)?;
    execute(
        &tx,
        "UPDATE products SET days_until_declared_lost = $2, retention_days = $3, next_sync_seconds = $4, \
         max_active_installations = $5, back_off_days = $6, export_retention_days = $7, new_events_basic = $8 \
         WHERE id = $1",
        &[
            &pid(id),
            &i64::from(s.days_until_declared_lost),
            &i64::from(s.retention_days),
            &i64::from(s.next_sync_seconds),
            &opt_i64(s.max_active_installations),
            &i64::from(s.back_off_days),
            &i64::from(s.export_retention_days),
            &s.new_events_basic,
        ],
    )
    .await?;
    if s.custom_property_names != product.settings.custom_property_names {
        execute(&tx, "DELETE FROM product_custom_property_names WHERE product_id = $1", &[&pid(id)]).await?;
        for (slot, name) in &s.custom_property_names {
            execute(
                &tx,
                "INSERT INTO product_custom_property_names (product_id, slot, name) VALUES ($1, $2, $3)",
                &[&pid(id), &i64::from(*slot), name],
            )
            .await?;
        }
    }
    tx.commit().await?;
    product.settings = s;
    Ok(product)
}

/// Disables or re-enables a product.
pub(super) async fn set_disabled(c: &impl GenericClient, id: ProductId, disabled: bool) -> Result<()> {
    if execute(c, "UPDATE products SET disabled = $2 WHERE id = $1", &[&pid(id), &disabled]).await? == 0 {
        return Err(not_found(id));
    }
    Ok(())
}

/// The secrets valid at `now`, current first.
pub(super) async fn active_secrets(c: &impl GenericClient, id: ProductId, now: DateTime<Utc>) -> Result<Vec<String>> {
    let rows = query(
        c,
        "SELECT secret_hex FROM product_secrets \
         WHERE product_id = $1 AND (expires_at IS NULL OR expires_at > $2) \
         ORDER BY expires_at IS NOT NULL, id DESC",
        &[&pid(id), &now],
    )
    .await?;
    rows.iter().map(|r| get(r, 0)).collect()
}

/// Demotes the current secret to "previous" and makes a new current one.
pub(super) async fn rotate_secret(
    client: &mut Client,
    id: ProductId,
    previous_valid_for: Duration,
    now: DateTime<Utc>,
) -> Result<String> {
    let tx = client.transaction().await?;
    lock_product(&tx, id).await?;
    // At most two secrets are ever active (callhome §3): an older "previous" goes now.
    execute(&tx, "DELETE FROM product_secrets WHERE product_id = $1 AND expires_at IS NOT NULL", &[&pid(id)]).await?;
    if previous_valid_for > Duration::zero() {
        let expires = now
            .checked_add_signed(previous_valid_for)
            .ok_or_else(|| CatalogError::invalid("previousValidFor is too large"))?;
        execute(
            &tx,
            "UPDATE product_secrets SET expires_at = $2 WHERE product_id = $1 AND expires_at IS NULL",
            &[&pid(id), &expires],
        )
        .await?;
    } else {
        execute(&tx, "DELETE FROM product_secrets WHERE product_id = $1 AND expires_at IS NULL", &[&pid(id)]).await?;
    }
    let secret = new_product_secret();
    insert_current_secret(&tx, id, &secret, now).await?;
    tx.commit().await?;
    Ok(secret)
}
