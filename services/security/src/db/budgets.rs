//! Attempt budgets: at most `max` attempts per key within a fixed window, counted before the
//! attempt is judged.

use sqlx::PgExecutor;

/// Counts one attempt — in one statement, so concurrent attempts cannot all pass — unless the
/// key already used up its `max` attempts in the current `window_secs`; then `false`.
/// A window that has passed starts over.
pub async fn take(
    db: impl PgExecutor<'_>,
    key: &[u8],
    max: i32,
    window_secs: i64,
) -> sqlx::Result<bool> {
    let counted: Option<i32> = sqlx::query_scalar(
        "INSERT INTO attempt_budgets AS b (key_hash, window_start, attempts) VALUES ($1, now(), 1)
         ON CONFLICT (key_hash) DO UPDATE SET
            attempts = CASE WHEN b.window_start <= now() - make_interval(secs => $3) THEN 1
                            ELSE b.attempts + 1 END,
            window_start = CASE WHEN b.window_start <= now() - make_interval(secs => $3) THEN now()
                                ELSE b.window_start END
          WHERE b.window_start <= now() - make_interval(secs => $3) OR b.attempts < $2
         RETURNING attempts",
    )
    .bind(key)
    .bind(max)
    .bind(window_secs as f64)
    .fetch_optional(db)
    .await?;
    Ok(counted.is_some_and(|n| n <= max))
}

/// A write that costs what issuing a code or queueing a mail costs (an upsert of one small
/// row), for the path that has nothing to write: how long an answer takes must not tell
/// whether an address has an account. The row (one per `key`) means nothing.
pub async fn stand_in(db: impl PgExecutor<'_>, key: &[u8]) -> sqlx::Result<()> {
    take(db, key, i32::MAX, 24 * 60 * 60).await.map(drop)
}

/// Gives back an attempt that succeeded, so only failures use up the budget.
pub async fn refund(db: impl PgExecutor<'_>, key: &[u8]) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE attempt_budgets SET attempts = greatest(attempts - 1, 0) WHERE key_hash = $1",
    )
    .bind(key)
    .execute(db)
    .await?;
    Ok(())
}

/// Seconds until the key's current window ends (at least 1).
pub async fn wait_secs(db: impl PgExecutor<'_>, key: &[u8], window_secs: i64) -> sqlx::Result<u64> {
    let wait: Option<f64> = sqlx::query_scalar(
        "SELECT ceil(extract(epoch FROM window_start + make_interval(secs => $2) - now()))::float8
           FROM attempt_budgets WHERE key_hash = $1",
    )
    .bind(key)
    .bind(window_secs as f64)
    .fetch_optional(db)
    .await?;
    Ok(wait.unwrap_or(1.0).max(1.0) as u64)
}
