//! The ShopMarkets API service: what the merchant's dashboard talks to for everything but
//! login — company profile and AVV, shop connections, products, orders and analytics.
//! Callers are authenticated by asking the security service (`sm_auth`).

pub mod avv;
pub mod channels;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod routes;
pub mod state;
pub mod sync;

use std::future::Future;

use anyhow::Context;
use axum::Router;
use sm_auth::SecurityClient;
use sqlx::migrate::Migrator;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::config::{Config, DEFAULT_DATABASE};
use crate::state::{AppState, Links};

pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The whole HTTP application: API, health checks, OpenAPI document, middleware.
pub fn router(state: AppState, config: &Config) -> Router {
    let db = state.db.clone();
    let (api, doc) = routes::api(state, config.import_limit_bytes);
    let app = api
        .merge(sm_http::health::routes(db))
        .merge(sm_http::openapi_route(doc));
    sm_http::middleware::stack(app, &config.server)
}

/// Checks the settings and builds the state on an existing pool.
pub fn state(config: &Config, db: PgPool) -> anyhow::Result<AppState> {
    // A request must outlive its channel calls, or their outcome is never recorded.
    if config.channels.channel_timeout_secs >= config.server.request_timeout_secs {
        anyhow::bail!(
            "CHANNEL_TIMEOUT_SECS ({}) must be below REQUEST_TIMEOUT_SECS ({})",
            config.channels.channel_timeout_secs,
            config.server.request_timeout_secs
        );
    }
    Ok(AppState {
        db,
        security: SecurityClient::new(&config.security)?,
        credentials: config.keyring().map_err(anyhow::Error::msg)?,
        import_max_rows: config.import_max_rows,
        request_timeout: std::time::Duration::from_secs(config.server.request_timeout_secs),
        time_zones: Default::default(),
        connectors: config.channels.connectors().map_err(anyhow::Error::msg)?,
        shopify_app: config.channels.shopify_app().map_err(anyhow::Error::msg)?,
        shopify_secret: config.channels.shopify_secret(),
        channel_timeout: config.channels.channel_timeout(),
        sync: config.sync.settings(),
        links: Links {
            api: base_url("PUBLIC_API_URL", &config.channels.public_api_url)?,
            dashboard: base_url("DASHBOARD_URL", &config.channels.dashboard_url)?,
            sandbox: match &config.channels.sandbox_public_url {
                Some(url) => base_url("SANDBOX_PUBLIC_URL", url).map(|_| Some(url.clone()))?,
                None => None,
            },
        },
    })
}

/// An http(s) base URL without query, fragment or trailing slash.
fn base_url(name: &str, url: &url::Url) -> anyhow::Result<String> {
    if !matches!(url.scheme(), "http" | "https")
        || url.query().is_some()
        || url.fragment().is_some()
    {
        anyhow::bail!("{name}: use an http(s) URL without query or fragment");
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Connects, migrates and serves until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = config.database.pool(DEFAULT_DATABASE)?;
    // Settings are checked before waiting for the database, so that a mistake shows at once.
    let state = state(&config, db.clone())?;
    config
        .database
        .wait_until_reachable(&db)
        .await
        .context("connecting to the database")?;
    MIGRATOR
        .run(&db)
        .await
        .context("running database migrations")?;
    let workers = sync::worker::start(state.clone());
    tracing::info!(addr = %listener.local_addr()?, security = %config.security.security_service_url, "api service listening");
    let served = sm_http::serve(listener, router(state, &config), shutdown).await;
    // Jobs in hand are given back before the process ends, so another one resumes them.
    workers.shutdown().await;
    served?;
    Ok(())
}
