//! HTTP handlers, one file per resource, and the router that mounts them.

pub mod analytics;
pub mod connections;
pub mod orders;
pub mod products;
pub mod profile;
pub mod shopify;
pub mod sync;
pub mod sync_pending;
pub mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "ShopMarkets API service", description = "Company profile, AVV, shop connections, products, orders and analytics of the signed-in merchant."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(sm_http::ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
    }
}

/// The API routes and their OpenAPI document.
pub fn api(state: AppState, import_limit_bytes: usize) -> (Router, utoipa::openapi::OpenApi) {
    // CSV imports are far larger than any JSON body, so that route gets its own limit.
    let import = OpenApiRouter::new()
        .routes(routes!(products::import_csv))
        .layer(DefaultBodyLimit::max(import_limit_bytes));
    // Webhook bodies (whole orders) may exceed the JSON limit of the merchant's requests.
    let webhooks = OpenApiRouter::new()
        .routes(routes!(webhooks::shopify))
        .layer(DefaultBodyLimit::max(webhooks::WEBHOOK_LIMIT_BYTES));
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(profile::get_profile, profile::put_profile))
        .routes(routes!(profile::get_avv))
        .routes(routes!(profile::sign_avv))
        .routes(routes!(profile::avv_pdf))
        .routes(routes!(connections::list, connections::create))
        .routes(routes!(
            connections::get_one,
            connections::update,
            connections::delete
        ))
        .routes(routes!(connections::test))
        .routes(routes!(connections::events))
        .routes(routes!(connections::sandbox_offers))
        .routes(routes!(shopify::install))
        .routes(routes!(shopify::callback))
        .merge(webhooks)
        .routes(routes!(products::list, products::create))
        .routes(routes!(
            products::get_one,
            products::update,
            products::delete
        ))
        .routes(routes!(products::bulk_update))
        .routes(routes!(products::export_csv))
        .merge(import)
        .routes(routes!(orders::list))
        .routes(routes!(orders::get_one))
        .routes(routes!(analytics::summary))
        .routes(routes!(sync_pending::pending))
        .routes(routes!(sync::trigger))
        .routes(routes!(sync::get_job))
        .routes(routes!(sync::logs))
        .routes(routes!(sync::ledger))
        .with_state(state)
        .split_for_parts();
    doc.merge(sm_http::health::HealthApi::openapi());
    // The answers every operation shares (failed authentications are limited per network).
    sm_http::openapi::CommonResponses {
        limits_failed_auth: true,
    }
    .modify(&mut doc);
    (router, doc)
}

/// One page of a list, with the cursor for the next one.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Clamps a requested page size to 1..=200, 50 when absent.
pub fn page_size(limit: Option<i64>) -> i64 {
    limit.unwrap_or(50).clamp(1, 200)
}

/// Dates and times outside 1970–9999 are refused: Postgres cannot store some of the dates
/// chrono accepts (before 4713 BC), and none of them make sense here.
pub fn check_date(date: chrono::NaiveDate) -> Result<chrono::NaiveDate, sm_http::ApiError> {
    use chrono::Datelike;
    if (1970..=9999).contains(&date.year()) {
        Ok(date)
    } else {
        Err(sm_http::ApiError::bad_request(
            "invalid_query",
            "Dates lie between 1970 and 9999.",
        ))
    }
}

pub fn check_time(
    time: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, sm_http::ApiError> {
    check_date(time.date_naive()).map(|_| time)
}
