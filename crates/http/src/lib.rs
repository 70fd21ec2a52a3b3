//! The HTTP parts every ShopMarkets service shares.
//!
//! - [`ApiError`]: the one JSON error body (`{"error": {"code", "message", "fields", "request_id"}}`).
//! - [`Json`], [`Path`], [`Query`]: extractors whose rejections answer with that body.
//! - [`middleware::stack`]: request id, request log, panic catcher, timeout, body limit,
//!   compression, CORS and security headers, in the right order.
//! - [`health::routes`], [`openapi_route`], [`serve`]: the endpoints and lifecycle every service has.
//! - [`openapi::CommonResponses`]: the shared answers, added to every operation's document.

mod client_ip;
mod error;
mod extract;
pub mod health;
pub mod middleware;
pub mod openapi;
mod rate_limit;
mod serve;
mod service_error;

pub use client_ip::{network_of, ClientInfo, ClientIp};
pub use error::{ApiError, ErrorBody, ErrorDetail, FieldError};
pub use extract::{Json, Path, Query};
pub use rate_limit::{RateLimiter, Scope, V6_SITE_FACTOR};
pub use serve::{serve, shutdown_signal};
pub use service_error::ServiceError;

/// Serves a service's OpenAPI document at `/api/openapi.json`.
pub fn openapi_route(doc: utoipa::openapi::OpenApi) -> axum::Router {
    let doc = std::sync::Arc::new(doc);
    axum::Router::new().route(
        "/api/openapi.json",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc) }
        }),
    )
}
