use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use moka::future::Cache;
use moka::Expiry;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use sm_http::ApiError;

use crate::failures::FailureLimit;
use crate::AuthClientArgs;
pub use sm_domain::Introspection;

/// A cached answer — the owner of an active token, or `None` for a token that is not
/// active — and how long it may be reused.
#[derive(Clone)]
struct Entry {
    answer: Option<Arc<Introspection>>,
    ttl: Duration,
}

/// Each entry lives for its own `ttl`: a positive answer the configured window, cut short by
/// the token's expiry; a negative one the (shorter) negative window.
struct PerEntryTtl;

impl Expiry<[u8; 32], Entry> for PerEntryTtl {
    fn expire_after_create(&self, _: &[u8; 32], entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// Asks the security service whether an access token is valid. Cheap to clone.
#[derive(Clone)]
pub struct SecurityClient {
    http: reqwest::Client,
    introspect_url: String,
    service_token: SecretString,
    cache_ttl: Duration,
    negative_ttl: Duration,
    /// Keyed by SHA-256 of the token, so the cache holds no usable tokens.
    cache: Cache<[u8; 32], Entry>,
    failures: FailureLimit,
}

impl std::fmt::Debug for SecurityClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityClient")
            .field("introspect_url", &self.introspect_url)
            .field("cache_ttl", &self.cache_ttl)
            .field("negative_ttl", &self.negative_ttl)
            .finish_non_exhaustive()
    }
}

fn unavailable() -> ApiError {
    ApiError::unavailable(
        "security_unavailable",
        "Sign-in cannot be checked right now; try again shortly.",
    )
}

impl SecurityClient {
    pub fn new(args: &AuthClientArgs) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(args.timeout_ms))
            .connect_timeout(Duration::from_millis(args.timeout_ms))
            .build()?;
        Ok(Self {
            http,
            introspect_url: format!(
                "{}/api/auth/introspect",
                args.security_service_url.trim_end_matches('/')
            ),
            service_token: args.service_token.clone(),
            cache_ttl: Duration::from_secs(args.cache_ttl_secs),
            negative_ttl: Duration::from_secs(args.negative_cache_ttl_secs),
            cache: Cache::builder()
                .max_capacity(args.cache_capacity)
                .expire_after(PerEntryTtl)
                .build(),
            failures: FailureLimit::per_minute(args.failures_per_minute),
        })
    }

    /// [`Self::introspect`] for a request from `client`: a token not known to be valid counts
    /// as a failure of the client's network, and a network past its limit gets 429 (without
    /// asking the security service) for every token not already cached as valid.
    pub async fn authenticate(
        &self,
        token: &str,
        client: IpAddr,
        request_id: Option<&str>,
    ) -> Result<Option<Arc<Introspection>>, ApiError> {
        if let Some(entry) = self.cache.get(&cache_key(token)).await {
            if entry.answer.is_some() {
                return Ok(entry.answer);
            }
        }
        self.failures.check(client).await?;
        let answer = self.introspect(token, request_id).await?;
        if answer.is_none() {
            self.failures.record(client).await?;
        }
        Ok(answer)
    }

    /// The token's owner if the token is active now (or was, within the cache window).
    /// `Ok(None)`: not active (or not a token at all). `Err`: 503, the security service could
    /// not answer; such errors are not cached. Concurrent checks of one token share one call.
    pub async fn introspect(
        &self,
        token: &str,
        request_id: Option<&str>,
    ) -> Result<Option<Arc<Introspection>>, ApiError> {
        if !plausible(token) {
            return Ok(None);
        }
        self.cache
            .try_get_with(cache_key(token), self.ask(token, request_id))
            .await
            .map(|entry| entry.answer)
            .map_err(|e| (*e).clone())
    }

    /// One call to the security service.
    async fn ask(&self, token: &str, request_id: Option<&str>) -> Result<Entry, ApiError> {
        let mut request = self
            .http
            .post(&self.introspect_url)
            .bearer_auth(self.service_token.expose_secret())
            .json(&serde_json::json!({ "token": token }));
        if let Some(id) = request_id {
            request = request.header("x-request-id", id);
        }
        let response = request.send().await.map_err(|e| {
            tracing::warn!(error = %e, "security service unreachable");
            unavailable()
        })?;
        if !response.status().is_success() {
            // A refused service credential is a deployment error, not the user's.
            tracing::error!(status = %response.status(), "security service refused the introspection call");
            return Err(unavailable());
        }
        let answer: Introspection = response.json().await.map_err(|e| {
            tracing::error!(error = %e, "security service answered nonsense");
            unavailable()
        })?;
        if !answer.active || answer.sub.is_none() {
            return Ok(Entry {
                answer: None,
                ttl: self.negative_ttl,
            });
        }
        let ttl = self.cache_ttl.min(until(answer.exp));
        Ok(Entry {
            answer: Some(Arc::new(answer)),
            ttl,
        })
    }
}

fn cache_key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether `token` could be an access token (a JWT: base64url parts joined by dots, a few
/// hundred bytes). Anything else is refused here: no call, and no huge body the security
/// service would refuse with an error that reads as "unavailable".
fn plausible(token: &str) -> bool {
    token.len() <= 4096
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
}

/// Time left until the Unix time `exp` (zero if unknown or past).
fn until(exp: Option<i64>) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    Duration::from_secs(exp.map_or(0, |exp| (exp - now).max(0)) as u64)
}
