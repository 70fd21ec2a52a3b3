//! Reading the shop: its name, products with their variants, orders with their lines.
//!
//! Query costs follow Shopify's rules (an object 1 point, a connection 2 plus its page
//! size times what each node costs) so that a page stays under the 1,000-point ceiling
//! of a single query and the pacing knows what to wait for.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::json;

use super::client::{Gql, Operation};
use super::oauth;
use crate::money;
use crate::{
    ChannelError, ChannelOrder, ChannelProduct, Cursor, Money, OrderLine, OrderStatus, Page,
};

const SHOP: Operation = Operation {
    name: "Shop",
    document: include_str!("queries/shop.graphql"),
};
const PRODUCTS: Operation = Operation {
    name: "Products",
    document: include_str!("queries/products.graphql"),
};
const PRODUCT_VARIANTS: Operation = Operation {
    name: "ProductVariants",
    document: include_str!("queries/product_variants.graphql"),
};
const ORDERS: Operation = Operation {
    name: "Orders",
    document: include_str!("queries/orders.graphql"),
};
const ORDER_LINES: Operation = Operation {
    name: "OrderLines",
    document: include_str!("queries/order_lines.graphql"),
};

/// Products per page: 25 products with 10 variants and 3 pictures each cost 778 points.
pub(crate) const MAX_PRODUCTS_PER_PAGE: usize = 25;
/// Variants read with their product; a product with more gets follow-up queries.
const VARIANTS_PER_PRODUCT: u32 = 10;
const MEDIA_PER_PRODUCT: u32 = 3;
const VARIANTS_PER_FOLLOW_UP: u32 = 100;
/// Orders per page: 15 orders with 10 lines each cost 842 points.
const MAX_ORDERS_PER_PAGE: usize = 15;
const LINES_PER_ORDER: u32 = 10;
const LINES_PER_FOLLOW_UP: u32 = 50;

/// Shopify's cost of a connection of `first` nodes costing `node` each.
const fn connection(first: u32, node: u32) -> u32 {
    2 + first * node
}

/// A variant with its inventory item.
const VARIANT_COST: u32 = 2;
/// A line with its two money bags (bag and shop money each).
const LINE_COST: u32 = 5;

fn products_cost(first: u32) -> u32 {
    // A medium with its image: 2.
    let product =
        1 + connection(MEDIA_PER_PRODUCT, 2) + connection(VARIANTS_PER_PRODUCT, VARIANT_COST);
    1 + connection(first, product)
}

fn orders_cost(first: u32) -> u32 {
    // The order, its customer, its total (bag and shop money), its lines.
    let order = 1 + 1 + 2 + connection(LINES_PER_ORDER, LINE_COST);
    connection(first, order)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection<T> {
    page_info: PageInfo,
    nodes: Vec<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

/// Follow-up pages one product's variants or one order's lines may take (Shopify allows
/// 2,048 variants: 21 pages of 100).
const MAX_FOLLOW_UPS: usize = 100;

/// The nodes of the pages after `after`, read with `page` until the last. A cursor seen
/// before or more than [`MAX_FOLLOW_UPS`] pages mean the vendor's paging is broken: that is
/// a protocol error, not a reason to loop for ever.
async fn follow_up<T, F, Fut>(
    mut after: Option<String>,
    mut page: F,
) -> Result<Vec<T>, ChannelError>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>), ChannelError>>,
{
    let mut seen = std::collections::HashSet::new();
    let mut nodes = Vec::new();
    while let Some(cursor) = after {
        if seen.len() == MAX_FOLLOW_UPS {
            return Err(ChannelError::protocol(format!(
                "Shopify's paging did not end after {MAX_FOLLOW_UPS} pages"
            )));
        }
        if !seen.insert(cursor.clone()) {
            return Err(ChannelError::protocol(
                "Shopify's paging returned a cursor it had returned before",
            ));
        }
        let (more, next) = page(cursor).await?;
        nodes.extend(more);
        after = next;
    }
    Ok(nodes)
}

impl PageInfo {
    fn next(&self) -> Option<String> {
        self.end_cursor.clone().filter(|_| self.has_next_page)
    }
}

#[derive(Deserialize)]
struct Nodes<T> {
    nodes: Vec<T>,
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

/// The shop's name, once the token has proved to work and to hold every scope the cockpit
/// needs ([`ChannelError::MissingScope`] names the ones it lacks).
pub(crate) async fn shop_name(gql: &Gql) -> Result<String, ChannelError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Data {
        shop: Name,
        current_app_installation: Installation,
    }
    #[derive(Deserialize)]
    struct Name {
        name: String,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Installation {
        access_scopes: Vec<Scope>,
    }
    #[derive(Deserialize)]
    struct Scope {
        handle: String,
    }
    // The shop and the installation 1 each, the scopes (a list, not a connection) 1.
    let data: Data = gql.run(&SHOP, json!({}), 3).await?;
    let scopes = &data.current_app_installation.access_scopes;
    oauth::require_scopes(scopes.iter().map(|s| s.handle.as_str()))?;
    Ok(data.shop.name)
}

// Products ---------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProductsData {
    shop: Currency,
    products: Connection<Product>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Currency {
    currency_code: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Product {
    id: String,
    title: String,
    description_html: String,
    status: String,
    updated_at: DateTime<Utc>,
    media: Nodes<Medium>,
    variants: Connection<Variant>,
}

/// A medium; only images (`MediaImage`) carry one.
#[derive(Deserialize)]
struct Medium {
    #[serde(default)]
    image: Option<Image>,
}

#[derive(Deserialize)]
struct Image {
    url: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Variant {
    id: String,
    title: String,
    sku: Option<String>,
    barcode: Option<String>,
    price: String,
    inventory_quantity: Option<i64>,
    updated_at: DateTime<Utc>,
    inventory_item: Id,
}

/// A page of the catalogue, or with `changed_since` of the products changed since then.
pub(crate) async fn products_page(
    gql: &Gql,
    changed_since: Option<DateTime<Utc>>,
    cursor: Option<&Cursor>,
    page_size: usize,
) -> Result<Page<ChannelProduct>, ChannelError> {
    let first = page_size.clamp(1, MAX_PRODUCTS_PER_PAGE) as u32;
    let data: ProductsData = gql
        .run(
            &PRODUCTS,
            json!({
                "first": first,
                "after": cursor.map(|c| &c.0),
                "query": changed_since.map(changed_since_query),
                "variants": VARIANTS_PER_PRODUCT,
                "media": MEDIA_PER_PRODUCT,
            }),
            products_cost(first),
        )
        .await?;
    let currency = data.shop.currency_code;
    let mut items = Vec::new();
    for mut product in data.products.nodes {
        let mut variants = std::mem::take(&mut product.variants.nodes);
        let first = product.variants.page_info.next();
        variants.extend(follow_up(first, |c| more_variants(gql, &product.id, c)).await?);
        for variant in variants {
            items.push(channel_product(&product, variant, &currency)?);
        }
    }
    Ok(Page {
        items,
        next: data.products.page_info.next().map(Cursor),
    })
}

/// The search for products changed since `since`. Whole seconds, rounded down, and `>=`:
/// the instant itself is included (a second read of a product is a harmless upsert; a
/// missed change is not).
fn changed_since_query(since: DateTime<Utc>) -> String {
    let since = since.to_rfc3339_opts(SecondsFormat::Secs, true);
    format!("updated_at:>='{since}'")
}

/// The variants after `cursor` of a product with more than fit in its page.
async fn more_variants(
    gql: &Gql,
    product_id: &str,
    cursor: String,
) -> Result<(Vec<Variant>, Option<String>), ChannelError> {
    #[derive(Deserialize)]
    struct Data {
        product: Option<Variants>,
    }
    #[derive(Deserialize)]
    struct Variants {
        variants: Connection<Variant>,
    }
    let data: Data = gql
        .run(
            &PRODUCT_VARIANTS,
            json!({"id": product_id, "first": VARIANTS_PER_FOLLOW_UP, "after": cursor}),
            1 + connection(VARIANTS_PER_FOLLOW_UP, VARIANT_COST),
        )
        .await?;
    // Deleted between the two queries: its remaining variants are gone too.
    Ok(data.product.map_or((Vec::new(), None), |p| {
        let next = p.variants.page_info.next();
        (p.variants.nodes, next)
    }))
}

fn channel_product(
    product: &Product,
    variant: Variant,
    currency: &str,
) -> Result<ChannelProduct, ChannelError> {
    let cents = money::cents(&variant.price).ok_or_else(|| {
        ChannelError::protocol(format!(
            "the price {:?} of {} is not a decimal with two places",
            variant.price, variant.id
        ))
    })?;
    // Shopify's own display name: "Product - Variant", the default variant unnamed.
    let title = if variant.title == "Default Title" || variant.title.is_empty() {
        product.title.clone()
    } else {
        format!("{} - {}", product.title, variant.title)
    };
    Ok(ChannelProduct {
        external_id: variant.id,
        parent_id: Some(product.id.clone()),
        inventory_id: Some(variant.inventory_item.id),
        sku: variant.sku.unwrap_or_default(),
        title,
        description: product.description_html.clone(),
        ean: variant.barcode.filter(|b| !b.is_empty()),
        price: Some(Money {
            cents,
            currency: currency.to_owned(),
        }),
        quantity: variant.inventory_quantity,
        images: product
            .media
            .nodes
            .iter()
            .filter_map(|m| m.image.as_ref())
            .map(|i| i.url.clone())
            .collect(),
        active: product.status == "ACTIVE",
        updated_at: Some(product.updated_at.max(variant.updated_at)),
    })
}

// Orders -----------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Order {
    id: String,
    name: String,
    email: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    cancelled_at: Option<DateTime<Utc>>,
    display_financial_status: Option<String>,
    display_fulfillment_status: String,
    customer: Option<Customer>,
    total_price_set: MoneyBag,
    line_items: Connection<Line>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Customer {
    display_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MoneyBag {
    shop_money: ShopMoney,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShopMoney {
    amount: String,
    #[serde(default)]
    currency_code: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    id: String,
    sku: Option<String>,
    title: String,
    quantity: i32,
    original_unit_price_set: MoneyBag,
    original_total_set: MoneyBag,
}

pub(crate) async fn orders_page(
    gql: &Gql,
    updated_since: DateTime<Utc>,
    cursor: Option<&Cursor>,
    page_size: usize,
) -> Result<Page<ChannelOrder>, ChannelError> {
    #[derive(Deserialize)]
    struct Data {
        orders: Connection<Order>,
    }
    let first = page_size.clamp(1, MAX_ORDERS_PER_PAGE) as u32;
    // Whole seconds, rounded down: `>=` then still includes the instant itself.
    let since = updated_since.to_rfc3339_opts(SecondsFormat::Secs, true);
    let data: Data = gql
        .run(
            &ORDERS,
            json!({
                "first": first,
                "after": cursor.map(|c| &c.0),
                "query": format!("updated_at:>='{since}'"),
                "lines": LINES_PER_ORDER,
            }),
            orders_cost(first),
        )
        .await?;
    let mut items = Vec::with_capacity(data.orders.nodes.len());
    for mut order in data.orders.nodes {
        let mut lines = std::mem::take(&mut order.line_items.nodes);
        let first = order.line_items.page_info.next();
        lines.extend(follow_up(first, |c| more_lines(gql, &order.id, c)).await?);
        items.push(channel_order(order, lines)?);
    }
    Ok(Page {
        items,
        next: data.orders.page_info.next().map(Cursor),
    })
}

async fn more_lines(
    gql: &Gql,
    order_id: &str,
    cursor: String,
) -> Result<(Vec<Line>, Option<String>), ChannelError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Data {
        order: Option<Lines>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Lines {
        line_items: Connection<Line>,
    }
    let data: Data = gql
        .run(
            &ORDER_LINES,
            json!({"id": order_id, "first": LINES_PER_FOLLOW_UP, "after": cursor}),
            1 + connection(LINES_PER_FOLLOW_UP, LINE_COST),
        )
        .await?;
    Ok(data.order.map_or((Vec::new(), None), |o| {
        let next = o.line_items.page_info.next();
        (o.line_items.nodes, next)
    }))
}

fn amount(bag: &MoneyBag, what: &str) -> Result<i64, ChannelError> {
    money::cents(&bag.shop_money.amount).ok_or_else(|| {
        ChannelError::protocol(format!(
            "the amount {:?} of {what} is not a decimal with two places",
            bag.shop_money.amount
        ))
    })
}

/// Lines carry list prices (unit and unit × quantity, before discounts); the order's
/// total is what the buyer was charged.
fn channel_order(order: Order, lines: Vec<Line>) -> Result<ChannelOrder, ChannelError> {
    let lines = lines
        .into_iter()
        .map(|line| {
            Ok(OrderLine {
                unit_price_cents: amount(&line.original_unit_price_set, &line.id)?,
                total_cents: amount(&line.original_total_set, &line.id)?,
                external_id: Some(line.id),
                sku: line.sku.unwrap_or_default(),
                title: line.title,
                quantity: line.quantity,
            })
        })
        .collect::<Result<_, ChannelError>>()?;
    Ok(ChannelOrder {
        status: order_status(&order),
        total_cents: amount(&order.total_price_set, &order.id)?,
        currency: order.total_price_set.shop_money.currency_code,
        external_id: order.id,
        order_number: order.name,
        customer_name: order.customer.map(|c| c.display_name).unwrap_or_default(),
        customer_email: order.email.unwrap_or_default(),
        placed_at: order.created_at,
        updated_at: order.updated_at,
        lines,
    })
}

/// Cancelled wins, then a full refund, then fulfilment, then payment. Shopify's order
/// knows nothing of delivery, so `Delivered` never comes from here; a partial refund
/// leaves the order paid (or shipped); voided and expired payments are pending again.
fn order_status(order: &Order) -> OrderStatus {
    let financial = order.display_financial_status.as_deref();
    if order.cancelled_at.is_some() {
        OrderStatus::Cancelled
    } else if financial == Some("REFUNDED") {
        OrderStatus::Refunded
    } else if order.display_fulfillment_status == "FULFILLED" {
        OrderStatus::Shipped
    } else if matches!(financial, Some("PAID" | "PARTIALLY_REFUNDED")) {
        OrderStatus::Paid
    } else {
        OrderStatus::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages of one node each, the next cursor as `next` says after `cursor`.
    async fn paged(
        calls: &std::cell::Cell<usize>,
        cursor: String,
        next: impl Fn(&str) -> Option<String>,
    ) -> Result<(Vec<String>, Option<String>), ChannelError> {
        calls.set(calls.get() + 1);
        let after = next(&cursor);
        Ok((vec![cursor], after))
    }

    #[tokio::test]
    async fn follow_up_reads_to_the_last_page() {
        let calls = std::cell::Cell::new(0);
        let next =
            |c: &str| (c != "c3").then(|| format!("c{}", &c[1..].parse::<u32>().unwrap() + 1));
        let nodes = follow_up(Some("c1".into()), |c| paged(&calls, c, next))
            .await
            .unwrap();
        assert_eq!(nodes, ["c1", "c2", "c3"]);
        assert!(follow_up::<String, _, _>(None, |c| paged(&calls, c, next))
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn follow_up_stops_when_the_cursor_repeats() {
        let calls = std::cell::Cell::new(0);
        // The vendor answers every page with the cursor it was asked for.
        let result = follow_up(Some("same".into()), |c| {
            paged(&calls, c, |c| Some(c.to_owned()))
        })
        .await;
        assert!(
            matches!(result, Err(ChannelError::Protocol { .. })),
            "{result:?}"
        );
        assert_eq!(calls.get(), 1);
        // A cycle of two.
        let calls = std::cell::Cell::new(0);
        let flip = |c: &str| Some(if c == "a" { "b" } else { "a" }.to_owned());
        let result = follow_up(Some("a".into()), |c| paged(&calls, c, flip)).await;
        assert!(matches!(result, Err(ChannelError::Protocol { .. })));
        assert_eq!(calls.get(), 2);
    }

    #[tokio::test]
    async fn follow_up_gives_up_after_the_cap() {
        let calls = std::cell::Cell::new(0);
        // Fresh cursors for ever.
        let endless = |c: &str| Some(format!("{c}+"));
        let result = follow_up(Some("c".into()), |c| paged(&calls, c, endless)).await;
        assert!(
            matches!(result, Err(ChannelError::Protocol { .. })),
            "{result:?}"
        );
        assert_eq!(calls.get(), MAX_FOLLOW_UPS);
    }

    #[test]
    fn pages_stay_under_the_query_ceiling() {
        assert_eq!(products_cost(MAX_PRODUCTS_PER_PAGE as u32), 778);
        assert_eq!(orders_cost(MAX_ORDERS_PER_PAGE as u32), 842);
        assert!(products_cost(MAX_PRODUCTS_PER_PAGE as u32 + 8) > 1_000);
    }

    fn order(financial: Option<&str>, fulfillment: &str, cancelled: bool) -> Order {
        serde_json::from_value(json!({
            "id": "gid://shopify/Order/1",
            "name": "#1001",
            "email": "anna@example.de",
            "createdAt": "2025-01-02T10:00:00Z",
            "updatedAt": "2025-01-03T10:00:00Z",
            "cancelledAt": if cancelled { json!("2025-01-03T10:00:00Z") } else { json!(null) },
            "displayFinancialStatus": financial,
            "displayFulfillmentStatus": fulfillment,
            "customer": {"displayName": "Anna Schmidt"},
            "totalPriceSet": {"shopMoney": {"amount": "59.97", "currencyCode": "EUR"}},
            "lineItems": {"pageInfo": {"hasNextPage": false, "endCursor": null}, "nodes": []}
        }))
        .unwrap()
    }

    #[test]
    fn order_statuses() {
        use OrderStatus::*;
        for (financial, fulfillment, cancelled, expected) in [
            (Some("PAID"), "FULFILLED", true, Cancelled),
            (Some("REFUNDED"), "FULFILLED", false, Refunded),
            (Some("PAID"), "FULFILLED", false, Shipped),
            (Some("PARTIALLY_REFUNDED"), "UNFULFILLED", false, Paid),
            (Some("PAID"), "UNFULFILLED", false, Paid),
            (Some("AUTHORIZED"), "UNFULFILLED", false, Pending),
            (Some("VOIDED"), "UNFULFILLED", false, Pending),
            (None, "UNFULFILLED", false, Pending),
        ] {
            let o = order(financial, fulfillment, cancelled);
            assert_eq!(order_status(&o), expected, "{financial:?} {fulfillment}");
        }
    }

    #[test]
    fn variants_become_channel_products() {
        let product: Product = serde_json::from_value(json!({
            "id": "gid://shopify/Product/7",
            "title": "Nordwald Waldhonig",
            "descriptionHtml": "<p>Honig</p>",
            "status": "ACTIVE",
            "updatedAt": "2025-01-02T10:00:00Z",
            "media": {"nodes": [
                {"image": {"url": "https://cdn/a.svg"}},
                {},
                {"image": null}
            ]},
            "variants": {"pageInfo": {"hasNextPage": false, "endCursor": null}, "nodes": []}
        }))
        .unwrap();
        let variant = |title: &str| -> Variant {
            serde_json::from_value(json!({
                "id": "gid://shopify/ProductVariant/70",
                "title": title,
                "sku": "SM-03-000007",
                "barcode": "4006381333931",
                "price": "12.90",
                "inventoryQuantity": 4,
                "updatedAt": "2025-01-05T10:00:00Z",
                "inventoryItem": {"id": "gid://shopify/InventoryItem/700"}
            }))
            .unwrap()
        };
        let p = channel_product(&product, variant("Default Title"), "EUR").unwrap();
        assert_eq!(p.title, "Nordwald Waldhonig");
        assert_eq!(
            p.price,
            Some(Money {
                cents: 1290,
                currency: "EUR".into()
            })
        );
        assert_eq!(p.images, vec!["https://cdn/a.svg".to_owned()]);
        assert_eq!(p.parent_id.as_deref(), Some("gid://shopify/Product/7"));
        assert_eq!(
            p.inventory_id.as_deref(),
            Some("gid://shopify/InventoryItem/700")
        );
        assert!(p.active);
        assert_eq!(
            p.updated_at,
            Some("2025-01-05T10:00:00Z".parse().unwrap()),
            "the later of product and variant"
        );
        let named = channel_product(&product, variant("500 g"), "EUR").unwrap();
        assert_eq!(named.title, "Nordwald Waldhonig - 500 g");
    }
}
