//! One-time download URLs for export files (reporting-api §16.3) and the erasure log that
//! finalized export files report (`erasures.json`).

use chrono::{DateTime, Utc};
use usagi_types::{ClientId, ProductId};

/// A download URL just issued: the token goes into the URL, only its digest is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedDownload {
    /// 32 random bytes, base64url without padding (43 characters).
    pub token: String,
    /// When the URL stops working.
    pub expires_at: DateTime<Utc>,
}

/// What a valid, unspent download token grants: one file of one product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadGrant {
    /// The product whose file it is.
    pub product: ProductId,
    /// The export file's name, e.g. `2376158762_2024-03-19.zip`.
    pub file_name: String,
}

/// One erased installation, as listed to downstream users of export files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// The erased installation.
    pub client: ClientId,
    /// When it was erased.
    pub erased_at: DateTime<Utc>,
}
