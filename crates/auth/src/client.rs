use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use moka::future::Cache;
use moka::Expiry;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use sm_http::ApiError;
use uuid::Uuid;

use crate::{AuthClientArgs, Role};

/// The security service's answer for an active token.
#[derive(Debug, Clone, Deserialize)]
pub struct Introspection {
    pub active: bool,
    pub sub: Option<Uuid>,
    pub email: Option<String>,
    pub role: Option<Role>,
    pub sid: Option<Uuid>,
    pub exp: Option<i64>,
}

/// A cached positive answer and how long it may be reused.
#[derive(Clone)]
struct Entry {
    answer: Arc<Introspection>,
    ttl: Duration,
}

/// Each entry lives for its own `ttl`: the configured window, cut short by the token's expiry.
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
    /// Keyed by SHA-256 of the token, so the cache holds no usable tokens.
    cache: Cache<[u8; 32], Entry>,
}

impl std::fmt::Debug for SecurityClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityClient")
            .field("introspect_url", &self.introspect_url)
            .field("cache_ttl", &self.cache_ttl)
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
            cache: Cache::builder()
                .max_capacity(args.cache_capacity)
                .expire_after(PerEntryTtl)
                .build(),
        })
    }

    /// The token's owner if the token is active now (or was, within the cache window).
    /// `Ok(None)`: not active. `Err`: 503, the security service could not answer.
    pub async fn introspect(
        &self,
        token: &str,
        request_id: Option<&str>,
    ) -> Result<Option<Arc<Introspection>>, ApiError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(entry) = self.cache.get(&key).await {
            return Ok(Some(entry.answer));
        }
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
            return Ok(None);
        }
        let answer = Arc::new(answer);
        let ttl = self.cache_ttl.min(until(answer.exp));
        if !ttl.is_zero() {
            self.cache
                .insert(
                    key,
                    Entry {
                        answer: answer.clone(),
                        ttl,
                    },
                )
                .await;
        }
        Ok(Some(answer))
    }
}

/// Time left until the Unix time `exp` (zero if unknown or past).
fn until(exp: Option<i64>) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    Duration::from_secs(exp.map_or(0, |exp| (exp - now).max(0)) as u64)
}
