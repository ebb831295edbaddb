//! Users, their per-product roles, and password hashing.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{CatalogError, Result};
use crate::product::{clean_name, Product};

/// A user of the Reporting API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Internal id.
    pub id: i64,
    /// Login name, normalized to lowercase.
    pub email: String,
    /// Given name.
    pub name: String,
    /// Family name.
    pub surname: String,
    /// Server administrator: sees every product as `admin` with the `licenseKeys` flag.
    pub admin: bool,
    /// Stable opaque identifier shown as `account.userToken`; not a credential.
    pub user_token: String,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
}

/// What is needed to create a user.
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Login name; trimmed and lowercased before storing.
    pub email: String,
    /// Given name.
    pub name: String,
    /// Family name.
    pub surname: String,
    /// Whether the user is a server administrator.
    pub admin: bool,
    /// Plain-text password; only its argon2id hash is stored.
    pub password: String,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keeps passwords out of logs and panic messages.
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field("name", &self.name)
            .field("surname", &self.surname)
            .field("admin", &self.admin)
            .finish_non_exhaustive()
    }
}

/// A user's role on a product; ordered `Viewer < Editor < Admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads reports.
    Viewer,
    /// Also manages events and license keys (with the flag).
    Editor,
    /// Full control of the product.
    Admin,
}

impl Role {
    /// The role as the API spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = CatalogError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "editor" => Ok(Role::Editor),
            "admin" => Ok(Role::Admin),
            _ => Err(CatalogError::invalid("role must be viewer, editor or admin")),
        }
    }
}

/// What a user may do on one product (reporting-api §1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    /// The role on the product.
    pub role: Role,
    /// The per-product `licenseKeys` flag.
    pub license_keys: bool,
}

impl Permission {
    /// What a server administrator holds on every product.
    pub const SERVER_ADMIN: Permission = Permission { role: Role::Admin, license_keys: true };
}

/// A product visible to a user, with the user's permission on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductAccess {
    /// The product.
    pub product: Product,
    /// The user's permission on it.
    pub permission: Permission,
}

/// Longest email address (RFC 5321 path limit, and the login body limit).
const MAX_EMAIL_CHARS: usize = 254;
/// Longest password accepted, matching the login body limit (reporting-api §6.2).
const MAX_PASSWORD_CHARS: usize = 1024;

/// Normalizes a login name: trimmed and lowercased, so lookups ignore case.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Normalizes and checks an email address for storage.
pub(crate) fn clean_email(email: &str) -> Result<String> {
    let email = normalize_email(email);
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && email.chars().count() <= MAX_EMAIL_CHARS
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if valid {
        Ok(email)
    } else {
        Err(CatalogError::invalid("email must be an email address of at most 254 characters"))
    }
}

/// Checks a person's name part; empty is allowed because not every operator records it.
pub(crate) fn clean_person_name(field: &str, value: &str) -> Result<String> {
    if value.trim().is_empty() {
        Ok(String::new())
    } else {
        clean_name(field, value)
    }
}

/// Checks a new password's length.
pub(crate) fn check_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if n == 0 || n > MAX_PASSWORD_CHARS {
        return Err(CatalogError::invalid("password must be 1-1024 characters"));
    }
    Ok(())
}

/// Hashes a password with argon2id (crate defaults) and a random salt, as a PHC string.
pub(crate) fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CatalogError::PasswordHash(e.to_string()))
}

/// Verifies a password against a stored PHC string; argon2's verifier compares in constant time.
pub(crate) fn verify_password_hash(phc: &str, password: &str) -> Result<bool> {
    let parsed = PasswordHash::new(phc).map_err(|e| CatalogError::Corrupt(format!("password hash: {e}")))?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(CatalogError::PasswordHash(e.to_string())),
    }
}

/// A hash of a random password, verified against for unknown users so that they cost as
/// much time as known ones and login timing does not reveal which emails exist.
/// `None` only if hashing itself is broken, in which case no login can succeed anyway.
pub(crate) fn dummy_hash() -> Option<&'static str> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&crate::credentials::new_session_token()).ok()).as_deref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Viewer < Role::Editor && Role::Editor < Role::Admin);
        assert_eq!("editor".parse::<Role>().unwrap(), Role::Editor);
        assert!("owner".parse::<Role>().is_err());
        assert_eq!(Role::Admin.to_string(), "admin");
    }

    #[test]
    fn emails_are_normalized() {
        assert_eq!(clean_email("  Test.User@Example.COM ").unwrap(), "test.user@example.com");
        assert!(clean_email("nobody").is_err());
        assert!(clean_email("a@").is_err());
        assert!(clean_email("a b@c").is_err());
    }

    #[test]
    fn argon2id_hashes_verify() {
        let hash = hash_password("hunter2").unwrap();
        assert_ne!(hash, "hunter2");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password_hash(&hash, "hunter2").unwrap());
        assert!(!verify_password_hash(&hash, "hunter3").unwrap());
        assert!(!verify_password_hash(dummy_hash().unwrap(), "x").unwrap());
    }

    #[test]
    fn new_user_debug_hides_password() {
        let u = NewUser {
            email: "a@b.c".into(),
            name: String::new(),
            surname: String::new(),
            admin: false,
            password: "secret-pw".into(),
        };
        assert!(!format!("{u:?}").contains("secret-pw"));
    }
}
