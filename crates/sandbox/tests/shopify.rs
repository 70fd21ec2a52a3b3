//! The Shopify stand-in as a client meets it: over HTTP, with Shopify's auth, query
//! language, cost throttle, OAuth install flow and signed webhooks.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};
use sm_connectors::sandbox::SandboxSecret;
use sm_connectors::shopify::oauth::{verify_callback, verify_webhook, App};
use sm_sandbox::catalogue::CatalogueSize;
use sm_sandbox::faults::{Fault, Vendor};
use sm_sandbox::{shopify, spawn, Running, SandboxConfig};
use tokio::sync::mpsc;

fn config(products: usize, orders: usize, rate_scale: f64) -> SandboxConfig {
    let mut config = SandboxConfig::new(SandboxSecret::new(SecretString::from(
        "shopify-stand-in-test",
    )));
    config.size = CatalogueSize { products, orders };
    config.rate_scale = rate_scale;
    config.fault_delay = Duration::from_millis(50);
    config
}

struct Shop {
    running: Running,
    http: reqwest::Client,
    domain: String,
    token: String,
}

impl Shop {
    async fn start(config: SandboxConfig) -> Shop {
        let running = spawn(config).await.expect("sandbox listens");
        let domain = running.sandbox.secret().shopify_shop("tenant-1");
        let token = running.sandbox.secret().shopify_token(&domain);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Shop {
            running,
            http,
            domain,
            token,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}shopify/{}{path}", self.running.url, self.domain)
    }

    async fn raw(&self, version: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut request = self
            .http
            .post(self.url(&format!("/admin/api/{version}/graphql.json")))
            .json(&body);
        if let Some(token) = token {
            request = request.header("X-Shopify-Access-Token", token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn gql(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self
            .raw(
                "2025-01",
                Some(&self.token),
                json!({"query": query, "variables": variables}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    fn app(&self) -> App {
        let (api_key, api_secret) = self.running.sandbox.secret().shopify_app();
        App {
            api_key,
            api_secret,
        }
    }
}

const SHOP_QUERY: &str = r#"query { shop { name myshopifyDomain currencyCode } }"#;

#[tokio::test]
async fn only_the_shops_own_token_opens_the_api() {
    let shop = Shop::start(config(5, 5, 1.0)).await;
    let query = json!({ "query": SHOP_QUERY });
    let refused = json!({
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    });
    for token in [None, Some("shpat_0000"), Some("")] {
        let (status, body) = shop.raw("2025-01", token, query.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, refused);
    }
    let secret = shop.running.sandbox.secret();
    let other = secret.shopify_token(&secret.shopify_shop("tenant-2"));
    let (status, _) = shop.raw("2025-01", Some(&other), query.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "another shop's token");

    let (status, _) = shop.raw("2023-01", Some(&shop.token), query.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "unserved API version");

    let body = shop.gql(SHOP_QUERY, json!({})).await;
    assert_eq!(body["data"]["shop"]["myshopifyDomain"], json!(shop.domain));
    assert_eq!(body["data"]["shop"]["currencyCode"], json!("EUR"));
}

const PRODUCTS_PAGE: &str = r#"
query Products($first: Int!, $after: String) {
  products(first: $first, after: $after) {
    edges {
      cursor
      node {
        id
        headline: title
        ...Basics
        variants(first: 1) {
          nodes { sku price inventoryQuantity inventoryItem { id } }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
fragment Basics on Product { handle status }
"#;

#[tokio::test]
async fn answers_carry_exactly_the_fields_asked() {
    let shop = Shop::start(config(5, 5, 1.0)).await;
    let body = shop.gql(PRODUCTS_PAGE, json!({"first": 2})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let edges = body["data"]["products"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2);
    let node = &edges[0]["node"];
    let mut keys: Vec<_> = node.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["handle", "headline", "id", "status", "variants"]);
    assert_eq!(node["id"], json!("gid://shopify/Product/1"));
    let catalogue = &shop.running.sandbox.shop(Vendor::Shopify, &shop.domain);
    let seed = catalogue.product(0);
    assert_eq!(node["headline"], json!(seed.seed.title));
    let variant = &node["variants"]["nodes"][0];
    assert_eq!(
        variant.as_object().unwrap().len(),
        4,
        "sku price inventoryQuantity inventoryItem"
    );
    assert_eq!(variant["sku"], json!(seed.seed.sku));
    let cents = seed.price_cents;
    assert_eq!(
        variant["price"],
        json!(format!("{}.{:02}", cents / 100, cents % 100))
    );
    assert_eq!(variant["inventoryQuantity"], json!(seed.stock));
    assert_eq!(
        variant["inventoryItem"],
        json!({"id": "gid://shopify/InventoryItem/1"})
    );
    assert_eq!(
        body["data"]["products"]["pageInfo"]["hasNextPage"],
        json!(true)
    );
}

#[tokio::test]
async fn unknown_fields_and_bad_syntax_are_graphql_errors() {
    let shop = Shop::start(config(5, 5, 1.0)).await;
    let body = shop
        .gql(
            "query {\n  products(first: 1) {\n    nodes { id colour }\n  }\n}",
            json!({}),
        )
        .await;
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(
        body["errors"][0],
        json!({
            "message": "Field 'colour' doesn't exist on type 'Product'",
            "locations": [{"line": 3, "column": 16}],
            "path": ["query", "products", "nodes", "colour"],
            "extensions": {"code": "undefinedField", "typeName": "Product", "fieldName": "colour"},
        })
    );

    let body = shop.gql("query { shop { name }", json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("syntax error"), "{message}");
    assert_eq!(body["errors"][0]["locations"][0]["line"], json!(1));
    assert!(body.get("data").is_none());

    let body = shop.gql("query { shop }", json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        json!("selectionMismatch")
    );
}

const FRAGMENT_CYCLE: &str =
    r#"query { shop { ...A } } fragment A on Shop { name ...B } fragment B on Shop { ...A }"#;

#[tokio::test]
async fn fragment_cycles_and_bombs_are_refused_quickly() {
    let shop = Shop::start(config(5, 5, 1.0)).await;
    let body = shop.gql(FRAGMENT_CYCLE, json!({})).await;
    assert!(body.get("data").is_none(), "{body}");
    // Ten spreads of ten spreads of ...: 10^8 fields once expanded.
    let mut bomb = String::from("query { shop { ...F0 } }");
    for level in 0..8 {
        let spreads = format!(" ...F{}", level + 1).repeat(10);
        bomb.push_str(&format!(" fragment F{level} on Shop {{ name{spreads} }}"));
    }
    bomb.push_str(" fragment F8 on Shop { name }");
    let started = std::time::Instant::now();
    let body = shop.gql(&bomb, json!({})).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        json!("MAX_COMPLEXITY_EXCEEDED")
    );
}

const BY_SKU: &str =
    r#"query BySku($q: String) { products(first: 5, query: $q) { nodes { id } } }"#;

#[tokio::test]
async fn products_can_be_found_by_sku() {
    let shop = Shop::start(config(8, 5, 1.0)).await;
    let sku = shop
        .running
        .sandbox
        .shop(Vendor::Shopify, &shop.domain)
        .product(5)
        .seed
        .sku;
    let body = shop.gql(BY_SKU, json!({"q": format!("sku:{sku}")})).await;
    assert_eq!(
        body["data"]["products"]["nodes"],
        json!([{"id": "gid://shopify/Product/6"}])
    );
}

const TITLES: &str =
    r#"query Titles($first: Int) { products(first: $first) { edges { node { title } } } }"#;
const VARIANTS_OF_MANY: &str =
    r#"query { products(first: 250) { nodes { variants(first: 5) { nodes { id } } } } }"#;

#[tokio::test]
async fn every_answer_reports_its_cost_and_big_queries_are_refused() {
    let shop = Shop::start(config(20, 5, 2.0)).await;
    let body = shop.gql(TITLES, json!({"first": 10})).await;
    let cost = &body["extensions"]["cost"];
    // 2 for the connection + 10 × 1 per product (title is a scalar: free).
    assert_eq!(cost["requestedQueryCost"], json!(12));
    assert_eq!(cost["actualQueryCost"], json!(12));
    assert_eq!(cost["throttleStatus"]["maximumAvailable"], json!(1000.0));
    assert_eq!(cost["throttleStatus"]["restoreRate"], json!(100.0));
    let available = cost["throttleStatus"]["currentlyAvailable"]
        .as_u64()
        .unwrap();
    assert!((985..=988).contains(&available), "{available}");

    // Only 20 products exist: the actual cost counts what came back.
    let body = shop.gql(TITLES, json!({"first": 100})).await;
    assert_eq!(body["extensions"]["cost"]["requestedQueryCost"], json!(102));
    assert_eq!(body["extensions"]["cost"]["actualQueryCost"], json!(22));

    let body = shop.gql(TITLES, json!({"first": 251})).await;
    assert!(body.get("data").is_none());
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("250"));

    // 2 + 250 × (1 + 2 + 5 × 1) = 2002 > 1000.
    let body = shop.gql(VARIANTS_OF_MANY, json!({})).await;
    assert!(body.get("data").is_none());
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        json!("MAX_COST_EXCEEDED")
    );
    assert_eq!(
        body["extensions"]["cost"]["requestedQueryCost"],
        json!(2002)
    );
}

const IDS: &str = r#"query { products(first: 100) { nodes { id } } }"#;

#[tokio::test]
async fn a_client_ignoring_the_bucket_is_throttled_and_counted() {
    // 200 products: each request really costs 102; the bucket restores 0.5 points/s.
    let shop = Shop::start(config(200, 5, 0.01)).await;
    assert_eq!(
        shopify::throttled_count(&shop.running.sandbox, &shop.domain),
        0
    );
    let mut throttled = 0;
    for _ in 0..12 {
        let body = shop.gql(IDS, json!({})).await;
        if body["errors"][0]["extensions"]["code"] == json!("THROTTLED") {
            throttled += 1;
            assert!(body.get("data").is_none());
            assert_eq!(body["errors"][0]["message"], json!("Throttled"));
            let cost = &body["extensions"]["cost"];
            assert_eq!(cost["actualQueryCost"], Value::Null);
            assert_eq!(cost["requestedQueryCost"], json!(102));
            assert!(
                cost["throttleStatus"]["currentlyAvailable"]
                    .as_u64()
                    .unwrap()
                    < 102
            );
        } else {
            assert_eq!(
                body["data"]["products"]["nodes"].as_array().unwrap().len(),
                100
            );
        }
    }
    // 1000 points pay for 9 requests of 102.
    assert_eq!(throttled, 3);
    assert_eq!(
        shopify::throttled_count(&shop.running.sandbox, &shop.domain),
        3
    );
}

const ORDERS_SINCE: &str = r#"
query Orders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    edges {
      cursor
      node {
        id name updatedAt displayFinancialStatus displayFulfillmentStatus
        totalPriceSet { shopMoney { amount currencyCode } }
        customer { firstName lastName email }
        lineItems(first: 5) {
          nodes { id sku title quantity originalUnitPriceSet { shopMoney { amount } } variant { id } }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"#;

#[tokio::test]
async fn pages_walk_every_product_and_filtered_order_once() {
    let shop = Shop::start(config(23, 60, 50.0)).await;
    let mut ids = Vec::new();
    let mut after = Value::Null;
    loop {
        let body = shop
            .gql(PRODUCTS_PAGE, json!({"first": 5, "after": after}))
            .await;
        let products = &body["data"]["products"];
        for edge in products["edges"].as_array().unwrap() {
            ids.push(edge["node"]["id"].as_str().unwrap().to_owned());
        }
        if products["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = products["pageInfo"]["endCursor"].clone();
    }
    let expected: Vec<_> = (1..=23)
        .map(|n| format!("gid://shopify/Product/{n}"))
        .collect();
    assert_eq!(ids, expected);

    // Orders updated after a point in time, oldest change first.
    let book = shop.running.sandbox.shop(Vendor::Shopify, &shop.domain);
    let since = book.catalogue.order(30).updated_at;
    let visible_from = Utc::now() - chrono::Duration::days(60);
    let mut wanted: Vec<_> = (0..60)
        .map(|i| book.catalogue.order(i))
        .filter(|o| o.updated_at > since && o.placed_at >= visible_from)
        .collect();
    wanted.sort_by_key(|o| (o.updated_at, o.index));
    let filter = format!("updated_at:>'{}'", since.to_rfc3339());
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let body = shop
            .gql(
                ORDERS_SINCE,
                json!({"first": 4, "after": after, "query": filter}),
            )
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        let orders = &body["data"]["orders"];
        for edge in orders["edges"].as_array().unwrap() {
            let node = &edge["node"];
            let at: DateTime<Utc> = node["updatedAt"].as_str().unwrap().parse().unwrap();
            assert!(at >= since - chrono::Duration::seconds(1));
            assert_eq!(
                node["totalPriceSet"]["shopMoney"]["currencyCode"],
                json!("EUR")
            );
            assert!(!node["lineItems"]["nodes"].as_array().unwrap().is_empty());
            seen.push(node["name"].as_str().unwrap().to_owned());
        }
        if orders["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = orders["pageInfo"]["endCursor"].clone();
    }
    let wanted: Vec<_> = wanted.iter().map(|o| format!("#{}", o.number)).collect();
    assert!(!wanted.is_empty());
    assert_eq!(seen, wanted);
}

const SET_PRICE: &str = r#"
mutation SetPrice($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants) {
    product { id }
    productVariants { id price }
    userErrors { field message code }
  }
}
"#;

const SET_STOCK: &str = r#"
mutation SetStock($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { reason changes { name delta quantityAfterChange } }
    userErrors { field message code }
  }
}
"#;

const ONE_PRODUCT: &str = r#"
query One($id: ID!) {
  product(id: $id) {
    updatedAt
    variants(first: 1) { nodes { price inventoryQuantity updatedAt } }
  }
}
"#;

const LOCATIONS: &str = r#"query { locations(first: 5) { nodes { id name } } }"#;

fn stock_input(item: &str, location: &str, quantity: i64) -> Value {
    json!({"input": {
        "name": "available",
        "reason": "correction",
        "ignoreCompareQuantity": true,
        "quantities": [{"inventoryItemId": item, "locationId": location, "quantity": quantity}],
    }})
}

#[tokio::test]
async fn pushed_prices_and_stock_show_on_the_next_read() {
    let shop = Shop::start(config(5, 5, 50.0)).await;
    let body = shop.gql(LOCATIONS, json!({})).await;
    let location = body["data"]["locations"]["nodes"][0].clone();
    assert_eq!(location["name"], json!("Lager Berlin"));
    let location = location["id"].as_str().unwrap().to_owned();
    let before = shop
        .gql(ONE_PRODUCT, json!({"id": "gid://shopify/Product/3"}))
        .await;
    let before_at = before["data"]["product"]["updatedAt"].clone();

    let body = shop
        .gql(
            SET_PRICE,
            json!({"productId": "gid://shopify/Product/3",
                   "variants": [{"id": "gid://shopify/ProductVariant/3", "price": "12.34"}]}),
        )
        .await;
    let payload = &body["data"]["productVariantsBulkUpdate"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    assert_eq!(
        payload["productVariants"],
        json!([{"id": "gid://shopify/ProductVariant/3", "price": "12.34"}])
    );
    assert_eq!(body["extensions"]["cost"]["requestedQueryCost"], json!(10));

    let body = shop
        .gql(
            SET_STOCK,
            stock_input("gid://shopify/InventoryItem/3", &location, 7),
        )
        .await;
    let payload = &body["data"]["inventorySetQuantities"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    assert_eq!(
        payload["inventoryAdjustmentGroup"]["changes"][0]["quantityAfterChange"],
        json!(7)
    );

    let after = shop
        .gql(ONE_PRODUCT, json!({"id": "gid://shopify/Product/3"}))
        .await;
    let variant = &after["data"]["product"]["variants"]["nodes"][0];
    assert_eq!(variant["price"], json!("12.34"));
    assert_eq!(variant["inventoryQuantity"], json!(7));
    assert_ne!(after["data"]["product"]["updatedAt"], before_at);

    // Bad input: user errors, nothing changed.
    let body = shop
        .gql(
            SET_STOCK,
            stock_input("gid://shopify/InventoryItem/3", &location, -1),
        )
        .await;
    let errors = &body["data"]["inventorySetQuantities"]["userErrors"];
    assert_eq!(errors[0]["code"], json!("INVALID_QUANTITY_NEGATIVE"));
    assert_eq!(
        errors[0]["field"],
        json!(["input", "quantities", "0", "quantity"])
    );
    let body = shop
        .gql(
            SET_STOCK,
            stock_input("gid://shopify/InventoryItem/999", &location, 1),
        )
        .await;
    assert_eq!(
        body["data"]["inventorySetQuantities"]["userErrors"][0]["code"],
        json!("INVALID_INVENTORY_ITEM")
    );
    let body = shop
        .gql(
            SET_PRICE,
            json!({"productId": "gid://shopify/Product/3",
                   "variants": [{"id": "gid://shopify/ProductVariant/3", "price": "-1.00"}]}),
        )
        .await;
    assert_eq!(
        body["data"]["productVariantsBulkUpdate"]["userErrors"][0]["code"],
        json!("GREATER_THAN_OR_EQUAL_TO")
    );
    let body = shop
        .gql(
            SET_PRICE,
            json!({"productId": "gid://shopify/Product/99",
                   "variants": [{"id": "gid://shopify/ProductVariant/99", "price": "1.00"}]}),
        )
        .await;
    assert_eq!(
        body["data"]["productVariantsBulkUpdate"]["userErrors"][0]["code"],
        json!("PRODUCT_DOES_NOT_EXIST")
    );
    let again = shop
        .gql(ONE_PRODUCT, json!({"id": "gid://shopify/Product/3"}))
        .await;
    let variant = &again["data"]["product"]["variants"]["nodes"][0];
    assert_eq!(variant["price"], json!("12.34"));
    assert_eq!(variant["inventoryQuantity"], json!(7));
}

const CALLBACK: &str = "https://cockpit.example/api/shopify/callback";

impl Shop {
    fn authorize_url(&self, client_id: &str, scope: &str, redirect_uri: &str) -> url::Url {
        let mut url = url::Url::parse(&self.url("/admin/oauth/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("scope", scope)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", "nonce-1");
        url
    }

    /// Opens the authorize page as the app and returns the code the callback carries.
    async fn approve(&self, scope: &str) -> String {
        let url = self.authorize_url(&self.app().api_key, scope, CALLBACK);
        let response = self.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
        let callback = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
        let code = callback.query_pairs().find(|(k, _)| k == "code").unwrap().1;
        code.into_owned()
    }

    /// Trades `code` for a token with the app's real secret.
    async fn exchange(&self, code: &str) -> (StatusCode, Value) {
        use secrecy::ExposeSecret;
        let app = self.app();
        let response = self
            .http
            .post(self.url("/admin/oauth/access_token"))
            .json(&json!({
                "client_id": app.api_key,
                "client_secret": app.api_secret.expose_secret(),
                "code": code,
            }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn the_install_flow_signs_its_callback_and_codes_work_once() {
    let shop = Shop::start(config(5, 5, 1.0)).await;
    let app = shop.app();
    let scopes = sm_connectors::shopify::oauth::SCOPES;
    let response = shop
        .http
        .get(shop.authorize_url("not-the-app", scopes, CALLBACK))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let response = shop
        .http
        .get(shop.authorize_url(&app.api_key, scopes, CALLBACK))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().unwrap();
    let callback = url::Url::parse(location).unwrap();
    assert_eq!(callback.path(), "/api/shopify/callback");
    let params: Vec<(String, String)> = callback.query_pairs().into_owned().collect();
    assert!(verify_callback(&app, &params, Utc::now().timestamp()));
    let param = |k: &str| params.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(param("shop"), shop.domain);
    assert_eq!(param("state"), "nonce-1");

    let response = shop
        .http
        .post(shop.url("/admin/oauth/access_token"))
        .json(&json!({"client_id": app.api_key, "client_secret": "shpss_wrong", "code": param("code")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // The wrong secret spent nothing: the code still works, once.
    let (status, grant) = shop.exchange(&param("code")).await;
    assert_eq!(status, StatusCode::OK);
    let token = grant["access_token"].as_str().unwrap();
    assert!(shop
        .running
        .sandbox
        .secret()
        .shopify_token_valid(&shop.domain, token));
    assert_eq!(grant["scope"], json!(scopes));
    let (status, body) = shop.exchange(&param("code")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("invalid_request"));
}

#[tokio::test]
async fn authorize_redirects_only_to_the_apps_callback() {
    let shop = Shop::start(config(5, 5, 1.0)).await;
    let api_key = shop.app().api_key;
    for redirect_uri in [
        "https://evil.example/steal",
        "https://cockpit.example/api/shopify/callback/extra",
        "https://cockpit.example/shopify/callback",
        "javascript:alert(1)//api/shopify/callback",
        "/api/shopify/callback",
        "",
    ] {
        let url = shop.authorize_url(&api_key, "read_products", redirect_uri);
        let response = shop.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{redirect_uri}");
        assert!(response.headers().get("location").is_none());
        let page = response.text().await.unwrap();
        assert!(page.contains("redirect_uri"), "{page}");
    }
    // The api's callback on whichever host the api serves.
    for redirect_uri in [CALLBACK, "http://localhost:3000/api/shopify/callback"] {
        let url = shop.authorize_url(&api_key, "read_products", redirect_uri);
        let response = shop.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FOUND, "{redirect_uri}");
        let location = response.headers()["location"].to_str().unwrap();
        assert!(location.starts_with(redirect_uri), "{location}");
    }
}

#[tokio::test]
async fn a_shop_keeps_at_most_the_newest_pending_codes() {
    let shop = Shop::start(config(5, 5, 1.0)).await;
    let max = shopify::MAX_PENDING_CODES;
    let mut codes = Vec::new();
    for _ in 0..=max {
        codes.push(shop.approve("read_products").await);
    }
    let (status, _) = shop.exchange(&codes[0]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the oldest was dropped");
    for code in [&codes[1], &codes[max]] {
        let (status, _) = shop.exchange(code).await;
        assert_eq!(status, StatusCode::OK);
    }
}

const SCOPES_QUERY: &str = "{ currentAppInstallation { accessScopes { handle } } }";

async fn granted(shop: &Shop) -> Vec<String> {
    let body = shop.gql(SCOPES_QUERY, json!({})).await;
    body["data"]["currentAppInstallation"]["accessScopes"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|s| s["handle"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_installation_answers_the_scopes_its_install_granted() {
    let shop = Shop::start(config(5, 5, 1.0)).await;
    let all: Vec<String> = sm_connectors::shopify::oauth::SCOPES
        .split(',')
        .map(str::to_owned)
        .collect();
    assert_eq!(
        granted(&shop).await,
        all,
        "the preset token has every scope"
    );

    let code = shop.approve("read_products,read_orders").await;
    // Approving is not installing: the scopes change only once the code is exchanged.
    assert_eq!(granted(&shop).await, all);
    let (status, grant) = shop.exchange(&code).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(grant["scope"], json!("read_products,read_orders"));
    assert_eq!(granted(&shop).await, ["read_products", "read_orders"]);
}

#[tokio::test]
async fn a_later_install_adds_scopes_and_never_lowers_them() {
    let shop = Shop::start(config(5, 5, 1.0)).await;
    let first = shop.approve("read_products,read_orders").await;
    let narrower = shop.approve("read_products").await;
    let wider = shop.approve("read_products,write_inventory").await;
    shop.exchange(&first).await;

    let (status, grant) = shop.exchange(&narrower).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(grant["scope"], json!("read_products,read_orders"));
    assert_eq!(granted(&shop).await, ["read_products", "read_orders"]);

    let (_, grant) = shop.exchange(&wider).await;
    assert_eq!(
        grant["scope"],
        json!("read_products,read_orders,write_inventory")
    );
    assert_eq!(
        granted(&shop).await,
        ["read_products", "read_orders", "write_inventory"]
    );
}

const SUBSCRIBE: &str = r#"
mutation Subscribe($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic }
    userErrors { field message }
  }
}
"#;

const SUBSCRIPTIONS: &str = r#"
query Subscriptions($url: URL) {
  webhookSubscriptions(first: 10, callbackUrl: $url) {
    nodes { id topic format endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } } }
  }
}
"#;

const UNSUBSCRIBE: &str = r#"
mutation Unsubscribe($id: ID!) {
  webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
}
"#;

type Received = (HeaderMap, Bytes);

async fn receiver() -> (
    String,
    mpsc::UnboundedReceiver<Received>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Router::new()
        .route(
            "/hooks",
            post(
                |State(tx): State<mpsc::UnboundedSender<Received>>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let _ = tx.send((headers, body));
                    StatusCode::OK
                },
            ),
        )
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, rx, task)
}

#[tokio::test]
async fn a_price_push_sends_a_signed_products_update() {
    let shop = Shop::start(config(5, 5, 50.0)).await;
    let (callback, mut received, _task) = receiver().await;
    let subscription = json!({"callbackUrl": callback, "format": "JSON"});
    let body = shop
        .gql(
            SUBSCRIBE,
            json!({"topic": "PRODUCTS_UPDATE", "webhookSubscription": subscription}),
        )
        .await;
    let created = &body["data"]["webhookSubscriptionCreate"];
    assert_eq!(created["userErrors"], json!([]), "{body}");
    let id = created["webhookSubscription"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = shop
        .gql(
            SUBSCRIBE,
            json!({"topic": "PRODUCTS_UPDATE", "webhookSubscription": subscription}),
        )
        .await;
    assert_eq!(
        body["data"]["webhookSubscriptionCreate"]["userErrors"][0]["message"],
        json!("Address for this topic has already been taken")
    );
    let body = shop.gql(SUBSCRIPTIONS, json!({"url": callback})).await;
    assert_eq!(
        body["data"]["webhookSubscriptions"]["nodes"],
        json!([{"id": id, "topic": "PRODUCTS_UPDATE", "format": "JSON",
                "endpoint": {"__typename": "WebhookHttpEndpoint", "callbackUrl": callback}}])
    );

    shop.gql(
        SET_PRICE,
        json!({"productId": "gid://shopify/Product/2",
               "variants": [{"id": "gid://shopify/ProductVariant/2", "price": "9.95"}]}),
    )
    .await;
    let (headers, body) = tokio::time::timeout(Duration::from_secs(5), received.recv())
        .await
        .expect("delivered in time")
        .unwrap();
    let header = |name: &str| headers[name].to_str().unwrap().to_owned();
    assert_eq!(header("x-shopify-topic"), "products/update");
    assert_eq!(header("x-shopify-shop-domain"), shop.domain);
    assert_eq!(header("x-shopify-api-version"), "2025-01");
    assert!(!header("x-shopify-webhook-id").is_empty());
    assert!(verify_webhook(
        &shop.app().api_secret,
        &body,
        &header("x-shopify-hmac-sha256")
    ));
    let product: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(product["id"], json!(2));
    assert_eq!(product["variants"][0]["price"], json!("9.95"));

    let body = shop.gql(UNSUBSCRIBE, json!({"id": id})).await;
    assert_eq!(
        body["data"]["webhookSubscriptionDelete"]["deletedWebhookSubscriptionId"],
        json!(id)
    );
    let body = shop.gql(SUBSCRIPTIONS, json!({"url": callback})).await;
    assert_eq!(body["data"]["webhookSubscriptions"]["nodes"], json!([]));
}

#[tokio::test]
async fn injected_faults_answer_like_shopify() {
    let shop = Shop::start(config(5, 5, 1.0)).await;
    let faults = shop.running.sandbox.faults();
    faults.inject(Vendor::Shopify, Fault::Throttle, 1);
    faults.inject(Vendor::Shopify, Fault::ServerError, 1);
    let query = json!({ "query": SHOP_QUERY });
    let (status, body) = shop.raw("2025-01", Some(&shop.token), query.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["errors"][0]["extensions"]["code"], json!("THROTTLED"));
    let (status, _) = shop.raw("2025-01", Some(&shop.token), query.clone()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, _) = shop.raw("2025-01", Some(&shop.token), query).await;
    assert_eq!(status, StatusCode::OK);
}
