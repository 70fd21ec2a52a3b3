//! The public-app install flow. The sandbox has no consent screen: `authorize` approves at
//! once and sends the browser back with a signed callback; `access_token` trades the code
//! (single use, ten minutes, bound to its shop) for the shop's access token.
//!
//! Like Shopify, `authorize` sends the browser only to a redirect URI the app registered:
//! the sandbox app is ShopMarkets, whose one callback is `/api/shopify/callback` (on
//! whichever host the api serves, so any origin with that path). Granted scopes stay
//! granted until the app is uninstalled or revokes them (Shopify's `AccessScope`: "The
//! granted scopes remain active until the merchant uninstalls the app or revokes them"),
//! so a later install adds to what an earlier one granted and never lowers it.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use chrono::{Duration, Utc};
use http::{HeaderMap, StatusCode};
use rand::Rng;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sm_connectors::shopify::oauth::{callback_hmac, is_shop_domain, App, SCOPES};
use subtle::ConstantTimeEq;

use super::execute::Out;
use super::resolve::{gid, Ctx, Obj};
use super::state::{with_state, PendingCode};
use crate::faults::Vendor;
use crate::Sandbox;

/// How long an authorization code stays good.
const CODE_LIFETIME_MINUTES: i64 = 10;
/// Codes waiting for their exchange, per shop; beyond it the oldest is dropped, so opening
/// the authorize page over and over cannot grow the shop's state.
pub const MAX_PENDING_CODES: usize = 50;
/// Longest `scope` parameter kept with a pending code (every Admin API scope together is
/// shorter).
const MAX_SCOPE_LEN: usize = 2_048;
/// The path of the ShopMarkets app's registered redirect URI.
const CALLBACK_PATH: &str = "/api/shopify/callback";

fn app(sandbox: &Sandbox) -> App {
    let (api_key, api_secret) = sandbox.secret().shopify_app();
    App {
        api_key,
        api_secret,
    }
}

fn digest(code: &str) -> String {
    hex::encode(Sha256::digest(code.as_bytes()))
}

fn oauth_error_page(error: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        format!("Oauth error {error}: {message}"),
    )
        .into_response()
}

/// `GET /admin/oauth/authorize?client_id&scope&redirect_uri&state`
pub async fn authorize(
    State(sandbox): State<Sandbox>,
    Path(shop): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    if !is_shop_domain(&shop) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let app = app(&sandbox);
    if param("client_id") != Some(app.api_key.as_str()) {
        return oauth_error_page("invalid_request", "The client_id is not valid.");
    }
    let redirect = param("redirect_uri")
        .and_then(|u| url::Url::parse(u).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.path() == CALLBACK_PATH);
    let Some(mut redirect) = redirect else {
        return oauth_error_page(
            "invalid_request",
            "The redirect_uri is missing or not whitelisted.",
        );
    };
    let scope = param("scope").unwrap_or_default().to_owned();
    if scope.len() > MAX_SCOPE_LEN {
        return oauth_error_page("invalid_scope", "The access scope is invalid.");
    }
    let code = hex::encode(rand::thread_rng().gen::<[u8; 16]>());
    with_state(&sandbox.shop(Vendor::Shopify, &shop), |state| {
        let now = Utc::now();
        state.codes.retain(|c| c.expires > now);
        let excess = (state.codes.len() + 1).saturating_sub(MAX_PENDING_CODES);
        state.codes.drain(..excess);
        state.codes.push(PendingCode {
            sha256: digest(&code),
            scope,
            expires: now + Duration::minutes(CODE_LIFETIME_MINUTES),
        });
    });
    let store = shop.trim_end_matches(".myshopify.com");
    let mut callback = vec![
        ("code".to_owned(), code),
        (
            "host".to_owned(),
            base64::engine::general_purpose::STANDARD_NO_PAD
                .encode(format!("admin.shopify.com/store/{store}")),
        ),
        ("shop".to_owned(), shop.clone()),
        (
            "state".to_owned(),
            param("state").unwrap_or_default().to_owned(),
        ),
        ("timestamp".to_owned(), Utc::now().timestamp().to_string()),
    ];
    let hmac = callback_hmac(&app, &callback);
    callback.push(("hmac".to_owned(), hmac));
    redirect.query_pairs_mut().extend_pairs(&callback);
    // 302 like Shopify (axum's `Redirect::to` answers 303).
    (
        StatusCode::FOUND,
        [(http::header::LOCATION, redirect.to_string())],
    )
        .into_response()
}

fn token_error(description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_request", "error_description": description})),
    )
        .into_response()
}

/// `POST /admin/oauth/access_token` with `client_id`, `client_secret`, `code` as JSON or
/// as a form.
pub async fn access_token(
    State(sandbox): State<Sandbox>,
    Path(shop): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_shop_domain(&shop) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let form = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let fields: Vec<(String, String)> = if form {
        url::form_urlencoded::parse(&body).into_owned().collect()
    } else {
        serde_json::from_slice::<serde_json::Map<String, Value>>(&body)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
            .collect()
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let app = app(&sandbox);
    let secret_ok: bool = field("client_secret")
        .as_bytes()
        .ct_eq(app.api_secret.expose_secret().as_bytes())
        .into();
    if field("client_id") != app.api_key || !secret_ok {
        return token_error("The client credentials are invalid.");
    }
    let presented = digest(field("code"));
    let granted = with_state(&sandbox.shop(Vendor::Shopify, &shop), |state| {
        // Single use: a presented code is gone whether or not it was still fresh.
        let position = state.codes.iter().position(|c| c.sha256 == presented)?;
        let pending = state.codes.remove(position);
        if pending.expires <= Utc::now() {
            return None;
        }
        // One installation per (app, shop), holding every scope granted to it so far.
        let scopes = merge_scopes(state.scopes.as_deref(), &pending.scope);
        state.scopes = Some(scopes.clone());
        Some(scopes)
    });
    match granted {
        Some(scope) => Json(json!({
            "access_token": sandbox.secret().shopify_token(&shop),
            "scope": scope,
        }))
        .into_response(),
        None => token_error("The authorization code was not found or was already used"),
    }
}

/// The scopes of an installation (comma-separated; `None` before the first install) after
/// the merchant approves `approved`: what it had, then what is new, each once.
fn merge_scopes(granted: Option<&str>, approved: &str) -> String {
    let mut scopes: Vec<&str> = Vec::new();
    for scope in granted
        .unwrap_or_default()
        .split(',')
        .chain(approved.split(','))
        .map(str::trim)
    {
        if !scope.is_empty() && !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    scopes.join(",")
}

/// `currentAppInstallation`: the app's installation on the shop, with the scopes the
/// merchant granted.
pub fn app_installation(ctx: &Ctx<'_>) -> Obj {
    let scopes =
        with_state(&ctx.shop, |state| state.scopes.clone()).unwrap_or_else(|| SCOPES.to_owned());
    let scopes = scopes
        .split(',')
        .map(str::trim)
        .filter(|handle| !handle.is_empty())
        .map(|handle| Obj::Bag {
            type_name: "AccessScope",
            fields: vec![
                ("handle", Out::Leaf(json!(handle))),
                (
                    "description",
                    Out::Leaf(json!(format!(
                        "Allows the app to {}.",
                        handle.replace('_', " ")
                    ))),
                ),
            ],
        })
        .collect();
    Obj::Bag {
        type_name: "AppInstallation",
        fields: vec![
            ("id", Out::Leaf(json!(gid("AppInstallation", 1)))),
            ("accessScopes", Out::List(scopes)),
        ],
    }
}
