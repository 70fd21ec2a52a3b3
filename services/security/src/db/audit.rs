//! The audit log of security events (logins, failures, resets, revocations).

use std::net::IpAddr;

use sqlx::PgExecutor;
use uuid::Uuid;

pub async fn record(
    db: impl PgExecutor<'_>,
    user_id: Option<Uuid>,
    kind: &str,
    ip: Option<IpAddr>,
    user_agent: Option<&str>,
    detail: serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO security_events (id, user_id, kind, ip, user_agent, detail)
         VALUES ($1, $2, $3, $4::text::inet, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(kind)
    .bind(ip.map(|ip| ip.to_string()))
    .bind(user_agent)
    .bind(detail)
    .execute(db)
    .await?;
    Ok(())
}
