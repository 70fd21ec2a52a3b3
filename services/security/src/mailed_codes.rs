//! Issuing and checking the six-digit codes mailed for email verification, login and
//! password reset: 10 minutes, 5 attempts, single use, a new code kills the old one,
//! one mail a minute at most.

use std::net::IpAddr;

use sm_domain::Language;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::db;
use crate::db::users::UserRow;
use crate::domain::code;
use crate::error::{Error, Result};
use crate::mail::MailKind;
use crate::state::AppState;

pub const TTL_MINUTES: i64 = 10;
pub const MAX_ATTEMPTS: i32 = 5;
pub const RESEND_COOLDOWN_SECS: i64 = 60;
const DAY_SECS: i64 = 24 * 60 * 60;

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

/// A fresh code to mail, or `None` while the previous one is younger than `cooldown_secs`
/// (it stays valid, so nothing needs to be sent); a cooldown of 0 always replaces the
/// previous code. Run it in the transaction that queues the mail carrying the code.
pub async fn issue_in(
    state: &AppState,
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    purpose: Purpose,
    cooldown_secs: i64,
) -> Result<Option<String>> {
    let code = code::generate();
    let issued = db::verification_codes::issue(
        db,
        user_id,
        purpose.as_str(),
        &hash(state, user_id, purpose, &code),
        TTL_MINUTES * 60,
        cooldown_secs,
    )
    .await?;
    Ok(issued.then_some(code))
}

/// Issues a code of `purpose` for `user` and queues the `kind` mail that carries it, both in
/// `tx`. Within the resend cooldown nothing happens: the code mailed a moment ago stays valid.
pub async fn issue_and_queue(
    state: &AppState,
    tx: &mut PgConnection,
    user: &UserRow,
    purpose: Purpose,
    kind: MailKind,
) -> Result<()> {
    if let Some(code) = issue_in(state, &mut *tx, user.id, purpose, RESEND_COOLDOWN_SECS).await? {
        let language = Language::from_db(&user.language);
        let (to, name) = (&user.email, &user.full_name);
        state
            .mail
            .queue(&mut *tx, kind, language, to, name, Some(&code))
            .await?;
    }
    Ok(())
}

/// How many clients' daily guesses (see [`take_daily_guess`]) one address allows in all.
pub const ADDRESS_CEILING_FACTOR: i32 = 10;

/// Counts a guess at the codes of `purpose` mailed to `email`, refusing once `client`'s
/// network (IPv4 address, IPv6 /48) made `per_day` guesses at them today, or all networks together ten times as many.
/// Each code allows [`MAX_ATTEMPTS`], but a new code can be had every minute (or, for
/// verification, with every sign-up), so the guesses are also counted across codes — per
/// network, so an attacker's guesses use up their own budget and not the owner's (who can
/// still use the code they were mailed), with a ceiling per address against many networks.
/// Counted before any account is looked up, so an address without one behaves the same.
pub async fn take_daily_guess(
    state: &AppState,
    purpose: Purpose,
    email: &str,
    client: IpAddr,
    per_day: i32,
) -> Result<()> {
    // IPv6 clients by their /48, a whole customer's site: a /64 each is free for the taking.
    let network = sm_http::Scope::of(client)
        .next()
        .expect("every address has a network")
        .to_string();
    let (purpose_name, email) = (purpose.as_str().as_bytes(), email.as_bytes());
    let budgets = [
        (
            state.budget_keys.hash(&[
                b"code_guesses_from_network",
                purpose_name,
                email,
                network.as_bytes(),
            ]),
            per_day,
        ),
        (
            state
                .budget_keys
                .hash(&[b"code_guesses", purpose_name, email]),
            per_day.saturating_mul(ADDRESS_CEILING_FACTOR),
        ),
    ];
    // One network's guesses stop at its own budget, so they cannot use up more than that
    // of the address's.
    for (key, max) in budgets {
        if !db::budgets::take(&state.db, &key, max, DAY_SECS).await? {
            let retry_after_secs = db::budgets::wait_secs(&state.db, &key, DAY_SECS).await?;
            return Err(Error::GuessesExhausted {
                purpose,
                retry_after_secs,
            });
        }
    }
    Ok(())
}

/// A code that matched; use it up with [`Matched::consume`] inside the transaction that
/// does what the code allows, so the two happen together or not at all.
pub struct Matched(Uuid);

impl Matched {
    pub async fn consume(self, tx: &mut PgConnection) -> Result<()> {
        if db::verification_codes::consume(tx, self.0).await? {
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
        db::verification_codes::take_attempt(&state.db, user_id, purpose.as_str(), MAX_ATTEMPTS)
            .await?
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
