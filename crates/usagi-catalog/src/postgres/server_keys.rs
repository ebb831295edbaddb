//! Keys shared by every server on the catalog.

use deadpool_postgres::GenericClient;

use super::codec::get;
use super::{execute, query_one};
use crate::credentials::digest_from_slice;
use crate::error::{CatalogError, Result};

/// The stored key of `name`, storing `candidate` first when there is none (of racing servers,
/// the first insert wins and every one reads it).
pub(super) async fn shared(c: &impl GenericClient, name: &str, candidate: &[u8; 32]) -> Result<[u8; 32]> {
    execute(
        c,
        "INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[&name, &&candidate[..]],
    )
    .await?;
    let stored: Vec<u8> = get(&query_one(c, "SELECT value FROM server_keys WHERE name = $1", &[&name]).await?, 0)?;
    digest_from_slice(&stored).ok_or_else(|| CatalogError::Corrupt(format!("server key {name}")))
}
