//! Users, passwords, grants and the current product.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use usagi_types::ProductId;

use super::codec::{ms, pid, product_id_at, time_at};
use super::products::{attach_custom_names, ensure_product, product_from_row, PRODUCT_COLUMNS, PRODUCT_COLUMN_COUNT};
use crate::credentials::new_user_token;
use crate::error::{CatalogError, Result};
use crate::user::{Permission, ProductAccess, Role, User};

const USER_COLUMNS: &str = "id, email, name, surname, admin, user_token, created_at";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        email: row.get(1)?,
        name: row.get(2)?,
        surname: row.get(3)?,
        admin: row.get(4)?,
        user_token: row.get(5)?,
        created_at: time_at(row, 6)?,
    })
}

fn role_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Role> {
    let text: String = row.get(idx)?;
    text.parse()
        .map_err(|_| rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, "invalid role".into()))
}

fn user_not_found(id: i64) -> CatalogError {
    CatalogError::NotFound(format!("user {id}"))
}

/// A validated user ready to store; the password is already hashed.
pub(super) struct UserRow {
    /// Normalized email.
    pub email: String,
    /// Given name.
    pub name: String,
    /// Family name.
    pub surname: String,
    /// Server administrator.
    pub admin: bool,
    /// argon2id PHC string.
    pub password_hash: String,
}

/// Inserts a user; `AlreadyExists` if the email is taken.
pub(super) fn create(conn: &mut Connection, user: UserRow, now: DateTime<Utc>) -> Result<User> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let taken: bool = tx
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM users WHERE email = ?1)")?
        .query_row([&user.email], |r| r.get(0))?;
    if taken {
        return Err(CatalogError::AlreadyExists(format!("user {}", user.email)));
    }
    let user_token = new_user_token();
    tx.prepare_cached(
        "INSERT INTO users (email, name, surname, admin, password_hash, user_token, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![user.email, user.name, user.surname, user.admin, user.password_hash, user_token, ms(now)])?;
    let id = tx.last_insert_rowid();
    tx.commit()?;
    Ok(User {
        id,
        email: user.email,
        name: user.name,
        surname: user.surname,
        admin: user.admin,
        user_token,
        created_at: now,
    })
}

/// A user and their password hash, by normalized email.
pub(super) fn credentials(conn: &Connection, email: &str) -> Result<Option<(User, String)>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = ?1"))?
        .query_row([email], |row| Ok((user_from_row(row)?, row.get(7)?)))
        .optional()?)
}

/// Looks up a user by id.
pub(super) fn get(conn: &Connection, id: i64) -> Result<Option<User>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], user_from_row)
        .optional()?)
}

/// Looks up a user by normalized email.
pub(super) fn get_by_email(conn: &Connection, email: &str) -> Result<Option<User>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?1"))?
        .query_row([email], user_from_row)
        .optional()?)
}

/// Every user by ascending id.
pub(super) fn list(conn: &Connection) -> Result<Vec<User>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))?
        .query_map([], user_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Stores a new password hash.
pub(super) fn set_password_hash(conn: &Connection, id: i64, hash: &str) -> Result<()> {
    let changed =
        conn.prepare_cached("UPDATE users SET password_hash = ?2 WHERE id = ?1")?.execute(params![id, hash])?;
    if changed == 0 {
        return Err(user_not_found(id));
    }
    Ok(())
}

/// Sets or clears the server-administrator flag.
pub(super) fn set_admin(conn: &Connection, id: i64, admin: bool) -> Result<()> {
    let changed = conn.prepare_cached("UPDATE users SET admin = ?2 WHERE id = ?1")?.execute(params![id, admin])?;
    if changed == 0 {
        return Err(user_not_found(id));
    }
    Ok(())
}

/// Fails with `NotFound` unless the user exists.
pub(super) fn ensure_user(conn: &Connection, id: i64) -> Result<()> {
    is_admin(conn, id)?.map(|_| ()).ok_or_else(|| user_not_found(id))
}

/// The user's admin flag, or `None` for an unknown user.
fn is_admin(conn: &Connection, id: i64) -> Result<Option<bool>> {
    Ok(conn.prepare_cached("SELECT admin FROM users WHERE id = ?1")?.query_row([id], |r| r.get(0)).optional()?)
}

/// Inserts or replaces a grant.
pub(super) fn grant(
    conn: &mut Connection,
    user_id: i64,
    product: ProductId,
    role: Role,
    license_keys: bool,
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    ensure_user(&tx, user_id)?;
    ensure_product(&tx, product)?;
    tx.prepare_cached(
        "INSERT INTO grants (user_id, product_id, role, license_keys) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (user_id, product_id) DO UPDATE SET role = excluded.role, license_keys = excluded.license_keys",
    )?
    .execute(params![user_id, pid(product), role.as_str(), license_keys])?;
    tx.commit()?;
    Ok(())
}

/// Deletes a grant; false if there was none.
pub(super) fn revoke_grant(conn: &Connection, user_id: i64, product: ProductId) -> Result<bool> {
    let changed = conn
        .prepare_cached("DELETE FROM grants WHERE user_id = ?1 AND product_id = ?2")?
        .execute(params![user_id, pid(product)])?;
    Ok(changed > 0)
}

/// The products a user sees, with their permission.
pub(super) fn visible_products(conn: &Connection, user_id: i64) -> Result<Vec<ProductAccess>> {
    let Some(admin) = is_admin(conn, user_id)? else {
        return Ok(Vec::new());
    };
    if admin {
        return Ok(super::products::list(conn)?
            .into_iter()
            .map(|product| ProductAccess { product, permission: Permission::SERVER_ADMIN })
            .collect());
    }
    let mut access = conn
        .prepare_cached(&format!(
            "SELECT {PRODUCT_COLUMNS}, g.role, g.license_keys FROM grants g \
             JOIN products p ON p.id = g.product_id WHERE g.user_id = ?1 ORDER BY p.id"
        ))?
        .query_map([user_id], |row| {
            Ok(ProductAccess {
                product: product_from_row(row)?,
                permission: Permission {
                    role: role_at(row, PRODUCT_COLUMN_COUNT)?,
                    license_keys: row.get(PRODUCT_COLUMN_COUNT + 1)?,
                },
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    attach_custom_names(conn, access.iter_mut().map(|a| &mut a.product))?;
    Ok(access)
}

/// A user's permission on one product.
pub(super) fn permission(conn: &Connection, user_id: i64, product: ProductId) -> Result<Option<Permission>> {
    match is_admin(conn, user_id)? {
        None => Ok(None),
        Some(true) => {
            let exists: bool = conn
                .prepare_cached("SELECT EXISTS(SELECT 1 FROM products WHERE id = ?1)")?
                .query_row([pid(product)], |r| r.get(0))?;
            Ok(exists.then_some(Permission::SERVER_ADMIN))
        }
        Some(false) => Ok(conn
            .prepare_cached("SELECT role, license_keys FROM grants WHERE user_id = ?1 AND product_id = ?2")?
            .query_row(params![user_id, pid(product)], |row| {
                Ok(Permission { role: role_at(row, 0)?, license_keys: row.get(1)? })
            })
            .optional()?),
    }
}

/// Records the user's current product, writing only when it changes (it is set on every
/// product-scoped request, and a read does not contend for the write lock).
pub(super) fn set_current_product(conn: &mut Connection, user_id: i64, product: ProductId) -> Result<()> {
    if current_product_row(conn, user_id)?.ok_or_else(|| user_not_found(user_id))? == Some(product) {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    ensure_product(&tx, product)?;
    let changed = tx
        .prepare_cached("UPDATE users SET current_product = ?2 WHERE id = ?1")?
        .execute(params![user_id, pid(product)])?;
    if changed == 0 {
        return Err(user_not_found(user_id));
    }
    tx.commit()?;
    Ok(())
}

/// The recorded current product; `NotFound` for an unknown user.
pub(super) fn current_product(conn: &Connection, user_id: i64) -> Result<Option<ProductId>> {
    current_product_row(conn, user_id)?.ok_or_else(|| user_not_found(user_id))
}

/// `None` for an unknown user, else the stored value.
fn current_product_row(conn: &Connection, user_id: i64) -> Result<Option<Option<ProductId>>> {
    Ok(conn
        .prepare_cached("SELECT current_product FROM users WHERE id = ?1")?
        .query_row([user_id], |row| match row.get::<_, Option<i64>>(0)? {
            None => Ok(None),
            Some(_) => product_id_at(row, 0).map(Some),
        })
        .optional()?)
}
