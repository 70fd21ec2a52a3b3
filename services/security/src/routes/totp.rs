//! Authenticator-app second factor (TOTP) and its recovery codes.

use axum::extract::State;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use sm_http::{ApiError, Json};
use utoipa::ToSchema;

use super::password::confirm_current;
use crate::auth::AuthUser;
use crate::db;
use crate::db::users::UserRow;
use crate::domain::recovery;
use crate::domain::totp::{self, Totp};
use crate::error::{Error, Result};
use crate::state::AppState;
use sm_http::ClientInfo;

#[derive(Serialize, ToSchema)]
pub struct TotpSetupResponse {
    /// Base32 secret for manual entry.
    pub secret: String,
    /// `otpauth://` URI to show as a QR code.
    pub otpauth_uri: String,
}

#[derive(Deserialize, ToSchema)]
pub struct TotpCodeRequest {
    #[schema(example = "123456")]
    pub code: String,
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordConfirmation {
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodesResponse {
    /// Ten single-use codes; shown once, store them safely.
    pub recovery_codes: Vec<String>,
}

async fn current_user(state: &AppState, auth: &AuthUser) -> Result<UserRow> {
    db::users::find_by_id(&state.db, auth.user_id)
        .await?
        .ok_or(Error::Unauthenticated)
}

async fn new_recovery_codes(tx: &mut sqlx::PgConnection, user: &UserRow) -> Result<Vec<String>> {
    let codes = recovery::generate();
    let hashes: Vec<Vec<u8>> = codes.iter().map(|c| recovery::hash(c)).collect();
    db::recovery_codes::replace(tx, user.id, &hashes).await?;
    Ok(codes)
}

fn totp_for(state: &AppState, user: &UserRow, secret: Vec<u8>) -> Result<Totp> {
    Ok(Totp::new(
        secret,
        totp::DIGITS,
        &state.settings.totp_issuer,
        &user.email,
    )
    .map_err(anyhow::Error::msg)?)
}

/// Starts TOTP set-up (the password is required): a new secret, pending until
/// `/api/auth/totp/enable` confirms a code from the app.
#[utoipa::path(post, path = "/api/auth/totp/setup", tag = "totp", security(("bearer" = [])), request_body = PasswordConfirmation,
    responses((status = 200, body = TotpSetupResponse), (status = 401, body = sm_http::ErrorBody),
              (status = 403, description = "wrong_password", body = sm_http::ErrorBody), (status = 409, description = "totp_already_enabled", body = sm_http::ErrorBody),
              (status = 429, description = "too_many_requests: too many password or code attempts from this network", body = sm_http::ErrorBody)))]
pub async fn setup(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientInfo,
    Json(req): Json<PasswordConfirmation>,
) -> Result<Json<TotpSetupResponse>> {
    let user = current_user(&state, &auth).await?;
    // A stolen access token alone must not be enough to tie the account to the thief's app.
    confirm_current(&state, &user, &req.password, &client).await?;
    if user.totp_enabled_at.is_some() {
        return Err(ApiError::conflict(
            "totp_already_enabled",
            "Two-factor authentication with an app is already on.",
        )
        .into());
    }
    let secret = Totp::generate_secret();
    db::users::set_totp_pending(
        &state.db,
        user.id,
        &state.totp_keys.seal(&secret, user.id.as_bytes()),
    )
    .await?;
    let totp = totp_for(&state, &user, secret)?;
    Ok(Json(TotpSetupResponse {
        secret: totp.secret_base32(),
        otpauth_uri: totp.uri(),
    }))
}

/// Turns TOTP on with a first code from the app; answers the ten recovery codes (shown once).
#[utoipa::path(post, path = "/api/auth/totp/enable", tag = "totp", security(("bearer" = [])), request_body = TotpCodeRequest,
    responses((status = 200, body = RecoveryCodesResponse), (status = 400, description = "invalid_code", body = sm_http::ErrorBody),
              (status = 409, description = "totp_not_set_up or totp_already_enabled", body = sm_http::ErrorBody),
              (status = 429, description = "too_many_requests: too many password or code attempts from this network", body = sm_http::ErrorBody)))]
pub async fn enable(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientInfo,
    Json(req): Json<TotpCodeRequest>,
) -> Result<Json<RecoveryCodesResponse>> {
    state.limits.verify.check(client.ip)?;
    let user = current_user(&state, &auth).await?;
    if user.totp_enabled_at.is_some() {
        return Err(ApiError::conflict(
            "totp_already_enabled",
            "Two-factor authentication with an app is already on.",
        )
        .into());
    }
    let pending = user
        .totp_pending_enc
        .as_deref()
        .ok_or_else(|| ApiError::conflict("totp_not_set_up", "Start the set-up first."))?;
    let secret = state
        .totp_keys
        .open(pending, user.id.as_bytes())
        .ok_or_else(|| {
            anyhow::anyhow!("pending TOTP secret of user {} does not decrypt", user.id)
        })?;
    let now = chrono::Utc::now().timestamp() as u64;
    let step = totp_for(&state, &user, secret)?
        .matching_step(&req.code, now)
        .ok_or(Error::InvalidCode)?;

    let mut tx = state.db.begin().await?;
    if !db::users::enable_totp(&mut *tx, user.id, pending, step as i64).await? {
        return Err(ApiError::conflict("totp_not_set_up", "Start the set-up first.").into());
    }
    let codes = new_recovery_codes(&mut tx, &user).await?;
    db::audit::record(
        &mut *tx,
        Some(user.id),
        "totp_enabled",
        Some(&client),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(RecoveryCodesResponse {
        recovery_codes: codes,
    }))
}

/// Turns TOTP off (the password is required); logins go back to mailed codes.
#[utoipa::path(post, path = "/api/auth/totp/disable", tag = "totp", security(("bearer" = [])), request_body = PasswordConfirmation,
    responses((status = 204, description = "TOTP off"), (status = 403, description = "wrong_password", body = sm_http::ErrorBody),
              (status = 429, description = "too_many_requests: too many password or code attempts from this network", body = sm_http::ErrorBody)))]
pub async fn disable(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientInfo,
    Json(req): Json<PasswordConfirmation>,
) -> Result<StatusCode> {
    let user = current_user(&state, &auth).await?;
    confirm_current(&state, &user, &req.password, &client).await?;
    let mut tx = state.db.begin().await?;
    db::users::disable_totp(&mut *tx, user.id).await?;
    db::recovery_codes::delete_for_user(&mut *tx, user.id).await?;
    db::audit::record(
        &mut *tx,
        Some(user.id),
        "totp_disabled",
        Some(&client),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the recovery codes with ten new ones (the password is required).
#[utoipa::path(post, path = "/api/auth/totp/recovery-codes", tag = "totp", security(("bearer" = [])), request_body = PasswordConfirmation,
    responses((status = 200, body = RecoveryCodesResponse), (status = 403, description = "wrong_password", body = sm_http::ErrorBody),
              (status = 409, description = "totp_not_enabled", body = sm_http::ErrorBody),
              (status = 429, description = "too_many_requests: too many password or code attempts from this network", body = sm_http::ErrorBody)))]
pub async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientInfo,
    Json(req): Json<PasswordConfirmation>,
) -> Result<Json<RecoveryCodesResponse>> {
    let user = current_user(&state, &auth).await?;
    if user.totp_enabled_at.is_none() {
        return Err(ApiError::conflict(
            "totp_not_enabled",
            "Turn on two-factor authentication with an app first.",
        )
        .into());
    }
    confirm_current(&state, &user, &req.password, &client).await?;
    let mut tx = state.db.begin().await?;
    let codes = new_recovery_codes(&mut tx, &user).await?;
    db::audit::record(
        &mut *tx,
        Some(user.id),
        "recovery_codes_regenerated",
        Some(&client),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(RecoveryCodesResponse {
        recovery_codes: codes,
    }))
}
