//! The failures every service's handlers share, so that each service's own error type only
//! adds its particular cases: `enum Error { ..., Common(ServiceError) }` plus
//! [`service_error_conversions!`](crate::service_error_conversions) for the `?` operator.

use crate::{ApiError, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<FieldError> for ServiceError {
    fn from(field: FieldError) -> Self {
        ServiceError::Validation(vec![field])
    }
}

impl ServiceError {
    /// The answer, with database errors judged by `database` (a service that knows its
    /// constraints maps them before falling back to [`ApiError::from_database`]).
    pub fn into_api_error(self, database: fn(sqlx::Error) -> ApiError) -> ApiError {
        match self {
            ServiceError::Validation(fields) => ApiError::validation(fields),
            ServiceError::Api(api) => api,
            ServiceError::Database(e) => database(e),
            ServiceError::Internal(e) => ApiError::internal(format_args!("{e:#}")),
        }
    }
}

/// `From` impls that let `?` turn sqlx, anyhow, `ApiError` and `FieldError` failures into
/// a service's error enum through its `Common(ServiceError)` variant.
#[macro_export]
macro_rules! service_error_conversions {
    ($error:ty) => {
        $crate::service_error_conversions!(@from $error, ::sqlx::Error);
        $crate::service_error_conversions!(@from $error, ::anyhow::Error);
        $crate::service_error_conversions!(@from $error, $crate::ApiError);
        $crate::service_error_conversions!(@from $error, $crate::FieldError);

        impl $error {
            /// A validation failure naming every bad field.
            pub fn validation(fields: Vec<$crate::FieldError>) -> Self {
                <$error>::Common($crate::ServiceError::Validation(fields))
            }
        }
    };
    (@from $error:ty, $source:ty) => {
        impl From<$source> for $error {
            fn from(e: $source) -> Self {
                <$error>::Common($crate::ServiceError::from(e))
            }
        }
    };
}
