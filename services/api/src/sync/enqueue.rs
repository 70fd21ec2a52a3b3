//! Asking for a sync: a new job, or the one already waiting or running for the connection.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::job::COLUMNS;
use super::{Job, Kind, Mode, Origin, State};
use crate::config::SyncSettings;

/// Overlap of incremental order imports: orders changed this long before the last import's
/// newest change are read again (upserts make that harmless), so that none changed in the
/// same instant is missed.
pub const ORDERS_OVERLAP_MINUTES: i64 = 10;

#[derive(Debug, Clone, Copy)]
pub struct NewJob {
    pub user_id: Uuid,
    pub connection_id: Uuid,
    pub kind: Kind,
    pub mode: Mode,
    pub origin: Origin,
}

#[derive(Debug)]
pub enum Enqueued {
    /// A new job.
    Created(Job),
    /// A job was waiting: it now covers the request too (kinds united, full wins).
    Merged(Job),
    /// A job is running: the request is answered with it.
    Running(Job),
}

impl Enqueued {
    pub fn job(&self) -> &Job {
        match self {
            Enqueued::Created(job) | Enqueued::Merged(job) | Enqueued::Running(job) => job,
        }
    }
}

/// Enqueues `new`. `Ok(None)` when the connection is not the user's.
pub async fn enqueue(
    db: &mut PgConnection,
    settings: &SyncSettings,
    new: &NewJob,
) -> sqlx::Result<Option<Enqueued>> {
    // A job may finish between the insert that finds it and the read: try again.
    for _ in 0..3 {
        let Some(since) = orders_since(db, settings, new, new.kind, new.mode).await? else {
            return Ok(None);
        };
        let inserted: Option<Job> = sqlx::query_as(&format!(
            "INSERT INTO sync_jobs (id, user_id, connection_id, kind, mode, origin, phase, orders_since, max_attempts)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (connection_id) WHERE state IN ('queued', 'running') DO NOTHING
             RETURNING {COLUMNS}"
        ))
        .bind(Uuid::now_v7())
        .bind(new.user_id)
        .bind(new.connection_id)
        .bind(new.kind)
        .bind(new.mode)
        .bind(new.origin)
        .bind(new.kind.phases()[0])
        .bind(since)
        .bind(settings.max_attempts)
        .fetch_optional(&mut *db)
        .await?;
        if let Some(job) = inserted {
            return Ok(Some(Enqueued::Created(job)));
        }
        let active: Option<Job> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM sync_jobs
              WHERE connection_id = $1 AND user_id = $2 AND state IN ('queued', 'running')
              FOR UPDATE"
        ))
        .bind(new.connection_id)
        .bind(new.user_id)
        .fetch_optional(&mut *db)
        .await?;
        let Some(active) = active else {
            continue; // it just finished: the next round inserts
        };
        if active.state == State::Running {
            return Ok(Some(Enqueued::Running(active)));
        }
        let kind = active.kind.union(new.kind);
        let mode = if active.mode == Mode::Full || new.mode == Mode::Full {
            Mode::Full
        } else {
            Mode::Incremental
        };
        // The merchant asking does not wait for a retry's backoff.
        let now = new.origin == Origin::Merchant;
        if kind == active.kind && mode == active.mode && !now {
            return Ok(Some(Enqueued::Merged(active)));
        }
        // The waiting job starts over as the united kind. One waiting for a retry may
        // have committed pages: they are upserts, so reading them again doubles nothing.
        let since = orders_since(db, settings, new, kind, mode).await?.flatten();
        let merged: Job = sqlx::query_as(&format!(
            "UPDATE sync_jobs
                SET run_after = CASE WHEN $6 THEN least(run_after, now()) ELSE run_after END,
                    attempts = CASE WHEN $6 THEN 0 ELSE attempts END,
                    kind = $2, mode = $3, updated_at = now(),
                    -- Unchanged: a retry resumes where it stood. Changed: from the start.
                    phase = CASE WHEN kind = $2 AND mode = $3 THEN phase ELSE $4 END,
                    cursor = CASE WHEN kind = $2 AND mode = $3 THEN cursor END,
                    orders_since = CASE WHEN kind = $2 AND mode = $3 THEN orders_since ELSE $5 END,
                    items_done = CASE WHEN kind = $2 AND mode = $3 THEN items_done ELSE 0 END,
                    phase_done = CASE WHEN kind = $2 AND mode = $3 THEN phase_done ELSE 0 END,
                    items_failed = CASE WHEN kind = $2 AND mode = $3 THEN items_failed ELSE 0 END,
                    items_total = CASE WHEN kind = $2 AND mode = $3 THEN items_total END
              WHERE id = $1
              RETURNING {COLUMNS}"
        ))
        .bind(active.id)
        .bind(kind)
        .bind(mode)
        .bind(kind.phases()[0])
        .bind(since)
        .bind(now)
        .fetch_one(&mut *db)
        .await?;
        return Ok(Some(Enqueued::Merged(merged)));
    }
    Err(sqlx::Error::Protocol(
        "a sync job kept finishing while another was enqueued".to_owned(),
    ))
}

/// Where a job's orders phase starts reading (`Some(None)` for kinds without orders): the
/// import window for a full sync or a connection never imported, else the connection's
/// high-water mark less the overlap. `None` when the connection is not the user's.
async fn orders_since(
    db: &mut PgConnection,
    settings: &SyncSettings,
    new: &NewJob,
    kind: Kind,
    mode: Mode,
) -> sqlx::Result<Option<Option<DateTime<Utc>>>> {
    let synced_until: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
        "SELECT orders_synced_until FROM connections WHERE id = $1 AND user_id = $2",
    )
    .bind(new.connection_id)
    .bind(new.user_id)
    .fetch_optional(&mut *db)
    .await?;
    let Some(synced_until) = synced_until else {
        return Ok(None);
    };
    if !matches!(kind, Kind::Orders | Kind::Both) {
        return Ok(Some(None));
    }
    Ok(Some(Some(match (mode, synced_until) {
        (Mode::Incremental, Some(until)) => until - Duration::minutes(ORDERS_OVERLAP_MINUTES),
        _ => Utc::now() - Duration::days(settings.orders_import_days),
    })))
}
