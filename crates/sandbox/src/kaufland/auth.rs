//! Every request checked the way Kaufland checks it: the client key, a timestamp close to
//! now, and `Shop-Signature` over the method, the full URI as the client sent it, the body
//! and the timestamp; then the seller's 111 requests/s (times `rate_scale`).

use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::{FromRequest, OriginalUri, Request};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use http::{HeaderMap, StatusCode};
use secrecy::ExposeSecret;
use sm_connectors::kaufland::signature;
use subtle::ConstantTimeEq;

use super::params::Params;
use super::problem::Problem;
use crate::faults::Vendor;
use crate::Sandbox;

/// How far `Shop-Timestamp` may be from the sandbox's clock, either way: long enough for
/// clock drift and retries, short enough that a captured request soon stops working.
pub const TIMESTAMP_WINDOW_SECS: i64 = 300;
/// Kaufland's documented limit per seller.
const REQUESTS_PER_SECOND: f64 = 111.0;
/// Bodies beyond this are refused (a unit patch is a few hundred bytes).
const MAX_BODY: usize = 1 << 20;

/// What the stand-in keeps per seller (the shop's vendor state): its rate limiter, made
/// at the first request (the rate depends on the sandbox's `rate_scale`), and how many
/// requests it refused.
#[derive(Default)]
struct Seller {
    limiter: Option<DefaultDirectRateLimiter>,
    throttled: u64,
}

fn quota(sandbox: &Sandbox) -> Quota {
    let rate = sandbox.rate(REQUESTS_PER_SECOND).max(0.001);
    // A second's worth of requests may come at once, at least one.
    let burst = NonZeroU32::new(rate.round().clamp(1.0, 1e6) as u32).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(Duration::from_secs_f64(1.0 / rate))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
        .allow_burst(burst)
}

/// Takes one request from the seller's rate; `false` (and counted) when over it.
fn within_rate(sandbox: &Sandbox, client_key: &str) -> bool {
    let shop = sandbox.shop(Vendor::Kaufland, client_key);
    shop.with_extra(|seller: &mut Seller| {
        let limiter = seller
            .limiter
            .get_or_insert_with(|| RateLimiter::direct(quota(sandbox)));
        let allowed = limiter.check().is_ok();
        if !allowed {
            seller.throttled += 1;
        }
        allowed
    })
}

/// How many requests of this client key the stand-in refused for going over the rate.
pub fn throttled(sandbox: &Sandbox, client_key: &str) -> u64 {
    let shop = sandbox.shop(Vendor::Kaufland, client_key);
    shop.with_extra(|seller: &mut Seller| seller.throttled)
}

/// A request that passed the checks: whose it is, its query and its body.
pub struct Signed {
    pub client_key: String,
    pub params: Params,
    pub body: axum::body::Bytes,
    /// `scheme://host` as the client reached the sandbox (for picture URLs).
    pub origin: String,
}

impl FromRequest<Sandbox> for Signed {
    type Rejection = Problem;

    async fn from_request(request: Request, sandbox: &Sandbox) -> Result<Self, Problem> {
        let (parts, body) = request.into_parts();
        // `nest` strips `/kaufland/v2` from the URI; the client signed the URI it sent.
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.clone(), |original| original.0.clone());
        let headers = &parts.headers;
        let client_key = header(headers, "shop-client-key")?;
        let timestamp = header(headers, "shop-timestamp")?;
        let given = header(headers, "shop-signature")?;
        if client_key.len() != 32 || !client_key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Problem::bad_header("Invalid header shop-client-key"));
        }
        let timestamp: i64 = timestamp
            .parse()
            .map_err(|_| Problem::bad_header("Invalid header shop-timestamp: not unix seconds"))?;
        if (chrono::Utc::now().timestamp() - timestamp).abs() > TIMESTAMP_WINDOW_SECS {
            return Err(Problem::unauthorized(format!(
                "Shop-Timestamp is more than {TIMESTAMP_WINDOW_SECS} seconds off"
            )));
        }
        let body = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|_| Problem::bad_request("The request body is too large"))?;
        let origin = origin(headers, &parts.uri)?;
        let full_uri = format!(
            "{origin}{}",
            uri.path_and_query().map_or("/", |pq| pq.as_str())
        );
        let secret = sandbox.secret().kaufland_secret_key(client_key);
        let expected = signature(
            secret.expose_secret().as_bytes(),
            parts.method.as_str(),
            &full_uri,
            &body,
            timestamp,
        );
        if !bool::from(
            expected
                .as_bytes()
                .ct_eq(given.to_ascii_lowercase().as_bytes()),
        ) {
            return Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "/problems/corrupted-signature",
                "The signature of the request is corrupted",
            ));
        }
        if !within_rate(sandbox, client_key) {
            return Err(super::too_many_requests());
        }
        Ok(Signed {
            client_key: client_key.to_owned(),
            params: Params::parse(uri.query()),
            body,
            origin,
        })
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, Problem> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Problem::bad_header(format!("Missing header {name}")))
}

/// `scheme://host[:port]` the client used: the Host header (the authority for HTTP/2),
/// `https` only when a proxy in front says so.
fn origin(headers: &HeaderMap, uri: &http::Uri) -> Result<String, Problem> {
    let host = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .ok_or_else(|| Problem::unauthorized("Missing header Host"))?;
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    Ok(format!("{scheme}://{host}"))
}
