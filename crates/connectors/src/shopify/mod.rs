//! Shopify Admin GraphQL API, version 2025-01.

mod client;
pub mod oauth;
mod pacing;
mod push;
mod read;
mod webhooks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use sm_domain::Platform;

use crate::{
    Channel, ChannelError, ChannelOrder, ChannelProduct, Cursor, Hosts, ItemOutcome, Limits,
    ListingUpdate, Page, Transport,
};

/// The Admin API version every query is written for.
pub const API_VERSION: &str = "2025-01";

/// Points a page of products or orders actually costs, give or take; turns the bucket's
/// points into the requests per second [`Limits`] speaks of.
const TYPICAL_QUERY_COST: f64 = 50.0;

#[derive(Clone)]
pub struct Credentials {
    /// `your-shop.myshopify.com`; [`Client::new`] refuses anything else.
    pub shop_domain: String,
    pub access_token: SecretString,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("shop_domain", &self.shop_domain)
            .finish_non_exhaustive()
    }
}

/// State shared by all clients of the process: per shop and app installation the cost
/// bucket and the location stock is set at; per query what Shopify said it costs. Cheap
/// to clone.
#[derive(Debug, Default, Clone)]
pub struct Shared {
    shops: Arc<Mutex<HashMap<ShopKey, ShopState>>>,
    /// Shopify's `requestedQueryCost` per (operation, our estimate).
    costs: Arc<Mutex<HashMap<(&'static str, u32), f64>>>,
}

#[derive(Debug, Default)]
struct ShopState {
    bucket: pacing::Bucket,
    /// The location `push` sets stock at (the shop's first location), once read.
    location: Option<String>,
}

/// Whose cost bucket: Shopify keeps one per app installation, i.e. per (app, shop). Two
/// connections to the same shop with different tokens (another merchant's account, another
/// app) do not share one, so the token, hashed, is part of the key.
#[derive(Clone, PartialEq, Eq, Hash)]
struct ShopKey {
    shop: String,
    token_sha256: [u8; 32],
}

impl ShopKey {
    fn new(shop: &str, token: &SecretString) -> Self {
        ShopKey {
            shop: shop.to_owned(),
            token_sha256: Sha256::digest(token.expose_secret().as_bytes()).into(),
        }
    }
}

impl std::fmt::Debug for ShopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopKey")
            .field("shop", &self.shop)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn with_shop<R>(&self, key: &ShopKey, f: impl FnOnce(&mut ShopState) -> R) -> R {
        let mut shops = self.shops.lock().unwrap_or_else(PoisonError::into_inner);
        f(shops.entry(key.clone()).or_default())
    }

    fn requested_cost(&self, operation: &'static str, estimate: u32) -> Option<f64> {
        let costs = self.costs.lock().unwrap_or_else(PoisonError::into_inner);
        costs.get(&(operation, estimate)).copied()
    }

    fn learn_requested_cost(&self, operation: &'static str, estimate: u32, cost: f64) {
        let mut costs = self.costs.lock().unwrap_or_else(PoisonError::into_inner);
        costs.insert((operation, estimate), cost);
    }
}

/// A shop's Admin API; see [`Channel`] for what it does.
pub struct Client {
    gql: client::Gql,
}

impl Client {
    /// Fails with [`ChannelError::InvalidCredentials`] when the shop domain is not a
    /// `*.myshopify.com` name: the connector never calls any other host.
    pub fn new(
        transport: Transport,
        hosts: &Hosts,
        credentials: Credentials,
        shared: &Shared,
    ) -> Result<Self, ChannelError> {
        oauth::require_shop_domain(&credentials.shop_domain)?;
        Ok(Client {
            gql: client::Gql::new(
                transport,
                hosts,
                credentials.shop_domain,
                credentials.access_token,
                shared.clone(),
            ),
        })
    }

    /// Subscribes the shop's orders/create, products/update and app/uninstalled webhooks
    /// to `callback_url` (idempotent: existing subscriptions to it are kept).
    pub async fn register_webhooks(&self, callback_url: &str) -> Result<(), ChannelError> {
        webhooks::register(&self.gql, callback_url).await
    }
}

#[async_trait]
impl Channel for Client {
    fn platform(&self) -> Platform {
        Platform::Shopify
    }

    fn limits(&self) -> Limits {
        let (restore_rate, maximum) = self.gql.shared().with_shop(self.gql.key(), |s| {
            (s.bucket.restore_rate(), s.bucket.maximum())
        });
        Limits {
            max_page_size: read::MAX_PRODUCTS_PER_PAGE,
            max_batch: push::MAX_BATCH,
            // The bucket is in points; a typical page's actual cost makes it requests.
            requests_per_second: restore_rate / TYPICAL_QUERY_COST,
            burst: (maximum / TYPICAL_QUERY_COST).max(1.0) as u32,
        }
    }

    async fn check_credentials(&self) -> Result<String, ChannelError> {
        read::shop_name(&self.gql).await
    }

    async fn products_page(
        &self,
        cursor: Option<&Cursor>,
        page_size: usize,
    ) -> Result<Page<ChannelProduct>, ChannelError> {
        read::products_page(&self.gql, None, cursor, page_size).await
    }

    async fn products_changed_page(
        &self,
        since: DateTime<Utc>,
        cursor: Option<&Cursor>,
        page_size: usize,
    ) -> Result<Page<ChannelProduct>, ChannelError> {
        read::products_page(&self.gql, Some(since), cursor, page_size).await
    }

    async fn orders_page(
        &self,
        updated_since: DateTime<Utc>,
        cursor: Option<&Cursor>,
        page_size: usize,
    ) -> Result<Page<ChannelOrder>, ChannelError> {
        read::orders_page(&self.gql, updated_since, cursor, page_size).await
    }

    async fn push(&self, updates: &[ListingUpdate]) -> Result<Vec<ItemOutcome>, ChannelError> {
        push::push(&self.gql, updates).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn each_token_of_a_shop_has_its_own_bucket() {
        let shared = Shared::default();
        let shop = "mein-laden.myshopify.com";
        let one = ShopKey::new(shop, &SecretString::from("shpat_one"));
        let two = ShopKey::new(shop, &SecretString::from("shpat_two"));
        let now = Instant::now();
        assert_eq!(
            shared.with_shop(&one, |s| s.bucket.take(1_000.0, now)),
            Ok(())
        );
        assert!(shared.with_shop(&one, |s| s.bucket.take(1.0, now)).is_err());
        assert_eq!(
            shared.with_shop(&two, |s| s.bucket.take(1_000.0, now)),
            Ok(()),
            "another installation's bucket is untouched"
        );
        assert!(!format!("{one:?}").contains("shpat"));
    }
}
