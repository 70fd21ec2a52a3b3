use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
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
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, platform, shop_name, credentials_hint, settings, status, last_sync_at, last_error, created_at, updated_at";

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

pub struct NewConnection<'a> {
    pub id: Uuid,
    pub platform: &'a str,
    pub shop_name: &'a str,
    pub credentials_enc: &'a [u8],
    pub credentials_hint: &'a str,
    pub settings: &'a serde_json::Value,
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    c: &NewConnection<'_>,
) -> sqlx::Result<ConnectionRow> {
    sqlx::query_as(&format!(
        "INSERT INTO connections (id, user_id, platform, shop_name, credentials_enc, credentials_hint, settings)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .bind(c.id)
    .bind(user_id)
    .bind(c.platform)
    .bind(c.shop_name)
    .bind(c.credentials_enc)
    .bind(c.credentials_hint)
    .bind(c.settings)
    .fetch_one(db)
    .await
}

/// Changes name and/or settings; `None` when there is no such connection of the user.
pub async fn update(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    shop_name: Option<&str>,
    settings: Option<&serde_json::Value>,
) -> sqlx::Result<Option<ConnectionRow>> {
    sqlx::query_as(&format!(
        "UPDATE connections SET shop_name = coalesce($3, shop_name), settings = coalesce($4, settings), updated_at = now()
          WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(user_id)
    .bind(id)
    .bind(shop_name)
    .bind(settings)
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
