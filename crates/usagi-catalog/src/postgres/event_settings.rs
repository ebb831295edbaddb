//! Event tracking flags.

use deadpool_postgres::{Client, GenericClient};
use usagi_types::ProductId;

use super::codec::{get, pid};
use super::products::lock_product;
use super::{execute, query, query_opt};
use crate::error::Result;
use crate::event_setting::EventSetting;

/// Every event with flags set (or pre-registered) for a product.
pub(super) async fn list(c: &impl GenericClient, product: ProductId) -> Result<Vec<EventSetting>> {
    let rows = query(
        c,
        // NULLS FIRST: the order SQLite gives, so both backends list alike.
        "SELECT category, name, basic, advanced FROM event_settings WHERE product_id = $1 \
         ORDER BY category NULLS FIRST, name",
        &[&pid(product)],
    )
    .await?;
    rows.iter()
        .map(|r| Ok(EventSetting { category: get(r, 0)?, name: get(r, 1)?, basic: get(r, 2)?, advanced: get(r, 3)? }))
        .collect()
}

/// Sets the flags of every listed event in one transaction; returns, per item, whether it
/// already had a row.
pub(super) async fn set(client: &mut Client, product: ProductId, items: &[EventSetting]) -> Result<Vec<bool>> {
    let tx = client.transaction().await?;
    // Serialises flag updates of the product, so "already had a row" is exact across processes.
    lock_product(&tx, product).await?;
    let mut existed = Vec::with_capacity(items.len());
    for e in items {
        let key = e.category.as_deref().unwrap_or("");
        let found = query_opt(
            &tx,
            "SELECT 1 FROM event_settings WHERE product_id = $1 AND category_key = $2 AND name = $3",
            &[&pid(product), &key, &e.name],
        )
        .await?;
        existed.push(found.is_some());
        execute(
            &tx,
            "INSERT INTO event_settings (product_id, category_key, category, name, basic, advanced) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (product_id, category_key, name) DO UPDATE SET basic = excluded.basic, advanced = excluded.advanced",
            &[&pid(product), &key, &e.category, &e.name, &e.basic, &e.advanced],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(existed)
}
