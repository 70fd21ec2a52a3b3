//! Login tickets: the pending second step of a login.

use sqlx::PgExecutor;
use uuid::Uuid;

pub async fn create(
    db: impl PgExecutor<'_>,
    ticket_hash: &[u8],
    user_id: Uuid,
    method: &str,
    ttl_secs: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO login_tickets (ticket_hash, user_id, method, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
    )
    .bind(ticket_hash)
    .bind(user_id)
    .bind(method)
    .bind(ttl_secs as f64)
    .execute(db)
    .await?;
    Ok(())
}

/// Counts an attempt on a live ticket and returns its user and method.
pub async fn take_attempt(
    db: impl PgExecutor<'_>,
    ticket_hash: &[u8],
    max_attempts: i32,
) -> sqlx::Result<Option<(Uuid, String)>> {
    sqlx::query_as(
        "UPDATE login_tickets SET attempts = attempts + 1
          WHERE ticket_hash = $1 AND used_at IS NULL AND expires_at > now() AND attempts < $2
         RETURNING user_id, method",
    )
    .bind(ticket_hash)
    .bind(max_attempts)
    .fetch_optional(db)
    .await
}

/// Uses the ticket up; `false` if another request did first.
pub async fn consume(db: impl PgExecutor<'_>, ticket_hash: &[u8]) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE login_tickets SET used_at = now() WHERE ticket_hash = $1 AND used_at IS NULL",
    )
    .bind(ticket_hash)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Drops all of a user's pending logins (password changed or reset).
pub async fn delete_for_user(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_tickets WHERE user_id = $1")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}
