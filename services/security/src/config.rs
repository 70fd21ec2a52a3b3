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
    pub delivery: DeliveryConfig,
    #[command(flatten)]
    pub retention: RetentionConfig,
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

/// How queued mail is delivered (mail/worker.rs).
#[derive(clap::Args, Clone, Debug)]
pub struct DeliveryConfig {
    /// Mails a minute, platform-wide, that requests anyone can make cause (sign-up, resending
    /// the code, password reset). Past it such mail waits for the budget to free, and is
    /// dropped (and counted in the log) once its code has expired; the answers stay the same.
    #[arg(
        long = "mail-budget-per-minute",
        env = "MAIL_BUDGET_PER_MINUTE",
        default_value_t = 30,
        value_parser = clap::value_parser!(i32).range(1..)
    )]
    pub budget_per_minute: i32,
    /// The same budget per hour.
    #[arg(
        long = "mail-budget-per-hour",
        env = "MAIL_BUDGET_PER_HOUR",
        default_value_t = 300,
        value_parser = clap::value_parser!(i32).range(1..)
    )]
    pub budget_per_hour: i32,
    /// Delivery attempts before a mail is given up (marked failed and logged).
    #[arg(
        long = "mail-max-attempts",
        env = "MAIL_MAX_ATTEMPTS",
        default_value_t = 10,
        value_parser = clap::value_parser!(i32).range(1..)
    )]
    pub max_attempts: i32,
    /// Seconds before a failed delivery is retried; each further retry waits twice as long
    /// (at most an hour).
    #[arg(
        long = "mail-retry-base-secs",
        env = "MAIL_RETRY_BASE_SECS",
        default_value_t = 10.0
    )]
    pub retry_base_secs: f64,
}

/// How long rows that only accumulate are kept (db/retention.rs).
#[derive(clap::Args, Clone, Debug)]
pub struct RetentionConfig {
    /// Seconds between prunings.
    #[arg(
        long = "prune-interval-secs",
        env = "PRUNE_INTERVAL_SECS",
        default_value_t = 3600,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub prune_interval_secs: u64,
    /// Days an ended (expired or revoked) session and its refresh tokens are kept, and a used
    /// refresh token of an ended session (those of a live session are kept while it lives).
    #[arg(
        long = "session-retention-days",
        env = "SESSION_RETENTION_DAYS",
        default_value_t = 30,
        value_parser = clap::value_parser!(i32).range(1..)
    )]
    pub session_retention_days: i32,
    /// Hours expired login tickets, idle login-throttle rows and attempt budgets are kept; at
    /// least 25, since the longest attempt window is a day.
    #[arg(
        long = "login-state-retention-hours",
        env = "LOGIN_STATE_RETENTION_HOURS",
        default_value_t = 48,
        value_parser = clap::value_parser!(i32).range(25..)
    )]
    pub login_state_retention_hours: i32,
    /// Days security events (the audit log) are kept.
    #[arg(
        long = "security-event-retention-days",
        env = "SECURITY_EVENT_RETENTION_DAYS",
        default_value_t = 180,
        value_parser = clap::value_parser!(i32).range(1..)
    )]
    pub security_event_retention_days: i32,
    /// Days a delivered, failed or dropped mail (its body already blanked) is kept.
    #[arg(
        long = "mail-outbox-retention-days",
        env = "MAIL_OUTBOX_RETENTION_DAYS",
        default_value_t = 7,
        value_parser = clap::value_parser!(i32).range(1..)
    )]
    pub mail_outbox_retention_days: i32,
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
    /// Seconds during which a just-rotated refresh token, presented again (a second tab, a
    /// retried request), gets the successor already issued instead of ending the session; 0 turns it off.
    #[arg(
        long = "refresh-reuse-interval-secs",
        env = "REFRESH_REUSE_INTERVAL_SECS",
        default_value_t = 10
    )]
    pub refresh_reuse_interval_secs: u32,
    /// Password-reset code guesses per address and client network a day, across all codes
    /// mailed to it (all networks together: ten times as many); past it the reset answers
    /// 429 `reset_attempts_exhausted` until the day is over.
    #[arg(
        long = "reset-code-guesses-per-day",
        env = "RESET_CODE_GUESSES_PER_DAY",
        default_value_t = 20,
        value_parser = clap::value_parser!(i32).range(1..)
    )]
    pub reset_code_guesses_per_day: i32,
    /// Email-verification code guesses per address and client network a day, across all codes
    /// mailed to it (every sign-up for an unverified address mails a new one; all networks
    /// together: ten times as many); past it the verification answers 429
    /// `verification_attempts_exhausted` until the day is over.
    #[arg(
        long = "verification-code-guesses-per-day",
        env = "VERIFICATION_CODE_GUESSES_PER_DAY",
        default_value_t = 100,
        value_parser = clap::value_parser!(i32).range(1..)
    )]
    pub verification_code_guesses_per_day: i32,
    /// Reset and resend-verification requests whose lookup and mail run after the answer: at
    /// most this many at once; past it a request's work is dropped (logged), its answer the same.
    #[arg(
        long = "deferred-work-limit",
        env = "DEFERRED_WORK_LIMIT",
        default_value_t = 256,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub deferred_work_limit: u32,
    /// Largest argon2 memory cost (KiB) a stored password hash may name; a hash asking for more
    /// (tampered with) is refused like a wrong password. New hashes use 19456.
    #[arg(
        long = "password-hash-max-memory-kib",
        env = "PASSWORD_HASH_MAX_MEMORY_KIB",
        default_value_t = 65536
    )]
    pub password_hash_max_memory_kib: u32,
    /// Largest argon2 time cost (passes) a stored password hash may name. New hashes use 2.
    #[arg(
        long = "password-hash-max-iterations",
        env = "PASSWORD_HASH_MAX_ITERATIONS",
        default_value_t = 8
    )]
    pub password_hash_max_iterations: u32,
    /// Largest argon2 parallelism (lanes) a stored password hash may name. New hashes use 1.
    #[arg(
        long = "password-hash-max-parallelism",
        env = "PASSWORD_HASH_MAX_PARALLELISM",
        default_value_t = 4
    )]
    pub password_hash_max_parallelism: u32,
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
            .field(
                "refresh_reuse_interval_secs",
                &self.refresh_reuse_interval_secs,
            )
            .field(
                "reset_code_guesses_per_day",
                &self.reset_code_guesses_per_day,
            )
            .field(
                "verification_code_guesses_per_day",
                &self.verification_code_guesses_per_day,
            )
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
        // The bounds must admit the hashes this service makes itself.
        use crate::crypto::password::{ITERATIONS, MEMORY_KIB, PARALLELISM};
        for (name, bound, used) in [
            (
                "PASSWORD_HASH_MAX_MEMORY_KIB",
                self.password_hash_max_memory_kib,
                MEMORY_KIB,
            ),
            (
                "PASSWORD_HASH_MAX_ITERATIONS",
                self.password_hash_max_iterations,
                ITERATIONS,
            ),
            (
                "PASSWORD_HASH_MAX_PARALLELISM",
                self.password_hash_max_parallelism,
                PARALLELISM,
            ),
        ] {
            if bound < used {
                return Err(format!(
                    "{name} must be at least {used}, what new hashes use"
                ));
            }
        }
        Keyring::parse(self.totp_encryption_key.expose_secret())
            .map_err(|e| format!("TOTP_ENCRYPTION_KEY: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(extra: &[&str]) -> Config {
        let mut args = vec![
            "security",
            "--jwt-secret=0123456789abcdef0123456789abcdef",
            "--service-token=0123456789abcdef0123456789abcdef",
            "--totp-encryption-key=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        ];
        args.extend_from_slice(extra);
        Config::try_parse_from(args).unwrap()
    }

    #[test]
    fn hash_bounds_must_admit_the_hashes_the_service_makes() {
        assert!(config(&[]).auth.validate().is_ok());
        let low = config(&["--password-hash-max-memory-kib=1024"])
            .auth
            .validate();
        assert!(low.unwrap_err().contains("PASSWORD_HASH_MAX_MEMORY_KIB"));
        let low = config(&["--password-hash-max-iterations=1"])
            .auth
            .validate();
        assert!(low.unwrap_err().contains("PASSWORD_HASH_MAX_ITERATIONS"));
    }
}
