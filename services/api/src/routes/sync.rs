//! Syncing a connection: ask for a sync, follow the job, read the logs (one per job, in the
//! seed's shape) and each job's per-item ledger.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::{header, StatusCode};
use serde::{Deserialize, Serialize};
use sm_auth::AuthUser;
use sm_http::{ApiError, Json, Path, Query};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{page_size, Page};
use crate::db;
use crate::domain::cursor;
use crate::error::Result;
use crate::state::AppState;
use crate::sync::enqueue::{self, Enqueued, NewJob};
use crate::sync::{self as engine, Job, Kind, Mode, Origin, Phase};

/// A stable code and words for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reason {
    #[schema(example = "channel_unavailable")]
    pub code: String,
    pub message: String,
}

/// A sync job: what it syncs, where it stands, how far it got.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: Uuid,
    pub connection_id: Uuid,
    pub kind: Kind,
    pub mode: Mode,
    /// Who asked: the merchant, the schedule, a channel webhook, or a stock change elsewhere.
    pub origin: Origin,
    pub state: engine::State,
    /// The phase it is in (orders, products, push; `done` at the end).
    pub phase: Phase,
    /// Items handled so far, over all phases.
    pub items_done: i32,
    /// Items handled so far in the current phase.
    pub phase_done: i32,
    /// The number of items of the current phase, where the channel tells it (the
    /// catalogue size in the products phase); else null.
    pub items_total: Option<i32>,
    /// Items the channel refused or that could not be taken (see the ledger).
    pub items_failed: i32,
    /// 0 to 1: the current phase's progress, `phase_done / items_total` (null when the
    /// phase's total is unknown), 1 once succeeded.
    #[schema(minimum = 0, maximum = 1)]
    pub progress: Option<f64>,
    pub attempts: i32,
    pub max_attempts: i32,
    /// When a job queued for a retry is tried again; null otherwise.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed (a failed job's reason, or the error a retry follows).
    pub error: Option<Reason>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<&Job> for JobView {
    fn from(job: &Job) -> Self {
        let progress = match (job.state, job.items_total) {
            (engine::State::Succeeded, _) => Some(1.0),
            (_, Some(total)) if total > 0 => {
                Some((f64::from(job.phase_done) / f64::from(total)).min(1.0))
            }
            _ => None,
        };
        JobView {
            id: job.id,
            connection_id: job.connection_id,
            kind: job.kind,
            mode: job.mode,
            origin: job.origin,
            state: job.state,
            phase: job.phase,
            items_done: job.items_done,
            phase_done: job.phase_done,
            items_total: job.items_total,
            items_failed: job.items_failed,
            progress,
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            next_attempt_at: (job.state == engine::State::Queued && job.attempts > 0)
                .then_some(job.run_after),
            error: reason(job),
            created_at: job.created_at,
            started_at: job.started_at,
            completed_at: job.completed_at,
        }
    }
}

fn reason(job: &Job) -> Option<Reason> {
    job.error_code.as_ref().map(|code| Reason {
        code: code.clone(),
        message: job.error.clone().unwrap_or_default(),
    })
}

/// What to sync. Unknown fields are ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TriggerRequest {
    /// One of the caller's connections.
    pub connection_id: Uuid,
    /// products, orders, both (default) or push (only the pending local changes). Every kind
    /// ends by pushing the connection's pending local changes.
    #[serde(default = "both")]
    #[schema(default = "both")]
    pub kind: Kind,
    /// incremental (default): what changed since the last sync; full: the whole catalogue
    /// (products gone from the channel are marked removed) and every order of the import
    /// window.
    #[serde(default = "incremental")]
    #[schema(default = "incremental")]
    pub mode: Mode,
}

fn both() -> Kind {
    Kind::Both
}

fn incremental() -> Mode {
    Mode::Incremental
}

/// Asks for a sync of one of the caller's connections.
///
/// At most one job waits or runs per connection: a new one answers 202; a trigger while a
/// job waits merges into it (kinds united, `full` winning) and answers 202 with it; while a
/// job runs, 200 with the running job (nothing is queued: trigger again when it is done).
/// `Location` names the job. A connection whose shop removed the app (`disconnected`) must
/// be connected again first (409 `connection_disconnected`); a paused connection is synced
/// when its merchant asks (the schedule and webhooks leave it alone).
#[utoipa::path(post, path = "/api/sync/trigger", tag = "sync", request_body = TriggerRequest,
    responses(
        (status = 202, description = "A new job, or the waiting job the request merged into", body = JobView,
            headers(("Location" = String, description = "/api/sync/jobs/{id}"))),
        (status = 200, description = "A job of the connection is running: that job", body = JobView),
        (status = 404, description = "not_found: no such connection of the caller", body = sm_http::ErrorBody),
        (status = 409, description = "connection_disconnected: the shop removed the ShopMarkets app; connect it again", body = sm_http::ErrorBody),
        (status = 422, description = "invalid_body: connection_id missing or not a UUID, an unknown kind or mode", body = sm_http::ErrorBody),
    ))]
pub async fn trigger(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<TriggerRequest>,
) -> Result<Response> {
    let connection = db::connections::find(&state.db, user.user_id, req.connection_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if connection.status == "disconnected" {
        return Err(ApiError::conflict(
            "connection_disconnected",
            "The shop removed the ShopMarkets app; connect it again before syncing.",
        )
        .into());
    }
    let mut tx = state.db.begin().await?;
    let enqueued = enqueue::enqueue(
        &mut tx,
        &state.sync,
        &NewJob {
            user_id: user.user_id,
            connection_id: req.connection_id,
            kind: req.kind,
            mode: req.mode,
            origin: Origin::Merchant,
        },
    )
    .await?
    // Deleted meanwhile.
    .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok(match enqueued {
        Enqueued::Running(job) => (StatusCode::OK, Json(JobView::from(&job))).into_response(),
        Enqueued::Created(job) | Enqueued::Merged(job) => (
            StatusCode::ACCEPTED,
            [(header::LOCATION, format!("/api/sync/jobs/{}", job.id))],
            Json(JobView::from(&job)),
        )
            .into_response(),
    })
}

/// One of the caller's sync jobs: state, phase and progress.
#[utoipa::path(get, path = "/api/sync/jobs/{id}", tag = "sync", params(("id" = Uuid, Path)),
    responses((status = 200, body = JobView),
              (status = 404, description = "not_found: no such job of the caller (or a malformed id)", body = sm_http::ErrorBody)))]
pub async fn get_job(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Json<JobView>> {
    let job = db::sync_jobs::find(&state.db, user.user_id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(JobView::from(&job)))
}

/// A sync log: one job in the seed's shape, with the job's own fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogView {
    #[serde(flatten)]
    pub job: JobView,
    /// The job's state (queued, running, succeeded or failed).
    pub status: engine::State,
    /// Items handled (`items_done`).
    pub items_synced: i32,
    /// Why it failed, or the error its retry follows; empty otherwise. Per-item refusals
    /// are in the ledger.
    pub errors: Vec<Reason>,
    /// Ledger entries not kept because the job wrote more than one job keeps.
    pub ledger_omitted: i32,
}

impl From<Job> for LogView {
    fn from(job: Job) -> Self {
        LogView {
            status: job.state,
            items_synced: job.items_done,
            errors: reason(&job).into_iter().collect(),
            ledger_omitted: job.ledger_omitted,
            job: JobView::from(&job),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LogParams {
    /// 1–200, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only this connection's logs.
    pub connection_id: Option<Uuid>,
    /// Only logs in this state.
    #[param(schema_with = states)]
    pub status: Option<engine::State>,
}

fn states() -> utoipa::openapi::Object {
    sm_http::openapi::string_enum(&["queued", "running", "succeeded", "failed"])
}

fn invalid_cursor() -> ApiError {
    ApiError::bad_request("invalid_query", "The cursor is not valid.")
}

/// The cursor of a page, if any.
fn after<T: serde::de::DeserializeOwned>(c: Option<&str>) -> Result<Option<T>> {
    match c {
        None | Some("") => Ok(None),
        Some(c) => Ok(Some(cursor::decode(c).ok_or_else(invalid_cursor)?)),
    }
}

/// Trims one extra row off `rows` and makes the next page's cursor from the last kept.
fn paged<T, K: Serialize>(
    mut rows: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> K,
) -> (Vec<T>, Option<String>) {
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        let next = rows.last().map(|last| cursor::encode(&key(last)));
        (rows, next)
    } else {
        (rows, None)
    }
}

/// The caller's sync logs, newest first, optionally of one connection or in one state.
#[utoipa::path(get, path = "/api/sync/logs", tag = "sync", params(LogParams),
    responses((status = 200, body = Page<LogView>),
              (status = 400, description = "invalid_query: a connection_id that is no UUID, an unknown status, a cursor not from this listing", body = sm_http::ErrorBody)))]
pub async fn logs(
    State(state): State<AppState>,
    user: AuthUser,
    Query(p): Query<LogParams>,
) -> Result<Json<Page<LogView>>> {
    let limit = page_size(p.limit);
    let filter = db::sync_jobs::Filter {
        connection_id: p.connection_id,
        state: p.status,
    };
    let after = after::<Uuid>(p.cursor.as_deref())?;
    let rows = db::sync_jobs::list(&state.db, user.user_id, &filter, after, limit).await?;
    let (rows, next_cursor) = paged(rows, limit, |job| job.id);
    Ok(Json(Page {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// What the channel answered about an item.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelAnswer {
    #[schema(example = "channel_rejected_item")]
    pub code: String,
    pub message: String,
}

/// What a job did to one item.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntryView {
    pub id: i64,
    /// product or order.
    #[schema(schema_with = entities)]
    pub entity: String,
    /// created, updated, removed, conflict, skipped, pushed, rejected, imported,
    /// status_changed or stock_lowered.
    #[schema(example = "pushed")]
    pub action: String,
    pub sku: Option<String>,
    /// The item's id at the channel.
    pub external_id: Option<String>,
    pub product_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    /// What changed: `{"price_cents": {"old": 1999, "new": 2499}, ...}`.
    #[schema(value_type = Object)]
    pub changes: serde_json::Value,
    /// The channel's answer (a refusal's code and reason); null when it had nothing to say.
    pub channel: Option<ChannelAnswer>,
    /// The job tries the item again by itself. A refused item is not: it is sent again
    /// after the merchant's next edit of it.
    pub will_retry: bool,
    pub at: DateTime<Utc>,
}

fn entities() -> utoipa::openapi::Object {
    sm_http::openapi::string_enum(&["product", "order"])
}

impl From<db::sync_jobs::LedgerRow> for LedgerEntryView {
    fn from(r: db::sync_jobs::LedgerRow) -> Self {
        LedgerEntryView {
            id: r.id,
            entity: r.entity,
            action: r.action,
            sku: r.sku,
            external_id: r.external_id,
            product_id: r.product_id,
            order_id: r.order_id,
            changes: r.changes,
            channel: r.channel_code.map(|code| ChannelAnswer {
                code,
                message: r.channel_message.unwrap_or_default(),
            }),
            will_retry: r.will_retry,
            at: r.at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LedgerParams {
    /// 1–200, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The per-item ledger of one of the caller's sync logs, in the order it was written.
#[utoipa::path(get, path = "/api/sync/logs/{id}/ledger", tag = "sync", params(("id" = Uuid, Path), LedgerParams),
    responses((status = 200, body = Page<LedgerEntryView>),
              (status = 400, description = "invalid_query: a cursor not from this listing", body = sm_http::ErrorBody),
              (status = 404, description = "not_found: no such log of the caller (or a malformed id)", body = sm_http::ErrorBody)))]
pub async fn ledger(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Query(p): Query<LedgerParams>,
) -> Result<Json<Page<LedgerEntryView>>> {
    db::sync_jobs::find(&state.db, user.user_id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let limit = page_size(p.limit);
    let after = after::<i64>(p.cursor.as_deref())?;
    let rows = db::sync_jobs::ledger(&state.db, user.user_id, id, after, limit).await?;
    let (rows, next_cursor) = paged(rows, limit, |entry| entry.id);
    Ok(Json(Page {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}
