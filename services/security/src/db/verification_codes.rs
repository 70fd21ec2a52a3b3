//! Six-digit one-time codes: one live code per user and purpose, stored as a keyed hash.

use sqlx::PgExecutor;
use uuid::Uuid;

/// Stores a new code, replacing (killing) the user's previous one for the purpose — unless
/// that one is still live and younger than `cooldown_secs`; then nothing changes and `false`
/// comes back (the earlier mail's code keeps working).
pub async fn issue(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    purpose: &str,
    code_hash: &[u8],
    ttl_secs: i64,
    cooldown_secs: i64,
) -> sqlx::Result<bool> {
    let row: Option<(Uuid,)> = sqlx::query_as(
        "INSERT INTO verification_codes (id, user_id, purpose, code_hash, expires_at)
         VALUES ($1, $2, $3::code_purpose, $4, now() + make_interval(secs => $5))
         ON CONFLICT (user_id, purpose) DO UPDATE
            SET id = EXCLUDED.id, code_hash = EXCLUDED.code_hash, attempts = 0,
                created_at = now(), expires_at = EXCLUDED.expires_at, used_at = NULL
          WHERE verification_codes.used_at IS NOT NULL
             OR verification_codes.expires_at <= now()
             OR verification_codes.created_at <= now() - make_interval(secs => $6)
         RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(purpose)
    .bind(code_hash)
    .bind(ttl_secs as f64)
    .bind(cooldown_secs as f64)
    .fetch_optional(db)
    .await?;
    Ok(row.is_some())
}

/// Counts one attempt against the live code — atomically, before anything is compared, and
/// only while fewer than `max_attempts` were made — and hands back its id and hash.
pub async fn take_attempt(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    purpose: &str,
    max_attempts: i32,
) -> sqlx::Result<Option<(Uuid, Vec<u8>)>> {
    sqlx::query_as(
        "UPDATE verification_codes SET attempts = attempts + 1
          WHERE user_id = $1 AND purpose = $2::code_purpose AND used_at IS NULL
            AND expires_at > now() AND attempts < $3
         RETURNING id, code_hash",
    )
    .bind(user_id)
    .bind(purpose)
    .bind(max_attempts)
    .fetch_optional(db)
    .await
}

/// Marks a matched code used; `false` if another request used it first.
pub async fn consume(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE verification_codes SET used_at = now() WHERE id = $1 AND used_at IS NULL",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
