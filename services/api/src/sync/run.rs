//! Running one claimed job: its phases in order, each page committed with the job's
//! progress in one transaction.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sm_connectors::Connector;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::job::COLUMNS;
use super::ledger::Entry;
use super::{Job, Phase, SyncError};
use crate::state::AppState;

/// Proof that this worker holds the job: every commit checks it in its transaction.
#[derive(Debug, Clone, Copy)]
pub struct Lease {
    pub job_id: Uuid,
    pub owner: Uuid,
}

/// What a phase needs while it runs one job.
pub struct RunContext {
    pub state: AppState,
    /// The job as last committed (phase, cursor, counts move with each page).
    pub job: Job,
    pub lease: Lease,
    /// The connection's channel client (shared: the products pull reads the next page
    /// while it commits one).
    pub channel: Arc<Connector>,
    /// `connections.stock_buffer`: list this many fewer units than on hand.
    pub stock_buffer: i32,
    /// `connections.platform`.
    pub platform: sm_domain::Platform,
    /// Told of every committed page: the worker's watchdog stops an attempt that commits
    /// nothing for too long.
    pub progressed: tokio::sync::watch::Sender<()>,
}

/// A page's outcome, committed with its writes by [`RunContext::commit_page`].
#[derive(Debug, Default)]
pub struct PageDone {
    /// The channel's cursor to continue from; `None` ends the phase (the job moves to the
    /// kind's next phase with no cursor).
    pub next: Option<String>,
    /// Items handled by this page (added to `items_done`).
    pub items: i32,
    /// Items the channel refused or that could not be taken (added to `items_failed`).
    pub failed: i32,
    /// The current phase's total the channel tells, where it does (replaces `items_total`
    /// until the phase ends).
    pub total: Option<i32>,
    /// The newest order change on this page (orders phase).
    pub orders_seen_until: Option<DateTime<Utc>>,
    pub ledger: Vec<Entry>,
}

impl RunContext {
    /// Opens the transaction a page's writes go into.
    pub async fn begin(&self) -> Result<Transaction<'static, Postgres>, SyncError> {
        Ok(self.state.db.begin().await?)
    }

    /// Opens a pull page's transaction (one round trip with the `BEGIN`):
    ///
    /// - Its commit does not wait for the WAL flush. Safe for a pull: the page's data and
    ///   its cursor commit together, so a page that a Postgres crash loses is simply read
    ///   again.
    /// - The connection's cached plans (ours and the one-stock trigger's) are made anew
    ///   for the tables as they are now: without statistics (autovacuum off) a plan cached
    ///   while an import's catalogue was empty scans all of it once it has grown.
    pub async fn begin_pull_page(&self) -> Result<Transaction<'static, Postgres>, SyncError> {
        let begin = "BEGIN; SET LOCAL synchronous_commit = off; DISCARD PLANS";
        Ok(self.state.db.begin_with(begin).await?)
    }

    /// Commits a page: the writes in `tx`, the ledger entries, and the job's new phase,
    /// cursor and counts (and a renewed lease), or nothing at all with
    /// [`SyncError::LeaseLost`] when another worker holds the job now.
    pub async fn commit_page(
        &mut self,
        mut tx: Transaction<'static, Postgres>,
        page: PageDone,
    ) -> Result<(), SyncError> {
        check_cursor(self.job.cursor.as_deref(), page.next.as_deref())?;
        super::ledger::write(&mut tx, self.job.id, self.job.user_id, &page.ledger).await?;
        let phase_ends = page.next.is_none();
        let (phase, cursor) = match page.next {
            Some(cursor) => (self.job.phase, Some(cursor)),
            None => (self.next_phase(), None),
        };
        let job: Option<Job> = sqlx::query_as(&format!(
            "UPDATE sync_jobs
                SET phase = $3, cursor = $4, items_done = items_done + $5,
                    items_failed = items_failed + $6,
                    -- The next phase counts its own items against its own total.
                    phase_done = CASE WHEN $10 THEN 0 ELSE phase_done + $5 END,
                    items_total = CASE WHEN $10 THEN NULL ELSE coalesce($7, items_total) END,
                    orders_seen_until = greatest(orders_seen_until, $8),
                    lease_until = now() + $9, updated_at = now()
              WHERE id = $1 AND lease_owner = $2 AND state = 'running'
              RETURNING {COLUMNS}"
        ))
        .bind(self.lease.job_id)
        .bind(self.lease.owner)
        .bind(phase)
        .bind(cursor)
        .bind(page.items)
        .bind(page.failed)
        .bind(page.total)
        .bind(page.orders_seen_until)
        .bind(self.state.sync.lease)
        .bind(phase_ends)
        .fetch_optional(&mut *tx)
        .await?;
        // Another worker holds the job: dropping `tx` rolls the page back.
        let job = job.ok_or(SyncError::LeaseLost)?;
        tx.commit().await?;
        self.job = job;
        self.progressed.send_replace(());
        Ok(())
    }

    /// The phase after the current one for the job's kind.
    pub fn next_phase(&self) -> Phase {
        self.job.kind.after(self.job.phase)
    }
}

/// Longest cursor a job stores (`sync_jobs.cursor`).
pub const MAX_CURSOR_LEN: usize = 4096;

/// A channel that hands back the cursor it was given would be read in a loop until the
/// attempt times out; one longer than the column holds could never be committed. Either
/// is the channel's fault: a protocol error, rolled back with the page.
fn check_cursor(current: Option<&str>, next: Option<&str>) -> Result<(), SyncError> {
    let message = match next {
        Some(next) if Some(next) == current => "the channel returned the same page cursor again",
        Some(next) if next.len() > MAX_CURSOR_LEN => "the channel returned an overlong page cursor",
        _ => return Ok(()),
    };
    Err(SyncError::Channel(sm_connectors::ChannelError::Protocol {
        message: message.to_owned(),
    }))
}

/// Runs the job's phases from where it stands until `Done`.
pub async fn run(ctx: &mut RunContext) -> Result<(), SyncError> {
    loop {
        match ctx.job.phase {
            Phase::Orders => super::pull_orders::run(ctx).await?,
            Phase::Products => super::pull_products::run(ctx).await?,
            Phase::Push => super::push::run(ctx).await?,
            Phase::Done => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_or_overlong_cursor_is_a_protocol_error() {
        assert!(check_cursor(None, Some("a")).is_ok());
        assert!(check_cursor(Some("a"), Some("b")).is_ok());
        assert!(check_cursor(Some("a"), None).is_ok());
        let again = check_cursor(Some("a"), Some("a")).unwrap_err();
        assert_eq!(again.code(), "channel_protocol_error");
        let long = "x".repeat(MAX_CURSOR_LEN + 1);
        assert!(check_cursor(None, Some(&long)).is_err());
    }
}
