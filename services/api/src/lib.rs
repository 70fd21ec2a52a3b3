//! The ShopMarkets API service: what the merchant's dashboard talks to for everything but
//! login — company profile and AVV, shop connections, products, orders and analytics.
//! Callers are authenticated by asking the security service (`sm_auth`).

pub mod avv;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod routes;
pub mod state;

use std::future::Future;

use anyhow::Context;
use axum::Router;
use sm_auth::SecurityClient;
use sqlx::migrate::Migrator;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::config::{Config, DEFAULT_DATABASE};
use crate::state::AppState;

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
    Ok(AppState {
        db,
        security: SecurityClient::new(&config.security)?,
        credentials: config.keyring().map_err(anyhow::Error::msg)?,
        import_max_rows: config.import_max_rows,
        request_timeout: std::time::Duration::from_secs(config.server.request_timeout_secs),
        time_zones: Default::default(),
    })
}

/// Connects, migrates and serves until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = config.database.pool(DEFAULT_DATABASE)?;
    config
        .database
        .wait_until_reachable(&db)
        .await
        .context("connecting to the database")?;
    MIGRATOR
        .run(&db)
        .await
        .context("running database migrations")?;
    let state = state(&config, db)?;
    tracing::info!(addr = %listener.local_addr()?, security = %config.security.security_service_url, "api service listening");
    sm_http::serve(listener, router(state, &config), shutdown).await?;
    Ok(())
}
