//! Cookie login sessions (reporting-api §1.4 A).

use chrono::{DateTime, Utc};

use crate::credentials::{digest, digests_equal, Digest32};

/// A user may hold at most this many sessions; creating one more evicts the oldest.
pub const MAX_SESSIONS_PER_USER: usize = 50;

/// How long an expired session row is kept so that it is reported as `Expired`
/// ("Session expired") rather than `Unknown` before it is cleaned away.
pub const EXPIRED_SESSION_GRACE_DAYS: i64 = 7;

/// A stored login session; the token itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Internal id.
    pub id: i64,
    /// The user logged in.
    pub user_id: i64,
    /// When the session was created.
    pub created_at: DateTime<Utc>,
    /// When it stops being valid; use does not extend it.
    pub expires_at: DateTime<Utc>,
    /// SHA-256 of the `RUI-Csrf` value the session was issued with.
    pub csrf_binding_hash: [u8; 32],
}

impl Session {
    /// Whether a presented `RUI-Csrf` value is the one bound to this session (constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        let presented: Digest32 = digest(presented);
        digests_equal(&presented, &self.csrf_binding_hash)
    }
}

/// The outcome of looking up a session token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionLookup {
    /// The session exists and has not expired.
    Valid(Session),
    /// The session existed but its lifetime is over (401 `Session expired`).
    Expired,
    /// No such session: never issued, logged out, evicted, or long expired.
    Unknown,
}
