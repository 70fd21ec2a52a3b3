//! What the sync engine needs from any shop channel, in the cockpit's own terms.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::Stream;
use serde::{Deserialize, Serialize};
use sm_domain::Platform;

use crate::ChannelError;

/// Where to continue reading: opaque, channel-specific, safe to store and resume from
/// (Shopify's `endCursor`, Amazon's `NextToken`, Kaufland's offset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(pub String);

/// One page of a read. `next` is `None` on the last page.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

/// Integer minor units plus an ISO 4217 code; never a float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub cents: i64,
    pub currency: String,
}

/// A sellable unit as the channel lists it (a Shopify variant, an Amazon listing, a
/// Kaufland unit).
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelProduct {
    /// The channel's id of the sellable unit; what a [`ListingUpdate`] names.
    pub external_id: String,
    /// The channel's id of the product the unit belongs to, where it has one (Shopify).
    pub parent_id: Option<String>,
    /// The channel's id of the stock record, where it differs (Shopify's inventory item).
    pub inventory_id: Option<String>,
    pub sku: String,
    pub title: String,
    /// As the channel gives it (HTML on Shopify).
    pub description: String,
    pub ean: Option<String>,
    pub price: Option<Money>,
    pub quantity: Option<i64>,
    pub images: Vec<String>,
    /// Listed and buyable (Shopify ACTIVE, Amazon BUYABLE, Kaufland AVAILABLE).
    pub active: bool,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The cockpit's order statuses (the api's `orders.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Pending,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
    Refunded,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderLine {
    pub external_id: Option<String>,
    pub sku: String,
    pub title: String,
    pub quantity: i32,
    pub unit_price_cents: i64,
    pub total_cents: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChannelOrder {
    pub external_id: String,
    /// What the merchant and the buyer call it ("#1001", "302-1234567-1234567").
    pub order_number: String,
    pub status: OrderStatus,
    pub currency: String,
    pub total_cents: i64,
    pub customer_name: String,
    pub customer_email: String,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub lines: Vec<OrderLine>,
}

/// A price and/or stock change for one sellable unit, as read from the channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ListingUpdate {
    pub external_id: String,
    pub parent_id: Option<String>,
    pub inventory_id: Option<String>,
    pub sku: String,
    pub price: Option<Money>,
    pub quantity: Option<i64>,
    /// With `quantity`: what the channel had at our last sync. A channel that can check it
    /// (Shopify's `compareQuantity`) sets `quantity` only if it still has this, and else
    /// rejects the item with [`STOCK_CHANGED_AT_CHANNEL`]: a sale there since is not
    /// overwritten. `None`: set it whatever the channel has.
    pub expected_quantity: Option<i64>,
}

/// The rejection code of a stock update the channel refused because its stock changed
/// since our last sync (a sale there): pull first, then push again.
pub const STOCK_CHANGED_AT_CHANNEL: &str = "stock_changed_at_channel";

/// Why the channel refused one item of a batch, in its own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// The channel's code where it gives one, else `rejected`.
    pub code: String,
    pub message: String,
}

/// What became of one item of a pushed batch.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemOutcome {
    pub external_id: String,
    pub sku: String,
    pub result: Result<(), Rejection>,
}

/// What a channel allows; the sync engine sizes its work by it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Most items one read page can hold.
    pub max_page_size: usize,
    /// Most updates one `push` call takes.
    pub max_batch: usize,
    /// Sustained requests per second the channel grants this account.
    pub requests_per_second: f64,
    /// Requests that may go at once after a pause.
    pub burst: u32,
}

/// A shop channel. Reads come in pages with a resumable [`Cursor`]; writes go in batches
/// with a result per item. Transient failures (429, 5xx, timeouts) are retried inside;
/// what comes out is a [`ChannelError`] the merchant can act on.
#[async_trait]
pub trait Channel: Send + Sync {
    fn platform(&self) -> Platform;

    fn limits(&self) -> Limits;

    /// Checks the credentials with one cheap call; `Ok` carries the account's name as the
    /// channel shows it.
    async fn check_credentials(&self) -> Result<String, ChannelError>;

    /// A page of the catalogue, from the start (`None`) or from a cursor.
    async fn products_page(
        &self,
        cursor: Option<&Cursor>,
        page_size: usize,
    ) -> Result<Page<ChannelProduct>, ChannelError>;

    /// A page of the catalogue's units changed since `since` (an incremental pull): at least
    /// every unit changed since then. A channel that cannot filter its catalogue by change
    /// time reads all of it (this default); the cursor is then that of [`Self::products_page`].
    async fn products_changed_page(
        &self,
        since: DateTime<Utc>,
        cursor: Option<&Cursor>,
        page_size: usize,
    ) -> Result<Page<ChannelProduct>, ChannelError> {
        let _ = since;
        self.products_page(cursor, page_size).await
    }

    /// A page of the orders changed since `updated_since`, oldest change first.
    async fn orders_page(
        &self,
        updated_since: DateTime<Utc>,
        cursor: Option<&Cursor>,
        page_size: usize,
    ) -> Result<Page<ChannelOrder>, ChannelError>;

    /// Pushes price and stock changes; at most `limits().max_batch` per call.
    async fn push(&self, updates: &[ListingUpdate]) -> Result<Vec<ItemOutcome>, ChannelError>;
}

/// Every page of the catalogue from `from` on, each with the cursor that follows it.
pub fn products<'a, C: Channel + ?Sized>(
    channel: &'a C,
    from: Option<Cursor>,
    page_size: usize,
) -> impl Stream<Item = Result<Page<ChannelProduct>, ChannelError>> + Send + 'a {
    pages(from, move |cursor| async move {
        channel.products_page(cursor.as_ref(), page_size).await
    })
}

/// Every page of orders changed since `updated_since`, from `from` on.
pub fn orders<'a, C: Channel + ?Sized>(
    channel: &'a C,
    updated_since: DateTime<Utc>,
    from: Option<Cursor>,
    page_size: usize,
) -> impl Stream<Item = Result<Page<ChannelOrder>, ChannelError>> + Send + 'a {
    pages(from, move |cursor| async move {
        channel
            .orders_page(updated_since, cursor.as_ref(), page_size)
            .await
    })
}

fn pages<'a, T: Send + 'a, F, Fut>(
    from: Option<Cursor>,
    fetch: F,
) -> impl Stream<Item = Result<Page<T>, ChannelError>> + Send + 'a
where
    F: Fn(Option<Cursor>) -> Fut + Send + 'a,
    Fut: std::future::Future<Output = Result<Page<T>, ChannelError>> + Send + 'a,
{
    // State: the cursor to read next, or `None` once the last page was read.
    futures::stream::try_unfold(Some(from), move |state| {
        let next = state.map(&fetch);
        async move {
            let Some(fetching) = next else {
                return Ok(None);
            };
            let page = fetching.await?;
            let after = page.next.clone().map(Some);
            Ok(Some((page, after)))
        }
    })
}
