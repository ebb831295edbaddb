//! Copying one product's catalog rows between catalogs (`usagi migrate`: the embedded SQLite
//! catalog to the shared PostgreSQL one).
//!
//! A [`ProductSnapshot`] holds everything the catalog keeps for one product as stored, secrets
//! and digests included: the product with its settings, custom property names, back-off and
//! secrets; the users who hold a grant on it and every server administrator, with their
//! argon2 password hashes; their grants on it; the API tokens of those users that cover it
//! (by SHA-256 digest, the tokens themselves are never stored); the license-key registry;
//! event flags; installation controls; and the erasure log. Login sessions, download URLs and
//! server keys are not copied: they are per deployment, and a user logs in again.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use usagi_types::{ClientId, ProductId};

use crate::download::Erasure;
use crate::error::Result;
use crate::event_setting::EventSetting;
use crate::license_key::LicenseKeyRecord;
use crate::product::Product;
use crate::token::TokenInfo;
use crate::user::{Permission, User};

/// One call-home secret of a product, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSecret {
    /// The secret, lowercase hex.
    pub secret_hex: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// `None` for the current secret; the end of validity of a previous one.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A user with the credential data the catalog stores for them.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredUser {
    /// The user (its `id` is the source catalog's; users are matched by email).
    pub user: User,
    /// The argon2id PHC string of the password.
    pub password_hash: String,
    /// Whether the user's recorded current product is the snapshot's product.
    pub current_is_this_product: bool,
}

/// An API token, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredToken {
    /// Email of the user the token acts as.
    pub owner_email: String,
    /// The token's description (`id` and `user_id` are the source catalog's).
    pub info: TokenInfo,
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
}

/// The operator and quota controls stored for one installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInstallation {
    /// The installation.
    pub client: ClientId,
    /// Disabled by the operator.
    pub disabled: bool,
    /// End of this installation's own back-off.
    pub back_off_until: Option<DateTime<Utc>>,
    /// A back-off was ever started for or answered to it.
    pub back_off_ever: bool,
}

/// Everything the catalog holds for one product, as stored (see the module documentation).
#[derive(Clone, PartialEq, Eq)]
pub struct ProductSnapshot {
    /// The product, its settings and custom property names.
    pub product: Product,
    /// End of the product-wide back-off, if one was ever started.
    pub back_off_until: Option<DateTime<Utc>>,
    /// Current and previous secrets.
    pub secrets: Vec<StoredSecret>,
    /// Users with a grant on the product, and every server administrator.
    pub users: Vec<StoredUser>,
    /// Grants on the product, by user email.
    pub grants: Vec<(String, Permission)>,
    /// Tokens of those users whose scope covers the product.
    pub tokens: Vec<StoredToken>,
    /// The license-key registry.
    pub license_keys: Vec<LicenseKeyRecord>,
    /// Event tracking flags.
    pub event_settings: Vec<EventSetting>,
    /// Installation controls.
    pub installations: Vec<StoredInstallation>,
    /// Erased installations, oldest first.
    pub erasures: Vec<Erasure>,
}

impl fmt::Debug for ProductSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Counts only: secrets, password hashes and token digests stay out of logs.
        f.debug_struct("ProductSnapshot")
            .field("product", &self.product.id)
            .field("secrets", &self.secrets.len())
            .field("users", &self.users.len())
            .field("grants", &self.grants.len())
            .field("tokens", &self.tokens.len())
            .field("license_keys", &self.license_keys.len())
            .field("event_settings", &self.event_settings.len())
            .field("installations", &self.installations.len())
            .field("erasures", &self.erasures.len())
            .finish()
    }
}

/// What [`CatalogTransfer::import_product`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// The product did not exist at the target before.
    pub product_created: bool,
    /// Users created (the others already existed by email and were left as they were).
    pub users_created: u64,
    /// Tokens created (the others were known by digest and were brought up to date).
    pub tokens_created: u64,
}

/// Bulk reading and writing of one product's catalog rows.
///
/// `import_product` is idempotent: the target's copy of the product becomes equal to the
/// snapshot (its product-scoped rows are replaced in one transaction), users are matched by
/// email (an existing user keeps their password and flags), tokens by digest. It refuses
/// (`AlreadyExists`) a product of the same id that is not a copy of this one, i.e. whose
/// creation time differs: it was made at the target, and merging would mix two products.
#[async_trait]
pub trait CatalogTransfer: Send + Sync {
    /// Reads everything the catalog holds for `product`; `None` for an unknown product.
    async fn export_product(&self, product: ProductId) -> Result<Option<ProductSnapshot>>;

    /// Writes a snapshot, in one transaction (see the trait documentation).
    async fn import_product(&self, snapshot: &ProductSnapshot) -> Result<ImportOutcome>;
}

/// An end beyond any stored time, inside PostgreSQL's `TIMESTAMPTZ` range (9999-12-31).
pub(crate) fn far_future() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Whether a token's product scope covers `product` (empty = every product).
pub(crate) fn token_covers(products: &[ProductId], product: ProductId) -> bool {
    products.is_empty() || products.contains(&product)
}
