//! The Shopify stand-in: Admin GraphQL API 2025-01 (a small, honest subset of the schema,
//! with Shopify's error shapes and cost-based throttling), the public-app OAuth flow and
//! `products/update` webhooks. Nested under `/shopify/{shop}`, `shop` being the
//! shop's myshopify domain.

mod analyse;
mod connection;
mod cost;
mod execute;
mod graphql;
mod mutations;
mod oauth;
mod orders;
mod products;
mod query;
mod resolve;
mod schema;
mod state;
mod webhooks;

use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;
use serde_json::json;

pub use oauth::MAX_PENDING_CODES;

use crate::faults::{Fault, Vendor};
use crate::Sandbox;

/// The one Admin API version served; others answer 404.
pub const API_VERSION: &str = "2025-01";

pub fn router() -> Router<Sandbox> {
    Router::new()
        .route("/admin/api/{version}/graphql.json", post(graphql::endpoint))
        .route("/admin/oauth/authorize", get(oauth::authorize))
        .route("/admin/oauth/access_token", post(oauth::access_token))
}

/// The vendor's answer for an injected server error or throttle. Shopify's GraphQL API
/// throttles with HTTP 200 and a `THROTTLED` error (not 429), so that is what an
/// injected throttle gives; it does not count in [`throttled_count`], which counts only
/// requests the cost bucket refused.
pub fn fault_answer(fault: Fault) -> Response {
    match fault {
        Fault::Throttle => Json(graphql::throttled_answer(1, cost::injected_status())).into_response(),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({
                "errors": format!(
                    "Internal error. Looks like something went wrong on our end.\nRequest ID: {}\n(include this in support requests).",
                    uuid::Uuid::new_v4()
                ),
            })),
        )
            .into_response(),
    }
}

/// How many requests to `shop` (its myshopify domain) the cost bucket refused with
/// `THROTTLED`. A client that paces itself by `extensions.cost` keeps this at 0.
pub fn throttled_count(sandbox: &Sandbox, shop: &str) -> u64 {
    state::with_state(&sandbox.shop(Vendor::Shopify, shop), |s| s.throttled)
}

/// What a shop's cost bucket has given so far, for measuring a client's pacing: the
/// budget it used and the THROTTLED answers it got.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Usage {
    /// The actual cost of every answered query.
    pub spent_points: u64,
    /// Requests the bucket refused (injected throttles not counted).
    pub throttled: u64,
    pub currently_available: f64,
    pub maximum_available: f64,
    pub restore_rate: f64,
}

pub fn usage(sandbox: &Sandbox, shop: &str) -> Usage {
    let restore_rate = sandbox.rate(cost::RESTORE_RATE);
    state::with_state(&sandbox.shop(Vendor::Shopify, shop), |s| {
        let now = cost::take(s, 0, restore_rate).unwrap_or_else(|status| status);
        Usage {
            spent_points: s.spent,
            throttled: s.throttled,
            currently_available: now.currently_available,
            maximum_available: cost::MAXIMUM_AVAILABLE,
            restore_rate,
        }
    })
}
