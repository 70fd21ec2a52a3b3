//! Forgotten password (request a code, confirm with a new password) and password change.

use axum::extract::State;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use sm_http::Json;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::register::EmailRequest;
use super::Accepted;
use crate::auth::AuthUser;
use crate::db;
use crate::db::users::UserRow;
use crate::domain::email::Email;
use crate::domain::password::{self, NewPassword};
use crate::error::{Error, Result};
use crate::mail::MailKind;
use crate::mailed_codes::{self, Purpose};
use crate::state::AppState;
use sm_domain::Language;
use sm_http::ClientInfo;

#[derive(Serialize, ToSchema)]
pub struct PasswordStatus {
    #[schema(example = "password_changed")]
    pub status: &'static str,
}

/// Mails a reset code if the address belongs to an active account; the answer is the same
/// for every address.
#[utoipa::path(post, path = "/api/auth/password-reset/request", tag = "password", request_body = EmailRequest,
    responses((status = 202, body = Accepted), (status = 429, body = sm_http::ErrorBody)))]
pub async fn request_reset(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(req): Json<EmailRequest>,
) -> Result<(StatusCode, Json<Accepted>)> {
    state.limits.reset.check(client.ip)?;
    if let Ok(email) = Email::parse(&req.email) {
        // Whether the address has an account must not show in the answer, nor in how long it
        // takes: the answer goes out before anything is looked up, and the code and its mail
        // are made in the background (in one transaction, so both exist or neither).
        let deferred = state.deferred.clone();
        deferred.spawn("password-reset code", async move {
            issue_reset_code(&state, &email, &client).await
        });
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            status: "accepted",
            message: "If the address belongs to an account, a reset code is on its way.",
        }),
    ))
}

/// Issues a reset code and queues its mail, if the address belongs to an active account
/// (within the resend cooldown the code mailed a moment ago stays valid).
async fn issue_reset_code(state: &AppState, email: &Email, client: &ClientInfo) -> Result<()> {
    let mut tx = state.db.begin().await?;
    let user = db::users::find_by_email(&mut *tx, email.as_str())
        .await?
        .filter(|u| u.is_active);
    db::audit::record(
        &mut *tx,
        user.as_ref().map(|u| u.id),
        "password_reset_requested",
        Some(client),
        serde_json::json!({}),
    )
    .await?;
    if let Some(user) = user {
        let (purpose, kind) = (Purpose::PasswordReset, MailKind::PasswordReset);
        mailed_codes::issue_and_queue(state, &mut tx, &user, purpose, kind).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[derive(Deserialize, ToSchema)]
pub struct ConfirmResetRequest {
    pub email: String,
    #[schema(example = "123456")]
    pub code: String,
    /// 8 to 128 characters; common and easily guessed passwords are refused.
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

/// Sets a new password with the mailed code and ends every session of the account.
#[utoipa::path(post, path = "/api/auth/password-reset/confirm", tag = "password", request_body = ConfirmResetRequest,
    responses((status = 200, body = PasswordStatus), (status = 400, description = "invalid_code", body = sm_http::ErrorBody),
              (status = 422, body = sm_http::ErrorBody), (status = 429, description = "too_many_requests, or reset_attempts_exhausted", body = sm_http::ErrorBody)))]
pub async fn confirm_reset(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(req): Json<ConfirmResetRequest>,
) -> Result<Json<PasswordStatus>> {
    state.limits.reset.check(client.ip)?;
    let email = Email::parse(&req.email).map_err(|_| Error::InvalidCode)?;
    // Judge the new password first: a weak one must not cost a code attempt.
    let new_password = NewPassword::parse(&req.new_password, &[email.as_str()])
        .map_err(|e| Error::validation(vec![e.with_field("new_password")]))?;
    let per_day = state.settings.reset_code_guesses_per_day;
    mailed_codes::take_daily_guess(
        &state,
        Purpose::PasswordReset,
        email.as_str(),
        client.ip,
        per_day,
    )
    .await?;
    let user = db::users::find_by_email(&state.db, email.as_str())
        .await?
        .filter(|u| u.is_active)
        .ok_or(Error::InvalidCode)?;
    let matched = mailed_codes::check(&state, user.id, Purpose::PasswordReset, &req.code).await?;
    let hash = state.passwords.hash(new_password.into_secret()).await?;

    let mut tx = state.db.begin().await?;
    matched.consume(&mut tx).await?;
    // The code proves the mailbox is theirs.
    db::users::mark_verified(&mut *tx, user.id).await?;
    replace_password(&mut tx, &user, &hash, None, "password_reset", &client).await?;
    notify(&state, &mut tx, &user).await?;
    tx.commit().await?;
    Ok(Json(PasswordStatus {
        status: "password_reset",
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// 8 to 128 characters; common and easily guessed passwords are refused.
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

/// Changes the password (the current one is required) and ends every other session.
#[utoipa::path(post, path = "/api/auth/change-password", tag = "password", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses((status = 200, body = PasswordStatus), (status = 401, body = sm_http::ErrorBody),
              (status = 403, description = "wrong_password", body = sm_http::ErrorBody), (status = 422, body = sm_http::ErrorBody),
              (status = 429, description = "too_many_requests: too many password or code attempts from this network", body = sm_http::ErrorBody)))]
pub async fn change(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientInfo,
    Json(req): Json<ChangePasswordRequest>,
) -> Result<Json<PasswordStatus>> {
    let user = db::users::find_by_id(&state.db, auth.user_id)
        .await?
        .ok_or(Error::Unauthenticated)?;
    let new_password = NewPassword::parse(&req.new_password, &[&user.email, &user.full_name])
        .map_err(|e| Error::validation(vec![e.with_field("new_password")]))?;
    confirm_current(&state, &user, &req.current_password, &client).await?;
    let hash = state.passwords.hash(new_password.into_secret()).await?;
    let mut tx = state.db.begin().await?;
    replace_password(
        &mut tx,
        &user,
        &hash,
        Some(auth.session_id),
        "password_changed",
        &client,
    )
    .await?;
    notify(&state, &mut tx, &user).await?;
    tx.commit().await?;
    Ok(Json(PasswordStatus {
        status: "password_changed",
    }))
}

/// Stores the new hash and ends every session (but `keep`) and pending login of the user.
async fn replace_password(
    tx: &mut PgConnection,
    user: &UserRow,
    hash: &str,
    keep: Option<Uuid>,
    reason: &'static str,
    client: &ClientInfo,
) -> Result<()> {
    db::users::set_password(&mut *tx, user.id, hash).await?;
    db::sessions::revoke_all(&mut *tx, user.id, reason, keep).await?;
    db::tickets::delete_for_user(&mut *tx, user.id).await?;
    db::audit::record(
        &mut *tx,
        Some(user.id),
        reason,
        Some(client),
        serde_json::json!({}),
    )
    .await?;
    Ok(())
}

/// Tells the owner, so a change they did not make does not go unnoticed.
async fn notify(state: &AppState, tx: &mut PgConnection, user: &UserRow) -> Result<()> {
    let language = Language::from_db(&user.language);
    let (to, name) = (&user.email, &user.full_name);
    state
        .mail
        .queue(tx, MailKind::PasswordChanged, language, to, name, None)
        .await
}

/// Checks the current password before a sensitive change (password, authenticator). Limited
/// per IP like logins, so a stolen access token cannot be used to guess the password.
pub(crate) async fn confirm_current(
    state: &AppState,
    user: &UserRow,
    given: &str,
    client: &ClientInfo,
) -> Result<()> {
    state.limits.login.check(client.ip)?;
    let stored = Some(user.password_hash.clone());
    if state
        .passwords
        .verify(password::normalize(given), stored)
        .await?
    {
        return Ok(());
    }
    let detail = serde_json::json!({});
    db::audit::record(
        &state.db,
        Some(user.id),
        "password_confirmation_failed",
        Some(client),
        detail,
    )
    .await?;
    Err(Error::WrongPassword)
}
