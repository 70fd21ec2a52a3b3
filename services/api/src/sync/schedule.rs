//! Periodic syncs: every active connection not synced for an interval gets an incremental
//! sync of orders and products. Replicas may all run the schedule: one statement enqueues,
//! and the one-active-job index lets only one job per connection in.

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use super::enqueue::ORDERS_OVERLAP_MINUTES;
use super::queue::jitter;
use super::worker::stopping;
use super::{Kind, Mode, Origin};
use crate::config::SyncSettings;
use crate::state::AppState;

/// Most jobs one tick enqueues; the next tick takes the rest.
pub const MAX_PER_TICK: usize = 500;

/// Longest time between two ticks.
const MAX_TICK: Duration = Duration::from_secs(60);

/// Ticks every `min(interval / 4, 60 s)` (jittered) until stopped, the first at once.
pub async fn run(state: AppState, interval: Duration, mut stopped: watch::Receiver<bool>) {
    let period = (interval / 4).min(MAX_TICK);
    loop {
        match tick(&state.db, &state.sync, interval).await {
            Ok(0) => {}
            Ok(jobs) => tracing::info!(jobs, "scheduled syncs enqueued"),
            Err(e) => tracing::warn!(error = %e, "cannot enqueue the scheduled syncs"),
        }
        match prune(&state.db, state.sync.log_retention).await {
            Ok(0) => {}
            Ok(jobs) => tracing::info!(jobs, "old sync logs deleted"),
            Err(e) => tracing::warn!(error = %e, "cannot delete old sync logs"),
        }
        tokio::select! {
            () = tokio::time::sleep(jitter(period)) => {}
            () = stopping(&mut stopped) => return,
        }
    }
}

/// Enqueues an incremental `both` job (origin schedule) for every active connection whose
/// last sync is older than `interval` (or that never synced) and that has no job waiting
/// or running nor one made within `interval`, at most [`MAX_PER_TICK`], the longest unsynced first. Its orders window
/// follows [`super::enqueue`]: from the connection's high-water mark less the overlap, or
/// the import window when it has none. Returns how many were enqueued.
pub async fn tick(db: &PgPool, settings: &SyncSettings, interval: Duration) -> sqlx::Result<u64> {
    let ids: Vec<Uuid> = (0..MAX_PER_TICK).map(|_| Uuid::now_v7()).collect();
    let done = sqlx::query(
        "INSERT INTO sync_jobs (id, user_id, connection_id, kind, mode, origin, phase,
                                orders_since, max_attempts)
         SELECT ($1::uuid[])[row_number() OVER ()], c.user_id, c.id, $2, $3, $4, $5,
                coalesce(c.orders_synced_until - $6, now() - $7), $8
           FROM (SELECT c.id, c.user_id, c.orders_synced_until
                   FROM connections c
                  WHERE c.status = 'active'
                    AND (c.last_sync_at IS NULL OR c.last_sync_at < now() - $9)
                    -- Nothing waiting or running, and no full sync (orders and products)
                    -- made within the interval: a connection whose syncs fail is tried
                    -- once per interval, not at every tick. Pushes and one-sided syncs
                    -- (local edits, webhooks) must not hold the connection's pulls back.
                    AND NOT EXISTS (SELECT 1 FROM sync_jobs j
                                     WHERE j.user_id = c.user_id AND j.connection_id = c.id
                                       AND (j.state IN ('queued', 'running')
                                            OR (j.kind = 'both' AND j.created_at > now() - $9)))
                  ORDER BY c.last_sync_at NULLS FIRST, c.id
                  LIMIT $10) c
         ON CONFLICT (connection_id) WHERE state IN ('queued', 'running') DO NOTHING",
    )
    .bind(&ids)
    .bind(Kind::Both)
    .bind(Mode::Incremental)
    .bind(Origin::Schedule)
    .bind(Kind::Both.phases()[0])
    .bind(chrono::Duration::minutes(ORDERS_OVERLAP_MINUTES))
    .bind(chrono::Duration::days(settings.orders_import_days))
    .bind(settings.max_attempts)
    .bind(interval)
    .bind(MAX_PER_TICK as i64)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Most finished jobs one tick deletes (with their ledgers).
pub const MAX_PRUNED_PER_TICK: i64 = 1_000;

/// Deletes finished jobs (and, by cascade, their ledgers) completed more than `retention`
/// ago, at most [`MAX_PRUNED_PER_TICK`]: the logs do not grow without end.
pub async fn prune(db: &PgPool, retention: Duration) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM sync_jobs WHERE id IN (
            SELECT id FROM sync_jobs
             WHERE state IN ('succeeded', 'failed') AND completed_at < now() - $1
             ORDER BY completed_at
             LIMIT $2)",
    )
    .bind(retention)
    .bind(MAX_PRUNED_PER_TICK)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
