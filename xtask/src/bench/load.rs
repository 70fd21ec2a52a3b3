//! Closed-loop load: N clients each sending one request after another for a fixed time.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use hdrhistogram::Histogram;
use tokio::{task::JoinSet, time::Instant};

/// One request from client `n`: Ok, or why it failed.
pub type Call =
    Box<dyn Fn(usize) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

#[derive(Clone, Copy)]
pub struct Window {
    /// Requests in this first stretch are sent but not counted.
    pub warmup: Duration,
    pub measure: Duration,
}

pub struct Stats {
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Latency in microseconds.
    pub latency: Histogram<u64>,
    pub seconds: f64,
}

impl Stats {
    pub fn new(seconds: f64) -> Self {
        Self {
            requests: 0,
            errors: 0,
            first_error: None,
            latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
            seconds,
        }
    }

    fn merge(&mut self, other: Stats) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
        self.latency
            .add(other.latency)
            .expect("histograms share bounds");
    }

    /// Counts one request that took `micros` and ended with `outcome`.
    pub fn record(&mut self, micros: u64, outcome: Result<(), String>) {
        self.requests += 1;
        self.latency.saturating_record(micros.max(1));
        if let Err(err) = outcome {
            self.errors += 1;
            self.first_error.get_or_insert(err);
        }
    }

    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// Runs `clients` loops of `call` through the warm-up and the measured window.
pub async fn run(clients: usize, window: Window, call: Call) -> Stats {
    let call = Arc::new(call);
    let counted_from = Instant::now() + window.warmup;
    let end = counted_from + window.measure;
    let seconds = window.measure.as_secs_f64();
    let mut loops = JoinSet::new();
    for n in 0..clients {
        let call = Arc::clone(&call);
        loops.spawn(async move {
            let mut stats = Stats::new(seconds);
            loop {
                let started = Instant::now();
                if started >= end {
                    return stats;
                }
                let outcome = call(n).await;
                if started < counted_from {
                    continue;
                }
                let micros = started.elapsed().as_micros().try_into().unwrap_or(u64::MAX);
                stats.record(micros, outcome);
            }
        });
    }
    let mut total = Stats::new(seconds);
    while let Some(stats) = loops.join_next().await {
        total.merge(stats.expect("load loop panicked"));
    }
    total
}
