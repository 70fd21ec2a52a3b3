//! Client-side pacing: one token bucket per (app, seller, operation) with the operation's
//! usage plan, so requests wait their turn instead of provoking 429s. Amazon's usage plans
//! are per selling partner and application, so two apps of one seller never share a bucket.
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
    GetInventorySummaries,
}

impl Operation {
    /// The usage plan the models document: (requests per second, burst).
    pub(crate) fn plan(self) -> (f64, u32) {
        match self {
            Operation::GetOrders => (0.0167, 20),
            Operation::GetOrderItems => (0.5, 30),
            Operation::SearchListingsItems | Operation::PatchListingsItem => (5.0, 5),
            Operation::GetInventorySummaries => (2.0, 2),
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
            Operation::GetInventorySummaries => "FBA Inventory API (role: Amazon Fulfillment)",
        }
    }
}

/// Share of the granted rate the client uses; the rest absorbs network jitter between
/// the moment a request leaves and the moment Amazon's bucket counts it.
const HEADROOM: f64 = 0.9;

/// The granted rates a header may teach, requests per second: a value outside is clamped,
/// so a network-controlled `1e-300` or `1e300` cannot make a wait absurd (or overflow).
const SLOWEST_RATE: f64 = 0.001;
const FASTEST_RATE: f64 = 1000.0;

/// Buckets kept before idle ones are dropped; an idle bucket is full again, so dropping it
/// only forgets a learned rate, which the next answer teaches again.
const PRUNE_ABOVE: usize = 4096;
const IDLE: Duration = Duration::from_secs(10 * 60);

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
            // The rate is clamped, so this is finite; `try_` keeps it panic-free regardless.
            Duration::try_from_secs_f64(-self.level / self.rate).unwrap_or(Duration::MAX)
        }
    }

    /// Gives back a token taken by a caller that gave up before sending.
    fn refund(&mut self) {
        self.level = (self.level + 1.0).min(self.burst);
    }

    /// Unused for [`IDLE`] and full again, so no different from a new bucket.
    fn idle(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at);
        elapsed > IDLE && self.level + elapsed.as_secs_f64() * self.rate >= self.burst
    }
}

/// Whose bucket: the app (LWA client id), the seller and the operation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub client_id: String,
    pub seller_id: String,
    pub operation: Operation,
}

/// Every (app, seller, operation) bucket of the process.
#[derive(Debug, Default)]
pub(crate) struct Buckets {
    buckets: Mutex<HashMap<Key, Bucket>>,
}

/// A token taken but not yet used: dropped before [`Reservation::keep`] (the caller's
/// future was cancelled while waiting), it goes back to the bucket.
struct Reservation<'a> {
    buckets: &'a Buckets,
    key: &'a Key,
    kept: bool,
}

impl Reservation<'_> {
    fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.kept {
            if let Some(bucket) = self.buckets.lock().get_mut(self.key) {
                bucket.refund();
            }
        }
    }
}

impl Buckets {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Bucket>> {
        // The map stays consistent across a panic (each change is one assignment).
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until the key's app and seller may send one more request of its operation.
    /// Cancelled while waiting, the token it took is given back.
    pub(crate) async fn acquire(&self, key: &Key) {
        let wait = self.take(key, Instant::now());
        if !wait.is_zero() {
            let reservation = Reservation {
                buckets: self,
                key,
                kept: false,
            };
            tokio::time::sleep(wait).await;
            reservation.keep();
        }
    }

    /// Takes a token from the key's bucket (made on first use) and says how long to wait.
    fn take(&self, key: &Key, now: Instant) -> Duration {
        let mut buckets = self.lock();
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, bucket| !bucket.idle(now));
        }
        buckets
            .entry(key.clone())
            .or_insert_with(|| {
                let (rate, burst) = key.operation.plan();
                Bucket::new(rate * HEADROOM, f64::from(burst), now)
            })
            .take(now)
    }

    /// Adopts the sustained rate Amazon reported for this key, clamped to a sane range.
    pub(crate) fn learn(&self, key: &Key, granted: f64) {
        if granted.is_nan() || granted <= 0.0 {
            return;
        }
        let now = Instant::now();
        if let Some(bucket) = self.lock().get_mut(key) {
            bucket.refill(now);
            bucket.rate = granted.clamp(SLOWEST_RATE, FASTEST_RATE) * HEADROOM;
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

    fn key(client_id: &str, seller_id: &str, operation: Operation) -> Key {
        Key {
            client_id: client_id.into(),
            seller_id: seller_id.into(),
            operation,
        }
    }

    fn level(buckets: &Buckets, key: &Key) -> f64 {
        buckets.lock()[key].level
    }

    #[tokio::test]
    async fn the_learned_rate_replaces_the_documented_one() {
        let buckets = Buckets::default();
        let search = key("app", "S", Operation::SearchListingsItems);
        for _ in 0..5 {
            buckets.acquire(&search).await;
        }
        buckets.learn(&search, 50.0);
        let start = Instant::now();
        buckets.acquire(&search).await;
        let waited = start.elapsed();
        // One token at 45/s (50 less the headroom) is ~22 ms, not the documented 200 ms.
        assert!(waited < Duration::from_millis(150), "{waited:?}");
        assert!(waited > Duration::from_millis(15), "{waited:?}");
    }

    #[test]
    fn two_apps_of_one_seller_do_not_share_a_bucket() {
        let buckets = Buckets::default();
        let now = Instant::now();
        let first = key("app-1", "S", Operation::SearchListingsItems);
        for _ in 0..5 {
            assert_eq!(buckets.take(&first, now), Duration::ZERO);
        }
        assert!(
            buckets.take(&first, now) > Duration::ZERO,
            "app-1's burst is spent"
        );
        // app-2 of the same seller has its own usage plan and goes at once.
        let second = key("app-2", "S", Operation::SearchListingsItems);
        for _ in 0..5 {
            assert_eq!(buckets.take(&second, now), Duration::ZERO);
        }
    }

    #[tokio::test]
    async fn a_cancelled_wait_gives_its_token_back() {
        let buckets = Buckets::default();
        // getOrders: burst 20, then one a minute.
        let orders = key("app", "S", Operation::GetOrders);
        for _ in 0..20 {
            buckets.acquire(&orders).await;
        }
        let gave_up =
            tokio::time::timeout(Duration::from_millis(20), buckets.acquire(&orders)).await;
        assert!(gave_up.is_err(), "the 21st call waits for a minute");
        // The abandoned token is back: the bucket is as empty as after the 20th call, not
        // one slot further into the queue.
        let level = level(&buckets, &orders);
        assert!((-0.01..=0.01).contains(&level), "level {level}");
    }

    #[test]
    fn learned_rates_are_clamped_and_junk_is_ignored() {
        let buckets = Buckets::default();
        let search = key("app", "S", Operation::SearchListingsItems);
        let start = Instant::now();
        buckets
            .lock()
            .insert(search.clone(), Bucket::new(4.5, 5.0, start));
        let rate = |buckets: &Buckets| buckets.lock()[&search].rate;
        buckets.learn(&search, 1e-300);
        assert!((rate(&buckets) - SLOWEST_RATE * HEADROOM).abs() < 1e-12);
        buckets.learn(&search, 1e300);
        assert!((rate(&buckets) - FASTEST_RATE * HEADROOM).abs() < 1e-9);
        buckets.learn(&search, f64::INFINITY);
        assert!((rate(&buckets) - FASTEST_RATE * HEADROOM).abs() < 1e-9);
        for junk in [f64::NAN, -1.0, 0.0, f64::NEG_INFINITY] {
            buckets.learn(&search, junk);
            assert!((rate(&buckets) - FASTEST_RATE * HEADROOM).abs() < 1e-9);
        }
        // The slowest rate still gives a finite wait instead of a panic.
        buckets.learn(&search, 1e-300);
        let mut map = buckets.lock();
        let bucket = map.get_mut(&search).unwrap();
        for _ in 0..5 {
            bucket.take(start);
        }
        let wait = bucket.take(start);
        assert!(wait > Duration::from_secs(1000) && wait < Duration::from_secs(2000));
    }

    #[test]
    fn idle_buckets_are_dropped_past_the_limit() {
        let buckets = Buckets::default();
        let start = Instant::now();
        for i in 0..=PRUNE_ABOVE {
            buckets.take(&key("app", &format!("S{i}"), Operation::GetOrders), start);
        }
        assert_eq!(buckets.lock().len(), PRUNE_ABOVE + 1);
        let later = start + IDLE + Duration::from_secs(1);
        buckets.take(&key("app", "new", Operation::GetOrders), later);
        assert_eq!(buckets.lock().len(), 1);
    }

    #[test]
    fn the_rate_header_is_read() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-amzn-RateLimit-Limit", "0.0167".parse().unwrap());
        assert_eq!(granted_rate(&headers), Some(0.0167));
    }
}
