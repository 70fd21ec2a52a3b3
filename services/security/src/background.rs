//! The service's background tasks: the mail outbox worker and the scheduled pruning. Started
//! beside the HTTP server and stopped after it (so mail queued by the last requests is still
//! delivered while the server drains).

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::{Config, RetentionConfig};
use crate::db;
use crate::mail::worker::Worker;
use crate::state::AppState;

pub struct Background {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Background {
    /// Starts the tasks on the current runtime.
    pub fn start(state: &AppState, config: &Config) -> Self {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let worker = Worker::new(
            state.db.clone(),
            state.mail.clone(),
            config.delivery.clone(),
        );
        tasks.spawn(worker.run(stopped.clone()));
        tasks.spawn(prune_periodically(
            state.db.clone(),
            config.retention.clone(),
            stopped,
        ));
        Self { stop, tasks }
    }

    /// Asks the tasks to stop and waits until they have (a mail in flight is finished).
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

async fn prune_periodically(db: PgPool, keep: RetentionConfig, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(Duration::from_secs(keep.prune_interval_secs));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = every.tick() => {}
        }
        match db::retention::prune(&db, &keep).await {
            Ok(pruned) if pruned.total() > 0 => tracing::info!(?pruned, "pruned old rows"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning old rows failed; trying again later"),
        }
    }
}
