//! The security service's answer to "is this access token valid?" (in the spirit of RFC
//! 7662): written by its introspection endpoint, read by `sm-auth` in every other service.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Role;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Introspection {
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    /// Expiry of the token (Unix seconds): cache the answer no longer than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
}

impl Introspection {
    /// The answer for a token that is not valid (nothing else is said about it).
    pub fn inactive() -> Self {
        Self {
            active: false,
            sub: None,
            email: None,
            role: None,
            sid: None,
            exp: None,
        }
    }
}
