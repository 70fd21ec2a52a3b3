//! Shop connections: which Shopify, Amazon and Kaufland accounts the merchant linked.

use axum::extract::State;
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use sm_auth::AuthUser;
use sm_domain::Platform;
use sm_http::{ApiError, FieldError, Json, Path};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::avv;
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
    /// pending, active, error or paused.
    pub status: String,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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
            last_error: c.last_error,
            created_at: c.created_at,
            updated_at: c.updated_at,
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
    /// 1 to 100 characters.
    #[schema(
        example = "Mein Shopify-Shop",
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub shop_name: String,
    /// Shopify: shop_domain, access_token. Amazon: seller_id, refresh_token, client_id,
    /// client_secret, region (eu), marketplace_id (A1PA6795UKMFR9). Kaufland: client_key,
    /// secret_key, storefront (de).
    pub credentials: CredentialsInput,
    /// A JSON object of at most 16 KiB.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
}

/// Connects a shop. Needs the current AVV signed (`avv_signature_required` otherwise).
/// Credentials are checked for shape and stored encrypted.
#[utoipa::path(post, path = "/api/connections", tag = "connections", request_body = CreateConnection,
    responses((status = 201, body = ConnectionView), (status = 403, description = "avv_signature_required", body = sm_http::ErrorBody),
              (status = 422, body = sm_http::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<CreateConnection>,
) -> Result<(StatusCode, Json<ConnectionView>)> {
    if db::avv::find(&state.db, user.user_id, avv::CURRENT)
        .await?
        .is_none()
    {
        return Err(ApiError::forbidden(
            "avv_signature_required",
            "Sign the current data-processing agreement (AVV) before connecting shops.",
        )
        .into());
    }
    let settings = req.settings.unwrap_or_else(|| serde_json::json!({}));
    let name = text::required("shop_name", &req.shop_name, 100);
    let credentials = Credentials::parse(req.platform, &req.credentials);
    let mut errors: Vec<FieldError> = name.as_ref().err().cloned().into_iter().collect();
    errors.extend(check_settings(&settings).err());
    if let Err(e) = &credentials {
        errors.extend(e.iter().cloned());
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let credentials = credentials.map_err(Error::validation)?;
    let id = Uuid::now_v7();
    let plaintext = serde_json::to_vec(&credentials).map_err(anyhow::Error::from)?;
    let sealed = state.credentials.seal(&plaintext, id.as_bytes());
    let row = db::connections::insert(
        &state.db,
        user.user_id,
        &NewConnection {
            id,
            platform: credentials.platform().as_str(),
            shop_name: &name?,
            credentials_enc: &sealed,
            credentials_hint: &credentials.hint(),
            settings: &settings,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(row.try_into()?)))
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
}

/// Renames a connection or replaces its settings.
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
    let row = db::connections::update(
        &state.db,
        user.user_id,
        id,
        name.as_deref(),
        req.settings.as_ref(),
    )
    .await?
    .ok_or_else(ApiError::not_found)?;
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
