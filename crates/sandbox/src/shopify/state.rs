//! What the Shopify stand-in keeps per shop beside the catalogue: the cost bucket, the
//! throttle counter, webhook subscriptions, pending OAuth codes and granted scopes, in the shop's vendor
//! slot ([`Shop::with_extra`]).

use chrono::{DateTime, Utc};

use crate::shops::Shop;

#[derive(Debug, Default)]
pub struct ShopifyState {
    /// Points left in the leaky bucket; `None` until the first request (a full bucket).
    pub bucket: Option<Bucket>,
    /// THROTTLED answers given so far.
    pub throttled: u64,
    /// Points the bucket gave so far (each answer's actual cost).
    pub spent: u64,
    pub subscriptions: Vec<Subscription>,
    /// Last subscription number handed out.
    pub last_subscription: u64,
    /// Authorization codes not yet exchanged, by their SHA-256 (the codes are secrets).
    pub codes: Vec<PendingCode>,
    /// The scopes granted by the last install, comma-separated as in the token answer;
    /// `None` until one: the sandbox's preset tokens have all the cockpit asks for.
    pub scopes: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    pub available: f64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Subscription {
    pub number: u64,
    /// The enum value, e.g. `PRODUCTS_UPDATE`.
    pub topic: String,
    pub callback_url: String,
    pub format: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct PendingCode {
    pub sha256: String,
    pub scope: String,
    pub expires: DateTime<Utc>,
}

/// Runs `f` on the shop's Shopify state, holding the shop's lock throughout.
pub fn with_state<R>(shop: &Shop, f: impl FnOnce(&mut ShopifyState) -> R) -> R {
    shop.with_extra(f)
}
