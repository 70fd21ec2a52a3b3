//! Kaufland Seller API v2, signed requests.

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
    pub client_key: String,
    pub secret_key: SecretString,
    /// `de` unless the merchant chose another (at, cz, sk, pl, fr, it).
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
        Platform::Kaufland
    }

    fn limits(&self) -> Limits {
        unimplemented!("built by the Kaufland module")
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
