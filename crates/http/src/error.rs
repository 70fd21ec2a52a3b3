use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error answer of every service.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code that clients act on.
    #[schema(example = "invalid_credentials")]
    pub code: Cow<'static, str>,
    /// Human-readable explanation (English).
    pub message: Cow<'static, str>,
    /// Per-field problems for validation errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// The request id (also in the `x-request-id` header), for support requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    pub field: Cow<'static, str>,
    pub code: Cow<'static, str>,
    pub message: Cow<'static, str>,
}

impl FieldError {
    pub fn new(
        field: impl Into<Cow<'static, str>>,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }

    /// The same problem reported under another field name.
    pub fn with_field(mut self, field: impl Into<Cow<'static, str>>) -> Self {
        self.field = field.into();
        self
    }
}

/// An error answer. Handlers return `Result<_, ApiError>` (or a service error that converts
/// into it). The request id is filled in by [`crate::middleware::stack`].
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: Cow<'static, str>,
    pub fields: Vec<FieldError>,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            fields: Vec::new(),
            retry_after_secs: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "No such resource.")
    }

    pub fn conflict(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 422 with one entry per offending field.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Some fields are invalid.",
        );
        e.fields = fields;
        e
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Too many requests; try again later.",
        );
        e.retry_after_secs = Some(retry_after_secs.max(1));
        e
    }

    pub fn unavailable(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// A 500 whose cause is logged here, once, and never sent to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side.",
        )
    }

    /// 503 `database_unavailable`: the database cannot be reached right now.
    pub fn database_unavailable() -> Self {
        Self::unavailable(
            "database_unavailable",
            "The database is not reachable right now; try again shortly.",
        )
    }

    /// 503 `busy_try_again` with `Retry-After: 1`: the request lost a race with another
    /// (a deadlock or a serialization failure); sent again, it goes through.
    pub fn busy() -> Self {
        let mut e = Self::unavailable(
            "busy_try_again",
            "The request collided with another one; send it again.",
        );
        e.retry_after_secs = Some(1);
        e
    }

    /// A database error. A database that is away (no connection within the acquire timeout,
    /// a broken or refused connection, a server shutting down) is 503 `database_unavailable`;
    /// a deadlock or serialization failure (SQLSTATE 40P01, 40001) 503 `busy_try_again`.
    /// Values Postgres refuses — SQLSTATE class 22 (numbers or dates out of range, NUL
    /// characters) and check constraints — come from the request: 400 `invalid_value`.
    /// Anything else is ours: a logged 500.
    pub fn from_database(e: sqlx::Error) -> Self {
        if database_away(&e) {
            tracing::warn!(error = %e, "database unavailable");
            return Self::database_unavailable();
        }
        if let Some(db) = e.as_database_error() {
            if db
                .code()
                .is_some_and(|code| code == "40P01" || code == "40001")
            {
                tracing::warn!(error = %db, "a request lost a database race");
                return Self::busy();
            }
            let data_exception = db.code().is_some_and(|code| code.starts_with("22"));
            if data_exception || db.is_check_violation() {
                tracing::warn!(error = %db, "the database refused a value");
                return Self::bad_request(
                    "invalid_value",
                    "A value is out of the range this field accepts.",
                );
            }
        }
        Self::internal(format_args!("database: {e}"))
    }

    /// The generic error for a bare status produced outside a handler (router, layers).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::NOT_FOUND => ("not_found", "No such resource."),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "Method not allowed here."),
            StatusCode::REQUEST_TIMEOUT => ("request_timeout", "The request took too long."),
            StatusCode::PAYLOAD_TOO_LARGE => {
                ("payload_too_large", "The request body is too large.")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported_media_type",
                "Send the body as application/json.",
            ),
            StatusCode::TOO_MANY_REQUESTS => ("too_many_requests", "Too many requests."),
            StatusCode::UNAUTHORIZED => ("unauthorized", "Authentication required."),
            StatusCode::FORBIDDEN => ("forbidden", "Not allowed."),
            s if s.is_server_error() => ("internal_error", "Something went wrong on our side."),
            _ => ("bad_request", "The request could not be processed."),
        };
        Self::new(status, code, message)
    }

    pub(crate) fn body(&self, request_id: Option<String>) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.clone(),
                message: self.message.clone(),
                fields: self.fields.clone(),
                request_id,
            },
        }
    }

    pub(crate) fn render(&self, request_id: Option<String>) -> Response {
        let mut response = (self.status, axum::Json(self.body(request_id))).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Whether an error means the database is unreachable, not that the query was wrong.
fn database_away(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        // Class 08: connection exception; 57P01-57P03: the server is shutting down or starting
        // up; 53300: too many connections.
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P") || code == "53300"
        }),
        _ => false,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.render(None);
        // The error envelope middleware re-renders from this with the request id.
        response.extensions_mut().insert(self);
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_503_not_500() {
        for e in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into()),
            sqlx::Error::Tls("handshake failed".into()),
        ] {
            let api = ApiError::from_database(e);
            assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(api.code, "database_unavailable");
        }
        let other = ApiError::from_database(sqlx::Error::Protocol("unexpected message".into()));
        assert_eq!(other.status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    /// A Postgres error with just a SQLSTATE.
    #[derive(Debug)]
    struct Sqlstate(&'static str);

    impl std::fmt::Display for Sqlstate {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "SQLSTATE {}", self.0)
        }
    }

    impl std::error::Error for Sqlstate {}

    impl sqlx::error::DatabaseError for Sqlstate {
        fn message(&self) -> &str {
            "lost a race"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    #[test]
    fn deadlocks_and_serialization_failures_are_503_try_again() {
        for code in ["40P01", "40001"] {
            let api = ApiError::from_database(sqlx::Error::Database(Box::new(Sqlstate(code))));
            assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE, "{code}");
            assert_eq!(api.code, "busy_try_again");
            let response = api.render(None);
            assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        }
        let other = ApiError::from_database(sqlx::Error::Database(Box::new(Sqlstate("42P01"))));
        assert_eq!(other.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
