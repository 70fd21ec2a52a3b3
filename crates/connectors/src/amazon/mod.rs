//! Amazon Selling Partner API (Orders v0, Listings Items 2021-08-01, FBA Inventory v1).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use sm_domain::Platform;

use crate::{
    Channel, ChannelError, ChannelOrder, ChannelProduct, Cursor, Hosts, ItemOutcome, Limits,
    ListingUpdate, Page, Transport,
};

#[derive(Clone)]
pub struct Credentials {
    pub seller_id: String,
    pub refresh_token: SecretString,
    pub client_id: String,
    pub client_secret: SecretString,
    /// `eu`, `na` or `fe`.
    pub region: String,
    /// `A1PA6795UKMFR9` (Germany) unless the merchant chose another.
    pub marketplace_id: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("seller_id", &self.seller_id)
            .field("region", &self.region)
            .field("marketplace_id", &self.marketplace_id)
            .finish_non_exhaustive()
    }
}

/// State shared by all clients of the process (LWA tokens, rate buckets per seller and operation).
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
        Platform::Amazon
    }

    fn limits(&self) -> Limits {
        unimplemented!("built by the Amazon module")
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
