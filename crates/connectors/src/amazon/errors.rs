//! SP-API error answers (`{"errors":[{"code","message","details"}]}`) in the cockpit's terms.

use http::StatusCode;
use serde::Deserialize;

use crate::error::clip;
use crate::ChannelError;

/// Amazon refused one request for a reason of its own (bad input, unknown SKU): the caller
/// decides whether that fails the whole call or only one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: StatusCode,
    pub code: String,
    /// Amazon's message, clipped.
    pub message: String,
}

impl Refusal {
    pub(crate) fn into_error(self) -> ChannelError {
        ChannelError::protocol(format!(
            "Amazon refused the request: {} ({})",
            self.message, self.code
        ))
    }
}

/// What a non-success answer means.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The access token was refused: worth one more try with a fresh one.
    TokenRefused,
    /// 403 with a valid token: the app lacks the operation's role (or the seller).
    Denied(Refusal),
    Refused(Refusal),
    Error(ChannelError),
}

#[derive(Deserialize)]
struct ErrorList {
    errors: Vec<Error>,
}

#[derive(Deserialize)]
struct Error {
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: String,
}

/// Reads an answer that is neither a success nor transient (Transport retried those).
pub(crate) fn classify(status: StatusCode, body: &[u8]) -> Failure {
    let first = serde_json::from_slice::<ErrorList>(body)
        .ok()
        .and_then(|list| list.errors.into_iter().next());
    let Some(error) = first else {
        return Failure::Error(ChannelError::protocol(format!(
            "Amazon answered HTTP {status} without an error list"
        )));
    };
    let refusal = |error: Error| Refusal {
        status,
        code: clip(&error.code),
        message: clip(&error.message),
    };
    match status {
        StatusCode::UNAUTHORIZED => Failure::TokenRefused,
        // SP-API answers 403 both for a bad access token (its details say so) and for an
        // app that lacks the role the operation needs.
        StatusCode::FORBIDDEN
            if error.code == "InvalidSignature"
                || error.details.to_ascii_lowercase().contains("token") =>
        {
            Failure::TokenRefused
        }
        StatusCode::FORBIDDEN => Failure::Denied(refusal(error)),
        s if s.is_client_error() => Failure::Refused(refusal(error)),
        _ => Failure::Error(ChannelError::protocol(format!(
            "Amazon answered HTTP {status} ({})",
            clip(&error.code)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DENIED: &str = r#"{"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied.","details":""}]}"#;
    const BAD_TOKEN: &str = r#"{"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied.","details":"The access token you provided is revoked, malformed or invalid."}]}"#;

    #[test]
    fn a_refused_token_differs_from_a_missing_role() {
        assert_eq!(
            classify(StatusCode::FORBIDDEN, BAD_TOKEN.as_bytes()),
            Failure::TokenRefused
        );
        assert!(matches!(
            classify(StatusCode::FORBIDDEN, DENIED.as_bytes()),
            Failure::Denied(Refusal { code, .. }) if code == "Unauthorized"
        ));
    }

    #[test]
    fn input_errors_are_the_callers_to_judge() {
        let body = r#"{"errors":[{"code":"InvalidInput","message":"Invalid MarketplaceIds"}]}"#;
        assert_eq!(
            classify(StatusCode::BAD_REQUEST, body.as_bytes()),
            Failure::Refused(Refusal {
                status: StatusCode::BAD_REQUEST,
                code: "InvalidInput".into(),
                message: "Invalid MarketplaceIds".into()
            })
        );
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, b"<html>"),
            Failure::Error(ChannelError::Protocol { .. })
        ));
    }

    #[test]
    fn long_messages_are_clipped() {
        let body = format!(
            r#"{{"errors":[{{"code":"InvalidInput","message":"{}"}}]}}"#,
            "x".repeat(5000)
        );
        let Failure::Refused(refusal) = classify(StatusCode::BAD_REQUEST, body.as_bytes()) else {
            panic!("a refusal");
        };
        assert!(refusal.message.chars().count() < 400);
    }
}
