//! The SP-API stand-in speaks Amazon's contract: LWA tokens, access checks, parameter
//! validation, paging, usage plans, patches that change the shop.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use sm_connectors::sandbox::SandboxSecret;
use sm_sandbox::catalogue::CatalogueSize;
use sm_sandbox::faults::{Fault, Vendor};
use sm_sandbox::{Running, SandboxConfig};

const MARKETPLACE: &str = "A1PA6795UKMFR9";

struct Peer {
    running: Running,
    http: reqwest::Client,
    seller: String,
    token: String,
}

async fn peer(products: usize, orders: usize, rate_scale: f64) -> Peer {
    let secret = SandboxSecret::new(SecretString::from("amazon-stand-in-tests"));
    let seller = secret.amazon_seller("tenant");
    let mut config = SandboxConfig::new(secret);
    config.size = CatalogueSize { products, orders };
    config.rate_scale = rate_scale;
    let running = sm_sandbox::spawn(config).await.expect("the sandbox starts");
    let mut peer = Peer {
        running,
        http: reqwest::Client::new(),
        seller,
        token: String::new(),
    };
    let (status, body) = peer.exchange(peer.token_form(None, None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    peer.token = body["access_token"].as_str().expect("a token").to_owned();
    peer
}

impl Peer {
    fn token_form(&self, secret: Option<&str>, refresh: Option<&str>) -> Vec<(String, String)> {
        let s = self.running.sandbox.secret();
        let (client_id, client_secret) = s.amazon_app();
        vec![
            ("grant_type".into(), "refresh_token".into()),
            (
                "refresh_token".into(),
                refresh.map_or_else(|| s.amazon_refresh_token(&self.seller), str::to_owned),
            ),
            ("client_id".into(), client_id),
            (
                "client_secret".into(),
                secret.unwrap_or(client_secret.expose_secret()).to_owned(),
            ),
        ]
    }

    fn url(&self, path: &str) -> String {
        format!("{}amazon{path}", self.running.url)
    }

    async fn exchange(&self, form: Vec<(String, String)>) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url("/auth/o2/token"))
            .form(&form)
            .send()
            .await
            .expect("answered");
        (response.status(), response.json().await.expect("JSON"))
    }

    async fn get(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> (StatusCode, http::HeaderMap, Value) {
        let response = self
            .http
            .get(self.url(path))
            .query(query)
            .header("x-amz-access-token", &self.token)
            .send()
            .await
            .expect("answered");
        let status = response.status();
        let headers = response.headers().clone();
        (status, headers, response.json().await.expect("JSON"))
    }

    async fn patch(&self, sku: &str, query: &[(&str, &str)], body: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .patch(self.url(&format!("/listings/2021-08-01/items/{}/{sku}", self.seller)))
            .query(&[("marketplaceIds", MARKETPLACE)])
            .query(query)
            .header("x-amz-access-token", &self.token)
            .json(&body)
            .send()
            .await
            .expect("answered");
        (response.status(), response.json().await.expect("JSON"))
    }
}

fn code(body: &Value) -> &str {
    body["errors"][0]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn lwa_grants_tokens_for_the_apps_genuine_refresh_tokens_only() {
    let peer = peer(10, 10, 10.0).await;
    let form = peer.token_form(None, None);
    let json_body: serde_json::Map<String, Value> =
        form.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let response = peer
        .http
        .post(peer.url("/auth/o2/token"))
        .json(&json_body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "JSON bodies work too");
    let body: Value = response.json().await.unwrap();
    assert!(body["access_token"].as_str().unwrap().starts_with("Atza|"));
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);

    let (status, body) = peer.exchange(peer.token_form(Some("wrong"), None)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    assert!(body["error_description"].is_string());
    let forged = format!("Atzr|{}|{}", peer.seller, "0".repeat(40));
    let (status, body) = peer.exchange(peer.token_form(None, Some(&forged))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let mut form = peer.token_form(None, None);
    form[0].1 = "client_credentials".into();
    let (status, body) = peer.exchange(form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    // The one at start-up and the JSON one.
    assert_eq!(
        sm_sandbox::amazon::token_calls(&peer.running.sandbox, &peer.seller),
        2
    );
}

#[tokio::test]
async fn every_call_needs_a_valid_token_of_the_seller() {
    let mut peer = peer(10, 10, 10.0).await;
    let search = format!("/listings/2021-08-01/items/{}", peer.seller);
    let (status, _, body) = peer.get(&search, &[("marketplaceIds", MARKETPLACE)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let other = peer.running.sandbox.secret().amazon_seller("other");
    let (status, headers, body) = peer
        .get(
            &format!("/listings/2021-08-01/items/{other}"),
            &[("marketplaceIds", MARKETPLACE)],
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "Unauthorized")
    );
    assert!(headers.contains_key("x-amzn-RequestId"));

    let expired = chrono::Utc::now().timestamp() - 1;
    peer.token = peer
        .running
        .sandbox
        .secret()
        .amazon_access_token(&peer.seller, expired);
    let (status, _, body) = peer.get(&search, &[("marketplaceIds", MARKETPLACE)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied.","details":"The access token you provided is revoked, malformed or invalid."}]})
    );
}

#[tokio::test]
async fn get_orders_checks_its_parameters_as_the_model_says() {
    let peer = peer(10, 10, 100.0).await;
    let after = "2020-01-01T00:00:00Z";
    for query in [
        vec![("LastUpdatedAfter", after)],
        vec![("MarketplaceIds", MARKETPLACE)],
        vec![
            ("MarketplaceIds", MARKETPLACE),
            ("LastUpdatedAfter", after),
            ("CreatedAfter", after),
        ],
        vec![
            ("MarketplaceIds", MARKETPLACE),
            ("CreatedAfter", after),
            ("LastUpdatedBefore", after),
        ],
        vec![
            ("MarketplaceIds", MARKETPLACE),
            ("LastUpdatedAfter", after),
            ("MaxResultsPerPage", "0"),
        ],
        vec![
            ("MarketplaceIds", MARKETPLACE),
            ("LastUpdatedAfter", after),
            ("MaxResultsPerPage", "101"),
        ],
        vec![
            ("MarketplaceIds", "ATVPDKIKX0DER"),
            ("LastUpdatedAfter", after),
        ],
        vec![
            ("MarketplaceIds", MARKETPLACE),
            ("LastUpdatedAfter", "yesterday"),
        ],
        vec![("MarketplaceIds", MARKETPLACE), ("NextToken", "garbage")],
    ] {
        let (status, headers, body) = peer.get("/orders/v0/orders", &query).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "InvalidInput"),
            "{query:?}"
        );
        assert!(headers.contains_key("x-amzn-RequestId"));
    }
}

#[tokio::test]
async fn order_dates_take_plain_iso_8601_forms_as_utc() {
    let peer = peer(10, 60, 100.0).await;
    let shop = peer.running.sandbox.shop(Vendor::Amazon, &peer.seller);
    let day = shop.catalogue.order(30).updated_at.date_naive();
    let ids = |body: &Value| -> Vec<Value> {
        body["payload"]["Orders"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|o| o["AmazonOrderId"].clone())
            .collect()
    };
    let rfc3339 = format!("{day}T00:00:00Z");
    let (status, _, zoned) = peer
        .get(
            "/orders/v0/orders",
            &[
                ("MarketplaceIds", MARKETPLACE),
                ("LastUpdatedAfter", &rfc3339),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{zoned}");
    assert!(!ids(&zoned).is_empty());
    for plain in [
        day.to_string(),
        format!("{day}T00:00:00"),
        format!("{day}T00:00"),
    ] {
        let (status, _, body) = peer
            .get(
                "/orders/v0/orders",
                &[
                    ("MarketplaceIds", MARKETPLACE),
                    ("LastUpdatedAfter", &plain),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{plain}: {body}");
        assert_eq!(ids(&body), ids(&zoned), "{plain}");
    }
}

#[tokio::test]
async fn orders_page_by_next_token_without_gaps() {
    let peer = peer(50, 250, 100.0).await;
    let shop = peer.running.sandbox.shop(Vendor::Amazon, &peer.seller);
    let since = shop.catalogue.order(100).placed_at;
    let since_text = since.to_rfc3339();
    let expected = (0..250)
        .filter(|&i| shop.catalogue.order(i).updated_at >= since)
        .count();
    let mut ids = HashSet::new();
    let mut token: Option<String> = None;
    loop {
        let mut query = vec![("MarketplaceIds", MARKETPLACE), ("MaxResultsPerPage", "30")];
        match &token {
            Some(t) => query.push(("NextToken", t.as_str())),
            None => query.push(("LastUpdatedAfter", since_text.as_str())),
        }
        let (status, headers, body) = peer.get("/orders/v0/orders", &query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(headers["x-amzn-RateLimit-Limit"], "1.67");
        let orders = body["payload"]["Orders"].as_array().unwrap();
        assert!(orders.len() <= 30);
        for order in orders {
            assert!(order["AmazonOrderId"].as_str().unwrap().starts_with("302-"));
            assert!(ids.insert(order["AmazonOrderId"].clone()), "no order twice");
        }
        match body["payload"]["NextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(ids.len(), expected);
}

#[tokio::test]
async fn a_burst_beyond_the_usage_plan_is_refused_and_counted() {
    // getOrders: burst 20, then one every 60 s (6 s at this scale).
    let peer = peer(10, 10, 10.0).await;
    let query = [
        ("MarketplaceIds", MARKETPLACE),
        ("CreatedAfter", "2020-01-01T00:00:00Z"),
    ];
    for _ in 0..20 {
        let (status, _, _) = peer.get("/orders/v0/orders", &query).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, headers, body) = peer.get("/orders/v0/orders", &query).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        body,
        json!({"errors":[{"code":"QuotaExceeded","message":"You exceeded your quota for the requested resource.","details":""}]})
    );
    assert!(headers.contains_key("x-amzn-RequestId"));
    assert_eq!(
        sm_sandbox::amazon::throttled(&peer.running.sandbox, &peer.seller),
        1
    );
    // Other operations have their own buckets.
    let search = format!("/listings/2021-08-01/items/{}", peer.seller);
    let (status, _, _) = peer.get(&search, &[("marketplaceIds", MARKETPLACE)]).await;
    assert_eq!(status, StatusCode::OK);
}

fn offer_patch(price: Value, quantity: Value) -> Value {
    json!({
        "productType": "PRODUCT",
        "patches": [
            {"op": "replace", "path": "/attributes/purchasable_offer", "value": [{
                "marketplace_id": MARKETPLACE, "currency": "EUR",
                "our_price": [{"schedule": [{"value_with_tax": price}]}]}]},
            {"op": "replace", "path": "/attributes/fulfillment_availability", "value": [{
                "fulfillment_channel_code": "DEFAULT", "quantity": quantity}]},
        ]
    })
}

#[tokio::test]
async fn patches_change_the_shop_unless_invalid_or_previewed() {
    // Six patches in a row: 5/s × 1000 refills the burst of 5 well between them.
    let peer = peer(10, 10, 1_000.0).await;
    let shop = peer.running.sandbox.shop(Vendor::Amazon, &peer.seller);
    let sku = shop.product(3).seed.sku;
    let before = shop.product(3);

    let (status, body) = peer
        .patch(
            &sku,
            &[("mode", "VALIDATION_PREVIEW")],
            offer_patch(json!(5.5), json!(2)),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("VALID"))
    );
    assert_eq!(
        shop.product(3).price_cents,
        before.price_cents,
        "a preview changes nothing"
    );

    let (_, body) = peer
        .patch(&sku, &[], offer_patch(json!(5.555), json!(-1)))
        .await;
    assert_eq!(body["status"], "INVALID");
    let issues = body["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 2, "{body}");
    assert!(issues.iter().all(|i| i["severity"] == "ERROR"));
    assert_eq!(shop.product(3), before);

    let mut wrong_type = offer_patch(json!(5.5), json!(2));
    wrong_type["productType"] = json!("LUGGAGE");
    let (_, body) = peer.patch(&sku, &[], wrong_type).await;
    assert_eq!(body["status"], "INVALID");

    let (status, body) = peer
        .patch(&sku, &[], json!({"productType": "PRODUCT", "patches": []}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "BAD_REQUEST")
    );
    let (status, body) = peer
        .patch("SM-00-999999", &[], offer_patch(json!(5.5), json!(2)))
        .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "NOT_FOUND"));

    let (_, body) = peer
        .patch(&sku, &[], offer_patch(json!(5.5), json!(2)))
        .await;
    assert_eq!(body["status"], "ACCEPTED", "{body}");
    assert_eq!(
        (shop.product(3).price_cents, shop.product(3).stock),
        (550, 2)
    );
    let (_, _, item) = peer
        .get(
            &format!("/listings/2021-08-01/items/{}/{sku}", peer.seller),
            &[
                ("marketplaceIds", MARKETPLACE),
                ("includedData", "summaries,offers,fulfillmentAvailability"),
            ],
        )
        .await;
    assert_eq!(item["offers"][0]["price"]["amount"], "5.50");
    assert_eq!(item["fulfillmentAvailability"][0]["quantity"], 2);
    assert!(item["summaries"][0]["createdDate"].is_string());
    assert!(item["summaries"][0]["lastUpdatedDate"].is_string());
}

#[tokio::test]
async fn inventory_summaries_page_through_every_sku() {
    let peer = peer(120, 0, 100.0).await;
    let mut skus = HashSet::new();
    let mut token: Option<String> = None;
    loop {
        let mut query = vec![
            ("granularityType", "Marketplace"),
            ("granularityId", MARKETPLACE),
            ("marketplaceIds", MARKETPLACE),
        ];
        if let Some(t) = &token {
            query.push(("nextToken", t.as_str()));
        }
        let (status, _, body) = peer.get("/fba/inventory/v1/summaries", &query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for summary in body["payload"]["inventorySummaries"].as_array().unwrap() {
            assert!(skus.insert(summary["sellerSku"].clone()));
            assert!(summary["totalQuantity"].is_i64());
        }
        match body["pagination"]["nextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(skus.len(), 120);
}

#[test]
fn injected_faults_answer_as_sp_api_does() {
    let server_error = sm_sandbox::amazon::fault_answer(Fault::ServerError);
    assert_eq!(server_error.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(server_error.headers().contains_key("x-amzn-RequestId"));
    let throttle = sm_sandbox::amazon::fault_answer(Fault::Throttle);
    assert_eq!(throttle.status(), StatusCode::TOO_MANY_REQUESTS);
}
