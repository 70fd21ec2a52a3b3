//! The amazon stand-in (being built).

use axum::response::{IntoResponse, Response};
use axum::Router;
use http::StatusCode;

use crate::faults::Fault;
use crate::Sandbox;

pub fn router() -> Router<Sandbox> {
    Router::new()
}

/// The vendor's answer for an injected server error or throttle.
pub fn fault_answer(_fault: Fault) -> Response {
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}
