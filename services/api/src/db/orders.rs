use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub id: Uuid,
    pub connection_id: Option<Uuid>,
    pub channel: String,
    pub external_id: Option<String>,
    pub order_number: String,
    pub status: String,
    pub currency: String,
    pub total_cents: i64,
    pub customer_name: String,
    pub customer_email: String,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemRow {
    pub id: Uuid,
    pub product_id: Option<Uuid>,
    pub sku: String,
    pub title: String,
    pub quantity: i32,
    pub unit_price_cents: i64,
    pub total_cents: i64,
}

const COLUMNS: &str = "id, connection_id, channel, external_id, order_number, status, currency, total_cents, customer_name, \
     customer_email, placed_at, updated_at";

#[derive(Debug, Default)]
pub struct Filter {
    pub channel: Option<String>,
    pub status: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Newest first; `after` is the (placed_at, id) of the previous page's last order.
pub async fn list(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    f: &Filter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<OrderRow>> {
    let mut qb: QueryBuilder<'_, Postgres> =
        QueryBuilder::new(format!("SELECT {COLUMNS} FROM orders WHERE user_id = "));
    qb.push_bind(user_id);
    if let Some(channel) = &f.channel {
        qb.push(" AND channel = ").push_bind(channel.clone());
    }
    if let Some(status) = &f.status {
        qb.push(" AND status = ").push_bind(status.clone());
    }
    if let Some(from) = f.from {
        qb.push(" AND placed_at >= ").push_bind(from);
    }
    if let Some(until) = f.until {
        qb.push(" AND placed_at < ").push_bind(until);
    }
    if let Some((placed_at, id)) = after {
        qb.push(" AND (placed_at, id) < (")
            .push_bind(placed_at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    qb.push(" ORDER BY placed_at DESC, id DESC LIMIT ")
        .push_bind(limit + 1);
    qb.build_query_as().fetch_all(db).await
}

pub async fn find(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM orders WHERE user_id = $1 AND id = $2"
    ))
    .bind(user_id)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The line items of one of the user's orders (none for anyone else's).
pub async fn items(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    order_id: Uuid,
) -> sqlx::Result<Vec<ItemRow>> {
    sqlx::query_as(
        "SELECT i.id, i.product_id, i.sku, i.title, i.quantity, i.unit_price_cents, i.total_cents
           FROM order_items i JOIN orders o ON o.id = i.order_id
          WHERE o.user_id = $1 AND i.order_id = $2 ORDER BY i.id",
    )
    .bind(user_id)
    .bind(order_id)
    .fetch_all(db)
    .await
}
