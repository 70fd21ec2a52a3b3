use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub full_name: String,
    pub language: String,
    pub role: String,
    pub is_verified: bool,
    pub is_active: bool,
    pub totp_secret_enc: Option<Vec<u8>>,
    pub totp_pending_enc: Option<Vec<u8>>,
    pub totp_enabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, email, password_hash, full_name, language, role::text AS role, is_verified, \
     is_active, totp_secret_enc, totp_pending_enc, totp_enabled_at, created_at";

pub async fn find_by_email(db: impl PgExecutor<'_>, email: &str) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE email = $1"))
        .bind(email)
        .fetch_optional(db)
        .await
}

pub async fn find_by_id(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// What a sign-up did to the address's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignUp {
    /// A new account.
    Created,
    /// The address was taken but never verified: the account now has this sign-up's password,
    /// name and language (whoever proves the mailbox next decides them).
    Replaced,
    /// The address belongs to a verified account, which stays untouched.
    Verified,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SignedUp {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub language: String,
    pub is_verified: bool,
}

/// Creates the account, or gives a taken but unverified one this sign-up's details; a verified
/// one is left as it is. One statement whatever the address, so every case does the same work.
pub async fn sign_up(
    db: impl PgExecutor<'_>,
    id: Uuid,
    email: &str,
    password_hash: &str,
    full_name: &str,
    language: &str,
) -> sqlx::Result<(SignUp, SignedUp)> {
    let row: SignedUp = sqlx::query_as(
        "INSERT INTO users AS u (id, email, password_hash, full_name, language) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (email) DO UPDATE SET
            password_hash = CASE WHEN u.is_verified THEN u.password_hash ELSE EXCLUDED.password_hash END,
            full_name = CASE WHEN u.is_verified THEN u.full_name ELSE EXCLUDED.full_name END,
            language = CASE WHEN u.is_verified THEN u.language ELSE EXCLUDED.language END,
            password_changed_at = CASE WHEN u.is_verified THEN u.password_changed_at ELSE now() END,
            updated_at = CASE WHEN u.is_verified THEN u.updated_at ELSE now() END
         RETURNING id, email, full_name, language, is_verified",
    )
    .bind(id)
    .bind(email)
    .bind(password_hash)
    .bind(full_name)
    .bind(language)
    .fetch_one(db)
    .await?;
    let outcome = if row.id == id {
        SignUp::Created
    } else if row.is_verified {
        SignUp::Verified
    } else {
        SignUp::Replaced
    };
    Ok((outcome, row))
}

pub async fn mark_verified(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET is_verified = true, updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn set_password(
    db: impl PgExecutor<'_>,
    id: Uuid,
    password_hash: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET password_hash = $2, password_changed_at = now(), updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(password_hash)
    .execute(db)
    .await?;
    Ok(())
}

/// Enables or disables an account; `false` when there is no such user.
pub async fn set_active(db: impl PgExecutor<'_>, id: Uuid, active: bool) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE users SET is_active = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(active)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_role(db: impl PgExecutor<'_>, email: &str, role: &str) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE users SET role = $2::user_role, updated_at = now() WHERE email = $1")
            .bind(email)
            .bind(role)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_totp_pending(
    db: impl PgExecutor<'_>,
    id: Uuid,
    sealed: &[u8],
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET totp_pending_enc = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(sealed)
        .execute(db)
        .await?;
    Ok(())
}

/// Promotes the pending secret the code was checked against (`pending`) — not one a
/// concurrent set-up may have put there since.
pub async fn enable_totp(
    db: impl PgExecutor<'_>,
    id: Uuid,
    pending: &[u8],
    step: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE users SET totp_secret_enc = totp_pending_enc, totp_pending_enc = NULL, totp_enabled_at = now(),
                totp_last_step = $3, updated_at = now()
         WHERE id = $1 AND totp_pending_enc = $2 AND totp_enabled_at IS NULL",
    )
    .bind(id)
    .bind(pending)
    .bind(step)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn disable_totp(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET totp_secret_enc = NULL, totp_pending_enc = NULL, totp_enabled_at = NULL,
                totp_last_step = NULL, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Records that the code of `step` was used; `false` if it (or a later one) already was.
pub async fn accept_totp_step(db: impl PgExecutor<'_>, id: Uuid, step: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE users SET totp_last_step = $2
         WHERE id = $1 AND totp_enabled_at IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < $2)",
    )
    .bind(id)
    .bind(step)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
