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

/// Constraint violations are the client's doing (a duplicate SKU, say); anything else is ours.
fn database_error(e: sqlx::Error) -> ApiError {
    if let Some(db) = e.as_database_error() {
        match db.constraint() {
            Some("products_sku_per_connection") => {
                return ApiError::conflict(
                    "duplicate_sku",
                    "A product with this SKU already exists in this channel.",
                )
            }
            Some(constraint) if db.is_check_violation() => {
                tracing::warn!(constraint, "check constraint refused a write");
                return ApiError::bad_request("invalid_value", "A value is out of range.");
            }
            _ => {}
        }
    }
    ApiError::internal(format_args!("database: {e}"))
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}
