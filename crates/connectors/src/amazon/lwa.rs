//! Login with Amazon: refresh token → access token, cached per app and refresh token
//! until shortly before it expires, refreshed by one caller while the others wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::HeaderValue;
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::Credentials;
use crate::{ChannelError, Transport};

/// A token is renewed this long before Amazon says it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// Which app and refresh token an access token belongs to. The refresh token only as a
/// SHA-256, so the key can be logged or dumped without leaking it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    client_id: String,
    refresh_token: [u8; 32],
}

impl Key {
    fn of(credentials: &Credentials) -> Self {
        Key {
            client_id: credentials.client_id.clone(),
            refresh_token: Sha256::digest(credentials.refresh_token.expose_secret().as_bytes())
                .into(),
        }
    }
}

struct Cached {
    /// `x-amz-access-token`, marked sensitive so it never shows in Debug output.
    header: HeaderValue,
    fresh_until: Instant,
}

type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

/// The access tokens of the process.
#[derive(Default)]
pub(crate) struct Tokens {
    slots: Mutex<HashMap<Key, Slot>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").finish_non_exhaustive()
    }
}

impl Tokens {
    fn slot(&self, credentials: &Credentials) -> Slot {
        self.slots
            .lock()
            .expect("not poisoned")
            .entry(Key::of(credentials))
            .or_default()
            .clone()
    }

    /// A valid access token: the cached one, or a new one from `token_url`. Callers of the
    /// same credentials queue on one slot, so only the first of them asks Amazon.
    pub(crate) async fn get(
        &self,
        transport: &Transport,
        token_url: &str,
        credentials: &Credentials,
    ) -> Result<HeaderValue, ChannelError> {
        let slot = self.slot(credentials);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| t.fresh_until > Instant::now()) {
            return Ok(token.header.clone());
        }
        let (header, lifetime) = exchange(transport, token_url, credentials).await?;
        *cached = Some(Cached {
            header: header.clone(),
            fresh_until: Instant::now() + lifetime.saturating_sub(RENEW_BEFORE),
        });
        Ok(header)
    }

    /// Drops `stale` (Amazon refused it) unless another caller already replaced it.
    pub(crate) async fn forget(&self, credentials: &Credentials, stale: &HeaderValue) {
        let slot = self.slot(credentials);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|t| t.header == *stale) {
            *cached = None;
        }
    }
}

#[derive(Deserialize)]
struct Granted {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct Refused {
    error: String,
}

async fn exchange(
    transport: &Transport,
    token_url: &str,
    credentials: &Credentials,
) -> Result<(HeaderValue, Duration), ChannelError> {
    let response = transport
        .send(|client| {
            client.post(token_url).form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", credentials.refresh_token.expose_secret()),
                ("client_id", credentials.client_id.as_str()),
                ("client_secret", credentials.client_secret.expose_secret()),
            ])
        })
        .await?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|_| ChannelError::unavailable("Login with Amazon broke off its answer"))?;
    if status.is_success() {
        let granted: Granted = serde_json::from_slice(&body).map_err(|_| {
            ChannelError::protocol("Login with Amazon sent a token answer that cannot be read")
        })?;
        let mut header = HeaderValue::from_str(&granted.access_token).map_err(|_| {
            ChannelError::protocol("Login with Amazon sent an access token that is not a header")
        })?;
        header.set_sensitive(true);
        return Ok((header, Duration::from_secs(granted.expires_in)));
    }
    let error = serde_json::from_slice::<Refused>(&body)
        .map(|r| r.error)
        .unwrap_or_default();
    Err(match error.as_str() {
        "invalid_grant" => ChannelError::credentials(
            "Login with Amazon refused the refresh token (invalid_grant): authorise the app again",
        ),
        "invalid_client" | "unauthorized_client" => ChannelError::credentials(format!(
            "Login with Amazon refused the app's client id or secret ({error})"
        )),
        _ => ChannelError::protocol(format!(
            "Login with Amazon answered HTTP {status} ({error})"
        )),
    })
}
