//! Talking to a connection's channel while a request waits: credentials sealed and opened,
//! the credentials check run under `CHANNEL_TIMEOUT_SECS` and its outcome recorded.

use std::future::Future;

use sm_connectors::{Channel, ChannelError, Connector};
use sm_http::ApiError;
use tokio::time::Instant;
use uuid::Uuid;

use crate::db;
use crate::db::connections::{Account, ConnectionRow, Problem};
use crate::domain::credentials::Credentials;
use crate::error::Result;
use crate::state::AppState;

/// Encrypts credentials for the connection `id` (bound to it: they open for no other row).
pub fn seal(state: &AppState, id: Uuid, credentials: &Credentials) -> Result<Vec<u8>> {
    let plaintext = serde_json::to_vec(credentials).map_err(anyhow::Error::from)?;
    Ok(state.credentials.seal(&plaintext, id.as_bytes()))
}

/// Decrypts the credentials of the connection `id`.
pub fn open(state: &AppState, id: Uuid, sealed: &[u8]) -> Result<Credentials> {
    let plaintext = state
        .credentials
        .open(sealed, id.as_bytes())
        .ok_or_else(|| {
            anyhow::anyhow!("the credentials of connection {id} do not open with CREDENTIALS_KEYS")
        })?;
    Ok(serde_json::from_slice(&plaintext).map_err(anyhow::Error::from)?)
}

/// A channel client for the credentials, at the vendor or at the sandbox.
pub fn connect(
    state: &AppState,
    credentials: &Credentials,
    sandbox: bool,
) -> Result<Connector, ChannelError> {
    state
        .connectors
        .connect(credentials.to_connector(), sandbox)
}

/// 409 `sandbox_unavailable`: the installation offers no sandbox shops.
pub fn sandbox_unavailable() -> ApiError {
    ApiError::conflict(
        "sandbox_unavailable",
        "This installation has no sandbox shops (SANDBOX_URL is not set).",
    )
}

/// 409 `too_many_connections`: the merchant has the most connections one may have.
pub fn too_many_connections() -> ApiError {
    ApiError::conflict(
        "too_many_connections",
        format!(
            "An account has at most {} shop connections; delete one to add another.",
            db::connections::MAX_PER_USER
        ),
    )
}

/// When the channel calls of a request must be done: `CHANNEL_TIMEOUT_SECS` from now. A
/// request making several calls (the Shopify callback) shares one deadline among them.
pub fn deadline(state: &AppState) -> Instant {
    Instant::now() + state.channel_timeout
}

/// Runs a channel call until `deadline`, retries included. Dropping the future (the
/// request ended) cancels the call.
pub async fn bounded<T>(
    deadline: Instant,
    call: impl Future<Output = Result<T, ChannelError>>,
) -> Result<T, ChannelError> {
    tokio::time::timeout_at(deadline, call)
        .await
        .unwrap_or_else(|_| {
            Err(ChannelError::Unavailable {
                message: "the channel did not answer in time".to_owned(),
            })
        })
}

/// Checks the credentials with the channel (until `deadline`) and records the outcome:
/// `active`, or `error` with the channel's code and message (transient failures too: the
/// connection does not work right now), and the account only once the channel accepted the
/// credentials for it. `None` when the connection went away meanwhile.
pub async fn check(
    state: &AppState,
    user_id: Uuid,
    id: Uuid,
    credentials: &Credentials,
    sandbox: bool,
    deadline: Instant,
) -> Result<Option<(ConnectionRow, Result<(), ChannelError>)>> {
    let outcome = match connect(state, credentials, sandbox) {
        Ok(connector) => bounded(deadline, connector.check_credentials())
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = &outcome {
        tracing::info!(connection = %id, code = e.code(), transient = e.is_transient(), "credentials check failed");
    }
    let message = outcome.as_ref().err().map(ToString::to_string);
    let problem = outcome
        .as_ref()
        .err()
        .zip(message.as_deref())
        .map(|(e, message)| Problem {
            code: e.code(),
            message,
        });
    let account = match &outcome {
        Ok(()) => Account::Confirmed(credentials.account_ref()),
        Err(ChannelError::InvalidCredentials { .. }) => Account::Refused,
        Err(_) => Account::Unknown,
    };
    let row = db::connections::record_check(&state.db, user_id, id, account, problem).await?;
    Ok(row.map(|row| (row, outcome)))
}
