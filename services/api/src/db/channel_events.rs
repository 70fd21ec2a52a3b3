//! Webhook deliveries from the channels.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, Row};
use uuid::Uuid;

/// What a webhook said, about which account.
pub struct Event<'a> {
    pub platform: &'a str,
    /// Shop domain, seller id or client key.
    pub account_ref: &'a str,
    pub sandbox: bool,
    pub topic: &'a str,
    pub event_id: &'a str,
    /// Hex SHA-256 of the topic and the raw body.
    pub body_sha256: &'a str,
    pub payload: &'a serde_json::Value,
}

/// A connection an event was new for.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub connection_id: Uuid,
    pub user_id: Uuid,
    /// The connection's status when the event arrived.
    pub status: String,
}

/// Records the event once for every connection of its account: `account_ref` is set only
/// once the channel accepted the connection's credentials for that account (or the shop
/// approved the app install), so unverified connections get nothing. A repeated delivery
/// (same event id) or a replayed body (same topic and body) adds nothing. Returns the
/// connections it was new for.
pub async fn record(db: &mut PgConnection, event: &Event<'_>) -> sqlx::Result<Vec<Recorded>> {
    let targets = sqlx::query(
        "SELECT id, user_id, status FROM connections
          WHERE platform = $1 AND account_ref = $2 AND sandbox = $3",
    )
    .bind(event.platform)
    .bind(event.account_ref)
    .bind(event.sandbox)
    .fetch_all(&mut *db)
    .await?;
    let mut new = Vec::new();
    for target in targets {
        let target = Recorded {
            connection_id: target.try_get("id")?,
            user_id: target.try_get("user_id")?,
            status: target.try_get("status")?,
        };
        let inserted = sqlx::query(
            "INSERT INTO channel_events (id, user_id, connection_id, platform, topic, event_id, body_sha256, payload)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(Uuid::now_v7())
        .bind(target.user_id)
        .bind(target.connection_id)
        .bind(event.platform)
        .bind(event.topic)
        .bind(event.event_id)
        .bind(event.body_sha256)
        .bind(event.payload)
        .execute(&mut *db)
        .await?;
        if inserted.rows_affected() == 1 {
            new.push(target);
        }
    }
    Ok(new)
}

/// Marks those of `ids` made through the app install as `disconnected` (the app's token is
/// gone: they must be connected again), and fails their waiting sync job, which could only
/// fail on the missing token. A pasted token is not the app's: its connection keeps
/// working. A running job is left to its worker (its next channel call fails).
pub async fn mark_uninstalled(db: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query(
        "WITH gone AS (
             UPDATE connections
                SET status = 'disconnected', last_error_code = 'app_uninstalled',
                    last_error = 'The ShopMarkets app was uninstalled from the shop; connect it again.',
                    updated_at = now()
              WHERE id = ANY($1) AND via_app
          RETURNING id)
         UPDATE sync_jobs
            SET state = 'failed', error_code = 'app_uninstalled',
                error = 'The ShopMarkets app was uninstalled from the shop.',
                completed_at = now(), updated_at = now()
          WHERE connection_id IN (SELECT id FROM gone) AND state = 'queued'",
    )
    .bind(ids)
    .execute(db)
    .await?;
    Ok(())
}

/// A recorded event, as its connection's merchant sees it.
#[derive(Debug, sqlx::FromRow)]
pub struct EventRow {
    pub id: Uuid,
    pub topic: String,
    pub event_id: String,
    pub received_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

/// The newest `limit` events of one of the user's connections, newest first.
pub async fn list(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    connection_id: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<EventRow>> {
    sqlx::query_as(
        "SELECT id, topic, event_id, received_at, payload FROM channel_events
          WHERE user_id = $1 AND connection_id = $2
          ORDER BY received_at DESC, id DESC LIMIT $3",
    )
    .bind(user_id)
    .bind(connection_id)
    .bind(limit)
    .fetch_all(db)
    .await
}
