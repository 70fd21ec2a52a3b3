//! Failed password attempts per (account, client network).

use sqlx::PgExecutor;

/// Seconds the key must still wait, if it is throttled.
pub async fn wait_secs(db: impl PgExecutor<'_>, key: &[u8]) -> sqlx::Result<Option<i64>> {
    let wait: Option<Option<f64>> = sqlx::query_scalar(
        "SELECT ceil(extract(epoch FROM locked_until - now()))::float8
           FROM login_throttle WHERE key_hash = $1 AND locked_until > now()",
    )
    .bind(key)
    .fetch_optional(db)
    .await?;
    Ok(wait.flatten().map(|secs| secs.max(1.0) as i64))
}

/// Counts a failure (the count restarts after an hour without one) and returns the new count.
pub async fn record_failure(db: impl PgExecutor<'_>, key: &[u8]) -> sqlx::Result<i32> {
    sqlx::query_scalar(
        "INSERT INTO login_throttle (key_hash, failures, last_failure_at) VALUES ($1, 1, now())
         ON CONFLICT (key_hash) DO UPDATE SET
            failures = CASE WHEN login_throttle.last_failure_at < now() - interval '1 hour'
                            THEN 1 ELSE login_throttle.failures + 1 END,
            last_failure_at = now()
         RETURNING failures",
    )
    .bind(key)
    .fetch_one(db)
    .await
}

pub async fn lock(db: impl PgExecutor<'_>, key: &[u8], secs: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE login_throttle SET locked_until = now() + make_interval(secs => $2) WHERE key_hash = $1")
        .bind(key)
        .bind(secs as f64)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn clear(db: impl PgExecutor<'_>, key: &[u8]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_throttle WHERE key_hash = $1")
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
}
