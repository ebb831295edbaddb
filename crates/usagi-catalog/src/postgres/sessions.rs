//! Cookie login sessions.

use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::{Client, GenericClient};

use super::codec::get;
use super::users::lock_user;
use super::{execute, query_opt};
use crate::credentials::{digest, digest_from_slice, is_session_token_shape, new_session_token};
use crate::error::{CatalogError, Result};
use crate::session::{Session, SessionLookup, EXPIRED_SESSION_GRACE_DAYS, MAX_SESSIONS_PER_USER};

/// Starts a session and returns its token.
pub(super) async fn create(
    client: &mut Client,
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
    let tx = client.transaction().await?;
    // The user's row lock makes insert-then-trim atomic per user across processes.
    lock_user(&tx, user_id).await?;
    // Opportunistic cleanup; rows are kept for a grace period so they answer "Session expired".
    execute(
        &tx,
        "DELETE FROM auth_sessions WHERE expires_at <= $1",
        &[&(now - Duration::days(EXPIRED_SESSION_GRACE_DAYS))],
    )
    .await?;
    execute(
        &tx,
        "INSERT INTO auth_sessions (token_hash, user_id, csrf_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
        &[&&digest(&token)[..], &user_id, &&digest(csrf_binding)[..], &now, &expires],
    )
    .await?;
    // Keep the 50 newest rows, preferring live ones, so an expired row goes before a live one.
    let keep = i64::try_from(MAX_SESSIONS_PER_USER).unwrap_or(i64::MAX);
    execute(
        &tx,
        "DELETE FROM auth_sessions WHERE user_id = $1 AND id NOT IN \
         (SELECT id FROM auth_sessions WHERE user_id = $1 ORDER BY expires_at > $2 DESC, id DESC LIMIT $3)",
        &[&user_id, &now, &keep],
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// Looks up a session token.
pub(super) async fn find(c: &impl GenericClient, token: &str, now: DateTime<Utc>) -> Result<SessionLookup> {
    if !is_session_token_shape(token) {
        return Ok(SessionLookup::Unknown);
    }
    let row = query_opt(
        c,
        "SELECT id, user_id, csrf_hash, created_at, expires_at FROM auth_sessions WHERE token_hash = $1",
        &[&&digest(token)[..]],
    )
    .await?;
    let Some(row) = row else {
        return Ok(SessionLookup::Unknown);
    };
    let (id, user_id, csrf, created_at, expires_at): (i64, i64, Vec<u8>, DateTime<Utc>, DateTime<Utc>) =
        (get(&row, 0)?, get(&row, 1)?, get(&row, 2)?, get(&row, 3)?, get(&row, 4)?);
    if now >= expires_at {
        return Ok(SessionLookup::Expired);
    }
    let csrf_binding_hash =
        digest_from_slice(&csrf).ok_or_else(|| CatalogError::Corrupt(format!("csrf hash of session {id}")))?;
    Ok(SessionLookup::Valid(Session { id, user_id, created_at, expires_at, csrf_binding_hash }))
}

/// Ends one session.
pub(super) async fn delete(c: &impl GenericClient, token: &str) -> Result<bool> {
    if !is_session_token_shape(token) {
        return Ok(false);
    }
    Ok(execute(c, "DELETE FROM auth_sessions WHERE token_hash = $1", &[&&digest(token)[..]]).await? > 0)
}

/// Ends every session of a user.
pub(super) async fn delete_for_user(c: &impl GenericClient, user_id: i64) -> Result<u64> {
    execute(c, "DELETE FROM auth_sessions WHERE user_id = $1", &[&user_id]).await
}
