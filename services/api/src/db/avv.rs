use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SignatureRow {
    pub id: Uuid,
    pub version: String,
    pub language: String,
    pub text_sha256: String,
    pub signer_name: String,
    pub signer_role: String,
    pub company_name: String,
    pub signed_at: DateTime<Utc>,
    pub ip: Option<String>,
}

const COLUMNS: &str = "id, version, language, text_sha256, signer_name, signer_role, company_name, signed_at, host(ip) AS ip";

pub async fn find(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    version: &str,
) -> sqlx::Result<Option<SignatureRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM avv_signatures WHERE user_id = $1 AND version = $2"
    ))
    .bind(user_id)
    .bind(version)
    .fetch_optional(db)
    .await
}

pub struct NewSignature<'a> {
    pub version: &'a str,
    pub language: &'a str,
    pub text_sha256: &'a str,
    pub signer_name: &'a str,
    pub signer_role: &'a str,
    pub company_name: &'a str,
    pub ip: IpAddr,
    pub user_agent: Option<&'a str>,
}

/// Records a signature; signing the same version again changes nothing and returns the
/// first signature.
pub async fn sign(
    db: impl PgExecutor<'_> + Copy,
    user_id: Uuid,
    s: &NewSignature<'_>,
) -> sqlx::Result<SignatureRow> {
    sqlx::query(
        "INSERT INTO avv_signatures (id, user_id, version, language, text_sha256, signer_name, signer_role, company_name, ip, user_agent)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::inet, $10)
         ON CONFLICT (user_id, version) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(s.version)
    .bind(s.language)
    .bind(s.text_sha256)
    .bind(s.signer_name)
    .bind(s.signer_role)
    .bind(s.company_name)
    .bind(s.ip.to_string())
    .bind(s.user_agent)
    .execute(db)
    .await?;
    find(db, user_id, s.version)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}
