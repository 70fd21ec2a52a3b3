use std::time::Duration;

use axum::extract::FromRef;
use secrecy::SecretString;
use sm_auth::SecurityClient;
use sm_connectors::shopify::oauth;
use sm_connectors::{Connectors, Hosts};
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
    /// Hands out a channel client per connection (vendor hosts, or the sandbox's).
    pub connectors: Connectors,
    /// The ShopMarkets app at Shopify (`SHOPIFY_API_KEY`), when configured: the install flow.
    #[from_ref(skip)]
    pub shopify_app: Option<oauth::App>,
    /// `SHOPIFY_API_SECRET`, when configured: verifies real shops' webhooks.
    #[from_ref(skip)]
    pub shopify_secret: Option<SecretString>,
    /// `CHANNEL_TIMEOUT_SECS`: bounds each channel call made while a request waits.
    #[from_ref(skip)]
    pub channel_timeout: Duration,
    /// Where Shopify and the merchant's browser reach the api and the dashboard.
    #[from_ref(skip)]
    pub links: Links,
    /// The sync engine's settings (workers, schedule, leases, retries).
    #[from_ref(skip)]
    pub sync: crate::config::SyncSettings,
}

/// Public base URLs, without a trailing slash.
#[derive(Clone, Debug)]
pub struct Links {
    pub api: String,
    pub dashboard: String,
    /// `SANDBOX_PUBLIC_URL`: the sandbox as merchants' browsers reach it, when that is not
    /// `SANDBOX_URL` (inside docker compose the api reaches it by service name).
    pub sandbox: Option<url::Url>,
}

impl Links {
    /// `hosts` as the merchant's browser reaches them.
    pub fn for_browser(&self, hosts: Hosts) -> Hosts {
        match (hosts, &self.sandbox) {
            (Hosts::Sandbox(_), Some(public)) => Hosts::Sandbox(public.clone()),
            (hosts, _) => hosts,
        }
    }

    /// Where Shopify sends the merchant back after approving the app.
    pub fn shopify_callback(&self) -> String {
        format!("{}/api/shopify/callback", self.api)
    }

    /// The callback's path as the browser sees it (PUBLIC_API_URL may carry a prefix).
    pub fn shopify_callback_path(&self) -> String {
        url::Url::parse(&self.shopify_callback())
            .map(|url| url.path().to_owned())
            .unwrap_or_else(|_| "/api/shopify/callback".to_owned())
    }

    /// Where Shopify delivers webhooks.
    pub fn shopify_webhooks(&self) -> String {
        format!("{}/api/webhooks/shopify", self.api)
    }

    /// The dashboard's connections page with `query` (`connected=…` or `error=…`).
    pub fn dashboard_connections(&self, query: &str) -> String {
        format!("{}/connections?{query}", self.dashboard)
    }
}
