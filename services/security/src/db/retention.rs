//! Pruning of the rows that only accumulate, past their retention. Deletes in batches, so a
//! first run over a large backlog does not hold long locks or one huge transaction.

use sqlx::PgPool;

use crate::config::RetentionConfig;

/// Rows deleted per statement.
const BATCH: i64 = 5_000;

/// Rows deleted by one pruning, per table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub sessions: u64,
    pub refresh_tokens: u64,
    pub login_tickets: u64,
    pub login_throttle: u64,
    pub attempt_budgets: u64,
    pub security_events: u64,
    pub mail_outbox: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.sessions
            + self.refresh_tokens
            + self.login_tickets
            + self.login_throttle
            + self.attempt_budgets
            + self.security_events
            + self.mail_outbox
    }
}

/// Deletes what is past its retention; nothing younger, and nothing still in use: a live
/// session, any refresh token of one, an unexpired ticket, a throttle that still locks
/// or still counts (its hour), a budget whose window is open, a mail not yet delivered.
pub async fn prune(db: &PgPool, keep: &RetentionConfig) -> sqlx::Result<Pruned> {
    let sessions = keep.session_retention_days;
    let login_state = keep.login_state_retention_hours;
    let events = keep.security_event_retention_days;
    let mail = keep.mail_outbox_retention_days;
    Ok(Pruned {
        // Their refresh tokens go with them (ON DELETE CASCADE).
        sessions: delete_batched(
            db,
            "sessions",
            "expires_at < now() - make_interval(days => $1)
             OR revoked_at < now() - make_interval(days => $1)",
            sessions,
        )
        .await?,
        // Only of ended sessions: a live session's used tokens are what recognises a replay
        // (which ends the session), however old they are.
        refresh_tokens: delete_batched(
            db,
            "refresh_tokens",
            "used_at < now() - make_interval(days => $1)
             AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = refresh_tokens.session_id
                           AND (s.expires_at <= now() OR s.revoked_at IS NOT NULL))",
            sessions,
        )
        .await?,
        login_tickets: delete_batched(
            db,
            "login_tickets",
            "expires_at < now() - make_interval(hours => $1)",
            login_state,
        )
        .await?,
        login_throttle: delete_batched(
            db,
            "login_throttle",
            "last_failure_at < now() - make_interval(hours => $1)
             AND (locked_until IS NULL OR locked_until < now())",
            login_state,
        )
        .await?,
        attempt_budgets: delete_batched(
            db,
            "attempt_budgets",
            "window_start < now() - make_interval(hours => $1)",
            login_state,
        )
        .await?,
        security_events: delete_batched(
            db,
            "security_events",
            "created_at < now() - make_interval(days => $1)",
            events,
        )
        .await?,
        mail_outbox: delete_batched(
            db,
            "mail_outbox",
            "status <> 'pending' AND finished_at < now() - make_interval(days => $1)",
            mail,
        )
        .await?,
    })
}

/// Deletes the rows of `table` matching `condition` (with `$1` bound to `arg`), a batch at a
/// time. Table and condition are constants of this module, never input.
async fn delete_batched(
    db: &PgPool,
    table: &'static str,
    condition: &'static str,
    arg: i32,
) -> sqlx::Result<u64> {
    let sql = format!(
        "DELETE FROM {table} WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM {table} WHERE {condition} LIMIT {BATCH}))"
    );
    let mut total = 0;
    loop {
        let deleted = sqlx::query(&sql)
            .bind(arg)
            .execute(db)
            .await?
            .rows_affected();
        total += deleted;
        if deleted < BATCH as u64 {
            return Ok(total);
        }
    }
}
