//! Shop connections: shape checks, encryption at rest, scoping, cascading deletes.

mod common;

use common::{error_code, product_body, sandbox, sandbox_args, sandbox_secret, Stack, KEY};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn credentials_are_checked_encrypted_and_never_returned(db: PgPool) {
    let sandbox = sandbox().await;
    let args = sandbox_args(&sandbox);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let stack = Stack::spawn_with(db, &args).await;
    let anna = stack.onboarded("anna@example.de").await;

    let res = stack.post(&anna.access_token, "/api/connections", json!({
        "platform": "kaufland", "shop_name": "Kaufland DE", "credentials": { "client_key": "short", "secret_key": "zz" }
    })).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["credentials.client_key", "credentials.secret_key"]);
    let res = stack
        .post(
            &anna.access_token,
            "/api/connections",
            json!({ "platform": "ebay", "shop_name": "x", "credentials": {} }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_body");

    // A connection that works (a sandbox account: tests cannot reach Kaufland); its
    // credentials are made by the API and never shown either.
    let res = stack
        .post(
            &anna.access_token,
            "/api/connections",
            json!({ "platform": "kaufland", "shop_name": "Kaufland DE", "sandbox": true }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let text = res.text().await.unwrap();
    let created: Value = serde_json::from_str(&text).unwrap();
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let client_key = sandbox_secret().kaufland_client_key(&id.to_string());
    let secret = sandbox_secret().kaufland_secret_key(&client_key);
    let secret = secret.expose_secret();
    assert!(
        !text.contains(secret) && !text.contains(&client_key),
        "{text}"
    );
    assert_eq!(
        created["credentials_hint"],
        format!("client key …{} (de)", &client_key[28..])
    );
    assert_eq!(created["status"], "active", "{text}");

    // At rest: sealed under the key, bound to the row, with the key id in front.
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT credentials_enc FROM connections")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains(secret));
    assert_eq!(sealed[0], 1);
    let keyring = sm_crypto::Keyring::parse(KEY).unwrap();
    let opened: Value =
        serde_json::from_slice(&keyring.open(&sealed, id.as_bytes()).unwrap()).unwrap();
    assert_eq!(opened["secret_key"], secret);
    assert!(keyring.open(&sealed, Uuid::now_v7().as_bytes()).is_none());
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn connections_are_listed_renamed_and_scoped(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.onboarded("anna@example.de").await;
    let bernd = stack.onboarded("bernd@example.de").await;
    let id = stack.shopify(&anna, "Anna's Shopify").await;
    stack.shopify(&bernd, "Bernd's Shopify").await;

    let mine: Vec<Value> = stack
        .get(&anna.access_token, "/api/connections")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["shop_name"], "Anna's Shopify");

    let path = format!("/api/connections/{id}");
    let res = stack
        .send(
            Method::PATCH,
            &anna.access_token,
            &path,
            json!({ "shop_name": "Hauptshop", "settings": { "sync_prices": true } }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let renamed: Value = res.json().await.unwrap();
    assert_eq!(renamed["shop_name"], "Hauptshop");
    assert_eq!(renamed["settings"]["sync_prices"], true);
    let res = stack
        .send(
            Method::PATCH,
            &anna.access_token,
            &path,
            json!({ "settings": [1, 2] }),
        )
        .await;
    assert_eq!(error_code(res).await, "validation_failed");
    let res = stack
        .send(
            Method::PATCH,
            &anna.access_token,
            &path,
            json!({ "settings": { "note": "a\u{0}b" } }),
        )
        .await;
    assert_eq!(
        error_code(res).await,
        "validation_failed",
        "jsonb cannot hold NUL"
    );

    // Bernd cannot see, change or delete it: not found, and it stays as it is.
    assert_eq!(
        error_code(stack.get(&bernd.access_token, &path).await).await,
        "not_found"
    );
    assert_eq!(
        error_code(
            stack
                .send(
                    Method::PATCH,
                    &bernd.access_token,
                    &path,
                    json!({ "shop_name": "pwned" })
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
    let still: Value = stack
        .get(&anna.access_token, &path)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["shop_name"], "Hauptshop");
    assert_eq!(
        error_code(
            stack
                .get(&anna.access_token, "/api/connections/not-a-uuid")
                .await
        )
        .await,
        "not_found"
    );
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn deleting_a_connection_removes_its_products_orders_and_logs(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.onboarded("anna@example.de").await;
    let shop = stack.shopify(&anna, "Shop").await;
    let other = stack.shopify(&anna, "Other shop").await;
    let mut body = product_body("A-1", "Becher", 999, 3);
    body["connection_id"] = json!(shop);
    stack.product(&anna.access_token, body).await;
    let mut body = product_body("A-1", "Becher", 999, 3);
    body["connection_id"] = json!(other);
    stack.product(&anna.access_token, body).await;
    stack
        .product(
            &anna.access_token,
            product_body("LOCAL-1", "Nur im Cockpit", 500, 1),
        )
        .await;
    let user: Uuid = anna.user_id.parse().unwrap();
    let shop_id: Uuid = shop.parse().unwrap();
    sqlx::query("INSERT INTO orders (id, user_id, connection_id, channel, external_id, order_number, status, total_cents, placed_at) VALUES ($1, $2, $3, 'shopify', '1', '#1', 'paid', 999, now())")
        .bind(Uuid::now_v7()).bind(user).bind(shop_id).execute(&stack.db).await.unwrap();
    sqlx::query("INSERT INTO sync_jobs (id, user_id, connection_id, kind, mode, origin, state, phase, max_attempts) VALUES ($1, $2, $3, 'products', 'full', 'merchant', 'succeeded', 'done', 5)")
        .bind(Uuid::now_v7()).bind(user).bind(shop_id).execute(&stack.db).await.unwrap();

    assert_eq!(
        stack
            .delete(&anna.access_token, &format!("/api/connections/{shop}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql).fetch_one(&stack.db);
    assert_eq!(
        count("SELECT count(*) FROM products WHERE connection_id IS NOT NULL")
            .await
            .unwrap(),
        1,
        "the other shop's product stays"
    );
    assert_eq!(
        count("SELECT count(*) FROM products WHERE connection_id IS NULL")
            .await
            .unwrap(),
        1,
        "cockpit products stay"
    );
    assert_eq!(count("SELECT count(*) FROM orders").await.unwrap(), 0);
    assert_eq!(count("SELECT count(*) FROM sync_jobs").await.unwrap(), 0);
}

/// Waits until some backend of this test's database waits for a lock.
async fn someone_waits_for_a_lock(db: &PgPool) {
    for _ in 0..50 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(db)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("nobody waits for the lock");
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn tenancy_is_in_the_schema_and_a_racing_delete_is_a_conflict(db: PgPool) {
    let stack = Stack::spawn(db.clone()).await;
    let anna = stack.onboarded("anna@example.de").await;
    let bernd = stack.merchant("bernd@example.de").await;
    let connection = stack.shopify(&anna, "Annas Shop").await;
    let connection_id: Uuid = connection.parse().unwrap();
    let bernd_id: Uuid = bernd.user_id.parse().unwrap();

    // The schema itself refuses another merchant's connection, for products and orders.
    let product = sqlx::query(
        "INSERT INTO products (id, user_id, connection_id, sku, title, price_cents) VALUES ($1, $2, $3, 'X', 'X', 1)",
    )
    .bind(Uuid::now_v7())
    .bind(bernd_id)
    .bind(connection_id)
    .execute(&db)
    .await;
    assert!(product
        .unwrap_err()
        .as_database_error()
        .unwrap()
        .is_foreign_key_violation());
    let order = sqlx::query(
        "INSERT INTO orders (id, user_id, connection_id, channel, order_number, status, total_cents, placed_at)
         VALUES ($1, $2, $3, 'shopify', '#1', 'paid', 1, now())",
    )
    .bind(Uuid::now_v7())
    .bind(bernd_id)
    .bind(connection_id)
    .execute(&db)
    .await;
    assert!(order
        .unwrap_err()
        .as_database_error()
        .unwrap()
        .is_foreign_key_violation());

    let mut body = product_body("OLD-1", "Schon da", 100, 1);
    body["connection_id"] = json!(connection);
    let existing = stack.product(&anna.access_token, body.clone()).await;

    // A create that checked the connection while a delete of it is under way: 409, not 500;
    // an update of one of its products: 404, as the product went with it.
    let mut delete = db.begin().await.unwrap();
    sqlx::query("DELETE FROM connections WHERE id = $1")
        .bind(connection_id)
        .execute(&mut *delete)
        .await
        .unwrap();
    let mut body = product_body("RACE-1", "Rennen", 100, 1);
    body["connection_id"] = json!(connection);
    let create = tokio::spawn(
        stack
            .http
            .post(stack.url("/api/products"))
            .bearer_auth(&anna.access_token)
            .json(&body)
            .send(),
    );
    let import = tokio::spawn(
        stack
            .http
            .post(stack.url("/api/products/import"))
            .bearer_auth(&anna.access_token)
            .header("content-type", "text/csv")
            .body(format!(
                "sku,title,price,connection_id\nRACE-2,Rennen,1.00,{connection}\n"
            ))
            .send(),
    );
    let update = tokio::spawn(
        stack
            .http
            .put(stack.url(&format!(
                "/api/products/{}",
                existing["id"].as_str().unwrap()
            )))
            .bearer_auth(&anna.access_token)
            .json(&body)
            .send(),
    );
    someone_waits_for_a_lock(&db).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await; // all get there
    delete.commit().await.unwrap();
    let res = update.await.unwrap().unwrap();
    assert_eq!(error_code(res).await, "not_found");
    for request in [create, import] {
        let res = request.await.unwrap().unwrap();
        assert_eq!(res.status(), StatusCode::CONFLICT);
        assert_eq!(error_code(res).await, "connection_deleted");
    }
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

/// Runs `api::MIGRATOR`'s migrations of the given versions, each in its own transaction.
async fn migrate(db: &PgPool, versions: impl Fn(i64) -> bool) {
    for migration in api::MIGRATOR.iter().filter(|m| versions(m.version)) {
        let mut tx = db.begin().await.unwrap();
        sqlx::raw_sql(&migration.sql)
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("migration {}: {e}", migration.version));
        tx.commit().await.unwrap();
    }
}

#[sqlx::test(migrations = false)]
async fn the_tenancy_migration_repairs_rows_pointing_at_another_merchants_connection(db: PgPool) {
    const TENANCY: i64 = 4;
    migrate(&db, |v| v < TENANCY).await;
    let (anna, bernd) = (Uuid::now_v7(), Uuid::now_v7());
    let bernds_shop = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO connections (id, user_id, platform, shop_name, credentials_enc, credentials_hint)
         VALUES ($1, $2, 'shopify', 'Bernds Shop', '\\x00', '…')",
    )
    .bind(bernds_shop)
    .bind(bernd)
    .execute(&db)
    .await
    .unwrap();
    let product = |user: Uuid, connection: Option<Uuid>, sku: &'static str| {
        let (db, id) = (db.clone(), Uuid::now_v7());
        async move {
            sqlx::query(
                "INSERT INTO products (id, user_id, connection_id, sku, title, price_cents, external_id, has_local_changes)
                 VALUES ($1, $2, $3, $4, 'Becher', 100, 'ext-1', $3 IS NOT NULL)",
            )
            .bind(id)
            .bind(user)
            .bind(connection)
            .bind(sku)
            .execute(&db)
            .await
            .unwrap();
            id
        }
    };
    // Anna's products on Bernd's shop: one whose SKU she also has as a cockpit product.
    let annas_mug = product(anna, None, "MUG").await;
    let foreign_mug = product(anna, Some(bernds_shop), "MUG").await;
    let foreign_cup = product(anna, Some(bernds_shop), "CUP").await;
    let bernds_mug = product(bernd, Some(bernds_shop), "MUG").await;
    let order = |user: Uuid| {
        let (db, id) = (db.clone(), Uuid::now_v7());
        async move {
            sqlx::query(
                "INSERT INTO orders (id, user_id, connection_id, channel, external_id, order_number, status, total_cents, placed_at)
                 VALUES ($1, $2, $3, 'shopify', $4, '#1', 'paid', 100, now())",
            )
            .bind(id)
            .bind(user)
            .bind(bernds_shop)
            .bind(id.to_string())
            .execute(&db)
            .await
            .unwrap();
            id
        }
    };
    let (annas_order, bernds_order) = (order(anna).await, order(bernd).await);
    for user in [anna, bernd] {
        sqlx::query(
            "INSERT INTO sync_logs (id, user_id, connection_id, kind, status) VALUES ($1, $2, $3, 'products', 'succeeded')",
        )
        .bind(Uuid::now_v7())
        .bind(user)
        .bind(bernds_shop)
        .execute(&db)
        .await
        .unwrap();
    }

    migrate(&db, |v| v == TENANCY).await;
    // Her sync log on his shop is gone; his stays (0008 replaces the table by sync_jobs).
    let logs: Vec<Uuid> = sqlx::query_scalar("SELECT user_id FROM sync_logs")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(logs, vec![bernd]);
    // The rest of the migrations go through (the service starts).
    migrate(&db, |v| v > TENANCY).await;

    let product_of = |id: Uuid| {
        let db = db.clone();
        async move {
            sqlx::query_as::<_, (Option<Uuid>, String, Option<String>)>(
                "SELECT connection_id, sku, external_id FROM products WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    // Anna keeps her products, as cockpit-only ones; the clashing SKU gets the product's id.
    assert_eq!(product_of(foreign_cup).await, (None, "CUP".into(), None));
    assert_eq!(
        product_of(foreign_mug).await,
        (None, format!("MUG-{foreign_mug}"), None)
    );
    assert_eq!(product_of(annas_mug).await.1, "MUG");
    assert_eq!(product_of(bernds_mug).await.0, Some(bernds_shop));
    // Her order is kept, detached from the shop; Bernd's is untouched.
    let order_connection = |id: Uuid| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, Option<Uuid>>("SELECT connection_id FROM orders WHERE id = $1")
                .bind(id)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    assert_eq!(order_connection(annas_order).await, None);
    assert_eq!(order_connection(bernds_order).await, Some(bernds_shop));
    // And from now on the schema refuses such rows.
    let again = sqlx::query(
        "INSERT INTO products (id, user_id, connection_id, sku, title, price_cents) VALUES ($1, $2, $3, 'NEW', 'Neu', 1)",
    )
    .bind(Uuid::now_v7())
    .bind(anna)
    .bind(bernds_shop)
    .execute(&db)
    .await;
    assert!(again
        .unwrap_err()
        .as_database_error()
        .unwrap()
        .is_foreign_key_violation());
}
