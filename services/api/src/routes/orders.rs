//! Orders from every channel (filled by the sync), with their line items.

use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sm_auth::AuthUser;
use sm_http::{ApiError, Json, Path, Query};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{page_size, Page};
use crate::db;
use crate::db::orders::{Filter, ItemRow, OrderRow};
use crate::domain::cursor;
use crate::domain::product::Money;
use crate::error::Result;
use crate::state::AppState;

pub const CHANNELS: [&str; 4] = ["shopify", "amazon", "kaufland", "manual"];
pub const STATUSES: [&str; 6] = [
    "pending",
    "paid",
    "shipped",
    "delivered",
    "cancelled",
    "refunded",
];

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub id: Uuid,
    pub connection_id: Option<Uuid>,
    /// shopify, amazon, kaufland or manual.
    pub channel: String,
    /// The order's id at its channel.
    pub external_id: Option<String>,
    #[schema(example = "#1001")]
    pub order_number: String,
    /// pending, paid, shipped, delivered, cancelled or refunded.
    pub status: String,
    pub total: Money,
    pub customer_name: String,
    pub customer_email: String,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<OrderRow> for OrderView {
    fn from(o: OrderRow) -> Self {
        OrderView {
            id: o.id,
            connection_id: o.connection_id,
            channel: o.channel,
            external_id: o.external_id,
            order_number: o.order_number,
            status: o.status,
            total: Money {
                amount: o.total_cents,
                currency: o.currency,
            },
            customer_name: o.customer_name,
            customer_email: o.customer_email,
            placed_at: o.placed_at,
            updated_at: o.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemView {
    pub id: Uuid,
    pub product_id: Option<Uuid>,
    pub sku: String,
    pub title: String,
    pub quantity: i32,
    pub unit_price: Money,
    pub total: Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDetail {
    #[serde(flatten)]
    pub order: OrderView,
    pub items: Vec<ItemView>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct OrderParams {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// shopify, amazon, kaufland or manual.
    #[param(schema_with = channels)]
    pub channel: Option<String>,
    #[param(schema_with = statuses)]
    pub status: Option<String>,
    /// First day (inclusive, UTC), YYYY-MM-DD, years 1970 to 9999.
    #[param(pattern = "^(19[7-9][0-9]|[2-9][0-9]{3})-")]
    pub from: Option<NaiveDate>,
    /// Last day (inclusive, UTC), YYYY-MM-DD, years 1970 to 9999.
    #[param(pattern = "^(19[7-9][0-9]|[2-9][0-9]{3})-")]
    pub to: Option<NaiveDate>,
}

fn channels() -> utoipa::openapi::Object {
    sm_http::openapi::string_enum(&CHANNELS)
}

fn statuses() -> utoipa::openapi::Object {
    sm_http::openapi::string_enum(&STATUSES)
}

fn one_of(
    value: Option<String>,
    allowed: &[&str],
    message: &'static str,
) -> Result<Option<String>> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => {
            Err(ApiError::bad_request("invalid_query", message).into())
        }
        other => Ok(other),
    }
}

/// The caller's orders, newest first.
#[utoipa::path(get, path = "/api/orders", tag = "orders", params(OrderParams),
    responses((status = 200, body = Page<OrderView>), (status = 400, body = sm_http::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(p): Query<OrderParams>,
) -> Result<Json<Page<OrderView>>> {
    let filter = Filter {
        channel: one_of(
            p.channel,
            &CHANNELS,
            "channel is shopify, amazon, kaufland or manual.",
        )?,
        status: one_of(
            p.status,
            &STATUSES,
            "status is pending, paid, shipped, delivered, cancelled or refunded.",
        )?,
        from: p
            .from
            .map(super::check_date)
            .transpose()?
            .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()),
        until: p
            .to
            .map(super::check_date)
            .transpose()?
            .and_then(|d| d.succ_opt())
            .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()),
    };
    let after =
        match p.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => Some(cursor::decode::<(DateTime<Utc>, Uuid)>(c).ok_or_else(|| {
                ApiError::bad_request("invalid_query", "The cursor is not valid.")
            })?),
        };
    let limit = page_size(p.limit);
    let mut rows = db::orders::list(&state.db, user.user_id, &filter, after, limit).await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|o| cursor::encode(&(o.placed_at, o.id)))
    } else {
        None
    };
    Ok(Json(Page {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// One order with its line items.
#[utoipa::path(get, path = "/api/orders/{id}", tag = "orders", params(("id" = Uuid, Path)),
    responses((status = 200, body = OrderDetail), (status = 404, body = sm_http::ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Json<OrderDetail>> {
    let order = db::orders::find(&state.db, user.user_id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let currency = order.currency.clone();
    let items = db::orders::items(&state.db, user.user_id, order.id).await?;
    let money = |amount| Money {
        amount,
        currency: currency.clone(),
    };
    let items = items
        .into_iter()
        .map(|i: ItemRow| ItemView {
            id: i.id,
            product_id: i.product_id,
            sku: i.sku,
            title: i.title,
            quantity: i.quantity,
            unit_price: money(i.unit_price_cents),
            total: money(i.total_cents),
        })
        .collect();
    Ok(Json(OrderDetail {
        order: order.into(),
        items,
    }))
}
