//! [`CatalogTransfer`] on PostgreSQL: one product's rows out and in.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use usagi_types::{ClientId, ProductId};

use super::codec::{cid, client_bits_at, get, opt_i64, pid, product_id_at};
use super::{downloads, event_settings, execute, license_keys, products, query, query_one, query_opt, PostgresCatalog};
use crate::error::{CatalogError, Result};
use crate::transfer::{
    far_future, token_covers, CatalogTransfer, ImportOutcome, ProductSnapshot, StoredInstallation, StoredSecret,
    StoredToken, StoredUser,
};
use crate::user::{Permission, Role, User};
use crate::TokenInfo;

fn role_at(row: &tokio_postgres::Row, idx: usize) -> Result<Role> {
    get::<String>(row, idx)?.parse()
}

async fn export(c: &impl GenericClient, id: ProductId) -> Result<Option<ProductSnapshot>> {
    let Some(product) = products::get_product(c, id).await? else { return Ok(None) };
    let p = pid(id);
    let back_off_until = get(&query_one(c, "SELECT back_off_until FROM products WHERE id = $1", &[&p]).await?, 0)?;
    let secrets = query(
        c,
        "SELECT secret_hex, created_at, expires_at FROM product_secrets WHERE product_id = $1 ORDER BY id",
        &[&p],
    )
    .await?
    .iter()
    .map(|r| Ok(StoredSecret { secret_hex: get(r, 0)?, created_at: get(r, 1)?, expires_at: get(r, 2)? }))
    .collect::<Result<Vec<_>>>()?;
    let users = query(
        c,
        "SELECT id, email, name, surname, admin, user_token, created_at, password_hash, \
         coalesce(current_product = $1, FALSE) \
         FROM users WHERE admin OR id IN (SELECT user_id FROM grants WHERE product_id = $1) ORDER BY id",
        &[&p],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(StoredUser {
            user: User {
                id: get(r, 0)?,
                email: get(r, 1)?,
                name: get(r, 2)?,
                surname: get(r, 3)?,
                admin: get(r, 4)?,
                user_token: get(r, 5)?,
                created_at: get(r, 6)?,
            },
            password_hash: get(r, 7)?,
            current_is_this_product: get(r, 8)?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let grants = query(
        c,
        "SELECT u.email, g.role, g.license_keys FROM grants g JOIN users u ON u.id = g.user_id \
         WHERE g.product_id = $1 ORDER BY u.id",
        &[&p],
    )
    .await?
    .iter()
    .map(|r| Ok((get(r, 0)?, Permission { role: role_at(r, 1)?, license_keys: get(r, 2)? })))
    .collect::<Result<Vec<_>>>()?;
    let mut scopes: BTreeMap<i64, Vec<ProductId>> = BTreeMap::new();
    for r in query(c, "SELECT token_id, product_id FROM api_token_products ORDER BY token_id, product_id", &[]).await? {
        scopes.entry(get(&r, 0)?).or_default().push(product_id_at(&r, 1)?);
    }
    let mut tokens = Vec::new();
    for r in query(
        c,
        "SELECT t.id, t.user_id, t.read_only, t.expires_at, t.created_at, t.revoked_at, t.prefix, t.token_hash, u.email \
         FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id",
        &[],
    )
    .await?
    {
        let token_id: i64 = get(&r, 0)?;
        let info = TokenInfo {
            id: token_id,
            user_id: get(&r, 1)?,
            products: scopes.remove(&token_id).unwrap_or_default(),
            read_only: get(&r, 2)?,
            expires_at: get(&r, 3)?,
            created_at: get(&r, 4)?,
            revoked_at: get(&r, 5)?,
            prefix: get(&r, 6)?,
        };
        let owner_email: String = get(&r, 8)?;
        if users.iter().any(|u| u.user.email == owner_email) && token_covers(&info.products, id) {
            tokens.push(StoredToken { owner_email, info, token_hash: get(&r, 7)? });
        }
    }
    let installations = query(
        c,
        "SELECT client_id, disabled, back_off_until, back_off_ever FROM installation_controls \
         WHERE product_id = $1 ORDER BY client_id",
        &[&p],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(StoredInstallation {
            client: ClientId::from_u64(client_bits_at(r, 0)?),
            disabled: get(r, 1)?,
            back_off_until: get(r, 2)?,
            back_off_ever: get(r, 3)?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    Ok(Some(ProductSnapshot {
        back_off_until,
        secrets,
        users,
        grants,
        tokens,
        license_keys: license_keys::list(c, id, None, usize::MAX).await?,
        event_settings: event_settings::list(c, id).await?,
        installations,
        erasures: downloads::erasures(c, id, DateTime::<Utc>::UNIX_EPOCH, far_future()).await?,
        product,
    }))
}

async fn import(c: &impl GenericClient, s: &ProductSnapshot) -> Result<ImportOutcome> {
    let id = pid(s.product.id);
    let mut outcome = ImportOutcome::default();
    let existing = query_opt(c, "SELECT created_at FROM products WHERE id = $1 FOR UPDATE", &[&id]).await?;
    match existing {
        Some(row) if get::<DateTime<Utc>>(&row, 0)? != s.product.created_at => {
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
    execute(
        c,
        "INSERT INTO products (id, name, created_at, disabled, days_until_declared_lost, retention_days, \
         next_sync_seconds, max_active_installations, back_off_days, export_retention_days, new_events_basic, \
         back_off_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, disabled = excluded.disabled, \
         days_until_declared_lost = excluded.days_until_declared_lost, retention_days = excluded.retention_days, \
         next_sync_seconds = excluded.next_sync_seconds, max_active_installations = excluded.max_active_installations, \
         back_off_days = excluded.back_off_days, export_retention_days = excluded.export_retention_days, \
         new_events_basic = excluded.new_events_basic, back_off_until = excluded.back_off_until",
        &[
            &id,
            &p.name,
            &p.created_at,
            &p.disabled,
            &i64::from(st.days_until_declared_lost),
            &i64::from(st.retention_days),
            &i64::from(st.next_sync_seconds),
            &opt_i64(st.max_active_installations),
            &i64::from(st.back_off_days),
            &i64::from(st.export_retention_days),
            &st.new_events_basic,
            &s.back_off_until,
        ],
    )
    .await?;
    for table in [
        "product_custom_property_names",
        "product_secrets",
        "grants",
        "license_keys",
        "event_settings",
        "installation_controls",
        "erasures",
    ] {
        execute(c, &format!("DELETE FROM {table} WHERE product_id = $1"), &[&id]).await?;
    }
    for (slot, name) in &st.custom_property_names {
        execute(c, "INSERT INTO product_custom_property_names VALUES ($1, $2, $3)", &[&id, &i64::from(*slot), name])
            .await?;
    }
    for x in &s.secrets {
        execute(
            c,
            "INSERT INTO product_secrets (product_id, secret_hex, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            &[&id, &x.secret_hex, &x.created_at, &x.expires_at],
        )
        .await?;
    }
    let mut user_ids = BTreeMap::new();
    for u in &s.users {
        let found = query_opt(c, "SELECT id FROM users WHERE email = $1", &[&u.user.email]).await?;
        let uid: i64 = match found {
            Some(row) => get(&row, 0)?,
            None => {
                outcome.users_created += 1;
                let row = query_one(
                    c,
                    "INSERT INTO users (email, name, surname, admin, password_hash, user_token, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    &[
                        &u.user.email,
                        &u.user.name,
                        &u.user.surname,
                        &u.user.admin,
                        &u.password_hash,
                        &u.user.user_token,
                        &u.user.created_at,
                    ],
                )
                .await?;
                get(&row, 0)?
            }
        };
        if u.current_is_this_product {
            execute(c, "UPDATE users SET current_product = $1 WHERE id = $2 AND current_product IS NULL", &[&id, &uid])
                .await?;
        }
        user_ids.insert(u.user.email.as_str(), uid);
    }
    let user_id = |email: &str| {
        user_ids.get(email).copied().ok_or_else(|| CatalogError::Corrupt(format!("snapshot has no user {email}")))
    };
    for (email, perm) in &s.grants {
        execute(
            c,
            "INSERT INTO grants (user_id, product_id, role, license_keys) VALUES ($1, $2, $3, $4)",
            &[&user_id(email)?, &id, &perm.role.as_str(), &perm.license_keys],
        )
        .await?;
    }
    for t in &s.tokens {
        let i = &t.info;
        let known = query_opt(c, "SELECT id FROM api_tokens WHERE token_hash = $1", &[&t.token_hash]).await?;
        let token_id: i64 = match known {
            Some(row) => {
                let token_id: i64 = get(&row, 0)?;
                execute(
                    c,
                    "UPDATE api_tokens SET read_only = $2, expires_at = $3, revoked_at = $4 WHERE id = $1",
                    &[&token_id, &i.read_only, &i.expires_at, &i.revoked_at],
                )
                .await?;
                token_id
            }
            None => {
                outcome.tokens_created += 1;
                let row = query_one(
                    c,
                    "INSERT INTO api_tokens (token_hash, prefix, user_id, read_only, expires_at, created_at, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    &[
                        &t.token_hash,
                        &i.prefix,
                        &user_id(&t.owner_email)?,
                        &i.read_only,
                        &i.expires_at,
                        &i.created_at,
                        &i.revoked_at,
                    ],
                )
                .await?;
                get(&row, 0)?
            }
        };
        execute(c, "DELETE FROM api_token_products WHERE token_id = $1", &[&token_id]).await?;
        for product in &i.products {
            execute(c, "INSERT INTO api_token_products VALUES ($1, $2)", &[&token_id, &pid(*product)]).await?;
        }
    }
    for k in &s.license_keys {
        execute(
            c,
            "INSERT INTO license_keys (product_id, license_key, license_type, expired, activated, blocked, allowed, \
             expiry_date, quota, notes, auto_collected, added_date) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                &id,
                &k.key,
                &k.license_type.as_str(),
                &k.expired,
                &k.activated,
                &k.blocked,
                &k.allowed,
                &k.expiry_date,
                &opt_i64(k.quota),
                &k.notes,
                &k.auto_collected,
                &k.added_date,
            ],
        )
        .await?;
    }
    for e in &s.event_settings {
        execute(
            c,
            "INSERT INTO event_settings (product_id, category_key, category, name, basic, advanced) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&id, &e.category.as_deref().unwrap_or(""), &e.category, &e.name, &e.basic, &e.advanced],
        )
        .await?;
    }
    for x in &s.installations {
        execute(
            c,
            "INSERT INTO installation_controls (product_id, client_id, disabled, back_off_until, back_off_ever) \
             VALUES ($1, $2, $3, $4, $5)",
            &[&id, &cid(x.client), &x.disabled, &x.back_off_until, &x.back_off_ever],
        )
        .await?;
    }
    for e in &s.erasures {
        execute(c, "INSERT INTO erasures VALUES ($1, $2, $3)", &[&id, &cid(e.client), &e.erased_at]).await?;
    }
    Ok(outcome)
}

#[async_trait]
impl CatalogTransfer for PostgresCatalog {
    async fn export_product(&self, product: ProductId) -> Result<Option<ProductSnapshot>> {
        export(&self.client().await?, product).await
    }

    async fn import_product(&self, snapshot: &ProductSnapshot) -> Result<ImportOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let outcome = import(&tx, snapshot).await?;
        tx.commit().await?;
        Ok(outcome)
    }
}
