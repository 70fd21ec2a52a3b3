//! The products pull end to end: sandbox shops imported through the real workers, the
//! conflict rules (channel prices taken unless a local change is pending, local content
//! kept until the channel changes it, stock never pulled), removals marked, one stock per
//! SKU across connections, and faults at the channel ending in a retried success or a
//! visible failure, never a duplicate or half a page.

mod common;

use std::time::Duration;

use common::{sandbox_args, sandbox_secret, Stack};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sm_sandbox::faults::{Fault, Vendor};
use sm_sandbox::shops::Shop;
use sqlx::PgPool;
use uuid::Uuid;

/// Sandbox shops of `products` products (Shopify pages hold 25), paced a hundred times
/// faster than the vendors; a `timeout` fault holds its answer 3 s.
async fn sandbox(products: usize) -> sm_sandbox::Running {
    let mut config = sm_sandbox::SandboxConfig::new(sandbox_secret());
    config.size = sm_sandbox::catalogue::CatalogueSize {
        products,
        orders: 10,
    };
    config.rate_scale = 100.0;
    config.fault_delay = Duration::from_secs(3);
    sm_sandbox::spawn(config).await.unwrap()
}

/// A stack running two sync workers, no schedule, with `extra` settings.
async fn stack(db: PgPool, running: &sm_sandbox::Running, extra: &[&str]) -> Stack {
    let mut args = sandbox_args(running);
    args.extend(
        ["--sync-workers", "2", "--sync-interval-secs", "0"]
            .iter()
            .chain(extra)
            .map(|a| (*a).to_owned()),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Stack::spawn_with(db, &args).await
}

async fn connect(stack: &Stack, token: &str, platform: &str) -> Uuid {
    let res = stack
        .post(
            token,
            "/api/connections",
            json!({ "platform": platform, "sandbox": true }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    created["id"].as_str().unwrap().parse().unwrap()
}

fn vendor(platform: &str) -> Vendor {
    match platform {
        "shopify" => Vendor::Shopify,
        "amazon" => Vendor::Amazon,
        _ => Vendor::Kaufland,
    }
}

fn shop(running: &sm_sandbox::Running, platform: &str, connection: Uuid) -> std::sync::Arc<Shop> {
    running
        .sandbox
        .tenant_shop(vendor(platform), &connection.to_string())
}

/// Waits until no job of the connection waits or runs (a push queued by a local edit).
async fn idle(stack: &Stack, connection: Uuid) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let active: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sync_jobs WHERE connection_id = $1 AND state IN ('queued', 'running')",
        )
        .bind(connection)
        .fetch_one(&stack.db)
        .await
        .unwrap();
        if active == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the connection stays busy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Triggers a products sync and follows the job to its end; returns the job as
/// `GET /api/sync/jobs/{id}` shows it.
async fn sync(stack: &Stack, token: &str, connection: Uuid, mode: &str) -> Value {
    idle(stack, connection).await;
    let res = stack
        .post(
            token,
            "/api/sync/trigger",
            json!({ "connection_id": connection, "kind": "products", "mode": mode }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job: Value = res.json().await.unwrap();
    follow(stack, token, job["id"].as_str().unwrap()).await
}

async fn follow(stack: &Stack, token: &str, job: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let res = stack.get(token, &format!("/api/sync/jobs/{job}")).await;
        assert_eq!(res.status(), StatusCode::OK);
        let job: Value = res.json().await.unwrap();
        if job["state"] == "succeeded" || job["state"] == "failed" {
            return job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job never ended: {job}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn succeeded(stack: &Stack, token: &str, connection: Uuid, mode: &str) -> Value {
    let job = sync(stack, token, connection, mode).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    job
}

/// The connection's products as the API lists them, by SKU.
async fn products(
    stack: &Stack,
    token: &str,
    connection: Uuid,
) -> std::collections::BTreeMap<String, Value> {
    let res = stack
        .get(
            token,
            &format!("/api/products?connection_id={connection}&limit=200"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page: Value = res.json().await.unwrap();
    assert!(page["next_cursor"].is_null(), "one page holds them");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["sku"].as_str().unwrap().to_owned(), p.clone()))
        .collect()
}

/// (action, sku, changes, channel code) of a job's ledger, in order.
async fn ledger(db: &PgPool, job: &Value) -> Vec<(String, String, Value, Option<String>)> {
    let job: Uuid = job["id"].as_str().unwrap().parse().unwrap();
    sqlx::query_as(
        "SELECT action, coalesce(sku, ''), changes, channel_code FROM sync_ledger WHERE job_id = $1 ORDER BY id",
    )
    .bind(job)
    .fetch_all(db)
    .await
    .unwrap()
}

async fn count(db: &PgPool, connection: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM products WHERE connection_id = $1")
        .bind(connection)
        .fetch_one(db)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_full_import_takes_every_stand_in_product_once(db: PgPool) {
    let running = sandbox(30).await;
    let stack = stack(db, &running, &[]).await;
    for platform in ["shopify", "amazon", "kaufland"] {
        let merchant = stack.onboarded(&format!("{platform}@example.de")).await;
        let token = &merchant.access_token;
        let connection = connect(&stack, token, platform).await;
        let job = succeeded(&stack, token, connection, "full").await;
        assert_eq!(job["items_done"], 30, "{platform}: {job}");
        assert_eq!(job["items_failed"], 0);

        let shop = shop(&running, platform, connection);
        let listed = products(&stack, token, connection).await;
        assert_eq!(listed.len(), 30, "{platform}");
        for index in 0..30 {
            let seed = shop.product(index);
            let p = &listed[&seed.seed.sku];
            assert_eq!(p["price"]["amount"], seed.price_cents, "{platform} {index}");
            assert_eq!(p["price"]["currency"], "EUR");
            assert_eq!(p["stock"], seed.stock, "{platform} {index}");
            assert_eq!(p["channel_price_cents"], seed.price_cents);
            assert_eq!(p["channel_stock"], seed.stock);
            // Amazon does not sell what is out of stock; Kaufland holds every 25th unit.
            let active = match platform {
                "amazon" => seed.stock > 0,
                "kaufland" => index % 25 != 24,
                _ => true,
            };
            let state = if active { "active" } else { "inactive" };
            assert_eq!(p["channel_state"], state, "{platform} {index}");
            assert_eq!(p["has_local_changes"], false);
            assert!(p["push_error"].is_null());
            assert!(p["pulled_at"].is_string());
            let images = p["images"].as_array().unwrap();
            assert!(!images.is_empty(), "{platform} {index}: {p}");
            if platform == "shopify" {
                assert_eq!(p["title"], seed.seed.title.as_str());
                assert_eq!(images.len(), seed.seed.image_count);
            }
            let external: Option<String> =
                sqlx::query_scalar("SELECT external_id FROM products WHERE id = $1")
                    .bind(p["id"].as_str().unwrap().parse::<Uuid>().unwrap())
                    .fetch_one(&stack.db)
                    .await
                    .unwrap();
            let external = external.expect("an external id");
            if platform == "shopify" {
                assert_eq!(
                    external,
                    format!("gid://shopify/ProductVariant/{}", index + 1)
                );
            }
        }
        let first = ledger(&stack.db, &job).await;
        assert_eq!(
            first.iter().filter(|e| e.0 == "created").count(),
            30,
            "{platform}"
        );

        // Again: nothing is imported twice, nothing is created.
        let again = succeeded(&stack, token, connection, "full").await;
        assert_eq!(count(&stack.db, connection).await, 30, "{platform}");
        let second = ledger(&stack.db, &again).await;
        assert!(
            second.iter().all(|e| e.0 != "created"),
            "{platform}: {second:?}"
        );
        let connection_synced: Option<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar("SELECT products_synced_at FROM connections WHERE id = $1")
                .bind(connection)
                .fetch_one(&stack.db)
                .await
                .unwrap();
        assert!(connection_synced.is_some());
    }
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn channel_prices_are_taken_unless_a_local_change_is_pending(db: PgPool) {
    let running = sandbox(30).await;
    let mut stack = stack(db, &running, &[]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let connection = connect(&stack, token, "shopify").await;
    succeeded(&stack, token, connection, "full").await;
    let shop = shop(&running, "shopify", connection);
    let (a, b) = (shop.product(3).seed.sku, shop.product(7).seed.sku);

    // Nothing pending here: the channel's new price is taken by the next (incremental) pull.
    shop.set_price(3, 4_321);
    let job = succeeded(&stack, token, connection, "incremental").await;
    let listed = products(&stack, token, connection).await;
    assert_eq!(listed[&a]["price"]["amount"], 4_321);
    assert_eq!(listed[&a]["channel_price_cents"], 4_321);
    let entries = ledger(&stack.db, &job).await;
    let updated = entries
        .iter()
        .find(|e| e.0 == "updated" && e.1 == a)
        .expect("an updated entry");
    assert_eq!(
        updated.2["price_cents"],
        json!({"old": shop.product(3).seed.price_cents, "new": 4_321})
    );
    assert!(entries.iter().all(|e| e.0 != "created"), "{entries:?}");

    // A local price edit waits for its push; the channel changed the price meanwhile. No
    // worker runs until both the push and a pull are queued (they merge into one job whose
    // pull comes first), so the pull meets the pending edit.
    stack.stop_workers().await;
    shop.set_price(7, 5_555);
    let p = &listed[&b];
    let mut body = json!({
        "sku": b, "title": p["title"], "description": p["description"],
        "price": {"amount": 1_999, "currency": "EUR"}, "stock": p["stock"], "images": p["images"],
    });
    if p["connection_id"].is_string() {
        body["connection_id"] = p["connection_id"].clone();
    }
    let res = stack
        .put(
            token,
            &format!("/api/products/{}", p["id"].as_str().unwrap()),
            body,
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let res = stack
        .post(
            token,
            "/api/sync/trigger",
            json!({ "connection_id": connection, "kind": "products", "mode": "incremental" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job: Value = res.json().await.unwrap();
    let _worker = stack.api_process(Some(&running), &[("SYNC_WORKERS", "1")]);
    let job = follow(&stack, token, job["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let entries = ledger(&stack.db, &job).await;
    let conflict = entries
        .iter()
        .find(|e| e.0 == "conflict" && e.1 == b)
        .unwrap_or_else(|| panic!("a conflict entry: {entries:?}"));
    assert_eq!(
        conflict.2["price_cents"],
        json!({"old": 1_999, "new": 5_555})
    );
    let listed = products(&stack, token, connection).await;
    assert_eq!(
        listed[&b]["price"]["amount"], 1_999,
        "the local price stays"
    );
    // ... and is what the push sent.
    assert_eq!(shop.product(7).price_cents, 1_999);
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn local_content_stays_until_the_channel_changes_it(db: PgPool) {
    let running = sandbox(10).await;
    let stack = stack(db, &running, &[]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let connection = connect(&stack, token, "shopify").await;
    succeeded(&stack, token, connection, "full").await;
    let shop = shop(&running, "shopify", connection);
    let sku = shop.product(2).seed.sku;
    let p = products(&stack, token, connection).await[&sku].clone();
    let body = json!({
        "sku": sku, "connection_id": connection, "title": "Unser bester Honig",
        "description": "<p>Vom Imker nebenan</p>", "price": p["price"], "stock": p["stock"],
        "images": [],
    });
    let res = stack
        .put(
            token,
            &format!("/api/products/{}", p["id"].as_str().unwrap()),
            body,
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );

    succeeded(&stack, token, connection, "full").await;
    let kept = &products(&stack, token, connection).await[&sku];
    assert_eq!(kept["title"], "Unser bester Honig");
    assert_eq!(kept["description"], "<p>Vom Imker nebenan</p>");
    assert_eq!(kept["images"], json!([]));

    // The stand-in cannot edit content: the last sync is made to remember other content,
    // which is what a channel edit looks like to the next pull.
    sqlx::query("UPDATE products SET channel_content_sha = '\\x00' WHERE id = $1")
        .bind(p["id"].as_str().unwrap().parse::<Uuid>().unwrap())
        .execute(&stack.db)
        .await
        .unwrap();
    let job = succeeded(&stack, token, connection, "full").await;
    let taken = &products(&stack, token, connection).await[&sku];
    assert_eq!(taken["title"], shop.product(2).seed.title.as_str());
    assert_eq!(
        taken["images"].as_array().unwrap().len(),
        shop.product(2).seed.image_count
    );
    let entries = ledger(&stack.db, &job).await;
    let updated = entries
        .iter()
        .find(|e| e.0 == "updated" && e.1 == sku)
        .unwrap();
    assert_eq!(updated.2["title"]["old"], "Unser bester Honig");
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn products_gone_from_the_channel_are_marked_removed_not_deleted(db: PgPool) {
    let running = sandbox(30).await;
    let stack = stack(db, &running, &[]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let connection = connect(&stack, token, "shopify").await;
    succeeded(&stack, token, connection, "full").await;
    let shop = shop(&running, "shopify", connection);
    shop.remove(4);
    shop.remove(27);
    let gone = [shop.product(4).seed.sku, shop.product(27).seed.sku];

    // An incremental pass sees only changes: it marks nothing.
    succeeded(&stack, token, connection, "incremental").await;
    let listed = products(&stack, token, connection).await;
    assert!(gone.iter().all(|s| listed[s]["channel_state"] == "active"));

    let job = succeeded(&stack, token, connection, "full").await;
    assert_eq!(job["items_done"], 28);
    let listed = products(&stack, token, connection).await;
    assert_eq!(listed.len(), 30, "kept");
    for (sku, p) in &listed {
        let expected = if gone.contains(sku) {
            "removed"
        } else {
            "active"
        };
        assert_eq!(p["channel_state"], expected, "{sku}");
    }
    let removed: Vec<_> = ledger(&stack.db, &job)
        .await
        .into_iter()
        .filter(|e| e.0 == "removed")
        .map(|e| e.1)
        .collect();
    assert_eq!(removed.len(), 2);
    assert!(removed.iter().all(|s| gone.contains(s)));

    // Marked once: the next full pass has nothing to remove.
    let job = succeeded(&stack, token, connection, "full").await;
    assert!(ledger(&stack.db, &job)
        .await
        .iter()
        .all(|e| e.0 != "removed"));
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_sku_the_merchant_has_elsewhere_adopts_its_stock(db: PgPool) {
    let running = sandbox(10).await;
    let stack = stack(db, &running, &[]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let shopify = connect(&stack, token, "shopify").await;
    succeeded(&stack, token, shopify, "full").await;
    let stocks = products(&stack, token, shopify).await;

    // The same articles at Amazon, with the Amazon shop's own stock.
    let amazon = connect(&stack, token, "amazon").await;
    let job = succeeded(&stack, token, amazon, "full").await;
    let amazon_shop = shop(&running, "amazon", amazon);
    let listed = products(&stack, token, amazon).await;
    assert_eq!(listed.len(), 10);
    let mut differing = 0;
    for (index, (sku, p)) in listed.iter().enumerate() {
        let _ = index;
        let one_stock = &stocks[sku]["stock"];
        assert_eq!(&p["stock"], one_stock, "{sku}: one stock per SKU");
        let seeded = amazon_shop.product(amazon_shop.index_of_sku(sku).unwrap());
        if p["stock"] != seeded.seed.stock {
            differing += 1;
        }
    }
    assert!(differing > 0, "the shops' stocks differ somewhere");
    // Created pending, then pushed by the job's push phase: Amazon lists the one stock.
    let created = ledger(&stack.db, &job)
        .await
        .into_iter()
        .filter(|e| e.0 == "created")
        .count();
    assert_eq!(created, 10);
    for sku in listed.keys() {
        let index = amazon_shop.index_of_sku(sku).unwrap();
        assert_eq!(
            json!(amazon_shop.product(index).stock),
            stocks[sku]["stock"],
            "{sku}"
        );
    }
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn order_lines_imported_before_the_catalogue_get_their_product(db: PgPool) {
    let running = sandbox(30).await;
    let stack = stack(db, &running, &[]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let connection = connect(&stack, token, "shopify").await;
    idle(&stack, connection).await;
    let res = stack
        .post(
            token,
            "/api/sync/trigger",
            json!({ "connection_id": connection, "kind": "both", "mode": "full" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job: Value = res.json().await.unwrap();
    let job = follow(&stack, token, job["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let (linked, unlinked): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE i.product_id IS NOT NULL),
                count(*) FILTER (WHERE i.product_id IS NULL
                                   AND EXISTS (SELECT 1 FROM products p
                                                WHERE p.connection_id = $1 AND p.sku = i.sku))
           FROM order_items i JOIN orders o ON o.id = i.order_id
          WHERE o.connection_id = $1",
    )
    .bind(connection)
    .fetch_one(&stack.db)
    .await
    .unwrap();
    assert!(linked > 0, "the orders have lines of the catalogue");
    assert_eq!(unlinked, 0);
}

/// Injects `times` faults of `fault` at the Shopify stand-in.
fn inject(running: &sm_sandbox::Running, fault: Fault, times: usize) {
    assert!(running
        .sandbox
        .faults()
        .inject(Vendor::Shopify, fault, times));
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn faults_end_in_a_retried_success_with_exactly_the_catalogue(db: PgPool) {
    let running = sandbox(60).await;
    let stack = stack(
        db,
        &running,
        &["--sync-retry-base-secs", "0", "--channel-timeout-secs", "1"],
    )
    .await;
    // More server errors than the connector retries (4): a second job attempt; malformed
    // answers are not retried by the connector: one job attempt each. (One throttle only:
    // the stand-in's THROTTLED reports an empty bucket at the vendor's unscaled pace, which
    // the client waits out for some 15 s.)
    for (n, (fault, times, attempts)) in [
        (Fault::ServerError, 6, 2),
        (Fault::Throttle, 1, 1),
        (Fault::Malformed, 2, 3),
        (Fault::Timeout, 2, 1),
    ]
    .into_iter()
    .enumerate()
    {
        let merchant = stack.onboarded(&format!("m{n}@example.de")).await;
        let token = &merchant.access_token;
        let connection = connect(&stack, token, "shopify").await;
        idle(&stack, connection).await;
        inject(&running, fault, times);
        let job = succeeded(&stack, token, connection, "full").await;
        assert_eq!(job["items_done"], 60, "{fault:?}: {job}");
        assert_eq!(job["attempts"], attempts, "{fault:?}: {job}");
        assert_eq!(count(&stack.db, connection).await, 60, "{fault:?}");
        let distinct: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT external_id) FROM products WHERE connection_id = $1",
        )
        .bind(connection)
        .fetch_one(&stack.db)
        .await
        .unwrap();
        assert_eq!(distinct, 60, "{fault:?}");
        assert_eq!(running.sandbox.faults().queued(Vendor::Shopify), 0);
    }
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn more_faults_than_attempts_fail_the_job_visibly_and_write_nothing(db: PgPool) {
    let running = sandbox(30).await;
    let stack = stack(
        db,
        &running,
        &["--sync-retry-base-secs", "0", "--sync-max-attempts", "2"],
    )
    .await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let connection = connect(&stack, token, "shopify").await;
    idle(&stack, connection).await;
    inject(&running, Fault::Malformed, 50);
    let job = sync(&stack, token, connection, "full").await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["attempts"], 2);
    assert_eq!(job["error"]["code"], "channel_protocol_error", "{job}");
    assert!(
        !job["error"]["message"].as_str().unwrap().is_empty(),
        "{job}"
    );
    assert_eq!(count(&stack.db, connection).await, 0, "no half page");
    running.sandbox.faults().clear();
}

/// Sets the SKU of the connection's product with SKU `from` in the database.
async fn rename(db: &PgPool, connection: Uuid, from: &str, to: &str) {
    sqlx::query("UPDATE products SET sku = $3 WHERE connection_id = $1 AND sku = $2")
        .bind(connection)
        .bind(from)
        .bind(to)
        .execute(db)
        .await
        .unwrap();
}

/// (stock, pending) of the merchant's products with `sku`, cockpit ones first.
async fn stocks(db: &PgPool, sku: &str) -> Vec<(i32, bool)> {
    sqlx::query_as(
        "SELECT stock, has_local_changes FROM products WHERE sku = $1
          ORDER BY connection_id NULLS FIRST, id",
    )
    .bind(sku)
    .fetch_all(db)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn units_skipped_for_a_sku_another_product_has_are_not_marked_removed(db: PgPool) {
    let running = sandbox(10).await;
    let stack = stack(db, &running, &[]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let connection = connect(&stack, token, "shopify").await;
    succeeded(&stack, token, connection, "full").await;
    let shop = shop(&running, "shopify", connection);
    let (a, b) = (shop.product(2).seed.sku, shop.product(5).seed.sku);
    // The two variants swapped their SKUs: each unit now has the other product's SKU.
    rename(&stack.db, connection, &a, "swapping").await;
    rename(&stack.db, connection, &b, &a).await;
    rename(&stack.db, connection, "swapping", &b).await;

    let job = succeeded(&stack, token, connection, "full").await;
    let listed = products(&stack, token, connection).await;
    assert_eq!(listed.len(), 10);
    for sku in [&a, &b] {
        assert_eq!(listed[sku]["channel_state"], "active", "{sku}: still live");
    }
    let entries = ledger(&stack.db, &job).await;
    assert!(entries.iter().all(|e| e.0 != "removed"), "{entries:?}");
    let skipped: Vec<_> = entries.iter().filter(|e| e.0 == "skipped").collect();
    assert_eq!(skipped.len(), 2, "{entries:?}");
    assert!(skipped
        .iter()
        .all(|e| e.3.as_deref() == Some("duplicate_sku")));

    // The job counts its ledger as it writes it.
    let job_id: Uuid = job["id"].as_str().unwrap().parse().unwrap();
    let (counted, written): (i64, i32) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM sync_ledger WHERE job_id = $1), ledger_written
           FROM sync_jobs WHERE id = $1",
    )
    .bind(job_id)
    .fetch_one(&stack.db)
    .await
    .unwrap();
    assert_eq!(counted, i64::from(written));
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_product_renamed_into_a_sku_takes_its_stock(db: PgPool) {
    let running = sandbox(10).await;
    let stack = stack(db, &running, &[]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let connection = connect(&stack, token, "shopify").await;
    succeeded(&stack, token, connection, "full").await;
    let sku = shop(&running, "shopify", connection).product(3).seed.sku;
    sqlx::query("UPDATE products SET stock = 50 WHERE connection_id = $1 AND sku = $2")
        .bind(connection)
        .bind(&sku)
        .execute(&stack.db)
        .await
        .unwrap();
    stack
        .product(
            token,
            common::product_body("SOLD-OUT", "Ausverkauft", 100, 0),
        )
        .await;

    // The variant renamed to a sold-out SKU does not bring its 50 units along.
    rename(&stack.db, connection, &sku, "SOLD-OUT").await;
    assert_eq!(stocks(&stack.db, "SOLD-OUT").await, [(0, false), (0, true)]);

    // A SKU only the renamed product has keeps its stock.
    rename(&stack.db, connection, "SOLD-OUT", "ALONE").await;
    assert_eq!(stocks(&stack.db, "ALONE").await, [(0, true)]);

    // A stock change in the same statement sets the SKU it joins.
    stack
        .product(token, common::product_body("REFILLED", "Nachschub", 100, 3))
        .await;
    sqlx::query("UPDATE products SET sku = 'REFILLED', stock = 7 WHERE connection_id = $1 AND sku = 'ALONE'")
        .bind(connection)
        .execute(&stack.db)
        .await
        .unwrap();
    let refilled: Vec<i32> = stocks(&stack.db, "REFILLED")
        .await
        .iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(refilled, [7, 7]);
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_page_holds_the_stock_it_adopts_until_it_commits(db: PgPool) {
    use api::db::product_sync;

    let running = sandbox(10).await;
    let stack = stack(db, &running, &[]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let connection = connect(&stack, token, "shopify").await;
    stack
        .product(token, common::product_body("ONE-LEFT", "Eins", 100, 5))
        .await;
    let user: Uuid = sqlx::query_scalar("SELECT user_id FROM connections WHERE id = $1")
        .bind(connection)
        .fetch_one(&stack.db)
        .await
        .unwrap();

    let mut page = stack.db.begin().await.unwrap();
    let locked = product_sync::lock(&mut page, user, connection, &[], &["ONE-LEFT"])
        .await
        .unwrap();
    let adopted = product_sync::Candidates::new(locked, connection, &[], &["ONE-LEFT"]).stocks;
    assert_eq!(adopted, [("ONE-LEFT".to_owned(), 5)]);

    // An order elsewhere waits for the page instead of lowering the stock under it.
    let mut order = stack.db.acquire().await.unwrap();
    sqlx::query("SET lock_timeout = '300ms'")
        .execute(&mut *order)
        .await
        .unwrap();
    let lower = "UPDATE products SET stock = stock - 1 WHERE user_id = $1 AND sku = 'ONE-LEFT'";
    let waited = sqlx::query(lower).bind(user).execute(&mut *order).await;
    let error = waited.unwrap_err().into_database_error().unwrap();
    let code = error.code();
    assert_eq!(code.as_deref(), Some("55P03"), "lock_not_available");
    page.rollback().await.unwrap();
    sqlx::query(lower)
        .bind(user)
        .execute(&mut *order)
        .await
        .unwrap();
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn an_incremental_pass_rereads_a_few_minutes_before_the_last(db: PgPool) {
    let running = sandbox(10).await;
    let stack = stack(db, &running, &[]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let connection = connect(&stack, token, "shopify").await;
    succeeded(&stack, token, connection, "full").await;
    let shop = shop(&running, "shopify", connection);
    shop.set_price(1, 4_242);
    // The last pass started a minute after the change, but the channel's search index
    // had not listed it as changed yet.
    sqlx::query(
        "UPDATE connections SET products_synced_at = now() + interval '1 minute' WHERE id = $1",
    )
    .bind(connection)
    .execute(&stack.db)
    .await
    .unwrap();
    succeeded(&stack, token, connection, "incremental").await;
    let listed = products(&stack, token, connection).await;
    assert_eq!(listed[&shop.product(1).seed.sku]["price"]["amount"], 4_242);
}
