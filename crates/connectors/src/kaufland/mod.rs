//! Kaufland Seller API v2, signed requests.
//!
//! Every request carries `Shop-Client-Key`, `Shop-Timestamp` and `Shop-Signature`
//! ([`signature`]), signed afresh for every attempt. Calls of one client key are paced at
//! Kaufland's documented 111 requests/s, shared by every connection using that key.

mod api;
mod errors;
mod orders;
mod signing;
mod units;

use std::num::NonZeroU32;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use governor::{DefaultKeyedRateLimiter, Quota};
use http::Method;
use secrecy::SecretString;
use sm_domain::Platform;

use crate::{
    Channel, ChannelError, ChannelOrder, ChannelProduct, Cursor, Hosts, ItemOutcome, Limits,
    ListingUpdate, Page, Transport,
};

pub use signing::signature;

/// The storefronts Kaufland's Seller API serves; a connection names one.
pub const STOREFRONTS: [&str; 7] = ["de", "at", "cz", "sk", "pl", "fr", "it"];

/// Client keys the shared limiter holds before it drops those idle long enough to be
/// as good as new.
const LIMITER_PRUNE_ABOVE: usize = 1024;

/// Kaufland's documented limit per seller.
const REQUESTS_PER_SECOND: u32 = 111;
/// Most items a Kaufland list returns at once.
const MAX_PAGE: usize = 100;
/// Most order details or unit patches in flight at once (each one request).
const CONCURRENCY: usize = 8;

#[derive(Clone)]
pub struct Credentials {
    pub client_key: String,
    pub secret_key: SecretString,
    /// One of [`STOREFRONTS`], e.g. `de`.
    pub storefront: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_key", &self.client_key)
            .field("storefront", &self.storefront)
            .finish_non_exhaustive()
    }
}

/// State shared by all clients of the process (rate limit per client key).
pub struct Shared {
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
}

impl Default for Shared {
    fn default() -> Self {
        let rate = NonZeroU32::new(REQUESTS_PER_SECOND).expect("non-zero");
        Shared {
            limiter: Arc::new(DefaultKeyedRateLimiter::keyed(Quota::per_second(rate))),
        }
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

/// Drops the limiter's keys whose state is as good as new once it holds more than
/// [`LIMITER_PRUNE_ABOVE`], so client keys tried once do not stay for the process's life.
fn keep_bounded(limiter: &DefaultKeyedRateLimiter<String>) {
    if limiter.len() > LIMITER_PRUNE_ABOVE {
        limiter.retain_recent();
    }
}

/// One Kaufland seller account on one storefront.
pub struct Client {
    transport: Transport,
    /// `https://sellerapi.kaufland.com/v2` or the sandbox's stand-in.
    base: String,
    credentials: Credentials,
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
}

impl Client {
    pub fn new(
        transport: Transport,
        hosts: &Hosts,
        credentials: Credentials,
        shared: &Shared,
    ) -> Self {
        // Kaufland's storefront values are lower case.
        let storefront = credentials.storefront.trim().to_ascii_lowercase();
        Client {
            transport,
            base: hosts.kaufland_api(),
            credentials: Credentials {
                storefront,
                ..credentials
            },
            limiter: shared.limiter.clone(),
        }
    }

    fn storefront_query(&self) -> (&'static str, String) {
        ("storefront", self.credentials.storefront.clone())
    }

    async fn order(&self, id_order: &str) -> Result<ChannelOrder, ChannelError> {
        let url = self.url(&["orders", id_order], &[])?;
        let answer: orders::OrderAnswer = self.read(&url).await?;
        Ok(answer
            .data
            .into_order(units::currency_of(&self.credentials.storefront)))
    }

    async fn push_one(&self, update: &ListingUpdate) -> Result<ItemOutcome, ChannelError> {
        let currency = units::currency_of(&self.credentials.storefront);
        let result = match units::UnitPatch::of(update, currency) {
            Err(rejection) => Err(rejection),
            Ok((_, None)) => Ok(()),
            Ok((id_unit, Some(patch))) => {
                let url = self.url(&["units", &id_unit.to_string()], &[self.storefront_query()])?;
                let body = serde_json::to_vec(&patch)
                    .map_err(|e| ChannelError::protocol(format!("unit patch: {e}")))?;
                self.call(Method::PATCH, &url, Some(body))
                    .await?
                    .map(drop)
                    .map_err(errors::Problem::into_rejection)
            }
        };
        Ok(ItemOutcome {
            external_id: update.external_id.clone(),
            sku: update.sku.clone(),
            result,
        })
    }
}

/// Where a Kaufland read continues: the offset into the list.
fn offset_of(cursor: Option<&Cursor>) -> Result<u64, ChannelError> {
    cursor.map_or(Ok(0), |c| {
        c.0.parse()
            .map_err(|_| ChannelError::protocol("a Kaufland cursor is an offset"))
    })
}

#[async_trait]
impl Channel for Client {
    fn platform(&self) -> Platform {
        Platform::Kaufland
    }

    fn limits(&self) -> Limits {
        Limits {
            max_page_size: MAX_PAGE,
            max_batch: MAX_PAGE,
            requests_per_second: f64::from(REQUESTS_PER_SECOND),
            burst: REQUESTS_PER_SECOND,
        }
    }

    /// `GET /info/storefront` (the seller's storefronts): signed, so it proves the keys,
    /// unlike `/status/ping`, which Kaufland answers without checking them.
    async fn check_credentials(&self) -> Result<String, ChannelError> {
        let url = self.url(&["info", "storefront"], &[])?;
        #[derive(serde::Deserialize)]
        struct Storefronts {
            data: Vec<String>,
        }
        let storefronts: Storefronts = self.read(&url).await?;
        let storefront = &self.credentials.storefront;
        if !storefronts
            .data
            .iter()
            .any(|s| s.eq_ignore_ascii_case(storefront))
        {
            return Err(ChannelError::credentials(format!(
                "the seller has no storefront {storefront} (only {})",
                storefronts.data.join(", ")
            )));
        }
        let key: String = self.credentials.client_key.chars().take(8).collect();
        Ok(format!("Kaufland.{storefront} (client key {key}…)"))
    }

    async fn products_page(
        &self,
        cursor: Option<&Cursor>,
        page_size: usize,
    ) -> Result<Page<ChannelProduct>, ChannelError> {
        let offset = offset_of(cursor)?;
        let limit = page_size.clamp(1, MAX_PAGE);
        let url = self.url(
            &["units"],
            &[
                self.storefront_query(),
                ("limit", limit.to_string()),
                ("offset", offset.to_string()),
                ("embedded", "products".to_owned()),
            ],
        )?;
        let page: units::UnitsPage = self.read(&url).await?;
        let next = api::next_offset(offset, page.data.len(), page.pagination.as_ref());
        Ok(Page {
            items: page
                .data
                .into_iter()
                .map(units::Unit::into_product)
                .collect(),
            next,
        })
    }

    /// Orders whose units changed since `updated_since` (to the second), each read whole.
    async fn orders_page(
        &self,
        updated_since: DateTime<Utc>,
        cursor: Option<&Cursor>,
        page_size: usize,
    ) -> Result<Page<ChannelOrder>, ChannelError> {
        let offset = offset_of(cursor)?;
        let limit = page_size.clamp(1, MAX_PAGE);
        let url = self.url(
            &["orders"],
            &[
                self.storefront_query(),
                (
                    "ts_units_updated_from_iso",
                    updated_since.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                ),
                ("limit", limit.to_string()),
                ("offset", offset.to_string()),
            ],
        )?;
        let page: orders::OrdersPage = self.read(&url).await?;
        let next = api::next_offset(offset, page.data.len(), page.pagination.as_ref());
        // Futures made up front: a closure over borrowed items trips async_trait's lifetimes.
        let reads: Vec<_> = page.data.iter().map(|o| self.order(&o.id_order)).collect();
        let items = futures::stream::iter(reads)
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        Ok(Page { items, next })
    }

    /// One `PATCH /units/{id_unit}` per update; Kaufland's refusal of one is that item's
    /// rejection, a refusal of the credentials fails the whole push.
    async fn push(&self, updates: &[ListingUpdate]) -> Result<Vec<ItemOutcome>, ChannelError> {
        let patches: Vec<_> = updates.iter().map(|u| self.push_one(u)).collect();
        futures::stream::iter(patches)
            .buffered(CONCURRENCY)
            .try_collect()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_limiter_forgets_idle_client_keys() {
        let shared = Shared::default();
        for i in 0..=LIMITER_PRUNE_ABOVE {
            assert!(shared.limiter.check_key(&format!("key-{i}")).is_ok());
        }
        assert_eq!(shared.limiter.len(), LIMITER_PRUNE_ABOVE + 1);
        // Each key spent one of 111 a second: fresh again after ~9 ms.
        std::thread::sleep(std::time::Duration::from_millis(30));
        keep_bounded(&shared.limiter);
        assert!(shared.limiter.len() < 10, "{}", shared.limiter.len());
    }
}
