//! Products: list (keyset pages, search, filters, sorting), create, update, delete, bulk
//! edit, CSV import and export.

use std::collections::HashSet;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::{header, HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use sm_auth::AuthUser;
use sm_http::{ApiError, FieldError, Json, Path, Query};
use sqlx::Connection;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{page_size, Page};
use crate::db;
use crate::db::cancellable::{self, Cancellable};
use crate::db::products::{
    BulkChange, ChannelState, Filter, ListQuery, ProductRow, Sort, SortKey, UpsertRows,
};
use crate::domain::product::{self, Money, ProductFields, ProductInput};
use crate::domain::{cursor, product_csv};
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::sync::push;

pub const MAX_BULK: usize = 1_000;

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductView {
    pub id: Uuid,
    /// The channel it belongs to; null for cockpit-only products.
    pub connection_id: Option<Uuid>,
    pub sku: String,
    pub title: String,
    pub description: String,
    pub price: Money,
    pub stock: i32,
    pub images: Vec<String>,
    /// When it was last synced with its channel.
    pub synced_at: Option<DateTime<Utc>>,
    /// Edited here and not yet pushed to its channel.
    pub has_local_changes: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Where it stands at its channel as last seen; null for cockpit-only products and
    /// for channel products not synced yet.
    pub channel_state: Option<ChannelState>,
    /// The price the channel has (minor units, in `price.currency`), as of the last pull or
    /// push; null when not known.
    pub channel_price_cents: Option<i64>,
    /// The stock the channel lists, as of the last pull or push; null when not known.
    pub channel_stock: Option<i32>,
    /// Why the channel refused the last push of this product (it stays pending until it is
    /// edited again); null otherwise.
    pub push_error: Option<PushError>,
    /// When a pull last saw it at its channel.
    pub pulled_at: Option<DateTime<Utc>>,
}

/// A channel's refusal of a pushed change, in its words.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushError {
    /// The channel's code where it gives one, else `rejected`.
    pub code: String,
    pub message: String,
}

impl From<ProductRow> for ProductView {
    fn from(p: ProductRow) -> Self {
        ProductView {
            id: p.id,
            connection_id: p.connection_id,
            sku: p.sku,
            title: p.title,
            description: p.description,
            price: Money {
                amount: p.price_cents,
                currency: p.currency,
            },
            stock: p.stock,
            images: p.images,
            synced_at: p.synced_at,
            has_local_changes: p.has_local_changes,
            created_at: p.created_at,
            updated_at: p.updated_at,
            channel_state: p.channel_state,
            channel_price_cents: p.channel_price_cents,
            channel_stock: p.channel_stock,
            push_error: p.push_error_code.map(|code| PushError {
                code,
                message: p.push_error.unwrap_or_default(),
            }),
            pulled_at: p.pulled_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListParams {
    /// 1–200, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Search in title and SKU: at most 200 characters, no control characters.
    #[param(max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub q: Option<String>,
    /// A connection's id, or `none` for cockpit-only products.
    #[param(
        pattern = "^(none|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub connection_id: Option<String>,
    /// Only products whose stock is at or below `low_stock_threshold`.
    pub low_stock: Option<bool>,
    /// Default 5.
    pub low_stock_threshold: Option<i32>,
    /// Only products changed at or after this time (RFC 3339, years 1970 to 9999).
    #[param(pattern = "^(19[7-9][0-9]|[2-9][0-9]{3})-")]
    pub changed_since: Option<DateTime<Utc>>,
    /// created (default), updated, title, price or stock.
    #[param(schema_with = sort_names)]
    pub sort: Option<String>,
    /// asc or desc (default: desc for created and updated, asc otherwise).
    #[param(schema_with = sort_orders)]
    pub order: Option<String>,
}

fn sort_names() -> utoipa::openapi::Object {
    sm_http::openapi::string_enum(&["created", "updated", "title", "price", "stock"])
}

fn sort_orders() -> utoipa::openapi::Object {
    sm_http::openapi::string_enum(&["asc", "desc"])
}

fn invalid_query(message: &'static str) -> Error {
    ApiError::bad_request("invalid_query", message).into()
}

fn filter_from(params: &ListParams) -> Result<Filter> {
    let connection = match params.connection_id.as_deref() {
        None | Some("") => None,
        Some("none") => Some(None),
        Some(id) => Some(Some(id.parse::<Uuid>().map_err(|_| {
            invalid_query("connection_id is a connection's id or `none`.")
        })?)),
    };
    let search = params.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if search.is_some_and(|q| q.chars().count() > 200 || q.chars().any(char::is_control)) {
        return Err(invalid_query(
            "Search for at most 200 characters, without control characters.",
        ));
    }
    Ok(Filter {
        search: search.map(str::to_owned),
        connection,
        max_stock: params
            .low_stock
            .unwrap_or(false)
            .then(|| params.low_stock_threshold.unwrap_or(5)),
        changed_since: params.changed_since.map(super::check_time).transpose()?,
    })
}

/// The caller's products, a page at a time.
#[utoipa::path(get, path = "/api/products", tag = "products", params(ListParams),
    responses((status = 200, body = Page<ProductView>), (status = 400, body = sm_http::ErrorBody), (status = 401, body = sm_http::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<ListParams>,
) -> Result<Json<Page<ProductView>>> {
    let sort = match params.sort.as_deref().unwrap_or("created") {
        "created" => Sort::Created,
        "updated" => Sort::Updated,
        "title" => Sort::Title,
        "price" => Sort::Price,
        "stock" => Sort::Stock,
        _ => {
            return Err(invalid_query(
                "sort is one of created, updated, title, price, stock.",
            ))
        }
    };
    let descending = match params.order.as_deref() {
        None => matches!(sort, Sort::Created | Sort::Updated),
        Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(invalid_query("order is asc or desc.")),
    };
    let after = match params.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(
            cursor::decode::<(SortKey, Uuid)>(c)
                .filter(|(key, _)| sort.accepts(key))
                .ok_or_else(|| invalid_query("The cursor is not valid for this sort order."))?,
        ),
    };
    let limit = page_size(params.limit);
    let query = ListQuery {
        filter: filter_from(&params)?,
        sort,
        descending,
        after,
        limit,
    };
    let mut rows = db::products::list(&state.db, user.user_id, &query).await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last()
            .map(|last| cursor::encode(&(sort.key_of(last), last.id)))
    } else {
        None
    };
    Ok(Json(Page {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

async fn own_connection(state: &AppState, user: &AuthUser, id: Uuid) -> Result<()> {
    match db::connections::find(&state.db, user.user_id, id).await? {
        Some(_) => Ok(()),
        None => Err(FieldError::new(
            "connection_id",
            "unknown_connection",
            "No such connection of yours.",
        )
        .into()),
    }
}

/// Adds a product, to a channel or cockpit-only. SKUs are unique per channel (409 `duplicate_sku`).
#[utoipa::path(post, path = "/api/products", tag = "products", request_body = ProductInput,
    responses((status = 201, body = ProductView),
              (status = 409, description = "duplicate_sku, or connection_deleted: the connection was deleted meanwhile", body = sm_http::ErrorBody),
              (status = 422, body = sm_http::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(input): Json<ProductInput>,
) -> Result<(StatusCode, Json<ProductView>)> {
    let fields = ProductFields::parse(&input).map_err(Error::validation)?;
    if let Some(id) = input.connection_id {
        own_connection(&state, &user, id).await?;
    }
    let row = db::products::insert(&state.db, user.user_id, input.connection_id, &fields).await?;
    // Its stock becomes the stock of every product of the merchant with the SKU.
    push::after_local_edit(&state, user.user_id).await;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// One of the caller's products.
#[utoipa::path(get, path = "/api/products/{id}", tag = "products", params(("id" = Uuid, Path)),
    responses((status = 200, body = ProductView),
              (status = 401, description = "unauthenticated", body = sm_http::ErrorBody),
              (status = 404, description = "not_found: no such product of the caller (or a malformed id)", body = sm_http::ErrorBody),
              (status = 429, description = "too_many_failed_authentications", body = sm_http::ErrorBody),
              (status = 503, description = "database_unavailable or security_unavailable", body = sm_http::ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Json<ProductView>> {
    let row = db::products::find(&state.db, user.user_id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(row.into()))
}

/// Replaces a product's fields (its channel stays). Channel products are marked as changed
/// locally until the next push, which is queued at once (`GET /api/sync/pending` shows
/// what it sends).
#[utoipa::path(put, path = "/api/products/{id}", tag = "products", params(("id" = Uuid, Path)), request_body = ProductInput,
    responses((status = 200, body = ProductView), (status = 404, body = sm_http::ErrorBody), (status = 409, body = sm_http::ErrorBody), (status = 422, body = sm_http::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(input): Json<ProductInput>,
) -> Result<Json<ProductView>> {
    let fields = ProductFields::parse(&input).map_err(Error::validation)?;
    let row = db::products::update(&state.db, user.user_id, id, &fields)
        .await?
        .ok_or_else(ApiError::not_found)?;
    push::after_local_edit(&state, user.user_id).await;
    Ok(Json(row.into()))
}

#[utoipa::path(delete, path = "/api/products/{id}", tag = "products", params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = sm_http::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode> {
    if db::products::delete(&state.db, user.user_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found().into())
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BulkRequest {
    /// 1 to 1,000 of the caller's product ids.
    #[schema(min_items = 1, max_items = 1000)]
    pub ids: Vec<Uuid>,
    /// Set every price to this many cents.
    pub price_amount: Option<i64>,
    /// Or change every price by this percentage (e.g. 10 or -5.5), rounded to whole cents.
    pub price_change_percent: Option<f64>,
    /// Set every stock to this.
    pub stock: Option<i64>,
    /// Or add this to every stock (negative to subtract; no stock may go below zero).
    pub stock_change: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    pub updated: u64,
}

fn bulk_change(req: &BulkRequest) -> Result<BulkChange> {
    let mut errors = Vec::new();
    if req.ids.is_empty() || req.ids.len() > MAX_BULK {
        errors.push(FieldError::new(
            "ids",
            "out_of_range",
            format!("Send 1 to {MAX_BULK} product ids."),
        ));
    }
    if req.price_amount.is_some() && req.price_change_percent.is_some()
        || req.stock.is_some() && req.stock_change.is_some()
    {
        errors.push(FieldError::new(
            "change",
            "conflicting",
            "Set a value or change it, not both.",
        ));
    }
    if req.price_amount.is_none()
        && req.price_change_percent.is_none()
        && req.stock.is_none()
        && req.stock_change.is_none()
    {
        errors.push(FieldError::new(
            "change",
            "required",
            "Say what to change: price or stock.",
        ));
    }
    let price_cents = req
        .price_amount
        .map(|c| product::check_price("price_amount", c))
        .transpose()
        .unwrap_or_else(|e| {
            errors.push(e);
            None
        });
    let price_change_bp = match req.price_change_percent {
        Some(p) if p.is_finite() && (-100.0..=1000.0).contains(&p) => {
            Some((p * 100.0).round() as i64)
        }
        Some(_) => {
            errors.push(FieldError::new(
                "price_change_percent",
                "out_of_range",
                "Change prices by -100 to 1000 percent.",
            ));
            None
        }
        None => None,
    };
    let stock = req
        .stock
        .map(|s| product::check_stock("stock", s))
        .transpose()
        .unwrap_or_else(|e| {
            errors.push(e);
            None
        });
    let stock_change = match req.stock_change {
        Some(d) if d.unsigned_abs() <= product::MAX_STOCK as u64 => Some(d as i32),
        Some(_) => {
            errors.push(FieldError::new(
                "stock_change",
                "out_of_range",
                "Change stock by at most 1,000,000,000.",
            ));
            None
        }
        None => None,
    };
    if errors.is_empty() {
        Ok(BulkChange {
            price_cents,
            price_change_bp,
            stock,
            stock_change,
        })
    } else {
        Err(Error::validation(errors))
    }
}

/// Changes price or stock of up to 1,000 products in one transaction: all or none. Ids that
/// are not the caller's answer 404 and nothing changes.
#[utoipa::path(post, path = "/api/products/bulk", tag = "products", request_body = BulkRequest,
    responses((status = 200, body = BulkResult), (status = 404, body = sm_http::ErrorBody), (status = 422, body = sm_http::ErrorBody)))]
pub async fn bulk_update(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<BulkRequest>,
) -> Result<Json<BulkResult>> {
    let change = bulk_change(&req)?;
    let ids: Vec<Uuid> = req
        .ids
        .iter()
        .copied()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut tx = state.db.begin().await?;
    let updated = match db::products::bulk_update(&mut tx, user.user_id, &ids, change).await {
        Ok(n) => n,
        // Check constraints and numeric overflow (SQLSTATE class 22): the result is out of range.
        Err(e)
            if e.as_database_error().is_some_and(|d| {
                d.is_check_violation() || d.code().is_some_and(|c| c.starts_with("22"))
            }) =>
        {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "out_of_range",
                "The change would take a price or stock out of range.",
            )
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    if updated != ids.len() as u64 {
        // Some ids are not the caller's products; roll everything back.
        return Err(ApiError::not_found().into());
    }
    tx.commit().await?;
    push::after_local_edit(&state, user.user_id).await;
    Ok(Json(BulkResult { updated }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    pub created: i64,
    pub updated: i64,
}

/// Imports products from CSV (`Content-Type: text/csv`), creating new SKUs and updating
/// existing ones, in one transaction. Any bad row: 422 listing every bad row
/// (`rows[LINE].FIELD`), and nothing is written. At most `IMPORT_MAX_ROWS` (100,000) rows.
/// Text cells starting with `'` followed by `= + - @ '`, tab or CR lose that one `'` (the
/// export's escaping against spreadsheet formulas).
#[utoipa::path(post, path = "/api/products/import", tag = "products",
    request_body(content = String, content_type = "text/csv", description = "Header: sku,title,description,price,currency,stock,images,connection_id"),
    responses((status = 200, body = ImportResult),
              (status = 408, description = "request_timeout: the import took longer than the request may; nothing is written", body = sm_http::ErrorBody),
              (status = 409, description = "duplicate_sku, or connection_deleted: a connection was deleted meanwhile", body = sm_http::ErrorBody),
              (status = 413, description = "payload_too_large (bytes), or too_many_rows (more rows than IMPORT_MAX_ROWS)", body = sm_http::ErrorBody),
              (status = 415, body = sm_http::ErrorBody),
              (status = 422, body = sm_http::ErrorBody)))]
pub async fn import_csv(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ImportResult>> {
    let is_csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/csv") || ct.starts_with("application/csv"));
    if !is_csv {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the file as text/csv.",
        )
        .into());
    }
    let connections: HashSet<Uuid> = db::connections::list(&state.db, user.user_id)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let max_rows = state.import_max_rows;
    // Parsing 100,000 rows takes a while: off the async threads.
    let columns = tokio::task::spawn_blocking(move || {
        product_csv::parse(&body, &connections, max_rows).map(upsert_columns)
    })
    .await
    .map_err(anyhow::Error::from)?
    .map_err(|e| match e {
        product_csv::ImportError::Invalid(fields) => Error::validation(fields),
        product_csv::ImportError::TooManyRows { max } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_rows",
            format!("An import holds at most {max} products; split the file."),
        )
        .into(),
    })?;
    // If the request ends before the write does, the statement is cancelled, not left running.
    let mut conn = Cancellable::acquire(&state.db).await?;
    let written = write_import(&mut conn, user.user_id, &columns, state.request_timeout).await;
    // The statements returned, done or refused (a duplicate SKU, say): the connection is fine.
    conn.release();
    let (created, updated) = written?;
    push::after_local_edit(&state, user.user_id).await;
    Ok(Json(ImportResult { created, updated }))
}

/// Writes an import in one transaction, each statement bounded by `limit`.
async fn write_import(
    conn: &mut sqlx::PgConnection,
    user_id: Uuid,
    columns: &UpsertRows,
    limit: std::time::Duration,
) -> sqlx::Result<(i64, i64)> {
    let mut tx = conn.begin().await?;
    cancellable::limit_statements(&mut tx, limit).await?;
    let written = db::products::upsert_many(&mut tx, user_id, columns).await?;
    tx.commit().await?;
    Ok(written)
}

fn upsert_columns(rows: Vec<product_csv::ImportRow>) -> UpsertRows {
    let mut columns = UpsertRows::default();
    for row in rows {
        columns.connection_id.push(row.connection_id);
        columns.sku.push(row.fields.sku);
        columns.title.push(row.fields.title);
        columns.description.push(row.fields.description);
        columns.price_cents.push(row.fields.price_cents);
        columns.currency.push(row.fields.currency);
        columns.stock.push(row.fields.stock);
        columns.images.push(row.fields.images.join("|"));
    }
    columns
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportParams {
    /// A connection's id, or `none` for cockpit-only products; all when absent.
    #[param(
        pattern = "^(none|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub connection_id: Option<String>,
}

/// All of the caller's products as CSV (streamed; re-importable). Text cells that a
/// spreadsheet would run as a formula (`= + - @`, tab, CR) or that start with `'` are written
/// with a leading `'`; the import takes it off again.
#[utoipa::path(get, path = "/api/products/export", tag = "products", params(ExportParams),
    responses((status = 200, content_type = "text/csv", description = "The products"),
              (status = 400, description = "invalid_query", body = sm_http::ErrorBody)))]
pub async fn export_csv(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<ExportParams>,
) -> Result<Response> {
    let filter = filter_from(&ListParams {
        connection_id: params.connection_id,
        limit: None,
        cursor: None,
        q: None,
        low_stock: None,
        low_stock_threshold: None,
        changed_since: None,
        sort: None,
        order: None,
    })?;
    // Keyset batches keep memory flat however large the catalogue is.
    let batches = futures::stream::unfold(Some((None, true)), move |progress| {
        let (db, filter) = (state.db.clone(), filter.clone());
        async move {
            let (after, first) = progress?;
            let mut out = csv::Writer::from_writer(Vec::new());
            if first {
                out.write_record(product_csv::HEADER).ok()?;
            }
            let rows =
                match db::products::batch_after(&db, user.user_id, &filter, after, 1000).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        tracing::error!(error = %e, "product export failed mid-stream");
                        return Some((Err(std::io::Error::other("export failed")), None));
                    }
                };
            let next = (rows.len() == 1000).then(|| (rows.last().map(|r| r.id), false));
            for r in &rows {
                let fields = ProductFields {
                    sku: r.sku.clone(),
                    title: r.title.clone(),
                    description: r.description.clone(),
                    price_cents: r.price_cents,
                    currency: r.currency.clone(),
                    stock: r.stock,
                    images: r.images.clone(),
                };
                out.write_record(product_csv::record(r.id, r.connection_id, &fields))
                    .ok()?;
            }
            let bytes = out.into_inner().ok()?;
            Some((Ok::<_, std::io::Error>(Bytes::from(bytes)), next))
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"products.csv\"",
            ),
        ],
        Body::from_stream(batches),
    )
        .into_response())
}
