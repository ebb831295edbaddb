//! The catalog store: the small, transactional data of a Usagi server.
//!
//! Products (with settings and call-home secrets), users and their password hashes,
//! cookie sessions, bearer API tokens, per-product grants, a minimal license-key registry
//! and installation controls, all behind the backend-independent [`Catalog`] trait.
//! [`SqliteCatalog`] is the embedded implementation, [`PostgresCatalog`] the shared one for
//! several server processes.

#![warn(missing_docs)]

mod catalog;
mod credentials;
mod download;
mod error;
mod event_setting;
mod installation;
mod license_key;
mod limits;
mod postgres;
mod product;
mod session;
mod sqlite;
mod token;
mod transfer;
mod user;

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod transfer_conformance;

pub use catalog::Catalog;
pub use download::{DownloadGrant, Erasure, IssuedDownload};
pub use error::{CatalogError, Result};
pub use event_setting::EventSetting;
pub use installation::{BackOffStates, InstallationControl};
pub use license_key::{LicenseKeyPatch, LicenseKeyRecord, LicenseType, MAX_LICENSE_KEY_CHARS, MAX_NOTES_CHARS};
pub use postgres::{is_postgres_url, PostgresCatalog};
pub use product::{
    Product, ProductSettings, ProductSettingsPatch, BACK_OFF_DAYS, CUSTOM_PROPERTY_SLOTS, DAYS_UNTIL_DECLARED_LOST,
    EXPORT_RETENTION_DAYS, MAX_NAME_CHARS, NEXT_SYNC_SECONDS, RETENTION_DAYS,
};
pub use session::{Session, SessionLookup, EXPIRED_SESSION_GRACE_DAYS, MAX_SESSIONS_PER_USER};
pub use sqlite::SqliteCatalog;
pub use token::{TokenInfo, TokenLookup};
pub use transfer::{
    CatalogTransfer, ImportOutcome, ProductSnapshot, StoredInstallation, StoredSecret, StoredToken, StoredUser,
};
pub use user::{normalize_email, NewUser, Permission, ProductAccess, Role, User};
