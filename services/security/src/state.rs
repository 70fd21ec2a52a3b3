use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sm_crypto::Keyring;
use sm_http::RateLimiter;
use sqlx::PgPool;

use crate::config::AuthConfig;
use crate::crypto::jwt::JwtKeys;
use crate::crypto::keyed_hash::KeyedHasher;
use crate::crypto::password::{Bounds, PasswordHasher};
use crate::deferred::Deferred;
use crate::mail::Mail;

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub jwt: JwtKeys,
    pub passwords: PasswordHasher,
    /// Hashes six-digit codes, bound to user and purpose.
    pub codes: KeyedHasher,
    /// Hashes (email, network) into login-throttle keys.
    pub throttle_keys: KeyedHasher,
    /// Hashes what an attempt budget counts (an account, an address) into its key.
    pub budget_keys: KeyedHasher,
    /// Derives, from a used refresh token, the pad that seals its successor.
    pub successor_pads: KeyedHasher,
    /// Encrypts TOTP secrets at rest.
    pub totp_keys: Keyring,
    pub mail: Mail,
    /// Work requests leave behind (reset and resend lookups), finished before shutdown.
    pub deferred: Deferred,
    pub limits: Limits,
    pub settings: Arc<Settings>,
}

/// Per-IP request limits, one per group of sensitive endpoints.
#[derive(Clone, Debug)]
pub struct Limits {
    pub login: RateLimiter,
    pub verify: RateLimiter,
    pub resend: RateLimiter,
    pub reset: RateLimiter,
    pub register: RateLimiter,
}

pub struct Settings {
    pub service_token: SecretString,
    pub session_ttl_days: i64,
    pub cookie_secure: bool,
    pub cookie_domain: Option<String>,
    pub totp_issuer: String,
    pub refresh_reuse_interval_secs: u32,
    pub reset_code_guesses_per_day: i32,
    pub verification_code_guesses_per_day: i32,
}

impl AppState {
    pub fn new(db: PgPool, auth: &AuthConfig, totp_keys: Keyring, mail: Mail) -> Self {
        let secret = auth.jwt_secret.expose_secret().as_bytes();
        let per_minute = auth.rate_limit_per_minute;
        let limiter = || RateLimiter::per_minute(per_minute, per_minute);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            db,
            jwt: JwtKeys::new(
                secret,
                &auth.jwt_issuer,
                &auth.jwt_audience,
                Duration::from_secs(auth.access_token_ttl_secs),
            ),
            passwords: PasswordHasher::new(
                auth.hash_concurrency.unwrap_or(cores),
                Bounds {
                    max_memory_kib: auth.password_hash_max_memory_kib,
                    max_iterations: auth.password_hash_max_iterations,
                    max_parallelism: auth.password_hash_max_parallelism,
                },
            ),
            codes: KeyedHasher::derive(secret, "shopmarkets/one-time-codes/v1"),
            throttle_keys: KeyedHasher::derive(secret, "shopmarkets/login-throttle/v1"),
            budget_keys: KeyedHasher::derive(secret, "shopmarkets/attempt-budgets/v1"),
            successor_pads: KeyedHasher::derive(secret, "shopmarkets/refresh-successor/v1"),
            totp_keys,
            mail,
            deferred: Deferred::new(auth.deferred_work_limit as usize),
            limits: Limits {
                login: limiter(),
                verify: limiter(),
                resend: limiter(),
                reset: limiter(),
                register: limiter(),
            },
            settings: Arc::new(Settings {
                service_token: auth.service_token.clone(),
                session_ttl_days: auth.session_ttl_days,
                cookie_secure: auth.cookie_secure,
                cookie_domain: auth.cookie_domain.clone(),
                totp_issuer: auth.totp_issuer.clone(),
                refresh_reuse_interval_secs: auth.refresh_reuse_interval_secs,
                reset_code_guesses_per_day: auth.reset_code_guesses_per_day,
                verification_code_guesses_per_day: auth.verification_code_guesses_per_day,
            }),
        }
    }
}
