//! Versioned schema migrations, applied in order at open.
//!
//! The applied count lives in `PRAGMA user_version`. Migrations run inside one
//! `BEGIN IMMEDIATE` transaction, so a server and the admin CLI opening the same file at
//! the same moment cannot both apply them. Never edit a shipped migration: append one.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{CatalogError, Result};

/// Every migration, oldest first; the schema version is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    r#"
CREATE TABLE products (
    id                       INTEGER PRIMARY KEY,
    name                     TEXT    NOT NULL,
    created_at               INTEGER NOT NULL,
    disabled                 INTEGER NOT NULL DEFAULT 0,
    days_until_declared_lost INTEGER NOT NULL,
    retention_days           INTEGER NOT NULL,
    next_sync_seconds        INTEGER NOT NULL,
    max_active_installations INTEGER,
    back_off_days            INTEGER NOT NULL,
    export_retention_days    INTEGER NOT NULL,
    new_events_basic         INTEGER NOT NULL,
    -- end of a back-off of every installation of the product (ms), if one was started
    back_off_until           INTEGER
) STRICT;

CREATE TABLE product_custom_property_names (
    product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    slot       INTEGER NOT NULL CHECK (slot BETWEEN 1 AND 20),
    name       TEXT    NOT NULL,
    PRIMARY KEY (product_id, slot)
) STRICT, WITHOUT ROWID;

CREATE TABLE product_secrets (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    secret_hex TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    -- NULL for the current secret; set when a rotation demotes it to "previous"
    expires_at INTEGER
) STRICT;
CREATE UNIQUE INDEX product_secrets_one_current ON product_secrets(product_id) WHERE expires_at IS NULL;
CREATE INDEX product_secrets_by_product ON product_secrets(product_id);

CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    surname         TEXT    NOT NULL,
    admin           INTEGER NOT NULL DEFAULT 0,
    password_hash   TEXT    NOT NULL,
    user_token      TEXT    NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL,
    current_product INTEGER REFERENCES products(id) ON DELETE SET NULL
) STRICT;

CREATE TABLE grants (
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    product_id   INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    role         TEXT    NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    license_keys INTEGER NOT NULL,
    PRIMARY KEY (user_id, product_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE auth_sessions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash BLOB    NOT NULL UNIQUE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_hash  BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX auth_sessions_by_user ON auth_sessions(user_id, id);
CREATE INDEX auth_sessions_by_expiry ON auth_sessions(expires_at);

CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash BLOB    NOT NULL UNIQUE,
    prefix     TEXT    NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    read_only  INTEGER NOT NULL,
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
CREATE INDEX api_tokens_by_user ON api_tokens(user_id);

-- No foreign key to products on purpose: a cascade that emptied a token's list would
-- silently widen it to "every product".
CREATE TABLE api_token_products (
    token_id   INTEGER NOT NULL REFERENCES api_tokens(id) ON DELETE CASCADE,
    product_id INTEGER NOT NULL,
    PRIMARY KEY (token_id, product_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE license_keys (
    product_id     INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    license_key    TEXT    NOT NULL,
    license_type   TEXT    NOT NULL CHECK (license_type IN
                       ('evaluation', 'purchased', 'freeware', 'unknown', 'nfr', 'custom1', 'custom2', 'custom3')),
    expired        INTEGER NOT NULL,
    activated      INTEGER NOT NULL,
    blocked        INTEGER NOT NULL,
    allowed        INTEGER NOT NULL,
    expiry_date    TEXT,
    quota          INTEGER,
    notes          TEXT,
    auto_collected INTEGER NOT NULL,
    added_date     TEXT    NOT NULL,
    PRIMARY KEY (product_id, license_key)
) STRICT, WITHOUT ROWID;

CREATE TABLE installation_controls (
    product_id     INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    client_id      INTEGER NOT NULL,
    disabled       INTEGER NOT NULL DEFAULT 0,
    back_off_until INTEGER,
    back_off_ever  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (product_id, client_id)
) STRICT, WITHOUT ROWID;
"#,
    // 2: event tracking flags (reporting-api §8). `category_key` is the category or '' for
    // none ('' is never a category: empty categories are stored as NULL).
    r#"
CREATE TABLE event_settings (
    product_id   INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    category_key TEXT    NOT NULL,
    category     TEXT,
    name         TEXT    NOT NULL,
    basic        INTEGER NOT NULL,
    advanced     INTEGER NOT NULL,
    PRIMARY KEY (product_id, category_key, name)
) STRICT, WITHOUT ROWID;
"#,
    // 3: one-time download URLs of export files (reporting-api §16.3), by token digest, and the
    // erasure log that finalized export files list in `erasures.json`.
    r#"
CREATE TABLE download_tokens (
    digest        BLOB    NOT NULL PRIMARY KEY,
    product_id    INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    file_name     TEXT    NOT NULL,
    expires_at    INTEGER NOT NULL,
    claimed_until INTEGER,
    spent         INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE erasures (
    product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    client_id  INTEGER NOT NULL,
    erased_at  INTEGER NOT NULL,
    PRIMARY KEY (product_id, erased_at, client_id)
) STRICT, WITHOUT ROWID;
"#,
    // 4: keys shared by every server on the catalog (the CSRF cookie key, by name 'csrf').
    r#"
CREATE TABLE server_keys (
    name  TEXT NOT NULL PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;
"#,
];

/// The schema version this build migrates to.
pub(super) fn latest_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// Brings the database up to [`latest_version`]; a no-op when it is already there.
pub(super) fn migrate(conn: &mut Connection) -> Result<i64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let supported = latest_version();
    if found > supported {
        return Err(CatalogError::SchemaTooNew { found, supported });
    }
    let start = usize::try_from(found).map_err(|_| CatalogError::Corrupt(format!("schema version {found}")))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(start) {
        tx.execute_batch(sql)?;
        tracing::info!(version = i + 1, "applied catalog migration");
    }
    if found != supported {
        tx.pragma_update(None, "user_version", supported)?;
    }
    tx.commit()?;
    Ok(supported)
}
