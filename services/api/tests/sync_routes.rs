//! The sync routes through the real HTTP stack: triggers (new, merged, running), jobs, logs
//! and their ledger, scoping to the caller, bad input, and the Shopify webhooks that queue
//! syncs or disconnect a connection. Most run without workers, so jobs stay as queued.

mod common;

use common::{error_code, sandbox, sandbox_args, sandbox_secret, Stack};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sm_connectors::shopify::oauth;
use sqlx::PgPool;
use uuid::Uuid;

/// A stack with the sandbox, without sync workers or schedule (the harness's default): jobs
/// stay where tests put them.
async fn stack(db: PgPool, running: &sm_sandbox::Running) -> Stack {
    let args = sandbox_args(running);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Stack::spawn_with(db, &args).await
}

/// A sandbox connection of the merchant on `platform`, checked and active.
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
    assert_eq!(created["status"], "active", "{created}");
    created["id"].as_str().unwrap().parse().unwrap()
}

async fn trigger(stack: &Stack, token: &str, body: Value) -> reqwest::Response {
    stack.post(token, "/api/sync/trigger", body).await
}

/// Triggers and expects 202 with a job; returns the job.
async fn queued(stack: &Stack, token: &str, body: Value) -> Value {
    let res = trigger(stack, token, body).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let job: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/sync/jobs/{}", job["id"].as_str().unwrap())
    );
    job
}

async fn json_of(res: reqwest::Response) -> Value {
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

fn id_of(v: &Value) -> Uuid {
    v["id"].as_str().unwrap().parse().unwrap()
}

/// Ends a job as `state` (succeeded or failed) as a worker would.
async fn finish(db: &PgPool, job: Uuid, state: &str) {
    sqlx::query(
        "UPDATE sync_jobs SET state = $2, attempts = 1, started_at = now(), completed_at = now(),
                error_code = CASE WHEN $2 = 'failed' THEN 'channel_unavailable' END,
                error = CASE WHEN $2 = 'failed' THEN 'The shop did not answer.' END
          WHERE id = $1",
    )
    .bind(job)
    .bind(state)
    .execute(db)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_trigger_queues_one_job_that_later_triggers_join(db: PgPool) {
    let running = sandbox().await;
    let stack = stack(db, &running).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let connection = connect(&stack, token, "shopify").await;

    // Unknown fields are ignored, as everywhere in the API.
    let job = queued(
        &stack,
        token,
        json!({ "connection_id": connection, "kind": "products", "hint": 1 }),
    )
    .await;
    assert_eq!(job["connection_id"], connection.to_string());
    assert_eq!(
        (&job["kind"], &job["mode"], &job["origin"]),
        (
            &json!("products"),
            &json!("incremental"),
            &json!("merchant")
        )
    );
    assert_eq!(
        (&job["state"], &job["phase"]),
        (&json!("queued"), &json!("products"))
    );
    assert_eq!(
        (&job["items_done"], &job["phase_done"], &job["items_failed"]),
        (&json!(0), &json!(0), &json!(0))
    );
    for field in [
        "items_total",
        "progress",
        "error",
        "next_attempt_at",
        "started_at",
        "completed_at",
    ] {
        assert!(job[field].is_null(), "{field}: {job}");
    }
    assert_eq!(job["attempts"], 0);
    assert_eq!(job["max_attempts"], 5);

    // While it waits, triggers join it: kinds united, full wins.
    let merged = queued(
        &stack,
        token,
        json!({ "connection_id": connection, "kind": "orders", "mode": "full" }),
    )
    .await;
    assert_eq!(merged["id"], job["id"]);
    assert_eq!(
        (&merged["kind"], &merged["mode"], &merged["phase"]),
        (&json!("both"), &json!("full"), &json!("orders"))
    );
    let again = queued(&stack, token, json!({ "connection_id": connection })).await;
    assert_eq!(again["id"], job["id"]);
    assert_eq!(
        (&again["kind"], &again["mode"]),
        (&json!("both"), &json!("full"))
    );
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM sync_jobs")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(jobs, 1);
    let read = json_of(
        stack
            .get(
                token,
                &format!("/api/sync/jobs/{}", job["id"].as_str().unwrap()),
            )
            .await,
    )
    .await;
    assert_eq!(read, again);

    // A worker runs it: a trigger answers 200 with the running job and queues nothing.
    sqlx::query(
        "UPDATE sync_jobs SET state = 'running', lease_owner = gen_random_uuid(),
                lease_until = now() + interval '1 hour', attempts = 1, started_at = now(),
                items_done = 250, phase_done = 50, items_total = 200",
    )
    .execute(&stack.db)
    .await
    .unwrap();
    let res = trigger(
        &stack,
        token,
        json!({ "connection_id": connection, "kind": "push" }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("location").is_none());
    let busy: Value = res.json().await.unwrap();
    assert_eq!(
        (&busy["id"], &busy["state"]),
        (&job["id"], &json!("running"))
    );
    assert_eq!(busy["kind"], "both");
    // The progress of the phase it is in (its orders came before: 200 of 250 done).
    assert_eq!(
        (
            &busy["items_done"],
            &busy["phase_done"],
            &busy["items_total"]
        ),
        (&json!(250), &json!(50), &json!(200))
    );
    assert_eq!(busy["progress"], 0.25);
    assert!(busy["started_at"].is_string());

    // Queued again for a retry: the view says when and why.
    sqlx::query(
        "UPDATE sync_jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL,
                run_after = now() + interval '10 seconds', error_code = 'channel_unavailable',
                error = 'The shop did not answer.'",
    )
    .execute(&stack.db)
    .await
    .unwrap();
    let retry = json_of(
        stack
            .get(
                token,
                &format!("/api/sync/jobs/{}", job["id"].as_str().unwrap()),
            )
            .await,
    )
    .await;
    assert!(retry["next_attempt_at"].is_string());
    assert_eq!(
        retry["error"],
        json!({ "code": "channel_unavailable", "message": "The shop did not answer." })
    );

    // The merchant asks while it waits for a late retry: due now, with all its attempts.
    sqlx::query(
        "UPDATE sync_jobs SET run_after = now() + interval '1 hour', attempts = 3, phase = 'products'",
    )
    .execute(&stack.db)
    .await
    .unwrap();
    let now = queued(&stack, token, json!({ "connection_id": connection })).await;
    assert_eq!(now["id"], job["id"]);
    assert_eq!(
        (&now["attempts"], &now["next_attempt_at"], &now["phase"]),
        (&json!(0), &Value::Null, &json!("products"))
    );
    let due: bool = sqlx::query_scalar("SELECT run_after <= now() FROM sync_jobs WHERE id = $1")
        .bind(id_of(&job))
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert!(due);

    // Once it is over, a trigger makes a new job.
    finish(&stack.db, id_of(&job), "succeeded").await;
    let done = json_of(
        stack
            .get(
                token,
                &format!("/api/sync/jobs/{}", job["id"].as_str().unwrap()),
            )
            .await,
    )
    .await;
    assert_eq!(
        (&done["state"], &done["progress"]),
        (&json!("succeeded"), &json!(1.0))
    );
    let next = queued(
        &stack,
        token,
        json!({ "connection_id": connection, "kind": "push" }),
    )
    .await;
    assert_ne!(next["id"], job["id"]);
    assert_eq!(
        (&next["kind"], &next["phase"]),
        (&json!("push"), &json!("push"))
    );
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn another_merchants_connections_jobs_and_logs_are_not_found(db: PgPool) {
    let running = sandbox().await;
    let stack = stack(db, &running).await;
    let anna = stack.onboarded("anna@example.de").await;
    let bernd = stack.onboarded("bernd@example.de").await;
    let connection = connect(&stack, &anna.access_token, "kaufland").await;
    let job = queued(
        &stack,
        &anna.access_token,
        json!({ "connection_id": connection }),
    )
    .await;
    let job_id = job["id"].as_str().unwrap();

    let res = trigger(
        &stack,
        &bernd.access_token,
        json!({ "connection_id": connection }),
    )
    .await;
    assert_eq!(error_code(res).await, "not_found");
    let res = trigger(
        &stack,
        &anna.access_token,
        json!({ "connection_id": Uuid::now_v7() }),
    )
    .await;
    assert_eq!(error_code(res).await, "not_found");
    for path in [
        format!("/api/sync/jobs/{job_id}"),
        format!("/api/sync/logs/{job_id}/ledger"),
        "/api/sync/jobs/not-a-uuid".to_owned(),
        "/api/sync/logs/not-a-uuid/ledger".to_owned(),
        format!("/api/sync/jobs/{}", Uuid::now_v7()),
    ] {
        let res = stack.get(&bernd.access_token, &path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error_code(res).await, "not_found", "{path}");
    }
    for query in ["", &format!("?connection_id={connection}")] {
        let page = json_of(
            stack
                .get(&bernd.access_token, &format!("/api/sync/logs{query}"))
                .await,
        )
        .await;
        assert_eq!(page, json!({ "items": [], "next_cursor": null }), "{query}");
    }
    // Nothing of Anna's changed.
    let res = stack
        .get(&anna.access_token, &format!("/api/sync/jobs/{job_id}"))
        .await;
    assert_eq!(json_of(res).await["kind"], "both");
    let res = stack
        .http
        .get(stack.url("/api/sync/logs"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn bad_bodies_and_filters_are_refused_with_their_codes(db: PgPool) {
    let running = sandbox().await;
    let stack = stack(db, &running).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let connection = connect(&stack, token, "amazon").await;

    for body in [
        json!({}),
        json!({ "connection_id": "nope" }),
        json!({ "connection_id": connection, "kind": "everything" }),
        json!({ "connection_id": connection, "mode": "partial" }),
        json!([connection]),
    ] {
        let res = trigger(&stack, token, body.clone()).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_code(res).await, "invalid_body", "{body}");
    }
    // serde reads a null where an enum belongs as broken JSON (the shared extractor's 400).
    let res = trigger(
        &stack,
        token,
        json!({ "connection_id": connection, "kind": null }),
    )
    .await;
    assert!(res.status().is_client_error());
    assert!(!error_code(res).await.is_empty());
    let res = stack
        .http
        .post(stack.url("/api/sync/trigger"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body("{\"connection_id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, "malformed_json");
    let res = stack
        .http
        .post(stack.url("/api/sync/trigger"))
        .bearer_auth(token)
        .body(json!({ "connection_id": connection }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, "unsupported_media_type");

    for query in [
        "/api/sync/logs?status=done",
        "/api/sync/logs?status=",
        "/api/sync/logs?connection_id=nope",
        "/api/sync/logs?limit=many",
        "/api/sync/logs?cursor=not-a-cursor",
    ] {
        let res = stack.get(token, query).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(error_code(res).await, "invalid_query", "{query}");
    }
    // Nothing was queued by any of it.
    let page = json_of(stack.get(token, "/api/sync/logs").await).await;
    assert_eq!(page["items"], json!([]));

    let job = queued(&stack, token, json!({ "connection_id": connection })).await;
    let ledger = format!("/api/sync/logs/{}/ledger", job["id"].as_str().unwrap());
    for query in ["?cursor=not-a-cursor", "?limit=x"] {
        let res = stack.get(token, &format!("{ledger}{query}")).await;
        assert_eq!(error_code(res).await, "invalid_query", "{query}");
    }
    // A logs cursor is no ledger cursor.
    finish(&stack.db, id_of(&job), "succeeded").await;
    queued(&stack, token, json!({ "connection_id": connection })).await;
    let page = json_of(stack.get(token, "/api/sync/logs?limit=1").await).await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let res = stack.get(token, &format!("{ledger}?cursor={cursor}")).await;
    assert_eq!(error_code(res).await, "invalid_query");
}

/// Every page of `path` (which has a query already), following `next_cursor`.
async fn all_pages(stack: &Stack, token: &str, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let url = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_owned(),
        };
        let page = json_of(stack.get(token, &url).await).await;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
    panic!("{path} does not end");
}

fn ids(items: &[Value]) -> Vec<Uuid> {
    items.iter().map(id_of).collect()
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn logs_are_filtered_and_paged_without_gaps_or_repeats(db: PgPool) {
    let running = sandbox().await;
    let stack = stack(db, &running).await;
    let anna = stack.onboarded("anna@example.de").await;
    let bernd = stack.onboarded("bernd@example.de").await;
    let token = &anna.access_token;
    let shopify = connect(&stack, token, "shopify").await;
    let kaufland = connect(&stack, token, "kaufland").await;
    let bernds = connect(&stack, &bernd.access_token, "shopify").await;
    queued(
        &stack,
        &bernd.access_token,
        json!({ "connection_id": bernds }),
    )
    .await;

    // Seven finished jobs, alternating connections and outcomes, then one waiting on each.
    let mut made = Vec::new(); // (id, connection, state), oldest first
    for i in 0..7 {
        let connection = if i % 2 == 0 { shopify } else { kaufland };
        let state = if i % 3 == 0 { "failed" } else { "succeeded" };
        let job = queued(&stack, token, json!({ "connection_id": connection })).await;
        finish(&stack.db, id_of(&job), state).await;
        made.push((id_of(&job), connection, state));
    }
    for connection in [shopify, kaufland] {
        let job = queued(&stack, token, json!({ "connection_id": connection })).await;
        made.push((id_of(&job), connection, "queued"));
    }
    let newest_first = |keep: &dyn Fn(Uuid, &str) -> bool| -> Vec<Uuid> {
        made.iter()
            .rev()
            .filter(|(_, c, s)| keep(*c, s))
            .map(|(id, _, _)| *id)
            .collect()
    };

    let all = all_pages(&stack, token, "/api/sync/logs?limit=2").await;
    assert_eq!(ids(&all), newest_first(&|_, _| true));
    assert_eq!(
        ids(&all_pages(&stack, token, "/api/sync/logs?limit=200").await),
        ids(&all)
    );
    let of_shopify = all_pages(
        &stack,
        token,
        &format!("/api/sync/logs?limit=3&connection_id={shopify}"),
    )
    .await;
    assert_eq!(ids(&of_shopify), newest_first(&|c, _| c == shopify));
    let failed = all_pages(&stack, token, "/api/sync/logs?limit=1&status=failed").await;
    assert_eq!(ids(&failed), newest_first(&|_, s| s == "failed"));
    let both = all_pages(
        &stack,
        token,
        &format!("/api/sync/logs?limit=1&status=succeeded&connection_id={kaufland}"),
    )
    .await;
    assert_eq!(
        ids(&both),
        newest_first(&|c, s| c == kaufland && s == "succeeded")
    );
    let waiting = all_pages(&stack, token, "/api/sync/logs?status=queued").await;
    assert_eq!(ids(&waiting), newest_first(&|_, s| s == "queued"));

    // The seed's shape, with the job's own fields.
    let log = &failed[0];
    assert_eq!(log["status"], "failed");
    assert_eq!(log["state"], "failed");
    assert_eq!(log["items_synced"], 0);
    assert_eq!(
        log["errors"],
        json!([{ "code": "channel_unavailable", "message": "The shop did not answer." }])
    );
    assert_eq!(log["error"]["code"], "channel_unavailable");
    assert!(log["started_at"].is_string() && log["completed_at"].is_string());
    assert_eq!(
        (&log["kind"], &log["origin"]),
        (&json!("both"), &json!("merchant"))
    );
    assert_eq!(log["ledger_omitted"], 0);
    let ok = &all.iter().find(|l| l["status"] == "succeeded").unwrap();
    assert_eq!(ok["errors"], json!([]));
    let waits = &waiting[0];
    assert!(waits["started_at"].is_null() && waits["completed_at"].is_null());
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_logs_ledger_pages_through_what_the_job_did(db: PgPool) {
    let running = sandbox().await;
    let stack = stack(db, &running).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let connection = connect(&stack, token, "shopify").await;
    let job = queued(&stack, token, json!({ "connection_id": connection })).await;
    let other = {
        finish(&stack.db, id_of(&job), "succeeded").await;
        queued(&stack, token, json!({ "connection_id": connection })).await
    };
    // Five entries of the first job, one of the second (the workers write them in the
    // page's transaction; here they are written directly).
    for (job, action, sku, code, retry) in [
        (&job, "created", "KAF-1", None, false),
        (&job, "updated", "KAF-2", None, false),
        (&other, "pushed", "KAF-9", None, false),
        (
            &job,
            "rejected",
            "KAF-3",
            Some("channel_rejected_item"),
            false,
        ),
        (&job, "conflict", "KAF-4", None, false),
        (&job, "skipped", "KAF-5", Some("duplicate_sku"), true),
    ] {
        sqlx::query(
            "INSERT INTO sync_ledger (job_id, user_id, entity, action, sku, external_id, changes,
                                      channel_code, channel_message, will_retry)
             SELECT id, user_id, 'product', $2, $3, 'gid-' || $3,
                    '{\"price_cents\": {\"old\": 1999, \"new\": 2499}}', $4,
                    CASE WHEN $4 IS NOT NULL THEN 'Refused: ' || $4 END, $5
               FROM sync_jobs WHERE id = $1",
        )
        .bind(id_of(job))
        .bind(action)
        .bind(sku)
        .bind(code)
        .bind(retry)
        .execute(&stack.db)
        .await
        .unwrap();
    }
    let path = format!(
        "/api/sync/logs/{}/ledger?limit=2",
        job["id"].as_str().unwrap()
    );
    let entries = all_pages(&stack, token, &path).await;
    let skus: Vec<&str> = entries.iter().map(|e| e["sku"].as_str().unwrap()).collect();
    assert_eq!(skus, ["KAF-1", "KAF-2", "KAF-3", "KAF-4", "KAF-5"]);
    let rejected = &entries[2];
    assert_eq!(
        (
            &rejected["entity"],
            &rejected["action"],
            &rejected["external_id"]
        ),
        (&json!("product"), &json!("rejected"), &json!("gid-KAF-3"))
    );
    assert_eq!(
        rejected["channel"],
        json!({ "code": "channel_rejected_item", "message": "Refused: channel_rejected_item" })
    );
    assert_eq!(
        rejected["changes"]["price_cents"],
        json!({ "old": 1999, "new": 2499 })
    );
    assert!(entries[0]["channel"].is_null());
    assert_eq!(entries[4]["will_retry"], true);
    assert!(entries[0]["at"].is_string());
    let page = json_of(
        stack
            .get(
                token,
                &format!("/api/sync/logs/{}/ledger", other["id"].as_str().unwrap()),
            )
            .await,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["next_cursor"], Value::Null);
}

async fn deliver(
    stack: &Stack,
    shop: &str,
    topic: &str,
    webhook_id: &str,
    body: &Value,
) -> StatusCode {
    let body = body.to_string();
    let signature = oauth::webhook_hmac(&sandbox_secret().shopify_app().1, body.as_bytes());
    stack
        .http
        .post(stack.url("/api/webhooks/shopify"))
        .header("content-type", "application/json")
        .header("x-shopify-hmac-sha256", signature)
        .header("x-shopify-shop-domain", shop)
        .header("x-shopify-topic", topic)
        .header("x-shopify-webhook-id", webhook_id)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

/// The connection's jobs as (kind, mode, origin, state), oldest first.
async fn jobs_of(db: &PgPool, connection: Uuid) -> Vec<(String, String, String, String)> {
    sqlx::query_as(
        "SELECT kind, mode, origin, state FROM sync_jobs WHERE connection_id = $1 ORDER BY id",
    )
    .bind(connection)
    .fetch_all(db)
    .await
    .unwrap()
}

fn job(kind: &str, mode: &str, origin: &str, state: &str) -> (String, String, String, String) {
    (
        kind.to_owned(),
        mode.to_owned(),
        origin.to_owned(),
        state.to_owned(),
    )
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn verified_webhooks_queue_syncs_and_an_uninstall_disconnects(db: PgPool) {
    let running = sandbox().await;
    let stack = stack(db, &running).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let connection = connect(&stack, token, "shopify").await;
    let paused = connect(&stack, token, "shopify").await;
    sqlx::query("UPDATE connections SET status = 'paused' WHERE id = $1")
        .bind(paused)
        .execute(&stack.db)
        .await
        .unwrap();
    let shop = sandbox_secret().shopify_shop(&connection.to_string());
    let paused_shop = sandbox_secret().shopify_shop(&paused.to_string());

    // A product changed: an incremental products sync of the shop's connection.
    let product = json!({ "id": 632910392, "title": "Kaffeebohnen" });
    assert_eq!(
        deliver(&stack, &shop, "products/update", "w-1", &product).await,
        StatusCode::OK
    );
    assert_eq!(
        jobs_of(&stack.db, connection).await,
        [job("products", "incremental", "webhook", "queued")]
    );
    // A repeated delivery changes nothing; an order joins the waiting job.
    assert_eq!(
        deliver(&stack, &shop, "products/update", "w-1", &product).await,
        StatusCode::OK
    );
    let order = json!({ "id": 820982911946154508_u64, "total_price": "49.90" });
    assert_eq!(
        deliver(&stack, &shop, "orders/create", "w-2", &order).await,
        StatusCode::OK
    );
    assert_eq!(
        jobs_of(&stack.db, connection).await,
        [job("both", "incremental", "webhook", "queued")]
    );
    let logs = json_of(
        stack
            .get(token, &format!("/api/sync/logs?connection_id={connection}"))
            .await,
    )
    .await;
    assert_eq!(logs["items"][0]["origin"], "webhook");

    // Inventory names products; other topics queue nothing; a paused connection syncs
    // nothing (its events are still recorded).
    finish(
        &stack.db,
        jobs_of_ids(&stack.db, connection).await[0],
        "succeeded",
    )
    .await;
    let level = json!({ "inventory_item_id": 271878346596884015_u64, "available": 3 });
    assert_eq!(
        deliver(&stack, &shop, "inventory_levels/update", "w-3", &level).await,
        StatusCode::OK
    );
    assert_eq!(
        deliver(&stack, &shop, "shop/update", "w-4", &json!({ "id": 1 })).await,
        StatusCode::OK
    );
    assert_eq!(
        jobs_of(&stack.db, connection).await[1..],
        [job("products", "incremental", "webhook", "queued")]
    );
    assert_eq!(
        deliver(&stack, &paused_shop, "orders/create", "w-5", &order).await,
        StatusCode::OK
    );
    assert!(jobs_of(&stack.db, paused).await.is_empty());
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM channel_events WHERE connection_id = $1")
            .bind(paused)
            .fetch_one(&stack.db)
            .await
            .unwrap();
    assert_eq!(events, 1);

    // The app is removed from the shop (a connection made by the app install): disconnected,
    // its waiting job failed, nothing queued, and triggers must wait for a new connection.
    sqlx::query("UPDATE connections SET via_app = true WHERE id = $1")
        .bind(connection)
        .execute(&stack.db)
        .await
        .unwrap();
    let uninstall = json!({ "id": 1, "myshopify_domain": shop });
    assert_eq!(
        deliver(&stack, &shop, "app/uninstalled", "w-6", &uninstall).await,
        StatusCode::OK
    );
    let view = json_of(
        stack
            .get(token, &format!("/api/connections/{connection}"))
            .await,
    )
    .await;
    assert_eq!(
        (&view["status"], &view["last_error_code"]),
        (&json!("disconnected"), &json!("app_uninstalled"))
    );
    assert_eq!(
        jobs_of(&stack.db, connection).await[1..],
        [job("products", "incremental", "webhook", "failed")]
    );
    let failed = json_of(
        stack
            .get(
                token,
                &format!("/api/sync/logs?connection_id={connection}&status=failed"),
            )
            .await,
    )
    .await;
    assert_eq!(failed["items"][0]["errors"][0]["code"], "app_uninstalled");
    let res = trigger(&stack, token, json!({ "connection_id": connection })).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "connection_disconnected");
    assert_eq!(
        deliver(&stack, &shop, "products/create", "w-7", &product).await,
        StatusCode::OK
    );
    assert_eq!(jobs_of(&stack.db, connection).await.len(), 2);
    // A paused connection is still synced when its merchant asks.
    queued(&stack, token, json!({ "connection_id": paused })).await;
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_connection_in_error_gets_no_sync_from_events_or_edits(db: PgPool) {
    let running = sandbox().await;
    let stack = stack(db, &running).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let connection = connect(&stack, token, "shopify").await;
    let shop = sandbox_secret().shopify_shop(&connection.to_string());
    let product = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO products (id, user_id, connection_id, sku, title, price_cents, stock, external_id)
         VALUES ($1, $2, $3, 'SKU-1', 'Tasse', 1999, 4, 'gid-1')",
    )
    .bind(product)
    .bind(anna.user_id.parse::<Uuid>().unwrap())
    .bind(connection)
    .execute(&stack.db)
    .await
    .unwrap();
    sqlx::query("UPDATE connections SET status = 'error' WHERE id = $1")
        .bind(connection)
        .execute(&stack.db)
        .await
        .unwrap();

    // Its credentials are refused: a job would fail at once. The event is recorded, and
    // the edit stands (pending for the sync that brings the connection back).
    let order = json!({ "id": 820982911946154508_u64, "total_price": "49.90" });
    assert_eq!(
        deliver(&stack, &shop, "orders/create", "w-1", &order).await,
        StatusCode::OK
    );
    let edit = |cents: i64| {
        let stack = &stack;
        async move {
            let res = stack
                .put(
                    token,
                    &format!("/api/products/{product}"),
                    common::product_body("SKU-1", "Tasse", cents, 4),
                )
                .await;
            assert_eq!(res.status(), StatusCode::OK);
        }
    };
    edit(2499).await;
    assert!(jobs_of(&stack.db, connection).await.is_empty());
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM channel_events WHERE connection_id = $1")
            .bind(connection)
            .fetch_one(&stack.db)
            .await
            .unwrap();
    assert_eq!(events, 1);

    // Back to active, the next edit queues its push.
    sqlx::query("UPDATE connections SET status = 'active' WHERE id = $1")
        .bind(connection)
        .execute(&stack.db)
        .await
        .unwrap();
    edit(2599).await;
    assert_eq!(
        jobs_of(&stack.db, connection).await,
        [job("push", "incremental", "merchant", "queued")]
    );
}

/// The engine's settings as the api's defaults make them.
fn sync_settings() -> api::config::SyncSettings {
    #[derive(clap::Parser)]
    struct Args {
        #[command(flatten)]
        sync: api::config::SyncArgs,
    }
    <Args as clap::Parser>::parse_from(["api"]).sync.settings()
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_webhook_during_a_run_gets_an_incremental_follow_up(db: PgPool) {
    let running = sandbox().await;
    let stack = stack(db, &running).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let connection = connect(&stack, token, "shopify").await;
    let shop = sandbox_secret().shopify_shop(&connection.to_string());
    queued(
        &stack,
        token,
        json!({ "connection_id": connection, "kind": "products", "mode": "full" }),
    )
    .await;
    let owner = Uuid::now_v7();
    let claimed = api::sync::queue::claim(&stack.db, owner, std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();

    // An order arrives while the products are read: the running job does not read orders.
    let order = json!({ "id": 820982911946154508_u64, "total_price": "49.90" });
    assert_eq!(
        deliver(&stack, &shop, "orders/create", "w-1", &order).await,
        StatusCode::OK
    );
    assert_eq!(
        jobs_of(&stack.db, connection).await,
        [job("products", "full", "merchant", "running")]
    );
    let lease = api::sync::run::Lease {
        job_id: claimed.id,
        owner,
    };
    api::sync::queue::succeed(&stack.db, &sync_settings(), lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        jobs_of(&stack.db, connection).await,
        [
            job("products", "full", "merchant", "succeeded"),
            job("orders", "incremental", "webhook", "queued")
        ]
    );
}

async fn jobs_of_ids(db: &PgPool, connection: Uuid) -> Vec<Uuid> {
    sqlx::query_scalar("SELECT id FROM sync_jobs WHERE connection_id = $1 ORDER BY id")
        .bind(connection)
        .fetch_all(db)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn the_sync_routes_are_documented_with_every_answer(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let doc = stack.openapi().await;
    assert_eq!(
        sm_testkit::openapi::undocumented_answers(&doc),
        Vec::<String>::new()
    );
    let statuses = |method: &str, path: &str| -> Vec<String> {
        doc["paths"][path][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} is not documented"))
            .keys()
            .cloned()
            .collect()
    };
    let trigger = statuses("post", "/api/sync/trigger");
    for status in ["200", "202", "401", "404", "409", "422"] {
        assert!(trigger.contains(&status.to_owned()), "trigger: {status}");
    }
    assert!(
        doc["paths"]["/api/sync/trigger"]["post"]["responses"]["202"]["headers"]["Location"]
            .is_object()
    );
    for (method, path) in [
        ("get", "/api/sync/jobs/{id}"),
        ("get", "/api/sync/logs/{id}/ledger"),
    ] {
        assert!(statuses(method, path).contains(&"404".to_owned()), "{path}");
    }
    assert!(statuses("get", "/api/sync/logs").contains(&"400".to_owned()));
    let status = doc["paths"]["/api/sync/logs"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "status")
        .unwrap();
    assert_eq!(
        status["schema"]["enum"],
        json!(["queued", "running", "succeeded", "failed"])
    );
    let connection = &doc["components"]["schemas"]["ConnectionView"]["properties"]["status"];
    assert_eq!(
        connection["enum"],
        json!(["pending", "active", "error", "paused", "disconnected"])
    );
}

/// Follows a job until it ends (polls with a deadline).
async fn follow(stack: &Stack, token: &str, job: &str) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let job = json_of(stack.get(token, &format!("/api/sync/jobs/{job}")).await).await;
        if job["state"] == "succeeded" || job["state"] == "failed" {
            return job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job never ended: {job}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_triggered_sync_runs_and_its_log_shows_what_it_did(db: PgPool) {
    let running = sandbox().await;
    let mut args = sandbox_args(&running);
    args.extend(["--sync-workers", "2"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let stack = Stack::spawn_with(db, &args).await;
    let anna = stack.onboarded("anna@example.de").await;
    let token = &anna.access_token;
    let connection = connect(&stack, token, "shopify").await;

    // The shop's first answer takes a while: the job is seen running.
    let res = stack
        .http
        .post(running.url.join("_sandbox/faults").unwrap())
        .json(&json!({ "vendor": "shopify", "fault": "timeout", "times": 1 }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let job = queued(
        &stack,
        token,
        json!({ "connection_id": connection, "kind": "products", "mode": "full" }),
    )
    .await;
    let id = job["id"].as_str().unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while json_of(stack.get(token, &format!("/api/sync/jobs/{id}")).await).await["state"]
        == "queued"
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no worker took the job"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let res = trigger(
        &stack,
        token,
        json!({ "connection_id": connection, "kind": "orders" }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let busy: Value = res.json().await.unwrap();
    assert_eq!(
        (busy["id"].as_str(), &busy["state"]),
        (Some(id), &json!("running"))
    );
    assert!(busy["started_at"].is_string());
    // Nothing merges into a running job: its kind stays, and nothing else is queued.
    assert_eq!(busy["kind"], "products");
    assert_eq!(jobs_of(&stack.db, connection).await.len(), 1);

    let done = follow(&stack, token, id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        (&done["phase"], &done["progress"]),
        (&json!("done"), &json!(1.0))
    );
    assert!(done["items_done"].as_i64().unwrap() >= 20, "{done}");
    assert!(done["completed_at"].is_string() && done["error"].is_null());

    let logs = json_of(
        stack
            .get(
                token,
                &format!("/api/sync/logs?connection_id={connection}&status=succeeded"),
            )
            .await,
    )
    .await;
    let log = &logs["items"][0];
    assert_eq!(log["id"], done["id"]);
    assert_eq!(log["items_synced"], done["items_done"]);
    assert_eq!(log["errors"], json!([]));
    let entries = all_pages(
        &stack,
        token,
        &format!("/api/sync/logs/{id}/ledger?limit=7"),
    )
    .await;
    let created = entries
        .iter()
        .filter(|e| e["entity"] == "product" && e["action"] == "created")
        .count();
    assert_eq!(created, 20, "{entries:?}");
    assert!(entries
        .iter()
        .all(|e| e["sku"].is_string() && e["external_id"].is_string()));
}
