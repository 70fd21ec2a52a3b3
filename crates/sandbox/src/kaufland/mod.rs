//! The Kaufland Seller API v2 stand-in, nested under `/kaufland/v2`.
//!
//! Every route but `/status/ping` (which Kaufland answers without credentials) checks the
//! signature and the seller's rate ([`auth`]); each client key is one seller with its own
//! shop, selling on storefront `de`. Answers carry exactly the properties of the swagger's
//! schemas, prices in cents.

mod auth;
mod orders;
mod params;
mod problem;
mod units;

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use http::StatusCode;
use serde_json::json;

use auth::Signed;
pub use auth::{throttled, TIMESTAMP_WINDOW_SECS};
pub use orders::id_order;
use params::STOREFRONT;
use problem::Problem;
pub use units::unit_id;

use crate::faults::{Fault, Vendor};
use crate::shops::Shop;
use crate::Sandbox;

pub fn router() -> Router<Sandbox> {
    let routes: [(&str, MethodRouter<Sandbox>); 8] = [
        ("/status/ping", get(ping)),
        ("/info/storefront", get(storefronts)),
        ("/units", get(units::list)),
        ("/units/{id_unit}", get(units::one).patch(units::patch)),
        ("/orders", get(orders::list)),
        ("/orders/{id_order}", get(orders::one)),
        ("/order-units", get(orders::units)),
        ("/order-units/{id_order_unit}", get(orders::unit)),
    ];
    // Each path also with a trailing slash, as Kaufland's published signing example sends
    // `/v2/units/`; the signature stays over the URI as sent.
    routes
        .into_iter()
        .fold(Router::new(), |router, (path, methods)| {
            router
                .route(&format!("{path}/"), methods.clone())
                .route(path, methods)
        })
        .fallback(|| async { Problem::not_found("No such resource") })
}

/// The vendor's answer for an injected server error or throttle.
pub fn fault_answer(fault: Fault) -> Response {
    match fault {
        Fault::Throttle => too_many_requests().into_response(),
        _ => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "/problems/server-error",
            "Internal Server Error",
        )
        .into_response(),
    }
}

fn too_many_requests() -> Problem {
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "about:blank",
        "Too Many Requests",
    )
}

/// The seller's shop: one per client key.
fn shop(sandbox: &Sandbox, request: &Signed) -> Arc<Shop> {
    sandbox.shop(Vendor::Kaufland, &request.client_key)
}

/// Kaufland's timestamps: `YYYY-MM-ddTHH:mm:ssZ`.
fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `GET /status/ping`: no credentials needed, so it proves none.
async fn ping() -> Json<serde_json::Value> {
    Json(json!({"data": {"message": "Never tell me the odds"}}))
}

/// `GET /info/storefront`: the storefronts the seller has set up.
async fn storefronts(_request: Signed) -> Json<serde_json::Value> {
    Json(json!({"data": [STOREFRONT]}))
}
