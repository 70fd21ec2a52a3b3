//! Login in two steps: the password, then a mailed code or an authenticator (TOTP) code.

use axum::extract::State;
use axum_extra::extract::CookieJar;
use serde::{Deserialize, Serialize};
use sm_http::{ApiError, Json};
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::tokens::{self, TokenResponse};
use crate::crypto::opaque;
use crate::db;
use crate::db::users::UserRow;
use crate::domain::email::Email;
use crate::domain::password;
use crate::domain::recovery;
use crate::domain::totp::{self, Totp};
use crate::error::{Error, Result};
use crate::mail::MailKind;
use crate::mailed_codes::{self, Purpose};
use crate::state::AppState;
use sm_http::ClientInfo;

pub const TICKET_TTL_SECS: i64 = 5 * 60;
const TICKET_MAX_ATTEMPTS: i32 = 5;
/// Failed second factors per account within the window before it must wait.
const MAX_FACTOR_FAILURES: i32 = 10;
const FACTOR_WINDOW_SECS: i64 = 15 * 60;
const FACTOR_FAILED: &str = "second_factor_failed";
/// Password attempts from one network for one account before it must wait.
const FREE_FAILURES: i32 = 5;
/// The first wait; it doubles with each further failure.
const LOCK_SECS: f64 = 30.0;
const MAX_LOCK_SECS: f64 = 15.0 * 60.0;

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(example = "anna@example.de")]
    pub email: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    #[schema(example = "second_factor_required")]
    pub status: &'static str,
    /// Single-use ticket for `/api/auth/verify-2fa`; it opens nothing else.
    pub ticket: String,
    /// `email` (a code was mailed) or `totp` (use the authenticator app or a recovery code).
    #[schema(example = "email")]
    pub method: &'static str,
    pub expires_in: i64,
}

/// Checks the password. Unknown, unverified, disabled accounts and wrong passwords all get the
/// same 401; repeated failures from one network for one account are slowed down (429).
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, description = "invalid_credentials", body = sm_http::ErrorBody), (status = 429, body = sm_http::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(req): Json<LoginRequest>,
) -> Result<Json<LoginResponse>> {
    state.limits.login.check(client.ip)?;
    let email = Email::parse(&req.email).map_err(|_| Error::InvalidCredentials)?;
    let network = sm_http::network_of(client.ip).to_string();
    let throttle_key = state
        .throttle_keys
        .hash(&[email.as_str().as_bytes(), network.as_bytes()]);
    // The attempt is counted before the (slow) password check, so a burst of parallel
    // guesses cannot all pass before the first failure is written.
    if !db::throttle::attempt(
        &state.db,
        &throttle_key,
        FREE_FAILURES,
        LOCK_SECS,
        MAX_LOCK_SECS,
    )
    .await?
    {
        let wait = db::throttle::wait_secs(&state.db, &throttle_key)
            .await?
            .unwrap_or(1);
        return Err(ApiError::too_many_requests(wait as u64).into());
    }

    let user = db::users::find_by_email(&state.db, email.as_str()).await?;
    let password_ok = state
        .passwords
        .verify(
            password::normalize(&req.password),
            user.as_ref().map(|u| u.password_hash.clone()),
        )
        .await?;
    // Only a login that goes on to the second step clears the count: a right password for an
    // unverified or disabled account must look exactly like a wrong one, throttle included.
    let user = match user {
        Some(user) if password_ok && user.is_verified && user.is_active => user,
        user => {
            let user_id = user.map(|u| u.id);
            db::audit::record(
                &state.db,
                user_id,
                "login_failed",
                Some(&client),
                serde_json::json!({}),
            )
            .await?;
            return Err(Error::InvalidCredentials);
        }
    };
    db::throttle::clear(&state.db, &throttle_key).await?;

    let method = if user.totp_enabled_at.is_some() {
        "totp"
    } else {
        "email"
    };
    let ticket = opaque::generate();
    let mut tx = state.db.begin().await?;
    db::tickets::create(
        &mut *tx,
        &opaque::hash(&ticket),
        user.id,
        method,
        TICKET_TTL_SECS,
    )
    .await?;
    if method == "email" {
        // Within the resend cooldown the code mailed a moment ago stays valid.
        let (purpose, kind) = (Purpose::Login, MailKind::LoginCode);
        mailed_codes::issue_and_queue(&state, &mut tx, &user, purpose, kind).await?;
    }
    tx.commit().await?;
    db::audit::record(
        &state.db,
        Some(user.id),
        "login_password_ok",
        Some(&client),
        serde_json::json!({ "method": method }),
    )
    .await?;
    Ok(Json(LoginResponse {
        status: "second_factor_required",
        ticket,
        method,
        expires_in: TICKET_TTL_SECS,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct VerifyTwoFactorRequest {
    pub ticket: String,
    /// The mailed code, or the authenticator's code.
    #[serde(default)]
    #[schema(example = "123456")]
    pub code: Option<String>,
    /// Instead of `code` when the authenticator is lost (TOTP accounts only); single use.
    #[serde(default)]
    pub recovery_code: Option<String>,
}

/// Completes the login with the second factor and starts a session: tokens in the body,
/// and the refresh token also as an httpOnly cookie for browsers.
#[utoipa::path(post, path = "/api/auth/verify-2fa", tag = "auth", request_body = VerifyTwoFactorRequest,
    responses((status = 200, body = TokenResponse), (status = 400, description = "invalid_code", body = sm_http::ErrorBody),
              (status = 401, description = "invalid_ticket", body = sm_http::ErrorBody), (status = 429, body = sm_http::ErrorBody)))]
pub async fn verify_2fa(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    Json(req): Json<VerifyTwoFactorRequest>,
) -> Result<(CookieJar, Json<TokenResponse>)> {
    state.limits.verify.check(client.ip)?;
    let ticket_hash = opaque::hash(&req.ticket);
    let (user_id, method) = db::tickets::take_attempt(&state.db, &ticket_hash, TICKET_MAX_ATTEMPTS)
        .await?
        .ok_or(Error::InvalidTicket)?;
    let user = db::users::find_by_id(&state.db, user_id)
        .await?
        .filter(|u| u.is_active)
        .ok_or(Error::InvalidTicket)?;

    // Someone who has the password still gets only so many tries at the second factor, over
    // all tickets. The try is counted before the check, so parallel tries cannot all pass;
    // a successful one is given back below.
    let budget = state
        .budget_keys
        .hash(&[b"second_factor", user.id.as_bytes()]);
    if !db::budgets::take(&state.db, &budget, MAX_FACTOR_FAILURES, FACTOR_WINDOW_SECS).await? {
        let wait = db::budgets::wait_secs(&state.db, &budget, FACTOR_WINDOW_SECS).await?;
        return Err(ApiError::too_many_requests(wait).into());
    }
    // Checked before the transaction starts, so a request never holds two connections.
    let checked = check_second_factor(&state, &user, &method, &req).await;
    let mut tx = state.db.begin().await?;
    let used = match checked {
        Ok(factor) => factor.use_up(&mut tx, user.id).await,
        Err(e) => Err(e),
    };
    if let Err(e) = used {
        if matches!(e, Error::InvalidCode) {
            drop(tx);
            let detail = serde_json::json!({ "method": method });
            db::audit::record(
                &state.db,
                Some(user.id),
                FACTOR_FAILED,
                Some(&client),
                detail,
            )
            .await?;
        }
        return Err(e);
    }
    if !db::tickets::consume(&mut *tx, &ticket_hash).await? {
        return Err(Error::InvalidTicket);
    }
    db::budgets::refund(&mut *tx, &budget).await?;
    let detail =
        serde_json::json!({ "method": method, "recovery_code": req.recovery_code.is_some() });
    db::audit::record(
        &mut *tx,
        Some(user.id),
        "login_succeeded",
        Some(&client),
        detail,
    )
    .await?;
    let (jar, response) = tokens::start_session(&state, &mut tx, jar, user, &client).await?;
    tx.commit().await?;
    Ok((jar, Json(response)))
}

/// A second factor that passed its check and is used up inside the login's transaction,
/// with the session it opens.
enum Factor {
    Code(mailed_codes::Matched),
    /// Already used up: its time step is recorded when it is checked.
    Totp,
    Recovery(Vec<u8>),
}

impl Factor {
    async fn use_up(self, tx: &mut PgConnection, user_id: uuid::Uuid) -> Result<()> {
        match self {
            Factor::Code(matched) => matched.consume(tx).await,
            Factor::Totp => Ok(()),
            Factor::Recovery(hash) if db::recovery_codes::consume(tx, user_id, &hash).await? => {
                Ok(())
            }
            Factor::Recovery(_) => Err(Error::InvalidCode),
        }
    }
}

/// The mailed code, the authenticator's code or a recovery code, as the ticket's method allows.
async fn check_second_factor(
    state: &AppState,
    user: &UserRow,
    method: &str,
    req: &VerifyTwoFactorRequest,
) -> Result<Factor> {
    match (method, req.code.as_deref(), req.recovery_code.as_deref()) {
        ("email", Some(code), None) => Ok(Factor::Code(
            mailed_codes::check(state, user.id, Purpose::Login, code).await?,
        )),
        ("totp", Some(code), None) => check_totp(state, user, code).await.map(|()| Factor::Totp),
        ("totp", None, Some(recovery_code)) => Ok(Factor::Recovery(recovery::hash(recovery_code))),
        _ => Err(Error::InvalidCode),
    }
}

/// Accepts an authenticator code once: the step it belongs to is recorded atomically.
async fn check_totp(state: &AppState, user: &UserRow, code: &str) -> Result<()> {
    let sealed = user.totp_secret_enc.as_deref().ok_or(Error::InvalidCode)?;
    let secret = state
        .totp_keys
        .open(sealed, user.id.as_bytes())
        .ok_or_else(|| anyhow::anyhow!("TOTP secret of user {} does not decrypt", user.id))?;
    let totp = Totp::new(
        secret,
        totp::DIGITS,
        &state.settings.totp_issuer,
        &user.email,
    )
    .map_err(anyhow::Error::msg)?;
    let now = chrono::Utc::now().timestamp() as u64;
    let step = totp.matching_step(code, now).ok_or(Error::InvalidCode)?;
    if db::users::accept_totp_step(&state.db, user.id, step as i64).await? {
        Ok(())
    } else {
        Err(Error::InvalidCode)
    }
}
