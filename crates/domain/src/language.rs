use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The language of a user's mail and documents. German first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    De,
    En,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::De => "de",
            Language::En => "en",
        }
    }

    pub fn from_db(value: &str) -> Self {
        if value == "en" {
            Language::En
        } else {
            Language::De
        }
    }
}
