//! The job table as a queue: a worker claims a due job (or one whose worker died) with
//! `FOR UPDATE SKIP LOCKED`, holds it by a lease it renews, and ends it as succeeded,
//! queued again for a retry with backoff, or failed. Every write after the claim is
//! guarded by the lease: a worker that lost its job changes nothing.

use std::time::Duration;

use rand::Rng;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::enqueue::{enqueue, NewJob};
use super::job::COLUMNS;
use super::run::Lease;
use super::{Job, Kind, Mode, Origin, SyncError};
use crate::config::SyncSettings;

/// Longest wait between two attempts of a job.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Error codes that mean the connection needs the merchant (reconnect, grant a scope): it
/// goes to status `error`, which the schedule skips.
const CONNECTION_BROKEN: [&str; 3] = [
    "channel_credentials_invalid",
    "channel_scope_missing",
    "credentials_unreadable",
];

/// Takes a job for `owner`: first one whose lease ran out (its worker died), then the
/// oldest due one. Each step is one statement over its partial index (`sync_jobs_leases`,
/// `sync_jobs_due`), so finished jobs, however many, cost nothing. `None`: nothing to do.
pub async fn claim(db: &PgPool, owner: Uuid, lease: Duration) -> sqlx::Result<Option<Job>> {
    for candidates in [
        "state = 'running' AND lease_until < now() ORDER BY lease_until",
        "state = 'queued' AND run_after <= now() ORDER BY run_after",
    ] {
        let job = sqlx::query_as(&format!(
            "UPDATE sync_jobs
                SET state = 'running', lease_owner = $1, lease_until = now() + $2,
                    attempts = attempts + 1, started_at = coalesce(started_at, now()),
                    updated_at = now()
              WHERE id = (SELECT id FROM sync_jobs WHERE {candidates}
                           LIMIT 1 FOR UPDATE SKIP LOCKED)
              RETURNING {COLUMNS}"
        ))
        .bind(owner)
        .bind(lease)
        .fetch_optional(db)
        .await?;
        if job.is_some() {
            return Ok(job);
        }
    }
    Ok(None)
}

/// The heartbeat: extends the lease. `false` when the job is no longer this worker's.
pub async fn renew(db: &PgPool, lease: Lease, duration: Duration) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE sync_jobs SET lease_until = now() + $3
          WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
    )
    .bind(lease.job_id)
    .bind(lease.owner)
    .bind(duration)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends the job as succeeded and records the sync on the connection; local changes that
/// arrived while it ran (pending products changed since the job started) get a follow-up
/// push job, webhooks that arrived while it ran an incremental sync of what they named. `None` when the job is no longer this worker's (nothing written).
pub async fn succeed(
    db: &PgPool,
    settings: &SyncSettings,
    lease: Lease,
) -> sqlx::Result<Option<Job>> {
    let mut tx = db.begin().await?;
    let job: Option<Job> = sqlx::query_as(&format!(
        "UPDATE sync_jobs
            SET state = 'succeeded', phase = 'done', cursor = NULL, completed_at = now(),
                lease_owner = NULL, lease_until = NULL, error_code = NULL, error = NULL,
                updated_at = now()
          WHERE id = $1 AND lease_owner = $2 AND state = 'running'
          RETURNING {COLUMNS}"
    ))
    .bind(lease.job_id)
    .bind(lease.owner)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(job) = job else {
        return Ok(None);
    };
    // A working sync clears a problem an earlier one recorded (a disconnected or paused
    // connection keeps its status and reason).
    sqlx::query(
        "UPDATE connections
            SET last_sync_at = CASE WHEN $2 THEN now() ELSE last_sync_at END, updated_at = now(),
                last_error = CASE WHEN status IN ('active', 'error') THEN NULL ELSE last_error END,
                last_error_code = CASE WHEN status IN ('active', 'error') THEN NULL ELSE last_error_code END,
                status = CASE WHEN status = 'error' THEN 'active' ELSE status END
          WHERE id = $1",
    )
    .bind(job.connection_id)
    // Only a sync of both orders and products is what the schedule would have done: after
    // a push, or a products-only sync from a webhook, it must still pull the orders.
    .bind(job.kind == Kind::Both)
    .execute(&mut *tx)
    .await?;
    // Only changes made since the job started: one the push could not clear for another
    // reason must not make a push job after every push job.
    let pending: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM products
                         WHERE connection_id = $1 AND has_local_changes
                           AND external_id IS NOT NULL AND push_error IS NULL
                           AND channel_state IS DISTINCT FROM 'removed'
                           AND updated_at >= $2)",
    )
    .bind(job.connection_id)
    .bind(job.started_at)
    .fetch_one(&mut *tx)
    .await?;
    // Webhooks that came while the job ran found it running and queued nothing: what they
    // named is read by an incremental follow-up.
    let (orders, products): (Option<bool>, Option<bool>) = sqlx::query_as(
        "SELECT bool_or(topic LIKE 'orders/%'),
                bool_or(topic LIKE 'products/%' OR topic LIKE 'inventory_levels/%')
           FROM channel_events
          WHERE connection_id = $1 AND received_at >= $2
            AND EXISTS (SELECT 1 FROM connections WHERE id = $1 AND status = 'active')",
    )
    .bind(job.connection_id)
    .bind(job.started_at)
    .fetch_one(&mut *tx)
    .await?;
    let follow_up = match (orders.unwrap_or(false), products.unwrap_or(false)) {
        (true, true) => Some((Kind::Both, Origin::Webhook)),
        (true, false) => Some((Kind::Orders, Origin::Webhook)),
        (false, true) => Some((Kind::Products, Origin::Webhook)),
        (false, false) => pending.then_some((Kind::Push, Origin::Stock)),
    };
    if let Some((kind, origin)) = follow_up {
        let follow_up = NewJob {
            user_id: job.user_id,
            connection_id: job.connection_id,
            kind,
            mode: Mode::Incremental,
            origin,
        };
        enqueue(&mut tx, settings, &follow_up).await?;
    }
    tx.commit().await?;
    Ok(Some(job))
}

/// Ends an attempt that failed with `error`: queued again after a backoff when the error is
/// worth a retry and attempts remain, else failed for good. Either way the job and the
/// connection show the reason; credentials and scope problems put the connection in
/// status `error`. `None` when the job is no longer this worker's (nothing written).
pub async fn retry_or_fail(
    db: &PgPool,
    settings: &SyncSettings,
    lease: Lease,
    attempts: i32,
    error: &SyncError,
) -> sqlx::Result<Option<Job>> {
    let mut delay = backoff(settings.retry_base, attempts);
    if let SyncError::Channel(sm_connectors::ChannelError::RateLimited {
        retry_after: Some(after),
    }) = error
    {
        delay = delay.max((*after).min(MAX_BACKOFF));
    }
    // Postgres intervals hold microseconds.
    let delay = Duration::from_micros(delay.as_micros().try_into().unwrap_or(u64::MAX));
    let mut tx = db.begin().await?;
    let job: Option<Job> = sqlx::query_as(&format!(
        "UPDATE sync_jobs
            SET state = CASE WHEN $3 AND attempts < max_attempts THEN 'queued' ELSE 'failed' END,
                run_after = CASE WHEN $3 AND attempts < max_attempts THEN now() + $4 ELSE run_after END,
                completed_at = CASE WHEN $3 AND attempts < max_attempts THEN NULL ELSE now() END,
                lease_owner = NULL, lease_until = NULL, error_code = $5, error = $6,
                updated_at = now()
          WHERE id = $1 AND lease_owner = $2 AND state = 'running'
          RETURNING {COLUMNS}"
    ))
    .bind(lease.job_id)
    .bind(lease.owner)
    .bind(error.is_retryable())
    .bind(delay)
    .bind(error.code())
    .bind(error.public_message())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(job) = job else {
        return Ok(None);
    };
    record_problem(&mut tx, job.connection_id, error).await?;
    tx.commit().await?;
    Ok(Some(job))
}

/// The connection's last problem (and status `error` when the merchant must act).
async fn record_problem(
    tx: &mut Transaction<'static, Postgres>,
    connection_id: Uuid,
    error: &SyncError,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE connections
            SET last_error = $2, last_error_code = $3, updated_at = now(),
                status = CASE WHEN $4 AND status IN ('pending', 'active') THEN 'error' ELSE status END
          WHERE id = $1",
    )
    .bind(connection_id)
    .bind(error.public_message())
    .bind(error.code())
    .bind(CONNECTION_BROKEN.contains(&error.code()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Gives the job back at once (the process is shutting down): another worker takes it and
/// resumes after the last committed page. The interrupted attempt does not count.
pub async fn release(db: &PgPool, lease: Lease) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE sync_jobs SET lease_until = now(), attempts = greatest(attempts - 1, 0)
          WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
    )
    .bind(lease.job_id)
    .bind(lease.owner)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The wait before the attempt after `attempts`: `base * 2^(attempts-1)`, at most
/// [`MAX_BACKOFF`], then ±20% so that jobs failed together do not retry together.
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 20) as u32;
    jitter(base.saturating_mul(1 << doublings).min(MAX_BACKOFF))
}

/// `wait` ±20%: workers and replicas started together drift apart.
pub fn jitter(wait: Duration) -> Duration {
    wait.mul_f64(rand::thread_rng().gen_range(0.8..=1.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let base = Duration::from_secs(10);
        for (attempts, plain) in [(0, 10), (1, 10), (2, 20), (3, 40), (4, 80)] {
            let d = backoff(base, attempts).as_secs_f64();
            let plain = plain as f64;
            assert!(
                d >= plain * 0.8 - 1e-9 && d <= plain * 1.2 + 1e-9,
                "{attempts}: {d}"
            );
        }
        assert!(backoff(base, 40) <= MAX_BACKOFF.mul_f64(1.2));
        assert!(backoff(base, 40) >= MAX_BACKOFF.mul_f64(0.8));
        assert_eq!(backoff(Duration::ZERO, 3), Duration::ZERO);
    }
}
