//! Sessions and their rotating refresh tokens.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

pub async fn create(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
    ttl_days: i64,
    ip: IpAddr,
    user_agent: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, expires_at, ip, user_agent)
         VALUES ($1, $2, now() + make_interval(days => $3), $4::text::inet, $5)",
    )
    .bind(id)
    .bind(user_id)
    .bind(ttl_days as i32)
    .bind(ip.to_string())
    .bind(user_agent)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn add_refresh_token(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    token_hash: &[u8],
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id) VALUES ($1, $2)")
        .bind(token_hash)
        .bind(session_id)
        .execute(db)
        .await?;
    Ok(())
}

pub enum Rotation {
    /// The token was live and is now used; the caller issues its successor.
    Rotated {
        session_id: Uuid,
    },
    /// The token was used within the reuse interval: its successor, as sealed when it was
    /// issued, may be handed out again.
    Reused {
        session_id: Uuid,
        successor_sealed: Vec<u8>,
    },
    /// The token was already used: someone holds a copy. The session must end.
    Replayed {
        session_id: Uuid,
    },
    Unknown,
}

/// Uses up a refresh token. Concurrent presentations of one token serialise on its row:
/// exactly one sees it live; the others, once it committed, see it used — within
/// `reuse_secs` of that as a reuse, later as a replay.
pub async fn rotate(
    db: &mut PgConnection,
    token_hash: &[u8],
    reuse_secs: u32,
) -> sqlx::Result<Rotation> {
    let rotated: Option<Uuid> = sqlx::query_scalar(
        "UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL RETURNING session_id",
    )
    .bind(token_hash)
    .fetch_optional(&mut *db)
    .await?;
    if let Some(session_id) = rotated {
        return Ok(Rotation::Rotated { session_id });
    }
    // statement_timestamp(), not now(): this transaction may have started while the winner's
    // was still running.
    let used: Option<(Uuid, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT session_id,
                CASE WHEN used_at > statement_timestamp() - make_interval(secs => $2)
                     THEN successor_sealed END
           FROM refresh_tokens WHERE token_hash = $1",
    )
    .bind(token_hash)
    .bind(f64::from(reuse_secs))
    .fetch_optional(&mut *db)
    .await?;
    Ok(match used {
        None => Rotation::Unknown,
        Some((session_id, Some(successor_sealed))) => Rotation::Reused {
            session_id,
            successor_sealed,
        },
        Some((session_id, None)) => Rotation::Replayed { session_id },
    })
}

/// Keeps the sealed successor on the token it replaced, for [`Rotation::Reused`].
pub async fn keep_successor(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
    successor_sealed: &[u8],
) -> sqlx::Result<()> {
    sqlx::query("UPDATE refresh_tokens SET successor_sealed = $2 WHERE token_hash = $1")
        .bind(token_hash)
        .bind(successor_sealed)
        .execute(db)
        .await?;
    Ok(())
}

/// Whether the token is the session's live (issued, not yet used) refresh token, locking its
/// row until the transaction ends: a concurrent rotation of it waits, so a token handed out
/// on the strength of this answer is still live when the transaction commits (and one that a
/// rotation in flight is using up is seen as used once that commits).
pub async fn lock_live_token(
    db: &mut PgConnection,
    session_id: Uuid,
    token_hash: &[u8],
) -> sqlx::Result<bool> {
    let live: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM refresh_tokens
          WHERE token_hash = $1 AND session_id = $2 AND used_at IS NULL
            FOR UPDATE",
    )
    .bind(token_hash)
    .bind(session_id)
    .fetch_optional(db)
    .await?;
    Ok(live.is_some())
}

/// Who a live session belongs to: `None` once the session is revoked or expired, or the
/// account disabled.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Principal {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub email: String,
    pub role: String,
}

pub async fn principal(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<Principal>> {
    sqlx::query_as(
        "SELECT u.id AS user_id, s.id AS session_id, u.email, u.role::text AS role
           FROM sessions s JOIN users u ON u.id = s.user_id
          WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > now()
            AND u.is_active",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// The live session's user, for a refresh.
pub async fn live_user(db: impl PgExecutor<'_>, session_id: Uuid) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "UPDATE sessions s SET last_used_at = now()
           FROM users u
          WHERE s.id = $1 AND u.id = s.user_id AND s.revoked_at IS NULL AND s.expires_at > now() AND u.is_active
         RETURNING s.user_id",
    )
    .bind(session_id)
    .fetch_optional(db)
    .await
}

/// Ends one of the user's sessions; `false` if it is not theirs or already ended.
pub async fn revoke(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    user_id: Uuid,
    reason: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = now(), revoked_reason = $3
          WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends a session whatever its owner (refresh-token replay).
pub async fn revoke_by_id(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    reason: &str,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "UPDATE sessions SET revoked_at = coalesce(revoked_at, now()), revoked_reason = coalesce(revoked_reason, $2)
          WHERE id = $1 RETURNING user_id",
    )
    .bind(session_id)
    .bind(reason)
    .fetch_optional(db)
    .await
}

/// Ends all of the user's sessions but `except`; returns how many ended.
pub async fn revoke_all(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    reason: &str,
    except: Option<Uuid>,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = now(), revoked_reason = $2
          WHERE user_id = $1 AND revoked_at IS NULL AND ($3::uuid IS NULL OR id <> $3)",
    )
    .bind(user_id)
    .bind(reason)
    .bind(except)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

#[derive(Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

pub async fn list_live(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<SessionRow>> {
    sqlx::query_as(
        "SELECT id, created_at, last_used_at, expires_at, host(ip) AS ip, user_agent
           FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
          ORDER BY last_used_at DESC",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}
