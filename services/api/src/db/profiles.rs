use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::domain::profile::Profile;

#[derive(Debug, sqlx::FromRow)]
pub struct ProfileRow {
    pub company_name: String,
    pub street: String,
    pub postal_code: String,
    pub city: String,
    pub country: String,
    pub phone: String,
    pub vat_id: Option<String>,
    pub billing_email: String,
    pub billing_name: String,
    pub updated_at: DateTime<Utc>,
}

impl From<ProfileRow> for Profile {
    fn from(r: ProfileRow) -> Self {
        Profile {
            company_name: r.company_name,
            street: r.street,
            postal_code: r.postal_code,
            city: r.city,
            country: r.country,
            phone: r.phone,
            vat_id: r.vat_id,
            billing_email: r.billing_email,
            billing_name: r.billing_name,
        }
    }
}

pub async fn find(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Option<ProfileRow>> {
    sqlx::query_as(
        "SELECT company_name, street, postal_code, city, country, phone, vat_id, billing_email, billing_name, updated_at
           FROM profiles WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(db)
    .await
}

pub async fn upsert(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    p: &Profile,
) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar(
        "INSERT INTO profiles (user_id, company_name, street, postal_code, city, country, phone, vat_id, billing_email, billing_name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (user_id) DO UPDATE SET
            company_name = EXCLUDED.company_name, street = EXCLUDED.street, postal_code = EXCLUDED.postal_code,
            city = EXCLUDED.city, country = EXCLUDED.country, phone = EXCLUDED.phone, vat_id = EXCLUDED.vat_id,
            billing_email = EXCLUDED.billing_email, billing_name = EXCLUDED.billing_name, updated_at = now()
         RETURNING updated_at",
    )
    .bind(user_id)
    .bind(&p.company_name)
    .bind(&p.street)
    .bind(&p.postal_code)
    .bind(&p.city)
    .bind(&p.country)
    .bind(&p.phone)
    .bind(&p.vat_id)
    .bind(&p.billing_email)
    .bind(&p.billing_name)
    .fetch_one(db)
    .await
}
