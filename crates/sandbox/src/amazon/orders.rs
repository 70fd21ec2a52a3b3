//! Orders v0: getOrders, getOrder, getOrderItems over the seller's order book (seeded, then
//! placed).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::Extension;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::auth::Seller;
use super::params::Params;
use super::throttle::{Buckets, Call, Operation};
use super::{amount, asin, date, decode_token, digest, encode_token, CURRENCY, MARKETPLACE};
use crate::catalogue::{SeedOrder, SeedOrderStatus};
use crate::faults::Vendor;
use crate::shops::Shop;
use crate::Sandbox;

/// Order items per getOrderItems page: small, so clients meet the items' NextToken.
const ITEMS_PER_PAGE: usize = 2;

/// What a getOrders NextToken remembers: the filter and where the next page starts.
#[derive(Serialize, Deserialize)]
struct OrdersToken {
    by_update: bool,
    after: DateTime<Utc>,
    before: Option<DateTime<Utc>>,
    statuses: Vec<String>,
    next: usize,
}

pub(super) async fn get_orders(
    State(sandbox): State<Sandbox>,
    Extension(buckets): Extension<Arc<Buckets>>,
    seller: Seller,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let call = buckets.admit(&sandbox, &seller.0, Operation::GetOrders)?;
    let params = Params::parse(query.as_deref());
    params
        .marketplaces("MarketplaceIds", 50)
        .map_err(|m| call.invalid(&m))?;
    let per_page = params
        .number("MaxResultsPerPage", 1..=100, 100)
        .map_err(|m| call.invalid(&m))?;
    let filter = match params.get("NextToken") {
        Some(token) => {
            decode_token::<OrdersToken>(token).ok_or_else(|| call.invalid("Invalid NextToken."))?
        }
        None => filter(&params).map_err(|m| call.invalid(&m))?,
    };
    let shop = sandbox.shop(Vendor::Amazon, &seller.0);
    let matches = |order: &SeedOrder| {
        let at = if filter.by_update {
            order.updated_at
        } else {
            order.placed_at
        };
        at >= filter.after
            && filter.before.is_none_or(|b| at <= b)
            && (filter.statuses.is_empty()
                || filter.statuses.iter().any(|s| s == status(order.status)))
    };
    let mut page = Vec::new();
    let mut index = filter.next;
    let total = shop.order_count();
    while index < total && page.len() < per_page {
        if let Some(order) = shop.order(index).filter(|o| matches(o)) {
            page.push(order_json(&seller.0, &order));
        }
        index += 1;
    }
    // A token only when another matching order exists, so the last page has none.
    let more = (index..total).any(|i| shop.order(i).is_some_and(|o| matches(&o)));
    let mut payload = json!({ "Orders": page });
    if more {
        payload["NextToken"] = json!(encode_token(&OrdersToken {
            next: index,
            ..filter
        }));
    }
    let cutoff = date(Utc::now() - Duration::minutes(2));
    payload[if filter.by_update {
        "LastUpdatedBefore"
    } else {
        "CreatedBefore"
    }] = json!(cutoff);
    Ok(call.ok(json!({ "payload": payload })))
}

/// The filter of a first getOrders call, checked as the model describes.
fn filter(params: &Params) -> Result<OrdersToken, String> {
    let created_after = params.date("CreatedAfter")?;
    let created_before = params.date("CreatedBefore")?;
    let updated_after = params.date("LastUpdatedAfter")?;
    let updated_before = params.date("LastUpdatedBefore")?;
    let latest = Utc::now() - Duration::minutes(2);
    let (by_update, after, before) = match (created_after, updated_after) {
        (Some(_), Some(_)) => {
            return Err("Only one of 'CreatedAfter' and 'LastUpdatedAfter' may be set.".into())
        }
        (None, None) => {
            return Err("Either 'CreatedAfter' or 'LastUpdatedAfter' is required.".into())
        }
        (Some(_), None) if updated_before.is_some() => {
            return Err("'LastUpdatedBefore' cannot be set with 'CreatedAfter'.".into())
        }
        (None, Some(_)) if created_before.is_some() => {
            return Err("'CreatedBefore' cannot be set with 'LastUpdatedAfter'.".into())
        }
        (Some(after), None) => (false, after, created_before),
        (None, Some(after)) => (true, after, updated_before),
    };
    if let Some(before) = before {
        if before < after || before > latest {
            return Err(
                "The 'Before' date must not precede the 'After' date and must be at least two minutes before the current time."
                    .into(),
            );
        }
    }
    Ok(OrdersToken {
        by_update,
        after,
        before,
        statuses: params.list("OrderStatuses"),
        next: 0,
    })
}

pub(super) async fn get_order(
    State(sandbox): State<Sandbox>,
    Extension(buckets): Extension<Arc<Buckets>>,
    seller: Seller,
    Path(order_id): Path<String>,
) -> Result<Response, Response> {
    let call = buckets.admit(&sandbox, &seller.0, Operation::GetOrder)?;
    let shop = sandbox.shop(Vendor::Amazon, &seller.0);
    let order = find(&shop, &seller.0, &order_id).ok_or_else(|| not_found(&call, &order_id))?;
    Ok(call.ok(json!({ "payload": order_json(&seller.0, &order) })))
}

#[derive(Serialize, Deserialize)]
struct ItemsToken {
    order: String,
    next: usize,
}

pub(super) async fn get_order_items(
    State(sandbox): State<Sandbox>,
    Extension(buckets): Extension<Arc<Buckets>>,
    seller: Seller,
    Path(order_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let call = buckets.admit(&sandbox, &seller.0, Operation::GetOrderItems)?;
    let params = Params::parse(query.as_deref());
    let shop = sandbox.shop(Vendor::Amazon, &seller.0);
    let order = find(&shop, &seller.0, &order_id).ok_or_else(|| not_found(&call, &order_id))?;
    let start = match params.get("NextToken") {
        Some(token) => {
            decode_token::<ItemsToken>(token)
                .filter(|t| t.order == order_id)
                .ok_or_else(|| call.invalid("Invalid NextToken."))?
                .next
        }
        None => 0,
    };
    let end = (start + ITEMS_PER_PAGE).min(order.lines.len());
    let items: Vec<Value> = (start..end)
        .map(|n| item_json(&shop, &seller.0, &order, n))
        .collect();
    let mut payload = json!({ "AmazonOrderId": order_id, "OrderItems": items });
    if end < order.lines.len() {
        payload["NextToken"] = json!(encode_token(&ItemsToken {
            order: order_id.clone(),
            next: end,
        }));
    }
    Ok(call.ok(json!({ "payload": payload })))
}

fn not_found(call: &Call, order_id: &str) -> Response {
    call.not_found("NotFound", &format!("Order {order_id} not found."))
}

/// `302-nnnnnnn-iiiiiii`: the last group is the order's index, the middle one a checksum.
fn order_id(seller_id: &str, index: usize) -> String {
    format!(
        "302-{:07}-{index:07}",
        digest(seller_id, "order", index) % 10_000_000
    )
}

fn find(shop: &Shop, seller_id: &str, order_id_given: &str) -> Option<SeedOrder> {
    let index: usize = order_id_given.rsplit('-').next()?.parse().ok()?;
    (order_id(seller_id, index) == order_id_given)
        .then(|| shop.order(index))
        .flatten()
}

fn status(status: SeedOrderStatus) -> &'static str {
    match status {
        SeedOrderStatus::Pending => "Pending",
        SeedOrderStatus::Paid => "Unshipped",
        SeedOrderStatus::Shipped | SeedOrderStatus::Delivered | SeedOrderStatus::Refunded => {
            "Shipped"
        }
        SeedOrderStatus::Cancelled => "Canceled",
    }
}

fn money(cents: i64) -> Value {
    json!({ "CurrencyCode": CURRENCY, "Amount": amount(cents) })
}

fn order_json(seller_id: &str, order: &SeedOrder) -> Value {
    let status = status(order.status);
    let units: i64 = order.lines.iter().map(|l| l.quantity).sum();
    let shipped = if status == "Shipped" { units } else { 0 };
    let afn = digest(seller_id, "channel", order.index).is_multiple_of(5);
    let mut value = json!({
        "AmazonOrderId": order_id(seller_id, order.index),
        "PurchaseDate": date(order.placed_at),
        "LastUpdateDate": date(order.updated_at),
        "OrderStatus": status,
        "FulfillmentChannel": if afn { "AFN" } else { "MFN" },
        "SalesChannel": "Amazon.de",
        "ShipServiceLevel": "Std DE Dom_1",
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": if status == "Canceled" { 0 } else { units - shipped },
        "PaymentMethod": "Other",
        "PaymentMethodDetails": ["Standard"],
        "MarketplaceId": MARKETPLACE,
        "ShipmentServiceLevelCategory": "Standard",
        "OrderType": "StandardOrder",
        "EarliestShipDate": date(order.placed_at + Duration::days(1)),
        "LatestShipDate": date(order.placed_at + Duration::days(2)),
        "IsBusinessOrder": false,
        "IsPrime": afn,
        "IsPremiumOrder": false,
        "IsGlobalExpressEnabled": false,
        "IsReplacementOrder": false,
        "IsSoldByAB": false,
        "IsISPU": false,
        "IsAccessPointOrder": false,
        "ShippingAddress": {
            "City": order.customer.city,
            "PostalCode": order.customer.postal_code,
            "CountryCode": "DE",
        },
    });
    // Amazon gives neither total nor buyer while payment is pending.
    if status != "Pending" {
        value["OrderTotal"] = money(order.total_cents());
        value["BuyerInfo"] = json!({
            "BuyerEmail": format!("{:016x}@marketplace.amazon.de", digest(seller_id, "buyer", order.index)),
            "BuyerName": format!("{} {}", order.customer.first_name, order.customer.last_name),
        });
    }
    value
}

fn item_json(shop: &Shop, seller_id: &str, order: &SeedOrder, line: usize) -> Value {
    let seed = &order.lines[line];
    let product = shop.catalogue.product(seed.product_index);
    let gross = seed.unit_price_cents * seed.quantity;
    // German VAT (19 %) contained in the gross price.
    let tax = (gross * 19 + 59) / 119;
    let shipped = if status(order.status) == "Shipped" {
        seed.quantity
    } else {
        0
    };
    json!({
        "ASIN": asin(seller_id, seed.product_index),
        "SellerSKU": product.sku,
        "OrderItemId": format!("{:014}", digest(seller_id, "item", order.index * 8 + line) % 100_000_000_000_000),
        "Title": product.title,
        "QuantityOrdered": seed.quantity,
        "QuantityShipped": shipped,
        "ItemPrice": money(gross),
        "ItemTax": money(tax),
        "PromotionDiscount": money(0),
        "IsGift": "false",
        "ConditionId": "New",
        "ConditionSubtypeId": "New",
        "IsTransparency": false,
        "SerialNumberRequired": false,
    })
}
