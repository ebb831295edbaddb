//! Cookie login sessions.

use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::codec::{ms, time_at};
use super::users::ensure_user;
use crate::credentials::{digest, digest_from_slice, is_session_token_shape, new_session_token};
use crate::error::{CatalogError, Result};
use crate::session::{Session, SessionLookup, EXPIRED_SESSION_GRACE_DAYS, MAX_SESSIONS_PER_USER};

/// Starts a session and returns its token.
pub(super) fn create(
    conn: &mut Connection,
    user_id: i64,
    csrf_binding: &str,
    now: DateTime<Utc>,
    lifetime: Duration,
) -> Result<String> {
    if lifetime <= Duration::zero() {
        return Err(CatalogError::invalid("lifetime must be positive"));
    }
    let expires = now.checked_add_signed(lifetime).ok_or_else(|| CatalogError::invalid("lifetime is too large"))?;
    let token = new_session_token();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    ensure_user(&tx, user_id)?;
    // Opportunistic cleanup; rows are kept for a grace period so they answer "Session expired".
    tx.prepare_cached("DELETE FROM auth_sessions WHERE expires_at <= ?1")?
        .execute([ms(now - Duration::days(EXPIRED_SESSION_GRACE_DAYS))])?;
    tx.prepare_cached(
        "INSERT INTO auth_sessions (token_hash, user_id, csrf_hash, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![&digest(&token)[..], user_id, &digest(csrf_binding)[..], ms(now), ms(expires)])?;
    // Keep the 50 newest rows, preferring live ones, so an expired row goes before a live one.
    let keep = i64::try_from(MAX_SESSIONS_PER_USER).unwrap_or(i64::MAX);
    tx.prepare_cached(
        "DELETE FROM auth_sessions WHERE user_id = ?1 AND id NOT IN \
         (SELECT id FROM auth_sessions WHERE user_id = ?1 ORDER BY expires_at > ?2 DESC, id DESC LIMIT ?3)",
    )?
    .execute(params![user_id, ms(now), keep])?;
    tx.commit()?;
    Ok(token)
}

/// Looks up a session token.
pub(super) fn find(conn: &Connection, token: &str, now: DateTime<Utc>) -> Result<SessionLookup> {
    if !is_session_token_shape(token) {
        return Ok(SessionLookup::Unknown);
    }
    let row = conn
        .prepare_cached(
            "SELECT id, user_id, csrf_hash, created_at, expires_at FROM auth_sessions WHERE token_hash = ?1",
        )?
        .query_row([&digest(token)[..]], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, Vec<u8>>(2)?,
                time_at(row, 3)?,
                time_at(row, 4)?,
            ))
        })
        .optional()?;
    let Some((id, user_id, csrf, created_at, expires_at)) = row else {
        return Ok(SessionLookup::Unknown);
    };
    if now >= expires_at {
        return Ok(SessionLookup::Expired);
    }
    let csrf_binding_hash =
        digest_from_slice(&csrf).ok_or_else(|| CatalogError::Corrupt(format!("csrf hash of session {id}")))?;
    Ok(SessionLookup::Valid(Session { id, user_id, created_at, expires_at, csrf_binding_hash }))
}

/// Ends one session.
pub(super) fn delete(conn: &Connection, token: &str) -> Result<bool> {
    if !is_session_token_shape(token) {
        return Ok(false);
    }
    let n = conn.prepare_cached("DELETE FROM auth_sessions WHERE token_hash = ?1")?.execute([&digest(token)[..]])?;
    Ok(n > 0)
}

/// Ends every session of a user.
pub(super) fn delete_for_user(conn: &Connection, user_id: i64) -> Result<u64> {
    let n = conn.prepare_cached("DELETE FROM auth_sessions WHERE user_id = ?1")?.execute([user_id])?;
    Ok(u64::try_from(n).unwrap_or(u64::MAX))
}
