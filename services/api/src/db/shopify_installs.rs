//! Started Shopify installs, keyed by the SHA-256 of their state.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Install {
    pub user_id: Uuid,
    pub shop_domain: String,
    pub sandbox: bool,
}

/// Records a started install, and forgets the expired ones while at it.
pub async fn insert(
    db: impl PgExecutor<'_>,
    state_sha256: &str,
    install: &Install,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "WITH expired AS (DELETE FROM shopify_installs WHERE expires_at < now())
         INSERT INTO shopify_installs (state_sha256, user_id, shop_domain, sandbox, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(state_sha256)
    .bind(install.user_id)
    .bind(&install.shop_domain)
    .bind(install.sandbox)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// The install a state belongs to, if it has not expired; it stays usable.
pub async fn find(db: impl PgExecutor<'_>, state_sha256: &str) -> sqlx::Result<Option<Install>> {
    sqlx::query_as(
        "SELECT user_id, shop_domain, sandbox FROM shopify_installs
          WHERE state_sha256 = $1 AND expires_at > now()",
    )
    .bind(state_sha256)
    .fetch_optional(db)
    .await
}

/// Uses a state up: `Some` for exactly one caller, and only before it expires.
pub async fn consume(db: impl PgExecutor<'_>, state_sha256: &str) -> sqlx::Result<Option<Install>> {
    sqlx::query_as(
        "DELETE FROM shopify_installs WHERE state_sha256 = $1 AND expires_at > now()
         RETURNING user_id, shop_domain, sandbox",
    )
    .bind(state_sha256)
    .fetch_optional(db)
    .await
}
