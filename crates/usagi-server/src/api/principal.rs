//! Who is calling (cookie session or bearer token) and what they may do (reporting-api §1.4, §1.5).

use axum::http::{header, HeaderMap};
use usagi_catalog::{Permission, Product, Role, SessionLookup, TokenInfo, TokenLookup, User};
use usagi_types::{ApiError, ProductId};

use super::cookies::{cookie, CSRF_COOKIE, SESSION_COOKIE};
use crate::state::AppState;

/// How the caller authenticated.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A cookie session, by its database id.
    Session(i64),
    /// A bearer token.
    Token(TokenInfo),
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user the request acts as.
    pub user: User,
    /// How it authenticated.
    pub credential: Credential,
}

impl Principal {
    /// The key rate limits are kept under: one per session or token.
    pub fn rate_key(&self) -> String {
        match &self.credential {
            Credential::Session(id) => format!("s{id}"),
            Credential::Token(t) => format!("t{}", t.id),
        }
    }

    fn read_only(&self) -> bool {
        matches!(&self.credential, Credential::Token(t) if t.read_only)
    }
}

/// The bearer token of a request, when `Authorization: Bearer` is used.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    (v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ")).then(|| v[7..].trim())
}

fn catalog_error(e: usagi_catalog::CatalogError) -> ApiError {
    tracing::error!(error = %e, "catalog failure");
    ApiError::server("catalog unavailable")
}

/// Authenticates a request (step 3 of §1.9). Bearer tokens win over cookies.
pub async fn authenticate(app: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let now = app.clock.now();
    if let Some(token) = bearer(headers) {
        let info = match app.catalog.find_token(token, now).await.map_err(catalog_error)? {
            TokenLookup::Valid(info) => info,
            TokenLookup::Invalid => return Err(ApiError::auth("Invalid bearer token")),
        };
        let user = app
            .catalog
            .get_user(info.user_id)
            .await
            .map_err(catalog_error)?
            .ok_or_else(|| ApiError::auth("Invalid bearer token"))?;
        return Ok(Principal { user, credential: Credential::Token(info) });
    }
    let cookies = headers.get(header::COOKIE).and_then(|v| v.to_str().ok());
    let Some(token) = cookie(cookies, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
        return Err(ApiError::auth("Not authenticated"));
    };
    let session = match app.catalog.find_session(token, now).await.map_err(catalog_error)? {
        SessionLookup::Valid(s) => s,
        SessionLookup::Expired => return Err(ApiError::auth("Session expired")),
        SessionLookup::Unknown => return Err(ApiError::auth("Not authenticated")),
    };
    let bound = cookie(cookies, CSRF_COOKIE).is_some_and(|c| session.csrf_matches(c));
    if !bound {
        return Err(ApiError::auth("CSRF cookie missing or does not match the session"));
    }
    let user = app
        .catalog
        .get_user(session.user_id)
        .await
        .map_err(catalog_error)?
        .ok_or_else(|| ApiError::auth("Not authenticated"))?;
    Ok(Principal { user, credential: Credential::Session(session.id) })
}

/// Applies the per-principal request rate (step 4 of §1.9).
pub async fn rate_limit(app: &AppState, principal: &Principal) -> Result<(), ApiError> {
    let now = app.clock.now().timestamp_millis() as f64 / 1000.0;
    match app.limits.take_request(&principal.rate_key(), now).await.map_err(catalog_error)? {
        None => Ok(()),
        Some(wait) => Err(ApiError::rate_limited(wait, "request rate limit reached")),
    }
}

/// What a request needs on its product.
#[derive(Debug, Clone, Copy)]
pub struct Need {
    /// Minimum role.
    pub role: Role,
    /// Whether the `licenseKeys` flag is needed.
    pub license_keys: bool,
    /// Whether the request writes (read-only tokens get 403).
    pub write: bool,
}

impl Need {
    /// Reading reports and metadata.
    pub const VIEWER: Need = Need { role: Role::Viewer, license_keys: false, write: false };
    /// Changing product configuration (event flags).
    pub const EDITOR: Need = Need { role: Role::Editor, license_keys: false, write: true };
    /// Reading the license key registry (`listKeys`).
    pub const LICENSE_KEYS: Need = Need { role: Role::Viewer, license_keys: true, write: false };
    /// Changing the license key registry (`updateKeys`, `deleteKeys`).
    pub const LICENSE_KEYS_EDITOR: Need = Need { role: Role::Editor, license_keys: true, write: true };
}

/// A product the caller may use, with their permission on it.
#[derive(Debug, Clone)]
pub struct ProductScope {
    /// The product.
    pub product: Product,
    /// The caller's role and flag.
    pub permission: Permission,
}

/// Steps 5–6 of §1.9: product id syntax, visibility, role and flag.
pub async fn product_scope(
    app: &AppState,
    principal: &Principal,
    raw: &str,
    need: Need,
) -> Result<ProductScope, ApiError> {
    let id =
        ProductId::parse(raw).map_err(|_| ApiError::syntax(format!("product id '{raw}' must be exactly 10 digits")))?;
    let invisible = || ApiError::not_found(format!("product {id} not found"));
    if let Credential::Token(t) = &principal.credential {
        if !t.covers_product(id) {
            return Err(invisible());
        }
    }
    let permission =
        app.catalog.permission(principal.user.id, id).await.map_err(catalog_error)?.ok_or_else(invisible)?;
    let product = app.catalog.get_product(id).await.map_err(catalog_error)?.ok_or_else(invisible)?;
    if permission.role < need.role {
        return Err(ApiError::forbidden(format!(
            "this request requires the {} role on product {id}",
            need.role.as_str()
        )));
    }
    if need.license_keys && !permission.license_keys {
        return Err(ApiError::forbidden("this request requires the licenseKeys permission"));
    }
    if need.write && principal.read_only() {
        return Err(ApiError::forbidden("a read-only token cannot change data"));
    }
    if let Err(e) = app.catalog.set_current_product(principal.user.id, id).await {
        tracing::warn!(error = %e, "could not record the current product");
    }
    Ok(ProductScope { product, permission })
}
