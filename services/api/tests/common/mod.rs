//! Runs the real security service and the real API service side by side, each on a random
//! port with its own schema of the test database, mail going over SMTP to a sink.
#![allow(dead_code)] // each test binary uses a different part

use clap::Parser;
use reqwest::{Response, StatusCode};
use serde_json::Value;
use sm_testkit::{sign_up_and_in, SignedIn, SmtpSink};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::sync::oneshot;

pub const SERVICE_TOKEN: &str = "test-service-token-0123456789abcdef";
pub const PASSWORD: &str = "Sonnenblume-Kaffee-42";
/// base64 of 32 bytes
pub const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
/// What the API service and the sandbox shops share.
pub const SANDBOX_SECRET: &str = "sandbox-test-secret-0123456789abcdef";

pub fn sandbox_secret() -> sm_connectors::sandbox::SandboxSecret {
    sm_connectors::sandbox::SandboxSecret::new(SANDBOX_SECRET.to_owned().into())
}

/// Sandbox shops on a free port: small catalogues, paced a hundred times faster than the
/// vendors, so that no test waits long.
pub async fn sandbox() -> sm_sandbox::Running {
    let mut config = sm_sandbox::SandboxConfig::new(sandbox_secret());
    config.size = sm_sandbox::catalogue::CatalogueSize {
        products: 20,
        orders: 10,
    };
    config.rate_scale = 100.0;
    config.fault_delay = std::time::Duration::from_secs(5);
    // The tests switch faults on through `/_sandbox/faults`.
    config.fault_switch = true;
    sm_sandbox::spawn(config).await.unwrap()
}

/// The API service's settings for the sandbox `running`.
pub fn sandbox_args(running: &sm_sandbox::Running) -> Vec<String> {
    vec![
        "--sandbox-url".to_owned(),
        running.url.to_string(),
        "--sandbox-secret".to_owned(),
        SANDBOX_SECRET.to_owned(),
    ]
}

pub struct Stack {
    pub api: String,
    pub security: String,
    pub http: reqwest::Client,
    pub sink: SmtpSink,
    pub db: PgPool,
    stop_security: Option<oneshot::Sender<()>>,
    _stop_api: oneshot::Sender<()>,
    /// The security service's mail delivery (and pruning).
    _security_background: security::background::Background,
    /// The sync workers of the API service (none unless a test asks: `--sync-workers 2`).
    workers: Option<api::sync::worker::Workers>,
}

fn serve(app: axum::Router, listener: tokio::net::TcpListener) -> oneshot::Sender<()> {
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(sm_http::serve(listener, app, async {
        let _ = stopped.await;
    }));
    stop
}

async fn listener() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

impl Stack {
    pub async fn spawn(db: PgPool) -> Self {
        Self::spawn_with(db, &[]).await
    }

    /// `extra` are additional settings of the API service.
    pub async fn spawn_with(db: PgPool, extra: &[&str]) -> Self {
        Self::spawn_with_api_db(db.clone(), db, extra).await
    }

    /// As [`Stack::spawn_with`], the API service using `api_db` (e.g. a pool through a proxy).
    pub async fn spawn_with_api_db(db: PgPool, api_db: PgPool, extra: &[&str]) -> Self {
        // The security service keeps its tables in a schema of its own in the test database.
        sqlx::query("CREATE SCHEMA security_service")
            .execute(&db)
            .await
            .unwrap();
        let options = (*db.connect_options())
            .clone()
            .options([("search_path", "security_service")]);
        let security_db = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .unwrap();
        security::MIGRATOR.run(&security_db).await.unwrap();

        let sink = SmtpSink::start().await;
        let port = sink.port().to_string();
        let security_config = security::config::Config::try_parse_from([
            "security",
            "--jwt-secret",
            "test-jwt-secret-0123456789abcdef0123456789",
            "--service-token",
            SERVICE_TOKEN,
            "--totp-encryption-key",
            KEY,
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            &port,
            "--smtp-tls",
            "none",
            "--auth-rate-limit-per-minute",
            "100000",
        ])
        .unwrap();
        let (security_listener, security_url) = listener().await;
        let security_state = security::state(&security_config, security_db).unwrap();
        let security_background =
            security::background::Background::start(&security_state, &security_config);
        let security_app = security::router(security_state, &security_config.server);
        let stop_security = serve(security_app, security_listener);

        let mut args = vec![
            "api",
            "--security-service-url",
            &security_url,
            "--service-token",
            SERVICE_TOKEN,
            "--credentials-keys",
            KEY,
        ];
        // No sync runs unless a test asks (clap refuses a setting given twice).
        for default in [["--sync-workers", "0"], ["--sync-interval-secs", "0"]] {
            if !extra.contains(&default[0]) {
                args.extend(default);
            }
        }
        args.extend_from_slice(extra);
        let config = api::config::Config::try_parse_from(args).unwrap();
        let (api_listener, api_url) = listener().await;
        let api_state = api::state(&config, api_db).unwrap();
        let workers = api::sync::worker::start(api_state.clone());
        let api_app = api::router(api_state, &config);
        let stop_api = serve(api_app, api_listener);

        Stack {
            api: api_url,
            security: security_url,
            http: reqwest::Client::new(),
            sink,
            db,
            stop_security: Some(stop_security),
            _security_background: security_background,
            _stop_api: stop_api,
            workers: Some(workers),
        }
    }

    /// Stops the API service's sync workers as a shutdown does (jobs in hand given back).
    pub async fn stop_workers(&mut self) {
        if let Some(workers) = self.workers.take() {
            workers.shutdown().await;
        }
    }

    /// The API service's binary as a separate process on this stack's database, security
    /// service and `sandbox`, with `env` on top (e.g. `SYNC_WORKERS`). Killed when dropped.
    pub fn api_process(
        &self,
        sandbox: Option<&sm_sandbox::Running>,
        env: &[(&str, &str)],
    ) -> ApiProcess {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_api"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url(&self.db))
            .env("SECURITY_SERVICE_URL", &self.security)
            .env("SERVICE_TOKEN", SERVICE_TOKEN)
            .env("CREDENTIALS_KEYS", KEY)
            .env("PORT", "0")
            .env("BIND_ADDR", "127.0.0.1")
            .env("SYNC_WORKERS", "1")
            .env("SYNC_INTERVAL_SECS", "0")
            .env("SYNC_LEASE_SECS", "2")
            .env("RUST_LOG", "info,sqlx=warn")
            .stdin(std::process::Stdio::null());
        if let Some(sandbox) = sandbox {
            command
                .env("SANDBOX_URL", sandbox.url.to_string())
                .env("SANDBOX_SECRET", SANDBOX_SECRET);
        }
        command.envs(env.iter().copied());
        ApiProcess(command.spawn().expect("the api binary starts"))
    }

    /// A new merchant, signed up and in.
    pub async fn merchant(&self, email: &str) -> SignedIn {
        sign_up_and_in(&self.http, &self.security, &self.sink, email, PASSWORD).await
    }

    /// Stops the security service (in-flight requests finish; new ones are refused).
    pub fn stop_security(&mut self) {
        if let Some(stop) = self.stop_security.take() {
            let _ = stop.send(());
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.api, path)
    }

    /// The api's OpenAPI document.
    pub async fn openapi(&self) -> Value {
        self.http
            .get(self.url("/api/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Value,
    ) -> Response {
        self.http
            .request(method, self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> Response {
        self.send(reqwest::Method::POST, token, path, body).await
    }

    pub async fn put(&self, token: &str, path: &str, body: Value) -> Response {
        self.send(reqwest::Method::PUT, token, path, body).await
    }

    pub async fn delete(&self, token: &str, path: &str) -> Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// A merchant with a complete profile and the AVV signed: ready to connect shops.
    pub async fn onboarded(&self, email: &str) -> SignedIn {
        let m = self.merchant(email).await;
        let res = self
            .put(&m.access_token, "/api/profile", complete_profile())
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let res = self
            .post(&m.access_token, "/api/profile/avv-sign", serde_json::json!({ "version": api::avv::CURRENT, "signer_name": "Anna Schmidt", "signer_role": "Geschäftsführerin", "accept": true }))
            .await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "{}",
            res.text().await.unwrap()
        );
        m
    }

    /// A Shopify connection of the merchant, written straight into the database (creating
    /// one through the API checks it with Shopify, which tests cannot reach); returns its id.
    pub async fn shopify(&self, who: &SignedIn, name: &str) -> String {
        self.connection_fixture(who, "shopify", name, "mein-shop.myshopify.com", false)
            .await
            .to_string()
    }

    /// A connection row of the merchant with sealed (meaningless) credentials.
    pub async fn connection_fixture(
        &self,
        who: &SignedIn,
        platform: &str,
        name: &str,
        account_ref: &str,
        sandbox: bool,
    ) -> uuid::Uuid {
        let id = uuid::Uuid::now_v7();
        let keyring = sm_crypto::Keyring::parse(KEY).unwrap();
        let sealed = keyring.seal(br#"{"platform":"shopify","shop_domain":"mein-shop.myshopify.com","access_token":"shpat_0123456789abcdef0123456789abcdef"}"#, id.as_bytes());
        sqlx::query(
            "INSERT INTO connections (id, user_id, platform, shop_name, credentials_enc, credentials_hint, account_ref, sandbox)
             VALUES ($1, $2, $3, $4, $5, 'mein-shop.myshopify.com, token …cdef', $6, $7)",
        )
        .bind(id)
        .bind(who.user_id.parse::<uuid::Uuid>().unwrap())
        .bind(platform)
        .bind(name)
        .bind(sealed)
        .bind(account_ref)
        .bind(sandbox)
        .execute(&self.db)
        .await
        .unwrap();
        id
    }

    pub async fn product(&self, token: &str, body: Value) -> Value {
        let res = self.post(token, "/api/products", body).await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "{}",
            res.text().await.unwrap()
        );
        res.json().await.unwrap()
    }
}

/// The API service's binary running as a child process; killed (SIGKILL) when dropped.
pub struct ApiProcess(pub std::process::Child);

impl ApiProcess {
    /// `kill -9`: the process ends at once, no shutdown runs.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A URL of the database `db` connects to: `DATABASE_URL` (the server the tests use)
/// with the pool's database name (a `#[sqlx::test]` database of its own).
pub fn database_url(db: &PgPool) -> String {
    let server = std::env::var("DATABASE_URL").expect("DATABASE_URL is set for the tests");
    let mut url = url::Url::parse(&server).expect("DATABASE_URL is a URL");
    let options = db.connect_options();
    url.set_path(
        options
            .get_database()
            .expect("the test pool names its database"),
    );
    url.to_string()
}

pub fn complete_profile() -> Value {
    serde_json::json!({
        "company_name": "Müller Handel GmbH", "street": "Hauptstraße 1", "postal_code": "50667", "city": "Köln",
        "country": "DE", "phone": "+49 221 123456", "vat_id": "DE136695976", "billing_email": "buchhaltung@mueller.de",
        "billing_name": "Buchhaltung"
    })
}

pub fn product_body(sku: &str, title: &str, cents: i64, stock: i32) -> Value {
    serde_json::json!({ "sku": sku, "title": title, "price": { "amount": cents, "currency": "EUR" }, "stock": stock })
}

/// The error code of an error answer, after checking its shape.
pub async fn error_code(res: Response) -> String {
    let status = res.status();
    assert!(
        status.is_client_error() || status == StatusCode::SERVICE_UNAVAILABLE,
        "expected an error, got {status}"
    );
    let body: Value = res.json().await.expect("error bodies are JSON");
    assert!(body["error"]["message"].is_string(), "{body}");
    body["error"]["code"]
        .as_str()
        .expect("error code")
        .to_owned()
}
