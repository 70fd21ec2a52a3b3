//! Mail goes through the transactional outbox: written with its code, delivered over SMTP by
//! the worker, kept across restarts, retried while the SMTP server is away, limited
//! platform-wide for mail anyone can cause.

mod common;

use std::time::Duration;

use clap::Parser;
use common::{expect, TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sm_testkit::extract_code;
use sqlx::PgPool;

const WAIT: Duration = Duration::from_secs(10);

async fn outbox(db: &PgPool) -> Vec<(String, String, Option<String>, i32)> {
    sqlx::query_as(
        "SELECT recipient, status, body, attempts FROM mail_outbox ORDER BY created_at, id",
    )
    .fetch_all(db)
    .await
    .unwrap()
}

/// Waits until no mail is pending.
async fn settled(db: &PgPool) {
    for _ in 0..200 {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM mail_outbox WHERE status = 'pending'")
                .fetch_one(db)
                .await
                .unwrap();
        if pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("mail still pending: {:?}", outbox(db).await);
}

async fn register(app: &TestApp, email: &str) -> Value {
    let res = app
        .post(
            "/api/auth/register",
            json!({ "email": email, "password": PASSWORD, "full_name": "Anna Schmidt" }),
        )
        .await;
    expect(res, StatusCode::ACCEPTED)
        .await
        .json()
        .await
        .unwrap()
}

#[sqlx::test]
async fn mail_committed_with_its_code_survives_a_restart_and_is_delivered_over_smtp(db: PgPool) {
    let mut first = TestApp::spawn(db.clone()).await;
    // Stopping the background tasks returns promptly (graceful shutdown).
    let background = first.background.take().unwrap();
    tokio::time::timeout(Duration::from_secs(5), background.stop())
        .await
        .expect("the worker stops");

    register(&first, "anna@example.de").await;
    // The mail was committed with the code, and nothing delivers it.
    let queued = outbox(&db).await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].0, "anna@example.de");
    assert_eq!(queued[0].1, "pending");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(first.sink.messages().is_empty());
    drop(first);

    // The next process delivers it, and the code in it is the one stored with it.
    let second = TestApp::spawn(db.clone()).await;
    let code = second.code_for("anna@example.de").await;
    let res = second
        .post(
            "/api/auth/verify-email",
            json!({ "email": "anna@example.de", "code": code }),
        )
        .await;
    expect(res, StatusCode::OK).await;
    settled(&db).await;
    // Delivered mail keeps no body: it held the code.
    let delivered = outbox(&db).await;
    assert_eq!(delivered[0].1, "sent");
    assert_eq!(delivered[0].2, None);
}

#[sqlx::test]
async fn mail_is_sent_promptly_after_commit(db: PgPool) {
    let app = TestApp::spawn(db.clone()).await;
    // Let the worker go idle (it polls every 10 s), so only the commit's notification can
    // wake it in time.
    tokio::time::sleep(Duration::from_millis(300)).await;
    register(&app, "prompt@example.de").await;
    app.sink
        .wait_for("prompt@example.de", Duration::from_secs(3))
        .await;
}

#[sqlx::test]
async fn with_nothing_pending_the_worker_has_nothing_due(db: PgPool) {
    use security::db::mail_outbox::next_due_in;
    // What the worker sleeps by: "nothing pending" must not read as "due now", or an idle
    // service polls its database without pause.
    assert_eq!(next_due_in(&db).await.unwrap(), None);
    let app = TestApp::spawn(db.clone()).await;
    register(&app, "idle@example.de").await;
    app.sink
        .wait_for("idle@example.de", Duration::from_secs(3))
        .await;
    settled(&db).await;
    assert_eq!(
        next_due_in(&db).await.unwrap(),
        None,
        "only sent mail is left"
    );
}

#[sqlx::test]
async fn a_failing_smtp_server_is_retried(db: PgPool) {
    let (app, proxy) = TestApp::spawn_with_smtp_proxy(
        db.clone(),
        &[
            "--auth-rate-limit-per-minute=100000",
            "--mail-retry-base-secs=0.2",
        ],
    )
    .await;
    proxy.cut();
    register(&app, "retry@example.de").await;
    // Failed attempts are counted and the mail stays queued with its body.
    let mut failed = false;
    for _ in 0..100 {
        let rows = outbox(&db).await;
        if rows[0].3 >= 2 {
            assert_eq!(rows[0].1, "pending");
            assert!(rows[0].2.is_some());
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(failed, "{:?}", outbox(&db).await);
    assert!(app.sink.messages().is_empty());

    proxy.restore().await;
    let mail = app.sink.wait_for("retry@example.de", WAIT).await;
    extract_code(&mail.text);
    settled(&db).await;
    assert_eq!(outbox(&db).await[0].1, "sent");
}

#[sqlx::test]
async fn a_mail_is_given_up_after_the_last_attempt(db: PgPool) {
    let (app, proxy) = TestApp::spawn_with_smtp_proxy(
        db.clone(),
        &[
            "--auth-rate-limit-per-minute=100000",
            "--mail-retry-base-secs=0.05",
            "--mail-max-attempts=3",
        ],
    )
    .await;
    proxy.cut();
    register(&app, "never@example.de").await;
    settled(&db).await;
    let rows = outbox(&db).await;
    assert_eq!(rows[0].1, "failed");
    assert_eq!(rows[0].3, 3);
    assert_eq!(rows[0].2, None, "a given-up mail keeps no body");
    proxy.restore().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.sink.messages().is_empty());
}

#[sqlx::test]
async fn mail_past_the_platform_budget_waits_with_the_same_answers(db: PgPool) {
    let app = TestApp::spawn_with(
        db.clone(),
        &[
            "--auth-rate-limit-per-minute=100000",
            "--mail-budget-per-minute=3",
            "--mail-budget-per-hour=100",
        ],
    )
    .await;
    let first = register(&app, "budget0@example.de").await;
    for i in 1..6 {
        let answer = register(&app, &format!("budget{i}@example.de")).await;
        assert_eq!(answer, first, "past the budget the answer is the same");
    }
    // Resending and resetting answer as always too.
    for (path, email) in [
        ("/api/auth/resend-verification", "budget5@example.de"),
        ("/api/auth/password-reset/request", "budget0@example.de"),
    ] {
        let res = app.post(path, json!({ "email": email })).await;
        expect(res, StatusCode::ACCEPTED).await;
    }
    // Three are sent; the others wait, with their codes, for the budget's minute to end.
    let held_back = || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM mail_outbox
              WHERE status = 'pending' AND body IS NOT NULL AND next_attempt_at > now()",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        n as usize
    };
    let mut settled = false;
    for _ in 0..200 {
        let rows = outbox(&db).await;
        let sent = rows.iter().filter(|row| row.1 == "sent").count();
        if sent == 3 && held_back().await == rows.len() - 3 {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(settled, "{:?}", outbox(&db).await);
    assert_eq!(app.sink.messages().len(), 3);

    // Mail that needs credentials (the login code) is not held back by the budget.
    let verified = app.sink.messages()[0].to[0].clone();
    let code = extract_code(&app.sink.wait_for(&verified, WAIT).await.text);
    let res = app
        .post(
            "/api/auth/verify-email",
            json!({ "email": verified, "code": code }),
        )
        .await;
    expect(res, StatusCode::OK).await;
    app.login_ticket(&verified, PASSWORD).await;
    app.sink.wait_for(&verified, WAIT).await;
}

#[sqlx::test]
async fn without_smtp_or_an_explicit_file_outbox_the_service_refuses_to_start(db: PgPool) {
    let config = security::config::Config::try_parse_from([
        "security",
        "--jwt-secret",
        common::JWT_SECRET,
        "--service-token",
        common::SERVICE_TOKEN,
        "--totp-encryption-key",
        common::TOTP_KEY,
    ])
    .unwrap();
    let Err(err) = security::state(&config, db) else {
        panic!("the service started without a mail transport");
    };
    let message = format!("{err:#}");
    assert!(
        message.contains("SMTP_HOST") && message.contains("MAIL_OUTBOX_DIR"),
        "{message}"
    );
}

#[sqlx::test]
async fn mail_outside_the_budget_is_delivered_before_mail_waiting_for_it(db: PgPool) {
    use security::db::mail_outbox::{claim_due, insert, NewMail};
    let mail = |kind, budgeted| NewMail {
        kind,
        recipient: "anna@example.de",
        subject: "s",
        body: "b",
        budgeted,
    };
    // A sign-up code queued (and due) first, then a login code.
    insert(&db, mail("verification", true)).await.unwrap();
    sqlx::query("UPDATE mail_outbox SET next_attempt_at = now() - interval '1 minute'")
        .execute(&db)
        .await
        .unwrap();
    insert(&db, mail("login", false)).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    let first = claim_due(&mut tx).await.unwrap().expect("mail is due");
    assert_eq!(
        first.kind, "login",
        "a login never waits behind budgeted mail"
    );
}
