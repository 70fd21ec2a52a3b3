//! The push's dry run: what the next push of each connection would send, before anything
//! is sent.

use std::collections::HashMap;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use sm_auth::AuthUser;
use sm_domain::Platform;
use sm_http::{ApiError, Json, Query};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db;
use crate::db::product_push::Pending;
use crate::error::Result;
use crate::routes::products::PushError;
use crate::state::AppState;

/// Most items listed per connection; `more` says there are others.
pub const MAX_ITEMS: usize = 1_000;

#[derive(Debug, Deserialize, IntoParams)]
pub struct PendingParams {
    /// Only this connection of the caller's; all of them when absent.
    pub connection_id: Option<Uuid>,
}

/// A price as the channel has it and as the push would set it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceDiff {
    /// Cents the channel had at the last sync; null when it never told.
    pub old: Option<i64>,
    pub new: i64,
}

/// A listed stock as the channel has it and as the push would set it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockDiff {
    /// What the channel listed at the last sync; null when it never told.
    pub old: Option<i32>,
    pub new: i32,
}

/// The fields the push would change; only those that differ are present.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingChanges {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_cents: Option<PriceDiff>,
    /// The listed stock: on hand less the connection's stock buffer, at least 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock: Option<StockDiff>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PendingItem {
    pub product_id: Uuid,
    pub sku: String,
    /// The channel's id of the sellable unit.
    pub external_id: String,
    pub changes: PendingChanges,
    /// Why the channel refused the last push of these values; such an item is not sent
    /// again until it is edited. Null otherwise.
    pub push_error: Option<PushError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PendingConnection {
    pub connection_id: Uuid,
    pub platform: Platform,
    pub shop_name: String,
    /// In product id order, at most 1,000.
    pub items: Vec<PendingItem>,
    /// More items are pending than listed (the push sends them all).
    pub more: bool,
}

impl From<Pending> for PendingItem {
    fn from(p: Pending) -> Self {
        PendingItem {
            changes: PendingChanges {
                price_cents: p.price_differs().then_some(PriceDiff {
                    old: p.channel_price_cents,
                    new: p.price_cents,
                }),
                stock: p.stock_differs().then_some(StockDiff {
                    old: p.channel_stock,
                    new: p.listed_stock,
                }),
            },
            push_error: p.push_error_code.map(|code| PushError {
                code,
                message: p.push_error.unwrap_or_default(),
            }),
            product_id: p.id,
            sku: p.sku,
            external_id: p.external_id,
        }
    }
}

/// The dry run of the push: per connection of the caller (or the one asked for), every
/// product whose price or listed stock the next push would change at the channel, with the
/// channel's value (old) and the cockpit's (new). Nothing is sent. At most 1,000 items per
/// connection (`more` when there are others); items the channel refused are listed with its
/// reason.
#[utoipa::path(get, path = "/api/sync/pending", tag = "sync", params(PendingParams),
    responses((status = 200, body = Vec<PendingConnection>),
              (status = 400, description = "invalid_query: connection_id is not a connection id", body = sm_http::ErrorBody),
              (status = 401, description = "unauthenticated", body = sm_http::ErrorBody),
              (status = 404, description = "not_found: no such connection of the caller", body = sm_http::ErrorBody),
              (status = 429, description = "too_many_failed_authentications", body = sm_http::ErrorBody),
              (status = 503, description = "database_unavailable or security_unavailable", body = sm_http::ErrorBody)))]
pub async fn pending(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<PendingParams>,
) -> Result<Json<Vec<PendingConnection>>> {
    let connections = match params.connection_id {
        Some(id) => vec![db::connections::find(&state.db, user.user_id, id)
            .await?
            .ok_or_else(ApiError::not_found)?],
        None => db::connections::list(&state.db, user.user_id).await?,
    };
    // One more than listed tells whether there are others.
    let mut items: HashMap<Uuid, Vec<Pending>> = HashMap::new();
    for p in db::product_push::preview(
        &state.db,
        user.user_id,
        params.connection_id,
        MAX_ITEMS as i64 + 1,
    )
    .await?
    {
        items.entry(p.connection_id).or_default().push(p);
    }
    let mut answer = Vec::with_capacity(connections.len());
    for c in connections {
        let mut listed = items.remove(&c.id).unwrap_or_default();
        let more = listed.len() > MAX_ITEMS;
        listed.truncate(MAX_ITEMS);
        answer.push(PendingConnection {
            connection_id: c.id,
            platform: Platform::parse(&c.platform).ok_or_else(|| {
                anyhow::anyhow!("unknown platform {:?} in the database", c.platform)
            })?,
            shop_name: c.shop_name,
            items: listed.into_iter().map(PendingItem::from).collect(),
            more,
        });
    }
    Ok(Json(answer))
}
