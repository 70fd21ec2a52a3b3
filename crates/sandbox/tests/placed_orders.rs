//! Orders placed at a stand-in shop after seeding: they lower its stock and join its order
//! book after the seeded orders; `POST /_sandbox/orders` places one, with the switch on.

use secrecy::SecretString;
use serde_json::{json, Value};
use sm_connectors::sandbox::SandboxSecret;
use sm_sandbox::catalogue::{CatalogueSize, SeedOrderStatus};
use sm_sandbox::faults::Vendor;
use sm_sandbox::shops::OrderRefused;
use sm_sandbox::{Running, SandboxConfig};

async fn sandbox(switch: bool) -> Running {
    let mut config = SandboxConfig::new(SandboxSecret::new(SecretString::from(
        "orders-test-secret-0123456789abcdef",
    )));
    config.size = CatalogueSize {
        products: 30,
        orders: 12,
    };
    config.fault_switch = switch;
    sm_sandbox::spawn(config).await.expect("the sandbox starts")
}

async fn place(running: &Running, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(running.url.join("_sandbox/orders").unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_placed_order_lowers_the_stock_and_follows_the_seeded_ones() {
    let running = sandbox(false).await;
    let shop = running.sandbox.tenant_shop(Vendor::Shopify, "tenant-1");
    let index = 4;
    let sku = shop.product(index).seed.sku;
    shop.set_stock(index, 3);

    let order = shop.place_order(&sku, 2).unwrap();
    assert_eq!(order.index, 12, "after the 12 seeded orders");
    assert_eq!(order.number, 1013);
    assert_eq!(order.status, SeedOrderStatus::Paid);
    assert_eq!(order.lines.len(), 1);
    assert_eq!(order.lines[0].product_index, index);
    assert_eq!(
        order.lines[0].unit_price_cents,
        shop.product(index).price_cents
    );
    assert_eq!(shop.product(index).stock, 1);
    assert_eq!(shop.order_count(), 13);
    assert_eq!(shop.order(12), Some(order.clone()));
    assert_eq!(shop.order(13), None);

    // No overselling, no empty orders, no unknown articles.
    assert_eq!(
        shop.place_order(&sku, 2),
        Err(OrderRefused::NotEnoughStock { stock: 1 })
    );
    assert_eq!(shop.place_order(&sku, 0), Err(OrderRefused::Quantity));
    assert_eq!(
        shop.place_order("SM-99-999999", 1),
        Err(OrderRefused::UnknownSku)
    );
    assert_eq!(shop.order_count(), 13);
    shop.place_order(&sku, 1).unwrap();
    assert_eq!(shop.product(index).stock, 0);

    // A status change shows on the order, with the time it happened.
    assert!(shop.set_order_status(12, SeedOrderStatus::Shipped));
    let shipped = shop.order(12).unwrap();
    assert_eq!(shipped.status, SeedOrderStatus::Shipped);
    assert!(shipped.updated_at > order.updated_at);
    assert!(shop.set_order_status(0, SeedOrderStatus::Cancelled));
    assert_eq!(shop.order(0).unwrap().status, SeedOrderStatus::Cancelled);
    assert!(!shop.set_order_status(14, SeedOrderStatus::Shipped));
}

#[tokio::test]
async fn the_shops_of_one_merchant_sell_the_same_articles() {
    let running = sandbox(false).await;
    let shopify = running.sandbox.tenant_shop(Vendor::Shopify, "tenant-1");
    let kaufland = running.sandbox.tenant_shop(Vendor::Kaufland, "tenant-2");
    for index in 0..30 {
        let (a, b) = (shopify.product(index).seed, kaufland.product(index).seed);
        assert_eq!((a.sku, a.title, a.ean), (b.sku, b.title, b.ean));
    }
    // Seeded orders sell articles of the catalogue.
    for index in 0..shopify.order_count() {
        for line in shopify.order(index).unwrap().lines {
            let sku = shopify.product(line.product_index).seed.sku;
            assert_eq!(shopify.index_of_sku(&sku), Some(line.product_index));
        }
    }
}

#[tokio::test]
async fn the_route_places_orders_only_with_the_switch_on() {
    let off = sandbox(false).await;
    let sku = off
        .sandbox
        .tenant_shop(Vendor::Kaufland, "t")
        .product(0)
        .seed
        .sku;
    let (status, _) = place(
        &off,
        json!({"vendor": "kaufland", "tenant": "t", "sku": sku, "quantity": 1}),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        off.sandbox.tenant_shop(Vendor::Kaufland, "t").order_count(),
        12
    );

    let on = sandbox(true).await;
    let shop = on.sandbox.tenant_shop(Vendor::Amazon, "t");
    shop.set_stock(0, 5);
    let (status, body) = place(
        &on,
        json!({"vendor": "amazon", "tenant": "t", "sku": sku, "quantity": 2}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body, json!({"index": 12, "number": 1013}));
    assert_eq!(shop.product(0).stock, 3);
    assert_eq!(shop.order_count(), 13);

    let (status, body) = place(
        &on,
        json!({"vendor": "amazon", "tenant": "t", "sku": sku, "quantity": 4}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "Only 3 units are in stock.");
    assert_eq!(shop.order_count(), 13);
}
