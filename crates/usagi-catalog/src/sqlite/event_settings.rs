//! Event tracking flags.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use usagi_types::ProductId;

use super::codec::pid;
use super::products::ensure_product;
use crate::error::Result;
use crate::event_setting::EventSetting;

/// Every event with flags set (or pre-registered) for a product.
pub(super) fn list(conn: &Connection, product: ProductId) -> Result<Vec<EventSetting>> {
    let mut stmt = conn.prepare_cached(
        "SELECT category, name, basic, advanced FROM event_settings WHERE product_id = ?1 ORDER BY category, name",
    )?;
    let rows = stmt
        .query_map(params![pid(product)], |r| {
            Ok(EventSetting { category: r.get(0)?, name: r.get(1)?, basic: r.get(2)?, advanced: r.get(3)? })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Sets the flags of every listed event in one transaction; returns, per item, whether it
/// already had a row.
pub(super) fn set(conn: &mut Connection, product: ProductId, items: &[EventSetting]) -> Result<Vec<bool>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    ensure_product(&tx, product)?;
    let mut existed = Vec::with_capacity(items.len());
    {
        let mut find =
            tx.prepare_cached("SELECT 1 FROM event_settings WHERE product_id = ?1 AND category IS ?2 AND name = ?3")?;
        let mut upsert = tx.prepare_cached(
            "INSERT INTO event_settings (product_id, category_key, category, name, basic, advanced) \
             VALUES (?1, ifnull(?2, ''), ?2, ?3, ?4, ?5) \
             ON CONFLICT (product_id, category_key, name) DO UPDATE SET basic = excluded.basic, advanced = excluded.advanced",
        )?;
        for e in items {
            let found = find.query_row(params![pid(product), e.category, e.name], |_| Ok(())).optional()?.is_some();
            existed.push(found);
            upsert.execute(params![pid(product), e.category, e.name, e.basic, e.advanced])?;
        }
    }
    tx.commit()?;
    Ok(existed)
}
