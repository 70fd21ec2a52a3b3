//! Statements that must not outlive the request that started them.
//!
//! When a request ends early (`REQUEST_TIMEOUT_SECS`, or the client went away) its handler is
//! dropped mid-query; sqlx then waits for the statement to finish before it reuses the
//! connection, so Postgres goes on with work nobody waits for — minutes, for a large import.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};

/// A pooled connection whose running statement is cancelled (`pg_cancel_backend`) when it is
/// dropped before [`Cancellable::release`]. Such a connection is closed, never reused, so the
/// cancel can only reach the statement it is meant for.
///
/// Call `release` as soon as the work has returned, whether it succeeded or failed: a
/// statement Postgres refused (a unique violation, say) leaves the connection idle and usable
/// (sqlx rolls back an unfinished transaction when it goes back to the pool). Only a future
/// dropped mid-statement leaves the connection busy, and only then is a cancel sent.
pub struct Cancellable {
    conn: PoolConnection<Postgres>,
    pool: PgPool,
    backend_pid: i32,
    released: bool,
}

impl Cancellable {
    pub async fn acquire(pool: &PgPool) -> sqlx::Result<Self> {
        let mut conn = pool.acquire().await?;
        let backend_pid = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *conn)
            .await?;
        Ok(Cancellable {
            conn,
            pool: pool.clone(),
            backend_pid,
            released: false,
        })
    }

    /// The work has returned (done or failed): the connection goes back to the pool.
    pub fn release(mut self) {
        self.released = true;
    }
}

impl Deref for Cancellable {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl DerefMut for Cancellable {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

impl Drop for Cancellable {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        self.conn.close_on_drop();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // shutting down: the closed connection and statement_timeout end it
        };
        let (pool, pid) = (self.pool.clone(), self.backend_pid);
        runtime.spawn(async move {
            let cancelled = sqlx::query("SELECT pg_cancel_backend($1)")
                .bind(pid)
                .execute(&pool)
                .await;
            if let Err(e) = cancelled {
                tracing::warn!(error = %e, pid, "could not cancel an abandoned statement");
            }
        });
    }
}

/// Bounds each statement of the current transaction (`SET LOCAL statement_timeout`), in case
/// the cancel never comes (the process died).
pub async fn limit_statements(tx: &mut PgConnection, limit: Duration) -> sqlx::Result<()> {
    sqlx::query("SELECT set_config('statement_timeout', $1, true)")
        .bind(limit.as_millis().max(1).to_string())
        .execute(tx)
        .await?;
    Ok(())
}
