//! Installation controls: disable and back-off.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use usagi_types::{ClientId, ProductId};

use super::codec::{cid, ms, opt_time_at, pid};
use super::products::ensure_product;
use crate::error::Result;
use crate::installation::{BackOffStates, InstallationControl};

/// The controls in force for an installation; all off for an unknown product.
pub(super) fn control(conn: &Connection, product: ProductId, client: ClientId) -> Result<InstallationControl> {
    let row = conn
        .prepare_cached(
            "SELECT p.back_off_until, c.disabled, c.back_off_until, c.back_off_ever FROM products p \
             LEFT JOIN installation_controls c ON c.product_id = p.id AND c.client_id = ?2 \
             WHERE p.id = ?1",
        )?
        .query_row(params![pid(product), cid(client)], |row| {
            Ok((
                opt_time_at(row, 0)?,
                row.get::<_, Option<bool>>(1)?,
                opt_time_at(row, 2)?,
                row.get::<_, Option<bool>>(3)?,
            ))
        })
        .optional()?;
    let Some((product_until, disabled, own_until, ever)) = row else {
        return Ok(InstallationControl::default());
    };
    Ok(InstallationControl {
        disabled: disabled.unwrap_or(false),
        // Both may be set; the later end is the one that binds.
        back_off_until: product_until.max(own_until),
        back_off_ever: ever.unwrap_or(false),
    })
}

/// Every installation of `product` with back-off state, and the product-wide end.
pub(super) fn back_off_states(conn: &Connection, product: ProductId) -> Result<BackOffStates> {
    let product_until = conn
        .prepare_cached("SELECT back_off_until FROM products WHERE id = ?1")?
        .query_row(params![pid(product)], |row| opt_time_at(row, 0))
        .optional()?
        .flatten();
    let mut stmt = conn.prepare_cached(
        "SELECT client_id, back_off_until, back_off_ever FROM installation_controls \
         WHERE product_id = ?1 AND (back_off_until IS NOT NULL OR back_off_ever)",
    )?;
    let clients = stmt
        .query_map(params![pid(product)], |row| {
            let id: i64 = row.get(0)?;
            Ok((
                u64::from_ne_bytes(id.to_ne_bytes()),
                opt_time_at(row, 1)?,
                row.get::<_, Option<bool>>(2)?.unwrap_or(false),
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(BackOffStates { product_until, clients })
}

/// Disables or re-enables one installation.
pub(super) fn set_disabled(conn: &mut Connection, product: ProductId, client: ClientId, disabled: bool) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    ensure_product(&tx, product)?;
    tx.prepare_cached(
        "INSERT INTO installation_controls (product_id, client_id, disabled) VALUES (?1, ?2, ?3) \
         ON CONFLICT (product_id, client_id) DO UPDATE SET disabled = excluded.disabled",
    )?
    .execute(params![pid(product), cid(client), disabled])?;
    tx.commit()?;
    Ok(())
}

/// Starts a back-off for one installation or, with `None`, the whole product.
pub(super) fn start_back_off(
    conn: &mut Connection,
    product: ProductId,
    client: Option<ClientId>,
    until: DateTime<Utc>,
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    ensure_product(&tx, product)?;
    match client {
        Some(client) => {
            tx.prepare_cached(
                "INSERT INTO installation_controls (product_id, client_id, back_off_until, back_off_ever) \
                 VALUES (?1, ?2, ?3, 1) ON CONFLICT (product_id, client_id) \
                 DO UPDATE SET back_off_until = excluded.back_off_until, back_off_ever = 1",
            )?
            .execute(params![pid(product), cid(client), ms(until)])?;
        }
        None => {
            tx.prepare_cached("UPDATE products SET back_off_until = ?2 WHERE id = ?1")?
                .execute(params![pid(product), ms(until)])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Marks that an installation was answered with a back-off instruction.
pub(super) fn record_back_off_answer(conn: &mut Connection, product: ProductId, client: ClientId) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    ensure_product(&tx, product)?;
    tx.prepare_cached(
        "INSERT INTO installation_controls (product_id, client_id, back_off_ever) VALUES (?1, ?2, 1) \
         ON CONFLICT (product_id, client_id) DO UPDATE SET back_off_ever = 1",
    )?
    .execute(params![pid(product), cid(client)])?;
    tx.commit()?;
    Ok(())
}

/// Ends one installation's back-off, or with `None` every back-off of the product.
pub(super) fn clear_back_off(conn: &mut Connection, product: ProductId, client: Option<ClientId>) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    ensure_product(&tx, product)?;
    match client {
        Some(client) => {
            tx.prepare_cached(
                "UPDATE installation_controls SET back_off_until = NULL WHERE product_id = ?1 AND client_id = ?2",
            )?
            .execute(params![pid(product), cid(client)])?;
        }
        None => {
            tx.prepare_cached("UPDATE products SET back_off_until = NULL WHERE id = ?1")?.execute([pid(product)])?;
            tx.prepare_cached("UPDATE installation_controls SET back_off_until = NULL WHERE product_id = ?1")?
                .execute([pid(product)])?;
        }
    }
    tx.commit()?;
    Ok(())
}
