//! Settings, read once at start-up from the environment (`api --help` lists them all).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sm_auth::AuthClientArgs;
use sm_config::{DatabaseArgs, ServerArgs};
use sm_connectors::sandbox::SandboxSecret;
use sm_connectors::shopify::oauth;
use sm_connectors::{Connectors, ConnectorsConfig};
use sm_crypto::Keyring;
use sm_telemetry::TelemetryArgs;
use url::Url;

pub const DEFAULT_PORT: u16 = 3000;
pub const DEFAULT_DATABASE: &str = "api";
/// Shortest SANDBOX_SECRET (`cargo xtask up` makes 32 random bytes, base64: 43).
pub const MIN_SANDBOX_SECRET_BYTES: usize = 32;

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
    #[command(flatten)]
    pub channels: ChannelArgs,
    #[command(flatten)]
    pub sync: SyncArgs,
}

/// The sync engine: its workers in this process, the schedule, leases and retries.
#[derive(clap::Args, Clone, Debug)]
pub struct SyncArgs {
    /// Sync jobs this process runs at once; 0 serves the API only (another replica, or
    /// `api` started with workers, runs the jobs).
    #[arg(long = "sync-workers", env = "SYNC_WORKERS", default_value_t = 2,
        value_parser = clap::value_parser!(u32).range(0..=64))]
    pub sync_workers: u32,
    /// Every connection is synced (incrementally) at least this often; 0: no schedule.
    #[arg(long = "sync-interval-secs", env = "SYNC_INTERVAL_SECS", default_value_t = 900,
        value_parser = clap::value_parser!(u64).range(0..=604_800))]
    pub sync_interval_secs: u64,
    /// How long a worker holds a job without renewing; a dead worker's job is taken over
    /// after this.
    #[arg(long = "sync-lease-secs", env = "SYNC_LEASE_SECS", default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(2..=3600))]
    pub sync_lease_secs: u64,
    /// Attempts a job gets before it fails for good.
    #[arg(long = "sync-max-attempts", env = "SYNC_MAX_ATTEMPTS", default_value_t = 5,
        value_parser = clap::value_parser!(u32).range(1..=50))]
    pub sync_max_attempts: u32,
    /// Wait before the first retry; doubles with each further attempt (capped at an hour).
    #[arg(long = "sync-retry-base-secs", env = "SYNC_RETRY_BASE_SECS", default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub sync_retry_base_secs: u64,
    /// An attempt that commits no page for this long (a channel holding a connection open
    /// without answering) is stopped and retried.
    #[arg(long = "sync-stall-secs", env = "SYNC_STALL_SECS", default_value_t = 900,
        value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub sync_stall_secs: u64,
    /// Finished sync jobs (the sync logs, with their ledgers) are deleted after this many
    /// days.
    #[arg(long = "sync-log-retention-days", env = "SYNC_LOG_RETENTION_DAYS", default_value_t = 90,
        value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub sync_log_retention_days: u32,
    /// How far back a connection's first (full) orders import reaches.
    #[arg(long = "orders-import-days", env = "ORDERS_IMPORT_DAYS", default_value_t = 90,
        value_parser = clap::value_parser!(u32).range(1..=730))]
    pub orders_import_days: u32,
}

/// [`SyncArgs`] in the units the engine works in.
#[derive(Clone, Copy, Debug)]
pub struct SyncSettings {
    pub workers: usize,
    /// `None`: no schedule.
    pub interval: Option<Duration>,
    pub lease: Duration,
    pub max_attempts: i32,
    pub retry_base: Duration,
    pub orders_import_days: i64,
    pub log_retention: Duration,
    /// Longest an attempt may go without committing a page.
    pub stall: Duration,
}

impl SyncArgs {
    pub fn settings(&self) -> SyncSettings {
        SyncSettings {
            workers: self.sync_workers as usize,
            interval: (self.sync_interval_secs > 0)
                .then(|| Duration::from_secs(self.sync_interval_secs)),
            lease: Duration::from_secs(self.sync_lease_secs),
            max_attempts: self.sync_max_attempts as i32,
            retry_base: Duration::from_secs(self.sync_retry_base_secs),
            orders_import_days: i64::from(self.orders_import_days),
            log_retention: Duration::from_secs(u64::from(self.sync_log_retention_days) * 86_400),
            stall: Duration::from_secs(self.sync_stall_secs),
        }
    }
}

/// The shop channels: the sandbox shops, the Shopify app, where the api and the dashboard
/// are reached from outside. Hosts are operator settings only; no request can name one.
#[derive(clap::Args, Clone)]
pub struct ChannelArgs {
    /// Base URL of the sandbox shops (the `sandbox` binary); unset: no sandbox connections.
    #[arg(long = "sandbox-url", env = "SANDBOX_URL", requires = "sandbox_secret")]
    pub sandbox_url: Option<Url>,
    /// The sandbox as merchants' browsers reach it (the Shopify sandbox install opens it);
    /// unset: SANDBOX_URL.
    #[arg(
        long = "sandbox-public-url",
        env = "SANDBOX_PUBLIC_URL",
        requires = "sandbox_url"
    )]
    pub sandbox_public_url: Option<Url>,
    /// Secret shared with the sandbox shops, at least 32 bytes; required with SANDBOX_URL.
    #[arg(
        long = "sandbox-secret",
        env = "SANDBOX_SECRET",
        hide_env_values = true
    )]
    pub sandbox_secret: Option<SecretString>,
    /// Client id of the ShopMarkets app at Shopify; needs SHOPIFY_API_SECRET. Unset: no
    /// Shopify install flow (shops connect by access token).
    #[arg(
        long = "shopify-api-key",
        env = "SHOPIFY_API_KEY",
        requires = "shopify_api_secret"
    )]
    pub shopify_api_key: Option<String>,
    /// Client secret of the ShopMarkets app at Shopify: signs its webhooks, and with
    /// SHOPIFY_API_KEY its install callbacks. Alone it enables the webhook receiver; unset:
    /// real shops' webhooks are refused (401).
    #[arg(
        long = "shopify-api-secret",
        env = "SHOPIFY_API_SECRET",
        hide_env_values = true
    )]
    pub shopify_api_secret: Option<SecretString>,
    /// The api's public base URL: Shopify redirects to `{it}/api/shopify/callback` and
    /// sends webhooks to `{it}/api/webhooks/shopify`.
    #[arg(
        long = "public-api-url",
        env = "PUBLIC_API_URL",
        default_value = "http://localhost:3000"
    )]
    pub public_api_url: Url,
    /// The dashboard's base URL, where the browser goes after a Shopify install.
    #[arg(
        long = "dashboard-url",
        env = "DASHBOARD_URL",
        default_value = "http://localhost:3002"
    )]
    pub dashboard_url: Url,
    /// Seconds the channel calls made while a request waits (a credentials check; a Shopify
    /// install's token exchange, check and webhook registration together) may take, retries
    /// included; also bounds each HTTP attempt. Keep it below REQUEST_TIMEOUT_SECS.
    #[arg(
        long = "channel-timeout-secs",
        env = "CHANNEL_TIMEOUT_SECS",
        default_value_t = 20,
        value_parser = clap::value_parser!(u64).range(1..=300)
    )]
    pub channel_timeout_secs: u64,
}

impl ChannelArgs {
    /// The connectors with the sandbox, if configured.
    pub fn connectors(&self) -> Result<Connectors, String> {
        let sandbox = match (&self.sandbox_url, &self.sandbox_secret) {
            (Some(url), Some(secret)) => {
                // It derives every sandbox shop's credentials: as strong as a key.
                if secret.expose_secret().len() < MIN_SANDBOX_SECRET_BYTES {
                    return Err(format!(
                        "SANDBOX_SECRET: must be at least {MIN_SANDBOX_SECRET_BYTES} bytes"
                    ));
                }
                Some((url.clone(), SandboxSecret::new(secret.clone())))
            }
            (Some(_), None) => return Err("SANDBOX_SECRET: required with SANDBOX_URL".to_owned()),
            (None, _) => None,
        };
        Ok(Connectors::new(ConnectorsConfig {
            timeout: self.channel_timeout(),
            sandbox,
            ..ConnectorsConfig::default()
        }))
    }

    /// The real ShopMarkets app at Shopify, for the install flow: both halves set. An empty
    /// value counts as unset (compose files pass `SHOPIFY_API_KEY=` when the operator has
    /// no app); a key without a secret is refused.
    pub fn shopify_app(&self) -> Result<Option<oauth::App>, String> {
        let key = self
            .shopify_api_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty());
        match (key, self.shopify_secret()) {
            (Some(key), Some(secret)) => Ok(Some(oauth::App {
                api_key: key.to_owned(),
                api_secret: secret,
            })),
            (Some(_), None) => Err("SHOPIFY_API_KEY: requires SHOPIFY_API_SECRET".to_owned()),
            (None, _) => Ok(None),
        }
    }

    /// The app's secret, which signs the webhooks of real shops (empty counts as unset).
    pub fn shopify_secret(&self) -> Option<SecretString> {
        self.shopify_api_secret
            .clone()
            .filter(|s| !s.expose_secret().is_empty())
    }

    pub fn channel_timeout(&self) -> Duration {
        Duration::from_secs(self.channel_timeout_secs)
    }
}

impl Config {
    pub fn keyring(&self) -> Result<Keyring, String> {
        Keyring::parse(self.credentials_keys.expose_secret())
            .map_err(|e| format!("CREDENTIALS_KEYS: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channels(key: Option<&str>, secret: Option<&str>) -> ChannelArgs {
        ChannelArgs {
            sandbox_url: None,
            sandbox_public_url: None,
            sandbox_secret: None,
            shopify_api_key: key.map(str::to_owned),
            shopify_api_secret: secret.map(|s| SecretString::from(s.to_owned())),
            public_api_url: Url::parse("http://localhost:3000").unwrap(),
            dashboard_url: Url::parse("http://localhost:3002").unwrap(),
            channel_timeout_secs: 20,
        }
    }

    #[test]
    fn the_install_flow_takes_both_halves_and_webhooks_the_secret_alone() {
        let both = channels(Some("key"), Some("hush"));
        assert_eq!(both.shopify_app().unwrap().unwrap().api_key, "key");
        assert!(both.shopify_secret().is_some());
        for (key, secret) in [(None, None), (Some(""), Some("")), (None, Some(""))] {
            let args = channels(key, secret);
            assert!(args.shopify_app().unwrap().is_none());
            assert!(args.shopify_secret().is_none());
        }
        let secret_only = channels(None, Some("hush"));
        assert!(secret_only.shopify_app().unwrap().is_none());
        assert_eq!(
            secret_only.shopify_secret().unwrap().expose_secret(),
            "hush"
        );
        for (key, secret) in [(Some("key"), None), (Some("key"), Some(""))] {
            let e = channels(key, secret).shopify_app().unwrap_err();
            assert!(e.contains("SHOPIFY_API_SECRET"), "{e}");
        }
    }

    #[test]
    fn the_sandbox_needs_a_secret_of_at_least_32_bytes() {
        let mut args = channels(None, None);
        args.sandbox_url = Some(Url::parse("http://localhost:3010").unwrap());
        assert!(args.connectors().unwrap_err().contains("SANDBOX_SECRET"));
        for short in ["", "s3cret", &"x".repeat(31)] {
            args.sandbox_secret = Some(SecretString::from(short.to_owned()));
            let e = args.connectors().unwrap_err();
            assert!(e.contains("SANDBOX_SECRET") && e.contains("32"), "{e}");
        }
        args.sandbox_secret = Some(SecretString::from("x".repeat(32)));
        assert!(args.connectors().unwrap().sandbox().is_some());
        assert!(channels(None, None)
            .connectors()
            .unwrap()
            .sandbox()
            .is_none());
    }
}
