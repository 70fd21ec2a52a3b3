//! Shopify Admin GraphQL API, version 2025-01.

pub mod oauth;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use sm_domain::Platform;

use crate::{
    Channel, ChannelError, ChannelOrder, ChannelProduct, Cursor, Hosts, ItemOutcome, Limits,
    ListingUpdate, Page, Transport,
};

/// The Admin API version every query is written for.
pub const API_VERSION: &str = "2025-01";

#[derive(Clone)]
pub struct Credentials {
    /// `your-shop.myshopify.com`, checked by the caller.
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

/// State shared by all clients of the process (cost buckets per shop).
#[derive(Debug, Default)]
pub struct Shared {}

pub struct Client {}

impl Client {
    pub fn new(
        _transport: Transport,
        _hosts: &Hosts,
        _credentials: Credentials,
        _shared: &Shared,
    ) -> Self {
        Client {}
    }
}

#[async_trait]
impl Channel for Client {
    fn platform(&self) -> Platform {
        Platform::Shopify
    }

    fn limits(&self) -> Limits {
        unimplemented!("built by the Shopify module")
    }

    async fn check_credentials(&self) -> Result<String, ChannelError> {
        unimplemented!()
    }

    async fn products_page(
        &self,
        _cursor: Option<&Cursor>,
        _page_size: usize,
    ) -> Result<Page<ChannelProduct>, ChannelError> {
        unimplemented!()
    }

    async fn orders_page(
        &self,
        _updated_since: DateTime<Utc>,
        _cursor: Option<&Cursor>,
        _page_size: usize,
    ) -> Result<Page<ChannelOrder>, ChannelError> {
        unimplemented!()
    }

    async fn push(&self, _updates: &[ListingUpdate]) -> Result<Vec<ItemOutcome>, ChannelError> {
        unimplemented!()
    }
}
