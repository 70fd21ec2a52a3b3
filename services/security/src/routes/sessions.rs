//! The user's own sessions: list them, end one.

use axum::extract::State;
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::Serialize;
use sm_http::{ApiError, Json, Path};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db;
use crate::error::Result;
use crate::state::AppState;
use sm_http::ClientInfo;

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session this request was made with.
    pub current: bool,
}

/// The caller's live sessions, most recently used first.
#[utoipa::path(get, path = "/api/auth/sessions", tag = "sessions", security(("bearer" = [])),
    responses((status = 200, body = Vec<SessionView>), (status = 401, body = sm_http::ErrorBody)))]
pub async fn list(State(state): State<AppState>, auth: AuthUser) -> Result<Json<Vec<SessionView>>> {
    let sessions = db::sessions::list_live(&state.db, auth.user_id).await?;
    Ok(Json(
        sessions
            .into_iter()
            .map(|s| SessionView {
                current: s.id == auth.session_id,
                id: s.id,
                created_at: s.created_at,
                last_used_at: s.last_used_at,
                expires_at: s.expires_at,
                ip: s.ip,
                user_agent: s.user_agent,
            })
            .collect(),
    ))
}

/// Ends one of the caller's sessions (e.g. a lost device). Another user's session is not found.
#[utoipa::path(delete, path = "/api/auth/sessions/{id}", tag = "sessions", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 204, description = "Session ended"), (status = 401, body = sm_http::ErrorBody), (status = 404, body = sm_http::ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientInfo,
    Path(id): Path<Uuid>,
) -> Result<StatusCode> {
    if !db::sessions::revoke(&state.db, id, auth.user_id, "revoked_by_user").await? {
        return Err(ApiError::not_found().into());
    }
    db::audit::record(
        &state.db,
        Some(auth.user_id),
        "session_revoked",
        Some(&client),
        serde_json::json!({ "session_id": id }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
