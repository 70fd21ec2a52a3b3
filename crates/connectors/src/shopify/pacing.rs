//! Shopify's cost bucket (a leaky bucket of query points per shop and app), as learned
//! from every answer's `extensions.cost.throttleStatus`.
//!
//! Shopify deducts a query's *requested* cost before running it and answers THROTTLED
//! when the bucket holds less; afterwards it refunds the difference to the actual cost.
//! So a query goes only once the bucket, restored since the last answer and less what
//! queries still in flight will take, holds its estimated cost.

use std::time::{Duration, Instant};

use serde::Deserialize;

/// What a shop's bucket looks like before the first answer: the smallest documented
/// bucket (older shops: 1,000 points restoring at 50 a second).
const DEFAULT_MAXIMUM: f64 = 1_000.0;
const DEFAULT_RESTORE_RATE: f64 = 50.0;
/// What figures from an answer are believed: Shopify's buckets range from 1,000 points at
/// 50 a second to 20,000 at 1,000; anything far outside is a broken answer, and a tiny rate
/// would make waits of ages. The upper bound leaves room for a stand-in with throttling
/// off (the sandbox at a high rate scale), which must not be paced at all.
const RESTORE_RATES: (f64, f64) = (1.0, 1_000_000.0);
const MAXIMUMS: (f64, f64) = (1.0, 1_000_000.0);
/// The longest wait [`Bucket::take`] asks for: a full bucket at the slowest believed rate.
const LONGEST_WAIT: Duration = Duration::from_secs(1_000_000);

/// `extensions.cost.throttleStatus`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThrottleStatus {
    pub maximum_available: f64,
    pub currently_available: f64,
    pub restore_rate: f64,
}

/// One shop's bucket as this process knows it.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    maximum: f64,
    restore_rate: f64,
    /// Points available at `at`, as Shopify last said.
    available: f64,
    at: Instant,
    /// Points taken by queries sent but not yet answered; Shopify's last figures do not
    /// include them yet.
    in_flight: f64,
}

impl Default for Bucket {
    fn default() -> Self {
        Bucket {
            maximum: DEFAULT_MAXIMUM,
            restore_rate: DEFAULT_RESTORE_RATE,
            available: DEFAULT_MAXIMUM,
            at: Instant::now(),
            in_flight: 0.0,
        }
    }
}

impl Bucket {
    pub fn restore_rate(&self) -> f64 {
        self.restore_rate
    }

    pub fn maximum(&self) -> f64 {
        self.maximum
    }

    /// Takes `cost` points for a query about to be sent, or says how long until they are
    /// there. A cost above the bucket's size is capped: a full bucket is the best there is.
    pub fn take(&mut self, cost: f64, now: Instant) -> Result<(), Duration> {
        let cost = cost.min(self.maximum);
        let restored = now.saturating_duration_since(self.at).as_secs_f64() * self.restore_rate;
        let available = (self.available + restored).min(self.maximum) - self.in_flight;
        if available >= cost {
            self.in_flight += cost;
            Ok(())
        } else {
            Err(
                Duration::try_from_secs_f64((cost - available) / self.restore_rate)
                    .map_or(LONGEST_WAIT, |wait| wait.min(LONGEST_WAIT)),
            )
        }
    }

    /// Settles a query that took `taken` once it is answered or given up (no `status`:
    /// its points come back), taking Shopify's figures when the answer has them, clamped
    /// to what is believable.
    pub fn learn(&mut self, taken: f64, status: Option<ThrottleStatus>, now: Instant) {
        self.in_flight = (self.in_flight - taken.min(self.maximum)).max(0.0);
        let Some(status) = status.filter(|s| {
            s.restore_rate > 0.0 && s.maximum_available > 0.0 && s.currently_available.is_finite()
        }) else {
            return;
        };
        self.maximum = status.maximum_available.clamp(MAXIMUMS.0, MAXIMUMS.1);
        self.restore_rate = status.restore_rate.clamp(RESTORE_RATES.0, RESTORE_RATES.1);
        self.available = status.currently_available.clamp(0.0, self.maximum);
        self.at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(available: f64) -> Option<ThrottleStatus> {
        Some(ThrottleStatus {
            maximum_available: 1_000.0,
            currently_available: available,
            restore_rate: 100.0,
        })
    }

    #[test]
    fn waits_until_the_estimate_is_restored() {
        let start = Instant::now();
        let mut bucket = Bucket::default();
        assert_eq!(bucket.take(50.0, start), Ok(()));
        bucket.learn(50.0, status(60.0), start);
        // 60 available, 300 wanted at 100 a second: 2.4 s.
        let wait = bucket.take(300.0, start).unwrap_err();
        assert!((wait.as_secs_f64() - 2.4).abs() < 1e-9, "{wait:?}");
        assert_eq!(bucket.take(300.0, start + wait), Ok(()));
    }

    #[test]
    fn restores_over_time_up_to_the_maximum() {
        let start = Instant::now();
        let mut bucket = Bucket::default();
        bucket.take(10.0, start).unwrap();
        bucket.learn(10.0, status(0.0), start);
        let later = start + Duration::from_secs(60);
        assert_eq!(bucket.take(1_000.0, later), Ok(()));
        assert!(bucket.take(1.0, later).is_err());
    }

    #[test]
    fn absurd_figures_are_clamped_not_panicked_on() {
        let start = Instant::now();
        for (restore_rate, maximum, available) in [
            (1e-300, 1_000.0, 0.0),
            (1e300, 1e300, 1e300),
            (100.0, 1_000.0, f64::NAN),
            (f64::NAN, f64::NAN, 0.0),
            (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY),
        ] {
            let mut bucket = Bucket::default();
            bucket.take(10.0, start).unwrap();
            bucket.learn(
                10.0,
                Some(ThrottleStatus {
                    maximum_available: maximum,
                    currently_available: available,
                    restore_rate,
                }),
                start,
            );
            let rate = bucket.restore_rate();
            assert!(
                (1.0..=1_000_000.0).contains(&rate),
                "{restore_rate}: {rate}"
            );
            assert!((1.0..=1_000_000.0).contains(&bucket.maximum()));
            // No panic, and a wait (if any) no longer than a full bucket at 1 a second.
            if let Err(wait) = bucket.take(1e300, start) {
                assert!(wait <= LONGEST_WAIT);
            }
            if let Err(wait) = bucket.take(f64::NAN, start) {
                assert!(wait <= LONGEST_WAIT);
            }
        }
        // A restore rate of 1e-300 counts as 1 point a second: 500 points wait 500 s.
        let mut bucket = Bucket::default();
        bucket.take(10.0, start).unwrap();
        bucket.learn(
            10.0,
            Some(ThrottleStatus {
                maximum_available: 1_000.0,
                currently_available: 0.0,
                restore_rate: 1e-300,
            }),
            start,
        );
        assert_eq!(bucket.take(500.0, start), Err(Duration::from_secs(500)));
    }

    #[test]
    fn a_query_given_up_before_its_answer_gives_its_points_back() {
        let start = Instant::now();
        let mut bucket = Bucket::default();
        assert_eq!(bucket.take(900.0, start), Ok(()));
        assert!(bucket.take(900.0, start).is_err());
        bucket.learn(900.0, None, start);
        assert_eq!(bucket.take(900.0, start), Ok(()));
    }

    #[test]
    fn queries_in_flight_count_until_answered() {
        let start = Instant::now();
        let mut bucket = Bucket::default();
        bucket.take(10.0, start).unwrap();
        bucket.learn(10.0, status(1_000.0), start);
        assert_eq!(bucket.take(400.0, start), Ok(()));
        assert_eq!(bucket.take(400.0, start), Ok(()));
        assert!(bucket.take(400.0, start).is_err(), "800 of 1,000 are taken");
        // The first answer: 600 left (its own cost deducted, the second's not yet).
        bucket.learn(400.0, status(600.0), start);
        assert!(bucket.take(300.0, start).is_err());
        assert_eq!(bucket.take(200.0, start), Ok(()));
    }
}
