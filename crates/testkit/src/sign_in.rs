//! Signing a user up and in through a running security service, the way the dashboard does:
//! register, read the code from the mail, verify, log in, read the second code, verify-2fa.

use std::time::Duration;

use serde_json::{json, Value};

use crate::{extract_code, SmtpSink};

/// The tokens of a signed-in user.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub access_token: String,
    pub refresh_token: String,
    pub user_id: String,
}

async fn post(http: &reqwest::Client, url: String, body: Value) -> Value {
    let res = http
        .post(&url)
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "POST {url} answered {status}: {body}");
    body
}

/// Registers `email` at the security service at `base` (its mail goes to `sink`) and signs
/// it in with the mailed second factor.
pub async fn sign_up_and_in(
    http: &reqwest::Client,
    base: &str,
    sink: &SmtpSink,
    email: &str,
    password: &str,
) -> SignedIn {
    let wait = Duration::from_secs(10);
    post(
        http,
        format!("{base}/api/auth/register"),
        json!({ "email": email, "password": password, "full_name": "Test Merchant" }),
    )
    .await;
    let code = extract_code(&sink.wait_for(email, wait).await.text);
    post(
        http,
        format!("{base}/api/auth/verify-email"),
        json!({ "email": email, "code": code }),
    )
    .await;
    let login = post(
        http,
        format!("{base}/api/auth/login"),
        json!({ "email": email, "password": password }),
    )
    .await;
    let code = extract_code(&sink.wait_for(email, wait).await.text);
    let tokens = post(
        http,
        format!("{base}/api/auth/verify-2fa"),
        json!({ "ticket": login["ticket"], "code": code }),
    )
    .await;
    SignedIn {
        access_token: tokens["access_token"]
            .as_str()
            .expect("access token")
            .to_owned(),
        refresh_token: tokens["refresh_token"]
            .as_str()
            .expect("refresh token")
            .to_owned(),
        user_id: tokens["user"]["id"].as_str().expect("user id").to_owned(),
    }
}
