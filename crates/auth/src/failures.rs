//! Failed authentications per client network: past the limit, a network's unknown tokens are
//! refused with 429 without asking the security service, so nobody can guess tokens or flood
//! the security service with bogus ones through this service.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use moka::future::Cache;
use moka::Expiry;
use sm_http::{network_of, ApiError, RateLimiter};

/// Counts failures (a rate limit per network) and remembers the networks past it.
#[derive(Clone)]
pub(crate) struct FailureLimit {
    limiter: RateLimiter,
    /// Networks over the limit, each until its wait is over.
    blocked: Cache<IpAddr, Instant>,
}

/// A blocked network is forgotten when its wait is over.
struct UntilDone;

impl Expiry<IpAddr, Instant> for UntilDone {
    fn expire_after_create(&self, _: &IpAddr, until: &Instant, now: Instant) -> Option<Duration> {
        Some(until.saturating_duration_since(now))
    }
}

fn too_many(wait: Duration) -> ApiError {
    let mut e = ApiError::too_many_requests(wait.as_secs_f64().ceil() as u64);
    e.code = "too_many_failed_authentications".into();
    e.message = "Too many invalid access tokens from your network; try again later.".into();
    e
}

impl FailureLimit {
    /// `per_minute` failures a minute per network, in bursts of as many.
    pub(crate) fn per_minute(per_minute: u32) -> Self {
        Self {
            limiter: RateLimiter::per_minute(per_minute, per_minute),
            blocked: Cache::builder()
                .max_capacity(100_000)
                .expire_after(UntilDone)
                .build(),
        }
    }

    /// 429 while the client's network is over the limit.
    pub(crate) async fn check(&self, client: IpAddr) -> Result<(), ApiError> {
        match self.blocked.get(&network_of(client)).await {
            Some(until) if until > Instant::now() => Err(too_many(until - Instant::now())),
            _ => Ok(()),
        }
    }

    /// Counts a failure; the one past the limit blocks the network and answers 429.
    pub(crate) async fn record(&self, client: IpAddr) -> Result<(), ApiError> {
        let Err(refused) = self.limiter.check(client) else {
            return Ok(());
        };
        let wait = Duration::from_secs(refused.retry_after_secs.unwrap_or(1));
        tracing::warn!(network = %network_of(client), wait_secs = wait.as_secs(), "too many failed authentications");
        self.blocked
            .insert(network_of(client), Instant::now() + wait)
            .await;
        Err(too_many(wait))
    }
}
