//! Failed authentications per client network: past the limit, a network's unknown tokens are
//! refused with 429 without asking the security service, so nobody can guess tokens or flood
//! the security service with bogus ones through this service. As in [`RateLimiter`], an IPv6
//! /48 has a wider limit of its own and is blocked as a whole past it, so rotating through its
//! /64s does not help.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use moka::future::Cache;
use moka::Expiry;
use sm_http::{ApiError, RateLimiter, Scope};

/// Counts failures (a rate limit per network and /48) and remembers the scopes past it.
#[derive(Clone)]
pub(crate) struct FailureLimit {
    limiter: RateLimiter,
    /// Networks and /48s over the limit, each until its wait is over.
    blocked: Cache<Scope, Instant>,
}

/// A blocked scope is forgotten when its wait is over.
struct UntilDone;

impl Expiry<Scope, Instant> for UntilDone {
    fn expire_after_create(&self, _: &Scope, until: &Instant, now: Instant) -> Option<Duration> {
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

    /// 429 while the client's network, or its IPv6 /48, is over the limit.
    pub(crate) async fn check(&self, client: IpAddr) -> Result<(), ApiError> {
        for scope in Scope::of(client) {
            if let Some(until) = self.blocked.get(&scope).await {
                if until > Instant::now() {
                    return Err(too_many(until - Instant::now()));
                }
            }
        }
        Ok(())
    }

    /// Counts a failure; the one past a limit blocks the scope that refused it (the network,
    /// or the whole /48) and answers 429.
    pub(crate) async fn record(&self, client: IpAddr) -> Result<(), ApiError> {
        let Err((scope, refused)) = self.limiter.check_scoped(client) else {
            return Ok(());
        };
        let wait = Duration::from_secs(refused.retry_after_secs.unwrap_or(1));
        tracing::warn!(network = %scope, wait_secs = wait.as_secs(), "too many failed authentications");
        self.blocked.insert(scope, Instant::now() + wait).await;
        Err(too_many(wait))
    }
}
