use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A marketplace or shop system a merchant connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Shopify,
    Amazon,
    Kaufland,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::Shopify, Platform::Amazon, Platform::Kaufland];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Shopify => "shopify",
            Platform::Amazon => "amazon",
            Platform::Kaufland => "kaufland",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == value)
    }
}
