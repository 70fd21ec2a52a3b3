use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;
use ipnet::IpNet;

use crate::ApiError;

/// The address of the client, as far as it can be believed: the TCP peer, or — only when the
/// peer is one of the configured trusted proxies — the nearest untrusted hop in
/// `X-Forwarded-For`. A client cannot forge its address by sending the header itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The proxies whose `X-Forwarded-For` is believed; installed (once per process) by
/// [`crate::middleware::stack`].
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedProxies {
    nets: Arc<Vec<IpNet>>,
    /// Set once the misconfiguration warning has been logged, so it is logged only once.
    warned: Arc<AtomicBool>,
}

impl TrustedProxies {
    pub(crate) fn new(nets: Vec<IpNet>) -> Self {
        Self {
            nets: Arc::new(nets),
            warned: Arc::default(),
        }
    }

    fn contains(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|net| net.contains(&ip))
    }

    pub(crate) fn client_ip(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        if !self.contains(peer) {
            if forwarded_for.is_some() && is_private(peer) {
                self.warn_untrusted_proxy(peer);
            }
            return peer;
        }
        // Walk from the nearest hop outwards; the first address we don't trust is the client.
        let hops = forwarded_for.unwrap_or_default().split(',').rev();
        let mut client = peer;
        for hop in hops {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !self.contains(ip) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        client
    }
}

impl TrustedProxies {
    /// A private peer sending `X-Forwarded-For` is almost always the platform's own reverse
    /// proxy (Traefik under Coolify) missing from `TRUSTED_PROXIES`: then every client has the
    /// proxy's address and all per-IP limits become one shared bucket. Said once, loudly.
    fn warn_untrusted_proxy(&self, peer: IpAddr) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                %peer,
                "X-Forwarded-For received from the private address {peer}, which is not in \
                 TRUSTED_PROXIES: the header is ignored and every client behind that proxy \
                 shares its address (and its rate limits). If {peer} is your reverse proxy, \
                 add it to TRUSTED_PROXIES ({peer}/32; /128 for IPv6), not whole private ranges: \
                 every trusted peer can claim any client address. Logged once."
            );
        }
    }
}

/// Addresses a reverse proxy on the same host or network has: RFC 1918, IPv6 unique local,
/// loopback.
fn is_private(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00 || v6.is_loopback(),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let trusted = parts
            .extensions
            .get::<TrustedProxies>()
            .cloned()
            .unwrap_or_default();
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        Ok(ClientIp(trusted.client_ip(peer, forwarded)))
    }
}

/// The network a client address belongs to, as far as one client can cheaply change it:
/// an IPv4 address (IPv4-mapped IPv6 included), or an IPv6 /64 (what one subscriber gets).
/// Limits and throttles key on this, not on the full address.
pub fn network_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(
                segments[0],
                segments[1],
                segments[2],
                segments[3],
                0,
                0,
                0,
                0,
            ))
        }
    }
}

/// Where a request came from, for sessions, rate limits, signatures and audit logs.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: IpAddr,
    /// The `User-Agent`, cut to 512 characters.
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        let user_agent = parts
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect());
        Ok(ClientInfo { ip, user_agent })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn header_from_an_untrusted_peer_is_ignored() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            p.client_ip(ip("203.0.113.9"), Some("1.2.3.4")),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn trusted_proxy_reveals_the_nearest_untrusted_hop() {
        let p = proxies(&["10.0.0.0/8"]);
        // The client put a forged 1.2.3.4 in front; the proxy appended the real peer.
        let got = p.client_ip(ip("10.0.0.2"), Some("1.2.3.4, 198.51.100.7, 10.0.0.5"));
        assert_eq!(got, ip("198.51.100.7"));
    }

    #[test]
    fn networks_are_v4_addresses_and_v6_slash_64s() {
        assert_eq!(network_of(ip("203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(network_of(ip("::ffff:203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(
            network_of(ip("2001:db8:1:2:aaaa::1")),
            network_of(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            network_of(ip("2001:db8:1:2::1")),
            network_of(ip("2001:db8:1:3::1"))
        );
    }

    #[test]
    fn garbage_header_falls_back_to_the_peer() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            p.client_ip(ip("10.0.0.2"), Some("not-an-ip")),
            ip("10.0.0.2")
        );
    }

    /// Counts the WARN events logged while `f` runs.
    fn warnings_during(f: impl FnOnce()) -> usize {
        use std::sync::atomic::AtomicUsize;
        use tracing_subscriber::layer::{Context, SubscriberExt};

        struct CountWarnings(Arc<AtomicUsize>);
        impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountWarnings {
            fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
                if *event.metadata().level() == tracing::Level::WARN {
                    self.0.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        let count = Arc::new(AtomicUsize::new(0));
        let subscriber = tracing_subscriber::registry().with(CountWarnings(count.clone()));
        tracing::subscriber::with_default(subscriber, f);
        count.load(Ordering::SeqCst)
    }

    #[test]
    fn forwarded_header_from_an_untrusted_private_peer_warns_once() {
        let p = proxies(&[]);
        let warnings = warnings_during(|| {
            for peer in ["10.0.1.5", "172.18.0.3", "fd00::7", "10.0.1.5"] {
                // Still ignored: the peer is the client.
                assert_eq!(p.client_ip(ip(peer), Some("198.51.100.7")), ip(peer));
            }
        });
        assert_eq!(warnings, 1);
    }

    #[test]
    fn no_warning_without_the_header_or_from_public_or_trusted_peers() {
        let p = proxies(&["10.0.0.0/8"]);
        let warnings = warnings_during(|| {
            p.client_ip(ip("172.18.0.3"), None);
            p.client_ip(ip("203.0.113.9"), Some("198.51.100.7"));
            p.client_ip(ip("10.0.0.2"), Some("198.51.100.7"));
        });
        assert_eq!(warnings, 0);
    }
}
