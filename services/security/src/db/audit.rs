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

/// How many events of `kind` were recorded for the user within the last `secs` seconds.
pub async fn count_within(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    kind: &str,
    secs: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM security_events
          WHERE user_id = $1 AND kind = $2 AND created_at > now() - make_interval(secs => $3)",
    )
    .bind(user_id)
    .bind(kind)
    .bind(secs as f64)
    .fetch_one(db)
    .await
}
