//! The database going away and coming back, with the service's own pool settings.

mod common;

use std::time::{Duration, Instant};

use clap::Parser;
use common::{error_code, Stack};
use reqwest::StatusCode;
use sm_testkit::TcpProxy;
use sqlx::PgPool;

/// The service's own pool, built from its settings, on the database at `url`.
fn pool_at(url: &str) -> PgPool {
    let config = api::config::Config::try_parse_from([
        "api",
        "--database-url",
        url,
        "--service-token",
        common::SERVICE_TOKEN,
        "--credentials-keys",
        common::KEY,
    ])
    .unwrap();
    config.database.pool(api::config::DEFAULT_DATABASE).unwrap()
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_database_that_goes_away_answers_503_promptly_and_recovers(db: PgPool) {
    let (proxy, url) = TcpProxy::postgres(&db).await;
    let stack = Stack::spawn_with_api_db(db, pool_at(&url), &[]).await;
    let anna = stack.merchant("anna@example.de").await;
    assert_eq!(
        stack
            .get(&anna.access_token, "/api/products")
            .await
            .status(),
        StatusCode::OK
    );

    proxy.cut();
    for path in ["/api/products", "/api/profile", "/health/ready"] {
        let started = Instant::now();
        let res = stack.get(&anna.access_token, path).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(error_code(res).await, "database_unavailable", "{path}");
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "{path} took {:?}",
            started.elapsed()
        );
    }

    // Back at once when the database is.
    proxy.restore().await;
    let res = stack
        .http
        .get(stack.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        stack
            .get(&anna.access_token, "/api/products")
            .await
            .status(),
        StatusCode::OK
    );
}
