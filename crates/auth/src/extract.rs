use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;
use sm_http::{ApiError, ClientIp};
use uuid::Uuid;

use crate::{Role, SecurityClient};

/// The authenticated caller. Every merchant query is scoped by `user_id`; `role` decides
/// what else the caller may do.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub email: String,
    pub role: Role,
    pub session_id: Uuid,
}

fn unauthenticated() -> ApiError {
    ApiError::unauthorized("unauthenticated", "A valid access token is required.")
}

impl<S> FromRequestParts<S> for AuthUser
where
    SecurityClient: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ClientIp(client) = ClientIp::from_request_parts(parts, state).await?;
        let token = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or_else(unauthenticated)?;
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok());
        let answer = SecurityClient::from_ref(state)
            .authenticate(token, client, request_id)
            .await?
            .ok_or_else(unauthenticated)?;
        match (answer.sub, answer.sid) {
            (Some(user_id), Some(session_id)) => Ok(AuthUser {
                user_id,
                session_id,
                email: answer.email.clone().unwrap_or_default(),
                role: answer.role.unwrap_or(Role::Merchant),
            }),
            _ => Err(unauthenticated()),
        }
    }
}
