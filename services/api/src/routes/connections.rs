//! Shop connections: which Shopify, Amazon and Kaufland accounts the merchant linked.

use axum::extract::State;
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use sm_auth::AuthUser;
use sm_domain::Platform;
use sm_http::{ApiError, FieldError, Json, Path, Query};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::avv;
use crate::channels;
use crate::db;
use crate::db::connections::{ConnectionRow, NewConnection};
use crate::domain::credentials::{Credentials, CredentialsInput};
use crate::domain::text;
use crate::error::{Error, Result};
use crate::state::AppState;

const MAX_SETTINGS_BYTES: usize = 16 * 1024;

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionView {
    pub id: Uuid,
    pub platform: Platform,
    pub shop_name: String,
    /// Enough to recognise the credentials; they are never returned.
    pub credentials_hint: String,
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// pending (not checked yet), active, error (see `last_error_code`), paused, or
    /// disconnected (the shop removed the ShopMarkets app: connect it again).
    #[schema(schema_with = statuses)]
    pub status: String,
    pub last_sync_at: Option<DateTime<Utc>>,
    /// Why the connection does not work, in stable terms: a channel error code
    /// (`channel_credentials_invalid`, `channel_unavailable`, …) or `app_uninstalled`.
    pub last_error_code: Option<String>,
    /// The same in words; never contains credentials.
    pub last_error: Option<String>,
    /// Talks to the installation's sandbox shops, not to a real shop.
    pub sandbox: bool,
    /// When the credentials were last checked with the channel.
    pub last_checked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The channel lists this many fewer units than are on hand (never below 0).
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub stock_buffer: i32,
    /// Orders changed up to here are imported; the next incremental sync starts here.
    pub orders_synced_until: Option<DateTime<Utc>>,
    /// When the last products sync of the connection ended.
    pub products_synced_at: Option<DateTime<Utc>>,
}

fn statuses() -> utoipa::openapi::Object {
    sm_http::openapi::string_enum(&["pending", "active", "error", "paused", "disconnected"])
}

impl TryFrom<ConnectionRow> for ConnectionView {
    type Error = Error;

    fn try_from(c: ConnectionRow) -> Result<Self> {
        Ok(ConnectionView {
            platform: Platform::parse(&c.platform).ok_or_else(|| {
                anyhow::anyhow!("unknown platform {:?} in the database", c.platform)
            })?,
            id: c.id,
            shop_name: c.shop_name,
            credentials_hint: c.credentials_hint,
            settings: c.settings,
            status: c.status,
            last_sync_at: c.last_sync_at,
            last_error_code: c.last_error_code,
            last_error: c.last_error,
            sandbox: c.sandbox,
            last_checked_at: c.last_checked_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
            stock_buffer: c.stock_buffer,
            orders_synced_until: c.orders_synced_until,
            products_synced_at: c.products_synced_at,
        })
    }
}

fn check_settings(settings: &serde_json::Value) -> Result<(), FieldError> {
    if !settings.is_object() {
        return Err(FieldError::new(
            "settings",
            "invalid_settings",
            "Settings are a JSON object.",
        ));
    }
    let text = settings.to_string();
    // Postgres' jsonb cannot hold NUL characters.
    if text.contains("\\u0000") {
        return Err(FieldError::new(
            "settings",
            "invalid_characters",
            "Settings cannot contain NUL characters.",
        ));
    }
    if text.len() > MAX_SETTINGS_BYTES {
        return Err(FieldError::new(
            "settings",
            "too_large",
            "Settings are limited to 16 KiB.",
        ));
    }
    Ok(())
}

/// The caller's connections, oldest first.
#[utoipa::path(get, path = "/api/connections", tag = "connections",
    responses((status = 200, body = Vec<ConnectionView>), (status = 401, body = sm_http::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<ConnectionView>>> {
    let rows = db::connections::list(&state.db, user.user_id).await?;
    Ok(Json(
        rows.into_iter()
            .map(ConnectionView::try_from)
            .collect::<Result<_>>()?,
    ))
}

/// One of the caller's connections.
#[utoipa::path(get, path = "/api/connections/{id}", tag = "connections", params(("id" = Uuid, Path)),
    responses((status = 200, body = ConnectionView), (status = 404, body = sm_http::ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Json<ConnectionView>> {
    let row = db::connections::find(&state.db, user.user_id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(row.try_into()?))
}

/// No `Debug`: the credentials are plaintext secrets.
#[derive(Deserialize, ToSchema)]
pub struct CreateConnection {
    pub platform: Platform,
    /// 1 to 100 characters; for a sandbox connection it defaults to the offer's name.
    #[schema(
        example = "Mein Shopify-Shop",
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub shop_name: Option<String>,
    /// Shopify: shop_domain, access_token. Amazon: seller_id, refresh_token, client_id,
    /// client_secret, marketplace_id (A1PA6795UKMFR9), region (the marketplace's: eu, na or
    /// fe; another is refused as `region_mismatch`, a marketplace not supported as
    /// `unknown_marketplace`). Kaufland: client_key, secret_key, storefront (de). Required
    /// unless `sandbox`; refused with it.
    pub credentials: Option<CredentialsInput>,
    /// A JSON object of at most 16 KiB.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
    /// Connect a sandbox shop of this installation (see `GET /api/connections/sandbox`);
    /// its credentials are made by the api.
    #[serde(default)]
    pub sandbox: bool,
}

/// Connects a shop. Needs the current AVV signed (`avv_signature_required` otherwise); an
/// account has at most 100 connections (`too_many_connections` beyond).
/// Credentials are checked for shape, stored encrypted, then checked with the channel: the
/// answer shows the outcome (`active`, or `error` with `last_error_code`).
#[utoipa::path(post, path = "/api/connections", tag = "connections", request_body = CreateConnection,
    responses((status = 201, body = ConnectionView), (status = 403, description = "avv_signature_required", body = sm_http::ErrorBody),
              (status = 409, description = "sandbox_unavailable: this installation has no sandbox shops; too_many_connections: the account has 100 connections already (nothing is stored)", body = sm_http::ErrorBody),
              (status = 422, body = sm_http::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<CreateConnection>,
) -> Result<(StatusCode, Json<ConnectionView>)> {
    avv::require_signed(&state, user.user_id).await?;
    let sandbox = if req.sandbox {
        Some(
            state
                .connectors
                .sandbox()
                .ok_or_else(channels::sandbox_unavailable)?,
        )
    } else {
        None
    };
    let settings = req.settings.unwrap_or_else(|| serde_json::json!({}));
    let name = match (&req.shop_name, sandbox) {
        (None, Some(_)) => Ok(offer_name(req.platform).to_owned()),
        (name, _) => text::required("shop_name", name.as_deref().unwrap_or_default(), 100),
    };
    let mut errors: Vec<FieldError> = name.as_ref().err().cloned().into_iter().collect();
    errors.extend(check_settings(&settings).err());
    let id = Uuid::now_v7();
    let credentials = match (sandbox, &req.credentials) {
        (Some(secret), None) => Some(Credentials::sandbox(req.platform, secret, &id.to_string())),
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                "credentials",
                "not_allowed",
                "Sandbox connections get their credentials from this installation.",
            ));
            None
        }
        (None, input) => {
            match Credentials::parse(req.platform, input.as_ref().unwrap_or(&Default::default())) {
                Ok(credentials) => Some(credentials),
                Err(e) => {
                    errors.extend(e);
                    None
                }
            }
        }
    };
    let (Some(credentials), Ok(name), true) = (credentials, name, errors.is_empty()) else {
        return Err(Error::validation(errors));
    };
    let row = db::connections::insert(
        &state.db,
        user.user_id,
        &NewConnection {
            id,
            platform: credentials.platform().as_str(),
            shop_name: &name,
            credentials_enc: &channels::seal(&state, id, &credentials)?,
            credentials_hint: &credentials.hint(),
            settings: &settings,
            // Known only once the channel accepts the credentials (the check below).
            account_ref: None,
            sandbox: sandbox.is_some(),
            via_app: false,
        },
    )
    .await?
    .ok_or_else(channels::too_many_connections)?;
    let row = channels::check(
        &state,
        user.user_id,
        id,
        &credentials,
        row.sandbox,
        channels::deadline(&state),
    )
    .await?
    .map_or(row, |(checked, _)| checked);
    Ok((StatusCode::CREATED, Json(row.try_into()?)))
}

/// Checks the connection's credentials with its channel now and records the outcome:
/// `active`, or `error` with `last_error_code` and `last_error` (also when the channel is
/// only unavailable for the moment). Bounded by `CHANNEL_TIMEOUT_SECS`.
#[utoipa::path(post, path = "/api/connections/{id}/test", tag = "connections", params(("id" = Uuid, Path)),
    responses((status = 200, body = ConnectionView), (status = 404, body = sm_http::ErrorBody)))]
pub async fn test(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Json<ConnectionView>> {
    let sealed = db::connections::find_sealed(&state.db, user.user_id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let credentials = channels::open(&state, id, &sealed.credentials_enc)?;
    let (row, _) = channels::check(
        &state,
        user.user_id,
        id,
        &credentials,
        sealed.row.sandbox,
        channels::deadline(&state),
    )
    .await?
    .ok_or_else(ApiError::not_found)?;
    Ok(Json(row.try_into()?))
}

/// A webhook event the channel sent about the connection's account.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: Uuid,
    /// The channel's topic, e.g. `orders/create`, `products/update`, `app/uninstalled`.
    pub topic: String,
    /// The channel's id of the event (`X-Shopify-Webhook-Id`).
    pub event_id: String,
    pub received_at: DateTime<Utc>,
    /// The event's body, as the channel sent it.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EventParams {
    /// How many, 1 to 200 (a value outside is clamped); 50 when absent.
    #[param(default = 50)]
    pub limit: Option<i64>,
}

/// The webhook events received for the connection's account, newest first: what arrived
/// from the channel (recorded once per event, only once a credentials check confirmed the
/// account).
#[utoipa::path(get, path = "/api/connections/{id}/events", tag = "connections",
    params(("id" = Uuid, Path), EventParams),
    responses((status = 200, body = Vec<EventView>), (status = 400, description = "invalid_query: limit is not a number", body = sm_http::ErrorBody),
              (status = 404, body = sm_http::ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Query(p): Query<EventParams>,
) -> Result<Json<Vec<EventView>>> {
    db::connections::find(&state.db, user.user_id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let rows =
        db::channel_events::list(&state.db, user.user_id, id, super::page_size(p.limit)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|e| EventView {
                id: e.id,
                topic: e.topic,
                event_id: e.event_id,
                received_at: e.received_at,
                payload: e.payload,
            })
            .collect(),
    ))
}

/// A sandbox shop this installation offers.
#[derive(Debug, Serialize, ToSchema)]
pub struct SandboxOffer {
    pub platform: Platform,
    #[schema(example = "Sandbox Shopify")]
    pub name: &'static str,
    /// Always true.
    pub sandbox: bool,
    pub description: &'static str,
}

/// The sandbox shops a merchant can connect (`POST /api/connections` with `"sandbox": true`);
/// empty when the installation has no sandbox.
#[utoipa::path(get, path = "/api/connections/sandbox", tag = "connections",
    responses((status = 200, body = Vec<SandboxOffer>)))]
pub async fn sandbox_offers(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Json<Vec<SandboxOffer>> {
    if state.connectors.sandbox().is_none() {
        return Json(Vec::new());
    }
    Json(
        [Platform::Shopify, Platform::Amazon, Platform::Kaufland]
            .into_iter()
            .map(|platform| SandboxOffer {
                platform,
                name: offer_name(platform),
                sandbox: true,
                description: match platform {
                    Platform::Shopify => "A stand-in Shopify shop with a German catalogue and orders, to try syncing without a real shop.",
                    Platform::Amazon => "A stand-in Amazon seller account (amazon.de) with listings and orders, to try syncing without a real account.",
                    Platform::Kaufland => "A stand-in Kaufland.de seller account with units and orders, to try syncing without a real account.",
                },
            })
            .collect(),
    )
}

fn offer_name(platform: Platform) -> &'static str {
    match platform {
        Platform::Shopify => "Sandbox Shopify",
        Platform::Amazon => "Sandbox Amazon",
        Platform::Kaufland => "Sandbox Kaufland",
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateConnection {
    /// 1 to 100 characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub shop_name: Option<String>,
    /// A JSON object of at most 16 KiB.
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
    /// List this many fewer units on the channel than are on hand (0 to 1,000,000; never
    /// below 0 listed).
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub stock_buffer: Option<i64>,
}

/// Most units a connection's stock buffer may hold back.
pub const MAX_STOCK_BUFFER: i64 = 1_000_000;

fn check_stock_buffer(buffer: i64) -> Result<i32, FieldError> {
    if (0..=MAX_STOCK_BUFFER).contains(&buffer) {
        Ok(buffer as i32)
    } else {
        Err(FieldError::new(
            "stock_buffer",
            "out_of_range",
            "The stock buffer is a whole number from 0 to 1,000,000.",
        ))
    }
}

/// Renames a connection, replaces its settings or changes its stock buffer. A new buffer
/// marks the channel products whose listed stock it changes as pending and queues a push.
#[utoipa::path(patch, path = "/api/connections/{id}", tag = "connections", params(("id" = Uuid, Path)), request_body = UpdateConnection,
    responses((status = 200, body = ConnectionView), (status = 404, body = sm_http::ErrorBody), (status = 422, body = sm_http::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(req): Json<UpdateConnection>,
) -> Result<Json<ConnectionView>> {
    let name = req
        .shop_name
        .as_deref()
        .map(|n| text::required("shop_name", n, 100))
        .transpose()?;
    if let Some(settings) = &req.settings {
        check_settings(settings)?;
    }
    let stock_buffer = req.stock_buffer.map(check_stock_buffer).transpose()?;
    let mut tx = state.db.begin().await?;
    let row = db::connections::update(
        &mut *tx,
        user.user_id,
        id,
        name.as_deref(),
        req.settings.as_ref(),
        stock_buffer,
    )
    .await?
    .ok_or_else(ApiError::not_found)?;
    if stock_buffer.is_some() {
        db::product_push::mark_stock_relisted(&mut *tx, user.user_id, id).await?;
    }
    tx.commit().await?;
    if stock_buffer.is_some() {
        crate::sync::push::after_local_edit(&state, user.user_id).await;
    }
    Ok(Json(row.try_into()?))
}

/// Deletes a connection with its products, orders and sync logs, in one transaction.
#[utoipa::path(delete, path = "/api/connections/{id}", tag = "connections", params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = sm_http::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode> {
    if db::connections::delete(&state.db, user.user_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found().into())
    }
}
