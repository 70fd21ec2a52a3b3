//! The ShopMarkets security service: accounts, email verification, login with two factors,
//! JWT access tokens with rotating refresh tokens, sessions, password reset, and token
//! introspection for the other services. It alone holds `JWT_SECRET`.

pub mod auth;
pub mod background;
pub mod config;
pub mod crypto;
pub mod data_migrations;
pub mod db;
pub mod deferred;
pub mod domain;
pub mod error;
pub mod mail;
pub mod mailed_codes;
pub mod routes;
pub mod state;

use std::future::Future;

use anyhow::Context;
use axum::Router;
use sm_config::ServerArgs;
use sm_mailer::Mailer;
use sqlx::migrate::Migrator;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::background::Background;
use crate::config::{Config, DEFAULT_DATABASE};
use crate::mail::Mail;
use crate::state::AppState;

pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The whole HTTP application: API, health checks, OpenAPI document, middleware.
pub fn router(state: AppState, server: &ServerArgs) -> Router {
    let db = state.db.clone();
    let (api, doc) = routes::api(state);
    let app = api
        .merge(sm_http::health::routes(db))
        .merge(sm_http::openapi_route(doc));
    sm_http::middleware::stack(app, server)
}

/// Checks the settings and builds the state on an existing pool.
pub fn state(config: &Config, db: PgPool) -> anyhow::Result<AppState> {
    let totp_keys = config.auth.validate().map_err(anyhow::Error::msg)?;
    let mail = Mail::new(Mailer::from_config(&config.mail)?)?;
    tracing::info!(mail = %mail.describe(), "mail delivery");
    Ok(AppState::new(db, &config.auth, totp_keys, mail))
}

/// Connects, migrates and serves until `shutdown` completes, with the background tasks
/// (mail delivery, pruning) running beside the server until it and the work its requests
/// deferred have finished.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = connect(&config).await?;
    let state = state(&config, db)?;
    let background = Background::start(&state, &config);
    let deferred = state.deferred.clone();
    tracing::info!(addr = %listener.local_addr()?, "security service listening");
    let served = sm_http::serve(listener, router(state, &config.server), shutdown).await;
    // The work requests left behind (reset and resend lookups) may still queue mail.
    deferred.drain().await;
    background.stop().await;
    served?;
    Ok(())
}

/// The service's database pool, migrated to the current schema.
pub async fn connect(config: &Config) -> anyhow::Result<PgPool> {
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
    data_migrations::run(&db)
        .await
        .context("rewriting existing rows for the new schema")?;
    Ok(db)
}

/// Gives an existing account a role (the operator's way to make the first admin).
pub async fn set_role(db: &PgPool, email: &str, role: &str) -> anyhow::Result<()> {
    let email = domain::email::Email::parse(email).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    anyhow::ensure!(
        db::users::set_role(db, email.as_str(), role).await?,
        "no account with the email {email}"
    );
    tracing::info!(%email, role, "role set");
    Ok(())
}
