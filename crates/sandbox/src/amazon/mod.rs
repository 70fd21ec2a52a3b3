//! The Selling Partner API stand-in: Login with Amazon tokens, Orders v0, Listings Items
//! 2021-08-01 and FBA Inventory v1 over each seller's seeded shop, with the usage plans'
//! token buckets and SP-API's error bodies.
//!
//! A seller's shop is `sandbox.shop(Vendor::Amazon, seller_id)`; the seller sells on
//! Amazon.de only.

// Handlers answer refusals early as `Err(Response)`; boxing them would buy nothing.
#![allow(clippy::result_large_err)]

mod auth;
mod inventory;
mod listings;
mod orders;
mod params;
mod throttle;

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::Engine;
use http::{HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use crate::faults::{Fault, Vendor};
use crate::Sandbox;

/// Amazon.de, the one marketplace of every sandbox seller.
const MARKETPLACE: &str = "A1PA6795UKMFR9";
const CURRENCY: &str = "EUR";

pub fn router() -> Router<Sandbox> {
    Router::new()
        .route("/auth/o2/token", post(auth::token))
        .route("/orders/v0/orders", get(orders::get_orders))
        .route("/orders/v0/orders/{order_id}", get(orders::get_order))
        .route(
            "/orders/v0/orders/{order_id}/orderItems",
            get(orders::get_order_items),
        )
        .route(
            "/listings/2021-08-01/items/{seller_id}",
            get(listings::search),
        )
        .route(
            "/listings/2021-08-01/items/{seller_id}/{sku}",
            get(listings::get_item).patch(listings::patch_item),
        )
        .route("/fba/inventory/v1/summaries", get(inventory::summaries))
        // Each router has its own buckets, so two sandboxes in one test process never share.
        .layer(Extension(Arc::new(throttle::Buckets::default())))
}

/// The vendor's answer for an injected server error or throttle.
pub fn fault_answer(fault: Fault) -> Response {
    match fault {
        Fault::Throttle => throttle::quota_exceeded(),
        _ => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            errors(
                "InternalFailure",
                "We encountered an internal error. Please try again.",
                "",
            ),
        ),
    }
}

/// What the stand-in counts per seller, for tests.
#[derive(Debug, Default)]
struct Counters {
    token_calls: u64,
    throttled: u64,
}

fn counters<R>(sandbox: &Sandbox, seller_id: &str, f: impl FnOnce(&mut Counters) -> R) -> R {
    sandbox.shop(Vendor::Amazon, seller_id).with_extra(f)
}

/// How many access tokens the seller was issued (for tests of the client's token cache).
pub fn token_calls(sandbox: &Sandbox, seller_id: &str) -> u64 {
    counters(sandbox, seller_id, |c| c.token_calls)
}

/// How many of the seller's requests were refused as over quota (injected faults aside).
pub fn throttled(sandbox: &Sandbox, seller_id: &str) -> u64 {
    counters(sandbox, seller_id, |c| c.throttled)
}

/// `{"errors":[{code, message, details}]}`, SP-API's error body.
fn errors(code: &str, message: &str, details: &str) -> Value {
    json!({ "errors": [{ "code": code, "message": message, "details": details }] })
}

/// A JSON answer with its `x-amzn-RequestId`.
fn answer(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    let id = uuid::Uuid::new_v4().to_string();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-amzn-RequestId", value);
    }
    response
}

/// Opaque page tokens: the position and filter of the next page, as base64url JSON.
fn encode_token<T: Serialize>(state: &T) -> String {
    let json = serde_json::to_vec(state).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_token<T: DeserializeOwned>(token: &str) -> Option<T> {
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    serde_json::from_slice(&json).ok()
}

/// Cents as SP-API's decimal string (`"19.99"`).
fn amount(cents: i64) -> String {
    sm_connectors::money::decimal(cents)
}

/// A stable pseudo-random number for a seller's thing (ASINs, order ids).
fn digest(seller_id: &str, kind: &str, index: usize) -> u64 {
    crate::fnv1a(format!("{seller_id}\0{kind}\0{index}").as_bytes())
}

/// The ASIN of a seller's product: `B0` and eight letters or digits.
fn asin(seller_id: &str, index: usize) -> String {
    let mut n = digest(seller_id, "asin", index);
    let mut tail = String::with_capacity(8);
    for _ in 0..8 {
        tail.push(char::from(
            b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(n % 36) as usize],
        ));
        n /= 36;
    }
    format!("B0{tail}")
}

fn date(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_have_two_decimals() {
        assert_eq!(amount(1999), "19.99");
        assert_eq!(amount(5), "0.05");
        assert_eq!(amount(-120), "-1.20");
    }

    #[test]
    fn page_tokens_round_trip() {
        let token = encode_token(&(7usize, "x"));
        assert_eq!(
            decode_token::<(usize, String)>(&token),
            Some((7, "x".into()))
        );
        assert_eq!(decode_token::<(usize, String)>("not a token"), None);
    }

    #[test]
    fn asins_look_like_amazons() {
        let a = asin("A1", 3);
        assert_eq!(a.len(), 10);
        assert!(a.starts_with("B0"));
        assert_ne!(a, asin("A1", 4));
    }
}
