use std::time::Duration;

use axum::extract::FromRef;
use sm_auth::SecurityClient;
use sm_crypto::Keyring;
use sqlx::PgPool;

use crate::db;

/// Everything a handler needs; cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub db: PgPool,
    /// Checks callers' tokens with the security service.
    pub security: SecurityClient,
    /// Encrypts shop credentials at rest.
    pub credentials: Keyring,
    /// Most product rows in one CSV import.
    pub import_max_rows: usize,
    /// `REQUEST_TIMEOUT_SECS`: no statement of a request needs to run longer.
    pub request_timeout: Duration,
    /// The time zone names Postgres knows, read once.
    pub time_zones: db::analytics::TimeZones,
}
