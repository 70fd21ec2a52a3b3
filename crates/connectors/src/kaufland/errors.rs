//! Kaufland's error bodies (`{type, message, errors: [{field, message}]}`) and what they
//! mean for the caller.

use http::StatusCode;
use serde::Deserialize;

use crate::{ChannelError, Rejection};

/// Problem types that say the credentials (or the account behind them) do not work.
const CREDENTIAL_PROBLEMS: &[&str] = &[
    "/problems/unauthorized",
    "/problems/invalid-credentials",
    "/problems/corrupted-signature",
    "/problems/inactive-account",
    "/problems/missing-or-invalid-request-header",
    "/problems/storefront-not-configured",
];

/// A refusal as Kaufland words it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Problem {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<FieldError>,
}

#[derive(Debug, Clone, Deserialize)]
struct FieldError {
    #[serde(default)]
    field: String,
    #[serde(default)]
    message: String,
}

impl Problem {
    /// The body of a refusal; an answer that is not a problem body keeps only its status.
    pub(crate) fn parse(status: StatusCode, body: &[u8]) -> Problem {
        serde_json::from_slice(body).unwrap_or_else(|_| Problem {
            kind: None,
            message: format!("HTTP {status}"),
            errors: Vec::new(),
        })
    }

    /// The credentials, not the request, are what Kaufland refused.
    pub(crate) fn is_about_credentials(&self, status: StatusCode) -> bool {
        status == StatusCode::UNAUTHORIZED
            || status == StatusCode::FORBIDDEN
            || self
                .kind
                .as_deref()
                .is_some_and(|kind| CREDENTIAL_PROBLEMS.contains(&kind))
    }

    /// The field errors where Kaufland names them, else its message.
    pub(crate) fn reason(&self) -> String {
        let fields: Vec<String> = self
            .errors
            .iter()
            .map(|e| match e.field.as_str() {
                "" => e.message.clone(),
                field => format!("{field}: {}", e.message),
            })
            .collect();
        crate::error::clip(&match (fields.is_empty(), self.message.is_empty()) {
            (true, _) => self.message.clone(),
            (false, true) => fields.join("; "),
            (false, false) => format!("{} ({})", self.message, fields.join("; ")),
        })
    }

    pub(crate) fn into_credentials_error(self) -> ChannelError {
        ChannelError::credentials(self.reason())
    }

    /// A refused read: nothing the merchant did, so this client asked wrongly.
    pub(crate) fn into_read_error(self) -> ChannelError {
        ChannelError::protocol(format!("Kaufland refused the request: {}", self.reason()))
    }

    /// A refused item of a push, with Kaufland's problem type (without `/problems/`) as code.
    pub(crate) fn into_rejection(self) -> Rejection {
        let code = self
            .kind
            .as_deref()
            .map(|kind| kind.trim_start_matches("/problems/"))
            .filter(|kind| !kind.is_empty() && *kind != "about:blank")
            .unwrap_or("rejected")
            .to_owned();
        Rejection {
            code,
            message: self.reason(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_become_rejections_with_field_messages() {
        let body = br#"{"type":"/problems/validation-error","message":"Validation failed","errors":[{"field":"listing_price","message":"must be at least 1"}]}"#;
        let problem = Problem::parse(StatusCode::BAD_REQUEST, body);
        assert!(!problem.is_about_credentials(StatusCode::BAD_REQUEST));
        let rejection = problem.into_rejection();
        assert_eq!(rejection.code, "validation-error");
        assert_eq!(
            rejection.message,
            "Validation failed (listing_price: must be at least 1)"
        );
    }

    #[test]
    fn signature_problems_are_about_credentials() {
        let body = br#"{"type":"/problems/corrupted-signature","message":"bad","errors":[]}"#;
        let problem = Problem::parse(StatusCode::UNAUTHORIZED, body);
        assert!(problem.is_about_credentials(StatusCode::UNAUTHORIZED));
        let garbage = Problem::parse(StatusCode::BAD_REQUEST, b"<html>");
        assert_eq!(garbage.reason(), "HTTP 400 Bad Request");
    }

    #[test]
    fn long_reasons_are_clipped() {
        let body = format!(
            r#"{{"type":"/problems/x","message":"{}"}}"#,
            "ä".repeat(2000)
        );
        let reason = Problem::parse(StatusCode::BAD_REQUEST, body.as_bytes()).reason();
        assert!(reason.chars().count() <= 301, "{}", reason.chars().count());
    }
}
