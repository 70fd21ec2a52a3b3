//! The service's one error type; every variant answers with the shared JSON error body.

use axum::response::{IntoResponse, Response};
use sm_http::{ApiError, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<FieldError> for Error {
    fn from(field: FieldError) -> Self {
        Error::Validation(vec![field])
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        match error {
            Error::Validation(fields) => ApiError::validation(fields),
            Error::Api(api) => api,
            Error::Database(e) => database_error(e),
            Error::Internal(e) => ApiError::internal(format_args!("{e:#}")),
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
