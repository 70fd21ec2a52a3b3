//! Orders v0: `getOrders` pages by `NextToken`, then `getOrderItems` for each order.

use chrono::{DateTime, SecondsFormat, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;

use super::limits::Operation;
use super::{marketplaces, Client};
use crate::{ChannelError, ChannelOrder, Cursor, OrderLine, OrderStatus, Page};

/// `MaxResultsPerPage` is 1–100.
const MAX_ORDERS_PER_PAGE: usize = 100;

/// Orders whose items are read at once; the getOrderItems bucket paces them.
const ITEM_READS_AT_ONCE: usize = 4;

/// Most item pages of one order read before giving up: an order has at most a few hundred
/// items, so more means the vendor is looping.
const MAX_ITEM_PAGES: usize = 100;

/// The NextTokens of one order's item pages: each must be new, and only so many.
#[derive(Default)]
struct InnerPages {
    seen: std::collections::HashSet<String>,
}

impl InnerPages {
    /// Accepts the token of the next page, or says why paging stops as a protocol error.
    fn advance(&mut self, token: &str) -> Result<(), ChannelError> {
        if self.seen.len() + 1 >= MAX_ITEM_PAGES {
            return Err(ChannelError::protocol(format!(
                "Amazon sent more than {MAX_ITEM_PAGES} pages of one order's items"
            )));
        }
        if !self.seen.insert(token.to_owned()) {
            return Err(ChannelError::protocol(
                "Amazon repeated a NextToken of an order's items",
            ));
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct Answer<T> {
    payload: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OrdersList {
    orders: Vec<Order>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Order {
    amazon_order_id: String,
    purchase_date: String,
    last_update_date: String,
    order_status: String,
    order_total: Option<Amount>,
    buyer_info: Option<BuyerInfo>,
    shipping_address: Option<Address>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Amount {
    currency_code: Option<String>,
    amount: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BuyerInfo {
    buyer_email: Option<String>,
    buyer_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Address {
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OrderItemsList {
    order_items: Vec<OrderItem>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OrderItem {
    #[serde(rename = "ASIN")]
    asin: String,
    #[serde(rename = "SellerSKU")]
    seller_sku: Option<String>,
    order_item_id: String,
    title: Option<String>,
    quantity_ordered: i64,
    item_price: Option<Amount>,
}

/// Amazon's order status in the cockpit's terms. Unshipped (paid, not yet sent) counts as
/// paid; a partly shipped order too, until all of it is shipped.
fn status(amazon: &str) -> OrderStatus {
    match amazon {
        "Pending" | "PendingAvailability" => OrderStatus::Pending,
        "Unshipped" | "PartiallyShipped" => OrderStatus::Paid,
        // InvoiceUnconfirmed: every item shipped, the invoice not yet confirmed.
        "Shipped" | "InvoiceUnconfirmed" => OrderStatus::Shipped,
        "Canceled" | "Unfulfillable" => OrderStatus::Cancelled,
        other => {
            tracing::warn!(
                status = other,
                "unknown Amazon order status read as pending"
            );
            OrderStatus::Pending
        }
    }
}

fn date(value: &str, field: &str) -> Result<DateTime<Utc>, ChannelError> {
    DateTime::parse_from_rfc3339(value)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| ChannelError::protocol(format!("Amazon sent {field} {value:?}")))
}

/// (cents, currency) of an Amazon Money, `None` when it carries no amount.
fn amount(money: Option<&Amount>) -> Result<Option<(i64, Option<String>)>, ChannelError> {
    let Some(Amount {
        amount: Some(value),
        currency_code,
    }) = money
    else {
        return Ok(None);
    };
    let cents = crate::money::cents(value)
        .ok_or_else(|| ChannelError::protocol(format!("Amazon sent the amount {value:?}")))?;
    Ok(Some((cents, currency_code.clone())))
}

impl Client {
    pub(super) async fn read_orders(
        &self,
        updated_since: DateTime<Utc>,
        cursor: Option<&Cursor>,
        page_size: usize,
    ) -> Result<Page<ChannelOrder>, ChannelError> {
        let per_page = page_size.clamp(1, MAX_ORDERS_PER_PAGE).to_string();
        let since = updated_since.to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut query = vec![
            ("MarketplaceIds", self.marketplace()),
            ("MaxResultsPerPage", per_page.as_str()),
        ];
        // A NextToken carries the original filter; Amazon wants it without the dates.
        match cursor {
            Some(Cursor(token)) => query.push(("NextToken", token.as_str())),
            None => query.push(("LastUpdatedAfter", since.as_str())),
        }
        let url = self.url(&["orders", "v0", "orders"], &query)?;
        let list: Answer<OrdersList> = self
            .call(Operation::GetOrders, |c| c.get(url.clone()))
            .await?
            .map_err(|refusal| refusal.into_error())?;
        let items = futures::stream::iter(list.payload.orders)
            .map(|order| self.order(order))
            .buffered(ITEM_READS_AT_ONCE)
            .try_collect()
            .await?;
        Ok(Page {
            items,
            next: super::next_page(list.payload.next_token, cursor)?,
        })
    }

    async fn order(&self, order: Order) -> Result<ChannelOrder, ChannelError> {
        let lines = self.order_lines(&order.amazon_order_id).await?;
        // Pending orders come without a total: the lines' prices make it up.
        let (total_cents, currency) = match amount(order.order_total.as_ref())? {
            Some(total) => total,
            None => (lines.iter().map(|(line, _)| line.total_cents).sum(), None),
        };
        let currency = currency
            .or_else(|| lines.iter().find_map(|(_, currency)| currency.clone()))
            .or_else(|| marketplaces::currency(self.marketplace()).map(str::to_owned))
            .unwrap_or_default();
        let buyer = order.buyer_info.as_ref();
        Ok(ChannelOrder {
            order_number: order.amazon_order_id.clone(),
            status: status(&order.order_status),
            currency,
            total_cents,
            customer_name: buyer
                .and_then(|b| b.buyer_name.clone())
                .or_else(|| order.shipping_address.and_then(|a| a.name))
                .unwrap_or_default(),
            customer_email: buyer
                .and_then(|b| b.buyer_email.clone())
                .unwrap_or_default(),
            placed_at: date(&order.purchase_date, "PurchaseDate")?,
            updated_at: date(&order.last_update_date, "LastUpdateDate")?,
            lines: lines.into_iter().map(|(line, _)| line).collect(),
            external_id: order.amazon_order_id,
        })
    }

    /// Every item of an order, following the items' own NextToken.
    async fn order_lines(
        &self,
        order_id: &str,
    ) -> Result<Vec<(OrderLine, Option<String>)>, ChannelError> {
        let mut lines = Vec::new();
        let mut pages = InnerPages::default();
        let mut next: Option<String> = None;
        loop {
            let query: Vec<(&str, &str)> = next.iter().map(|t| ("NextToken", t.as_str())).collect();
            let url = self.url(&["orders", "v0", "orders", order_id, "orderItems"], &query)?;
            let page: Answer<OrderItemsList> = self
                .call(Operation::GetOrderItems, |c| c.get(url.clone()))
                .await?
                .map_err(|refusal| refusal.into_error())?;
            for item in page.payload.order_items {
                lines.push(line(item)?);
            }
            match page.payload.next_token.filter(|t| !t.is_empty()) {
                Some(token) => {
                    pages.advance(&token)?;
                    next = Some(token);
                }
                None => return Ok(lines),
            }
        }
    }
}

/// ItemPrice is the price of the whole line (unit price × quantity).
fn line(item: OrderItem) -> Result<(OrderLine, Option<String>), ChannelError> {
    let quantity = i32::try_from(item.quantity_ordered)
        .map_err(|_| ChannelError::protocol("Amazon sent an impossible QuantityOrdered"))?;
    let (total_cents, currency) = amount(item.item_price.as_ref())?.unwrap_or((0, None));
    let unit_price_cents = if quantity > 0 {
        total_cents / i64::from(quantity)
    } else {
        total_cents
    };
    Ok((
        OrderLine {
            external_id: Some(item.order_item_id),
            sku: item.seller_sku.unwrap_or_else(|| item.asin.clone()),
            title: item.title.unwrap_or(item.asin),
            quantity,
            unit_price_cents,
            total_cents,
        },
        currency,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_cockpits() {
        assert_eq!(status("Pending"), OrderStatus::Pending);
        assert_eq!(status("Unshipped"), OrderStatus::Paid);
        assert_eq!(status("PartiallyShipped"), OrderStatus::Paid);
        assert_eq!(status("Shipped"), OrderStatus::Shipped);
        assert_eq!(status("Canceled"), OrderStatus::Cancelled);
        assert_eq!(status("Unfulfillable"), OrderStatus::Cancelled);
    }

    #[test]
    fn item_paging_stops_on_a_repeated_token_or_after_the_cap() {
        let mut pages = InnerPages::default();
        pages.advance("a").unwrap();
        pages.advance("b").unwrap();
        assert!(matches!(
            pages.advance("a"),
            Err(ChannelError::Protocol { .. })
        ));
        let mut pages = InnerPages::default();
        let fresh = (0..)
            .map(|i| pages.advance(&i.to_string()))
            .position(|r| r.is_err());
        // The first page came without a token, so the cap counts it too.
        assert_eq!(fresh, Some(MAX_ITEM_PAGES - 1));
    }

    #[test]
    fn a_line_price_is_split_per_unit() {
        let item: OrderItem = serde_json::from_str(
            r#"{"ASIN":"B0TEST0001","SellerSKU":"SM-1","OrderItemId":"1","Title":"T",
                "QuantityOrdered":3,"ItemPrice":{"CurrencyCode":"EUR","Amount":"59.97"}}"#,
        )
        .unwrap();
        let (line, currency) = line(item).unwrap();
        assert_eq!((line.unit_price_cents, line.total_cents), (1999, 5997));
        assert_eq!(currency.as_deref(), Some("EUR"));
    }
}
