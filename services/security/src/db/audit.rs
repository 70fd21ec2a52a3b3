//! The audit log of security events (logins, failures, resets, revocations).

use sm_http::ClientInfo;
use sqlx::PgExecutor;
use uuid::Uuid;

pub async fn record(
    db: impl PgExecutor<'_>,
    user_id: Option<Uuid>,
    kind: &str,
    client: Option<&ClientInfo>,
    detail: serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO security_events (id, user_id, kind, ip, user_agent, detail)
         VALUES ($1, $2, $3, $4::text::inet, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(kind)
    .bind(client.map(|c| c.ip.to_string()))
    .bind(client.and_then(|c| c.user_agent.as_deref()))
    .bind(detail)
    .execute(db)
    .await?;
    Ok(())
}
