//! Keys shared by every server on the catalog.

use rusqlite::{params, Connection};

use crate::credentials::digest_from_slice;
use crate::error::{CatalogError, Result};

/// The stored key of `name`, storing `candidate` first when there is none.
pub(super) fn shared(conn: &Connection, name: &str, candidate: &[u8; 32]) -> Result<[u8; 32]> {
    conn.prepare_cached("INSERT OR IGNORE INTO server_keys (name, value) VALUES (?1, ?2)")?
        .execute(params![name, &candidate[..]])?;
    let stored: Vec<u8> =
        conn.prepare_cached("SELECT value FROM server_keys WHERE name = ?1")?.query_row([name], |r| r.get(0))?;
    digest_from_slice(&stored).ok_or_else(|| CatalogError::Corrupt(format!("server key {name}")))
}
