//! Local changes out to the channels, through the real HTTP stack, the sync workers and the
//! sandbox stand-ins: the dry run, price and stock edits arriving at Shopify, Kaufland and
//! Amazon, a refused item, the per-channel stock buffer, a push the channel keeps
//! failing, and a stock that changed at Shopify since the last sync (not overwritten).

mod common;

use std::future::Future;
use std::time::Duration;

use common::{error_code, sandbox, sandbox_args, Stack};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sm_sandbox::faults::{Fault, Vendor};
use sqlx::PgPool;
use tokio::time::Instant;

/// A stack on the sandbox with two sync workers, retries without waiting, and `extra`.
async fn stack(db: PgPool, running: &sm_sandbox::Running, extra: &[&str]) -> Stack {
    let mut args = sandbox_args(running);
    args.extend(
        ["--sync-workers", "2", "--sync-retry-base-secs", "0"]
            .iter()
            .chain(extra)
            .map(|a| (*a).to_owned()),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Stack::spawn_with(db, &args).await
}

/// Polls `check` until it gives a value (a minute at most).
async fn until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn json_ok(res: reqwest::Response) -> Value {
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// A sandbox connection of the merchant, its products imported; returns its id.
async fn imported(stack: &Stack, token: &str, platform: &str) -> String {
    let res = stack
        .post(
            token,
            "/api/connections",
            json!({ "platform": platform, "sandbox": true }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let connection: Value = res.json().await.unwrap();
    assert_eq!(connection["status"], "active", "{connection}");
    let id = connection["id"].as_str().unwrap().to_owned();
    let res = stack
        .post(
            token,
            "/api/sync/trigger",
            json!({ "connection_id": id, "kind": "products", "mode": "full" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job: Value = res.json().await.unwrap();
    let path = format!("/api/sync/jobs/{}", job["id"].as_str().unwrap());
    let job = until("the import", || async {
        let job = json_ok(stack.get(token, &path).await).await;
        matches!(job["state"].as_str(), Some("succeeded" | "failed")).then_some(job)
    })
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    idle(stack, token, &id).await;
    id
}

/// Waits until no job of the connection waits or runs.
async fn idle(stack: &Stack, token: &str, connection: &str) {
    until("the connection's jobs to end", || async {
        for status in ["queued", "running"] {
            let path = format!("/api/sync/logs?connection_id={connection}&status={status}");
            let logs = json_ok(stack.get(token, &path).await).await;
            if !logs["items"].as_array().unwrap().is_empty() {
                return None;
            }
        }
        Some(())
    })
    .await;
}

async fn products(stack: &Stack, token: &str, connection: &str) -> Vec<Value> {
    let path = format!("/api/products?connection_id={connection}&limit=200");
    let page = json_ok(stack.get(token, &path).await).await;
    page["items"].as_array().unwrap().clone()
}

async fn product(stack: &Stack, token: &str, id: &str) -> Value {
    json_ok(stack.get(token, &format!("/api/products/{id}")).await).await
}

/// The first product of the connection with at least `stock` on hand.
async fn stocked(stack: &Stack, token: &str, connection: &str, stock: i64) -> Value {
    products(stack, token, connection)
        .await
        .into_iter()
        .find(|p| p["stock"].as_i64().unwrap() >= stock)
        .expect("a product with stock")
}

/// Replaces a product's price and stock (the rest as it is).
async fn edit(stack: &Stack, token: &str, p: &Value, cents: i64, stock: i64) -> Value {
    let body = json!({
        "sku": p["sku"], "title": p["title"], "description": p["description"],
        "price": { "amount": cents, "currency": p["price"]["currency"] },
        "stock": stock, "images": p["images"],
    });
    let path = format!("/api/products/{}", p["id"].as_str().unwrap());
    json_ok(stack.put(token, &path, body).await).await
}

/// The stand-in's (price in cents, stock) of the product with `sku`.
fn at_stand_in(
    running: &sm_sandbox::Running,
    vendor: Vendor,
    connection: &str,
    sku: &str,
) -> (i64, i64) {
    let shop = running.sandbox.tenant_shop(vendor, connection);
    let index = shop.index_of_sku(sku).expect("the stand-in has the SKU");
    let p = shop.product(index);
    (p.price_cents, p.stock)
}

fn sku(p: &Value) -> &str {
    p["sku"].as_str().unwrap()
}

/// The newest ledger entry of the connection's jobs with `action` about `product`.
async fn ledger_entry(
    stack: &Stack,
    token: &str,
    connection: &str,
    action: &str,
    product: &Value,
) -> Value {
    let logs = json_ok(
        stack
            .get(token, &format!("/api/sync/logs?connection_id={connection}"))
            .await,
    )
    .await;
    for log in logs["items"].as_array().unwrap() {
        let path = format!(
            "/api/sync/logs/{}/ledger?limit=200",
            log["id"].as_str().unwrap()
        );
        let ledger = json_ok(stack.get(token, &path).await).await;
        let entry = ledger["items"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|e| e["action"] == action && e["product_id"] == product["id"]);
        if let Some(entry) = entry {
            return entry.clone();
        }
    }
    panic!("no job of {connection} has a {action} entry for {product}")
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn the_dry_run_shows_a_price_edit_before_anything_is_sent(db: PgPool) {
    let running = sandbox().await;
    let mut stack = stack(db, &running, &[]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let shopify = imported(&stack, token, "shopify").await;
    // From here on nothing runs the queued push.
    stack.stop_workers().await;

    let pending = json_ok(stack.get(token, "/api/sync/pending").await).await;
    assert_eq!(pending[0]["items"], json!([]), "{pending}");

    let p = stocked(&stack, token, &shopify, 0).await;
    let old = p["price"]["amount"].as_i64().unwrap();
    let edited = edit(&stack, token, &p, old + 250, p["stock"].as_i64().unwrap()).await;
    assert_eq!(edited["has_local_changes"], true);

    let path = format!("/api/sync/pending?connection_id={shopify}");
    let pending = json_ok(stack.get(token, &path).await).await;
    assert_eq!(
        pending,
        json!([{
            "connection_id": shopify, "platform": "shopify", "shop_name": "Sandbox Shopify",
            "items": [{
                "product_id": p["id"], "sku": p["sku"], "external_id": pending[0]["items"][0]["external_id"],
                "changes": { "price_cents": { "old": old, "new": old + 250 } },
                "push_error": null,
            }],
            "more": false,
        }])
    );
    assert!(pending[0]["items"][0]["external_id"].is_string());
    // Nothing was sent; the push waits in the queue.
    assert_eq!(
        at_stand_in(&running, Vendor::Shopify, &shopify, sku(&p)).0,
        old
    );
    let queued = json_ok(
        stack
            .get(
                token,
                &format!("/api/sync/logs?connection_id={shopify}&status=queued"),
            )
            .await,
    )
    .await;
    assert_eq!(queued["items"][0]["kind"], "push", "{queued}");
    assert_eq!(queued["items"][0]["origin"], "merchant");

    // Scoped to the caller; a malformed id is a bad query.
    let ben = stack.onboarded("ben@example.de").await;
    let res = stack.get(&ben.access_token, &path).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let all = json_ok(stack.get(&ben.access_token, "/api/sync/pending").await).await;
    assert_eq!(all, json!([]));
    let res = stack
        .get(token, "/api/sync/pending?connection_id=not-a-uuid")
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(res).await, "invalid_query");
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn price_and_stock_edits_arrive_at_every_channel(db: PgPool) {
    let running = sandbox().await;
    let stack = stack(db, &running, &[]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let shopify = imported(&stack, token, "shopify").await;
    let kaufland = imported(&stack, token, "kaufland").await;
    let amazon = imported(&stack, token, "amazon").await;

    // A single price edit on Shopify.
    let p = stocked(&stack, token, &shopify, 0).await;
    let old = p["price"]["amount"].as_i64().unwrap();
    let stock = p["stock"].as_i64().unwrap();
    edit(&stack, token, &p, old + 100, stock).await;
    until("the price at Shopify", || async {
        (at_stand_in(&running, Vendor::Shopify, &shopify, sku(&p)) == (old + 100, stock))
            .then_some(())
    })
    .await;
    let id = p["id"].as_str().unwrap();
    let synced = until("the product marked synced", || async {
        let p = product(&stack, token, id).await;
        (p["has_local_changes"] == false).then_some(p)
    })
    .await;
    assert!(synced["synced_at"].is_string(), "{synced}");
    assert_eq!(synced["channel_price_cents"], old + 100);
    assert_eq!(synced["push_error"], Value::Null);
    let pushed = ledger_entry(&stack, token, &shopify, "pushed", &p).await;
    assert_eq!(
        pushed["changes"],
        json!({ "price_cents": { "old": old, "new": old + 100 } })
    );
    idle(&stack, token, &shopify).await;

    // One bulk stock change over all three channels: one push job per connection.
    let picked = [
        (
            Vendor::Shopify,
            shopify.as_str(),
            stocked(&stack, token, &shopify, 0).await,
        ),
        (
            Vendor::Kaufland,
            kaufland.as_str(),
            stocked(&stack, token, &kaufland, 0).await,
        ),
        (
            Vendor::Amazon,
            amazon.as_str(),
            stocked(&stack, token, &amazon, 0).await,
        ),
    ];
    let ids: Vec<&Value> = picked.iter().map(|(_, _, p)| &p["id"]).collect();
    let res = stack
        .post(
            token,
            "/api/products/bulk",
            json!({ "ids": ids, "stock": 7 }),
        )
        .await;
    assert_eq!(json_ok(res).await["updated"], 3);
    for (vendor, connection, p) in &picked {
        let price = p["price"]["amount"].as_i64().unwrap();
        until(&format!("stock 7 at {vendor:?}"), || async {
            (at_stand_in(&running, *vendor, connection, sku(p)) == (price, 7)).then_some(())
        })
        .await;
        until("the product marked synced", || async {
            let p = product(&stack, token, p["id"].as_str().unwrap()).await;
            (p["has_local_changes"] == false && p["channel_stock"] == 7).then_some(())
        })
        .await;
    }

    // A CSV import updating another Amazon product's price and stock.
    let a = products(&stack, token, &amazon)
        .await
        .into_iter()
        .find(|p| p["id"] != picked[2].2["id"])
        .unwrap();
    let csv = format!(
        "connection_id,sku,title,price,stock\n{amazon},{},\"{}\",12.34,5\n",
        sku(&a),
        a["title"].as_str().unwrap().replace('"', "\"\"")
    );
    let res = stack
        .http
        .post(stack.url("/api/products/import"))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(json_ok(res).await["updated"], 1);
    until("the imported price and stock at Amazon", || async {
        (at_stand_in(&running, Vendor::Amazon, &amazon, sku(&a)) == (1234, 5)).then_some(())
    })
    .await;

    for connection in [&shopify, &kaufland, &amazon] {
        idle(&stack, token, connection).await;
        let path = format!("/api/sync/pending?connection_id={connection}");
        let pending = json_ok(stack.get(token, &path).await).await;
        assert_eq!(pending[0]["items"], json!([]), "{pending}");
    }
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn one_stock_reaches_the_other_channels(db: PgPool) {
    let running = sandbox().await;
    let stack = stack(db, &running, &[]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let shopify = imported(&stack, token, "shopify").await;
    let kaufland = imported(&stack, token, "kaufland").await;
    // The stand-ins sell the same articles (SKUs): one stock per SKU.
    let shopify_products = products(&stack, token, &shopify).await;
    let (s, k) = products(&stack, token, &kaufland)
        .await
        .into_iter()
        .find_map(|k| {
            let s = shopify_products.iter().find(|s| s["sku"] == k["sku"])?;
            Some((s.clone(), k))
        })
        .expect("a SKU on both channels");
    assert_eq!(s["stock"], k["stock"]);
    let stand_in_sku = sku(&s).to_owned();
    let s_stock = s["stock"].as_i64().unwrap();

    // A stock edit on the Kaufland product reaches Shopify too.
    edit(
        &stack,
        token,
        &k,
        k["price"]["amount"].as_i64().unwrap(),
        s_stock + 4,
    )
    .await;
    until("the new stock on both channels", || async {
        let stocks = (
            at_stand_in(&running, Vendor::Shopify, &shopify, &stand_in_sku).1,
            at_stand_in(&running, Vendor::Kaufland, &kaufland, sku(&k)).1,
        );
        (stocks == (s_stock + 4, s_stock + 4)).then_some(())
    })
    .await;
    until("both products marked synced", || async {
        let both = [
            product(&stack, token, s["id"].as_str().unwrap()).await,
            product(&stack, token, k["id"].as_str().unwrap()).await,
        ];
        both.iter()
            .all(|p| p["has_local_changes"] == false && p["channel_stock"] == s_stock + 4)
            .then_some(())
    })
    .await;
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_refused_item_stays_pending_with_the_channels_reason(db: PgPool) {
    let running = sandbox().await;
    let stack = stack(db, &running, &[]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let kaufland = imported(&stack, token, "kaufland").await;

    // Kaufland lists nothing below one cent; the cockpit allows a price of 0.
    let p = stocked(&stack, token, &kaufland, 0).await;
    let (old, stock) = (
        p["price"]["amount"].as_i64().unwrap(),
        p["stock"].as_i64().unwrap(),
    );
    edit(&stack, token, &p, 0, stock).await;
    let id = p["id"].as_str().unwrap();
    let refused = until("the refusal", || async {
        let p = product(&stack, token, id).await;
        (!p["push_error"].is_null()).then_some(p)
    })
    .await;
    assert_eq!(refused["has_local_changes"], true);
    assert_eq!(
        refused["push_error"]["code"], "validation-error",
        "{refused}"
    );
    assert!(refused["push_error"]["message"]
        .as_str()
        .unwrap()
        .contains("listing_price"));
    assert_eq!(
        at_stand_in(&running, Vendor::Kaufland, &kaufland, sku(&p)).0,
        old
    );
    idle(&stack, token, &kaufland).await;

    let rejected = ledger_entry(&stack, token, &kaufland, "rejected", &p).await;
    assert_eq!(rejected["will_retry"], false);
    assert_eq!(rejected["channel"]["code"], "validation-error");
    assert_eq!(
        rejected["changes"],
        json!({ "price_cents": { "old": old, "new": 0 } })
    );
    let logs = json_ok(
        stack
            .get(token, &format!("/api/sync/logs?connection_id={kaufland}"))
            .await,
    )
    .await;
    assert_eq!(logs["items"][0]["status"], "succeeded");
    assert_eq!(logs["items"][0]["items_failed"], 1);

    // The dry run lists it with the reason.
    let path = format!("/api/sync/pending?connection_id={kaufland}");
    let pending = json_ok(stack.get(token, &path).await).await;
    assert_eq!(pending[0]["items"][0]["product_id"], p["id"]);
    assert_eq!(
        pending[0]["items"][0]["push_error"]["code"],
        "validation-error"
    );

    // The merchant's next edit clears the reason and is pushed.
    let edited = edit(&stack, token, &p, 1_500, stock).await;
    assert_eq!(edited["push_error"], Value::Null);
    until("the corrected price at Kaufland", || async {
        (at_stand_in(&running, Vendor::Kaufland, &kaufland, sku(&p)).0 == 1_500).then_some(())
    })
    .await;
    until("the product marked synced", || async {
        let p = product(&stack, token, id).await;
        (p["has_local_changes"] == false && p["push_error"].is_null()).then_some(())
    })
    .await;
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn the_stock_buffer_lists_fewer_units(db: PgPool) {
    let running = sandbox().await;
    let stack = stack(db, &running, &[]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let shopify = imported(&stack, token, "shopify").await;
    let plenty = stocked(&stack, token, &shopify, 3).await;
    let stock = plenty["stock"].as_i64().unwrap();
    let low = products(&stack, token, &shopify)
        .await
        .into_iter()
        .find(|p| p["id"] != plenty["id"])
        .unwrap();
    // One unit on hand: with a buffer of 2 the channel lists none (never below 0).
    edit(
        &stack,
        token,
        &low,
        low["price"]["amount"].as_i64().unwrap(),
        1,
    )
    .await;
    until("one unit at Shopify", || async {
        (at_stand_in(&running, Vendor::Shopify, &shopify, sku(&low)).1 == 1).then_some(())
    })
    .await;
    idle(&stack, token, &shopify).await;

    let path = format!("/api/connections/{shopify}");
    for bad in [json!(-1), json!(1_000_001)] {
        let res = stack
            .send(
                reqwest::Method::PATCH,
                token,
                &path,
                json!({ "stock_buffer": bad }),
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let ben = stack.onboarded("ben@example.de").await;
    let res = stack
        .send(
            reqwest::Method::PATCH,
            &ben.access_token,
            &path,
            json!({ "stock_buffer": 2 }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let res = stack
        .send(
            reqwest::Method::PATCH,
            token,
            &path,
            json!({ "stock_buffer": 2 }),
        )
        .await;
    let connection = json_ok(res).await;
    assert_eq!(connection["stock_buffer"], 2);
    assert!(connection["products_synced_at"].is_string(), "{connection}");
    assert!(connection.get("orders_synced_until").is_some());
    until("the buffered stock at Shopify", || async {
        let listed = (
            at_stand_in(&running, Vendor::Shopify, &shopify, sku(&plenty)).1,
            at_stand_in(&running, Vendor::Shopify, &shopify, sku(&low)).1,
        );
        (listed == (stock - 2, 0)).then_some(())
    })
    .await;
    idle(&stack, token, &shopify).await;
    // The cockpit keeps what is on hand; the channel's listing is what it shows as theirs.
    let p = product(&stack, token, plenty["id"].as_str().unwrap()).await;
    assert_eq!(
        (&p["stock"], &p["channel_stock"]),
        (&json!(stock), &json!(stock - 2))
    );
    assert_eq!(p["has_local_changes"], false);
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_push_the_channel_keeps_failing_leaves_the_change_pending(db: PgPool) {
    let running = sandbox().await;
    let stack = stack(db, &running, &["--sync-max-attempts", "2"]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let shopify = imported(&stack, token, "shopify").await;

    // More 500s than the connector's retries over both attempts.
    assert!(running
        .sandbox
        .faults()
        .inject(Vendor::Shopify, Fault::ServerError, 100));
    let p = stocked(&stack, token, &shopify, 0).await;
    let old = p["price"]["amount"].as_i64().unwrap();
    edit(&stack, token, &p, old + 300, p["stock"].as_i64().unwrap()).await;
    let path = format!("/api/sync/logs?connection_id={shopify}&status=failed");
    let failed = until("the failed push", || async {
        let logs = json_ok(stack.get(token, &path).await).await;
        logs["items"].as_array().unwrap().first().cloned()
    })
    .await;
    running.sandbox.faults().clear();
    assert_eq!(failed["kind"], "push", "{failed}");
    assert_eq!(failed["attempts"], 2);
    assert_eq!(
        failed["errors"][0]["code"], "channel_unavailable",
        "{failed}"
    );
    assert!(!failed["errors"][0]["message"].as_str().unwrap().is_empty());

    let p = product(&stack, token, p["id"].as_str().unwrap()).await;
    assert_eq!(p["has_local_changes"], true);
    assert_eq!(p["push_error"], Value::Null);
    assert_eq!(p["channel_price_cents"], old);
    assert_eq!(
        at_stand_in(&running, Vendor::Shopify, &shopify, sku(&p)).0,
        old
    );
    let pending = json_ok(
        stack
            .get(token, &format!("/api/sync/pending?connection_id={shopify}"))
            .await,
    )
    .await;
    assert_eq!(pending[0]["items"][0]["product_id"], p["id"]);
}

/// Triggers a sync of the connection and waits for its success.
async fn synced(stack: &Stack, token: &str, connection: &str, kind: &str, mode: &str) {
    let res = stack
        .post(
            token,
            "/api/sync/trigger",
            json!({ "connection_id": connection, "kind": kind, "mode": mode }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job: Value = res.json().await.unwrap();
    let path = format!("/api/sync/jobs/{}", job["id"].as_str().unwrap());
    let job = until("the sync", || async {
        let job = json_ok(stack.get(token, &path).await).await;
        matches!(job["state"].as_str(), Some("succeeded" | "failed")).then_some(job)
    })
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    idle(stack, token, connection).await;
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_sale_at_shopify_since_the_last_sync_is_not_overwritten(db: PgPool) {
    let running = sandbox().await;
    let stack = stack(db, &running, &["--sync-interval-secs", "0"]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let res = stack
        .post(
            token,
            "/api/connections",
            json!({ "platform": "shopify", "sandbox": true }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let shopify = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    synced(&stack, token, &shopify, "both", "full").await;
    let p = stocked(&stack, token, &shopify, 5).await;
    let had = p["stock"].as_i64().unwrap();

    // Two sold at Shopify, not yet imported; the merchant then books in ten more here.
    let shop = running.sandbox.tenant_shop(Vendor::Shopify, &shopify);
    shop.place_order(sku(&p), 2).unwrap();
    edit(
        &stack,
        token,
        &p,
        p["price"]["amount"].as_i64().unwrap(),
        had + 10,
    )
    .await;
    let id = p["id"].as_str().unwrap();
    until("the push to meet the sale", || async {
        let path = format!("/api/sync/logs?connection_id={shopify}");
        let logs = json_ok(stack.get(token, &path).await).await;
        let last = &logs["items"][0];
        (last["kind"] == "push" && last["status"] == "succeeded").then_some(())
    })
    .await;
    let entry = ledger_entry(&stack, token, &shopify, "rejected", &p).await;
    assert_eq!(
        entry["channel"]["code"], "stock_changed_at_channel",
        "{entry}"
    );
    assert_eq!(entry["will_retry"], true);
    assert_eq!(
        at_stand_in(&running, Vendor::Shopify, &shopify, sku(&p)).1,
        had - 2,
        "the sale at Shopify stands"
    );
    let pending = product(&stack, token, id).await;
    assert_eq!(pending["has_local_changes"], true);
    assert!(pending["push_error"].is_null(), "{pending}");

    // The next sync takes the sale first, then pushes what is left.
    synced(&stack, token, &shopify, "orders", "incremental").await;
    assert_eq!(
        at_stand_in(&running, Vendor::Shopify, &shopify, sku(&p)).1,
        had + 10 - 2
    );
    let synced_product = product(&stack, token, id).await;
    assert_eq!(synced_product["stock"], had + 10 - 2);
    assert_eq!(synced_product["has_local_changes"], false);
}
