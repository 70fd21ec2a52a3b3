//! Sales figures, computed by Postgres aggregates over the user's orders.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::NaiveDate;
use sqlx::{PgExecutor, PgPool};
use tokio::sync::OnceCell;
use uuid::Uuid;

/// Orders that did not happen (cancelled) or were given back (refunded) earn nothing.
const EARNING: &str = "status NOT IN ('cancelled', 'refunded')";

/// The period: whole days `from..=to` in time zone `tz`, in one currency.
pub struct Period<'a> {
    pub user_id: Uuid,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub tz: &'a str,
    pub currency: &'a str,
}

const IN_PERIOD: &str = "user_id = $1 AND currency = $5
    AND placed_at >= ($2::date::timestamp AT TIME ZONE $4)
    AND placed_at < (($3::date + 1)::timestamp AT TIME ZONE $4)";

#[derive(Debug, sqlx::FromRow)]
pub struct Totals {
    pub revenue: i64,
    pub orders: i64,
}

pub async fn totals(db: impl PgExecutor<'_>, p: &Period<'_>) -> sqlx::Result<Totals> {
    sqlx::query_as(&format!(
        "SELECT coalesce(sum(total_cents), 0)::bigint AS revenue, count(*) AS orders FROM orders WHERE {IN_PERIOD} AND {EARNING}"
    ))
    .bind(p.user_id)
    .bind(p.from)
    .bind(p.to)
    .bind(p.tz)
    .bind(p.currency)
    .fetch_one(db)
    .await
}

#[derive(Debug, sqlx::FromRow)]
pub struct ChannelTotals {
    pub channel: String,
    pub revenue: i64,
    pub orders: i64,
}

pub async fn by_channel(
    db: impl PgExecutor<'_>,
    p: &Period<'_>,
) -> sqlx::Result<Vec<ChannelTotals>> {
    sqlx::query_as(&format!(
        "SELECT channel, sum(total_cents)::bigint AS revenue, count(*) AS orders FROM orders
          WHERE {IN_PERIOD} AND {EARNING} GROUP BY channel ORDER BY revenue DESC, channel"
    ))
    .bind(p.user_id)
    .bind(p.from)
    .bind(p.to)
    .bind(p.tz)
    .bind(p.currency)
    .fetch_all(db)
    .await
}

#[derive(Debug, sqlx::FromRow)]
pub struct DayTotals {
    pub day: NaiveDate,
    pub revenue: i64,
    pub orders: i64,
}

/// Every day of the period, days without orders included.
pub async fn by_day(db: impl PgExecutor<'_>, p: &Period<'_>) -> sqlx::Result<Vec<DayTotals>> {
    sqlx::query_as(&format!(
        "WITH daily AS (
            SELECT (placed_at AT TIME ZONE $4)::date AS day, sum(total_cents)::bigint AS revenue, count(*) AS orders
              FROM orders WHERE {IN_PERIOD} AND {EARNING} GROUP BY 1
         )
         SELECT d::date AS day, coalesce(daily.revenue, 0)::bigint AS revenue, coalesce(daily.orders, 0)::bigint AS orders
           FROM generate_series($2::date, $3::date, interval '1 day') AS d
           LEFT JOIN daily ON daily.day = d::date
          ORDER BY 1"
    ))
    .bind(p.user_id)
    .bind(p.from)
    .bind(p.to)
    .bind(p.tz)
    .bind(p.currency)
    .fetch_all(db)
    .await
}

#[derive(Debug, sqlx::FromRow)]
pub struct TopProduct {
    pub product_id: Option<Uuid>,
    pub sku: String,
    pub title: String,
    pub quantity: i64,
    pub revenue: i64,
}

pub async fn top_products(
    db: impl PgExecutor<'_>,
    p: &Period<'_>,
    limit: i64,
) -> sqlx::Result<Vec<TopProduct>> {
    sqlx::query_as(&format!(
        "SELECT i.product_id, i.sku, max(i.title) AS title, sum(i.quantity)::bigint AS quantity, sum(i.total_cents)::bigint AS revenue
           FROM order_items i JOIN orders o ON o.id = i.order_id
          WHERE o.{} AND o.{EARNING}
          GROUP BY i.product_id, i.sku
          ORDER BY revenue DESC, quantity DESC, i.sku
          LIMIT $6",
        IN_PERIOD.replace("placed_at", "o.placed_at").replace("AND currency", "AND o.currency")
    ))
    .bind(p.user_id)
    .bind(p.from)
    .bind(p.to)
    .bind(p.tz)
    .bind(p.currency)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The time zone names Postgres accepts, read from `pg_timezone_names` (which reads the
/// server's zone files: slow) once, on first use, and kept.
#[derive(Clone, Default)]
pub struct TimeZones(Arc<OnceCell<HashSet<String>>>);

impl TimeZones {
    pub async fn contains(&self, db: &PgPool, name: &str) -> sqlx::Result<bool> {
        let names = self
            .0
            .get_or_try_init(|| async {
                let names: Vec<String> = sqlx::query_scalar("SELECT name FROM pg_timezone_names")
                    .fetch_all(db)
                    .await?;
                Ok::<_, sqlx::Error>(names.into_iter().collect())
            })
            .await?;
        Ok(names.contains(name))
    }
}

/// Today's date in time zone `tz` (at the transaction's start).
pub async fn today(db: impl PgExecutor<'_>, tz: &str) -> sqlx::Result<NaiveDate> {
    sqlx::query_scalar("SELECT (now() AT TIME ZONE $1)::date")
        .bind(tz)
        .fetch_one(db)
        .await
}
