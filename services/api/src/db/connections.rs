use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConnectionRow {
    pub id: Uuid,
    pub platform: String,
    pub shop_name: String,
    pub credentials_hint: String,
    pub settings: serde_json::Value,
    pub status: String,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_error_code: Option<String>,
    pub last_error: Option<String>,
    pub sandbox: bool,
    pub last_checked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub stock_buffer: i32,
    pub orders_synced_until: Option<DateTime<Utc>>,
    pub products_synced_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, platform, shop_name, credentials_hint, settings, status, last_sync_at, last_error_code, last_error, sandbox, last_checked_at, created_at, updated_at, stock_buffer, orders_synced_until, products_synced_at";

/// A connection with its sealed credentials.
#[derive(sqlx::FromRow)]
pub struct SealedConnection {
    #[sqlx(flatten)]
    pub row: ConnectionRow,
    pub credentials_enc: Vec<u8>,
}

pub async fn list(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<ConnectionRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM connections WHERE user_id = $1 ORDER BY created_at, id"
    ))
    .bind(user_id)
    .fetch_all(db)
    .await
}

pub async fn find(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<ConnectionRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM connections WHERE user_id = $1 AND id = $2"
    ))
    .bind(user_id)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// One of the user's connections with its sealed credentials.
pub async fn find_sealed(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<SealedConnection>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS}, credentials_enc FROM connections WHERE user_id = $1 AND id = $2"
    ))
    .bind(user_id)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The user's (oldest) connection to an account of a platform, sandbox or not.
pub async fn find_by_account(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    platform: &str,
    account_ref: &str,
    sandbox: bool,
) -> sqlx::Result<Option<ConnectionRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM connections
          WHERE user_id = $1 AND platform = $2 AND account_ref = $3 AND sandbox = $4
          ORDER BY created_at, id LIMIT 1"
    ))
    .bind(user_id)
    .bind(platform)
    .bind(account_ref)
    .bind(sandbox)
    .fetch_optional(db)
    .await
}

pub struct NewConnection<'a> {
    pub id: Uuid,
    pub platform: &'a str,
    pub shop_name: &'a str,
    pub credentials_enc: &'a [u8],
    pub credentials_hint: &'a str,
    pub settings: &'a serde_json::Value,
    /// Shop domain, seller id or client key, once known to be the credentials' account
    /// (the install flow); otherwise the first successful check sets it.
    pub account_ref: Option<&'a str>,
    pub sandbox: bool,
    /// Made through the Shopify app install: the app's uninstall marks it.
    pub via_app: bool,
}

/// Most connections a merchant may have.
pub const MAX_PER_USER: i64 = 100;

/// Whether the user may add another connection (a hint: [`insert`] decides).
pub async fn has_room(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<bool> {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM connections WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await?;
    Ok(count < MAX_PER_USER)
}

/// Adds a connection unless the user has [`MAX_PER_USER`] already (`None` then). The user's
/// inserts take turns (a transaction-scoped advisory lock on the user), so that concurrent
/// ones cannot pass the cap together.
pub async fn insert(
    db: &PgPool,
    user_id: Uuid,
    c: &NewConnection<'_>,
) -> sqlx::Result<Option<ConnectionRow>> {
    let mut tx = db.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('connections:' || $1::text, 0))")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if !has_room(&mut *tx, user_id).await? {
        return Ok(None);
    }
    let row = sqlx::query_as(&format!(
        "INSERT INTO connections (id, user_id, platform, shop_name, credentials_enc, credentials_hint, settings, account_ref, sandbox, via_app)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
    ))
    .bind(c.id)
    .bind(user_id)
    .bind(c.platform)
    .bind(c.shop_name)
    .bind(c.credentials_enc)
    .bind(c.credentials_hint)
    .bind(c.settings)
    .bind(c.account_ref)
    .bind(c.sandbox)
    .bind(c.via_app)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(row))
}

/// New credentials for an existing connection from a Shopify install (repeated, or for a
/// shop first connected by token): from now on it is the app's (`via_app`).
pub async fn replace_credentials(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    credentials_enc: &[u8],
    credentials_hint: &str,
) -> sqlx::Result<Option<ConnectionRow>> {
    sqlx::query_as(&format!(
        "UPDATE connections SET credentials_enc = $3, credentials_hint = $4, via_app = true, updated_at = now()
          WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(user_id)
    .bind(id)
    .bind(credentials_enc)
    .bind(credentials_hint)
    .fetch_optional(db)
    .await
}

/// Why a connection does not work, in words the merchant may see.
pub struct Problem<'a> {
    pub code: &'a str,
    pub message: &'a str,
}

/// What a credentials check showed about the account the credentials name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account<'a> {
    /// The channel accepted the credentials for this account.
    Confirmed(&'a str),
    /// The channel refused the credentials: they prove no account.
    Refused,
    /// The check did not get that far (channel unavailable, throttled, …).
    Unknown,
}

/// Records the outcome of a credentials check: `active` without a problem, or `error`. The
/// account the credentials name is kept only once the channel accepted them, and forgotten
/// when it refuses them; a connection made through the app install keeps the shop it was
/// installed into. A paused connection stays paused (the merchant paused it); the outcome
/// is still recorded.
pub async fn record_check(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    account: Account<'_>,
    problem: Option<Problem<'_>>,
) -> sqlx::Result<Option<ConnectionRow>> {
    let (status, code, message) = match problem {
        None => ("active", None, None),
        Some(p) => ("error", Some(p.code), Some(p.message)),
    };
    let (confirmed, refused) = match account {
        Account::Confirmed(account_ref) => (Some(account_ref), false),
        Account::Refused => (None, true),
        Account::Unknown => (None, false),
    };
    sqlx::query_as(&format!(
        "UPDATE connections
            SET status = CASE WHEN status = 'paused' THEN status ELSE $3 END,
                last_error_code = $4, last_error = $5,
                account_ref = CASE WHEN via_app THEN account_ref
                                   WHEN $7 THEN NULL
                                   ELSE coalesce($6, account_ref) END,
                last_checked_at = now(), updated_at = now()
          WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(user_id)
    .bind(id)
    .bind(status)
    .bind(code)
    .bind(message)
    .bind(confirmed)
    .bind(refused)
    .fetch_optional(db)
    .await
}

/// Changes name, settings and/or stock buffer; `None` when there is no such connection of
/// the user.
pub async fn update(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    shop_name: Option<&str>,
    settings: Option<&serde_json::Value>,
    stock_buffer: Option<i32>,
) -> sqlx::Result<Option<ConnectionRow>> {
    sqlx::query_as(&format!(
        "UPDATE connections SET shop_name = coalesce($3, shop_name), settings = coalesce($4, settings),
                stock_buffer = coalesce($5, stock_buffer), updated_at = now()
          WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(user_id)
    .bind(id)
    .bind(shop_name)
    .bind(settings)
    .bind(stock_buffer)
    .fetch_optional(db)
    .await
}

/// Deletes a connection; its products, orders (with items) and sync logs go with it through
/// the foreign keys, in the same statement. `false` when there is no such connection.
pub async fn delete(db: impl PgExecutor<'_>, user_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM connections WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
