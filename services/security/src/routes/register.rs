//! Sign-up: register, verify the email with the mailed code, resend that code.

use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;
use sm_http::{FieldError, Json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::Accepted;
use crate::codes::{self, Purpose};
use crate::db;
use crate::domain::email::Email;
use crate::domain::password::NewPassword;
use crate::error::{Error, Result};
use crate::mail::MailKind;
use crate::state::AppState;
use sm_domain::Language;
use sm_http::ClientInfo;

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(example = "anna@example.de")]
    pub email: String,
    /// 8 to 128 characters; common and easily guessed passwords are refused.
    pub password: String,
    #[schema(example = "Anna Schmidt")]
    pub full_name: String,
    /// Language of mails; German when not given.
    #[serde(default)]
    pub language: Option<Language>,
}

const NOTICE_EVENT: &str = "account_exists_notice";
const NOTICE_COOLDOWN_SECS: i64 = 3600;

const CHECK_MAIL: Accepted = Accepted {
    status: "verification_required",
    message: "If the address can be registered, a confirmation code is on its way.",
};

fn parse_name(raw: &str) -> Result<String, FieldError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(FieldError::new(
            "full_name",
            "invalid_name",
            "Enter your name (at most 200 characters).",
        ));
    }
    Ok(name.to_owned())
}

/// Creates an account and mails a confirmation code. A taken address gets the same answer
/// (its owner gets a notice instead), so the answer reveals nothing.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 202, body = Accepted), (status = 422, body = sm_http::ErrorBody), (status = 429, body = sm_http::ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(req): Json<RegisterRequest>,
) -> Result<(StatusCode, Json<Accepted>)> {
    state.limits.register.check(client.ip)?;
    let email = Email::parse(&req.email);
    let name = parse_name(&req.full_name);
    let password = NewPassword::parse(&req.password, &[&req.email, &req.full_name]);
    let fields: Vec<FieldError> = [
        email.as_ref().err(),
        name.as_ref().err(),
        password.as_ref().err(),
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    if !fields.is_empty() {
        return Err(Error::Validation(fields));
    }
    let (email, name, password) = (email?, name?, password?);
    let language = req.language.unwrap_or_default();

    // Hash even when the address is taken, so both cases take equally long.
    let hash = state.passwords.hash(password.into_secret()).await?;
    let id = Uuid::now_v7();
    if db::users::insert(
        &state.db,
        id,
        email.as_str(),
        &hash,
        &name,
        language.as_str(),
    )
    .await?
    {
        db::audit::record(
            &state.db,
            Some(id),
            "registered",
            Some(client.ip),
            client.user_agent.as_deref(),
            serde_json::json!({}),
        )
        .await?;
        if let Some(code) = codes::issue(&state, id, Purpose::EmailVerification).await? {
            state.mail.send(
                MailKind::VerifyEmail,
                language,
                email.as_str(),
                &name,
                Some(&code),
            );
        }
    } else if let Some(existing) = db::users::find_by_email(&state.db, email.as_str()).await? {
        let language = Language::from_db(&existing.language);
        if !existing.is_verified {
            if let Some(code) =
                codes::issue(&state, existing.id, Purpose::EmailVerification).await?
            {
                state.mail.send(
                    MailKind::VerifyEmail,
                    language,
                    &existing.email,
                    &existing.full_name,
                    Some(&code),
                );
            }
        } else if db::audit::count_within(
            &state.db,
            existing.id,
            NOTICE_EVENT,
            NOTICE_COOLDOWN_SECS,
        )
        .await?
            == 0
        {
            // One notice an hour at most, so repeated sign-ups cannot flood the owner's inbox.
            db::audit::record(
                &state.db,
                Some(existing.id),
                NOTICE_EVENT,
                Some(client.ip),
                client.user_agent.as_deref(),
                serde_json::json!({}),
            )
            .await?;
            state.mail.send(
                MailKind::AccountExists,
                language,
                &existing.email,
                &existing.full_name,
                None,
            );
        }
    }
    Ok((StatusCode::ACCEPTED, Json(CHECK_MAIL)))
}

#[derive(Deserialize, ToSchema)]
pub struct VerifyEmailRequest {
    pub email: String,
    #[schema(example = "123456")]
    pub code: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct StatusResponse {
    #[schema(example = "verified")]
    pub status: &'static str,
}

/// Confirms the email address with the mailed code.
#[utoipa::path(post, path = "/api/auth/verify-email", tag = "auth", request_body = VerifyEmailRequest,
    responses((status = 200, body = StatusResponse), (status = 400, description = "invalid_code", body = sm_http::ErrorBody), (status = 429, body = sm_http::ErrorBody)))]
pub async fn verify_email(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(req): Json<VerifyEmailRequest>,
) -> Result<Json<StatusResponse>> {
    state.limits.verify.check(client.ip)?;
    let email = Email::parse(&req.email).map_err(|_| Error::InvalidCode)?;
    let user = db::users::find_by_email(&state.db, email.as_str())
        .await?
        .ok_or(Error::InvalidCode)?;
    let matched = codes::check(&state, user.id, Purpose::EmailVerification, &req.code).await?;
    let mut tx = state.db.begin().await?;
    matched.consume(&mut tx).await?;
    db::users::mark_verified(&mut *tx, user.id).await?;
    db::audit::record(
        &mut *tx,
        Some(user.id),
        "email_verified",
        Some(client.ip),
        client.user_agent.as_deref(),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(StatusResponse { status: "verified" }))
}

#[derive(Deserialize, ToSchema)]
pub struct EmailRequest {
    pub email: String,
}

/// Mails a new confirmation code (at most one a minute); the answer is the same for every address.
#[utoipa::path(post, path = "/api/auth/resend-verification", tag = "auth", request_body = EmailRequest,
    responses((status = 202, body = Accepted), (status = 429, body = sm_http::ErrorBody)))]
pub async fn resend_verification(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(req): Json<EmailRequest>,
) -> Result<(StatusCode, Json<Accepted>)> {
    state.limits.resend.check(client.ip)?;
    if let Ok(email) = Email::parse(&req.email) {
        if let Some(user) = db::users::find_by_email(&state.db, email.as_str()).await? {
            if !user.is_verified && user.is_active {
                if let Some(code) =
                    codes::issue(&state, user.id, Purpose::EmailVerification).await?
                {
                    let language = Language::from_db(&user.language);
                    state.mail.send(
                        MailKind::VerifyEmail,
                        language,
                        &user.email,
                        &user.full_name,
                        Some(&code),
                    );
                }
            }
        }
    }
    Ok((StatusCode::ACCEPTED, Json(CHECK_MAIL)))
}
