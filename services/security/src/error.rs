//! The service's one error type; every variant answers with the shared JSON error body.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use sm_http::{ApiError, ServiceError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Unknown email, wrong password, unverified or disabled account: one answer for all.
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("invalid or expired code")]
    InvalidCode,
    #[error("invalid or expired login ticket")]
    InvalidTicket,
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// The address used up its guesses at mailed codes of this purpose for the day.
    #[error("code guesses exhausted")]
    GuessesExhausted {
        purpose: crate::mailed_codes::Purpose,
        retry_after_secs: u64,
    },
    #[error("not authenticated")]
    Unauthenticated,
    #[error("wrong current password")]
    WrongPassword,
    #[error(transparent)]
    Common(#[from] ServiceError),
}

sm_http::service_error_conversions!(Error);

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidCredentials => ApiError::unauthorized(
                "invalid_credentials",
                "Email or password is wrong, or the account is not verified.",
            ),
            Error::InvalidCode => {
                ApiError::bad_request("invalid_code", "The code is wrong or has expired.")
            }
            Error::InvalidTicket => ApiError::unauthorized(
                "invalid_ticket",
                "The login step has expired or was already used; sign in again.",
            ),
            Error::InvalidRefreshToken => ApiError::unauthorized(
                "invalid_refresh_token",
                "The session has ended; sign in again.",
            ),
            Error::GuessesExhausted {
                purpose,
                retry_after_secs,
            } => {
                let code = match purpose {
                    crate::mailed_codes::Purpose::PasswordReset => "reset_attempts_exhausted",
                    _ => "verification_attempts_exhausted",
                };
                let mut e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    code,
                    "Too many wrong codes for this address today; try again later.",
                );
                e.retry_after_secs = Some(retry_after_secs.max(1));
                e
            }
            Error::Unauthenticated => {
                ApiError::unauthorized("unauthenticated", "A valid access token is required.")
            }
            Error::WrongPassword => ApiError::new(
                StatusCode::FORBIDDEN,
                "wrong_password",
                "The current password is wrong.",
            ),
            Error::Common(e) => e.into_api_error(ApiError::from_database),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}
