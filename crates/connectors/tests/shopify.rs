//! The Shopify client against the sandbox's Shopify stand-in.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use secrecy::{ExposeSecret, SecretString};
use sm_connectors::sandbox::SandboxSecret;
use sm_connectors::shopify::{self, oauth};
use sm_connectors::{
    Channel, ChannelError, ChannelOrder, ChannelProduct, Hosts, ListingUpdate, Money, OrderStatus,
    RetryPolicy, Transport,
};
use sm_sandbox::catalogue::{CatalogueSize, SeedOrderStatus};
use sm_sandbox::faults::{Fault, Vendor};
use sm_sandbox::{Running, SandboxConfig};

const TENANT: &str = "tenant-shopify-tests";

struct Setup {
    running: Running,
    secret: SandboxSecret,
    shop: String,
    hosts: Hosts,
}

async fn setup(products: usize, orders: usize, rate_scale: f64) -> Setup {
    setup_with(products, orders, rate_scale, Duration::from_secs(60)).await
}

async fn setup_with(
    products: usize,
    orders: usize,
    rate_scale: f64,
    fault_delay: Duration,
) -> Setup {
    let secret = SandboxSecret::new(SecretString::from("shopify-test-secret"));
    let mut config = SandboxConfig::new(secret.clone());
    config.size = CatalogueSize { products, orders };
    config.rate_scale = rate_scale;
    config.fault_delay = fault_delay;
    let running = sm_sandbox::spawn(config).await.expect("the sandbox starts");
    let shop = secret.shopify_shop(TENANT);
    let hosts = Hosts::Sandbox(running.url.clone());
    Setup {
        running,
        secret,
        shop,
        hosts,
    }
}

/// Short timeouts and retry delays so failures show within a second.
fn transport(timeout: Duration) -> Transport {
    Transport::new(
        timeout,
        RetryPolicy {
            max_retries: 2,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
            max_retry_after: Duration::from_secs(1),
        },
    )
}

impl Setup {
    fn client_with(&self, token: &str, transport: Transport) -> shopify::Client {
        shopify::Client::new(
            transport,
            &self.hosts,
            shopify::Credentials {
                shop_domain: self.shop.clone(),
                access_token: SecretString::from(token.to_owned()),
            },
            &shopify::Shared::default(),
        )
        .expect("a shop domain")
    }

    fn client(&self) -> shopify::Client {
        self.client_with(
            &self.secret.shopify_token(&self.shop),
            transport(Duration::from_secs(5)),
        )
    }

    fn app(&self) -> oauth::App {
        let (api_key, api_secret) = self.secret.shopify_app();
        oauth::App {
            api_key,
            api_secret,
        }
    }

    fn throttled(&self) -> u64 {
        sm_sandbox::shopify::throttled_count(&self.running.sandbox, &self.shop)
    }

    fn seed(&self) -> Arc<sm_sandbox::shops::Shop> {
        self.running.sandbox.shop(Vendor::Shopify, &self.shop)
    }

    fn inject(&self, fault: Fault, times: usize) {
        self.running
            .sandbox
            .faults()
            .inject(Vendor::Shopify, fault, times);
    }

    /// A raw Admin API query, for looking at the shop the way the client does not.
    async fn graphql(&self, query: &str) -> serde_json::Value {
        reqwest::Client::new()
            .post(format!(
                "{}/admin/api/2025-01/graphql.json",
                self.hosts.shopify_shop(&self.shop)
            ))
            .header(
                "X-Shopify-Access-Token",
                self.secret.shopify_token(&self.shop),
            )
            .json(&serde_json::json!({ "query": query }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

async fn all_products(client: &shopify::Client, page_size: usize) -> Vec<ChannelProduct> {
    let pages: Vec<_> = sm_connectors::products(client, None, page_size)
        .try_collect()
        .await
        .expect("every page reads");
    pages.into_iter().flat_map(|p| p.items).collect()
}

#[tokio::test]
async fn credentials_are_checked() {
    let s = setup(10, 10, 100.0).await;
    let name = s
        .client()
        .check_credentials()
        .await
        .expect("the token works");
    assert!(name.contains("Sandbox"), "{name}");

    let wrong = s.client_with(
        "shpat_00000000000000000000000000000000",
        transport(Duration::from_secs(5)),
    );
    assert!(matches!(
        wrong.check_credentials().await,
        Err(ChannelError::InvalidCredentials { .. })
    ));
    // Another shop's genuine token opens nothing here either.
    let other = s
        .secret
        .shopify_token(&s.secret.shopify_shop("another-tenant"));
    assert!(matches!(
        s.client_with(&other, transport(Duration::from_secs(5)))
            .check_credentials()
            .await,
        Err(ChannelError::InvalidCredentials { .. })
    ));
}

#[tokio::test]
async fn the_whole_catalogue_reads_once() {
    let s = setup(3_000, 10, 1_000.0).await;
    let client = s.client();
    let products = all_products(&client, client.limits().max_page_size).await;

    let seed = s.seed();
    let expected: BTreeSet<String> = (0..3_000).map(|i| seed.catalogue.product(i).sku).collect();
    let seen: Vec<&str> = products.iter().map(|p| p.sku.as_str()).collect();
    let unique: BTreeSet<String> = seen.iter().map(|s| s.to_string()).collect();
    assert_eq!(seen.len(), 3_000, "every variant once");
    assert_eq!(unique, expected);

    // One product in full, against the seed.
    let p = &products[41];
    let index = seed.index_of_sku(&p.sku).expect("a seeded SKU");
    let seeded = seed.product(index);
    assert_eq!(p.title, seeded.seed.title);
    assert_eq!(p.description, seeded.seed.description);
    assert_eq!(p.ean.as_deref(), Some(seeded.seed.ean.as_str()));
    assert_eq!(
        p.price,
        Some(Money {
            cents: seeded.price_cents,
            currency: "EUR".into()
        })
    );
    assert_eq!(p.quantity, Some(seeded.stock));
    assert_eq!(p.images.len(), seeded.seed.image_count);
    assert!(p.active);
    assert!(p.external_id.starts_with("gid://shopify/ProductVariant/"));
    assert!(p
        .parent_id
        .as_deref()
        .is_some_and(|id| id.starts_with("gid://shopify/Product/")));
    assert!(p
        .inventory_id
        .as_deref()
        .is_some_and(|id| id.starts_with("gid://shopify/InventoryItem/")));
    assert_eq!(s.throttled(), 0);
}

fn expected_status(status: SeedOrderStatus) -> OrderStatus {
    match status {
        SeedOrderStatus::Pending => OrderStatus::Pending,
        SeedOrderStatus::Paid => OrderStatus::Paid,
        // Shopify's order knows fulfilment, not delivery.
        SeedOrderStatus::Shipped | SeedOrderStatus::Delivered => OrderStatus::Shipped,
        SeedOrderStatus::Cancelled => OrderStatus::Cancelled,
        SeedOrderStatus::Refunded => OrderStatus::Refunded,
    }
}

#[tokio::test]
async fn orders_read_incrementally() {
    let s = setup(200, 600, 1_000.0).await;
    let seed = s.seed();
    // Only the last 60 days are visible without read_all_orders.
    let visible: Vec<_> = (0..600)
        .map(|i| seed.catalogue.order(i))
        .filter(|o| o.placed_at >= Utc::now() - chrono::Duration::days(60))
        .collect();
    let mut updates: Vec<DateTime<Utc>> = visible.iter().map(|o| o.updated_at).collect();
    updates.sort();
    let middle = updates[updates.len() / 2];
    let since = DateTime::from_timestamp(middle.timestamp(), 0).unwrap();
    let expected: HashMap<String, _> = visible
        .iter()
        .filter(|o| o.updated_at >= since)
        .map(|o| (format!("#{}", o.number), o))
        .collect();
    assert!(expected.len() > 100 && expected.len() < visible.len());

    let client = s.client();
    let pages: Vec<_> = sm_connectors::orders(&client, since, None, 50)
        .try_collect()
        .await
        .expect("every page reads");
    assert!(pages.len() > 5, "several pages: {}", pages.len());
    let orders: Vec<ChannelOrder> = pages.into_iter().flat_map(|p| p.items).collect();
    let names: BTreeSet<&str> = orders.iter().map(|o| o.order_number.as_str()).collect();
    assert_eq!(names.len(), orders.len(), "each order once");
    assert_eq!(
        names,
        expected.keys().map(String::as_str).collect::<BTreeSet<_>>()
    );
    assert!(
        orders
            .windows(2)
            .all(|w| w[0].updated_at <= w[1].updated_at),
        "oldest change first"
    );
    for order in &orders {
        let seeded = expected[&order.order_number];
        assert_eq!(order.status, expected_status(seeded.status));
        assert_eq!(order.total_cents, seeded.total_cents());
        assert_eq!(order.currency, "EUR");
        assert_eq!(order.customer_email, seeded.customer.email);
        assert_eq!(
            order.customer_name,
            format!(
                "{} {}",
                seeded.customer.first_name, seeded.customer.last_name
            )
        );
        assert_eq!(order.lines.len(), seeded.lines.len());
        for (line, seeded_line) in order.lines.iter().zip(&seeded.lines) {
            assert_eq!(i64::from(line.quantity), seeded_line.quantity);
            assert_eq!(line.unit_price_cents, seeded_line.unit_price_cents);
            assert_eq!(
                line.total_cents,
                seeded_line.unit_price_cents * seeded_line.quantity
            );
            assert_eq!(
                line.sku,
                seed.catalogue.product(seeded_line.product_index).sku
            );
        }
    }
}

#[tokio::test]
async fn products_read_incrementally() {
    let s = setup(60, 10, 1_000.0).await;
    let client = s.client();
    let since = Utc::now();
    let shop = s.seed();
    shop.set_price(5, 4_321);
    shop.set_stock(40, 3);
    let mut changed = Vec::new();
    let mut cursor = None;
    loop {
        let page = client
            .products_changed_page(since, cursor.as_ref(), 25)
            .await
            .expect("every page reads");
        changed.extend(page.items);
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    let skus: BTreeSet<&str> = changed.iter().map(|p| p.sku.as_str()).collect();
    let expected = [5, 40].map(|i| shop.product(i).seed.sku);
    assert_eq!(skus, expected.iter().map(String::as_str).collect());
    let repriced = changed.iter().find(|p| p.sku == expected[0]).unwrap();
    assert_eq!(repriced.price.as_ref().unwrap().cents, 4_321);
    // A full read still lists everything.
    assert_eq!(all_products(&client, 25).await.len(), 60);
}

#[tokio::test]
async fn pushed_prices_and_stock_read_back() {
    let s = setup(60, 10, 1_000.0).await;
    let client = s.client();
    let before = all_products(&client, 25).await;
    let (a, b) = (&before[3], &before[30]);
    let update = |p: &ChannelProduct, cents: i64, quantity: i64| ListingUpdate {
        external_id: p.external_id.clone(),
        parent_id: p.parent_id.clone(),
        inventory_id: p.inventory_id.clone(),
        sku: p.sku.clone(),
        price: Some(Money {
            cents,
            currency: "EUR".into(),
        }),
        quantity: Some(quantity),
        expected_quantity: None,
    };
    let outcomes = client
        .push(&[update(a, 1_234, 7), update(b, 99_999, 0)])
        .await
        .expect("the push goes through");
    assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
    assert_eq!(outcomes[1].sku, b.sku);

    let after = all_products(&client, 25).await;
    let find = |sku: &str| after.iter().find(|p| p.sku == sku).unwrap();
    assert_eq!(find(&a.sku).price.as_ref().unwrap().cents, 1_234);
    assert_eq!(find(&a.sku).quantity, Some(7));
    assert_eq!(find(&b.sku).price.as_ref().unwrap().cents, 99_999);
    assert_eq!(find(&b.sku).quantity, Some(0));
    let untouched = &before[10];
    assert_eq!(find(&untouched.sku), untouched);

    // A refused item comes back as its rejection, the rest of the call is untouched.
    let mut bad = update(a, 500, 3);
    bad.inventory_id = Some("gid://shopify/InventoryItem/999999".into());
    bad.price = None;
    let negative = ListingUpdate {
        price: Some(Money {
            cents: -100,
            currency: "EUR".into(),
        }),
        quantity: None,
        ..update(b, 0, 0)
    };
    let outcomes = client.push(&[bad, negative]).await.unwrap();
    let rejection = outcomes[0].result.as_ref().unwrap_err();
    assert_eq!(rejection.code, "INVALID_INVENTORY_ITEM", "{rejection:?}");
    let rejection = outcomes[1].result.as_ref().unwrap_err();
    // Shopify's enum has both codes for this; either names the price.
    assert!(
        ["NEGATIVE_PRICE_VALUE", "GREATER_THAN_OR_EQUAL_TO"].contains(&rejection.code.as_str()),
        "{rejection:?}"
    );
    let again = all_products(&client, 25).await;
    let find = |sku: &str| again.iter().find(|p| p.sku == sku).unwrap().clone();
    assert_eq!(find(&a.sku).quantity, Some(7));
    assert_eq!(find(&b.sku).price.as_ref().unwrap().cents, 99_999);
    assert_eq!(s.throttled(), 0);
}

/// A stock set with the quantity last read: a sale at Shopify since (the quantity moved)
/// rejects that item with `stock_changed_at_channel`, and the rest of the call is applied.
#[tokio::test]
async fn a_stock_changed_at_shopify_is_not_overwritten() {
    let s = setup(20, 0, 1_000.0).await;
    let client = s.client();
    let before = all_products(&client, 25).await;
    let (a, b) = (&before[2], &before[5]);
    let update = |p: &ChannelProduct, quantity: i64, expected: i64| ListingUpdate {
        external_id: p.external_id.clone(),
        parent_id: p.parent_id.clone(),
        inventory_id: p.inventory_id.clone(),
        sku: p.sku.clone(),
        price: None,
        quantity: Some(quantity),
        expected_quantity: Some(expected),
    };
    let (a_had, b_had) = (a.quantity.unwrap(), b.quantity.unwrap());
    // A sold one at Shopify after we read it.
    let outcomes = client
        .push(&[update(a, 40, a_had + 1), update(b, 41, b_had)])
        .await
        .unwrap();
    let rejection = outcomes[0].result.as_ref().unwrap_err();
    assert_eq!(rejection.code, sm_connectors::STOCK_CHANGED_AT_CHANNEL);
    assert!(outcomes[1].result.is_ok(), "{outcomes:?}");
    let after = all_products(&client, 25).await;
    let find = |sku: &str| after.iter().find(|p| p.sku == sku).unwrap().quantity;
    assert_eq!(find(&a.sku), Some(a_had), "not overwritten");
    assert_eq!(find(&b.sku), Some(41));
    // With the quantity Shopify has, it is set.
    let outcomes = client.push(&[update(a, 40, a_had)]).await.unwrap();
    assert!(outcomes[0].result.is_ok(), "{outcomes:?}");
    assert_eq!(
        all_products(&client, 25)
            .await
            .iter()
            .find(|p| p.sku == a.sku)
            .unwrap()
            .quantity,
        Some(40)
    );
}

#[tokio::test]
async fn pacing_keeps_clear_of_throttling() {
    // 1,000 points restoring at 1,000 a second; every page asks for 778, so a client
    // that does not wait is throttled from the second page on.
    let s = setup(300, 10, 20.0).await;
    let client = s.client();
    let started = Instant::now();
    let products = all_products(&client, 25).await;
    assert_eq!(products.len(), 300);
    assert_eq!(s.throttled(), 0, "the stand-in never had to throttle");
    assert!(
        started.elapsed() > Duration::from_millis(500),
        "the bucket mattered: {:?}",
        started.elapsed()
    );
    // The learned restore rate shows in the limits: 1,000 points a second.
    assert_eq!(client.limits().requests_per_second, 1_000.0 / 50.0);
}

#[tokio::test]
async fn clients_of_one_shop_share_its_bucket() {
    let s = setup(300, 10, 20.0).await;
    let shared = shopify::Shared::default();
    let token = s.secret.shopify_token(&s.shop);
    let make = || {
        shopify::Client::new(
            transport(Duration::from_secs(5)),
            &s.hosts,
            shopify::Credentials {
                shop_domain: s.shop.clone(),
                access_token: SecretString::from(token.clone()),
            },
            &shared,
        )
        .expect("a shop domain")
    };
    let (one, two) = (make(), make());
    let (a, b) = tokio::join!(all_products(&one, 25), all_products(&two, 25));
    assert_eq!((a.len(), b.len()), (300, 300));
    assert_eq!(s.throttled(), 0);
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let s = setup(10, 10, 100.0).await;
    let client = s.client();
    s.inject(Fault::ServerError, 1);
    assert!(client.check_credentials().await.is_ok());
    // Three attempts (two retries) all fail.
    s.inject(Fault::ServerError, 3);
    assert!(matches!(
        client.check_credentials().await,
        Err(ChannelError::Unavailable { .. })
    ));
    assert!(client.check_credentials().await.is_ok());
}

#[tokio::test]
async fn timeouts_are_retried_then_reported() {
    let s = setup_with(10, 10, 100.0, Duration::from_secs(2)).await;
    let client = s.client_with(
        &s.secret.shopify_token(&s.shop),
        transport(Duration::from_millis(300)),
    );
    s.inject(Fault::Timeout, 1);
    assert!(client.check_credentials().await.is_ok());
    s.inject(Fault::Timeout, 3);
    assert!(matches!(
        client.check_credentials().await,
        Err(ChannelError::Unavailable { .. })
    ));
}

#[tokio::test]
async fn throttled_answers_are_waited_out() {
    let s = setup(10, 10, 100.0).await;
    let client = s.client();
    s.inject(Fault::Throttle, 2);
    let page = client.products_page(None, 5).await.expect("retried");
    assert_eq!(page.items.len(), 5);
    // Throttled every time: the call gives up as rate limited.
    s.inject(Fault::Throttle, 20);
    assert!(matches!(
        client.check_credentials().await,
        Err(ChannelError::RateLimited { .. })
    ));
}

#[tokio::test]
async fn malformed_answers_are_protocol_errors() {
    let s = setup(10, 10, 100.0).await;
    let client = s.client();
    s.inject(Fault::Malformed, 1);
    assert!(matches!(
        client.products_page(None, 5).await,
        Err(ChannelError::Protocol { .. })
    ));
    assert!(client.products_page(None, 5).await.is_ok());
}

#[tokio::test]
async fn the_install_flow_grants_a_working_token() {
    let s = setup(10, 10, 100.0).await;
    let app = s.app();
    let redirect_uri = "https://cockpit.example/api/shopify/callback";
    let url = oauth::authorize_url(&s.hosts, &app, &s.shop, redirect_uri, "nonce-123").unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(&url).send().await.unwrap();
    assert!(answer.status().is_redirection(), "{}", answer.status());
    let location = answer.headers()["location"].to_str().unwrap();
    let callback = url::Url::parse(location).unwrap();
    assert!(callback.as_str().starts_with(redirect_uri));
    let params: Vec<(String, String)> = callback.query_pairs().into_owned().collect();
    let param = |k: &str| params.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert!(oauth::verify_callback(
        &app,
        &params,
        Utc::now().timestamp()
    ));
    assert_eq!(param("state"), "nonce-123");
    assert_eq!(param("shop"), s.shop);
    // A tampered callback fails.
    let mut forged = params.clone();
    forged.iter_mut().find(|(k, _)| k == "state").unwrap().1 = "other".into();
    assert!(!oauth::verify_callback(
        &app,
        &forged,
        Utc::now().timestamp()
    ));

    let transport = transport(Duration::from_secs(5));
    let grant = oauth::exchange_code(&transport, &s.hosts, &app, &s.shop, &param("code"))
        .await
        .expect("the code is good once");
    assert!(grant.scope.contains("write_products"));
    let client = s.client_with(grant.access_token.expose_secret(), transport.clone());
    assert!(client.check_credentials().await.is_ok());
    assert!(matches!(
        oauth::exchange_code(&transport, &s.hosts, &app, &s.shop, &param("code")).await,
        Err(ChannelError::InvalidCredentials { .. })
    ));
}

/// Approves an install asking for `scope` and returns the callback's code.
async fn install_code(s: &Setup, scope: &str) -> String {
    let url = oauth::authorize_url(
        &s.hosts,
        &s.app(),
        &s.shop,
        "https://cockpit.example/api/shopify/callback",
        "n",
    )
    .unwrap();
    let mut url = url::Url::parse(&url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "scope" {
                (k, scope.to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(&pairs);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(url).send().await.unwrap();
    let callback = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    let code = callback.query_pairs().find(|(k, _)| k == "code").unwrap().1;
    code.into_owned()
}

#[tokio::test]
async fn an_install_with_fewer_scopes_is_reported_missing_them() {
    let s = setup(10, 10, 100.0).await;
    let transport = transport(Duration::from_secs(5));
    assert!(
        s.client().check_credentials().await.is_ok(),
        "preset token: all scopes"
    );
    let code = install_code(
        &s,
        "read_products,write_products,read_inventory,read_locations",
    )
    .await;
    assert_eq!(
        oauth::exchange_code(&transport, &s.hosts, &s.app(), &s.shop, &code)
            .await
            .err(),
        Some(ChannelError::MissingScope {
            scope: "read_orders,write_inventory".into()
        })
    );
    // The installation now holds the narrower scopes: the check says which are missing.
    assert_eq!(
        s.client().check_credentials().await,
        Err(ChannelError::MissingScope {
            scope: "read_orders,write_inventory".into()
        })
    );
    // Reinstalling with every scope (write implying read) makes the shop whole again.
    let code = install_code(
        &s,
        "write_products,read_orders,write_inventory,read_locations",
    )
    .await;
    assert!(
        oauth::exchange_code(&transport, &s.hosts, &s.app(), &s.shop, &code)
            .await
            .is_ok()
    );
    assert!(s.client().check_credentials().await.is_ok());
}

#[tokio::test]
async fn the_code_exchange_is_sent_once() {
    let s = setup(10, 10, 100.0).await;
    let code = install_code(&s, oauth::SCOPES).await;
    s.inject(Fault::ServerError, 1);
    let transport = transport(Duration::from_secs(5));
    match oauth::exchange_code(&transport, &s.hosts, &s.app(), &s.shop, &code).await {
        Err(ChannelError::Unavailable { message }) => {
            assert!(
                message.contains("start the installation again"),
                "{message}"
            )
        }
        other => panic!("expected Unavailable, got {:?}", other.map(|g| g.scope)),
    }
}

#[tokio::test]
async fn only_shop_domains_are_called() {
    let s = setup(10, 10, 100.0).await;
    let transport = transport(Duration::from_secs(5));
    for bad in ["evil.com", "127.0.0.1:8080", "x.myshopify.com.evil.com"] {
        let credentials = shopify::Credentials {
            shop_domain: bad.to_owned(),
            access_token: SecretString::from(s.secret.shopify_token(&s.shop)),
        };
        assert!(matches!(
            shopify::Client::new(
                transport.clone(),
                &s.hosts,
                credentials.clone(),
                &shopify::Shared::default()
            ),
            Err(ChannelError::InvalidCredentials { .. })
        ));
        let connectors = sm_connectors::Connectors::new(sm_connectors::ConnectorsConfig::default());
        assert!(matches!(
            connectors.connect(
                sm_connectors::ConnectionCredentials::Shopify(credentials),
                false
            ),
            Err(ChannelError::InvalidCredentials { .. })
        ));
        assert!(matches!(
            oauth::exchange_code(&transport, &s.hosts, &s.app(), bad, "code").await,
            Err(ChannelError::InvalidCredentials { .. })
        ));
        assert!(oauth::authorize_url(&s.hosts, &s.app(), bad, "https://r", "n").is_err());
    }
}

type Received = Arc<Mutex<Vec<(http::HeaderMap, Vec<u8>)>>>;

/// A webhook receiver on a free local port; returns its URL and what it received.
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let store = received.clone();
    let app = axum::Router::new().route(
        "/webhooks/shopify",
        axum::routing::post(
            move |headers: http::HeaderMap, body: axum::body::Bytes| async move {
                store.lock().unwrap().push((headers, body.to_vec()));
                http::StatusCode::OK
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/webhooks/shopify"), received)
}

#[tokio::test]
async fn webhooks_are_registered_once_and_arrive_signed() {
    let s = setup(10, 10, 100.0).await;
    let client = s.client();
    let (callback, received) = receiver().await;
    client
        .register_webhooks(&callback)
        .await
        .expect("registered");
    client
        .register_webhooks(&callback)
        .await
        .expect("registering again changes nothing");
    let listed = s
        .graphql("{ webhookSubscriptions(first: 50) { nodes { topic format } } }")
        .await;
    let mut topics: Vec<String> = listed["data"]["webhookSubscriptions"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            assert_eq!(n["format"], "JSON");
            n["topic"].as_str().unwrap().to_owned()
        })
        .collect();
    topics.sort();
    assert_eq!(
        topics,
        ["APP_UNINSTALLED", "ORDERS_CREATE", "PRODUCTS_UPDATE"]
    );

    let product = client.products_page(None, 1).await.unwrap().items.remove(0);
    let outcomes = client
        .push(&[ListingUpdate {
            external_id: product.external_id.clone(),
            parent_id: product.parent_id.clone(),
            inventory_id: product.inventory_id.clone(),
            sku: product.sku.clone(),
            price: Some(Money {
                cents: 4_242,
                currency: "EUR".into(),
            }),
            quantity: None,
            expected_quantity: None,
        }])
        .await
        .unwrap();
    assert!(outcomes[0].result.is_ok());

    let deadline = Instant::now() + Duration::from_secs(5);
    while received.lock().unwrap().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let received = received.lock().unwrap();
    let (headers, body) = received.first().expect("a webhook arrived");
    assert_eq!(headers["x-shopify-topic"], "products/update");
    assert_eq!(headers["x-shopify-shop-domain"], s.shop.as_str());
    let signature = headers["x-shopify-hmac-sha256"].to_str().unwrap();
    let app = s.app();
    assert!(oauth::verify_webhook(&app.api_secret, body, signature));
    assert!(!oauth::verify_webhook(
        &SecretString::from("another-secret"),
        body,
        signature
    ));
    let payload: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(
        payload["admin_graphql_api_id"],
        product.parent_id.unwrap().as_str()
    );
    assert_eq!(payload["variants"][0]["price"], "42.42");
}
