//! Token introspection for the other services (in the spirit of RFC 7662).

use axum::extract::State;
use serde::Deserialize;
use sm_http::Json;
use utoipa::ToSchema;

use crate::auth::{AuthUser, ServiceCaller};
use crate::error::Result;
use crate::state::AppState;
use sm_domain::Introspection;

#[derive(Deserialize, ToSchema)]
pub struct IntrospectRequest {
    /// The user's access token.
    pub token: String,
}

/// Whether an access token is valid right now: signature, claims, and a live session of an
/// active account. Only for services presenting `SERVICE_TOKEN`.
#[utoipa::path(post, path = "/api/auth/introspect", tag = "services", security(("service" = [])), request_body = IntrospectRequest,
    responses((status = 200, body = Introspection), (status = 401, description = "invalid_service_credential", body = sm_http::ErrorBody)))]
pub async fn introspect(
    State(state): State<AppState>,
    _caller: ServiceCaller,
    Json(req): Json<IntrospectRequest>,
) -> Result<Json<Introspection>> {
    let answer = match AuthUser::from_token(&state, &req.token).await? {
        Some(user) => Introspection {
            active: true,
            sub: Some(user.user_id),
            email: Some(user.email),
            role: Some(user.role),
            sid: Some(user.session_id),
            exp: Some(user.expires_at),
        },
        None => Introspection::inactive(),
    };
    Ok(Json(answer))
}
