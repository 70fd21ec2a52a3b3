//! Delivers the outbox: woken by the notification each queued mail sends at commit, and by
//! its own timer for retries (and in case a notification was missed). One mail at a time,
//! locked with `FOR UPDATE SKIP LOCKED`, so several instances share the work without
//! sending a mail twice. A failed delivery is retried with exponential backoff up to a limit,
//! then given up and logged. Mail past the platform budget waits for the budget's window to
//! free, and is dropped only once the code it carries has expired. Bodies are never logged.

use std::time::Duration;

use sm_mailer::OutgoingMail;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::time::Instant;

use super::Mail;
use crate::config::DeliveryConfig;
use crate::db;
use crate::db::mail_outbox::Due;

/// The longest the worker sleeps without a notification.
const POLL: Duration = Duration::from_secs(10);
/// The longest one delivery may take before it counts as failed.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest wait between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// The least wait after a round that delivered nothing or failed: a mail another instance
/// holds locked, or one failing the same way every time, counts as due at once and would
/// otherwise keep the worker spinning.
const MIN_IDLE_WAIT: Duration = Duration::from_millis(500);
/// How long a delivery in flight may go on once the worker is asked to stop (Docker kills
/// after 10 s); then it is abandoned and the mail stays queued for the next start.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// How often mail dropped past the platform budget is reported (as a count).
const DROP_REPORT_EVERY: Duration = Duration::from_secs(60);
/// Mail held back by the platform budget is dropped once this old: the code it carries
/// has expired by then.
const BUDGET_MAX_WAIT: Duration = Duration::from_secs(crate::mailed_codes::TTL_MINUTES as u64 * 60);

const BUDGET_PER_MINUTE: &[u8] = b"platform_mail_budget/minute";
const BUDGET_PER_HOUR: &[u8] = b"platform_mail_budget/hour";

pub struct Worker {
    db: PgPool,
    mail: Mail,
    config: DeliveryConfig,
}

impl Worker {
    pub fn new(db: PgPool, mail: Mail, config: DeliveryConfig) -> Self {
        Self { db, mail, config }
    }

    /// Delivers until `stop` turns true; a delivery in flight gets [`SHUTDOWN_GRACE`] to finish.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut listener = None;
        let mut drops = DropReport::default();
        while !*stop.borrow() {
            if listener.is_none() {
                listener = self.listen().await;
            }
            let mut round = Round::default();
            let result = self.deliver_due(&stop, &mut round).await;
            if let Err(e) = &result {
                tracing::warn!(error = %e, "mail outbox: delivery round failed; trying again soon");
            }
            drops.add(round.dropped);
            let mut wait = match db::mail_outbox::next_due_in(&self.db).await {
                Ok(Some(due)) => due.min(POLL),
                Ok(None) | Err(_) => POLL,
            };
            if round.handled == 0 || result.is_err() {
                wait = wait.max(MIN_IDLE_WAIT);
            }
            tokio::select! {
                changed = stop.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                () = tokio::time::sleep(wait) => {}
                notified = recv(&mut listener) => {
                    if notified.is_err() {
                        listener = None;
                    }
                }
            }
        }
        drops.report();
    }

    async fn listen(&self) -> Option<PgListener> {
        let mut listener = PgListener::connect_with(&self.db).await.ok()?;
        listener.listen(db::mail_outbox::CHANNEL).await.ok()?;
        Some(listener)
    }

    /// Handles every mail that is due, one at a time, until none is left or `stop`.
    async fn deliver_due(
        &self,
        stop: &watch::Receiver<bool>,
        round: &mut Round,
    ) -> anyhow::Result<()> {
        while !*stop.borrow() {
            match self.deliver_one(stop).await? {
                None => break,
                Some(Handled::Dropped) => round.dropped += 1,
                Some(Handled::Done) => {}
            }
            round.handled += 1;
        }
        Ok(())
    }

    /// Delivers (or schedules a retry, gives up, postpones or drops) the mail due longest;
    /// `None` when none is due.
    async fn deliver_one(&self, stop: &watch::Receiver<bool>) -> anyhow::Result<Option<Handled>> {
        let mut tx = self.db.begin().await?;
        let Some(due) = db::mail_outbox::claim_due(&mut tx).await? else {
            return Ok(None);
        };
        if due.budgeted {
            let left =
                BUDGET_MAX_WAIT.saturating_sub(Duration::from_secs_f64(due.age_secs.max(0.0)));
            let wait = if left.is_zero() {
                Some(left)
            } else {
                self.take_budget().await?
            };
            match wait {
                Some(wait) if wait < left => {
                    db::mail_outbox::postpone(&mut tx, due.id, wait).await?;
                    tx.commit().await?;
                    tracing::debug!(mail_id = %due.id, kind = %due.kind, wait_secs = wait.as_secs(), "platform mail budget used up: mail postponed");
                    return Ok(Some(Handled::Done));
                }
                Some(_) => {
                    let reason = "platform mail budget used up until the code expired";
                    db::mail_outbox::finish(&mut tx, due.id, "dropped", Some(reason)).await?;
                    tx.commit().await?;
                    return Ok(Some(Handled::Dropped));
                }
                None => {}
            }
        }
        let sent = tokio::select! {
            sent = self.send(&due) => sent,
            () = stopped_for(stop.clone(), SHUTDOWN_GRACE) => {
                // Rolled back with `tx`: the mail stays pending. The SMTP server may still
                // take it, so it can arrive twice; better than lost.
                tracing::info!(mail_id = %due.id, "stopping: delivery in flight abandoned, the mail stays queued");
                return Ok(Some(Handled::Done));
            }
        };
        match sent {
            Ok(()) => {
                db::mail_outbox::finish(&mut tx, due.id, "sent", None).await?;
                tracing::debug!(mail_id = %due.id, kind = %due.kind, "mail delivered");
            }
            Err(error) if due.attempts + 1 >= self.config.max_attempts => {
                db::mail_outbox::finish(&mut tx, due.id, "failed", Some(&error)).await?;
                tracing::error!(
                    mail_id = %due.id, kind = %due.kind, to = %due.recipient, attempts = due.attempts + 1, %error,
                    "mail given up after the last attempt (MAIL_MAX_ATTEMPTS)"
                );
            }
            Err(error) => {
                let delay = self.backoff(due.attempts);
                db::mail_outbox::retry_later(&mut tx, due.id, delay, &error).await?;
                tracing::warn!(
                    mail_id = %due.id, kind = %due.kind, attempts = due.attempts + 1, %error,
                    retry_in_secs = delay.as_secs_f64(), "mail delivery failed; will retry"
                );
            }
        }
        tx.commit().await?;
        Ok(Some(Handled::Done))
    }

    async fn send(&self, due: &Due) -> Result<(), String> {
        let mail = OutgoingMail {
            to: due.recipient.clone(),
            subject: due.subject.clone(),
            text: due.body.clone(),
            html: None,
        };
        match tokio::time::timeout(SEND_TIMEOUT, self.mail.mailer().send(mail)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {SEND_TIMEOUT:?}")),
        }
    }

    /// Counts one mail against the platform-wide budget; once that is used up, how long
    /// until its window frees instead (and nothing is counted).
    async fn take_budget(&self) -> sqlx::Result<Option<Duration>> {
        let db = &self.db;
        let (per_minute, per_hour) = (self.config.budget_per_minute, self.config.budget_per_hour);
        if !db::budgets::take(db, BUDGET_PER_MINUTE, per_minute, 60).await? {
            let secs = db::budgets::wait_secs(db, BUDGET_PER_MINUTE, 60).await?;
            return Ok(Some(Duration::from_secs(secs)));
        }
        if !db::budgets::take(db, BUDGET_PER_HOUR, per_hour, 3600).await? {
            db::budgets::refund(db, BUDGET_PER_MINUTE).await?;
            let secs = db::budgets::wait_secs(db, BUDGET_PER_HOUR, 3600).await?;
            return Ok(Some(Duration::from_secs(secs)));
        }
        Ok(None)
    }

    /// The wait after the `attempts + 1`th failure: the base, doubled per earlier failure.
    fn backoff(&self, attempts: i32) -> Duration {
        let secs = self.config.retry_base_secs.max(0.0) * 2f64.powi(attempts.clamp(0, 30));
        Duration::try_from_secs_f64(secs)
            .unwrap_or(MAX_BACKOFF)
            .min(MAX_BACKOFF)
    }
}

/// What became of a claimed mail.
enum Handled {
    /// Sent, retried later, given up, postponed or abandoned at shutdown.
    Done,
    /// Dropped past the platform budget.
    Dropped,
}

/// What one delivery round did.
#[derive(Default)]
struct Round {
    handled: usize,
    dropped: u64,
}

/// Mail dropped past the platform budget, reported as a count, at once and then at most once
/// a minute: a line per mail, with its address, would flood the log with personal data
/// during an attack.
#[derive(Default)]
struct DropReport {
    dropped: u64,
    last: Option<Instant>,
}

impl DropReport {
    fn add(&mut self, dropped: u64) {
        self.dropped += dropped;
        if self
            .last
            .is_none_or(|last| last.elapsed() >= DROP_REPORT_EVERY)
        {
            self.report();
        }
    }

    fn report(&mut self) {
        if self.dropped > 0 {
            tracing::warn!(
                dropped = self.dropped,
                "platform mail budget (MAIL_BUDGET_PER_MINUTE / MAIL_BUDGET_PER_HOUR) used up: mail dropped unsent once its code expired"
            );
            self.dropped = 0;
            self.last = Some(Instant::now());
        }
    }
}

/// Completes `grace` after `stop` turns true (or its sender is gone).
async fn stopped_for(mut stop: watch::Receiver<bool>, grace: Duration) {
    let _ = stop.wait_for(|stopped| *stopped).await;
    tokio::time::sleep(grace).await;
}

/// The next notification, or never when there is no listener.
async fn recv(listener: &mut Option<PgListener>) -> sqlx::Result<()> {
    match listener {
        Some(listener) => listener.recv().await.map(drop),
        None => std::future::pending().await,
    }
}
