//! [`CatalogTransfer`] on SQLite: one product's rows out and in.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use usagi_types::{ClientId, ProductId};

use super::codec::{cid, ms, opt_time_at, pid, product_id_at, time_at};
use super::{downloads, event_settings, license_keys, products, SqliteCatalog};
use crate::error::{CatalogError, Result};
use crate::transfer::{
    far_future, token_covers, CatalogTransfer, ImportOutcome, ProductSnapshot, StoredInstallation, StoredSecret,
    StoredToken, StoredUser,
};
use crate::user::{Permission, Role, User};
use crate::TokenInfo;

fn client_at(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<ClientId> {
    Ok(ClientId::from_u64(u64::from_ne_bytes(row.get::<_, i64>(idx)?.to_ne_bytes())))
}

fn role_at(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Role> {
    let text: String = row.get(idx)?;
    text.parse()
        .map_err(|_| rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, "invalid role".into()))
}

fn export(conn: &Connection, id: ProductId) -> Result<Option<ProductSnapshot>> {
    let Some(product) = products::get(conn, id)? else { return Ok(None) };
    let back_off_until =
        conn.query_row("SELECT back_off_until FROM products WHERE id = ?1", [pid(id)], |r| opt_time_at(r, 0))?;
    let secrets = conn
        .prepare("SELECT secret_hex, created_at, expires_at FROM product_secrets WHERE product_id = ?1 ORDER BY id")?
        .query_map([pid(id)], |r| {
            Ok(StoredSecret { secret_hex: r.get(0)?, created_at: time_at(r, 1)?, expires_at: opt_time_at(r, 2)? })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let users = conn
        .prepare(
            "SELECT id, email, name, surname, admin, user_token, created_at, password_hash, current_product = ?1 \
             FROM users WHERE admin OR id IN (SELECT user_id FROM grants WHERE product_id = ?1) ORDER BY id",
        )?
        .query_map([pid(id)], |r| {
            Ok(StoredUser {
                user: User {
                    id: r.get(0)?,
                    email: r.get(1)?,
                    name: r.get(2)?,
                    surname: r.get(3)?,
                    admin: r.get(4)?,
                    user_token: r.get(5)?,
                    created_at: time_at(r, 6)?,
                },
                password_hash: r.get(7)?,
                current_is_this_product: r.get::<_, Option<bool>>(8)?.unwrap_or(false),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let grants = conn
        .prepare(
            "SELECT u.email, g.role, g.license_keys FROM grants g JOIN users u ON u.id = g.user_id \
             WHERE g.product_id = ?1 ORDER BY u.id",
        )?
        .query_map([pid(id)], |r| Ok((r.get(0)?, Permission { role: role_at(r, 1)?, license_keys: r.get(2)? })))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut scopes: BTreeMap<i64, Vec<ProductId>> = BTreeMap::new();
    for row in conn
        .prepare("SELECT token_id, product_id FROM api_token_products ORDER BY token_id, product_id")?
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, product_id_at(r, 1)?)))?
    {
        let (token, product) = row?;
        scopes.entry(token).or_default().push(product);
    }
    let mut tokens = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT t.id, t.user_id, t.read_only, t.expires_at, t.created_at, t.revoked_at, t.prefix, t.token_hash, u.email \
         FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id",
    )?;
    let rows = stmt.query_map([], |r| {
        let info = TokenInfo {
            id: r.get(0)?,
            user_id: r.get(1)?,
            products: Vec::new(),
            read_only: r.get(2)?,
            expires_at: opt_time_at(r, 3)?,
            created_at: time_at(r, 4)?,
            revoked_at: opt_time_at(r, 5)?,
            prefix: r.get(6)?,
        };
        Ok(StoredToken { owner_email: r.get(8)?, info, token_hash: r.get(7)? })
    })?;
    for row in rows {
        let mut token = row?;
        token.info.products = scopes.remove(&token.info.id).unwrap_or_default();
        let owner_copied = users.iter().any(|u| u.user.email == token.owner_email);
        if owner_copied && token_covers(&token.info.products, id) {
            tokens.push(token);
        }
    }
    let installations = conn
        .prepare(
            "SELECT client_id, disabled, back_off_until, back_off_ever FROM installation_controls \
             WHERE product_id = ?1 ORDER BY client_id",
        )?
        .query_map([pid(id)], |r| {
            Ok(StoredInstallation {
                client: client_at(r, 0)?,
                disabled: r.get(1)?,
                back_off_until: opt_time_at(r, 2)?,
                back_off_ever: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(ProductSnapshot {
        back_off_until,
        secrets,
        users,
        grants,
        tokens,
        license_keys: license_keys::list(conn, id, None, usize::MAX)?,
        event_settings: event_settings::list(conn, id)?,
        installations,
        erasures: downloads::erasures(conn, id, DateTime::<Utc>::UNIX_EPOCH, far_future())?,
        product,
    }))
}

fn import(conn: &mut Connection, s: &ProductSnapshot) -> Result<ImportOutcome> {
    let id = pid(s.product.id);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcome = ImportOutcome::default();
    let existing: Option<i64> =
        tx.query_row("SELECT created_at FROM products WHERE id = ?1", [id], |r| r.get(0)).optional()?;
    match existing {
        Some(at) if at != ms(s.product.created_at) => {
            return Err(CatalogError::AlreadyExists(format!(
                "product {} (created at the target, not a copy of the source's)",
                s.product.id
            )))
        }
        Some(_) => {}
        None => outcome.product_created = true,
    }
    let p = &s.product;
    let st = &p.settings;
    tx.execute(
        "INSERT INTO products (id, name, created_at, disabled, days_until_declared_lost, retention_days, \
         next_sync_seconds, max_active_installations, back_off_days, export_retention_days, new_events_basic, \
         back_off_until) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, disabled = excluded.disabled, \
         days_until_declared_lost = excluded.days_until_declared_lost, retention_days = excluded.retention_days, \
         next_sync_seconds = excluded.next_sync_seconds, max_active_installations = excluded.max_active_installations, \
         back_off_days = excluded.back_off_days, export_retention_days = excluded.export_retention_days, \
         new_events_basic = excluded.new_events_basic, back_off_until = excluded.back_off_until",
        params![
            id,
            p.name,
            ms(p.created_at),
            p.disabled,
            st.days_until_declared_lost,
            st.retention_days,
            st.next_sync_seconds,
            st.max_active_installations,
            st.back_off_days,
            st.export_retention_days,
            st.new_events_basic,
            s.back_off_until.map(ms)
        ],
    )?;
    for table in [
        "product_custom_property_names",
        "product_secrets",
        "grants",
        "license_keys",
        "event_settings",
        "installation_controls",
        "erasures",
    ] {
        tx.execute(&format!("DELETE FROM {table} WHERE product_id = ?1"), [id])?;
    }
    for (slot, name) in &st.custom_property_names {
        tx.execute("INSERT INTO product_custom_property_names VALUES (?1, ?2, ?3)", params![id, slot, name])?;
    }
    for x in &s.secrets {
        tx.execute(
            "INSERT INTO product_secrets (product_id, secret_hex, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![id, x.secret_hex, ms(x.created_at), x.expires_at.map(ms)],
        )?;
    }
    let mut user_ids = BTreeMap::new();
    for u in &s.users {
        let found: Option<i64> =
            tx.query_row("SELECT id FROM users WHERE email = ?1", [&u.user.email], |r| r.get(0)).optional()?;
        let uid = match found {
            Some(uid) => uid,
            None => {
                outcome.users_created += 1;
                tx.query_row(
                    "INSERT INTO users (email, name, surname, admin, password_hash, user_token, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                    params![
                        u.user.email,
                        u.user.name,
                        u.user.surname,
                        u.user.admin,
                        u.password_hash,
                        u.user.user_token,
                        ms(u.user.created_at)
                    ],
                    |r| r.get(0),
                )?
            }
        };
        if u.current_is_this_product {
            tx.execute("UPDATE users SET current_product = ?1 WHERE id = ?2 AND current_product IS NULL", [id, uid])?;
        }
        user_ids.insert(u.user.email.as_str(), uid);
    }
    let user_id = |email: &str| {
        user_ids.get(email).copied().ok_or_else(|| CatalogError::Corrupt(format!("snapshot has no user {email}")))
    };
    for (email, perm) in &s.grants {
        tx.execute(
            "INSERT INTO grants (user_id, product_id, role, license_keys) VALUES (?1, ?2, ?3, ?4)",
            params![user_id(email)?, id, perm.role.as_str(), perm.license_keys],
        )?;
    }
    for t in &s.tokens {
        let known: Option<i64> = tx
            .query_row("SELECT id FROM api_tokens WHERE token_hash = ?1", [&t.token_hash], |r| r.get(0))
            .optional()?;
        let i = &t.info;
        let token_id: i64 = match known {
            Some(token_id) => {
                tx.execute(
                    "UPDATE api_tokens SET read_only = ?2, expires_at = ?3, revoked_at = ?4 WHERE id = ?1",
                    params![token_id, i.read_only, i.expires_at.map(ms), i.revoked_at.map(ms)],
                )?;
                token_id
            }
            None => {
                outcome.tokens_created += 1;
                tx.query_row(
                    "INSERT INTO api_tokens (token_hash, prefix, user_id, read_only, expires_at, created_at, revoked_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                    params![
                        t.token_hash,
                        i.prefix,
                        user_id(&t.owner_email)?,
                        i.read_only,
                        i.expires_at.map(ms),
                        ms(i.created_at),
                        i.revoked_at.map(ms)
                    ],
                    |r| r.get(0),
                )?
            }
        };
        tx.execute("DELETE FROM api_token_products WHERE token_id = ?1", [token_id])?;
        for product in &i.products {
            tx.execute("INSERT INTO api_token_products VALUES (?1, ?2)", [token_id, pid(*product)])?;
        }
    }
    for k in &s.license_keys {
        tx.execute(
            "INSERT INTO license_keys (product_id, license_key, license_type, expired, activated, blocked, allowed, \
             expiry_date, quota, notes, auto_collected, added_date) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                id,
                k.key,
                k.license_type.as_str(),
                k.expired,
                k.activated,
                k.blocked,
                k.allowed,
                k.expiry_date.map(super::codec::day),
                k.quota,
                k.notes,
                k.auto_collected,
                super::codec::day(k.added_date)
            ],
        )?;
    }
    for e in &s.event_settings {
        tx.execute(
            "INSERT INTO event_settings (product_id, category_key, category, name, basic, advanced) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, e.category.as_deref().unwrap_or(""), e.category, e.name, e.basic, e.advanced],
        )?;
    }
    for c in &s.installations {
        tx.execute(
            "INSERT INTO installation_controls (product_id, client_id, disabled, back_off_until, back_off_ever) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, cid(c.client), c.disabled, c.back_off_until.map(ms), c.back_off_ever],
        )?;
    }
    for e in &s.erasures {
        tx.execute("INSERT INTO erasures VALUES (?1, ?2, ?3)", params![id, cid(e.client), ms(e.erased_at)])?;
    }
    tx.commit()?;
    Ok(outcome)
}

#[async_trait]
impl CatalogTransfer for SqliteCatalog {
    async fn export_product(&self, product: ProductId) -> Result<Option<ProductSnapshot>> {
        self.run(move |c| export(c, product)).await
    }

    async fn import_product(&self, snapshot: &ProductSnapshot) -> Result<ImportOutcome> {
        let snapshot = snapshot.clone();
        self.run(move |c| import(c, &snapshot)).await
    }
}
