//! The orders phase through the real stack against the stand-ins: orders and their lines
//! imported from Shopify, Amazon and Kaufland, never duplicated, status changes followed,
//! counted by analytics; and one stock across channels: an order on one channel lowers the
//! stock everywhere and the new quantity is pushed to the merchant's other channels.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use common::{sandbox, sandbox_args, Stack};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sm_sandbox::catalogue::{SeedOrder, SeedOrderStatus};
use sm_sandbox::faults::Vendor;
use sm_sandbox::shops::{Shop, MAX_ORDER_QUANTITY};
use sqlx::PgPool;
use uuid::Uuid;

/// Two workers, retries without waiting, no schedule (jobs come from the tests only).
async fn stack(db: PgPool, running: &sm_sandbox::Running) -> Stack {
    let mut args = sandbox_args(running);
    args.extend(
        [
            "--sync-workers",
            "2",
            "--sync-retry-base-secs",
            "0",
            "--sync-interval-secs",
            "0",
        ]
        .iter()
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

/// Polls the job until it ends; it must succeed.
async fn follow(stack: &Stack, token: &str, job: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let res = stack.get(token, &format!("/api/sync/jobs/{job}")).await;
        assert_eq!(res.status(), StatusCode::OK);
        let view: Value = res.json().await.unwrap();
        match view["state"].as_str().unwrap() {
            "succeeded" => return view,
            "failed" => panic!("the job failed: {view}"),
            _ if Instant::now() > deadline => panic!("the job did not end: {view}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Triggers a sync of `kind` and follows it to its successful end.
async fn sync(stack: &Stack, token: &str, connection: Uuid, kind: &str, mode: &str) -> Value {
    let res = stack
        .post(
            token,
            "/api/sync/trigger",
            json!({ "connection_id": connection, "kind": kind, "mode": mode }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job: Value = res.json().await.unwrap();
    follow(stack, token, job["id"].as_str().unwrap()).await
}

/// Every order of the merchant from `connection`, with its lines, by order number.
async fn orders(stack: &Stack, token: &str, connection: Uuid) -> HashMap<String, Value> {
    let mut all = HashMap::new();
    let mut cursor = String::new();
    loop {
        let res = stack
            .get(token, &format!("/api/orders?limit=200&cursor={cursor}"))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let page: Value = res.json().await.unwrap();
        for order in page["items"].as_array().unwrap() {
            if order["connection_id"] != json!(connection) {
                continue;
            }
            let res = stack
                .get(
                    token,
                    &format!("/api/orders/{}", order["id"].as_str().unwrap()),
                )
                .await;
            assert_eq!(res.status(), StatusCode::OK);
            let detail: Value = res.json().await.unwrap();
            let number = detail["order_number"].as_str().unwrap().to_owned();
            assert!(all.insert(number, detail).is_none(), "an order twice");
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return all,
        }
    }
}

fn vendor(platform: &str) -> Vendor {
    match platform {
        "shopify" => Vendor::Shopify,
        "amazon" => Vendor::Amazon,
        _ => Vendor::Kaufland,
    }
}

/// How the stand-in names the seeded order `o`, and whether a number is it.
fn is_number_of(platform: &str, o: &SeedOrder, number: &str) -> bool {
    match platform {
        "shopify" => number == format!("#{}", o.number),
        "amazon" => number.starts_with("302-") && number.ends_with(&format!("-{:07}", o.index)),
        _ => number == kaufland_id(o.index),
    }
}

/// Kaufland's `id_order` in the stand-in: `S` and the index in six base-36 digits.
fn kaufland_id(index: usize) -> String {
    let digits = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut n = index;
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = digits[n % 36];
        n /= 36;
    }
    format!("S{}", String::from_utf8_lossy(&out))
}

/// The cockpit's status of a seeded order as each vendor shows it (Shopify knows no
/// delivery, Amazon no refund).
fn expected_status(platform: &str, status: SeedOrderStatus) -> &'static str {
    use SeedOrderStatus::*;
    match (platform, status) {
        (_, Pending) => "pending",
        (_, Paid) => "paid",
        (_, Shipped) | ("shopify", Delivered) | ("amazon", Delivered | Refunded) => "shipped",
        (_, Delivered) => "delivered",
        (_, Cancelled) => "cancelled",
        (_, Refunded) => "refunded",
    }
}

/// Units a seeded order sells, per line as the vendor lists them (Kaufland: one per unit).
fn line_count(platform: &str, o: &SeedOrder) -> usize {
    match platform {
        "kaufland" => o.lines.iter().map(|l| l.quantity as usize).sum(),
        _ => o.lines.len(),
    }
}

/// The seeded orders the job's window shows (Shopify shows 60 days without
/// `read_all_orders`).
async fn visible(db: &PgPool, platform: &str, shop: &Shop, job: &Value) -> Vec<SeedOrder> {
    let since: chrono::DateTime<Utc> =
        sqlx::query_scalar("SELECT orders_since FROM sync_jobs WHERE id = $1")
            .bind(job["id"].as_str().unwrap().parse::<Uuid>().unwrap())
            .fetch_one(db)
            .await
            .unwrap();
    (0..shop.order_count())
        .filter_map(|i| shop.order(i))
        .filter(|o| o.updated_at.timestamp() >= since.timestamp())
        .filter(|o| platform != "shopify" || o.placed_at >= Utc::now() - chrono::Duration::days(60))
        .collect()
}

/// Ledger entries of one action for a job.
async fn ledger_count(db: &PgPool, job: &Value, action: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM sync_ledger WHERE job_id = $1 AND action = $2")
        .bind(job["id"].as_str().unwrap().parse::<Uuid>().unwrap())
        .bind(action)
        .fetch_one(db)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn each_stand_ins_orders_are_imported_once_and_follow_status_changes(db: PgPool) {
    let running = sandbox().await;
    let stack = stack(db.clone(), &running).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let mut imported_orders = Vec::new();
    for platform in ["shopify", "amazon", "kaufland"] {
        let connection = connect(&stack, token, platform).await;
        let shop = running
            .sandbox
            .tenant_shop(vendor(platform), &connection.to_string());
        let job = sync(&stack, token, connection, "orders", "full").await;
        let expected = visible(&db, platform, &shop, &job).await;
        assert!(!expected.is_empty(), "{platform}: the stand-in has orders");
        let got = orders(&stack, token, connection).await;
        assert_eq!(got.len(), expected.len(), "{platform}: {:?}", got.keys());
        assert_eq!(job["items_done"], expected.len(), "{platform}");
        assert_eq!(
            ledger_count(&db, &job, "imported").await,
            expected.len() as i64
        );
        for seed in &expected {
            let (_, order) = got
                .iter()
                .find(|(number, _)| is_number_of(platform, seed, number))
                .unwrap_or_else(|| panic!("{platform}: order {} missing", seed.index));
            assert_eq!(order["channel"], platform);
            assert_eq!(
                order["status"],
                expected_status(platform, seed.status),
                "{platform}"
            );
            assert_eq!(
                order["total"],
                json!({"amount": seed.total_cents(), "currency": "EUR"})
            );
            let items = order["items"].as_array().unwrap();
            assert_eq!(items.len(), line_count(platform, seed), "{platform}");
            let sold: i64 = items.iter().map(|i| i["quantity"].as_i64().unwrap()).sum();
            assert_eq!(sold, seed.lines.iter().map(|l| l.quantity).sum::<i64>());
            for line in &seed.lines {
                let sku = shop.catalogue.product(line.product_index).sku;
                assert!(items.iter().any(|i| i["sku"] == sku), "{platform}: {sku}");
            }
        }

        // Read again, incrementally and whole: nothing doubles.
        let ids = |orders: &HashMap<String, Value>| {
            let mut ids: Vec<String> = orders.values().map(|o| o["id"].to_string()).collect();
            ids.sort();
            ids
        };
        let again = sync(&stack, token, connection, "orders", "incremental").await;
        assert_eq!(ledger_count(&db, &again, "imported").await, 0);
        sync(&stack, token, connection, "orders", "full").await;
        let after = orders(&stack, token, connection).await;
        assert_eq!(ids(&after), ids(&got), "{platform}");
        for (number, order) in &after {
            assert_eq!(order["items"], got[number]["items"], "{platform}");
        }

        // A status changed at the stand-in follows.
        let seed = expected
            .iter()
            .find(|o| o.status != SeedOrderStatus::Cancelled)
            .expect("an order that is not cancelled");
        assert!(shop.set_order_status(seed.index, SeedOrderStatus::Cancelled));
        let job = sync(&stack, token, connection, "orders", "incremental").await;
        assert_eq!(
            ledger_count(&db, &job, "status_changed").await,
            1,
            "{platform}"
        );
        let now = orders(&stack, token, connection).await;
        let (_, changed) = now
            .iter()
            .find(|(number, _)| is_number_of(platform, seed, number))
            .unwrap();
        assert_eq!(changed["status"], "cancelled", "{platform}");
        assert_eq!(
            changed["items"],
            got[changed["order_number"].as_str().unwrap()]["items"]
        );
        assert_eq!(now.len(), got.len());
        imported_orders.extend(now.into_values());
    }

    // Analytics counts what was imported: every order but the cancelled and refunded.
    let today = Utc::now().date_naive();
    let from = today - Days::new(120);
    let res = stack
        .get(
            token,
            &format!("/api/analytics/summary?from={from}&to={today}&tz=UTC"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let summary: Value = res.json().await.unwrap();
    let earning: Vec<&Value> = imported_orders
        .iter()
        .filter(|o| !matches!(o["status"].as_str(), Some("cancelled" | "refunded")))
        .collect();
    let revenue: i64 = earning
        .iter()
        .map(|o| o["total"]["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(summary["totals"]["order_count"], earning.len());
    assert_eq!(summary["totals"]["revenue"], revenue);
    for platform in ["shopify", "amazon", "kaufland"] {
        let count = earning.iter().filter(|o| o["channel"] == platform).count();
        let row = summary["by_channel"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["channel"] == platform);
        assert_eq!(
            row.map_or(0, |r| r["order_count"].as_u64().unwrap() as usize),
            count
        );
    }
}

/// The merchant's products with `sku`, by connection: (stock, has_local_changes, channel_stock).
async fn stock_of(db: &PgPool, sku: &str) -> HashMap<Uuid, (i32, bool, Option<i32>)> {
    let rows: Vec<(Uuid, i32, bool, Option<i32>)> = sqlx::query_as(
        "SELECT connection_id, stock, has_local_changes, channel_stock FROM products WHERE sku = $1",
    )
    .bind(sku)
    .fetch_all(db)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(c, s, p, cs)| (c, (s, p, cs)))
        .collect()
}

/// The push job (origin stock) for `connection` made after `after`, followed to its end.
async fn stock_push(stack: &Stack, token: &str, connection: Uuid, after: Uuid) -> Value {
    let job: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM sync_jobs WHERE connection_id = $1 AND kind = 'push' AND origin = 'stock'
            AND id > $2 ORDER BY id LIMIT 1",
    )
    .bind(connection)
    .bind(after)
    .fetch_optional(&stack.db)
    .await
    .unwrap();
    let job = job.expect("a push job for the other channel");
    follow(stack, token, &job.to_string()).await
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn an_order_on_one_channel_lowers_the_stock_on_every_channel(db: PgPool) {
    let running = sandbox().await;
    let stack = stack(db.clone(), &running).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let shopify = connect(&stack, token, "shopify").await;
    let kaufland = connect(&stack, token, "kaufland").await;
    let shopify_shop = running
        .sandbox
        .tenant_shop(Vendor::Shopify, &shopify.to_string());
    let kaufland_shop = running
        .sandbox
        .tenant_shop(Vendor::Kaufland, &kaufland.to_string());

    // Both imported whole, one after the other: the history lowers nothing.
    for connection in [shopify, kaufland] {
        let job = sync(&stack, token, connection, "both", "full").await;
        assert_eq!(ledger_count(&db, &job, "stock_lowered").await, 0);
    }
    // Two articles both shops sell: one to sell out, one to sell a unit of.
    let products = shopify_shop.catalogue.products();
    let mut candidates = (0..products).filter(|&i| {
        let stock = shopify_shop.product(i).stock;
        (3..=MAX_ORDER_QUANTITY).contains(&stock)
    });
    let (last, some) = (candidates.next().unwrap(), candidates.next().unwrap());
    let (last_sku, some_sku) = (
        shopify_shop.product(last).seed.sku,
        shopify_shop.product(some).seed.sku,
    );
    assert_eq!(
        kaufland_shop.product(last).seed.sku,
        last_sku,
        "shared SKUs"
    );
    let last_units = shopify_shop.product(last).stock;
    let some_units = shopify_shop.product(some).stock;
    // The first import took the Shopify stand-in's stock as it was (its orders were
    // history), and Kaufland's products the same stock.
    for (sku, units) in [(&last_sku, last_units), (&some_sku, some_units)] {
        let rows = stock_of(&db, sku).await;
        assert_eq!(rows[&shopify].0, units as i32);
        assert_eq!(rows[&kaufland].0, units as i32);
    }
    // Kaufland lists one unit fewer than on hand.
    sqlx::query("UPDATE connections SET stock_buffer = 1 WHERE id = $1")
        .bind(kaufland)
        .execute(&db)
        .await
        .unwrap();

    // A buyer takes the last units of one article and one unit of another at Shopify.
    shopify_shop.place_order(&last_sku, last_units).unwrap();
    let one = shopify_shop.place_order(&some_sku, 1).unwrap();
    let job = sync(&stack, token, shopify, "orders", "incremental").await;
    assert_eq!(ledger_count(&db, &job, "imported").await, 2);
    assert_eq!(ledger_count(&db, &job, "stock_lowered").await, 2);
    // Kaufland's push was enqueued in the transaction that lowered the stock (one `now()`):
    // a worker dying after that commit cannot lose it.
    let same_transaction: Option<bool> = sqlx::query_scalar(
        "SELECT j.created_at = (SELECT min(at) FROM sync_ledger
                                 WHERE job_id = $1 AND action = 'stock_lowered')
           FROM sync_jobs j WHERE j.connection_id = $2 AND j.origin = 'stock' AND j.id > $1",
    )
    .bind(job["id"].as_str().unwrap().parse::<Uuid>().unwrap())
    .bind(kaufland)
    .fetch_optional(&db)
    .await
    .unwrap();
    assert_eq!(
        same_transaction,
        Some(true),
        "the push is committed with the page"
    );

    // One stock: it dropped on both connections' products; Shopify's own channel lowered
    // its stock itself, Kaufland's is pending for the push.
    let rows = stock_of(&db, &last_sku).await;
    assert_eq!(rows[&shopify].0, 0);
    assert_eq!(
        rows[&shopify].2,
        Some(0),
        "Shopify sold them: its listing is 0"
    );
    assert_eq!(rows[&kaufland].0, 0);
    let rows = stock_of(&db, &some_sku).await;
    assert_eq!(rows[&shopify].0, some_units as i32 - 1);
    assert_eq!(rows[&kaufland].0, some_units as i32 - 1);
    let lines: Vec<(String, Option<Uuid>)> = sqlx::query_as(
        "SELECT i.sku, p.connection_id FROM order_items i JOIN orders o ON o.id = i.order_id
           LEFT JOIN products p ON p.id = i.product_id
          WHERE o.connection_id = $1 AND i.sku = ANY($2) AND o.placed_at > now() - interval '1 hour'",
    )
    .bind(shopify)
    .bind([last_sku.clone(), some_sku.clone()])
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(lines.len(), 2);
    assert!(
        lines.iter().all(|(_, c)| *c == Some(shopify)),
        "lines link to the selling connection's products: {lines:?}"
    );

    // The new quantity reaches Kaufland (less its buffer).
    let first_job = job["id"].as_str().unwrap().parse().unwrap();
    stock_push(&stack, token, kaufland, first_job).await;
    assert_eq!(kaufland_shop.product(last).stock, 0);
    assert_eq!(kaufland_shop.product(some).stock, some_units - 2);
    assert_eq!(shopify_shop.product(last).stock, 0, "Shopify untouched");
    for sku in [&last_sku, &some_sku] {
        let rows = stock_of(&db, sku).await;
        assert!(!rows[&kaufland].1, "pushed: no longer pending");
    }

    // Reading the same orders again lowers nothing twice.
    let again = sync(&stack, token, shopify, "orders", "incremental").await;
    assert_eq!(ledger_count(&db, &again, "stock_lowered").await, 0);
    assert_eq!(
        stock_of(&db, &some_sku).await[&shopify].0,
        some_units as i32 - 1
    );

    // The buyer cancels at Shopify (the stand-in does not restock): the unit comes back
    // everywhere, once, and is pushed to both channels.
    assert!(shopify_shop.set_order_status(one.index, SeedOrderStatus::Cancelled));
    let job = sync(&stack, token, shopify, "orders", "incremental").await;
    assert_eq!(ledger_count(&db, &job, "status_changed").await, 1);
    assert_eq!(ledger_count(&db, &job, "stock_returned").await, 1);
    let rows = stock_of(&db, &some_sku).await;
    assert_eq!(rows[&shopify].0, some_units as i32);
    assert_eq!(rows[&kaufland].0, some_units as i32);
    assert_eq!(
        shopify_shop.product(some).stock,
        some_units,
        "pushed back to Shopify"
    );
    let first_job = job["id"].as_str().unwrap().parse().unwrap();
    stock_push(&stack, token, kaufland, first_job).await;
    assert_eq!(kaufland_shop.product(some).stock, some_units - 1);
    let again = sync(&stack, token, shopify, "orders", "incremental").await;
    assert_eq!(ledger_count(&db, &again, "stock_returned").await, 0);
    assert_eq!(
        stock_of(&db, &some_sku).await[&kaufland].0,
        some_units as i32
    );
}

/// An order placed before the first import's window, shipped today: the incremental import
/// sees it for the first time, but it is history and takes no stock.
#[sqlx::test(migrator = "api::MIGRATOR")]
async fn an_old_order_seen_first_by_an_incremental_import_takes_no_stock(db: PgPool) {
    let running = sandbox().await;
    let mut args = sandbox_args(&running);
    args.extend(
        [
            "--sync-workers",
            "1",
            "--sync-retry-base-secs",
            "0",
            "--sync-interval-secs",
            "0",
            "--orders-import-days",
            "30",
        ]
        .iter()
        .map(|a| (*a).to_owned()),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let stack = Stack::spawn_with(db.clone(), &args).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let shopify = connect(&stack, token, "shopify").await;
    let shop = running
        .sandbox
        .tenant_shop(Vendor::Shopify, &shopify.to_string());
    sync(&stack, token, shopify, "both", "full").await;

    // Placed 32 to 58 days ago (Shopify shows it, the 30-day import did not read it; the
    // seeded orders are 9 days apart), one that took stock when it was placed.
    let now = Utc::now();
    let old = (0..shop.order_count())
        .filter_map(|i| shop.order(i))
        .find(|o| {
            let age = now - o.placed_at;
            age > chrono::Duration::days(32)
                && age < chrono::Duration::days(58)
                && !matches!(
                    o.status,
                    SeedOrderStatus::Cancelled | SeedOrderStatus::Refunded
                )
        })
        .expect("an old order");
    let skus: Vec<String> = old
        .lines
        .iter()
        .map(|l| shop.product(l.product_index).seed.sku)
        .collect();
    let before: Vec<i32> = stock_by_sku(&db, &skus).await;
    assert!(shop.set_order_status(old.index, SeedOrderStatus::Shipped));
    let job = sync(&stack, token, shopify, "orders", "incremental").await;
    assert_eq!(
        ledger_count(&db, &job, "imported").await,
        1,
        "seen for the first time"
    );
    assert_eq!(ledger_count(&db, &job, "stock_lowered").await, 0);
    assert_eq!(ledger_count(&db, &job, "stock_returned").await, 0);
    assert_eq!(stock_by_sku(&db, &skus).await, before);
}

/// The stock of each SKU's product (one connection).
async fn stock_by_sku(db: &PgPool, skus: &[String]) -> Vec<i32> {
    let mut stock = Vec::new();
    for sku in skus {
        let rows = stock_of(db, sku).await;
        stock.push(rows.values().next().expect("imported").0);
    }
    stock
}

mod rules {
    //! The import's SQL on its own, for the cases the stand-ins do not make: cancelled new
    //! orders, stock that would go below 0, a SKU the selling connection does not list.

    use api::db::order_import::{self, NewLine, NewOrder, Source};
    use chrono::{DateTime, Utc};
    use sqlx::PgPool;
    use uuid::Uuid;

    async fn connection(db: &PgPool, user: Uuid, platform: &str) -> Uuid {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO connections (id, user_id, platform, shop_name, credentials_enc, credentials_hint, status)
             VALUES ($1, $2, $3, 'Shop', '\\x00', 'hint', 'active')",
        )
        .bind(id)
        .bind(user)
        .bind(platform)
        .execute(db)
        .await
        .unwrap();
        id
    }

    async fn product(
        db: &PgPool,
        user: Uuid,
        connection: Option<Uuid>,
        sku: &str,
        stock: i32,
    ) -> Uuid {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO products (id, user_id, connection_id, sku, title, price_cents, stock, external_id, channel_stock)
             VALUES ($1, $2, $3, $4, 'Artikel', 999, $5, CASE WHEN $3 IS NOT NULL THEN $4 || '-ext' END,
                     CASE WHEN $3 IS NOT NULL THEN $5 END)",
        )
        .bind(id)
        .bind(user)
        .bind(connection)
        .bind(sku)
        .bind(stock)
        .execute(db)
        .await
        .unwrap();
        id
    }

    fn order(id: &str, status: &'static str, lines: &[(&str, i32)]) -> NewOrder {
        NewOrder {
            external_id: id.to_owned(),
            order_number: format!("#{id}"),
            status,
            currency: "EUR".to_owned(),
            total_cents: 999,
            customer_name: "Anna".to_owned(),
            customer_email: "anna@example.de".to_owned(),
            placed_at: Utc::now(),
            updated_at: Utc::now(),
            lines: lines
                .iter()
                .map(|(sku, quantity)| NewLine {
                    external_id: None,
                    sku: (*sku).to_owned(),
                    title: "Artikel".to_owned(),
                    quantity: *quantity,
                    unit_price_cents: 999,
                    total_cents: 999 * i64::from(*quantity),
                })
                .collect(),
        }
    }

    async fn state(db: &PgPool, id: Uuid) -> (i32, bool, Option<i32>) {
        sqlx::query_as("SELECT stock, has_local_changes, channel_stock FROM products WHERE id = $1")
            .bind(id)
            .fetch_one(db)
            .await
            .unwrap()
    }

    #[sqlx::test(migrator = "api::MIGRATOR")]
    async fn new_orders_lower_one_stock_never_below_zero_and_cancelled_ones_not_at_all(db: PgPool) {
        let user = Uuid::now_v7();
        let shopify = connection(&db, user, "shopify").await;
        let kaufland = connection(&db, user, "kaufland").await;
        let own = product(&db, user, Some(shopify), "A", 5).await;
        let other = product(&db, user, Some(kaufland), "A", 5).await;
        let cockpit = product(&db, user, None, "A", 5).await;
        // B is listed on Kaufland only; C nowhere.
        let b_other = product(&db, user, Some(kaufland), "B", 2).await;
        let source = Source {
            user_id: user,
            connection_id: shopify,
            channel: "shopify",
        };
        // Whole seconds: where stock counts from is kept to the second.
        let since = DateTime::from_timestamp(Utc::now().timestamp() - 86_400, 0).unwrap();

        let mut tx = db.begin().await.unwrap();
        let page = [
            order("1", "paid", &[("A", 2), ("B", 5), ("C", 1)]),
            order("2", "cancelled", &[("A", 1)]),
            order("3", "pending", &[("A", 1)]),
        ];
        let imported = order_import::import_page(&mut tx, &source, &page, Some(since))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(imported.orders.len(), 3);
        assert!(imported.orders.iter().all(|o| o.created));
        let mut lowered: Vec<(String, i32, i32)> = imported
            .lowered
            .iter()
            .map(|l| (l.sku.clone(), l.old_stock, l.stock))
            .collect();
        lowered.sort();
        assert_eq!(lowered, vec![("A".into(), 5, 2), ("B".into(), 2, 0)]);
        // The seller's own row: its channel sold them (channel_stock follows, not pending).
        assert_eq!(state(&db, own).await, (2, false, Some(2)));
        // Kaufland's row follows and waits for the push; the cockpit's row follows.
        assert_eq!(state(&db, other).await, (2, true, Some(5)));
        assert_eq!(state(&db, cockpit).await.0, 2);
        // Never below 0, and the only row of the SKU (another channel's) is pending.
        assert_eq!(state(&db, b_other).await, (0, true, Some(2)));
        let mut c = db.acquire().await.unwrap();
        assert_eq!(
            order_import::connections_to_push(&mut c, user, shopify)
                .await
                .unwrap(),
            vec![kaufland]
        );

        // Lines link to this connection's product, else any with the SKU, else none.
        let links: Vec<(String, Option<Uuid>)> = sqlx::query_as(
            "SELECT i.sku, i.product_id FROM order_items i JOIN orders o ON o.id = i.order_id
              WHERE o.external_id = '1' ORDER BY i.sku",
        )
        .fetch_all(&db)
        .await
        .unwrap();
        assert_eq!(
            links,
            vec![
                ("A".into(), Some(own)),
                ("B".into(), Some(b_other)),
                ("C".into(), None)
            ]
        );

        // Again, now changed: no new lines, no stock taken twice, the change recorded.
        let mut tx = db.begin().await.unwrap();
        let mut shipped = order("1", "shipped", &[("A", 2)]);
        shipped.updated_at = Utc::now();
        let imported =
            order_import::import_page(&mut tx, &source, &[shipped, page[1].clone()], Some(since))
                .await
                .unwrap();
        tx.commit().await.unwrap();
        assert!(imported.lowered.is_empty());
        let first = imported
            .orders
            .iter()
            .find(|o| o.external_id == "1")
            .unwrap();
        assert!(!first.created && first.updated);
        assert_eq!(
            (first.old_status.as_deref(), first.status.as_str()),
            (Some("paid"), "shipped")
        );
        let second = imported
            .orders
            .iter()
            .find(|o| o.external_id == "2")
            .unwrap();
        assert!(!second.created && !second.updated, "unchanged: left alone");
        let lines: i64 = sqlx::query_scalar("SELECT count(*) FROM order_items")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(lines, 5);
        assert_eq!(state(&db, own).await.0, 2);

        // An older state never overwrites a newer one.
        let mut stale = order("1", "paid", &[("A", 2)]);
        stale.updated_at = Utc::now() - chrono::Duration::hours(1);
        let mut tx = db.begin().await.unwrap();
        order_import::import_page(&mut tx, &source, &[stale], Some(since))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let status: String =
            sqlx::query_scalar("SELECT status FROM orders WHERE external_id = '1'")
                .fetch_one(&db)
                .await
                .unwrap();
        assert_eq!(status, "shipped");

        // The high-water mark only moves forward.
        // The high-water mark only moves forward; where stock counts from is set once.
        let later: DateTime<Utc> = Utc::now();
        let mut c = db.acquire().await.unwrap();
        order_import::finish(&mut c, user, shopify, later, since)
            .await
            .unwrap();
        order_import::finish(
            &mut c,
            user,
            shopify,
            later - chrono::Duration::days(1),
            later,
        )
        .await
        .unwrap();
        let (until, from): (DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
            "SELECT orders_synced_until, orders_stock_from FROM connections WHERE id = $1",
        )
        .bind(shopify)
        .fetch_one(&db)
        .await
        .unwrap();
        assert_eq!(until.timestamp_micros(), later.timestamp_micros());
        assert_eq!(from.timestamp_micros(), since.timestamp_micros());
        let from = order_import::stock_from(&mut c, user, shopify)
            .await
            .unwrap();
        assert_eq!(
            from.map(|f| f.timestamp_micros()),
            Some(since.timestamp_micros())
        );
    }

    #[sqlx::test(migrator = "api::MIGRATOR")]
    async fn orders_placed_before_the_first_import_take_nothing_and_cancelled_ones_give_back(
        db: PgPool,
    ) {
        let user = Uuid::now_v7();
        let shopify = connection(&db, user, "shopify").await;
        let kaufland = connection(&db, user, "kaufland").await;
        let own = product(&db, user, Some(shopify), "A", 10).await;
        let other = product(&db, user, Some(kaufland), "A", 10).await;
        let source = Source {
            user_id: user,
            connection_id: shopify,
            channel: "shopify",
        };
        let from = Utc::now() - chrono::Duration::days(1);
        let import = |orders: Vec<NewOrder>| {
            let db = db.clone();
            async move {
                let mut tx = db.begin().await.unwrap();
                let imported = order_import::import_page(&mut tx, &source, &orders, Some(from))
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                imported
            }
        };

        // Placed before the first import began, seen now for the first time (shipped
        // today): history, no stock taken; one placed since: a sale.
        let mut old = order("old", "shipped", &[("A", 3)]);
        old.placed_at = Utc::now() - chrono::Duration::days(100);
        let imported = import(vec![old, order("new", "paid", &[("A", 2)])]).await;
        let lowered: Vec<(i32, i32)> = imported
            .lowered
            .iter()
            .map(|l| (l.old_stock, l.stock))
            .collect();
        assert_eq!(lowered, vec![(10, 8)]);
        assert_eq!(state(&db, other).await.0, 8);
        let taken: Vec<(String, bool)> =
            sqlx::query_as("SELECT external_id, stock_taken FROM orders ORDER BY external_id")
                .fetch_all(&db)
                .await
                .unwrap();
        assert_eq!(taken, vec![("new".into(), true), ("old".into(), false)]);
        // Make Kaufland's row pushed, as after its push.
        sqlx::query(
            "UPDATE products SET has_local_changes = false, channel_stock = 8 WHERE id = $1",
        )
        .bind(other)
        .execute(&db)
        .await
        .unwrap();

        // Both cancelled: the one that took stock gives it back, once, everywhere; the old
        // one took nothing and gives nothing.
        let cancelled = |id: &str, lines: &[(&str, i32)]| {
            let mut o = order(id, "cancelled", lines);
            o.updated_at = Utc::now() + chrono::Duration::seconds(1);
            o
        };
        let imported = import(vec![
            cancelled("old", &[("A", 3)]),
            cancelled("new", &[("A", 2)]),
        ])
        .await;
        assert!(imported.lowered.is_empty());
        let returned: Vec<(Uuid, i32, i32)> = imported
            .returned
            .iter()
            .map(|r| (r.product_id, r.old_stock, r.stock))
            .collect();
        assert_eq!(returned, vec![(own, 8, 10)]);
        // The seller's channel may not have restocked: its row is pending too.
        assert_eq!(state(&db, own).await, (10, true, Some(8)));
        assert_eq!(state(&db, other).await, (10, true, Some(8)));
        let mut refunded = cancelled("new", &[("A", 2)]);
        refunded.status = "refunded";
        refunded.updated_at += chrono::Duration::seconds(1);
        let imported = import(vec![refunded]).await;
        assert!(imported.returned.is_empty(), "given back once");
        assert_eq!(state(&db, own).await.0, 10);
    }

    /// Two connections of one merchant importing orders of the same SKUs at once (lines in
    /// opposite orders) never deadlock: each page locks its SKUs' products in one order
    /// before it links lines to them.
    #[sqlx::test(migrator = "api::MIGRATOR")]
    async fn two_connections_importing_the_same_skus_at_once_do_not_deadlock(db: PgPool) {
        let user = Uuid::now_v7();
        let shopify = connection(&db, user, "shopify").await;
        let kaufland = connection(&db, user, "kaufland").await;
        let skus: Vec<String> = (0..6).map(|i| format!("S{i}")).collect();
        for sku in &skus {
            for c in [shopify, kaufland] {
                product(&db, user, Some(c), sku, 1_000).await;
            }
        }
        let from = Utc::now() - chrono::Duration::days(1);
        let mut tasks = Vec::new();
        for round in 0..30 {
            for (n, (connection, channel)) in [(shopify, "shopify"), (kaufland, "kaufland")]
                .into_iter()
                .enumerate()
            {
                let mut lines: Vec<(&str, i32)> = skus.iter().map(|s| (s.as_str(), 1)).collect();
                if n == 1 {
                    lines.reverse();
                }
                let page = vec![order(&format!("{round}"), "paid", &lines)];
                let db = db.clone();
                tasks.push(tokio::spawn(async move {
                    let source = Source {
                        user_id: user,
                        connection_id: connection,
                        channel,
                    };
                    let mut tx = db.begin().await?;
                    order_import::import_page(&mut tx, &source, &page, Some(from)).await?;
                    tx.commit().await
                }));
            }
        }
        for task in tasks {
            task.await.unwrap().expect("no deadlock");
        }
        // Every order sold one of each: 60 orders.
        let stock: Vec<i32> = sqlx::query_scalar("SELECT DISTINCT stock FROM products")
            .fetch_all(&db)
            .await
            .unwrap();
        assert_eq!(stock, vec![1_000 - 60]);
    }
}
