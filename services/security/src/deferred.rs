//! Work an answer must not wait for — looking an address up, issuing a code, queueing its
//! mail — run after the answer has gone out, so how long the answer takes cannot tell whether
//! the address has an account. Tracked, so a graceful shutdown finishes it, and bounded, so a
//! flood of requests cannot pile up tasks: past the bound the work is dropped with a warning,
//! like mail past the platform budget (answering inline instead would let the answer's timing
//! show the lookup again).

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::error::Result;

#[derive(Clone, Debug)]
pub struct Deferred {
    tasks: TaskTracker,
    slots: Arc<Semaphore>,
}

impl Deferred {
    /// At most `max_in_flight` pieces of work run (or wait for the database) at once.
    pub fn new(max_in_flight: usize) -> Self {
        Self {
            tasks: TaskTracker::new(),
            slots: Arc::new(Semaphore::new(max_in_flight.max(1))),
        }
    }

    /// Runs `work` in the background; `what` names it in the logs. Dropped (logged) when the
    /// bound is reached or the service is shutting down.
    pub fn spawn(
        &self,
        what: &'static str,
        work: impl Future<Output = Result<()>> + Send + 'static,
    ) {
        if self.tasks.is_closed() {
            tracing::warn!(what, "shutting down: deferred work dropped");
            return;
        }
        let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
            tracing::warn!(
                what,
                "too much deferred work in flight: this request's work dropped"
            );
            return;
        };
        let run = async move {
            if let Err(e) = work.await {
                tracing::error!(error = %e, what, "deferred work failed");
            }
            drop(slot);
        };
        self.tasks.spawn(run.instrument(tracing::Span::current()));
    }

    /// Takes no new work and waits until the work already started has finished.
    pub async fn drain(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}
