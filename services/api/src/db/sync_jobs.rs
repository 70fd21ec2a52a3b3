//! Sync jobs and their ledger as the merchant reads them (the engine writes them in
//! `crate::sync`). Every query is scoped by the caller's user id.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::sync::job::COLUMNS;
use crate::sync::{Job, State};

/// One of the user's jobs.
pub async fn find(db: impl PgExecutor<'_>, user_id: Uuid, id: Uuid) -> sqlx::Result<Option<Job>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sync_jobs WHERE user_id = $1 AND id = $2"
    ))
    .bind(user_id)
    .bind(id)
    .fetch_optional(db)
    .await
}

#[derive(Debug, Default)]
pub struct Filter {
    pub connection_id: Option<Uuid>,
    pub state: Option<State>,
}

/// The user's jobs, newest first (ids are UUIDv7), after the job `after` of the previous
/// page; up to `limit + 1` rows, so the caller can tell whether another page follows.
pub async fn list(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    f: &Filter,
    after: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<Job>> {
    let mut qb: QueryBuilder<'_, Postgres> =
        QueryBuilder::new(format!("SELECT {COLUMNS} FROM sync_jobs WHERE user_id = "));
    qb.push_bind(user_id);
    if let Some(connection_id) = f.connection_id {
        qb.push(" AND connection_id = ").push_bind(connection_id);
    }
    if let Some(state) = f.state {
        qb.push(" AND state = ").push_bind(state);
    }
    if let Some(after) = after {
        qb.push(" AND id < ").push_bind(after);
    }
    qb.push(" ORDER BY id DESC LIMIT ").push_bind(limit + 1);
    qb.build_query_as().fetch_all(db).await
}

/// A line of a job's ledger.
#[derive(Debug, sqlx::FromRow)]
pub struct LedgerRow {
    pub id: i64,
    pub entity: String,
    pub action: String,
    pub product_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub sku: Option<String>,
    pub external_id: Option<String>,
    pub changes: serde_json::Value,
    pub channel_code: Option<String>,
    pub channel_message: Option<String>,
    pub will_retry: bool,
    pub at: DateTime<Utc>,
}

/// The ledger of one of the user's jobs in the order it was written, after entry `after`;
/// up to `limit + 1` rows.
pub async fn ledger(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    job_id: Uuid,
    after: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<LedgerRow>> {
    sqlx::query_as(
        "SELECT id, entity, action, product_id, order_id, sku, external_id, changes,
                channel_code, channel_message, will_retry, at
           FROM sync_ledger
          WHERE job_id = $2 AND user_id = $1 AND id > coalesce($3, 0)
          ORDER BY id LIMIT $4",
    )
    .bind(user_id)
    .bind(job_id)
    .bind(after)
    .bind(limit + 1)
    .fetch_all(db)
    .await
}
