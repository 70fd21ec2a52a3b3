//! HTTP handlers, one file per resource, and the router that mounts them.

pub mod admin;
pub mod introspect;
pub mod login;
pub mod me;
pub mod password;
pub mod register;
pub mod sessions;
pub mod tokens;
pub mod totp;

use axum::Router;
use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "ShopMarkets security service", description = "Accounts, email verification, login with two factors, tokens, sessions, password reset."),
    modifiers(&BearerAuth),
    components(schemas(sm_http::ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "service",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The API routes and their OpenAPI document.
pub fn api(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(register::register))
        .routes(routes!(register::verify_email))
        .routes(routes!(register::resend_verification))
        .routes(routes!(login::login))
        .routes(routes!(login::verify_2fa))
        .routes(routes!(tokens::refresh))
        .routes(routes!(tokens::logout))
        .routes(routes!(tokens::logout_all))
        .routes(routes!(me::me))
        .routes(routes!(password::request_reset))
        .routes(routes!(password::confirm_reset))
        .routes(routes!(password::change))
        .routes(routes!(sessions::list))
        .routes(routes!(sessions::revoke))
        .routes(routes!(totp::setup))
        .routes(routes!(totp::enable))
        .routes(routes!(totp::disable))
        .routes(routes!(totp::regenerate_recovery_codes))
        .routes(routes!(introspect::introspect))
        .routes(routes!(admin::disable_user))
        .routes(routes!(admin::enable_user))
        .with_state(state)
        .split_for_parts();
    doc.merge(sm_http::health::HealthApi::openapi());
    // The answers every operation shares (only the login flows are rate limited, and they document it).
    sm_http::openapi::CommonResponses {
        limits_failed_auth: false,
    }
    .modify(&mut doc);
    (router, doc)
}

/// The answer to requests whose outcome must not reveal whether an account exists.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    #[schema(example = "accepted")]
    pub status: &'static str,
    pub message: &'static str,
}
