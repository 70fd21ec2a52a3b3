//! The workers of this process: each claims a job, runs it under a heartbeat that keeps its
//! lease, and ends it (succeeded, retried or failed); plus the schedule. A database error
//! never ends a worker: it waits and tries again.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

use super::queue::{self, jitter};
use super::run::{self, Lease, RunContext};
use super::{schedule, Job, SyncError};
use crate::channels;
use crate::state::AppState;

/// How often an idle worker looks for work.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// How long a worker waits after the database failed it.
const DB_BACKOFF: Duration = Duration::from_secs(5);

/// The running workers and schedule; [`Workers::shutdown`] stops them.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts `state.sync.workers` workers and, when an interval is set, the schedule. With no
/// workers (a replica serving the API only) nothing runs.
pub fn start(state: AppState) -> Workers {
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    if state.sync.workers > 0 {
        for _ in 0..state.sync.workers {
            tasks.push(tokio::spawn(work(state.clone(), stopped.clone())));
        }
        if let Some(interval) = state.sync.interval {
            tasks.push(tokio::spawn(schedule::run(
                state.clone(),
                interval,
                stopped.clone(),
            )));
        }
        tracing::info!(workers = state.sync.workers, schedule = ?state.sync.interval, "sync workers started");
    }
    Workers { stop, tasks }
}

impl Workers {
    /// Stops claiming, stops the running jobs (their uncommitted page rolls back), gives
    /// their leases back so that another process resumes them at once, and waits for all.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a sync worker ended abnormally");
            }
        }
    }
}

/// Resolves once the workers are to stop (or their handle is gone).
pub(super) async fn stopping(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// One worker: claims and runs jobs until stopped.
async fn work(state: AppState, mut stopped: watch::Receiver<bool>) {
    // Each worker is its own lease owner, also within one process.
    let owner = Uuid::now_v7();
    loop {
        if *stopped.borrow() {
            return;
        }
        let wait = match queue::claim(&state.db, owner, state.sync.lease).await {
            Ok(Some(job)) => {
                run_job(&state, owner, job, &mut stopped).await;
                continue;
            }
            Ok(None) => IDLE_POLL,
            Err(e) => {
                tracing::warn!(error = %e, "sync worker cannot claim a job; waiting");
                DB_BACKOFF
            }
        };
        tokio::select! {
            () = tokio::time::sleep(jitter(wait)) => {}
            () = stopping(&mut stopped) => return,
        }
    }
}

/// Runs one claimed job to its end, or gives it back when the worker is stopped.
async fn run_job(state: &AppState, owner: Uuid, job: Job, stopped: &mut watch::Receiver<bool>) {
    let lease = Lease {
        job_id: job.id,
        owner,
    };
    let (connection, kind, attempts) = (job.connection_id, job.kind, job.attempts);
    tracing::info!(job = %job.id, %connection, ?kind, phase = ?job.phase, attempt = attempts, "sync job started");
    let started = Instant::now();
    let outcome = if job.attempts > job.max_attempts {
        // Its workers kept dying (claims of an expired lease count as attempts too).
        tracing::warn!(job = %job.id, %connection, attempt = attempts, "sync job interrupted too often; failing it");
        Err(SyncError::Other(anyhow::anyhow!(
            "the job's workers stopped {} times",
            job.max_attempts
        )))
    } else {
        match context(state, job, lease).await {
            Ok(mut ctx) => tokio::select! {
                outcome = attempt(&mut ctx) => outcome,
                () = heartbeat(&state.db, lease, state.sync.lease) => Err(SyncError::LeaseLost),
                () = stopping(stopped) => {
                    match queue::release(&state.db, lease).await {
                        Ok(_) => tracing::info!(job = %lease.job_id, %connection, "sync job given back (shutdown)"),
                        Err(e) => tracing::warn!(job = %lease.job_id, error = %e, "cannot give a sync job back; its lease runs out"),
                    }
                    return;
                }
            },
            Err(e) => Err(e),
        }
    };
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let ended = match &outcome {
        Ok(()) => queue::succeed(&state.db, &state.sync, lease).await,
        Err(SyncError::LeaseLost) => {
            tracing::info!(job = %lease.job_id, %connection, ?kind, elapsed_ms, "sync job lost to another worker");
            return;
        }
        Err(e) => {
            tracing::warn!(job = %lease.job_id, %connection, ?kind, code = e.code(), error = %e, "sync job attempt failed");
            queue::retry_or_fail(&state.db, &state.sync, lease, attempts, e).await
        }
    };
    match ended {
        Ok(Some(job)) => tracing::info!(
            job = %job.id, %connection, ?kind, outcome = ?job.state, error_code = job.error_code.as_deref(),
            items_done = job.items_done, items_failed = job.items_failed, elapsed_ms, "sync job ended"
        ),
        Ok(None) => {
            tracing::info!(job = %lease.job_id, %connection, "sync job lost to another worker before it ended")
        }
        Err(e) => tracing::error!(
            job = %lease.job_id, %connection, error = %e,
            "cannot record the end of a sync job; it runs again when its lease runs out"
        ),
    }
}

/// What a job runs with: its connection's channel client and settings.
async fn context(state: &AppState, job: Job, lease: Lease) -> Result<RunContext, SyncError> {
    #[derive(sqlx::FromRow)]
    struct Target {
        platform: String,
        sandbox: bool,
        status: String,
        stock_buffer: i32,
        credentials_enc: Vec<u8>,
    }
    let target: Option<Target> = sqlx::query_as(
        "SELECT platform, sandbox, status, stock_buffer, credentials_enc
           FROM connections WHERE id = $1 AND user_id = $2",
    )
    .bind(job.connection_id)
    .bind(job.user_id)
    .fetch_optional(&state.db)
    .await?;
    // Deleting a connection deletes its jobs: only a race with the delete gets here.
    let target = target.ok_or_else(|| SyncError::Connection {
        code: "connection_not_found",
        message: "The connection no longer exists.".to_owned(),
    })?;
    if target.status == "disconnected" {
        return Err(SyncError::Connection {
            code: "connection_disconnected",
            message: "The shop was disconnected from ShopMarkets; connect it again to sync."
                .to_owned(),
        });
    }
    let platform = sm_domain::Platform::parse(&target.platform)
        .ok_or_else(|| anyhow::anyhow!("unknown platform {:?}", target.platform))?;
    let credentials =
        channels::open(state, job.connection_id, &target.credentials_enc).map_err(|e| {
            tracing::warn!(connection = %job.connection_id, error = %e, "sync cannot open the credentials");
            SyncError::Connection {
                code: "credentials_unreadable",
                message: "The stored credentials of this connection cannot be read; enter them again."
                    .to_owned(),
            }
        })?;
    let channel = channels::connect(state, &credentials, target.sandbox).map_err(|e| {
        SyncError::Connection {
            code: e.code(),
            message: e.to_string(),
        }
    })?;
    Ok(RunContext {
        state: state.clone(),
        job,
        lease,
        channel: Arc::new(channel),
        stock_buffer: target.stock_buffer,
        platform,
        progressed: tokio::sync::watch::Sender::new(()),
    })
}

/// One attempt: the job's phases, cancelled when no page was committed for
/// `SyncSettings::stall` (a long import that keeps committing runs on; its lease holds
/// it); a panic in a phase fails the attempt instead of the worker.
async fn attempt(ctx: &mut RunContext) -> Result<(), SyncError> {
    let watchdog = stalled(ctx.progressed.subscribe(), ctx.state.sync.stall);
    let run = AssertUnwindSafe(run::run(ctx)).catch_unwind();
    let outcome = tokio::select! {
        outcome = run => Ok(outcome),
        () = watchdog => Err(()),
    };
    match outcome {
        Err(()) => Err(SyncError::TimedOut),
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(SyncError::Other(anyhow::anyhow!(
                "the sync panicked: {what}"
            )))
        }
        Ok(Ok(outcome)) => outcome,
    }
}

/// Resolves once a whole `stall` passed without a commit told on `progress` (the
/// attempt's next page is stuck: the connector's own timeouts and retries end far sooner);
/// the next attempt resumes after the last committed page.
async fn stalled(mut progress: watch::Receiver<()>, stall: Duration) {
    while let Ok(Ok(())) = tokio::time::timeout(stall, progress.changed()).await {}
}

/// Renews the lease every third of its length; resolves when it is lost (another worker
/// holds the job, or no renewal got through for a whole lease).
async fn heartbeat(db: &PgPool, lease: Lease, length: Duration) {
    let mut renewed = Instant::now();
    loop {
        tokio::time::sleep(length / 3).await;
        match queue::renew(db, lease, length).await {
            Ok(true) => renewed = Instant::now(),
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(job = %lease.job_id, error = %e, "cannot renew a sync job's lease");
                // Give up with a third of the lease left, before another worker can take
                // the job, so that two never write at once.
                if renewed.elapsed() >= length * 2 / 3 {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_watchdog_fires_only_after_a_whole_stall_without_a_commit() {
        let stall = Duration::from_millis(300);
        let (commits, progress) = watch::channel(());
        let started = Instant::now();
        let watchdog = tokio::spawn(stalled(progress, stall));
        for _ in 0..5 {
            tokio::time::sleep(stall / 2).await;
            assert!(!watchdog.is_finished(), "fired while pages were committed");
            commits.send_replace(());
        }
        watchdog.await.unwrap();
        // The last commit at 750 ms, then a whole stall.
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(1050), "{elapsed:?}");
    }
}
