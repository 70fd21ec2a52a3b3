//! Sessions from the token side: start one, refresh (rotating the refresh token), log out.

use axum::body::Bytes;
use axum::extract::State;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use sm_http::{ApiError, Json};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::me::UserView;
use crate::auth::AuthUser;
use crate::crypto::opaque;
use crate::db;
use crate::db::sessions::Rotation;
use crate::db::users::UserRow;
use crate::error::{Error, Result};
use crate::state::AppState;
use sm_domain::Role;
use sm_http::ClientInfo;

pub const REFRESH_COOKIE: &str = "sm_refresh";
const COOKIE_PATH: &str = "/api/auth";

/// Holds live tokens, so it has no `Debug`: it must never end up in a log line.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// JWT for `Authorization: Bearer`, valid for `expires_in` seconds.
    pub access_token: String,
    /// Opaque, single use: each refresh returns a new one. Browsers also get it as the
    /// httpOnly `sm_refresh` cookie.
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    #[schema(example = 900)]
    pub expires_in: u64,
    pub user: UserView,
}

fn refresh_cookie(state: &AppState, value: String) -> Cookie<'static> {
    let mut cookie = Cookie::build((REFRESH_COOKIE, value))
        .http_only(true)
        .secure(state.settings.cookie_secure)
        .same_site(SameSite::Strict)
        .path(COOKIE_PATH)
        .max_age(time::Duration::days(state.settings.session_ttl_days))
        .build();
    if let Some(domain) = &state.settings.cookie_domain {
        cookie.set_domain(domain.clone());
    }
    cookie
}

/// Tells the browser to drop the refresh cookie (whether or not this request carried it).
fn removal_cookie(state: &AppState) -> Cookie<'static> {
    let mut cookie = Cookie::build((REFRESH_COOKIE, ""))
        .http_only(true)
        .secure(state.settings.cookie_secure)
        .same_site(SameSite::Strict)
        .path(COOKIE_PATH)
        .max_age(time::Duration::ZERO)
        .expires(time::OffsetDateTime::UNIX_EPOCH)
        .build();
    if let Some(domain) = &state.settings.cookie_domain {
        cookie.set_domain(domain.clone());
    }
    cookie
}

/// Issues an access token and a fresh refresh token for `session_id`.
async fn issue_tokens(
    state: &AppState,
    tx: &mut PgConnection,
    jar: CookieJar,
    user: UserRow,
    session_id: Uuid,
) -> Result<(CookieJar, TokenResponse)> {
    let refresh_token = opaque::generate();
    db::sessions::add_refresh_token(&mut *tx, session_id, &opaque::hash(&refresh_token)).await?;
    hand_out(state, jar, user, session_id, refresh_token)
}

/// A new access token, with `refresh_token` in the body and the cookie.
fn hand_out(
    state: &AppState,
    jar: CookieJar,
    user: UserRow,
    session_id: Uuid,
    refresh_token: String,
) -> Result<(CookieJar, TokenResponse)> {
    let role = Role::parse(&user.role).unwrap_or(Role::Merchant);
    let (access_token, _) = state.jwt.issue(user.id, session_id, role)?;
    let jar = jar.add(refresh_cookie(state, refresh_token.clone()));
    Ok((
        jar,
        TokenResponse {
            access_token,
            refresh_token,
            token_type: "Bearer",
            expires_in: state.jwt.ttl().as_secs(),
            user: user.into(),
        },
    ))
}

/// Starts a session for a user who just passed both factors.
pub async fn start_session(
    state: &AppState,
    tx: &mut PgConnection,
    jar: CookieJar,
    user: UserRow,
    client: &ClientInfo,
) -> Result<(CookieJar, TokenResponse)> {
    let session_id = Uuid::now_v7();
    db::sessions::create(
        &mut *tx,
        session_id,
        user.id,
        state.settings.session_ttl_days,
        client.ip,
        client.user_agent.as_deref(),
    )
    .await?;
    issue_tokens(state, tx, jar, user, session_id).await
}

#[derive(Deserialize, ToSchema, Default)]
pub struct RefreshRequest {
    /// Omit in browsers: the `sm_refresh` cookie is used.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// Exchanges a refresh token for new tokens. The presented token is used up; presented again
/// within `REFRESH_REUSE_INTERVAL_SECS` (a second tab, a retry) it gets the same successor,
/// later (a stolen copy, or a replay) it ends the whole session. A refusal also drops the
/// refresh cookie.
#[utoipa::path(post, path = "/api/auth/refresh-token", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, description = "invalid_refresh_token", body = sm_http::ErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    body: Bytes,
) -> std::result::Result<(CookieJar, Json<TokenResponse>), (CookieJar, Error)> {
    match exchange(&state, &client, jar.clone(), &body).await {
        Ok((jar, response)) => Ok((jar, Json(response))),
        Err(e @ Error::InvalidRefreshToken) => Err((jar.add(removal_cookie(&state)), e)),
        Err(e) => Err((jar, e)),
    }
}

/// The refresh itself: rotate the presented token, hand back its successor, or end the session.
async fn exchange(
    state: &AppState,
    client: &ClientInfo,
    jar: CookieJar,
    body: &[u8],
) -> Result<(CookieJar, TokenResponse)> {
    // The body is optional (browsers send only the cookie), so it is parsed by hand.
    let from_body = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<RefreshRequest>(body)
            .map_err(|_| {
                ApiError::bad_request("malformed_json", "The request body is not valid JSON.")
            })?
            .refresh_token
    };
    let presented = from_body
        .or_else(|| jar.get(REFRESH_COOKIE).map(|c| c.value().to_owned()))
        .filter(|t| !t.is_empty())
        .ok_or(Error::InvalidRefreshToken)?;
    let presented_hash = opaque::hash(&presented);
    // The successor is sealed with a pad only the holder of the presented token can derive.
    let pad = state.successor_pads.hash(&[presented.as_bytes()]);
    let reuse_secs = state.settings.refresh_reuse_interval_secs;
    let mut tx = state.db.begin().await?;
    let session_id = match db::sessions::rotate(&mut tx, &presented_hash, reuse_secs).await? {
        Rotation::Rotated { session_id } => {
            let user = live_user(&mut tx, session_id).await?;
            let (jar, response) = issue_tokens(state, &mut tx, jar, user, session_id).await?;
            let sealed = opaque::seal(&response.refresh_token, &pad)
                .ok_or_else(|| anyhow::anyhow!("a generated refresh token does not seal"))?;
            db::sessions::keep_successor(&mut *tx, &presented_hash, &sealed).await?;
            tx.commit().await?;
            return Ok((jar, response));
        }
        Rotation::Reused {
            session_id,
            successor_sealed,
        } => {
            // Hand back the successor already issued — if it is still the session's live
            // token; once the chain has moved on, this is a replay after all.
            let successor = opaque::open(&successor_sealed, &pad);
            if let Some(successor) = successor {
                let live_successor = opaque::hash(&successor);
                if db::sessions::lock_live_token(&mut tx, session_id, &live_successor).await? {
                    let user = live_user(&mut tx, session_id).await?;
                    let handed = hand_out(state, jar, user, session_id, successor)?;
                    tx.commit().await?;
                    return Ok(handed);
                }
            }
            session_id
        }
        Rotation::Replayed { session_id } => session_id,
        Rotation::Unknown => return Err(Error::InvalidRefreshToken),
    };
    let user_id = db::sessions::revoke_by_id(&mut *tx, session_id, "refresh_token_reuse").await?;
    let detail = serde_json::json!({ "session_id": session_id });
    db::audit::record(
        &mut *tx,
        user_id,
        "refresh_token_reuse",
        Some(client),
        detail,
    )
    .await?;
    tx.commit().await?;
    tracing::warn!(%session_id, "refresh token replayed; session revoked");
    Err(Error::InvalidRefreshToken)
}

/// The user of a live session (not revoked or expired, account active).
async fn live_user(tx: &mut PgConnection, session_id: Uuid) -> Result<UserRow> {
    let user_id = db::sessions::live_user(&mut *tx, session_id)
        .await?
        .ok_or(Error::InvalidRefreshToken)?;
    db::users::find_by_id(&mut *tx, user_id)
        .await?
        .ok_or(Error::InvalidRefreshToken)
}

/// Ends the current session at once (its access and refresh tokens stop working).
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Logged out"), (status = 401, body = sm_http::ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientInfo,
    jar: CookieJar,
) -> Result<(CookieJar, StatusCode)> {
    db::sessions::revoke(&state.db, auth.session_id, auth.user_id, "logout").await?;
    db::audit::record(
        &state.db,
        Some(auth.user_id),
        "logout",
        Some(&client),
        serde_json::json!({}),
    )
    .await?;
    Ok((jar.add(removal_cookie(&state)), StatusCode::NO_CONTENT))
}

/// Ends every session of the user, on every device.
#[utoipa::path(post, path = "/api/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "All sessions ended"), (status = 401, body = sm_http::ErrorBody)))]
pub async fn logout_all(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientInfo,
    jar: CookieJar,
) -> Result<(CookieJar, StatusCode)> {
    let ended = db::sessions::revoke_all(&state.db, auth.user_id, "logout_all", None).await?;
    db::audit::record(
        &state.db,
        Some(auth.user_id),
        "logout_all",
        Some(&client),
        serde_json::json!({ "sessions": ended }),
    )
    .await?;
    Ok((jar.add(removal_cookie(&state)), StatusCode::NO_CONTENT))
}
