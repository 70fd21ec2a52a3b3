//! Amazon Selling Partner API (Orders v0, Listings Items 2021-08-01, FBA Inventory v1).
//!
//! Every call carries a Login with Amazon access token (`x-amz-access-token`; SigV4 is no
//! longer required) and waits for its (app, seller, operation) token bucket first.
//!
//! FBA stock is read by [`Client::fba_inventory_page`], not folded into `products_page`:
//! a listing's `fulfillmentAvailability` already names the seller's own stock, and
//! merging Amazon's warehouse counts into one quantity would let a push of that quantity
//! overwrite the seller's own (`DEFAULT`) stock with Amazon's.

mod errors;
mod inventory;
mod limits;
mod listings;
mod lwa;
mod marketplaces;
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
pub use marketplaces::{marketplace_region, GERMANY, REGIONS};

#[derive(Clone)]
pub struct Credentials {
    pub seller_id: String,
    pub refresh_token: SecretString,
    pub client_id: String,
    pub client_secret: SecretString,
    /// `eu`, `na` or `fe`.
    pub region: String,
    /// A marketplace of `region`, e.g. [`GERMANY`].
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

/// State shared by all clients of the process (LWA tokens, rate buckets per app, seller
/// and operation).
#[derive(Debug, Default)]
pub struct Shared {
    inner: Arc<SharedInner>,
}

#[derive(Debug, Default)]
struct SharedInner {
    tokens: lwa::Tokens,
    buckets: limits::Buckets,
}

pub struct Client {
    transport: Transport,
    /// The SP-API base of the credentials' region; `None` for a region Amazon does not have
    /// or a marketplace outside it (the host is built from the region, so nothing else
    /// may pass).
    api: Option<String>,
    token_url: String,
    credentials: Credentials,
    shared: Arc<SharedInner>,
}

impl Client {
    /// The credentials are used as given: a region Amazon does not have, or a marketplace
    /// not in it, fails every call as invalid credentials before any request.
    pub fn new(
        transport: Transport,
        hosts: &Hosts,
        credentials: Credentials,
        shared: &Shared,
    ) -> Self {
        let region = credentials.region.as_str();
        let served = REGIONS.contains(&region)
            && marketplace_region(&credentials.marketplace_id) == Some(region);
        Client {
            transport,
            api: served.then(|| hosts.amazon_api(region)),
            token_url: hosts.amazon_token(),
            credentials,
            shared: shared.inner.clone(),
        }
    }

    fn marketplace(&self) -> &str {
        &self.credentials.marketplace_id
    }

    /// `{api}/{segments…}?{query}`, each segment percent-encoded (SKUs may hold `/`). A
    /// segment the URL would drop or merge (`.`, `..`, empty) is refused: such an id can
    /// only have come from the network here (pushed SKUs are checked before).
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, ChannelError> {
        let api = self.api.as_deref().ok_or_else(|| {
            ChannelError::credentials(format!(
                "{:?} is not an Amazon region (eu, na or fe) serving the marketplace {:?}",
                self.credentials.region, self.credentials.marketplace_id
            ))
        })?;
        if let Some(bad) = segments
            .iter()
            .find(|s| !crate::transport::is_path_segment(s))
        {
            return Err(ChannelError::protocol(format!(
                "{:?} cannot be part of an Amazon URL",
                crate::error::clip(bad)
            )));
        }
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
        match self.answer(operation, request).await? {
            Answer::Read(value) => Ok(Ok(value)),
            Answer::Refused(refusal) => Ok(Err(refusal)),
            Answer::Denied(_) => Err(ChannelError::MissingScope {
                scope: operation.role().to_owned(),
            }),
        }
    }

    /// [`Client::call`] with a 403 (no role, or a seller the app may not act for) kept
    /// apart, for the credentials check to word.
    async fn answer<T: DeserializeOwned>(
        &self,
        operation: Operation,
        request: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answer<T>, ChannelError> {
        let bucket = limits::Key {
            client_id: self.credentials.client_id.clone(),
            seller_id: self.credentials.seller_id.clone(),
            operation,
        };
        // A refused token is retried once with a fresh one (it may have been revoked early).
        for fresh_token in [false, true] {
            let token = self
                .shared
                .tokens
                .get(&self.transport, &self.token_url, &self.credentials)
                .await?;
            self.shared.buckets.acquire(&bucket).await;
            let response = self
                .transport
                .send(|client| request(client).header("x-amz-access-token", token.clone()))
                .await?;
            let status = response.status();
            if let Some(granted) = limits::granted_rate(response.headers()) {
                self.shared.buckets.learn(&bucket, granted);
            }
            let body = crate::read_body(response).await?;
            if status.is_success() {
                return serde_json::from_slice(&body)
                    .map(Answer::Read)
                    .map_err(|e| unexpected_shape(&e));
            }
            match errors::classify(status, &body) {
                Failure::TokenRefused if !fresh_token => {
                    self.shared.tokens.forget(&self.credentials, &token).await;
                }
                Failure::TokenRefused => break,
                Failure::Denied(refusal) => return Ok(Answer::Denied(refusal)),
                Failure::Refused(refusal) => return Ok(Answer::Refused(refusal)),
                Failure::Error(error) => return Err(error),
            }
        }
        Err(ChannelError::credentials(
            "Amazon refused the access token Login with Amazon issued",
        ))
    }
}

/// An SP-API answer that is not an error of the whole call.
enum Answer<T> {
    Read(T),
    /// 4xx other than 403: this request was refused.
    Refused(Refusal),
    /// 403 with a valid token: the app lacks the role, or may not act for the seller.
    Denied(Refusal),
}

/// The `pagination` object of Listings and FBA inventory answers.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pagination {
    next_token: Option<String>,
}

/// The cursor of the page after the one read at `current`: none for a missing or empty
/// token, and a protocol error for the token just used, which would page forever.
fn next_page(
    token: Option<String>,
    current: Option<&Cursor>,
) -> Result<Option<Cursor>, ChannelError> {
    match token.filter(|t| !t.is_empty()) {
        Some(token) if current.is_some_and(|c| c.0 == token) => Err(ChannelError::protocol(
            "Amazon sent the same page token again",
        )),
        token => Ok(token.map(Cursor)),
    }
}

/// A success answer this client cannot read, said without serde's quotation of the
/// offending value (vendor data that may be long or personal).
fn unexpected_shape(e: &serde_json::Error) -> ChannelError {
    ChannelError::protocol(format!(
        "Amazon's answer has an unexpected shape (line {}, column {})",
        e.line(),
        e.column()
    ))
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
    /// Product Listing role and fails for a seller id the token does not belong to. Amazon's
    /// refusals here (400, 403, 404: a wrong seller id, a marketplace the seller does not
    /// sell in, a missing role) are all the merchant's to fix, so they read as invalid
    /// credentials with Amazon's words.
    async fn check_credentials(&self) -> Result<String, ChannelError> {
        let url = self.search_url(None, None, 1)?;
        let refusal = match self
            .answer::<serde_json::Value>(Operation::SearchListingsItems, |c| c.get(url.clone()))
            .await?
        {
            Answer::Read(_) => {
                return Ok(format!(
                    "{} ({})",
                    self.credentials.seller_id,
                    marketplaces::storefront(self.marketplace())
                ))
            }
            Answer::Refused(refusal) | Answer::Denied(refusal) => refusal,
        };
        Err(match refusal.status.as_u16() {
            400 | 403 | 404 => ChannelError::credentials(format!(
                "Amazon refused seller {} on marketplace {} ({}); check the seller id, \
                 the marketplace and that the app has the {}: {} ({})",
                self.credentials.seller_id,
                self.marketplace(),
                self.credentials.region,
                Operation::SearchListingsItems.role(),
                refusal.message,
                refusal.code
            )),
            _ => refusal.into_error(),
        })
    }

    async fn products_page(
        &self,
        cursor: Option<&Cursor>,
        page_size: usize,
    ) -> Result<Page<ChannelProduct>, ChannelError> {
        self.search_listings(None, cursor, page_size).await
    }

    /// searchListingsItems filters by `lastUpdatedAfter` (whole seconds, rounded down:
    /// the instant itself is included).
    async fn products_changed_page(
        &self,
        since: DateTime<Utc>,
        cursor: Option<&Cursor>,
        page_size: usize,
    ) -> Result<Page<ChannelProduct>, ChannelError> {
        self.search_listings(Some(since), cursor, page_size).await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_token_that_does_not_advance_is_a_protocol_error() {
        let current = Cursor("t1".into());
        assert_eq!(next_page(None, Some(&current)), Ok(None));
        assert_eq!(next_page(Some(String::new()), Some(&current)), Ok(None));
        assert_eq!(
            next_page(Some("t2".into()), Some(&current)),
            Ok(Some(Cursor("t2".into())))
        );
        assert_eq!(
            next_page(Some("t1".into()), None),
            Ok(Some(current.clone()))
        );
        assert!(matches!(
            next_page(Some("t1".into()), Some(&current)),
            Err(ChannelError::Protocol { .. })
        ));
    }
}
