//! The Kaufland stand-in refuses what Kaufland refuses: unsigned, stale or tampered
//! requests; and answers in the swagger's shapes.

use std::collections::BTreeSet;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use sm_connectors::kaufland::signature;
use sm_connectors::sandbox::SandboxSecret;
use sm_sandbox::catalogue::CatalogueSize;
use sm_sandbox::faults::Vendor;
use sm_sandbox::{Running, SandboxConfig};

async fn sandbox() -> Running {
    let mut config = SandboxConfig::new(SandboxSecret::new(SecretString::from("stand-in")));
    config.size = CatalogueSize {
        products: 40,
        orders: 20,
    };
    sm_sandbox::spawn(config).await.expect("the sandbox starts")
}

struct Seller {
    key: String,
    secret: String,
    base: String,
}

fn seller(running: &Running) -> Seller {
    let key = running.sandbox.secret().kaufland_client_key("tenant");
    let secret = running
        .sandbox
        .secret()
        .kaufland_secret_key(&key)
        .expose_secret()
        .to_owned();
    let base = format!("{}kaufland/v2", running.url);
    Seller { key, secret, base }
}

/// Sends `method path body`, signed as if the URL were `signed.0` and the body
/// `signed.1`, at `now + skew` seconds.
async fn send(
    seller: &Seller,
    method: &str,
    path: &str,
    body: &str,
    signed: (&str, &str),
    skew: i64,
) -> (u16, Value) {
    let timestamp = chrono::Utc::now().timestamp() + skew;
    let signed_url = format!("{}{}", seller.base, signed.0);
    let sig = signature(
        seller.secret.as_bytes(),
        method,
        &signed_url,
        signed.1.as_bytes(),
        timestamp,
    );
    let response = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{}{path}", seller.base))
        .header("Shop-Client-Key", &seller.key)
        .header("Shop-Timestamp", timestamp.to_string())
        .header("Shop-Signature", sig)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn signed(seller: &Seller, method: &str, path: &str, body: &str) -> (u16, Value) {
    send(seller, method, path, body, (path, body), 0).await
}

fn problem_type(body: &Value) -> &str {
    body["type"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_signed_request_passes_and_a_tampered_one_does_not() {
    let running = sandbox().await;
    let seller = seller(&running);
    let path = "/units?storefront=de&limit=2";
    let (status, body) = signed(&seller, "GET", path, "").await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        body["pagination"],
        json!({"offset": 0, "limit": 2, "total": 40})
    );

    let tampered = "/units?storefront=de&limit=3";
    let (status, body) = send(&seller, "GET", tampered, "", (path, ""), 0).await;
    assert_eq!(
        (status, problem_type(&body)),
        (401, "/problems/corrupted-signature")
    );
    assert_eq!(body["errors"], json!([]));
}

#[tokio::test]
async fn a_tampered_body_changes_nothing() {
    let running = sandbox().await;
    let seller = seller(&running);
    let shop = running.sandbox.shop(Vendor::Kaufland, &seller.key);
    let before = shop.product(3).price_cents;
    let path = format!("/units/{}?storefront=de", sm_sandbox::kaufland::unit_id(3));
    let (status, body) = send(
        &seller,
        "PATCH",
        &path,
        r#"{"listing_price":1}"#,
        (&path, r#"{"listing_price":99999}"#),
        0,
    )
    .await;
    assert_eq!(
        (status, problem_type(&body)),
        (401, "/problems/corrupted-signature")
    );
    assert_eq!(shop.product(3).price_cents, before);

    let (status, body) = signed(&seller, "PATCH", &path, r#"{"listing_price":4321}"#).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["listing_price"], 4321);
    assert_eq!(shop.product(3).price_cents, 4321);
}

#[tokio::test]
async fn stale_and_unsigned_requests_are_refused() {
    let running = sandbox().await;
    let seller = seller(&running);
    let path = "/units?storefront=de";
    let window = sm_sandbox::kaufland::TIMESTAMP_WINDOW_SECS;
    let (status, body) = send(&seller, "GET", path, "", (path, ""), -window - 5).await;
    assert_eq!(
        (status, problem_type(&body)),
        (401, "/problems/unauthorized")
    );
    let (status, _) = send(&seller, "GET", path, "", (path, ""), -window + 30).await;
    assert_eq!(status, 200);

    let response = reqwest::get(format!("{}{path}", seller.base))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        problem_type(&body),
        "/problems/missing-or-invalid-request-header"
    );

    // Ping needs no credentials (and so proves none).
    let ping = reqwest::get(format!("{}/status/ping", seller.base))
        .await
        .unwrap();
    assert_eq!(ping.status().as_u16(), 200);
}

#[tokio::test]
async fn a_missing_or_malformed_shop_header_is_the_swaggers_header_problem() {
    let running = sandbox().await;
    let seller = seller(&running);
    let url = format!("{}/units?storefront=de", seller.base);
    let now = chrono::Utc::now().timestamp().to_string();
    let sig = signature(
        seller.secret.as_bytes(),
        "GET",
        &url,
        b"",
        now.parse().unwrap(),
    );
    let good = [
        ("Shop-Client-Key", seller.key.as_str()),
        ("Shop-Timestamp", now.as_str()),
        ("Shop-Signature", sig.as_str()),
    ];
    let cases: [(&str, Option<&str>); 5] = [
        ("Shop-Client-Key", None),
        ("Shop-Client-Key", Some("not-a-key")),
        ("Shop-Timestamp", None),
        ("Shop-Timestamp", Some("yesterday")),
        ("Shop-Signature", None),
    ];
    for (name, value) in cases {
        let mut request = reqwest::Client::new().get(&url);
        for (header, good_value) in good {
            match (header == name, value) {
                (false, _) => request = request.header(header, good_value),
                (true, Some(value)) => request = request.header(header, value),
                (true, None) => {}
            }
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            (status, problem_type(&body)),
            (401, "/problems/missing-or-invalid-request-header"),
            "{name}: {value:?}"
        );
    }
    let mut request = reqwest::Client::new().get(&url);
    for (header, value) in good {
        request = request.header(header, value);
    }
    assert_eq!(request.send().await.unwrap().status().as_u16(), 200);
}

#[tokio::test]
async fn a_trailing_slash_reaches_the_same_resource_signed_as_sent() {
    let running = sandbox().await;
    let seller = seller(&running);
    let (status, plain) = signed(&seller, "GET", "/units?storefront=de&limit=2", "").await;
    assert_eq!(status, 200);
    let (status, slashed) = signed(&seller, "GET", "/units/?storefront=de&limit=2", "").await;
    assert_eq!(status, 200, "{slashed}");
    assert_eq!(slashed, plain);
    let unit = sm_sandbox::kaufland::unit_id(1);
    let (status, body) = signed(&seller, "GET", &format!("/units/{unit}/?storefront=de"), "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["id_unit"], json!(unit));

    // Signed without the slash, sent with it: not the URI the client sent.
    let (status, body) = send(
        &seller,
        "GET",
        "/units/?storefront=de",
        "",
        ("/units?storefront=de", ""),
        0,
    )
    .await;
    assert_eq!(
        (status, problem_type(&body)),
        (401, "/problems/corrupted-signature")
    );
}

#[tokio::test]
async fn invalid_parameters_name_the_field() {
    let running = sandbox().await;
    let seller = seller(&running);
    for (path, field) in [
        ("/units?storefront=de&limit=101", "limit"),
        ("/units", "storefront"),
        ("/order-units?sort=price", "sort"),
        (
            "/orders?ts_units_updated_from_iso=yesterday",
            "ts_units_updated_from_iso",
        ),
    ] {
        let (status, body) = signed(&seller, "GET", path, "").await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(problem_type(&body), "/problems/validation-error", "{path}");
        assert_eq!(body["errors"][0]["field"], field, "{path}");
    }
    let unit = sm_sandbox::kaufland::unit_id(0);
    let (status, body) = signed(
        &seller,
        "PATCH",
        &format!("/units/{unit}?storefront=de"),
        r#"{"amount":-1,"colour":"red"}"#,
    )
    .await;
    assert_eq!(status, 400);
    let fields: BTreeSet<_> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, BTreeSet::from(["amount".into(), "colour".into()]));
}

#[tokio::test]
async fn units_and_orders_carry_exactly_the_schemas_properties() {
    let running = sandbox().await;
    let seller = seller(&running);
    let (_, units) = signed(&seller, "GET", "/units?storefront=de&embedded=products", "").await;
    let unit = &units["data"][0];
    let keys: BTreeSet<_> = unit.as_object().unwrap().keys().cloned().collect();
    let required = "status currency condition id_unit note listing_price minimum_price price \
        id_offer id_product id_shipping_group id_warehouse amount date_inserted_iso \
        date_lastchange_iso handling_time shipping_rate storefront transport_time_min \
        transport_time_max fulfillment_type vat_indicator product";
    assert_eq!(
        keys,
        required.split_whitespace().map(String::from).collect()
    );
    assert!(unit["listing_price"].is_i64());

    let (_, orders) = signed(&seller, "GET", "/orders?limit=1", "").await;
    let id = orders["data"][0]["id_order"].as_str().unwrap().to_owned();
    let (status, order) = signed(&seller, "GET", &format!("/orders/{id}"), "").await;
    assert_eq!(status, 200);
    assert!(!order["data"]["order_units"].as_array().unwrap().is_empty());
    assert_eq!(order["data"]["order_units"][0]["id_order"], json!(id));
    let (status, _) = signed(&seller, "GET", "/orders/NOPE123", "").await;
    assert_eq!(status, 404);
}
