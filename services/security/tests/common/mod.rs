//! Runs the real service on a random port against a fresh database, with mail going over
//! SMTP to a sink the test reads from.
#![allow(dead_code)] // each test binary uses a different part

use std::time::Duration;

use clap::Parser;
use reqwest::{Response, StatusCode};
use security::background::Background;
use security::config::Config;
use security::state::AppState;
use serde_json::{json, Value};
use sm_testkit::{extract_code, SmtpSink, TcpProxy};
use sqlx::PgPool;
use tokio::sync::oneshot;

pub const SERVICE_TOKEN: &str = "test-service-token-0123456789abcdef";
pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdef0123456789";
/// base64 of 32 bytes
pub const TOTP_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
pub const PASSWORD: &str = "Sonnenblume-Kaffee-42";
const MAIL_WAIT: Duration = Duration::from_secs(10);

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub sink: SmtpSink,
    pub db: PgPool,
    pub state: AppState,
    pub config: Config,
    /// Mail delivery and pruning; `None` until started.
    pub background: Option<Background>,
    _stop: oneshot::Sender<()>,
}

#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub body: Value,
}

impl TestApp {
    /// The service with per-IP limits and the platform mail budget out of the way.
    pub async fn spawn(db: PgPool) -> Self {
        let extra = [
            "--auth-rate-limit-per-minute=100000",
            "--mail-budget-per-minute=100000",
            "--mail-budget-per-hour=100000",
        ];
        Self::spawn_with(db, &extra).await
    }

    /// The service with extra command-line settings.
    pub async fn spawn_with(db: PgPool, extra: &[&str]) -> Self {
        let mut app = Self::spawn_without_delivery(db, extra).await;
        app.start_delivery();
        app
    }

    /// The HTTP service alone: mail is queued in the outbox but not delivered until
    /// [`TestApp::start_delivery`].
    pub async fn spawn_without_delivery(db: PgPool, extra: &[&str]) -> Self {
        let sink = SmtpSink::start().await;
        let port = sink.port();
        Self::build(db, extra, sink, port).await
    }

    /// The service (delivering) with its SMTP traffic going through a proxy the test can cut.
    pub async fn spawn_with_smtp_proxy(db: PgPool, extra: &[&str]) -> (Self, TcpProxy) {
        let sink = SmtpSink::start().await;
        let proxy = TcpProxy::start(([127, 0, 0, 1], sink.port()).into()).await;
        let mut app = Self::build(db, extra, sink, proxy.addr().port()).await;
        app.start_delivery();
        (app, proxy)
    }

    async fn build(db: PgPool, extra: &[&str], sink: SmtpSink, smtp_port: u16) -> Self {
        let config = test_config(smtp_port, extra);
        let state = security::state(&config, db.clone()).expect("state builds");
        let app = security::router(state.clone(), &config.server);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(sm_http::serve(listener, app, async {
            let _ = stopped.await;
        }));
        TestApp {
            base,
            http: reqwest::Client::new(),
            sink,
            db,
            state,
            config,
            background: None,
            _stop: stop,
        }
    }

    /// Starts the background tasks: the outbox worker and the pruning.
    pub fn start_delivery(&mut self) {
        if self.background.is_none() {
            self.background = Some(Background::start(&self.state, &self.config));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_auth(&self, path: &str, token: &str, body: Value) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn code_for(&self, email: &str) -> String {
        let mail = self.sink.wait_for(email, MAIL_WAIT).await;
        extract_code(&mail.text)
    }

    pub async fn register(&self, email: &str) {
        let res = self
            .post("/api/auth/register", json!({ "email": email, "password": PASSWORD, "full_name": "Anna Schmidt", "language": "en" }))
            .await;
        expect(res, StatusCode::ACCEPTED).await;
    }

    /// Registers and verifies an account.
    pub async fn verified_user(&self, email: &str) {
        self.register(email).await;
        let code = self.code_for(email).await;
        let res = self
            .post(
                "/api/auth/verify-email",
                json!({ "email": email, "code": code }),
            )
            .await;
        expect(res, StatusCode::OK).await;
    }

    /// The password step; returns the ticket.
    pub async fn login_ticket(&self, email: &str, password: &str) -> String {
        let res = self
            .post(
                "/api/auth/login",
                json!({ "email": email, "password": password }),
            )
            .await;
        let res = expect(res, StatusCode::OK).await;
        let body: Value = res.json().await.unwrap();
        body["ticket"].as_str().unwrap().to_owned()
    }

    /// Both steps with the mailed code.
    pub async fn login(&self, email: &str) -> Tokens {
        let ticket = self.login_ticket(email, PASSWORD).await;
        let code = self.code_for(email).await;
        let res = self
            .post(
                "/api/auth/verify-2fa",
                json!({ "ticket": ticket, "code": code }),
            )
            .await;
        let res = expect(res, StatusCode::OK).await;
        tokens(res).await
    }

    /// A verified user, logged in.
    pub async fn signed_in(&self, email: &str) -> Tokens {
        self.verified_user(email).await;
        self.login(email).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post(
            "/api/auth/refresh-token",
            json!({ "refresh_token": refresh_token }),
        )
        .await
    }

    pub async fn introspect(&self, token: &str) -> Value {
        let res = self
            .post_auth(
                "/api/auth/introspect",
                SERVICE_TOKEN,
                json!({ "token": token }),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    pub async fn user_id(&self, email: &str) -> uuid::Uuid {
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }
}

/// Asserts the status, showing the body when it differs.
pub async fn expect(res: Response, status: StatusCode) -> Response {
    if res.status() != status {
        panic!(
            "expected {status}, got {}: {}",
            res.status(),
            res.text().await.unwrap()
        );
    }
    res
}

pub async fn tokens(res: Response) -> Tokens {
    let body: Value = res.json().await.unwrap();
    Tokens {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        body,
    }
}

/// The error code of an error answer, after checking its shape.
pub async fn error_code(res: Response) -> String {
    let status = res.status();
    assert!(status.is_client_error(), "expected a 4xx, got {status}");
    let body: Value = res.json().await.expect("error bodies are JSON");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body["error"]["request_id"].is_string(), "{body}");
    body["error"]["code"]
        .as_str()
        .expect("error code")
        .to_owned()
}

/// The service's settings in tests: the test secrets, mail over SMTP to `smtp_port` on
/// loopback, and `extra`.
pub fn test_config(smtp_port: u16, extra: &[&str]) -> Config {
    let port = smtp_port.to_string();
    let mut args = vec![
        "security",
        "--jwt-secret",
        JWT_SECRET,
        "--service-token",
        SERVICE_TOKEN,
        "--totp-encryption-key",
        TOTP_KEY,
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &port,
        "--smtp-tls",
        "none",
    ];
    args.extend_from_slice(extra);
    Config::try_parse_from(args).expect("test configuration parses")
}
