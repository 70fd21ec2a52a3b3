//! Client-side pacing: one token bucket per (seller, operation) with the operation's
//! usage plan, so requests wait their turn instead of provoking 429s.
//!
//! A small bucket of our own rather than governor: governor fixes a limiter's quota when
//! it is built, and Amazon only tells us the rate it really grants in each answer's
//! `x-amzn-RateLimit-Limit`, so the rate must change in place without emptying the bucket.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The SP-API operations this client calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Operation {
    GetOrders,
    GetOrderItems,
    SearchListingsItems,
    PatchListingsItem,
}

impl Operation {
    /// The usage plan the models document: (requests per second, burst).
    pub(crate) fn plan(self) -> (f64, u32) {
        match self {
            Operation::GetOrders => (0.0167, 20),
            Operation::GetOrderItems => (0.5, 30),
            Operation::SearchListingsItems | Operation::PatchListingsItem => (5.0, 5),
        }
    }

    /// The API and the SP-API role it needs, for a merchant whose app lacks that role.
    pub(crate) fn role(self) -> &'static str {
        match self {
            Operation::GetOrders | Operation::GetOrderItems => {
                "Orders API (role: Inventory and Order Tracking)"
            }
            Operation::SearchListingsItems | Operation::PatchListingsItem => {
                "Listings Items API (role: Product Listing)"
            }
        }
    }
}

/// Share of the granted rate the client uses; the rest absorbs network jitter between
/// the moment a request leaves and the moment Amazon's bucket counts it.
const HEADROOM: f64 = 0.9;

#[derive(Debug)]
struct Bucket {
    /// Tokens per second.
    rate: f64,
    burst: f64,
    /// Tokens available at `at`; below zero while callers are queued.
    level: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: f64, burst: f64, now: Instant) -> Self {
        Bucket {
            rate,
            burst,
            level: burst,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.level = (self.level + elapsed * self.rate).min(self.burst);
        self.at = now;
    }

    /// Takes one token and says how long to wait before using it. The level may go below
    /// zero: concurrent callers then each reserve a later slot, in the order they came.
    fn take(&mut self, now: Instant) -> Duration {
        self.refill(now);
        self.level -= 1.0;
        if self.level >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.level / self.rate)
        }
    }
}

/// Every (seller, operation) bucket of the process.
#[derive(Debug, Default)]
pub(crate) struct Buckets {
    buckets: Mutex<HashMap<(String, Operation), Bucket>>,
}

impl Buckets {
    /// Waits until `seller` may send one more `operation` request.
    pub(crate) async fn acquire(&self, seller: &str, operation: Operation) {
        let wait = {
            let now = Instant::now();
            let mut buckets = self.buckets.lock().expect("not poisoned");
            buckets
                .entry((seller.to_owned(), operation))
                .or_insert_with(|| {
                    let (rate, burst) = operation.plan();
                    Bucket::new(rate * HEADROOM, f64::from(burst), now)
                })
                .take(now)
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Adopts the sustained rate Amazon reported for this seller and operation.
    pub(crate) fn learn(&self, seller: &str, operation: Operation, granted: f64) {
        if !(granted.is_finite() && granted > 0.0) {
            return;
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("not poisoned");
        if let Some(bucket) = buckets.get_mut(&(seller.to_owned(), operation)) {
            bucket.refill(now);
            bucket.rate = granted * HEADROOM;
        }
    }
}

/// The rate in an `x-amzn-RateLimit-Limit` header (requests per second).
pub(crate) fn granted_rate(headers: &http::HeaderMap) -> Option<f64> {
    headers
        .get("x-amzn-RateLimit-Limit")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_lets_the_burst_through_then_paces() {
        let start = Instant::now();
        let mut bucket = Bucket::new(2.0, 3.0, start);
        for _ in 0..3 {
            assert_eq!(bucket.take(start), Duration::ZERO);
        }
        assert_eq!(bucket.take(start), Duration::from_millis(500));
        assert_eq!(bucket.take(start), Duration::from_millis(1000));
        // Two seconds later the two queued tokens are paid for and two more refilled.
        let later = start + Duration::from_secs(2);
        assert_eq!(bucket.take(later), Duration::ZERO);
        assert_eq!(bucket.take(later), Duration::ZERO);
        assert_eq!(bucket.take(later), Duration::from_millis(500));
    }

    #[tokio::test]
    async fn the_learned_rate_replaces_the_documented_one() {
        let buckets = Buckets::default();
        for _ in 0..5 {
            buckets.acquire("S", Operation::SearchListingsItems).await;
        }
        buckets.learn("S", Operation::SearchListingsItems, 50.0);
        let start = Instant::now();
        buckets.acquire("S", Operation::SearchListingsItems).await;
        let waited = start.elapsed();
        // One token at 45/s (50 less the headroom) is ~22 ms, not the documented 200 ms.
        assert!(waited < Duration::from_millis(150), "{waited:?}");
        assert!(waited > Duration::from_millis(15), "{waited:?}");
    }

    #[test]
    fn the_rate_header_is_read() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-amzn-RateLimit-Limit", "0.0167".parse().unwrap());
        assert_eq!(granted_rate(&headers), Some(0.0167));
    }
}
