//! Reset and resend-verification requests answer before anything is looked up; their work
//! runs afterwards, bounded in number, and a graceful shutdown waits for it.

mod common;

use std::time::Duration;

use common::{expect, TestApp};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::{PgPool, Postgres, Transaction};

/// Holds the users table so no lookup can finish until the transaction ends.
async fn lock_users(db: &PgPool) -> Transaction<'static, Postgres> {
    let mut lock = db.begin().await.unwrap();
    sqlx::query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    lock
}

async fn mails_queued_for(db: &PgPool, email: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM mail_outbox WHERE recipient = $1")
        .bind(email)
        .fetch_one(db)
        .await
        .unwrap()
}

/// Waits until `email` has `n` mails in the outbox.
async fn wait_for_mails(db: &PgPool, email: &str, n: i64) {
    for _ in 0..100 {
        if mails_queued_for(db, email).await >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{email} never got {n} mails");
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn a_resend_request_answers_before_looking_anything_up(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let email = "unverified@example.de";
    app.register(email).await;
    wait_for_mails(&app.db, email, 1).await;
    // A minute later, so the resend mails a new code.
    sqlx::query("UPDATE verification_codes SET created_at = now() - interval '2 minutes'")
        .execute(&app.db)
        .await
        .unwrap();
    // Only an unverified account gets a code; while the users table cannot be read, the
    // answer for it and for an unknown address still comes at once.
    let lock = lock_users(&app.db).await;
    for address in [email, "nobody@example.de"] {
        let answer = tokio::time::timeout(
            Duration::from_secs(3),
            app.post("/api/auth/resend-verification", json!({ "email": address })),
        )
        .await
        .unwrap_or_else(|_| panic!("the answer for {address} waited for the database"));
        expect(answer, StatusCode::ACCEPTED).await;
    }
    lock.rollback().await.unwrap();
    // The work still happens: the new code is queued.
    wait_for_mails(&app.db, email, 2).await;
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn work_past_the_limit_is_dropped_not_piled_up(db: PgPool) {
    let app = TestApp::spawn_with(
        db,
        &[
            "--auth-rate-limit-per-minute=100000",
            "--mail-budget-per-minute=100000",
            "--mail-budget-per-hour=100000",
            "--deferred-work-limit=1",
        ],
    )
    .await;
    let (first, second) = ("first@example.de", "second@example.de");
    app.verified_user(first).await;
    app.verified_user(second).await;
    let before = mails_queued_for(&app.db, second).await;
    // The first request's work waits for the locked table and takes the only slot.
    let lock = lock_users(&app.db).await;
    for email in [first, second] {
        let res = app
            .post(
                "/api/auth/password-reset/request",
                json!({ "email": email }),
            )
            .await;
        expect(res, StatusCode::ACCEPTED).await;
    }
    lock.rollback().await.unwrap();
    let code = app.code_for(first).await;
    assert_eq!(code.len(), 6);
    // The second request's work was never started, so it does not come later either.
    app.state.deferred.drain().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mails_queued_for(&app.db, second).await, before);
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn shutdown_waits_for_reset_requests_already_answered(db: PgPool) {
    // Someone to reset, made through a test instance on the same database.
    let helper = TestApp::spawn(db.clone()).await;
    let email = "known@example.de";
    helper.verified_user(email).await;
    let mails_before = mails_queued_for(&db, email).await;

    // The service as `main` runs it, stopped by a signal of ours.
    let options = db.connect_options();
    let url = format!(
        "postgres://postgres@127.0.0.1:5432/{}",
        options.get_database().unwrap()
    );
    let config = common::test_config(helper.sink.port(), &["--database-url", &url]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut service = tokio::spawn(security::run(config, listener, async {
        let _ = stopped.await;
    }));

    // Up once it has run its start-up work (which reads the users table, too).
    let http = reqwest::Client::new();
    let live = format!("{base}/health/live");
    while !http
        .get(&live)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The answer goes out while the lookup still waits for the database...
    let lock = lock_users(&db).await;
    let res = reqwest::Client::new()
        .post(format!("{base}/api/auth/password-reset/request"))
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap();
    expect(res, StatusCode::ACCEPTED).await;
    // ...and the shutdown that follows waits for that work instead of dropping it.
    stop.send(()).unwrap();
    let early = tokio::time::timeout(Duration::from_millis(700), &mut service).await;
    assert!(
        early.is_err(),
        "the service stopped with a request's work unfinished"
    );
    lock.rollback().await.unwrap();
    service.await.unwrap().unwrap();
    assert_eq!(mails_queued_for(&db, email).await, mails_before + 1);
}
