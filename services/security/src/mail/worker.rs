//! Delivers the outbox: woken by the notification each queued mail sends at commit, and by
//! its own timer for retries (and in case a notification was missed). One mail at a time,
//! locked with `FOR UPDATE SKIP LOCKED`, so several instances share the work without
//! sending a mail twice. A failed delivery is retried with exponential backoff up to a limit,
//! then given up and logged. Bodies are never logged.

use std::time::Duration;

use sm_mailer::OutgoingMail;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::watch;

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

    /// Delivers until `stop` turns true; a delivery in flight is finished first.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut listener = None;
        while !*stop.borrow() {
            if listener.is_none() {
                listener = self.listen().await;
            }
            if let Err(e) = self.deliver_due(&stop).await {
                tracing::warn!(error = %e, "mail outbox: delivery round failed; trying again soon");
            }
            let wait = match db::mail_outbox::next_due_in(&self.db).await {
                Ok(Some(due)) => due.min(POLL),
                Ok(None) | Err(_) => POLL,
            };
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
    }

    async fn listen(&self) -> Option<PgListener> {
        let mut listener = PgListener::connect_with(&self.db).await.ok()?;
        listener.listen(db::mail_outbox::CHANNEL).await.ok()?;
        Some(listener)
    }

    /// Delivers every mail that is due, one at a time, until none is left or `stop`.
    pub async fn deliver_due(&self, stop: &watch::Receiver<bool>) -> anyhow::Result<()> {
        while !*stop.borrow() && self.deliver_one().await? {}
        Ok(())
    }

    /// Delivers (or gives up, or drops) the mail due longest; `false` when none is due.
    async fn deliver_one(&self) -> anyhow::Result<bool> {
        let mut tx = self.db.begin().await?;
        let Some(due) = db::mail_outbox::claim_due(&mut tx).await? else {
            return Ok(false);
        };
        if due.budgeted && !self.take_budget().await? {
            tracing::warn!(
                mail_id = %due.id, kind = %due.kind, to = %due.recipient,
                "platform mail budget (MAIL_BUDGET_PER_MINUTE / MAIL_BUDGET_PER_HOUR) used up: mail not sent"
            );
            db::mail_outbox::finish(&mut tx, due.id, "dropped", None).await?;
            tx.commit().await?;
            return Ok(true);
        }
        match self.send(&due).await {
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
        Ok(true)
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

    /// Counts one mail against the platform-wide budget; `false` once it is used up.
    async fn take_budget(&self) -> sqlx::Result<bool> {
        let per_minute = self.config.budget_per_minute;
        let per_hour = self.config.budget_per_hour;
        Ok(
            db::budgets::take(&self.db, BUDGET_PER_MINUTE, per_minute, 60).await?
                && db::budgets::take(&self.db, BUDGET_PER_HOUR, per_hour, 3600).await?,
        )
    }

    /// The wait after the `attempts + 1`th failure: the base, doubled per earlier failure.
    fn backoff(&self, attempts: i32) -> Duration {
        let secs = self.config.retry_base_secs.max(0.0) * 2f64.powi(attempts.clamp(0, 30));
        Duration::try_from_secs_f64(secs)
            .unwrap_or(MAX_BACKOFF)
            .min(MAX_BACKOFF)
    }
}

/// The next notification, or never when there is no listener.
async fn recv(listener: &mut Option<PgListener>) -> sqlx::Result<()> {
    match listener {
        Some(listener) => listener.recv().await.map(drop),
        None => std::future::pending().await,
    }
}
