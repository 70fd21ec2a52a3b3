//! Login with Amazon's token endpoint and the access-token check of every SP-API call.
//!
//! Access tokens carry their seller and expiry under an HMAC of the sandbox secret, so
//! the stand-in keeps no token state.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::response::Response;
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::{answer, counters, errors};
use crate::Sandbox;

/// Seconds an access token lives, as LWA grants.
const LIFETIME: i64 = 3600;

#[derive(Deserialize, Default)]
struct TokenRequest {
    grant_type: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn lwa_error(status: StatusCode, error: &str, description: &str) -> Response {
    answer(
        status,
        json!({ "error": error, "error_description": description }),
    )
}

/// `POST /auth/o2/token`, form-encoded or JSON: refresh token → access token.
pub(super) async fn token(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_json = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let request = if is_json {
        match serde_json::from_slice::<TokenRequest>(&body) {
            Ok(request) => request,
            Err(_) => {
                return lwa_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "The request body is not valid JSON",
                )
            }
        }
    } else {
        let mut request = TokenRequest::default();
        for (key, value) in url::form_urlencoded::parse(&body).into_owned() {
            match key.as_str() {
                "grant_type" => request.grant_type = Some(value),
                "refresh_token" => request.refresh_token = Some(value),
                "client_id" => request.client_id = Some(value),
                "client_secret" => request.client_secret = Some(value),
                _ => {}
            }
        }
        request
    };
    let missing = |name: &str| {
        lwa_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("The request is missing a required parameter : {name}"),
        )
    };
    let Some(grant_type) = request.grant_type else {
        return missing("grant_type");
    };
    if grant_type != "refresh_token" {
        return lwa_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server",
        );
    }
    let (client_id, client_secret) = sandbox.secret().amazon_app();
    let id_matches = request.client_id.as_deref() == Some(client_id.as_str());
    let secret_matches = request.client_secret.as_deref().is_some_and(|given| {
        bool::from(
            given
                .as_bytes()
                .ct_eq(client_secret.expose_secret().as_bytes()),
        )
    });
    if !(id_matches && secret_matches) {
        return lwa_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    let Some(refresh_token) = request.refresh_token else {
        return missing("refresh_token");
    };
    let Some(seller) = sandbox.secret().amazon_refresh_token_seller(&refresh_token) else {
        return lwa_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The request has an invalid grant parameter : refresh_token",
        );
    };
    counters(&sandbox, &seller, |c| c.token_calls += 1);
    let expires_at = chrono::Utc::now().timestamp() + LIFETIME;
    answer(
        StatusCode::OK,
        json!({
            "access_token": sandbox.secret().amazon_access_token(&seller, expires_at),
            "refresh_token": refresh_token,
            "token_type": "bearer",
            "expires_in": LIFETIME,
        }),
    )
}

/// The seller whose valid `x-amz-access-token` came with the request.
pub(super) struct Seller(pub String);

impl FromRequestParts<Sandbox> for Seller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, sandbox: &Sandbox) -> Result<Self, Response> {
        parts
            .headers
            .get("x-amz-access-token")
            .and_then(|v| v.to_str().ok())
            .and_then(|token| {
                sandbox
                    .secret()
                    .amazon_access_token_seller(token, chrono::Utc::now().timestamp())
            })
            .map(Seller)
            .ok_or_else(|| {
                denied("The access token you provided is revoked, malformed or invalid.")
            })
    }
}

impl Seller {
    /// A `sellerId` in the path must be the token's own.
    pub(super) fn owns(&self, seller_id: &str) -> Result<(), Response> {
        if self.0 == seller_id {
            Ok(())
        } else {
            Err(denied(""))
        }
    }
}

/// SP-API's 403.
fn denied(details: &str) -> Response {
    answer(
        StatusCode::FORBIDDEN,
        errors(
            "Unauthorized",
            "Access to requested resource is denied.",
            details,
        ),
    )
}
