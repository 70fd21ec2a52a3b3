//! What every service offers: health, OpenAPI, request ids, CORS, secure cookies.

mod common;

use common::{TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn health_and_openapi(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let res = app.http.get(app.url("/health/live")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.http.get(app.url("/health/ready")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let doc: Value = app
        .http
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/verify-2fa",
        "/api/auth/refresh-token",
        "/api/auth/logout",
        "/api/auth/logout-all",
        "/api/auth/me",
        "/api/auth/verify-email",
        "/api/auth/resend-verification",
        "/api/auth/password-reset/request",
        "/api/auth/password-reset/confirm",
        "/api/auth/change-password",
        "/api/auth/sessions",
        "/api/auth/sessions/{id}",
        "/api/auth/totp/setup",
        "/api/auth/totp/enable",
        "/api/auth/totp/disable",
        "/api/auth/totp/recovery-codes",
        "/api/auth/introspect",
        "/api/admin/users/{id}/disable",
        "/api/admin/users/{id}/enable",
        "/health/live",
        "/health/ready",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert_eq!(
        sm_testkit::openapi::undocumented_answers(&doc),
        Vec::<String>::new()
    );
    let anonymous = |method, path| sm_testkit::openapi::is_anonymous(&doc, method, path);
    assert!(anonymous("get", "/health/ready"));
    assert!(anonymous("post", "/api/auth/login"));
    assert!(!anonymous("get", "/api/auth/me"));
    let register = &doc["components"]["schemas"]["RegisterRequest"]["properties"];
    let password = &register["password"];
    assert_eq!(
        (&password["minLength"], &password["maxLength"]),
        (&json!(8), &json!(128))
    );
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn readiness_fails_with_503_when_the_database_is_gone(db: PgPool) {
    let app = TestApp::spawn(db.clone()).await;
    db.close().await;
    let res = app.http.get(app.url("/health/ready")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "database_unavailable");
    assert_eq!(
        app.http
            .get(app.url("/health/live"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn request_ids_are_set_echoed_and_reported(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let res = app.http.get(app.url("/health/live")).send().await.unwrap();
    assert!(res.headers().contains_key("x-request-id"));
    let res = app
        .http
        .get(app.url("/nope"))
        .header("x-request-id", "req-from-upstream")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "req-from-upstream");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["request_id"], "req-from-upstream");
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn cors_admits_only_the_dashboard(db: PgPool) {
    let app = TestApp::spawn_with(db, &["--cors-origin=https://start.shopmarkets.app"]).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/api/auth/login"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let res = preflight("https://start.shopmarkets.app").await.unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://start.shopmarkets.app"
    );
    assert_eq!(res.headers()["access-control-allow-credentials"], "true");
    let res = preflight("https://evil.example").await.unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn refresh_cookie_is_secure_by_default(db: PgPool) {
    let app = TestApp::spawn_with(
        db,
        &[
            "--auth-rate-limit-per-minute=1000",
            "--cookie-domain=shopmarkets.app",
        ],
    )
    .await;
    let email = "cookie@example.de";
    app.verified_user(email).await;
    let ticket = app.login_ticket(email, PASSWORD).await;
    let code = app.code_for(email).await;
    let res = app
        .post(
            "/api/auth/verify-2fa",
            json!({ "ticket": ticket, "code": code }),
        )
        .await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    for part in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Domain=shopmarkets.app",
        "Path=/api/auth",
        "Max-Age=2592000",
    ] {
        assert!(cookie.contains(part), "{part} missing in {cookie}");
    }
    let tokens = common::tokens(res).await;
    let res = app
        .post_auth("/api/auth/logout", &tokens.access, json!({}))
        .await;
    let cleared = res.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("sm_refresh=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
}

/// The service's own pool, built from its settings, on the database at `url`.
fn pool_at(url: &str) -> PgPool {
    #[derive(clap::Parser)]
    struct Settings {
        #[command(flatten)]
        database: sm_config::DatabaseArgs,
    }
    <Settings as clap::Parser>::parse_from(["security", "--database-url", url])
        .database
        .pool("security")
        .unwrap()
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn a_database_that_goes_away_answers_503_promptly_and_recovers(db: PgPool) {
    use std::time::{Duration, Instant};
    let (proxy, url) = sm_testkit::TcpProxy::postgres(&db).await;
    let app = TestApp::spawn(pool_at(&url)).await;
    let tokens = app.signed_in("anna@example.de").await;
    let me = app.get_auth("/api/auth/me", &tokens.access).await;
    assert_eq!(me.status(), StatusCode::OK);

    proxy.cut();
    for path in ["/api/auth/me", "/health/ready"] {
        let started = Instant::now();
        let res = app.get_auth(path, &tokens.access).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "database_unavailable", "{path}");
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "{path} took {:?}",
            started.elapsed()
        );
    }

    // Back at once when the database is.
    proxy.restore().await;
    let res = app.http.get(app.url("/health/ready")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let me = app.get_auth("/api/auth/me", &tokens.access).await;
    assert_eq!(me.status(), StatusCode::OK);
}
