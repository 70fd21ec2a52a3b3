//! Sign-up: register, verify the email with the mailed code, resend that code.

use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;
use sm_http::{FieldError, Json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::Accepted;
use crate::db;
use crate::db::users::SignUp;
use crate::domain::email::Email;
use crate::domain::password::NewPassword;
use crate::error::{Error, Result};
use crate::mail::MailKind;
use crate::mailed_codes::{self, Purpose};
use crate::state::AppState;
use sm_domain::Language;
use sm_http::ClientInfo;

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(example = "anna@example.de", format = "email", max_length = 254)]
    pub email: String,
    /// 8 to 128 characters; common and easily guessed passwords are refused.
    #[schema(min_length = 8, max_length = 128)]
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
/// (its owner gets a notice instead), so the answer reveals nothing. Signing up again for an
/// address that was never verified replaces the earlier sign-up's password (and name and
/// language) and mails a new code, at most one a minute per address: whoever proves the
/// mailbox (with any live code) gets the password of the latest sign-up.
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
        return Err(Error::validation(fields));
    }
    let (email, name, password) = (email?, name?, password?);
    let language = req.language.unwrap_or_default();

    // Every case hashes once and runs one transaction of the same shape (the account row; a
    // code, or the notice budget; an audit event; the mail, or a stand-in) before answering,
    // so a taken address answers as fast as a new one. The mail goes out in the background.
    let hash = state.passwords.hash(password.into_secret()).await?;
    let mut tx = state.db.begin().await?;
    let (outcome, account) = db::users::sign_up(
        &mut *tx,
        Uuid::now_v7(),
        email.as_str(),
        &hash,
        &name,
        language.as_str(),
    )
    .await?;
    let mail = match outcome {
        SignUp::Created | SignUp::Replaced => {
            // Within the resend cooldown no new code and no mail (so sign-ups cannot flood an
            // inbox or kill the code just mailed); that code stays live and verifies into the
            // password this sign-up just stored, since verifying only marks the account row.
            let cooldown = mailed_codes::RESEND_COOLDOWN_SECS;
            let purpose = Purpose::EmailVerification;
            let code =
                mailed_codes::issue_in(&state, &mut *tx, account.id, purpose, cooldown).await?;
            code.map(|code| (MailKind::VerifyEmail, Some(code)))
        }
        SignUp::Verified => {
            // One notice an hour at most, so repeated sign-ups cannot flood the owner's inbox.
            let key = state
                .budget_keys
                .hash(&[NOTICE_EVENT.as_bytes(), account.id.as_bytes()]);
            db::budgets::take(&mut *tx, &key, 1, NOTICE_COOLDOWN_SECS)
                .await?
                .then_some((MailKind::AccountExists, None))
        }
    };
    let event = match (outcome, &mail) {
        (SignUp::Created, _) => "registered",
        (SignUp::Replaced, _) => "registration_replaced",
        (SignUp::Verified, Some(_)) => NOTICE_EVENT,
        (SignUp::Verified, None) => "registration_for_verified_address",
    };
    db::audit::record(
        &mut *tx,
        Some(account.id),
        event,
        Some(&client),
        serde_json::json!({}),
    )
    .await?;
    if let Some((kind, code)) = mail {
        let language = Language::from_db(&account.language);
        let (to, name) = (&account.email, &account.full_name);
        state
            .mail
            .queue(&mut *tx, kind, language, to, name, code.as_deref())
            .await?;
    } else {
        let key = state
            .budget_keys
            .hash(&[b"sign_up_mail_stand_in", account.id.as_bytes()]);
        db::budgets::stand_in(&mut *tx, &key).await?;
    }
    tx.commit().await?;
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
    responses((status = 200, body = StatusResponse), (status = 400, description = "invalid_code", body = sm_http::ErrorBody),
              (status = 429, description = "too_many_requests, or verification_attempts_exhausted", body = sm_http::ErrorBody)))]
pub async fn verify_email(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(req): Json<VerifyEmailRequest>,
) -> Result<Json<StatusResponse>> {
    state.limits.verify.check(client.ip)?;
    let email = Email::parse(&req.email).map_err(|_| Error::InvalidCode)?;
    let per_day = state.settings.verification_code_guesses_per_day;
    mailed_codes::take_daily_guess(
        &state,
        Purpose::EmailVerification,
        email.as_str(),
        client.ip,
        per_day,
    )
    .await?;
    let user = db::users::find_by_email(&state.db, email.as_str())
        .await?
        .ok_or(Error::InvalidCode)?;
    let matched =
        mailed_codes::check(&state, user.id, Purpose::EmailVerification, &req.code).await?;
    let mut tx = state.db.begin().await?;
    // The account row first, then the code: the order a sign-up locks them in.
    db::users::mark_verified(&mut *tx, user.id).await?;
    matched.consume(&mut tx).await?;
    db::audit::record(
        &mut *tx,
        Some(user.id),
        "email_verified",
        Some(&client),
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
        // As for a reset request: only an unverified account gets a code, so the lookup and
        // the writes run after the answer, which then takes as long for every address.
        let deferred = state.deferred.clone();
        deferred.spawn("verification code resend", async move {
            resend_code(&state, &email).await
        });
    }
    Ok((StatusCode::ACCEPTED, Json(CHECK_MAIL)))
}

/// Issues a new verification code and queues its mail, if the address belongs to an active
/// account not yet verified (within the resend cooldown the code mailed a moment ago stays
/// valid).
async fn resend_code(state: &AppState, email: &Email) -> Result<()> {
    let Some(user) = db::users::find_by_email(&state.db, email.as_str())
        .await?
        .filter(|u| !u.is_verified && u.is_active)
    else {
        return Ok(());
    };
    let mut tx = state.db.begin().await?;
    let (purpose, kind) = (Purpose::EmailVerification, MailKind::VerifyEmail);
    mailed_codes::issue_and_queue(state, &mut tx, &user, purpose, kind).await?;
    tx.commit().await?;
    Ok(())
}
