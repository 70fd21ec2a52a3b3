//! Settings, read once at start-up from the environment (`security --help` lists them all).

use secrecy::{ExposeSecret, SecretString};
use sm_config::{DatabaseArgs, ServerArgs};
use sm_crypto::Keyring;
use sm_mailer::MailConfig;
use sm_telemetry::TelemetryArgs;

pub const DEFAULT_PORT: u16 = 3001;
pub const DEFAULT_DATABASE: &str = "security";

#[derive(clap::Parser, Clone)]
#[command(
    name = "security",
    version,
    about = "ShopMarkets security service: accounts, login with 2FA, tokens, sessions."
)]
pub struct Config {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub mail: MailConfig,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    #[command(flatten)]
    pub auth: AuthConfig,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Without a command the service serves HTTP.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum Command {
    /// Gives an existing account a role, e.g. the first admin: `security set-role anna@example.de admin`.
    SetRole {
        email: String,
        #[arg(value_parser = ["merchant", "partner", "admin"])]
        role: String,
    },
}

#[derive(clap::Args, Clone)]
pub struct AuthConfig {
    /// Secret that signs access tokens (HS256); at least 32 bytes. Rotating it logs everyone out.
    #[arg(long = "jwt-secret", env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: SecretString,
    /// Credential other services present to the introspection endpoint; at least 32 characters.
    #[arg(long = "service-token", env = "SERVICE_TOKEN", hide_env_values = true)]
    pub service_token: SecretString,
    /// AES-256-GCM key for TOTP secrets at rest: base64 of 32 random bytes, or `1:key,2:key`
    /// to rotate (the highest id encrypts, all decrypt).
    #[arg(
        long = "totp-encryption-key",
        env = "TOTP_ENCRYPTION_KEY",
        hide_env_values = true
    )]
    pub totp_encryption_key: SecretString,
    /// `iss` of issued access tokens.
    #[arg(
        long = "jwt-issuer",
        env = "JWT_ISSUER",
        default_value = "https://security.shopmarkets.app"
    )]
    pub jwt_issuer: String,
    /// `aud` of issued access tokens.
    #[arg(
        long = "jwt-audience",
        env = "JWT_AUDIENCE",
        default_value = "shopmarkets"
    )]
    pub jwt_audience: String,
    /// Lifetime of an access token in seconds.
    #[arg(
        long = "access-token-ttl-secs",
        env = "ACCESS_TOKEN_TTL_SECS",
        default_value_t = 900
    )]
    pub access_token_ttl_secs: u64,
    /// Lifetime of a session (its refresh tokens) in days.
    #[arg(
        long = "session-ttl-days",
        env = "SESSION_TTL_DAYS",
        default_value_t = 30
    )]
    pub session_ttl_days: i64,
    /// Requests a minute per client IP for each sensitive group (login, code checks, mail resends, password reset, registration).
    #[arg(
        long = "auth-rate-limit-per-minute",
        env = "AUTH_RATE_LIMIT_PER_MINUTE",
        default_value_t = 10
    )]
    pub rate_limit_per_minute: u32,
    /// Password hashes computed at once (each takes 19 MiB and one core); defaults to the core count.
    #[arg(long = "hash-concurrency", env = "HASH_CONCURRENCY")]
    pub hash_concurrency: Option<usize>,
    /// Send the refresh-token cookie with `Secure` (browsers accept it on http://localhost too).
    #[arg(long = "cookie-secure", env = "COOKIE_SECURE", default_value_t = true, action = clap::ArgAction::Set)]
    pub cookie_secure: bool,
    /// Domain of the refresh-token cookie, e.g. `shopmarkets.app` so all subdomains share it.
    #[arg(long = "cookie-domain", env = "COOKIE_DOMAIN")]
    pub cookie_domain: Option<String>,
    /// Issuer name shown in authenticator apps.
    #[arg(
        long = "totp-issuer",
        env = "TOTP_ISSUER",
        default_value = "ShopMarkets"
    )]
    pub totp_issuer: String,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("access_token_ttl_secs", &self.access_token_ttl_secs)
            .field("session_ttl_days", &self.session_ttl_days)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    /// Checks the secrets' strength and reads the encryption keys; the message names the variable.
    pub fn validate(&self) -> Result<Keyring, String> {
        if self.jwt_secret.expose_secret().len() < 32 {
            return Err("JWT_SECRET must be at least 32 bytes".into());
        }
        if self.service_token.expose_secret().len() < 32 {
            return Err("SERVICE_TOKEN must be at least 32 characters".into());
        }
        Keyring::parse(self.totp_encryption_key.expose_secret())
            .map_err(|e| format!("TOTP_ENCRYPTION_KEY: {e}"))
    }
}
