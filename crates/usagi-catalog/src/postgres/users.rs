//! Users, passwords, grants and the current product.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use usagi_types::ProductId;

use super::codec::{get, pid, product_id_at};
use super::products::{attach_custom_names, ensure_product, product_from_row, PRODUCT_COLUMNS, PRODUCT_COLUMN_COUNT};
use super::{execute, query, query_one, query_opt};
use crate::credentials::new_user_token;
use crate::error::{CatalogError, Result};
use crate::user::{Permission, ProductAccess, Role, User};

const USER_COLUMNS: &str = "id, email, name, surname, admin, user_token, created_at";

fn user_from_row(row: &Row) -> Result<User> {
    Ok(User {
        id: get(row, 0)?,
        email: get(row, 1)?,
        name: get(row, 2)?,
        surname: get(row, 3)?,
        admin: get(row, 4)?,
        user_token: get(row, 5)?,
        created_at: get(row, 6)?,
    })
}

fn role_at(row: &Row, idx: usize) -> Result<Role> {
    get::<String>(row, idx)?.parse().map_err(|_| CatalogError::Corrupt("invalid role".into()))
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

/// Inserts a user; `AlreadyExists` if the email is taken (atomically, through the unique index).
pub(super) async fn create(c: &impl GenericClient, user: UserRow, now: DateTime<Utc>) -> Result<User> {
    let user_token = new_user_token();
    let row = query_opt(
        c,
        "INSERT INTO users (email, name, surname, admin, password_hash, user_token, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (email) DO NOTHING RETURNING id",
        &[&user.email, &user.name, &user.surname, &user.admin, &user.password_hash, &user_token, &now],
    )
    .await?;
    let Some(row) = row else {
        return Err(CatalogError::AlreadyExists(format!("user {}", user.email)));
    };
    Ok(User {
        id: get(&row, 0)?,
        email: user.email,
        name: user.name,
        surname: user.surname,
        admin: user.admin,
        user_token,
        created_at: now,
    })
}

/// A user and their password hash, by normalized email.
pub(super) async fn credentials(c: &impl GenericClient, email: &str) -> Result<Option<(User, String)>> {
    let row =
        query_opt(c, &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1"), &[&email]).await?;
    row.map(|row| Ok((user_from_row(&row)?, get(&row, 7)?))).transpose()
}

/// Looks up a user by id.
pub(super) async fn get_user(c: &impl GenericClient, id: i64) -> Result<Option<User>> {
    let row = query_opt(c, &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"), &[&id]).await?;
    row.as_ref().map(user_from_row).transpose()
}

/// Looks up a user by normalized email.
pub(super) async fn get_by_email(c: &impl GenericClient, email: &str) -> Result<Option<User>> {
    let row = query_opt(c, &format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1"), &[&email]).await?;
    row.as_ref().map(user_from_row).transpose()
}

/// Every user by ascending id.
pub(super) async fn list(c: &impl GenericClient) -> Result<Vec<User>> {
    query(c, &format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"), &[]).await?.iter().map(user_from_row).collect()
}

/// Stores a new password hash.
pub(super) async fn set_password_hash(c: &impl GenericClient, id: i64, hash: &str) -> Result<()> {
    if execute(c, "UPDATE users SET password_hash = $2 WHERE id = $1", &[&id, &hash]).await? == 0 {
        return Err(user_not_found(id));
    }
    Ok(())
}

/// Sets or clears the server-administrator flag.
pub(super) async fn set_admin(c: &impl GenericClient, id: i64, admin: bool) -> Result<()> {
    if execute(c, "UPDATE users SET admin = $2 WHERE id = $1", &[&id, &admin]).await? == 0 {
        return Err(user_not_found(id));
    }
    Ok(())
}

/// Fails with `NotFound` unless the user exists.
pub(super) async fn ensure_user(c: &impl GenericClient, id: i64) -> Result<()> {
    is_admin(c, id).await?.map(|_| ()).ok_or_else(|| user_not_found(id))
}

/// Locks a user's row for the rest of the transaction (`NotFound` if there is none); this
/// serialises session creation per user, so the session cap holds across processes.
pub(super) async fn lock_user(c: &impl GenericClient, id: i64) -> Result<()> {
    match query_opt(c, "SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", &[&id]).await? {
        Some(_) => Ok(()),
        None => Err(user_not_found(id)),
    }
}

/// The user's admin flag, or `None` for an unknown user.
async fn is_admin(c: &impl GenericClient, id: i64) -> Result<Option<bool>> {
    query_opt(c, "SELECT admin FROM users WHERE id = $1", &[&id]).await?.map(|r| get(&r, 0)).transpose()
}

/// Inserts or replaces a grant.
pub(super) async fn grant(
    c: &impl GenericClient,
    user_id: i64,
    product: ProductId,
    role: Role,
    license_keys: bool,
) -> Result<()> {
    // Users and products are never deleted, so checking first and then upserting is safe.
    ensure_user(c, user_id).await?;
    ensure_product(c, product).await?;
    execute(
        c,
        "INSERT INTO grants (user_id, product_id, role, license_keys) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, product_id) DO UPDATE SET role = excluded.role, license_keys = excluded.license_keys",
        &[&user_id, &pid(product), &role.as_str(), &license_keys],
    )
    .await?;
    Ok(())
}

/// Deletes a grant; false if there was none.
pub(super) async fn revoke_grant(c: &impl GenericClient, user_id: i64, product: ProductId) -> Result<bool> {
    let n = execute(c, "DELETE FROM grants WHERE user_id = $1 AND product_id = $2", &[&user_id, &pid(product)]).await?;
    Ok(n > 0)
}

/// The products a user sees, with their permission.
pub(super) async fn visible_products(c: &impl GenericClient, user_id: i64) -> Result<Vec<ProductAccess>> {
    let Some(admin) = is_admin(c, user_id).await? else {
        return Ok(Vec::new());
    };
    if admin {
        return Ok(super::products::list(c)
            .await?
            .into_iter()
            .map(|product| ProductAccess { product, permission: Permission::SERVER_ADMIN })
            .collect());
    }
    let rows = query(
        c,
        &format!(
            "SELECT {PRODUCT_COLUMNS}, g.role, g.license_keys FROM grants g \
             JOIN products p ON p.id = g.product_id WHERE g.user_id = $1 ORDER BY p.id"
        ),
        &[&user_id],
    )
    .await?;
    let mut access = rows
        .iter()
        .map(|row| {
            Ok(ProductAccess {
                product: product_from_row(row)?,
                permission: Permission {
                    role: role_at(row, PRODUCT_COLUMN_COUNT)?,
                    license_keys: get(row, PRODUCT_COLUMN_COUNT + 1)?,
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    attach_custom_names(c, access.iter_mut().map(|a| &mut a.product).collect()).await?;
    Ok(access)
}

/// A user's permission on one product.
pub(super) async fn permission(c: &impl GenericClient, user_id: i64, product: ProductId) -> Result<Option<Permission>> {
    match is_admin(c, user_id).await? {
        None => Ok(None),
        Some(true) => {
            let row = query_one(c, "SELECT EXISTS(SELECT 1 FROM products WHERE id = $1)", &[&pid(product)]).await?;
            Ok(get::<bool>(&row, 0)?.then_some(Permission::SERVER_ADMIN))
        }
        Some(false) => {
            let row = query_opt(
                c,
                "SELECT role, license_keys FROM grants WHERE user_id = $1 AND product_id = $2",
                &[&user_id, &pid(product)],
            )
            .await?;
            row.map(|row| Ok(Permission { role: role_at(&row, 0)?, license_keys: get(&row, 1)? })).transpose()
        }
    }
}

/// Records the user's current product, writing only when it changes (it is set on every
/// product-scoped request, and a read takes no row lock).
pub(super) async fn set_current_product(c: &impl GenericClient, user_id: i64, product: ProductId) -> Result<()> {
    if current_product_row(c, user_id).await?.ok_or_else(|| user_not_found(user_id))? == Some(product) {
        return Ok(());
    }
    ensure_product(c, product).await?;
    let n = execute(c, "UPDATE users SET current_product = $2 WHERE id = $1", &[&user_id, &pid(product)]).await?;
    if n == 0 {
        return Err(user_not_found(user_id));
    }
    Ok(())
}

/// The recorded current product; `NotFound` for an unknown user.
pub(super) async fn current_product(c: &impl GenericClient, user_id: i64) -> Result<Option<ProductId>> {
    current_product_row(c, user_id).await?.ok_or_else(|| user_not_found(user_id))
}

/// `None` for an unknown user, else the stored value.
async fn current_product_row(c: &impl GenericClient, user_id: i64) -> Result<Option<Option<ProductId>>> {
    let Some(row) = query_opt(c, "SELECT current_product FROM users WHERE id = $1", &[&user_id]).await? else {
        return Ok(None);
    };
    match get::<Option<i64>>(&row, 0)? {
        None => Ok(Some(None)),
        Some(_) => Ok(Some(Some(product_id_at(&row, 0)?))),
    }
}
