//! The Amazon client against the SP-API stand-in: tokens, paging, pacing, faults, pushes.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use futures::TryStreamExt;
use secrecy::{ExposeSecret, SecretString};
use sm_connectors::amazon::{self, Credentials};
use sm_connectors::sandbox::SandboxSecret;
use sm_connectors::{
    Channel, ChannelError, Hosts, ListingUpdate, Money, OrderStatus, RetryPolicy, Transport,
};
use sm_sandbox::catalogue::CatalogueSize;
use sm_sandbox::faults::{Fault, Vendor};
use sm_sandbox::{Running, SandboxConfig};

const TENANT: &str = "tenant-amazon";

struct Peer {
    running: Running,
    seller: String,
}

async fn peer(products: usize, orders: usize, rate_scale: f64) -> Peer {
    let secret = SandboxSecret::new(SecretString::from("amazon-connector-tests"));
    let seller = secret.amazon_seller(TENANT);
    let mut config = SandboxConfig::new(secret);
    config.size = CatalogueSize { products, orders };
    config.rate_scale = rate_scale;
    config.fault_delay = Duration::from_millis(400);
    let running = sm_sandbox::spawn(config).await.expect("the sandbox starts");
    Peer { running, seller }
}

impl Peer {
    fn credentials(&self) -> Credentials {
        let secret = self.running.sandbox.secret();
        let (client_id, client_secret) = secret.amazon_app();
        Credentials {
            seller_id: self.seller.clone(),
            refresh_token: SecretString::from(secret.amazon_refresh_token(&self.seller)),
            client_id,
            client_secret,
            region: "eu".into(),
            marketplace_id: amazon::GERMANY.into(),
        }
    }

    fn client_with(&self, credentials: Credentials, timeout: Duration) -> amazon::Client {
        let retry = RetryPolicy {
            max_retries: 3,
            min_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(1),
        };
        amazon::Client::new(
            Transport::new(timeout, retry),
            &Hosts::Sandbox(self.running.url.clone()),
            credentials,
            &amazon::Shared::default(),
        )
    }

    fn client(&self) -> amazon::Client {
        self.client_with(self.credentials(), Duration::from_secs(5))
    }

    fn token_calls(&self) -> u64 {
        sm_sandbox::amazon::token_calls(&self.running.sandbox, &self.seller)
    }

    fn throttled(&self) -> u64 {
        sm_sandbox::amazon::throttled(&self.running.sandbox, &self.seller)
    }

    fn inject(&self, fault: Fault, times: usize) {
        self.running
            .sandbox
            .faults()
            .inject(Vendor::Amazon, fault, times);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_serves_many_concurrent_calls() {
    let peer = peer(50, 0, 10.0).await;
    let client = peer.client();
    let calls = (0..8).map(|_| client.products_page(None, 5));
    for page in futures::future::join_all(calls).await {
        assert_eq!(page.expect("a page").items.len(), 5);
    }
    let label = client.check_credentials().await.expect("valid credentials");
    assert!(
        label.contains(&peer.seller) && label.contains("amazon.de"),
        "{label}"
    );
    assert_eq!(peer.token_calls(), 1);
}

#[tokio::test]
async fn refused_app_or_refresh_token_is_invalid_credentials() {
    let peer = peer(10, 0, 10.0).await;
    let mut wrong_secret = peer.credentials();
    wrong_secret.client_secret = SecretString::from("amzn1.oa2-cs.v1.wrong");
    let error = peer
        .client_with(wrong_secret, Duration::from_secs(5))
        .check_credentials()
        .await
        .unwrap_err();
    assert!(
        matches!(error, ChannelError::InvalidCredentials { .. }),
        "{error:?}"
    );

    let mut forged = peer.credentials();
    let other = peer.running.sandbox.secret().amazon_seller("someone-else");
    forged.refresh_token = SecretString::from(
        forged
            .refresh_token
            .expose_secret()
            .replace(&peer.seller, &other),
    );
    let error = peer
        .client_with(forged, Duration::from_secs(5))
        .check_credentials()
        .await
        .unwrap_err();
    assert!(
        matches!(error, ChannelError::InvalidCredentials { .. }),
        "{error:?}"
    );
    // Neither message gives a secret away.
    assert!(!error.to_string().contains("Atzr|"));
    assert_eq!(peer.token_calls(), 0);
}

#[tokio::test]
async fn another_sellers_listings_are_out_of_reach() {
    let peer = peer(10, 0, 10.0).await;
    let mut credentials = peer.credentials();
    credentials.seller_id = peer.running.sandbox.secret().amazon_seller("someone-else");
    let error = peer
        .client_with(credentials, Duration::from_secs(5))
        .check_credentials()
        .await
        .unwrap_err();
    // The merchant typed the wrong seller id: that is theirs to fix, in Amazon's words.
    assert!(
        matches!(&error, ChannelError::InvalidCredentials { message }
            if message.contains("seller id") && message.contains("denied")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_marketplace_the_seller_does_not_sell_in_is_invalid_credentials() {
    let peer = peer(10, 0, 10.0).await;
    // France is in the EU region, but not the seller's marketplace: Amazon refuses it.
    let mut france = peer.credentials();
    france.marketplace_id = "A13V1IB3VIYZZH".into();
    let error = peer
        .client_with(france, Duration::from_secs(5))
        .check_credentials()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ChannelError::InvalidCredentials { message } if message.contains("A13V1IB3VIYZZH")),
        "{error:?}"
    );
    // The US marketplace is not in the EU region: refused before any call.
    let before = peer.token_calls();
    let mut us = peer.credentials();
    us.marketplace_id = "ATVPDKIKX0DER".into();
    let error = peer
        .client_with(us, Duration::from_secs(5))
        .check_credentials()
        .await
        .unwrap_err();
    assert!(
        matches!(error, ChannelError::InvalidCredentials { .. }),
        "{error:?}"
    );
    assert_eq!(peer.token_calls(), before, "no token asked for");
}

#[tokio::test]
async fn a_region_amazon_does_not_have_reaches_no_host() {
    let peer = peer(10, 0, 10.0).await;
    let mut credentials = peer.credentials();
    credentials.region = "eu.example.org/#".into();
    let error = peer
        .client_with(credentials, Duration::from_secs(5))
        .check_credentials()
        .await
        .unwrap_err();
    assert!(
        matches!(error, ChannelError::InvalidCredentials { .. }),
        "{error:?}"
    );
    assert_eq!(peer.token_calls(), 0, "not even the token was asked for");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_catalogue_reads_page_by_page() {
    let peer = peer(3_000, 0, 100.0).await;
    let client = peer.client();
    let pages: Vec<_> = sm_connectors::products(&client, None, 20)
        .try_collect()
        .await
        .expect("every page");
    let products: Vec<_> = pages.into_iter().flat_map(|p| p.items).collect();
    assert_eq!(products.len(), 3_000);
    let skus: HashSet<_> = products.iter().map(|p| p.sku.clone()).collect();
    assert_eq!(skus.len(), 3_000, "no listing twice");
    let shop = peer.running.sandbox.shop(Vendor::Amazon, &peer.seller);
    for product in products.iter().step_by(97) {
        let index = shop.index_of_sku(&product.sku).expect("a known SKU");
        let seeded = shop.product(index);
        assert_eq!(product.external_id, product.sku);
        assert_eq!(product.title, seeded.seed.title);
        assert_eq!(product.ean.as_deref(), Some(seeded.seed.ean.as_str()));
        assert_eq!(
            product.price,
            Some(Money {
                cents: seeded.price_cents,
                currency: "EUR".into()
            })
        );
        assert_eq!(product.quantity, Some(seeded.stock));
        assert_eq!(product.active, seeded.stock > 0);
        assert_eq!(product.images.len(), 1);
        assert!(product.description.contains(seeded.seed.brand));
        assert!(product.updated_at.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_changed_order_reads_with_its_items() {
    let peer = peer(200, 1_500, 2_000.0).await;
    let client = peer.client();
    let shop = peer.running.sandbox.shop(Vendor::Amazon, &peer.seller);
    let since = shop.catalogue.order(700).placed_at;
    let expected = (0..1_500)
        .filter(|&i| shop.catalogue.order(i).updated_at >= since)
        .count();
    let pages: Vec<_> = sm_connectors::orders(&client, since, None, 100)
        .try_collect()
        .await
        .expect("every page");
    let orders: Vec<_> = pages.into_iter().flat_map(|p| p.items).collect();
    assert_eq!(orders.len(), expected);
    let ids: HashSet<_> = orders.iter().map(|o| o.external_id.clone()).collect();
    assert_eq!(ids.len(), expected, "no order twice");
    let mut three_lines = 0;
    for order in &orders {
        assert!(order.updated_at >= since);
        assert_eq!(order.currency, "EUR");
        assert!(!order.lines.is_empty());
        let lines: i64 = order.lines.iter().map(|l| l.total_cents).sum();
        assert_eq!(order.total_cents, lines, "{}", order.external_id);
        for line in &order.lines {
            assert_eq!(
                line.unit_price_cents * i64::from(line.quantity),
                line.total_cents
            );
            assert!(line.sku.starts_with("SM-"));
        }
        if order.status == OrderStatus::Pending {
            assert!(order.customer_email.is_empty());
        } else {
            assert!(order.customer_email.ends_with("@marketplace.amazon.de"));
            assert!(order.customer_name.contains(' '));
        }
        three_lines += usize::from(order.lines.len() == 3);
    }
    // Items come two to a page: three-line orders needed the items' NextToken.
    assert!(three_lines > 0);
    assert!(orders.iter().any(|o| o.status == OrderStatus::Shipped));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_wait_for_the_bucket_instead_of_being_throttled() {
    // searchListingsItems: 5/s × 10 = 50/s, burst 5.
    let peer = peer(100, 0, 10.0).await;
    let client = peer.client();
    // The first answer teaches the client the granted rate (50/s, not the documented 5/s).
    client.check_credentials().await.expect("valid credentials");
    let start = Instant::now();
    let calls = (0..30).map(|_| client.products_page(None, 1));
    for page in futures::future::join_all(calls).await {
        page.expect("a page");
    }
    let elapsed = start.elapsed();
    assert_eq!(peer.throttled(), 0, "the stand-in never had to refuse");
    // 25 requests beyond the burst at 50/s take at least half a second; at the documented
    // 5/s they would take five.
    assert!(elapsed >= Duration::from_millis(480), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[tokio::test]
async fn a_server_error_is_retried_and_a_lasting_one_is_unavailable() {
    let peer = peer(10, 0, 10.0).await;
    let client = peer.client();
    client.check_credentials().await.expect("a token first");
    peer.inject(Fault::ServerError, 1);
    assert_eq!(
        client
            .products_page(None, 5)
            .await
            .expect("retried")
            .items
            .len(),
        5
    );
    peer.inject(Fault::ServerError, 4);
    let error = client.products_page(None, 5).await.unwrap_err();
    assert!(
        matches!(error, ChannelError::Unavailable { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_throttle_is_retried() {
    let peer = peer(10, 0, 10.0).await;
    let client = peer.client();
    client.check_credentials().await.expect("a token first");
    peer.inject(Fault::Throttle, 2);
    assert_eq!(
        client
            .products_page(None, 5)
            .await
            .expect("retried")
            .items
            .len(),
        5
    );
    peer.inject(Fault::Throttle, 4);
    let error = client.products_page(None, 5).await.unwrap_err();
    assert!(
        matches!(error, ChannelError::RateLimited { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_silent_channel_is_unavailable() {
    let peer = peer(10, 0, 10.0).await;
    let client = peer.client_with(peer.credentials(), Duration::from_millis(150));
    client.check_credentials().await.expect("a token first");
    peer.inject(Fault::Timeout, 4);
    let start = Instant::now();
    let error = client.products_page(None, 5).await.unwrap_err();
    assert!(
        matches!(error, ChannelError::Unavailable { .. }),
        "{error:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_cut_off_answer_is_a_protocol_error() {
    let peer = peer(10, 0, 10.0).await;
    let client = peer.client();
    client.check_credentials().await.expect("a token first");
    peer.inject(Fault::Malformed, 1);
    let error = client.products_page(None, 5).await.unwrap_err();
    assert!(matches!(error, ChannelError::Protocol { .. }), "{error:?}");
}

fn update(sku: &str, cents: Option<i64>, currency: &str, quantity: Option<i64>) -> ListingUpdate {
    ListingUpdate {
        external_id: sku.into(),
        parent_id: None,
        inventory_id: None,
        sku: sku.into(),
        price: cents.map(|cents| Money {
            cents,
            currency: currency.into(),
        }),
        quantity,
        expected_quantity: None,
    }
}

#[tokio::test]
async fn a_push_shows_when_reading_back() {
    let peer = peer(30, 0, 10.0).await;
    let client = peer.client();
    let first = client.products_page(None, 2).await.expect("a page").items;
    let outcomes = client
        .push(&[
            update(&first[0].sku, Some(1234), "EUR", Some(7)),
            update(&first[1].sku, None, "EUR", Some(0)),
        ])
        .await
        .expect("pushed");
    assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
    assert_eq!(outcomes[0].sku, first[0].sku);
    let after = client.products_page(None, 2).await.expect("a page").items;
    assert_eq!(after[0].price.as_ref().map(|p| p.cents), Some(1234));
    assert_eq!(after[0].quantity, Some(7));
    assert_eq!(after[1].price, first[1].price, "price untouched");
    assert_eq!(after[1].quantity, Some(0));
    assert!(!after[1].active, "no stock, not buyable");
}

#[tokio::test]
async fn an_invalid_push_is_rejected_with_amazons_reason() {
    let peer = peer(30, 0, 10.0).await;
    let client = peer.client();
    let first = client.products_page(None, 1).await.expect("a page").items;
    let sku = &first[0].sku;
    let outcomes = client
        .push(&[
            update(sku, None, "EUR", Some(-3)),
            update(sku, Some(999), "USD", None),
            update("SM-00-999999", Some(999), "EUR", None),
        ])
        .await
        .expect("answered");
    let rejection = |i: usize| outcomes[i].result.clone().unwrap_err();
    assert_eq!(rejection(0).code, "90000900");
    assert!(
        rejection(0).message.contains("quantity -3"),
        "{:?}",
        rejection(0)
    );
    assert!(rejection(1).message.contains("USD"), "{:?}", rejection(1));
    assert_eq!(rejection(2).code, "NOT_FOUND");
    let after = client.products_page(None, 1).await.expect("a page").items;
    assert_eq!(after[0].quantity, first[0].quantity, "nothing changed");
    assert_eq!(after[0].price, first[0].price);
}

#[tokio::test]
async fn orders_since_now_are_none() {
    let peer = peer(10, 50, 10.0).await;
    let client = peer.client();
    let since = Utc.timestamp_opt(4_000_000_000, 0).unwrap();
    let page = client.orders_page(since, None, 100).await.expect("a page");
    assert!(page.items.is_empty() && page.next.is_none());
}

#[tokio::test]
async fn a_dot_sku_is_rejected_not_sent_elsewhere() {
    let peer = peer(10, 0, 10.0).await;
    let client = peer.client();
    let first = client.products_page(None, 1).await.expect("a page").items;
    let outcomes = client
        .push(&[
            update(".", Some(999), "EUR", Some(1)),
            update("..", Some(999), "EUR", Some(1)),
            update("", Some(999), "EUR", Some(1)),
        ])
        .await
        .expect("answered");
    for outcome in &outcomes {
        let rejection = outcome.result.clone().unwrap_err();
        assert_eq!(rejection.code, "invalid_sku", "{outcome:?}");
    }
    let after = client.products_page(None, 1).await.expect("a page").items;
    assert_eq!(after[0].price, first[0].price, "nothing changed");
}

#[tokio::test]
async fn fba_inventory_reads_every_sku_with_its_quantity() {
    let peer = peer(60, 0, 10.0).await;
    let client = peer.client();
    let mut fba = std::collections::HashMap::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = client
            .fba_inventory_page(cursor.as_ref())
            .await
            .expect("a page");
        pages += 1;
        for (sku, quantity) in page.items {
            assert!(fba.insert(sku, quantity).is_none(), "each SKU once");
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 2, "50 summaries a page");
    let mut listed = std::collections::HashMap::new();
    let mut cursor = None;
    loop {
        let page = client
            .products_page(cursor.as_ref(), 20)
            .await
            .expect("a page");
        for product in page.items {
            listed.insert(product.sku, product.quantity.unwrap_or_default());
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(fba.len(), 60);
    assert_eq!(fba, listed, "the stand-in's stock, SKU by SKU");
}
