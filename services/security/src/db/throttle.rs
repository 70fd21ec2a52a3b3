//! Password attempts per (account, client network).

use sqlx::PgExecutor;

/// Counts an attempt before the password is checked — in one statement, so concurrent
/// attempts cannot slip past a lock — and locks the key once `free` attempts have been made
/// within an hour: for `base_secs`, doubling with each further attempt up to `max_secs`.
/// A successful login [`clear`]s the count. `false` while the key is locked.
pub async fn attempt(
    db: impl PgExecutor<'_>,
    key: &[u8],
    free: i32,
    base_secs: f64,
    max_secs: f64,
) -> sqlx::Result<bool> {
    let counted: i64 = sqlx::query_scalar(
        "WITH counted AS (
            INSERT INTO login_throttle AS t (key_hash, failures, last_failure_at) VALUES ($1, 1, now())
            ON CONFLICT (key_hash) DO UPDATE SET
                failures = CASE WHEN t.last_failure_at < now() - interval '1 hour' THEN 1 ELSE t.failures + 1 END,
                last_failure_at = now(),
                locked_until = CASE
                    WHEN t.last_failure_at >= now() - interval '1 hour' AND t.failures + 1 >= $2
                    THEN now() + make_interval(secs => least($4, $3 * power(2, t.failures + 1 - $2)))
                    END
            WHERE t.locked_until IS NULL OR t.locked_until <= now()
            RETURNING 1
         )
         SELECT count(*) FROM counted",
    )
    .bind(key)
    .bind(free)
    .bind(base_secs)
    .bind(max_secs)
    .fetch_one(db)
    .await?;
    Ok(counted == 1)
}

/// Seconds the key must still wait, if it is locked.
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

pub async fn clear(db: impl PgExecutor<'_>, key: &[u8]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_throttle WHERE key_hash = $1")
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
}
