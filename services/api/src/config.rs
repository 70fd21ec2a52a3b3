//! Settings, read once at start-up from the environment (`api --help` lists them all).

use secrecy::{ExposeSecret, SecretString};
use sm_auth::AuthClientArgs;
use sm_config::{DatabaseArgs, ServerArgs};
use sm_crypto::Keyring;
use sm_telemetry::TelemetryArgs;

pub const DEFAULT_PORT: u16 = 3000;
pub const DEFAULT_DATABASE: &str = "api";

#[derive(clap::Parser, Clone)]
#[command(
    name = "api",
    version,
    about = "ShopMarkets API service: profile, AVV, connections, products, orders, analytics."
)]
pub struct Config {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    #[command(flatten)]
    pub security: AuthClientArgs,
    /// AES-256-GCM key(s) for shop credentials at rest: base64 of 32 random bytes, or
    /// `1:key,2:key` to rotate (the highest id encrypts new data, all ids decrypt).
    #[arg(
        long = "credentials-keys",
        env = "CREDENTIALS_KEYS",
        hide_env_values = true
    )]
    pub credentials_keys: SecretString,
    /// Largest CSV import in bytes.
    #[arg(long = "import-limit-bytes", env = "IMPORT_LIMIT_BYTES", default_value_t = 20 * 1024 * 1024)]
    pub import_limit_bytes: usize,
    /// Most product rows in one CSV import; a larger file answers 413 `too_many_rows`.
    #[arg(
        long = "import-max-rows",
        env = "IMPORT_MAX_ROWS",
        default_value_t = 100_000
    )]
    pub import_max_rows: usize,
}

impl Config {
    pub fn keyring(&self) -> Result<Keyring, String> {
        Keyring::parse(self.credentials_keys.expose_secret())
            .map_err(|e| format!("CREDENTIALS_KEYS: {e}"))
    }
}
