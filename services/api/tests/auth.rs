//! Authentication through the security service, both services running for real.

mod common;

use std::time::{Duration, Instant};

use common::{error_code, Stack};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn tokens_are_checked_with_the_security_service(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let res = stack
        .http
        .get(stack.url("/api/profile"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, "unauthenticated");
    assert_eq!(
        error_code(stack.get("forged.jwt.token", "/api/profile").await).await,
        "unauthenticated"
    );
    let anna = stack.merchant("anna@example.de").await;
    // The refresh token is no access token.
    assert_eq!(
        error_code(stack.get(&anna.refresh_token, "/api/profile").await).await,
        "unauthenticated"
    );
    assert_eq!(
        stack.get(&anna.access_token, "/api/profile").await.status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_logged_out_session_stops_working_within_the_cache_window(db: PgPool) {
    let stack = Stack::spawn_with(db, &["--auth-cache-ttl-secs", "1"]).await;
    let anna = stack.merchant("anna@example.de").await;
    assert_eq!(
        stack.get(&anna.access_token, "/api/profile").await.status(),
        StatusCode::OK
    );

    let res = stack
        .http
        .post(format!("{}/api/auth/logout", stack.security))
        .bearer_auth(&anna.access_token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        error_code(stack.get(&anna.access_token, "/api/profile").await).await,
        "unauthenticated"
    );
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn security_service_down_answers_503_quickly(db: PgPool) {
    let mut stack = Stack::spawn_with(db, &["--auth-timeout-ms", "500"]).await;
    let anna = stack.merchant("anna@example.de").await;
    stack.stop_security();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let res = stack.get(&anna.access_token, "/api/products").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_code(res).await, "security_unavailable");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn openapi_document_lists_every_endpoint(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let doc = stack.openapi().await;
    let paths = &doc["paths"];
    for (path, methods) in [
        ("/api/profile", &["get", "put"][..]),
        ("/api/profile/avv", &["get"]),
        ("/api/profile/avv-sign", &["post"]),
        ("/api/profile/avv/pdf", &["get"]),
        ("/api/connections", &["get", "post"]),
        ("/api/connections/{id}", &["get", "patch", "delete"]),
        ("/api/products", &["get", "post"]),
        ("/api/products/{id}", &["get", "put", "delete"]),
        ("/api/products/bulk", &["post"]),
        ("/api/products/import", &["post"]),
        ("/api/products/export", &["get"]),
        ("/api/orders", &["get"]),
        ("/api/orders/{id}", &["get"]),
        ("/api/analytics/summary", &["get"]),
        ("/health/live", &["get"]),
        ("/health/ready", &["get"]),
    ] {
        for method in methods {
            assert!(paths[path][method].is_object(), "{method} {path} missing");
        }
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_network_sending_many_bad_tokens_gets_429_others_carry_on(db: PgPool) {
    let stack = Stack::spawn_with(
        db,
        &[
            "--auth-failures-per-minute",
            "10",
            "--trusted-proxies",
            "127.0.0.1/32",
        ],
    )
    .await;
    let anna = stack.merchant("anna@example.de").await;
    let from = |network: &str, token: &str| {
        stack
            .http
            .get(stack.url("/api/products"))
            .header("x-forwarded-for", network)
            .bearer_auth(token)
            .send()
    };
    for i in 0..10 {
        let res = from("203.0.113.9", &format!("guess.{i}.x")).await.unwrap();
        assert_eq!(error_code(res).await, "unauthenticated");
    }
    let res = from("203.0.113.9", "guess.10.x").await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1);
    assert_eq!(error_code(res).await, "too_many_failed_authentications");
    // Even a valid token not yet known from that network waits.
    let res = from("203.0.113.9", &anna.access_token).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another network is not affected.
    let res = from("198.51.100.7", &anna.access_token).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_bogus_token_is_answered_from_the_cache_within_the_negative_window(db: PgPool) {
    // With the security service gone after the first answer, the same token still gets 401,
    // not 503: nobody asked it again.
    let mut stack = Stack::spawn(db).await;
    let res = stack.get("bogus.token.value", "/api/products").await;
    assert_eq!(error_code(res).await, "unauthenticated");
    stack.stop_security();
    let requests = (0..20).map(|_| stack.get("bogus.token.value", "/api/products"));
    for res in futures::future::join_all(requests).await {
        assert_eq!(
            error_code(res).await,
            "unauthenticated",
            "served from the cache"
        );
    }
}
