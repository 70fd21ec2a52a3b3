//! The service's one error type; every variant answers with the shared JSON error body.

use axum::response::{IntoResponse, Response};
use sm_http::{ApiError, ServiceError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Common(#[from] ServiceError),
}

sm_http::service_error_conversions!(Error);

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        match error {
            Error::Common(e) => e.into_api_error(database_error),
        }
    }
}

/// A duplicate SKU is the client's doing, and a connection that went away between the
/// check and the write (a concurrent delete) is a conflict; a statement stopped by its
/// `statement_timeout` took as long as the request may. The rest is judged by
/// `ApiError::from_database`.
fn database_error(e: sqlx::Error) -> ApiError {
    let (code, constraint) = match e.as_database_error() {
        Some(db) => (db.code(), db.constraint()),
        None => (None, None),
    };
    match constraint {
        Some("products_sku_per_connection") => {
            return ApiError::conflict(
                "duplicate_sku",
                "A product with this SKU already exists in this channel.",
            )
        }
        Some("products_connection_of_owner" | "orders_connection_of_owner") => {
            return ApiError::conflict(
                "connection_deleted",
                "The connection was deleted meanwhile.",
            )
        }
        _ => {}
    }
    // 57014: query_canceled (statement_timeout, or a cancel once the request was gone).
    if code.as_deref() == Some("57014") {
        tracing::warn!(error = %e, "a statement ran out of time");
        return ApiError::from_status(http::StatusCode::REQUEST_TIMEOUT);
    }
    ApiError::from_database(e)
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}
