//! `/health/live` (the process answers) and `/health/ready` (and its database does too).

use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use sqlx::PgPool;
use utoipa::{OpenApi, ToSchema};

use crate::{ApiError, Json};

#[derive(Serialize, ToSchema)]
pub struct HealthStatus {
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(OpenApi)]
#[openapi(paths(live, ready), components(schemas(HealthStatus)))]
pub struct HealthApi;

pub fn routes(pool: PgPool) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .with_state(pool)
}

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "health", security(()),
    responses((status = 200, body = HealthStatus)))]
async fn live() -> Json<HealthStatus> {
    Json(HealthStatus { status: "ok" })
}

/// How long readiness waits for the database: well below any probe's own timeout, so a
/// database that is away gives a prompt 503 rather than a hung probe.
const READY_TIMEOUT: Duration = Duration::from_secs(1);

/// The service can reach its database.
#[utoipa::path(get, path = "/health/ready", tag = "health", security(()),
    responses((status = 200, body = HealthStatus), (status = 503, body = crate::ErrorBody)))]
async fn ready(State(pool): State<PgPool>) -> Result<Json<HealthStatus>, ApiError> {
    let ping = sqlx::query("SELECT 1").execute(&pool);
    match tokio::time::timeout(READY_TIMEOUT, ping).await {
        Ok(Ok(_)) => Ok(Json(HealthStatus { status: "ready" })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            Err(ApiError::database_unavailable())
        }
        Err(_) => {
            tracing::warn!("readiness check: the database did not answer in time");
            Err(ApiError::database_unavailable())
        }
    }
}
