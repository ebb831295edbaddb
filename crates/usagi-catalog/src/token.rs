//! Bearer API tokens (reporting-api §1.4 B).

use chrono::{DateTime, Utc};
use usagi_types::ProductId;

/// A stored API token; the token itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Internal id, used to revoke the token.
    pub id: i64,
    /// The user the token acts as.
    pub user_id: i64,
    /// Products the token is narrowed to, ascending; empty = every product the user sees.
    pub products: Vec<ProductId>,
    /// A read-only token gets 403 on every write endpoint.
    pub read_only: bool,
    /// When the token stops working; `None` = never.
    pub expires_at: Option<DateTime<Utc>>,
    /// When the token was created.
    pub created_at: DateTime<Utc>,
    /// When the token was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The first 8 characters of the token (`uit_` and four more), to recognise it in listings.
    pub prefix: String,
}

impl TokenInfo {
    /// Whether the token's product scope includes `product` (visibility is checked separately).
    pub fn covers_product(&self, product: ProductId) -> bool {
        self.products.is_empty() || self.products.binary_search(&product).is_ok()
    }

    /// Whether the token works at `now`: not revoked and not expired.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|t| now < t)
    }
}

/// The outcome of looking up a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenLookup {
    /// The token is known, unrevoked and unexpired.
    Valid(TokenInfo),
    /// Unknown, revoked or expired: all answered 401 `Invalid bearer token`.
    Invalid,
}
