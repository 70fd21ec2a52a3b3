//! Products: pages, search, filters, writes, bulk edits, CSV in and out.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{error_code, product_body, Stack};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

async fn all_pages(stack: &Stack, token: &str, query: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/products?limit=7&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let res = stack.get(token, &path).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let page: Value = res.json().await.unwrap();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn pages_cover_every_product_once_in_every_order(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.merchant("anna@example.de").await;
    let bernd = stack.merchant("bernd@example.de").await;
    for i in 0..30 {
        // Duplicate prices, stocks and titles, so ties must be broken by id.
        let body = product_body(
            &format!("SKU-{i:02}"),
            &format!("Artikel {}", i % 4),
            100 * (i % 5),
            (i % 3) as i32,
        );
        stack.product(&anna.access_token, body).await;
    }
    stack
        .product(
            &bernd.access_token,
            product_body("BERND-1", "Artikel 1", 100, 1),
        )
        .await;

    for (sort, key) in [
        ("created", "id"),
        ("updated", "updated_at"),
        ("title", "title"),
        ("price", "price"),
        ("stock", "stock"),
    ] {
        for order in ["asc", "desc"] {
            let items = all_pages(
                &stack,
                &anna.access_token,
                &format!("sort={sort}&order={order}"),
            )
            .await;
            assert_eq!(items.len(), 30, "{sort} {order}");
            let ids: HashSet<&str> = items.iter().map(|p| p["id"].as_str().unwrap()).collect();
            assert_eq!(ids.len(), 30, "no product twice ({sort} {order})");
            let value = |p: &Value| match key {
                "price" => json!(p["price"]["amount"]),
                k => p[k].clone(),
            };
            for pair in items.windows(2) {
                let (a, b) = (value(&pair[0]), value(&pair[1]));
                let ordered = match (a.as_i64(), b.as_i64()) {
                    (Some(x), Some(y)) => {
                        if order == "asc" {
                            x <= y
                        } else {
                            x >= y
                        }
                    }
                    _ => {
                        let (x, y) = (a.as_str().unwrap(), b.as_str().unwrap());
                        if order == "asc" {
                            x <= y
                        } else {
                            x >= y
                        }
                    }
                };
                assert!(ordered, "{sort} {order}: {a} then {b}");
            }
        }
    }
    // A cursor from one sort is refused by another; garbage is refused.
    let page: Value = stack
        .get(&anna.access_token, "/api/products?limit=5&sort=price")
        .await
        .json()
        .await
        .unwrap();
    let cursor = page["next_cursor"].as_str().unwrap();
    assert_eq!(
        error_code(
            stack
                .get(
                    &anna.access_token,
                    &format!("/api/products?sort=title&cursor={cursor}")
                )
                .await
        )
        .await,
        "invalid_query"
    );
    assert_eq!(
        error_code(
            stack
                .get(&anna.access_token, "/api/products?cursor=bm9wZQ")
                .await
        )
        .await,
        "invalid_query"
    );
    assert_eq!(
        error_code(
            stack
                .get(&anna.access_token, "/api/products?sort=dropped")
                .await
        )
        .await,
        "invalid_query"
    );
    assert_eq!(
        error_code(
            stack
                .get(&anna.access_token, "/api/products?limit=abc")
                .await
        )
        .await,
        "invalid_query"
    );
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn search_and_filters(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.onboarded("anna@example.de").await;
    let shop = stack.shopify(&anna, "Shop").await;
    stack
        .product(
            &anna.access_token,
            product_body("MUG-RED", "Kaffeebecher rot", 1299, 2),
        )
        .await;
    stack
        .product(
            &anna.access_token,
            product_body("MUG-BLUE", "Kaffeebecher blau", 1299, 40),
        )
        .await;
    let mut body = product_body("PLATE-1", "Teller 100%_sicher", 899, 1);
    body["connection_id"] = json!(shop);
    let plate = stack.product(&anna.access_token, body).await;
    assert_eq!(
        plate["has_local_changes"], true,
        "a channel product edited here waits for its push"
    );

    let titles = |items: Vec<Value>| {
        items
            .iter()
            .map(|p| p["sku"].as_str().unwrap().to_owned())
            .collect::<HashSet<_>>()
    };
    let set = |skus: &[&str]| skus.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
    assert_eq!(
        titles(all_pages(&stack, &anna.access_token, "q=kaffee").await),
        set(&["MUG-RED", "MUG-BLUE"])
    );
    assert_eq!(
        titles(all_pages(&stack, &anna.access_token, "q=mug-red").await),
        set(&["MUG-RED"])
    );
    // LIKE wildcards in the search are literal characters.
    assert_eq!(
        titles(all_pages(&stack, &anna.access_token, "q=100%25_").await),
        set(&["PLATE-1"])
    );
    assert_eq!(
        titles(all_pages(&stack, &anna.access_token, "q=%25").await),
        set(&["PLATE-1"])
    );
    assert_eq!(
        titles(all_pages(&stack, &anna.access_token, "low_stock=true").await),
        set(&["MUG-RED", "PLATE-1"])
    );
    assert_eq!(
        titles(
            all_pages(
                &stack,
                &anna.access_token,
                "low_stock=true&low_stock_threshold=1"
            )
            .await
        ),
        set(&["PLATE-1"])
    );
    assert_eq!(
        titles(all_pages(&stack, &anna.access_token, &format!("connection_id={shop}")).await),
        set(&["PLATE-1"])
    );
    assert_eq!(
        titles(all_pages(&stack, &anna.access_token, "connection_id=none").await),
        set(&["MUG-RED", "MUG-BLUE"])
    );
    let later = (chrono::Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339()
        .replace('+', "%2B");
    assert!(all_pages(
        &stack,
        &anna.access_token,
        &format!("changed_since={later}")
    )
    .await
    .is_empty());
    assert_eq!(
        error_code(
            stack
                .get(&anna.access_token, "/api/products?connection_id=xyz")
                .await
        )
        .await,
        "invalid_query"
    );
    assert_eq!(
        error_code(stack.get(&anna.access_token, "/api/products?q=a%00b").await).await,
        "invalid_query"
    );
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn create_update_delete_and_only_ones_own(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.merchant("anna@example.de").await;
    let bernd = stack.merchant("bernd@example.de").await;
    let mug = stack
        .product(&anna.access_token, product_body("MUG", "Becher", 1299, 5))
        .await;
    let path = format!("/api/products/{}", mug["id"].as_str().unwrap());

    // The same SKU twice is a conflict; for another merchant it is fine.
    assert_eq!(
        error_code(
            stack
                .post(
                    &anna.access_token,
                    "/api/products",
                    product_body("MUG", "Noch ein Becher", 1, 1)
                )
                .await
        )
        .await,
        "duplicate_sku"
    );
    stack
        .product(
            &bernd.access_token,
            product_body("MUG", "Bernds Becher", 1, 1),
        )
        .await;

    let res = stack
        .post(
            &anna.access_token,
            "/api/products",
            json!({ "sku": "", "title": "x", "price": { "amount": -5, "currency": "EUR" } }),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "validation_failed");
    assert_eq!(body["error"]["fields"].as_array().unwrap().len(), 2);
    let res = stack
        .post(
            &anna.access_token,
            "/api/products",
            json!({ "sku": "X", "title": "x", "price": "12.99" }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_body");
    let res = stack.post(&anna.access_token, "/api/products", json!({ "sku": "X", "title": "x", "price": { "amount": 1, "currency": "EUR" }, "connection_id": uuid::Uuid::now_v7() })).await;
    assert_eq!(
        error_code(res).await,
        "validation_failed",
        "unknown connection"
    );

    let res = stack
        .put(
            &anna.access_token,
            &path,
            product_body("MUG", "Becher groß", 1499, 7),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(
        (
            updated["title"].as_str(),
            updated["price"]["amount"].as_i64()
        ),
        (Some("Becher groß"), Some(1499))
    );
    assert_eq!(
        updated["has_local_changes"], false,
        "cockpit-only products have nothing to push"
    );

    // Bernd: not found for Anna's product, and it is left alone.
    assert_eq!(
        error_code(
            stack
                .put(
                    &bernd.access_token,
                    &path,
                    product_body("MUG", "pwned", 1, 1)
                )
                .await
        )
        .await,
        "not_found"
    );
    assert_eq!(
        error_code(stack.delete(&bernd.access_token, &path).await).await,
        "not_found"
    );
    let berndsicht = all_pages(&stack, &bernd.access_token, "").await;
    assert_eq!(berndsicht.len(), 1);
    assert_eq!(berndsicht[0]["title"], "Bernds Becher");

    assert_eq!(
        stack.delete(&anna.access_token, &path).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        error_code(stack.delete(&anna.access_token, &path).await).await,
        "not_found"
    );
    assert_eq!(
        error_code(
            stack
                .put(
                    &anna.access_token,
                    "/api/products/123",
                    product_body("A", "B", 1, 1)
                )
                .await
        )
        .await,
        "not_found"
    );
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn bulk_edits_are_all_or_nothing(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.merchant("anna@example.de").await;
    let bernd = stack.merchant("bernd@example.de").await;
    let csv: String = std::iter::once("sku,title,price,stock\n".to_owned())
        .chain((0..1000).map(|i| format!("B-{i},Artikel {i},10.00,5\n")))
        .collect();
    let res = stack
        .http
        .post(stack.url("/api/products/import"))
        .bearer_auth(&anna.access_token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let ids: Vec<String> = sqlx::query_scalar("SELECT id::text FROM products")
        .fetch_all(&stack.db)
        .await
        .unwrap();
    assert_eq!(ids.len(), 1000);

    let res = stack
        .post(
            &anna.access_token,
            "/api/products/bulk",
            json!({ "ids": ids, "price_change_percent": 10, "stock_change": -2 }),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let (min, max): (i64, i64) =
        sqlx::query_as("SELECT min(price_cents), max(price_cents) FROM products")
            .fetch_one(&stack.db)
            .await
            .unwrap();
    assert_eq!((min, max), (1100, 1100));

    // Stock may not go below zero: nothing changes.
    let res = stack
        .post(
            &anna.access_token,
            "/api/products/bulk",
            json!({ "ids": ids, "stock_change": -4 }),
        )
        .await;
    assert_eq!(error_code(res).await, "out_of_range");
    let stock: i64 = sqlx::query_scalar("SELECT sum(stock) FROM products")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(stock, 3000);

    // One foreign id spoils the batch: 404 and nothing changes.
    let theirs = stack
        .product(&bernd.access_token, product_body("X", "Bernd", 100, 1))
        .await;
    let mut mixed: Vec<Value> = ids.iter().take(10).map(|i| json!(i)).collect();
    mixed.push(theirs["id"].clone());
    assert_eq!(
        error_code(
            stack
                .post(
                    &anna.access_token,
                    "/api/products/bulk",
                    json!({ "ids": mixed, "price_amount": 1 })
                )
                .await
        )
        .await,
        "not_found"
    );
    let cheap: i64 = sqlx::query_scalar("SELECT count(*) FROM products WHERE price_cents = 1")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(cheap, 0);

    let too_many: Vec<String> = (0..1001)
        .map(|_| uuid::Uuid::now_v7().to_string())
        .collect();
    assert_eq!(
        error_code(
            stack
                .post(
                    &anna.access_token,
                    "/api/products/bulk",
                    json!({ "ids": too_many, "stock": 1 })
                )
                .await
        )
        .await,
        "validation_failed"
    );
    assert_eq!(
        error_code(
            stack
                .post(
                    &anna.access_token,
                    "/api/products/bulk",
                    json!({ "ids": ids, "stock": 1, "stock_change": 1 })
                )
                .await
        )
        .await,
        "validation_failed"
    );
    assert_eq!(
        error_code(
            stack
                .post(
                    &anna.access_token,
                    "/api/products/bulk",
                    json!({ "ids": ids })
                )
                .await
        )
        .await,
        "validation_failed"
    );
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn csv_import_of_ten_thousand_rows_and_export_round_trip(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.merchant("anna@example.de").await;
    let import = |body: String| {
        stack
            .http
            .post(stack.url("/api/products/import"))
            .bearer_auth(&anna.access_token)
            .header("content-type", "text/csv; charset=utf-8")
            .body(body)
            .send()
    };
    let csv: String = std::iter::once("sku;title;description;price;stock;images\n".to_owned())
        .chain((0..10_000).map(|i| format!("SKU-{i:05};\"Artikel {i}; \"\"groß\"\"\";Zeile 1;{},{:02};{};https://cdn.example.de/{i}.jpg\n", i % 100, i % 100, i % 50)))
        .collect();
    let res = import(csv).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let result: Value = res.json().await.unwrap();
    assert_eq!(result, json!({ "created": 10000, "updated": 0 }));
    let title: String = sqlx::query_scalar("SELECT title FROM products WHERE sku = 'SKU-00042'")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(title, "Artikel 42; \"groß\"");

    // Bad rows anywhere: every one reported, nothing written.
    let mut bad: String = "sku,title,price,stock\n".to_owned();
    for i in 0..5000 {
        bad.push_str(&format!("NEW-{i},Neu,1.00,1\n"));
    }
    bad.push_str("NEW-X,,1.00,1\nNEW-Y,Preis,zehn,1\nNEW-1,Doppelt,1.00,1\n");
    let res = import(bad).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["rows[5002].title", "rows[5003].price", "rows[5004].sku"]
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(count, 10_000, "nothing half-imported");

    // Export, change a price in the file, import it back: updates, no duplicates.
    let res = stack.get(&anna.access_token, "/api/products/export").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let exported = res.text().await.unwrap();
    assert_eq!(exported.lines().count(), 10_001);
    let changed = exported.replacen("Zeile 1,0.00", "Zeile 1,0.01", 1);
    let res = import(changed).await.unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({ "created": 0, "updated": 10000 })
    );
    let min: i64 = sqlx::query_scalar("SELECT min(price_cents) FROM products")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(min, 0, "other zero prices are untouched");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(count, 10_000);

    let res = stack
        .http
        .post(stack.url("/api/products/import"))
        .bearer_auth(&anna.access_token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, "unsupported_media_type");
    // Another merchant's export is empty but for the header.
    let bernd = stack.merchant("bernd@example.de").await;
    assert_eq!(
        stack
            .get(&bernd.access_token, "/api/products/export")
            .await
            .text()
            .await
            .unwrap()
            .lines()
            .count(),
        1
    );
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn values_postgres_would_refuse_are_4xx(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.merchant("anna@example.de").await;
    let p = stack
        .product(
            &anna.access_token,
            product_body("BIG", "Viel", 100, 1_000_000_000),
        )
        .await;
    let ids = json!([p["id"]]);
    // Bulk results past the limits (or past int4) roll back with 422, not a 500.
    for change in [
        json!({ "stock_change": 1 }),
        json!({ "stock_change": 1_000_000_000 }),
        json!({ "price_change_percent": 1000 }),
    ] {
        let mut body = change.clone();
        body["ids"] = ids.clone();
        let mut res = stack
            .post(&anna.access_token, "/api/products/bulk", body.clone())
            .await;
        // Prices reach the limit after a few rounds of +1000 %.
        for _ in 0..12 {
            if res.status() != StatusCode::OK {
                break;
            }
            res = stack
                .post(&anna.access_token, "/api/products/bulk", body.clone())
                .await;
        }
        assert_eq!(error_code(res).await, "out_of_range", "{change}");
    }
    for query in [
        "changed_since=-5000-01-01T00:00:00Z",
        "sort=title&cursor=W3siVGV4dCI6ICJcdTAwMDAifSwgIjAxOTMwMDAwLTAwMDAtNzAwMC04MDAwLTAwMDAwMDAwMDAwMCJd",
    ] {
        let res = stack.get(&anna.access_token, &format!("/api/products?{query}")).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{query}");
    }
    let mut body = product_body("PIPE", "Bild", 1, 1);
    body["images"] = json!(["https://cdn.example.de/a|b.jpg"]);
    assert_eq!(
        error_code(stack.post(&anna.access_token, "/api/products", body).await).await,
        "validation_failed"
    );
}

/// `GET path` with `Accept-Encoding: encoding`; the answer's `Content-Encoding` and its body
/// decoded. Fails if the body ends early (the server broke off mid-stream).
async fn get_compressed(stack: &Stack, token: &str, path: &str, encoding: &str) -> String {
    use std::io::Read;
    let res = stack
        .http
        .get(stack.url(path))
        .bearer_auth(token)
        .header("accept-encoding", encoding)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-encoding"], encoding);
    let compressed = res.bytes().await.expect("the whole body arrives");
    let mut text = String::new();
    match encoding {
        "gzip" => flate2::read::GzDecoder::new(&compressed[..])
            .read_to_string(&mut text)
            .unwrap(),
        "br" => brotli::Decompressor::new(&compressed[..], 4096)
            .read_to_string(&mut text)
            .unwrap(),
        other => panic!("{other}"),
    };
    text
}

async fn import_csv(stack: &Stack, token: &str, csv: String) -> reqwest::Response {
    stack
        .http
        .post(stack.url("/api/products/import"))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap()
}

fn csv_rows(n: usize) -> String {
    std::iter::once("sku,title,price,stock\n".to_owned())
        .chain((0..n).map(|i| {
            format!(
                "SKU-{i:06},Artikel {i},{}.{:02},{}\n",
                i % 100,
                i % 100,
                i % 7
            )
        }))
        .collect()
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn export_is_whole_when_compressed(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.merchant("anna@example.de").await;
    let token = &anna.access_token;
    let plain = || async {
        stack
            .get(token, "/api/products/export")
            .await
            .text()
            .await
            .unwrap()
    };
    // Empty catalogue: just the header, in every encoding.
    let header = plain().await;
    assert_eq!(header.lines().count(), 1);
    for encoding in ["gzip", "br"] {
        assert_eq!(
            get_compressed(&stack, token, "/api/products/export", encoding).await,
            header
        );
    }
    // 5,000 products: five keyset batches, compressed as they stream.
    let res = import_csv(&stack, token, csv_rows(5_000)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let full = plain().await;
    assert_eq!(full.lines().count(), 5_001);
    for encoding in ["gzip", "br"] {
        assert_eq!(
            get_compressed(&stack, token, "/api/products/export", encoding).await,
            full,
            "{encoding}"
        );
    }
    // JSON answers are compressed too.
    let page = get_compressed(&stack, token, "/api/products?limit=200", "br").await;
    assert_eq!(
        serde_json::from_str::<Value>(&page).unwrap()["items"]
            .as_array()
            .unwrap()
            .len(),
        200
    );
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn one_product_by_id_and_only_ones_own(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.merchant("anna@example.de").await;
    let bernd = stack.merchant("bernd@example.de").await;
    let created = stack
        .product(&anna.access_token, product_body("MUG-1", "Becher", 1299, 4))
        .await;
    let path = format!("/api/products/{}", created["id"].as_str().unwrap());
    let res = stack.get(&anna.access_token, &path).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap(), created);

    for (token, path) in [
        (&bernd.access_token, path.as_str()),
        (
            &anna.access_token,
            "/api/products/0193a0a0-0000-7000-8000-000000000000",
        ),
        (&anna.access_token, "/api/products/not-an-id"),
    ] {
        assert_eq!(
            error_code(stack.get(token, path).await).await,
            "not_found",
            "{path}"
        );
    }
    let res = stack.http.get(stack.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let doc = stack.openapi().await;
    let responses = &doc["paths"]["/api/products/{id}"]["get"]["responses"];
    for status in ["200", "401", "404"] {
        assert!(responses[status].is_object(), "{status} in {responses}");
    }
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn imports_are_capped_in_rows(db: PgPool) {
    let stack = Stack::spawn_with(db.clone(), &["--import-max-rows", "10"]).await;
    let anna = stack.merchant("anna@example.de").await;
    let res = import_csv(&stack, &anna.access_token, csv_rows(11)).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(res).await, "too_many_rows");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(count, 0);
    let res = import_csv(&stack, &anna.access_token, csv_rows(10)).await;
    assert_eq!(res.status(), StatusCode::OK);

    // Unless set otherwise, 100,000 rows.
    let config = <api::config::Config as clap::Parser>::try_parse_from([
        "api",
        "--service-token",
        common::SERVICE_TOKEN,
        "--credentials-keys",
        common::KEY,
    ])
    .unwrap();
    assert_eq!(config.import_max_rows, 100_000);
}

/// The API's statements still running on this test's database.
async fn running_inserts(db: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()
            AND state = 'active' AND query LIKE '%INSERT INTO products%'",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

/// Waits up to `secs` for no import statement to be left running.
async fn no_insert_left_within(db: &PgPool, secs: u64) -> bool {
    for _ in 0..secs * 10 {
        if running_inserts(db).await == 0 {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

/// Waits up to three seconds until the API's INSERT runs (here: waits for the lock).
async fn insert_running(db: &PgPool) {
    for _ in 0..30 {
        if running_inserts(db).await == 1 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the import's INSERT never started");
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn an_import_that_ends_early_leaves_no_statement_running(db: PgPool) {
    let stack = Stack::spawn_with(
        db.clone(),
        &["--request-timeout-secs", "4", "--channel-timeout-secs", "2"],
    )
    .await;
    let anna = stack.merchant("anna@example.de").await;
    // A lock held elsewhere keeps the import's INSERT waiting, as a slow one would run.
    let mut blocker = db.begin().await.unwrap();
    sqlx::query("LOCK TABLE products IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let import = || {
        stack
            .http
            .post(stack.url("/api/products/import"))
            .bearer_auth(&anna.access_token)
            .header("content-type", "text/csv")
            .body(csv_rows(100))
            .send()
    };

    // The request times out: 408, and Postgres stops the statement.
    let request = tokio::spawn(import());
    insert_running(&db).await;
    let res = request.await.unwrap().unwrap();
    assert_eq!(error_code(res).await, "request_timeout");
    assert!(
        no_insert_left_within(&db, 2).await,
        "the timed-out import's INSERT still runs"
    );

    // The client goes away: the statement ends long before the request would time out.
    let request = tokio::spawn(import());
    insert_running(&db).await;
    request.abort();
    assert!(
        no_insert_left_within(&db, 2).await,
        "the abandoned import's INSERT still runs"
    );

    blocker.commit().await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing half-written");
    // The service is fine afterwards.
    let res = import_csv(&stack, &anna.access_token, csv_rows(100)).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_failed_import_gives_its_connection_back_without_a_cancel(db: PgPool) {
    // The api's pool holds one connection and counts the ones it opens: closing the failed
    // import's connection, or sending a cancel on another, would open a second.
    let opened = Arc::new(AtomicUsize::new(0));
    let counter = opened.clone();
    let api_db = PgPoolOptions::new()
        .max_connections(1)
        .after_connect(move |_, _| {
            counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        })
        .connect_with((*db.connect_options()).clone())
        .await
        .unwrap();
    let stack = Stack::spawn_with_api_db(db.clone(), api_db.clone(), &[]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let connection = stack.shopify(&anna, "Annas Laden").await;
    let csv =
        |sku: &str| format!("sku,title,price,connection_id\n{sku},Becher,1.00,{connection}\n");
    let res = import_csv(&stack, &anna.access_token, csv("FIRST")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(opened.load(Ordering::SeqCst), 1);

    // The import's INSERT waits for a delete of its connection, which then commits: Postgres
    // refuses the statement (409), the connection itself is fine.
    let mut delete = db.begin().await.unwrap();
    sqlx::query("DELETE FROM connections WHERE id = $1::uuid")
        .bind(&connection)
        .execute(&mut *delete)
        .await
        .unwrap();
    let request = tokio::spawn({
        let (http, url, token) = (
            stack.http.clone(),
            stack.url("/api/products/import"),
            anna.access_token.clone(),
        );
        let body = csv("LATE");
        async move {
            http.post(url)
                .bearer_auth(token)
                .header("content-type", "text/csv")
                .body(body)
                .send()
                .await
                .unwrap()
        }
    });
    insert_running(&db).await;
    delete.commit().await.unwrap();
    let res = request.await.unwrap();
    assert_eq!(error_code(res).await, "connection_deleted");

    // Time for a (wrong) cancel to be sent; then the same connection serves the next import.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let res = import_csv(
        &stack,
        &anna.access_token,
        "sku,title,price\nNEXT,Becher,1.00\n".into(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        opened.load(Ordering::SeqCst),
        1,
        "the failed import's connection was closed, or a cancel was sent"
    );
    assert_eq!(api_db.size(), 1);
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn exported_formulas_are_escaped_and_import_back_exactly(db: PgPool) {
    let stack = Stack::spawn(db.clone()).await;
    let anna = stack.merchant("anna@example.de").await;
    let token = &anna.access_token;
    let texts = [
        ("=HYPERLINK(\"https://evil.example\",\"Klick\")", "=1+2"),
        ("+49 221 123456", "@SUM(A1:A9)"),
        ("-5 % Rabatt", "'=schon maskiert"),
        ("'Kölsch'", "''"),
        ("Normaler Titel", "Zeile 1\n=Zeile 2"),
    ];
    for (i, (title, description)) in texts.iter().enumerate() {
        let mut body = product_body(&format!("-SKU-{i}"), title, 1999 + i as i64, i as i32);
        body["description"] = json!(description);
        stack.product(token, body).await;
    }
    let exported = stack
        .get(token, "/api/products/export")
        .await
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(exported.as_bytes());
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), texts.len());
    for record in &records {
        for cell in record.iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?} in {record:?}"
            );
        }
        // Numbers stay numbers.
        assert!(record[5].parse::<f64>().is_ok(), "{record:?}");
        assert!(record[7].parse::<u32>().is_ok(), "{record:?}");
    }
    assert!(exported.contains("'=HYPERLINK("));
    assert!(exported.contains("'-SKU-0"));

    // Back in: the same products, to the character.
    let before: Vec<(String, String, String, i64)> =
        sqlx::query_as("SELECT sku, title, description, price_cents FROM products ORDER BY sku")
            .fetch_all(&db)
            .await
            .unwrap();
    sqlx::query("DELETE FROM products")
        .execute(&db)
        .await
        .unwrap();
    let res = import_csv(&stack, token, exported).await;
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({ "created": 5, "updated": 0 })
    );
    let after: Vec<(String, String, String, i64)> =
        sqlx::query_as("SELECT sku, title, description, price_cents FROM products ORDER BY sku")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(after, before);
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn currencies_are_iso_4217_and_broken_json_is_400(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.merchant("anna@example.de").await;
    let token = &anna.access_token;
    let mut body = product_body("Q", "Q", 100, 1);
    body["price"]["currency"] = json!("QQQ");
    let res = stack.post(token, "/api/products", body).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error: Value = res.json().await.unwrap();
    assert_eq!(error["error"]["fields"][0]["code"], "invalid_currency");
    let res = import_csv(
        &stack,
        token,
        "sku,title,price,currency\nQ,Q,1.00,QQQ\n".into(),
    )
    .await;
    assert_eq!(error_code(res).await, "validation_failed");
    let res = stack
        .get(token, "/api/analytics/summary?currency=QQQ")
        .await;
    assert_eq!(error_code(res).await, "invalid_query");
    let mut body = product_body("C", "Franken", 100, 1);
    body["price"]["currency"] = json!("chf");
    assert_eq!(stack.product(token, body).await["price"]["currency"], "CHF");

    let raw = |path: &'static str, body: &'static str| {
        stack
            .http
            .post(stack.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // Not JSON at all, even where serde would first meet a wrong type: 400 malformed_json.
    for (path, body) in [
        ("/api/products/bulk", r#"{"ids": [1, 2"#),
        ("/api/products/bulk", r#"{"ids": ["x"], "stock": 1,}"#),
        ("/api/products/bulk", "{ids: []}"),
        ("/api/products", r#"{"sku": 5, "title": "#),
        ("/api/connections", r#"{"platform": 1 "#),
    ] {
        let res = raw(path, body).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path} {body}");
        assert_eq!(error_code(res).await, "malformed_json", "{path} {body}");
    }
    // Well-formed JSON of the wrong shape: 422 invalid_body. An array is not read as a
    // struct's fields in order.
    for (path, body) in [
        ("/api/products/bulk", r#"{"ids": [1, 2]}"#),
        ("/api/products", r#"{"sku": 5}"#),
        ("/api/connections", "[null, null, null, null]"),
        (
            "/api/products/bulk",
            r#"[["00000000-0000-0000-0000-000000000000"]]"#,
        ),
    ] {
        let res = raw(path, body).await.unwrap();
        assert_eq!(error_code(res).await, "invalid_body", "{path} {body}");
    }
}
