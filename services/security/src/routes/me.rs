use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sm_http::Json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db;
use crate::db::users::UserRow;
use crate::error::{Error, Result};
use crate::state::AppState;
use sm_domain::Language;
use sm_domain::Role;

/// The account as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    pub language: Language,
    pub is_verified: bool,
    pub totp_enabled: bool,
    pub created_at: DateTime<Utc>,
}

impl From<UserRow> for UserView {
    fn from(user: UserRow) -> Self {
        UserView {
            id: user.id,
            role: Role::parse(&user.role).unwrap_or(Role::Merchant),
            language: Language::from_db(&user.language),
            totp_enabled: user.totp_enabled_at.is_some(),
            email: user.email,
            full_name: user.full_name,
            is_verified: user.is_verified,
            created_at: user.created_at,
        }
    }
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/auth/me", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = sm_http::ErrorBody)))]
pub async fn me(State(state): State<AppState>, auth: AuthUser) -> Result<Json<UserView>> {
    let user = db::users::find_by_id(&state.db, auth.user_id)
        .await?
        .ok_or(Error::Unauthenticated)?;
    Ok(Json(user.into()))
}
