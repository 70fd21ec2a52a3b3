use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::ApiError;

/// How many times the per-network quota a whole IPv6 /48 gets: a /48 is one site (it holds
/// 65,536 /64s), so it may carry a few busy networks but not an army of rotated /64s.
pub const V6_SITE_FACTOR: u32 = 8;

/// How often idle clients are forgotten.
const CLEANUP_EVERY: Duration = Duration::from_secs(60);

/// A per-client limit (generic cell rate: `per_minute` requests a minute, bursts of up to
/// `burst`), keyed by the client's network ([`crate::network_of`]: an IPv6 client cannot
/// escape it by rotating through its /64). An IPv6 client is also counted against its /48,
/// with [`V6_SITE_FACTOR`] times the quota, so a site cannot multiply its budget by rotating
/// through its /64s. Kept in memory per instance; a denied request answers 429 with
/// `Retry-After`. Idle clients are forgotten by a background task every minute.
///
/// The /48 is checked first: a site over its quota is refused before its /64 is looked at, so
/// rotating through /64s adds no keys. The price: a /64 refused for its own quota has already
/// spent a request of its site's.
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Limiters>,
}

/// What a limit counts: a client's network ([`crate::network_of`]: an IPv4 address or an
/// IPv6 /64) or an IPv6 /48.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Network(IpAddr),
    V6Site(Ipv6Addr),
}

impl Scope {
    /// The scopes a client is counted in, widest first.
    pub fn of(ip: IpAddr) -> impl Iterator<Item = Scope> {
        let network = crate::network_of(ip);
        let site = match network {
            IpAddr::V6(v6) => Some(Scope::V6Site(site_of(v6))),
            IpAddr::V4(_) => None,
        };
        site.into_iter().chain([Scope::Network(network)])
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Network(IpAddr::V4(v4)) => write!(f, "{v4}"),
            Scope::Network(IpAddr::V6(v6)) => write!(f, "{v6}/64"),
            Scope::V6Site(site) => write!(f, "{site}/48"),
        }
    }
}

struct Limiters {
    network: DefaultKeyedRateLimiter<IpAddr>,
    v6_site: DefaultKeyedRateLimiter<Ipv6Addr>,
}

impl Limiters {
    fn retain_recent(&self) {
        self.network.retain_recent();
        self.v6_site.retain_recent();
    }
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").finish_non_exhaustive()
    }
}

impl RateLimiter {
    pub fn per_minute(per_minute: u32, burst: u32) -> Self {
        let quota = |per_minute: u32, burst: u32| {
            let rate = NonZeroU32::new(per_minute.max(1)).expect("max(1) is non-zero");
            let burst = NonZeroU32::new(burst.max(1)).expect("max(1) is non-zero");
            Quota::per_minute(rate).allow_burst(burst)
        };
        let inner = Arc::new(Limiters {
            network: governor::RateLimiter::keyed(quota(per_minute, burst)),
            v6_site: governor::RateLimiter::keyed(quota(
                per_minute.saturating_mul(V6_SITE_FACTOR),
                burst.saturating_mul(V6_SITE_FACTOR),
            )),
        });
        spawn_cleanup(Arc::downgrade(&inner), CLEANUP_EVERY);
        Self { inner }
    }

    pub fn check(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.check_scoped(ip).map_err(|(_, refused)| refused)
    }

    /// [`Self::check`], also naming the scope that refused.
    pub fn check_scoped(&self, ip: IpAddr) -> Result<(), (Scope, ApiError)> {
        for scope in Scope::of(ip) {
            let verdict = match scope {
                Scope::V6Site(site) => self.inner.v6_site.check_key(&site),
                Scope::Network(network) => self.inner.network.check_key(&network),
            };
            verdict.map_err(|not_until| (scope, refused(not_until)))?;
        }
        Ok(())
    }
}

fn refused(not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> ApiError {
    let wait: Duration = not_until.wait_time_from(DefaultClock::default().now());
    ApiError::too_many_requests(wait.as_secs_f64().ceil() as u64)
}

/// The /48 an IPv6 address belongs to.
fn site_of(v6: Ipv6Addr) -> Ipv6Addr {
    let s = v6.segments();
    Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0)
}

/// Forgets idle clients on a timer (not on the request path, where a full scan of a large
/// map would stall requests; and on the blocking pool, not on an async worker, which the scan
/// would stall just the same), until the limiter is dropped. Outside a Tokio runtime (plain
/// unit tests) there is nothing to clean up for long, so nothing is spawned.
fn spawn_cleanup(limiters: Weak<Limiters>, period: Duration) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut every = tokio::time::interval(period);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        loop {
            every.tick().await;
            let Some(limiters) = limiters.upgrade() else {
                return;
            };
            if tokio::task::spawn_blocking(move || limiters.retain_recent())
                .await
                .is_err()
            {
                return; // the runtime is shutting down (or the scan panicked)
            }
        }
    });
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

    #[test]
    fn many_slash_64s_of_one_slash_48_share_the_site_quota() {
        let limiter = RateLimiter::per_minute(6, 3);
        let site_quota = 3 * V6_SITE_FACTOR;
        // Each /64 stays within its own burst, but together they exhaust the /48's.
        let mut allowed = 0;
        for net in 0..(site_quota * 2) {
            for host in 1..=3 {
                let ip: IpAddr = format!("2001:db8:7:{net:x}::{host}").parse().unwrap();
                if limiter.check(ip).is_ok() {
                    allowed += 1;
                }
            }
        }
        assert_eq!(allowed, site_quota);
        let (scope, err) = limiter
            .check_scoped("2001:db8:7:ffff::1".parse().unwrap())
            .unwrap_err();
        assert_eq!(err.status, http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(scope, Scope::V6Site("2001:db8:7::".parse().unwrap()));
        assert_eq!(scope.to_string(), "2001:db8:7::/48");
        // Refused at the /48, further /64s leave no trace.
        let networks = limiter.inner.network.len();
        for net in 0..1000u32 {
            let ip: IpAddr = format!("2001:db8:7:{:x}::1", 0x1000 + net).parse().unwrap();
            assert!(limiter.check(ip).is_err());
        }
        assert_eq!(limiter.inner.network.len(), networks);
        // Another /48 is not affected.
        for host in 1..=3 {
            limiter
                .check(format!("2001:db8:8:1::{host}").parse().unwrap())
                .unwrap();
        }
        // Nor is IPv4.
        limiter.check("192.0.2.1".parse().unwrap()).unwrap();
    }

    #[tokio::test]
    async fn idle_clients_are_forgotten_on_a_timer() {
        // A cell every 100 ms: idle keys are indistinguishable from new ones after 200 ms.
        let limiter = RateLimiter::per_minute(600, 1);
        for i in 0..100u32 {
            limiter.check(IpAddr::from(i.to_be_bytes())).unwrap();
        }
        limiter.check("2001:db8::1".parse().unwrap()).unwrap();
        assert_eq!(limiter.inner.network.len(), 101);
        spawn_cleanup(Arc::downgrade(&limiter.inner), Duration::from_millis(200));
        // Checks alone never clean up: only the timer does, once the cells are replenished.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(limiter.inner.network.len(), 0);
        assert_eq!(limiter.inner.v6_site.len(), 0);
    }
}
