//! Sales analytics for a period.

use axum::extract::State;
use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};
use sm_auth::AuthUser;
use sm_http::{ApiError, Json, Query};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db;
use crate::db::analytics::Period;
use crate::error::Result;
use crate::state::AppState;

const MAX_DAYS: u64 = 366;

#[derive(Debug, Deserialize, IntoParams)]
pub struct SummaryParams {
    /// First day, YYYY-MM-DD, years 1970 to 9999 (default: 29 days before `to`); not
    /// after `to`, and at most 366 days before it (400 `invalid_query` otherwise).
    #[param(pattern = "^(19[7-9][0-9]|[2-9][0-9]{3})-")]
    pub from: Option<NaiveDate>,
    /// Last day, inclusive, years 1970 to 9999 (default: today in `tz`).
    #[param(pattern = "^(19[7-9][0-9]|[2-9][0-9]{3})-")]
    pub to: Option<NaiveDate>,
    /// IANA time zone the days are counted in (default Europe/Berlin).
    #[param(
        example = "Europe/Berlin",
        max_length = 64,
        pattern = "^[A-Za-z0-9/_+-]+$"
    )]
    pub tz: Option<String>,
    /// Only orders in this ISO 4217 currency (default EUR); amounts are in its cents.
    #[param(schema_with = crate::domain::product::currency_codes)]
    pub currency: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Figures {
    /// Revenue in cents.
    pub revenue: i64,
    pub order_count: i64,
    /// Revenue per order in cents, rounded; 0 without orders.
    pub average_order_value: i64,
}

impl Figures {
    fn new(revenue: i64, order_count: i64) -> Self {
        let average_order_value = if order_count == 0 {
            0
        } else {
            (revenue + order_count / 2) / order_count
        };
        Figures {
            revenue,
            order_count,
            average_order_value,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelFigures {
    pub channel: String,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayFigures {
    pub day: NaiveDate,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopProduct {
    pub product_id: Option<Uuid>,
    pub sku: String,
    pub title: String,
    pub quantity: i64,
    pub revenue: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Summary {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub tz: String,
    pub currency: String,
    /// Cancelled and refunded orders are left out.
    pub totals: Figures,
    pub by_channel: Vec<ChannelFigures>,
    /// Every day of the period, in order.
    pub by_day: Vec<DayFigures>,
    /// The ten products with the most revenue.
    pub top_products: Vec<TopProduct>,
}

fn bad(message: &'static str) -> ApiError {
    ApiError::bad_request("invalid_query", message)
}

/// Revenue, order count and average order value for a period, by channel and by day, and
/// the top products — computed by the database, all from one snapshot.
#[utoipa::path(get, path = "/api/analytics/summary", tag = "analytics", params(SummaryParams),
    responses((status = 200, body = Summary), (status = 400, body = sm_http::ErrorBody)))]
pub async fn summary(
    State(state): State<AppState>,
    user: AuthUser,
    Query(p): Query<SummaryParams>,
) -> Result<Json<Summary>> {
    let to = p.to.map(super::check_date).transpose()?;
    let from = p.from.map(super::check_date).transpose()?;
    let tz = p.tz.unwrap_or_else(|| "Europe/Berlin".to_owned());
    let plausible = tz.len() <= 64
        && tz
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c));
    if !plausible || !state.time_zones.contains(&state.db, &tz).await? {
        return Err(bad("tz is an IANA time zone such as Europe/Berlin.").into());
    }
    let currency = p.currency.unwrap_or_else(|| "EUR".to_owned());
    if !sm_domain::is_currency_code(&currency) {
        return Err(bad("currency is an ISO 4217 code such as EUR.").into());
    }
    // One snapshot for all figures, so totals, channels and days agree with each other even
    // while orders come in.
    let mut tx = state
        .db
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await?;
    let to = match to {
        Some(to) => to,
        None => db::analytics::today(&mut *tx, &tz).await?,
    };
    let from = from.unwrap_or_else(|| to.checked_sub_days(Days::new(29)).unwrap_or(to));
    if from > to {
        return Err(bad("from must not be after to.").into());
    }
    if (to - from).num_days() as u64 >= MAX_DAYS {
        return Err(bad("A period is at most 366 days.").into());
    }
    let period = Period {
        user_id: user.user_id,
        from,
        to,
        tz: &tz,
        currency: &currency,
    };
    let totals = db::analytics::totals(&mut *tx, &period).await?;
    let by_channel = db::analytics::by_channel(&mut *tx, &period).await?;
    let by_day = db::analytics::by_day(&mut *tx, &period).await?;
    let top = db::analytics::top_products(&mut *tx, &period, 10).await?;
    tx.commit().await?;
    Ok(Json(Summary {
        from,
        to,
        tz: tz.clone(),
        currency: currency.clone(),
        totals: Figures::new(totals.revenue, totals.orders),
        by_channel: by_channel
            .into_iter()
            .map(|c| ChannelFigures {
                channel: c.channel,
                figures: Figures::new(c.revenue, c.orders),
            })
            .collect(),
        by_day: by_day
            .into_iter()
            .map(|d| DayFigures {
                day: d.day,
                figures: Figures::new(d.revenue, d.orders),
            })
            .collect(),
        top_products: top
            .into_iter()
            .map(|t| TopProduct {
                product_id: t.product_id,
                sku: t.sku,
                title: t.title,
                quantity: t.quantity,
                revenue: t.revenue,
            })
            .collect(),
    }))
}
