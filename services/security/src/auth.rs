//! Who is calling: a user with an access token, or another service with the service credential.

use axum::extract::FromRequestParts;
use http::request::Parts;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::db;
use crate::error::Error;
use crate::state::AppState;
use sm_domain::Role;

/// A user with a valid access token whose session is still live.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub email: String,
    pub role: Role,
    pub expires_at: i64,
}

pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl AuthUser {
    /// Resolves an access token: valid signature and claims, and a live session.
    pub async fn from_token(state: &AppState, token: &str) -> Result<Option<Self>, Error> {
        let Some(claims) = state.jwt.verify(token) else {
            return Ok(None);
        };
        let principal = db::sessions::principal(&state.db, claims.sid, claims.sub).await?;
        Ok(principal.and_then(|p| {
            Some(AuthUser {
                user_id: p.user_id,
                session_id: p.session_id,
                email: p.email,
                role: Role::parse(&p.role)?,
                expires_at: claims.exp,
            })
        }))
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(Error::Unauthenticated)?;
        AuthUser::from_token(state, token)
            .await?
            .ok_or(Error::Unauthenticated)
    }
}

/// Another ShopMarkets service, presenting `SERVICE_TOKEN` as its bearer credential.
pub struct ServiceCaller;

impl FromRequestParts<AppState> for ServiceCaller {
    type Rejection = sm_http::ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let expected = state.settings.service_token.expose_secret().as_bytes();
        match bearer(parts) {
            Some(given) if bool::from(given.as_bytes().ct_eq(expected)) => Ok(ServiceCaller),
            _ => Err(sm_http::ApiError::unauthorized(
                "invalid_service_credential",
                "This endpoint is only for ShopMarkets services.",
            )),
        }
    }
}
