//! Started Shopify installs, keyed by the SHA-256 of their state.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Install {
    pub user_id: Uuid,
    pub shop_domain: String,
    pub sandbox: bool,
}

/// Most pending installs a merchant may have; starting another forgets their oldest.
pub const MAX_PENDING_PER_USER: i64 = 20;

/// Records a started install, forgets the expired ones while at it, and the user's oldest
/// pending ones beyond [`MAX_PENDING_PER_USER`].
pub async fn insert(
    db: &PgPool,
    state_sha256: &str,
    install: &Install,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
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
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM shopify_installs WHERE state_sha256 IN (
            SELECT state_sha256 FROM shopify_installs WHERE user_id = $1
             ORDER BY expires_at DESC, state_sha256 OFFSET $2)",
    )
    .bind(install.user_id)
    .bind(MAX_PENDING_PER_USER)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
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
