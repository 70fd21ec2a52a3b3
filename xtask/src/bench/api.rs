//! The security service's HTTP API as the bench uses it: signing users up and logging
//! them in (codes read from the mail outbox), and the request loops' calls.

use std::{path::PathBuf, time::Duration};

use anyhow::{anyhow, Context, Result};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use sqlx::types::Uuid;
use tokio::task::JoinSet;

use super::{load::Call, mail};

pub struct User {
    pub email: String,
    pub password: String,
}

impl User {
    pub fn new(n: usize) -> Self {
        Self {
            email: format!("bench{n}@example.com"),
            password: format!("Bench {n}: correct horse battery staple"),
        }
    }
}

/// A logged-in user: the bearer token and the user id it stands for.
pub struct Session {
    pub access_token: String,
    pub user_id: Uuid,
}

#[derive(Clone)]
pub struct Api {
    http: Client,
    base: String,
    outbox: PathBuf,
    service_token: String,
}

impl Api {
    pub fn new(base: &str, outbox: &std::path::Path, service_token: &str) -> Result<Self> {
        Ok(Self {
            http: client()?,
            base: base.to_owned(),
            outbox: outbox.to_owned(),
            service_token: service_token.to_owned(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post(&self, path: &str, body: Value, want: StatusCode) -> Result<Value> {
        let response = self.http.post(self.url(path)).json(&body).send().await;
        let body = check(response, want)
            .await
            .map_err(|err| anyhow!("POST {path}: {err}"))?;
        Ok(serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// Registers every user and verifies their email addresses, all at once.
    pub async fn sign_up_all(&self, users: &[User]) -> Result<()> {
        let mut tasks = JoinSet::new();
        for user in users {
            let (api, email, password) = (self.clone(), user.email.clone(), user.password.clone());
            tasks.spawn(async move { api.sign_up(&email, &password).await });
        }
        while let Some(result) = tasks.join_next().await {
            result??;
        }
        Ok(())
    }

    async fn sign_up(&self, email: &str, password: &str) -> Result<()> {
        let seen = mail::snapshot(&self.outbox);
        let body = json!({
            "email": email, "password": password, "full_name": "Bench User", "language": "en",
        });
        self.post("/api/auth/register", body, StatusCode::ACCEPTED)
            .await?;
        let code = mail::wait_for_code(&self.outbox, email, &seen).await?;
        let body = json!({ "email": email, "code": code });
        self.post("/api/auth/verify-email", body, StatusCode::OK)
            .await?;
        Ok(())
    }

    /// Logs `user` in with the emailed second factor.
    pub async fn log_in(&self, user: &User) -> Result<Session> {
        let seen = mail::snapshot(&self.outbox);
        let body = json!({ "email": user.email, "password": user.password });
        let login = self.post("/api/auth/login", body, StatusCode::OK).await?;
        let ticket = login["ticket"]
            .as_str()
            .context("login answered no ticket")?;
        let code = mail::wait_for_code(&self.outbox, &user.email, &seen).await?;
        let body = json!({ "ticket": ticket, "code": code });
        let tokens = self
            .post("/api/auth/verify-2fa", body, StatusCode::OK)
            .await?;
        let access_token = tokens["access_token"]
            .as_str()
            .context("verify-2fa answered no access_token")?;
        let user_id = tokens["user"]["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .context("verify-2fa answered no user id")?;
        Ok(Session {
            access_token: access_token.to_owned(),
            user_id,
        })
    }

    /// GET /health/live.
    pub fn live(&self) -> Call {
        let (http, url) = (self.http.clone(), self.url("/health/live"));
        expect_ok(move |_| http.get(&url))
    }

    /// The first step of logging in (password check), client `n` as user `n`.
    pub fn login(&self, users: Vec<User>) -> Call {
        let (http, url) = (self.http.clone(), self.url("/api/auth/login"));
        expect_ok(move |n| {
            let user = &users[n % users.len()];
            http.post(&url)
                .json(&json!({ "email": user.email, "password": user.password }))
        })
    }

    /// Token introspection with the service credential; the token must be active.
    pub fn introspect(&self, token: String) -> Call {
        let (http, url) = (self.http.clone(), self.url("/api/auth/introspect"));
        let service_token = self.service_token.clone();
        Box::new(move |_| {
            let request = http
                .post(&url)
                .bearer_auth(&service_token)
                .json(&json!({ "token": token }));
            Box::pin(async move {
                let body = check(request.send().await, StatusCode::OK).await?;
                let answer: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
                match answer["active"].as_bool() {
                    Some(true) => Ok(()),
                    _ => Err(format!("token not active: {answer}")),
                }
            })
        })
    }
}

/// The bench's HTTP client: loopback only, never through a proxy.
pub fn client() -> Result<Client> {
    Ok(Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// A call sending the request `request(n)` makes for client `n`, expecting 200.
pub fn expect_ok(request: impl Fn(usize) -> RequestBuilder + Send + Sync + 'static) -> Call {
    Box::new(move |n| {
        let request = request(n);
        Box::pin(async move { check(request.send().await, StatusCode::OK).await.map(drop) })
    })
}

/// The body of a response with status `want`, or what went wrong.
pub async fn check(
    response: reqwest::Result<Response>,
    want: StatusCode,
) -> Result<Vec<u8>, String> {
    let response = response.map_err(|err| err.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|err| err.to_string())?;
    if status != want {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
    }
    Ok(body.to_vec())
}

/// Fills in the company profile and signs the current AVV, as a merchant does before
/// connecting a shop.
pub async fn sign_avv(api_base: &str, token: &str) -> Result<()> {
    let http = client()?;
    let call = |method, path: &'static str, body: Option<Value>| {
        let mut request = http
            .request(method, format!("{api_base}{path}"))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await?;
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                return Err(anyhow!("{path}: {status} {body}"));
            }
            Ok(body)
        }
    };
    let profile = json!({
        "company_name": "Probe GmbH", "street": "Teststraße 1", "postal_code": "10115",
        "city": "Berlin", "country": "DE", "phone": "+49 30 1234567",
        "billing_email": "billing@example.com", "billing_name": "Buchhaltung",
    });
    call(Method::PUT, "/api/profile", Some(profile)).await?;
    let avv = call(reqwest::Method::GET, "/api/profile/avv", None).await?;
    let signature = json!({
        "version": avv["version"], "signer_name": "Anna Schmidt",
        "signer_role": "Geschäftsführerin", "accept": true,
    });
    call(Method::POST, "/api/profile/avv-sign", Some(signature)).await?;
    Ok(())
}
