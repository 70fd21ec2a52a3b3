//! The mail outbox: mail written with the code it carries, delivered by `mail::worker`.
//! Bodies hold one-time codes: every way out of `pending` blanks them.

use std::time::Duration;

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// The channel a queued mail is announced on (by the trigger of migration 0004); Postgres
/// delivers the notification when the queuing transaction commits, to every instance's worker.
pub const CHANNEL: &str = "mail_outbox";

pub struct NewMail<'a> {
    pub kind: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub budgeted: bool,
}

/// Queues the mail; a trigger announces it on [`CHANNEL`], which Postgres delivers when the
/// transaction commits.
pub async fn insert(db: impl PgExecutor<'_>, mail: NewMail<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO mail_outbox (id, kind, recipient, subject, body, budgeted)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(mail.kind)
    .bind(mail.recipient)
    .bind(mail.subject)
    .bind(mail.body)
    .bind(mail.budgeted)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
pub struct Due {
    pub id: Uuid,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub budgeted: bool,
    pub attempts: i32,
    /// How long ago it was queued.
    pub age_secs: f64,
}

/// Locks the mail due longest, skipping any another worker holds; it stays locked (and
/// invisible to other workers) until `tx` ends. Mail outside the platform budget (login
/// codes, notices to signed-in users) goes first, so a flood of sign-ups waiting for the
/// budget never holds up a login.
pub async fn claim_due(tx: &mut PgConnection) -> sqlx::Result<Option<Due>> {
    sqlx::query_as(
        "SELECT id, kind, recipient, subject, body, budgeted, attempts,
                extract(epoch FROM now() - created_at)::float8 AS age_secs
           FROM mail_outbox
          WHERE status = 'pending' AND next_attempt_at <= now()
          ORDER BY budgeted, next_attempt_at, created_at
          LIMIT 1
          FOR UPDATE SKIP LOCKED",
    )
    .fetch_optional(tx)
    .await
}

/// Ends a mail's life as `sent`, `failed` or `dropped`, blanking its body.
pub async fn finish(
    tx: &mut PgConnection,
    id: Uuid,
    status: &str,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE mail_outbox SET status = $2, body = NULL, finished_at = now(), budgeted = false,
                attempts = attempts + CASE WHEN $2 = 'dropped' THEN 0 ELSE 1 END,
                last_error = coalesce($3, last_error)
          WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(error)
    .execute(tx)
    .await?;
    Ok(())
}

/// Counts a failed attempt and schedules the next one after `delay`. The mail has been
/// counted against the budget by now, so a retry does not count again.
pub async fn retry_later(
    tx: &mut PgConnection,
    id: Uuid,
    delay: Duration,
    error: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE mail_outbox SET attempts = attempts + 1, budgeted = false, last_error = $3,
                next_attempt_at = now() + make_interval(secs => $2)
          WHERE id = $1",
    )
    .bind(id)
    .bind(delay.as_secs_f64())
    .bind(error)
    .execute(tx)
    .await?;
    Ok(())
}

/// Holds the mail back until `delay` from now without counting an attempt: the platform
/// budget is used up, and it is still to be counted against it when it is next due.
pub async fn postpone(tx: &mut PgConnection, id: Uuid, delay: Duration) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE mail_outbox SET next_attempt_at = now() + make_interval(secs => $2) WHERE id = $1",
    )
    .bind(id)
    .bind(delay.as_secs_f64())
    .execute(tx)
    .await?;
    Ok(())
}

/// How long until the next pending mail is due (zero if one is due now), if any is pending.
pub async fn next_due_in(db: impl PgExecutor<'_>) -> sqlx::Result<Option<Duration>> {
    let secs: Option<f64> = sqlx::query_scalar(
        // Not greatest(…, 0) here: greatest skips NULL, so "nothing pending" would read as
        // "due now" and keep the worker polling without pause.
        "SELECT extract(epoch FROM min(next_attempt_at) - now())::float8
           FROM mail_outbox WHERE status = 'pending'",
    )
    .fetch_one(db)
    .await?;
    Ok(secs.map(|secs| Duration::from_secs_f64(secs.max(0.0))))
}
