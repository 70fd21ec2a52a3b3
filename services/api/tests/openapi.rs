//! The OpenAPI document is the contract: it must describe every answer the service gives
//! (schemathesis checks the running service against it in `cargo xtask schemathesis`).

mod common;

use common::Stack;
use serde_json::{json, Value};
use sqlx::PgPool;

/// The schema of query parameter `name` of `GET path`.
fn query_param<'a>(doc: &'a Value, path: &str, name: &str) -> &'a Value {
    doc["paths"][path]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{path} has no parameter {name}"))
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn every_operation_documents_the_shared_answers(db: PgPool) {
    let doc = Stack::spawn(db).await.openapi().await;
    assert_eq!(
        sm_testkit::openapi::undocumented_answers(&doc),
        Vec::<String>::new()
    );
    for path in ["/health/live", "/health/ready"] {
        assert!(
            sm_testkit::openapi::is_anonymous(&doc, "get", path),
            "{path}"
        );
    }
    assert!(!sm_testkit::openapi::is_anonymous(
        &doc,
        "get",
        "/api/products"
    ));
    // Failed authentications are limited per network on every protected operation.
    assert!(doc["paths"]["/api/orders"]["get"]["responses"]["429"].is_object());
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn parameters_are_described_as_the_handlers_check_them(db: PgPool) {
    let doc = Stack::spawn(db).await.openapi().await;
    let schema = |path, name| &query_param(&doc, path, name)["schema"];
    assert_eq!(
        schema("/api/products", "sort")["enum"],
        json!(["created", "updated", "title", "price", "stock"])
    );
    assert_eq!(
        schema("/api/products", "order")["enum"],
        json!(["asc", "desc"])
    );
    assert_eq!(
        schema("/api/orders", "channel")["enum"],
        json!(["shopify", "amazon", "kaufland", "manual"])
    );
    assert_eq!(schema("/api/products", "q")["maxLength"], 200);
    let currencies = schema("/api/analytics/summary", "currency")["enum"]
        .as_array()
        .unwrap();
    assert!(currencies.contains(&json!("EUR")) && !currencies.contains(&json!("QQQ")));
    let from = query_param(&doc, "/api/analytics/summary", "from");
    assert!(from["description"].as_str().unwrap().contains("366 days"));

    let product = &doc["components"]["schemas"]["ProductInput"]["properties"];
    assert_eq!(product["sku"]["minLength"], 1);
    assert_eq!(product["sku"]["maxLength"], 100);
    assert_eq!(product["stock"]["maximum"], 1_000_000_000);
    let bulk = &doc["components"]["schemas"]["BulkRequest"]["properties"];
    assert_eq!(
        (&bulk["ids"]["minItems"], &bulk["ids"]["maxItems"]),
        (&json!(1), &json!(1000))
    );
}
