use axum::extract::FromRef;
use sm_auth::SecurityClient;
use sm_crypto::Keyring;
use sqlx::PgPool;

/// Everything a handler needs; cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub db: PgPool,
    /// Checks callers' tokens with the security service.
    pub security: SecurityClient,
    /// Encrypts shop credentials at rest.
    pub credentials: Keyring,
}
