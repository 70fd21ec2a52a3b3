//! Issuing and checking the six-digit codes mailed for email verification, login and
//! password reset: 10 minutes, 5 attempts, single use, a new code kills the old one,
//! one mail a minute at most.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::db;
use crate::domain::code;
use crate::error::{Error, Result};
use crate::state::AppState;

pub const TTL_MINUTES: i64 = 10;
pub const MAX_ATTEMPTS: i32 = 5;
pub const RESEND_COOLDOWN_SECS: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    EmailVerification,
    Login,
    PasswordReset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::EmailVerification => "email_verification",
            Purpose::Login => "login_2fa",
            Purpose::PasswordReset => "password_reset",
        }
    }
}

fn hash(state: &AppState, user_id: Uuid, purpose: Purpose, code: &str) -> Vec<u8> {
    state.codes.hash(&[
        purpose.as_str().as_bytes(),
        user_id.as_bytes(),
        code.as_bytes(),
    ])
}

/// A fresh code to mail, or `None` while the previous one is younger than the cooldown
/// (it stays valid, so nothing needs to be sent).
pub async fn issue(state: &AppState, user_id: Uuid, purpose: Purpose) -> Result<Option<String>> {
    let code = code::generate();
    let issued = db::codes::issue(
        &state.db,
        user_id,
        purpose.as_str(),
        &hash(state, user_id, purpose, &code),
        TTL_MINUTES * 60,
        RESEND_COOLDOWN_SECS,
    )
    .await?;
    Ok(issued.then_some(code))
}

/// A code that matched; use it up with [`Matched::consume`] inside the transaction that
/// does what the code allows, so the two happen together or not at all.
pub struct Matched(Uuid);

impl Matched {
    pub async fn consume(self, tx: &mut PgConnection) -> Result<()> {
        if db::codes::consume(tx, self.0).await? {
            Ok(())
        } else {
            Err(Error::InvalidCode)
        }
    }
}

/// Checks `input` against the user's live code. The attempt is counted (and committed)
/// before the comparison, so concurrent guesses cannot exceed the limit.
pub async fn check(
    state: &AppState,
    user_id: Uuid,
    purpose: Purpose,
    input: &str,
) -> Result<Matched> {
    let Some(input) = code::parse(input) else {
        return Err(Error::InvalidCode);
    };
    let Some((id, stored)) =
        db::codes::take_attempt(&state.db, user_id, purpose.as_str(), MAX_ATTEMPTS).await?
    else {
        return Err(Error::InvalidCode);
    };
    if state.codes.matches(
        &[
            purpose.as_str().as_bytes(),
            user_id.as_bytes(),
            input.as_bytes(),
        ],
        &stored,
    ) {
        Ok(Matched(id))
    } else {
        Err(Error::InvalidCode)
    }
}
