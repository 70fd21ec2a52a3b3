//! Amazon Selling Partner API (Orders v0, Listings Items 2021-08-01).
//!
//! Every call carries a Login with Amazon access token (`x-amz-access-token`; SigV4 is no
//! longer required) and waits for its (seller, operation) token bucket first.

mod errors;
mod limits;
mod listings;
mod lwa;
mod money;
mod orders;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use sm_domain::Platform;
use url::Url;

use crate::{
    Channel, ChannelError, ChannelOrder, ChannelProduct, Cursor, Hosts, ItemOutcome, Limits,
    ListingUpdate, Page, Transport,
};
use errors::{Failure, Refusal};
use limits::Operation;

/// Amazon.de, the marketplace of a connection that names none.
pub const GERMANY: &str = "A1PA6795UKMFR9";

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
pub struct Shared {
    inner: Arc<SharedInner>,
}

#[derive(Debug, Default)]
struct SharedInner {
    tokens: lwa::Tokens,
    buckets: limits::Buckets,
}

/// The SP-API regions; the host is built from the region, so nothing else may pass.
const REGIONS: [&str; 3] = ["eu", "na", "fe"];

pub struct Client {
    transport: Transport,
    /// The SP-API base of the credentials' region; `None` for a region Amazon does not have.
    api: Option<String>,
    token_url: String,
    credentials: Credentials,
    shared: Arc<SharedInner>,
}

impl Client {
    pub fn new(
        transport: Transport,
        hosts: &Hosts,
        mut credentials: Credentials,
        shared: &Shared,
    ) -> Self {
        if credentials.marketplace_id.trim().is_empty() {
            credentials.marketplace_id = GERMANY.to_owned();
        }
        if credentials.region.trim().is_empty() {
            credentials.region = "eu".to_owned();
        }
        Client {
            transport,
            api: REGIONS
                .contains(&credentials.region.as_str())
                .then(|| hosts.amazon_api(&credentials.region)),
            token_url: hosts.amazon_token(),
            credentials,
            shared: shared.inner.clone(),
        }
    }

    fn marketplace(&self) -> &str {
        &self.credentials.marketplace_id
    }

    /// `{api}/{segments…}?{query}`, each segment percent-encoded (SKUs may hold `/`).
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, ChannelError> {
        let api = self.api.as_deref().ok_or_else(|| {
            ChannelError::credentials(format!(
                "{:?} is not an Amazon region (eu, na or fe)",
                self.credentials.region
            ))
        })?;
        let mut url = Url::parse(api)
            .map_err(|_| ChannelError::protocol("the Amazon API base is not a URL"))?;
        url.path_segments_mut()
            .map_err(|_| ChannelError::protocol("the Amazon API base is not a URL"))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Sends one SP-API request after its bucket allows it and reads the answer as `T`.
    /// `Err` fails the whole call; `Ok(Err)` is Amazon refusing this one request.
    async fn call<T: DeserializeOwned>(
        &self,
        operation: Operation,
        request: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Result<T, Refusal>, ChannelError> {
        let seller = &self.credentials.seller_id;
        // A refused token is retried once with a fresh one (it may have been revoked early).
        for fresh_token in [false, true] {
            let token = self
                .shared
                .tokens
                .get(&self.transport, &self.token_url, &self.credentials)
                .await?;
            self.shared.buckets.acquire(seller, operation).await;
            let response = self
                .transport
                .send(|client| request(client).header("x-amz-access-token", token.clone()))
                .await?;
            let status = response.status();
            if let Some(granted) = limits::granted_rate(response.headers()) {
                self.shared.buckets.learn(seller, operation, granted);
            }
            let body = response
                .bytes()
                .await
                .map_err(|_| ChannelError::unavailable("Amazon broke off its answer"))?;
            if status.is_success() {
                return serde_json::from_slice(&body).map(Ok).map_err(|e| {
                    ChannelError::protocol(format!("Amazon's answer cannot be read: {e}"))
                });
            }
            match errors::classify(status, &body, operation) {
                Failure::TokenRefused if !fresh_token => {
                    self.shared.tokens.forget(&self.credentials, &token).await;
                }
                Failure::TokenRefused => break,
                Failure::Refused(refusal) => return Ok(Err(refusal)),
                Failure::Error(error) => return Err(error),
            }
        }
        Err(ChannelError::credentials(
            "Amazon refused the access token Login with Amazon issued",
        ))
    }
}

#[async_trait]
impl Channel for Client {
    fn platform(&self) -> Platform {
        Platform::Amazon
    }

    /// Listings reads and writes: 5 requests per second, burst 5, 20 items per search page.
    /// Orders go slower (getOrders 1 a minute, getOrderItems one every two seconds); the
    /// client paces every operation itself.
    fn limits(&self) -> Limits {
        let (requests_per_second, burst) = Operation::SearchListingsItems.plan();
        Limits {
            max_page_size: listings::MAX_PAGE_SIZE,
            max_batch: 20,
            requests_per_second,
            burst,
        }
    }

    /// Exchanges the refresh token, then reads one listing of the seller: that needs the
    /// Product Listing role and fails for a seller id the token does not belong to.
    async fn check_credentials(&self) -> Result<String, ChannelError> {
        self.search_listings(None, 1).await?;
        Ok(format!(
            "{} ({})",
            self.credentials.seller_id,
            money::storefront(self.marketplace())
        ))
    }

    async fn products_page(
        &self,
        cursor: Option<&Cursor>,
        page_size: usize,
    ) -> Result<Page<ChannelProduct>, ChannelError> {
        self.search_listings(cursor, page_size).await
    }

    async fn orders_page(
        &self,
        updated_since: DateTime<Utc>,
        cursor: Option<&Cursor>,
        page_size: usize,
    ) -> Result<Page<ChannelOrder>, ChannelError> {
        self.read_orders(updated_since, cursor, page_size).await
    }

    async fn push(&self, updates: &[ListingUpdate]) -> Result<Vec<ItemOutcome>, ChannelError> {
        self.patch_listings(updates).await
    }
}
