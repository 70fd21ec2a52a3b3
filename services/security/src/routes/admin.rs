//! Operator actions on accounts (role admin).

use axum::extract::State;
use http::StatusCode;
use sm_http::{ApiError, Path};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db;
use crate::error::Result;
use crate::state::AppState;
use sm_domain::Role;
use sm_http::ClientInfo;

fn require_admin(auth: &AuthUser) -> Result<()> {
    if auth.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden("forbidden", "Only administrators may do this.").into())
    }
}

/// Disables an account and ends all its sessions at once.
#[utoipa::path(post, path = "/api/admin/users/{id}/disable", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 204, description = "Disabled"), (status = 403, body = sm_http::ErrorBody), (status = 404, body = sm_http::ErrorBody)))]
pub async fn disable_user(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientInfo,
    Path(id): Path<Uuid>,
) -> Result<StatusCode> {
    require_admin(&auth)?;
    let mut tx = state.db.begin().await?;
    if !db::users::set_active(&mut *tx, id, false).await? {
        return Err(ApiError::not_found().into());
    }
    db::sessions::revoke_all(&mut *tx, id, "account_disabled", None).await?;
    db::audit::record(
        &mut *tx,
        Some(id),
        "account_disabled",
        Some(&client),
        serde_json::json!({ "by": auth.user_id }),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enables a disabled account again (the user signs in anew).
#[utoipa::path(post, path = "/api/admin/users/{id}/enable", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 204, description = "Enabled"), (status = 403, body = sm_http::ErrorBody), (status = 404, body = sm_http::ErrorBody)))]
pub async fn enable_user(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientInfo,
    Path(id): Path<Uuid>,
) -> Result<StatusCode> {
    require_admin(&auth)?;
    if !db::users::set_active(&state.db, id, true).await? {
        return Err(ApiError::not_found().into());
    }
    db::audit::record(
        &state.db,
        Some(id),
        "account_enabled",
        Some(&client),
        serde_json::json!({ "by": auth.user_id }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
