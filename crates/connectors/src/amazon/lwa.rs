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
use crate::error::clip;
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
            .unwrap_or_else(|e| e.into_inner())
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
        let (header, lifetime) = match exchange(transport, token_url, credentials).await {
            Ok(granted) => granted,
            Err(error) => {
                // A refused (or unreachable) refresh token keeps no slot: otherwise every
                // wrong token ever tried would stay in the map.
                drop(cached);
                self.release(credentials, &slot);
                return Err(error);
            }
        };
        *cached = Some(Cached {
            header: header.clone(),
            fresh_until: Instant::now() + lifetime.saturating_sub(RENEW_BEFORE),
        });
        Ok(header)
    }

    /// Removes the credentials' slot if it is still `slot` and holds no token (a caller
    /// queued on it meanwhile still has its own handle and makes a fresh one).
    fn release(&self, credentials: &Credentials, slot: &Slot) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let key = Key::of(credentials);
        let unused = slots.get(&key).is_some_and(|current| {
            Arc::ptr_eq(current, slot) && current.try_lock().is_ok_and(|c| c.is_none())
        });
        if unused {
            slots.remove(&key);
        }
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
    #[serde(default)]
    error_description: String,
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
    let body = crate::read_body(response).await?;
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
    let Refused {
        error,
        error_description,
    } = serde_json::from_slice(&body).unwrap_or(Refused {
        error: String::new(),
        error_description: String::new(),
    });
    let (error, description) = (clip(&error), clip(&error_description));
    Err(match error.as_str() {
        "invalid_grant" => ChannelError::credentials(format!(
            "Login with Amazon refused the refresh token (invalid_grant: {description}): \
             authorise the app again"
        )),
        "invalid_client" | "unauthorized_client" => ChannelError::credentials(format!(
            "Login with Amazon refused the app's client id or secret ({error}: {description})"
        )),
        _ => ChannelError::protocol(format!(
            "Login with Amazon answered HTTP {status} ({error}: {description})"
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[tokio::test]
    async fn a_failed_exchange_keeps_no_slot() {
        let tokens = Tokens::default();
        let credentials = Credentials {
            seller_id: "S".into(),
            refresh_token: SecretString::from("wrong"),
            client_id: "app".into(),
            client_secret: SecretString::from("secret"),
            region: "eu".into(),
            marketplace_id: super::super::GERMANY.into(),
        };
        let transport = Transport::new(
            Duration::from_millis(200),
            crate::RetryPolicy {
                max_retries: 0,
                ..crate::RetryPolicy::default()
            },
        );
        // Nothing listens on port 9 of localhost: the exchange fails at once.
        let failed = tokens
            .get(&transport, "http://127.0.0.1:9/auth/o2/token", &credentials)
            .await;
        assert!(failed.is_err());
        assert!(tokens.slots.lock().unwrap().is_empty());
    }
}
