use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::ApiError;

/// A per-client limit (generic cell rate: `per_minute` requests a minute, bursts of up to
/// `burst`), keyed by the client's network ([`crate::network_of`]: an IPv6 client cannot
/// escape it by rotating through its /64). Kept in memory per instance; a denied request
/// answers 429 with `Retry-After`.
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").finish_non_exhaustive()
    }
}

impl RateLimiter {
    pub fn per_minute(per_minute: u32, burst: u32) -> Self {
        let rate = NonZeroU32::new(per_minute.max(1)).expect("max(1) is non-zero");
        let burst = NonZeroU32::new(burst.max(1)).expect("max(1) is non-zero");
        Self {
            inner: Arc::new(governor::RateLimiter::keyed(
                Quota::per_minute(rate).allow_burst(burst),
            )),
        }
    }

    pub fn check(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.inner
            .check_key(&crate::network_of(ip))
            .map_err(|not_until| {
                let wait: Duration = not_until.wait_time_from(DefaultClock::default().now());
                ApiError::too_many_requests(wait.as_secs_f64().ceil() as u64)
            })?;
        // Forget idle clients now and then so the map stays bounded.
        if self.inner.len() > 100_000 {
            self.inner.retain_recent();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_past_the_burst_is_refused_with_a_wait() {
        let limiter = RateLimiter::per_minute(6, 3);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            limiter.check(ip).unwrap();
        }
        let err = limiter.check(ip).unwrap_err();
        assert_eq!(err.status, http::StatusCode::TOO_MANY_REQUESTS);
        assert!(err.retry_after_secs.unwrap() >= 1);
        // Another client is not affected.
        limiter.check("192.0.2.2".parse().unwrap()).unwrap();
        // Addresses of one IPv6 /64 share a budget.
        for i in 1..=3 {
            limiter
                .check(format!("2001:db8::{i}").parse().unwrap())
                .unwrap();
        }
        assert!(limiter.check("2001:db8::99".parse().unwrap()).is_err());
    }
}
