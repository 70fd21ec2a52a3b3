//! Orders (as the sync will fill them) and the analytics computed from them.

mod common;

use common::{error_code, Stack};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

/// Inserts an order with one line item the way the sync will.
async fn order(
    db: &PgPool,
    user: Uuid,
    channel: &str,
    status: &str,
    placed_at: &str,
    (sku, quantity, unit_cents): (&str, i32, i64),
) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO orders (id, user_id, channel, external_id, order_number, status, total_cents, customer_name, placed_at)
         VALUES ($1, $2, $3, $1::text, '#' || left($1::text, 4), $4, $5, 'Kunde', $6::timestamptz)",
    )
    .bind(id).bind(user).bind(channel).bind(status).bind(i64::from(quantity) * unit_cents).bind(placed_at)
    .execute(db).await.unwrap();
    sqlx::query("INSERT INTO order_items (id, order_id, user_id, sku, title, quantity, unit_price_cents, total_cents) VALUES ($1, $2, $7, $3, $3 || ' Titel', $4, $5, $6)")
        .bind(Uuid::now_v7()).bind(id).bind(sku).bind(quantity).bind(unit_cents).bind(i64::from(quantity) * unit_cents).bind(user)
        .execute(db).await.unwrap();
    id
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn orders_are_filtered_paged_and_scoped(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.merchant("anna@example.de").await;
    let bernd = stack.merchant("bernd@example.de").await;
    let (a, b): (Uuid, Uuid) = (
        anna.user_id.parse().unwrap(),
        bernd.user_id.parse().unwrap(),
    );
    for day in 1..=9 {
        let channel = ["shopify", "amazon", "kaufland"][day % 3];
        order(
            &stack.db,
            a,
            channel,
            if day == 5 { "cancelled" } else { "paid" },
            &format!("2026-11-0{day}T10:00:00Z"),
            ("MUG", 1, 1000),
        )
        .await;
    }
    let theirs = order(
        &stack.db,
        b,
        "shopify",
        "paid",
        "2026-11-03T10:00:00Z",
        ("X", 1, 1),
    )
    .await;

    let page: Value = stack
        .get(&anna.access_token, "/api/orders?limit=4")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 4);
    assert_eq!(
        page["items"][0]["placed_at"], "2026-11-09T10:00:00Z",
        "newest first"
    );
    let next: Value = stack
        .get(
            &anna.access_token,
            &format!(
                "/api/orders?limit=4&cursor={}",
                page["next_cursor"].as_str().unwrap()
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["items"][0]["placed_at"], "2026-11-05T10:00:00Z");

    let amazon: Value = stack
        .get(&anna.access_token, "/api/orders?channel=amazon")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(amazon["items"].as_array().unwrap().len(), 3);
    let cancelled: Value = stack
        .get(&anna.access_token, "/api/orders?status=cancelled")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["items"].as_array().unwrap().len(), 1);
    let range: Value = stack
        .get(
            &anna.access_token,
            "/api/orders?from=2026-11-02&to=2026-11-04",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(range["items"].as_array().unwrap().len(), 3);
    assert_eq!(
        error_code(
            stack
                .get(&anna.access_token, "/api/orders?channel=ebay")
                .await
        )
        .await,
        "invalid_query"
    );
    assert_eq!(
        error_code(
            stack
                .get(&anna.access_token, "/api/orders?from=yesterday")
                .await
        )
        .await,
        "invalid_query"
    );

    let id = page["items"][0]["id"].as_str().unwrap();
    let detail: Value = stack
        .get(&anna.access_token, &format!("/api/orders/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["items"][0]["sku"], "MUG");
    assert_eq!(
        detail["items"][0]["unit_price"],
        json!({ "amount": 1000, "currency": "EUR" })
    );
    assert_eq!(
        detail["total"],
        json!({ "amount": 1000, "currency": "EUR" })
    );

    assert_eq!(
        error_code(
            stack
                .get(&anna.access_token, &format!("/api/orders/{theirs}"))
                .await
        )
        .await,
        "not_found"
    );
    let all: Value = stack
        .get(&anna.access_token, "/api/orders?limit=200")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        all["items"].as_array().unwrap().len(),
        9,
        "only her own orders"
    );
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn analytics_summary_from_sql_aggregates(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.merchant("anna@example.de").await;
    let bernd = stack.merchant("bernd@example.de").await;
    let (a, b): (Uuid, Uuid) = (
        anna.user_id.parse().unwrap(),
        bernd.user_id.parse().unwrap(),
    );
    order(
        &stack.db,
        a,
        "shopify",
        "paid",
        "2026-11-01T09:00:00Z",
        ("MUG", 2, 1250),
    )
    .await; // 2500
    order(
        &stack.db,
        a,
        "shopify",
        "shipped",
        "2026-11-01T15:00:00Z",
        ("PLATE", 1, 800),
    )
    .await; // 800
    order(
        &stack.db,
        a,
        "amazon",
        "delivered",
        "2026-11-03T12:00:00Z",
        ("MUG", 4, 1250),
    )
    .await; // 5000
    order(
        &stack.db,
        a,
        "kaufland",
        "cancelled",
        "2026-11-03T12:00:00Z",
        ("MUG", 10, 1250),
    )
    .await; // left out
    order(
        &stack.db,
        a,
        "amazon",
        "refunded",
        "2026-11-02T12:00:00Z",
        ("PLATE", 1, 800),
    )
    .await; // left out
            // 23:30 UTC on Nov 3 is Nov 4 in Berlin.
    order(
        &stack.db,
        a,
        "amazon",
        "paid",
        "2026-11-03T23:30:00Z",
        ("CUP", 1, 300),
    )
    .await; // 300
    order(
        &stack.db,
        a,
        "shopify",
        "paid",
        "2026-10-31T12:00:00Z",
        ("MUG", 1, 1250),
    )
    .await; // before the period
    order(
        &stack.db,
        b,
        "shopify",
        "paid",
        "2026-11-02T12:00:00Z",
        ("MUG", 100, 1250),
    )
    .await; // Bernd's

    let s: Value = stack
        .get(
            &anna.access_token,
            "/api/analytics/summary?from=2026-11-01&to=2026-11-04",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        s["totals"],
        json!({ "revenue": 8600, "order_count": 4, "average_order_value": 2150 })
    );
    assert_eq!(
        s["by_channel"],
        json!([
            { "channel": "amazon", "revenue": 5300, "order_count": 2, "average_order_value": 2650 },
            { "channel": "shopify", "revenue": 3300, "order_count": 2, "average_order_value": 1650 },
        ])
    );
    let days: Vec<(String, i64)> = s["by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["day"].as_str().unwrap().to_owned(),
                d["revenue"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [
            ("2026-11-01".into(), 3300),
            ("2026-11-02".into(), 0),
            ("2026-11-03".into(), 5000),
            ("2026-11-04".into(), 300)
        ]
    );
    assert_eq!(
        s["top_products"][0],
        json!({ "product_id": null, "sku": "MUG", "title": "MUG Titel", "quantity": 6, "revenue": 7500 })
    );
    assert_eq!(s["top_products"].as_array().unwrap().len(), 3);

    // In UTC the late order falls on Nov 3.
    let utc: Value = stack
        .get(
            &anna.access_token,
            "/api/analytics/summary?from=2026-11-03&to=2026-11-03&tz=UTC",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(utc["totals"]["revenue"], 5300);

    for bad in [
        "from=2026-11-05&to=2026-11-01",
        "from=2024-01-01&to=2026-01-01",
        "tz=Mars/Olympus",
        "currency=euro",
        "from=1.11.2026",
    ] {
        assert_eq!(
            error_code(
                stack
                    .get(&anna.access_token, &format!("/api/analytics/summary?{bad}"))
                    .await
            )
            .await,
            "invalid_query",
            "{bad}"
        );
    }
    let empty: Value = stack
        .get(
            &bernd.access_token,
            "/api/analytics/summary?from=2026-11-03&to=2026-11-03",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        empty["totals"],
        json!({ "revenue": 0, "order_count": 0, "average_order_value": 0 })
    );
    assert_eq!(
        stack
            .get(&anna.access_token, "/api/analytics/summary")
            .await
            .status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn impossible_dates_and_zones_are_refused(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.merchant("anna@example.de").await;
    for path in [
        "/api/orders?from=-5000-01-01",
        "/api/orders?to=99999-01-01",
        "/api/analytics/summary?from=-5000-01-01&to=-5000-01-02",
        "/api/analytics/summary?tz=%00",
        "/api/analytics/summary?tz=Europe/Berlin%27",
    ] {
        assert_eq!(
            error_code(stack.get(&anna.access_token, path).await).await,
            "invalid_query",
            "{path}"
        );
    }
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn line_items_are_read_only_for_their_owner(db: PgPool) {
    let (anna, bernd) = (Uuid::now_v7(), Uuid::now_v7());
    let id = order(
        &db,
        anna,
        "manual",
        "paid",
        "2026-11-01T10:00:00Z",
        ("MUG", 2, 500),
    )
    .await;
    let items = api::db::orders::items(&db, anna, id).await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].sku, "MUG");
    assert!(api::db::orders::items(&db, bernd, id)
        .await
        .unwrap()
        .is_empty());
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn analytics_defaults_to_today_in_the_requested_zone(db: PgPool) {
    let stack = Stack::spawn(db.clone()).await;
    let anna = stack.merchant("anna@example.de").await;
    // UTC+14 and UTC-11: at any moment at least one of them is not on the UTC date.
    let mut differs_from_utc = false;
    for tz in ["Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"] {
        let (today, utc_today): (chrono::NaiveDate, chrono::NaiveDate) = sqlx::query_as(
            "SELECT (now() AT TIME ZONE $1)::date, (now() AT TIME ZONE 'UTC')::date",
        )
        .bind(tz)
        .fetch_one(&db)
        .await
        .unwrap();
        differs_from_utc |= today != utc_today;
        let res = stack
            .get(
                &anna.access_token,
                &format!("/api/analytics/summary?tz={tz}"),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let summary: Value = res.json().await.unwrap();
        assert_eq!(summary["to"], today.to_string(), "{tz}");
        assert_eq!(summary["by_day"].as_array().unwrap().len(), 30, "{tz}");
        assert_eq!(summary["by_day"][29]["day"], today.to_string(), "{tz}");
    }
    assert!(differs_from_utc);
    // Unknown zones are still refused (the names Postgres knows, read once).
    for tz in ["Mars/Olympus_Mons", "Europe/Berlinn"] {
        let res = stack
            .get(
                &anna.access_token,
                &format!("/api/analytics/summary?tz={tz}"),
            )
            .await;
        assert_eq!(error_code(res).await, "invalid_query", "{tz}");
    }
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn analytics_figures_come_from_one_snapshot(db: PgPool) {
    let stack = Stack::spawn(db.clone()).await;
    let anna = stack.merchant("anna@example.de").await;
    let a: Uuid = anna.user_id.parse().unwrap();
    // Orders keep coming in while the summary is read again and again.
    let writer = {
        let db = db.clone();
        tokio::spawn(async move {
            for i in 0..400 {
                let channel = ["shopify", "amazon", "manual"][i % 3];
                order(
                    &db,
                    a,
                    channel,
                    "paid",
                    "2026-11-10T12:00:00Z",
                    ("MUG", 1, 100),
                )
                .await;
            }
        })
    };
    let path = "/api/analytics/summary?from=2026-11-01&to=2026-11-30&tz=UTC";
    let mut checked = 0;
    while !writer.is_finished() {
        let summary: Value = stack
            .get(&anna.access_token, path)
            .await
            .json()
            .await
            .unwrap();
        let sum = |list: &str, field: &str| -> i64 {
            summary[list]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x[field].as_i64().unwrap())
                .sum()
        };
        let orders = summary["totals"]["order_count"].as_i64().unwrap();
        let revenue = summary["totals"]["revenue"].as_i64().unwrap();
        assert_eq!(sum("by_channel", "order_count"), orders, "{summary}");
        assert_eq!(sum("by_day", "order_count"), orders, "{summary}");
        assert_eq!(sum("by_day", "revenue"), revenue, "{summary}");
        checked += 1;
    }
    writer.await.unwrap();
    assert!(checked > 5, "only {checked} summaries read");
}
