//! The catalog's error vocabulary, independent of the storage backend.

/// Everything a catalog operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The named thing (`product 2376158762`, `user 7`, …) does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The named thing (`product 2376158762`, `user a@b.c`) already exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// An input was rejected; the message starts with the offending field's name.
    #[error("{0}")]
    Invalid(String),
    /// The stored schema was written by a newer Usagi than this one.
    #[error("catalog schema version {found} is newer than the {supported} this build knows")]
    SchemaTooNew {
        /// Version found in the database.
        found: i64,
        /// Highest version this build can migrate to.
        supported: i64,
    },
    /// Stored data could not be decoded (a bug or a hand-edited database).
    #[error("corrupt catalog data: {0}")]
    Corrupt(String),
    /// The backend failed (I/O, locking, SQL); the text is for logs, not users.
    #[error("catalog storage error: {0}")]
    Storage(String),
    /// Hashing or verifying a password failed for a reason other than a wrong password.
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    /// A blocking task running a catalog operation panicked or was cancelled.
    #[error("catalog task failed: {0}")]
    Task(String),
}

/// Result alias used by every catalog operation.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

impl CatalogError {
    /// Shorthand for an [`CatalogError::Invalid`] naming a field.
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }
}
