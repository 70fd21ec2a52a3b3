//! The Kaufland client against the sandbox's stand-in: signatures, offset pagination,
//! orders read whole, throttling, injected faults and pushes.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::DateTime;
use futures::TryStreamExt;
use secrecy::SecretString;
use sm_connectors::kaufland::{Client, Credentials, Shared};
use sm_connectors::sandbox::SandboxSecret;
use sm_connectors::{
    orders, products, Channel, ChannelError, Cursor, Hosts, ListingUpdate, Money, OrderStatus,
    RetryPolicy, Transport,
};
use sm_sandbox::catalogue::{CatalogueSize, SeedOrderStatus};
use sm_sandbox::faults::{Fault, Vendor};
use sm_sandbox::{kaufland, Running, SandboxConfig};

const TENANT: &str = "tenant-kaufland";

async fn sandbox(products: usize, orders: usize, rate_scale: f64) -> Running {
    let mut config = SandboxConfig::new(SandboxSecret::new(SecretString::from(
        "kaufland-test-secret",
    )));
    config.size = CatalogueSize { products, orders };
    config.rate_scale = rate_scale;
    config.fault_delay = Duration::from_secs(2);
    sm_sandbox::spawn(config).await.expect("the sandbox starts")
}

fn retry(max_retries: usize) -> Transport {
    Transport::new(
        Duration::from_millis(300),
        RetryPolicy {
            max_retries,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(100),
            max_retry_after: Duration::from_secs(1),
        },
    )
}

fn client_key(running: &Running) -> String {
    running.sandbox.secret().kaufland_client_key(TENANT)
}

fn client_with(running: &Running, transport: Transport, secret_key: SecretString) -> Client {
    let credentials = Credentials {
        client_key: client_key(running),
        secret_key,
        storefront: "de".to_owned(),
    };
    Client::new(
        transport,
        &Hosts::Sandbox(running.url.clone()),
        credentials,
        &Shared::default(),
    )
}

fn client(running: &Running, transport: Transport) -> Client {
    let secret = running
        .sandbox
        .secret()
        .kaufland_secret_key(&client_key(running));
    client_with(running, transport, secret)
}

fn shop(running: &Running) -> std::sync::Arc<sm_sandbox::shops::Shop> {
    running.sandbox.shop(Vendor::Kaufland, &client_key(running))
}

#[tokio::test]
async fn signed_requests_pass_and_a_wrong_secret_is_refused() {
    let running = sandbox(10, 0, 1.0).await;
    let label = client(&running, retry(0))
        .check_credentials()
        .await
        .unwrap();
    assert!(label.starts_with("Kaufland.de"), "{label}");

    let forged = client_with(&running, retry(0), SecretString::from("0".repeat(64)));
    match forged.check_credentials().await {
        Err(ChannelError::InvalidCredentials { message }) => {
            assert!(message.contains("signature"), "{message}")
        }
        other => panic!("expected refused credentials, got {other:?}"),
    }
    match forged.products_page(None, 10).await {
        Err(ChannelError::InvalidCredentials { .. }) => {}
        other => panic!("expected refused credentials, got {other:?}"),
    }

    // The sandbox seller sells on kaufland.de only.
    let secret = running
        .sandbox
        .secret()
        .kaufland_secret_key(&client_key(&running));
    let credentials = Credentials {
        client_key: client_key(&running),
        secret_key: secret,
        storefront: "AT".to_owned(),
    };
    let austria = Client::new(
        retry(0),
        &Hosts::Sandbox(running.url.clone()),
        credentials,
        &Shared::default(),
    );
    match austria.check_credentials().await {
        Err(ChannelError::InvalidCredentials { message }) => {
            assert!(message.contains("storefront at"), "{message}")
        }
        other => panic!("expected refused credentials, got {other:?}"),
    }
}

#[tokio::test]
async fn the_catalogue_reads_to_the_end_with_every_sku_once() {
    let running = sandbox(2_345, 0, 1.0).await;
    let client = client(&running, retry(2));
    let pages: Vec<_> = products(&client, None, 100).try_collect().await.unwrap();
    assert_eq!(pages.len(), 24);
    let items: Vec<_> = pages.into_iter().flat_map(|p| p.items).collect();
    let skus: HashSet<_> = items.iter().map(|p| p.sku.clone()).collect();
    assert_eq!(items.len(), 2_345);
    assert_eq!(skus.len(), 2_345);

    let shop = shop(&running);
    for (index, item) in items.iter().enumerate().step_by(97) {
        let product = shop.product(index);
        assert_eq!(item.external_id, kaufland::unit_id(index).to_string());
        assert_eq!(item.sku, product.seed.sku);
        assert_eq!(item.title, product.seed.title);
        assert_eq!(item.ean.as_deref(), Some(product.seed.ean.as_str()));
        assert_eq!(
            item.price,
            Some(Money {
                cents: product.price_cents,
                currency: "EUR".into()
            })
        );
        assert_eq!(item.quantity, Some(product.stock));
        assert_eq!(item.images.len(), 1);
    }
    // The stand-in holds every 25th unit ONHOLD.
    assert!(!items[24].active);
    assert!(items[23].active);
}

#[tokio::test]
async fn orders_since_a_date_come_whole_and_once() {
    let running = sandbox(300, 400, 1.0).await;
    let client = client(&running, retry(2));
    let catalogue = &shop(&running).catalogue;
    let seeds: Vec<_> = (0..catalogue.orders())
        .map(|i| catalogue.order(i))
        .collect();
    let since_secs = seeds[250].updated_at.timestamp();
    let since = DateTime::from_timestamp(since_secs, 0).unwrap();
    let expected: HashMap<String, _> = seeds
        .iter()
        .filter(|o| o.updated_at.timestamp() >= since_secs)
        .map(|o| (kaufland::id_order(o.index), o))
        .collect();
    assert!(expected.len() > 60, "several pages expected");

    let pages: Vec<_> = orders(&client, since, None, 30)
        .try_collect()
        .await
        .unwrap();
    assert!(pages.len() > 2);
    let read: Vec<_> = pages.into_iter().flat_map(|p| p.items).collect();
    let ids: HashSet<_> = read.iter().map(|o| o.external_id.clone()).collect();
    assert_eq!(ids.len(), read.len(), "an order came twice");
    assert_eq!(ids, expected.keys().cloned().collect::<HashSet<_>>());
    for order in &read {
        let seed = expected[&order.external_id];
        let items: i64 = seed.lines.iter().map(|l| l.quantity).sum();
        assert_eq!(
            order.lines.len() as i64,
            items,
            "every order unit is a line"
        );
        assert_eq!(order.total_cents, seed.total_cents());
        assert_eq!(order.customer_email, seed.customer.email);
        assert_eq!(order.placed_at.timestamp(), seed.placed_at.timestamp());
        assert!(order.updated_at >= since);
        let status = match seed.status {
            SeedOrderStatus::Pending => OrderStatus::Pending,
            SeedOrderStatus::Paid => OrderStatus::Paid,
            SeedOrderStatus::Shipped => OrderStatus::Shipped,
            SeedOrderStatus::Delivered => OrderStatus::Delivered,
            SeedOrderStatus::Cancelled => OrderStatus::Cancelled,
            SeedOrderStatus::Refunded => OrderStatus::Refunded,
        };
        assert_eq!(order.status, status);
        let first = catalogue.product(seed.lines[0].product_index);
        assert_eq!(order.lines[0].sku, first.sku);
        assert_eq!(order.lines[0].title, first.title);
    }
}

#[tokio::test]
async fn throttling_is_waited_out() {
    // 11 requests/s at the stand-in, while the client paces itself at Kaufland's 111/s.
    let running = sandbox(600, 0, 0.1).await;
    let client = client(&running, retry(10));
    let pages: Vec<_> = products(&client, None, 25).try_collect().await.unwrap();
    let count: usize = pages.iter().map(|p| p.items.len()).sum();
    assert_eq!(count, 600);
    assert!(kaufland::throttled(&running.sandbox, &client_key(&running)) > 0);
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_is_rate_limited() {
    // One request per 90 s at the stand-in.
    let running = sandbox(10, 0, 0.0001).await;
    let client = client(&running, retry(2));
    client.products_page(None, 5).await.unwrap();
    match client.products_page(None, 5).await {
        Err(ChannelError::RateLimited { .. }) => {}
        other => panic!("expected rate limited, got {other:?}"),
    }
    assert_eq!(
        kaufland::throttled(&running.sandbox, &client_key(&running)),
        3
    );
}

#[tokio::test]
async fn injected_faults_are_retried_or_reported() {
    let running = sandbox(50, 0, 1.0).await;
    let client = client(&running, retry(2));
    let faults = running.sandbox.faults();

    faults.inject(Vendor::Kaufland, Fault::ServerError, 1);
    assert_eq!(client.products_page(None, 5).await.unwrap().items.len(), 5);

    faults.inject(Vendor::Kaufland, Fault::Throttle, 2);
    assert_eq!(client.products_page(None, 5).await.unwrap().items.len(), 5);

    faults.inject(Vendor::Kaufland, Fault::ServerError, 3);
    assert!(matches!(
        client.products_page(None, 5).await,
        Err(ChannelError::Unavailable { .. })
    ));

    faults.inject(Vendor::Kaufland, Fault::Timeout, 3);
    match client.products_page(None, 5).await {
        Err(ChannelError::Unavailable { message }) => assert!(message.contains("in time")),
        other => panic!("expected unavailable, got {other:?}"),
    }

    faults.inject(Vendor::Kaufland, Fault::Malformed, 1);
    assert!(matches!(
        client.products_page(None, 5).await,
        Err(ChannelError::Protocol { .. })
    ));
    assert!(client.products_page(None, 5).await.is_ok());
}

fn update(external_id: &str, sku: &str, cents: i64, quantity: i64) -> ListingUpdate {
    ListingUpdate {
        external_id: external_id.to_owned(),
        parent_id: None,
        inventory_id: None,
        sku: sku.to_owned(),
        price: Some(Money {
            cents,
            currency: "EUR".into(),
        }),
        quantity: Some(quantity),
        expected_quantity: None,
    }
}

#[tokio::test]
async fn a_push_is_read_back() {
    let running = sandbox(50, 0, 1.0).await;
    let client = client(&running, retry(2));
    let before = client
        .products_page(Some(&Cursor("7".into())), 1)
        .await
        .unwrap();
    let unit = &before.items[0];
    let outcomes = client
        .push(&[update(&unit.external_id, &unit.sku, 12_345, 77)])
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].result, Ok(()));

    let after = client
        .products_page(Some(&Cursor("7".into())), 1)
        .await
        .unwrap();
    let unit = &after.items[0];
    assert_eq!(unit.price.as_ref().map(|p| p.cents), Some(12_345));
    assert_eq!(unit.quantity, Some(77));
    assert!(unit.updated_at > before.items[0].updated_at);
}

#[tokio::test]
async fn an_invalid_push_is_rejected_in_the_stand_ins_words() {
    let running = sandbox(50, 0, 1.0).await;
    let client = client(&running, retry(2));
    let page = client.products_page(None, 2).await.unwrap();
    let (a, b) = (&page.items[0], &page.items[1]);
    let outcomes = client
        .push(&[
            update(&a.external_id, &a.sku, 0, 5),
            update(&b.external_id, &b.sku, 999, 6),
            update("100000999999", "SM-00-999999", 999, 6),
        ])
        .await
        .unwrap();
    let rejection = outcomes[0].result.clone().unwrap_err();
    assert_eq!(rejection.code, "validation-error");
    assert!(
        rejection.message.contains("listing_price")
            && rejection.message.contains("between 1 and 100000000"),
        "{}",
        rejection.message
    );
    assert_eq!(outcomes[1].result, Ok(()));
    assert_eq!(outcomes[2].result.clone().unwrap_err().code, "not-found");
    // The refused item changed nothing.
    assert_eq!(shop(&running).product(0).stock, page_stock(&page, 0));
    assert_eq!(shop(&running).product(1).stock, 6);
}

fn page_stock(page: &sm_connectors::Page<sm_connectors::ChannelProduct>, i: usize) -> i64 {
    page.items[i].quantity.unwrap()
}
