//! Installation controls: disable and back-off.

use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};
use usagi_types::{ClientId, ProductId};

use super::codec::{cid, client_bits_at, get, pid};
use super::products::ensure_product;
use super::{execute, query, query_opt};
use crate::error::Result;
use crate::installation::{BackOffStates, InstallationControl};

/// The controls in force for an installation; all off for an unknown product.
pub(super) async fn control(
    c: &impl GenericClient,
    product: ProductId,
    client: ClientId,
) -> Result<InstallationControl> {
    let row = query_opt(
        c,
        "SELECT p.back_off_until, c.disabled, c.back_off_until, c.back_off_ever FROM products p \
         LEFT JOIN installation_controls c ON c.product_id = p.id AND c.client_id = $2 \
         WHERE p.id = $1",
        &[&pid(product), &cid(client)],
    )
    .await?;
    let Some(row) = row else {
        return Ok(InstallationControl::default());
    };
    let product_until: Option<DateTime<Utc>> = get(&row, 0)?;
    let own_until: Option<DateTime<Utc>> = get(&row, 2)?;
    Ok(InstallationControl {
        disabled: get::<Option<bool>>(&row, 1)?.unwrap_or(false),
        // Both may be set; the later end is the one that binds.
        back_off_until: product_until.max(own_until),
        back_off_ever: get::<Option<bool>>(&row, 3)?.unwrap_or(false),
    })
}

/// Every installation of `product` with back-off state, and the product-wide end.
pub(super) async fn back_off_states(c: &impl GenericClient, product: ProductId) -> Result<BackOffStates> {
    let product_until =
        match query_opt(c, "SELECT back_off_until FROM products WHERE id = $1", &[&pid(product)]).await? {
            Some(row) => get::<Option<DateTime<Utc>>>(&row, 0)?,
            None => None,
        };
    let rows = query(
        c,
        "SELECT client_id, back_off_until, back_off_ever FROM installation_controls \
         WHERE product_id = $1 AND (back_off_until IS NOT NULL OR back_off_ever)",
        &[&pid(product)],
    )
    .await?;
    let clients =
        rows.iter().map(|row| Ok((client_bits_at(row, 0)?, get(row, 1)?, get(row, 2)?))).collect::<Result<Vec<_>>>()?;
    Ok(BackOffStates { product_until, clients })
}

/// Disables or re-enables one installation.
pub(super) async fn set_disabled(
    c: &impl GenericClient,
    product: ProductId,
    client: ClientId,
    disabled: bool,
) -> Result<()> {
    ensure_product(c, product).await?;
    execute(
        c,
        "INSERT INTO installation_controls (product_id, client_id, disabled) VALUES ($1, $2, $3) \
         ON CONFLICT (product_id, client_id) DO UPDATE SET disabled = excluded.disabled",
        &[&pid(product), &cid(client), &disabled],
    )
    .await?;
    Ok(())
}

/// Starts a back-off for one installation or, with `None`, the whole product.
pub(super) async fn start_back_off(
    c: &impl GenericClient,
    product: ProductId,
    client: Option<ClientId>,
    until: DateTime<Utc>,
) -> Result<()> {
    ensure_product(c, product).await?;
    match client {
        Some(client) => {
            execute(
                c,
                "INSERT INTO installation_controls (product_id, client_id, back_off_until, back_off_ever) \
                 VALUES ($1, $2, $3, TRUE) ON CONFLICT (product_id, client_id) \
                 DO UPDATE SET back_off_until = excluded.back_off_until, back_off_ever = TRUE",
                &[&pid(product), &cid(client), &until],
            )
            .await?;
        }
        None => {
            execute(c, "UPDATE products SET back_off_until = $2 WHERE id = $1", &[&pid(product), &until]).await?;
        }
    }
    Ok(())
}

/// Marks that an installation was answered with a back-off instruction.
pub(super) async fn record_back_off_answer(c: &impl GenericClient, product: ProductId, client: ClientId) -> Result<()> {
    ensure_product(c, product).await?;
    execute(
        c,
        "INSERT INTO installation_controls (product_id, client_id, back_off_ever) VALUES ($1, $2, TRUE) \
         ON CONFLICT (product_id, client_id) DO UPDATE SET back_off_ever = TRUE",
        &[&pid(product), &cid(client)],
    )
    .await?;
    Ok(())
}

/// Ends one installation's back-off, or with `None` every back-off of the product.
pub(super) async fn clear_back_off(
    client_conn: &mut Client,
    product: ProductId,
    client: Option<ClientId>,
) -> Result<()> {
    let tx = client_conn.transaction().await?;
    ensure_product(&tx, product).await?;
    match client {
        Some(client) => {
            execute(
                &tx,
                "UPDATE installation_controls SET back_off_until = NULL WHERE product_id = $1 AND client_id = $2",
                &[&pid(product), &cid(client)],
            )
            .await?;
        }
        None => {
            execute(&tx, "UPDATE products SET back_off_until = NULL WHERE id = $1", &[&pid(product)]).await?;
            execute(
                &tx,
                "UPDATE installation_controls SET back_off_until = NULL WHERE product_id = $1",
                &[&pid(product)],
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
