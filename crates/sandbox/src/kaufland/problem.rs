//! Kaufland's error body: `{type, message, errors: [{field, message}]}`.

use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde_json::json;

/// A refusal, answered the way Kaufland answers it.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    kind: &'static str,
    message: String,
    errors: Vec<(String, String)>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Problem {
            status,
            kind,
            message: message.into(),
            errors: Vec::new(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Problem::new(StatusCode::UNAUTHORIZED, "/problems/unauthorized", message)
    }

    /// A `Shop-*` authentication header missing or not of its form.
    pub fn bad_header(message: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "/problems/missing-or-invalid-request-header",
            message,
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, "/problems/bad-request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "/problems/not-found", message)
    }

    /// 400 naming each invalid field with its reason.
    pub fn validation(errors: Vec<(String, String)>) -> Self {
        Problem {
            errors,
            ..Problem::new(
                StatusCode::BAD_REQUEST,
                "/problems/validation-error",
                "Validation failed",
            )
        }
    }

    /// 400 for one invalid field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Problem::validation(vec![(field.to_owned(), message.into())])
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let errors: Vec<_> = self
            .errors
            .iter()
            .map(|(field, message)| json!({"field": field, "message": message}))
            .collect();
        let body = json!({"type": self.kind, "message": self.message, "errors": errors});
        (self.status, Json(body)).into_response()
    }
}
