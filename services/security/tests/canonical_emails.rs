//! One mailbox, one account: every spelling of an address (IDNA Unicode or punycode domain,
//! NFC or NFD local part, any case) is the same address, for new rows and existing ones.

mod common;

use common::{expect, TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

async fn register(app: &TestApp, email: &str) -> (StatusCode, Value) {
    let res = app
        .post(
            "/api/auth/register",
            json!({ "email": email, "password": PASSWORD, "full_name": "Anna Schmidt" }),
        )
        .await;
    (res.status(), res.json().await.unwrap())
}

async fn accounts(db: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT email FROM users ORDER BY email")
        .fetch_all(db)
        .await
        .unwrap()
}

/// Registers `first`, verifies it, then registers `second`: it must answer like any taken
/// address and create nothing; logging in works with either spelling.
async fn one_account_for(db: PgPool, first: &str, second: &str, stored: &str) {
    let app = TestApp::spawn(db.clone()).await;
    let fresh = register(&app, "someone-else@example.de").await;
    assert_eq!(register(&app, first).await, fresh);
    let code = app.code_for(stored).await;
    let res = app
        .post(
            "/api/auth/verify-email",
            json!({ "email": second, "code": code }),
        )
        .await;
    expect(res, StatusCode::OK).await;

    assert_eq!(
        register(&app, second).await,
        fresh,
        "answers like a taken address"
    );
    assert_eq!(accounts(&db).await, [stored, "someone-else@example.de"]);
    // The owner is told someone tried to sign up with their address.
    let notice = app
        .sink
        .wait_for(stored, std::time::Duration::from_secs(10))
        .await;
    assert!(!notice.text.is_empty());

    // The password step succeeds with either spelling (the second within the resend
    // cooldown, so the code mailed for the first stays the one to use).
    app.login_ticket(first, PASSWORD).await;
    app.code_for(stored).await;
    app.login_ticket(second, PASSWORD).await;
}

#[sqlx::test]
async fn an_idn_domain_and_its_punycode_are_one_account(db: PgPool) {
    one_account_for(
        db,
        "acc@bücher.test",
        "ACC@xn--bcher-kva.test",
        "acc@xn--bcher-kva.test",
    )
    .await;
}

#[sqlx::test]
async fn a_local_part_in_nfc_and_in_nfd_is_one_account(db: PgPool) {
    let nfc = "j\u{fc}rgen@example.de";
    let nfd = "ju\u{308}rgen@example.de";
    one_account_for(db, nfd, nfc, nfc).await;
}

async fn insert_user(db: &PgPool, email: &str, verified: bool, age_days: i32) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO users (id, email, password_hash, full_name, is_verified, created_at)
         VALUES ($1, $2, 'x', 'Old Account', $3, now() - make_interval(days => $4))",
    )
    .bind(id)
    .bind(email)
    .bind(verified)
    .bind(age_days)
    .execute(db)
    .await
    .unwrap();
    id
}

async fn user(db: &PgPool, id: Uuid) -> (String, bool) {
    sqlx::query_as("SELECT email, is_active FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(db)
        .await
        .unwrap()
}

#[sqlx::test]
async fn existing_rows_are_rewritten_once_and_duplicates_disabled(db: PgPool) {
    // As earlier versions stored them.
    let older_unverified = insert_user(&db, "acc@bücher.test", false, 30).await;
    let verified = insert_user(&db, "acc@xn--bcher-kva.test", true, 10).await;
    let nfd_only = insert_user(&db, "ju\u{308}rgen@example.de", true, 5).await;
    let nfd_a = insert_user(&db, "mu\u{308}ller@b\u{fc}cher.test", false, 9).await;
    let nfc_b = insert_user(&db, "m\u{fc}ller@xn--bcher-kva.test", false, 3).await;
    let ascii = insert_user(&db, "plain@example.de", false, 1).await;

    security::data_migrations::run(&db).await.unwrap();

    // The verified account keeps the address; the other is disabled and moved aside.
    assert_eq!(
        user(&db, verified).await,
        ("acc@xn--bcher-kva.test".into(), true)
    );
    assert_eq!(
        user(&db, older_unverified).await,
        (format!("{older_unverified}@duplicate.invalid"), false)
    );
    let kind: String = sqlx::query_scalar("SELECT kind FROM security_events WHERE user_id = $1")
        .bind(older_unverified)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(kind, "duplicate_email_disabled");
    // Without a verified one, the oldest keeps it.
    assert_eq!(
        user(&db, nfd_a).await,
        ("m\u{fc}ller@xn--bcher-kva.test".into(), true)
    );
    assert!(!user(&db, nfc_b).await.1);
    assert_eq!(
        user(&db, nfd_only).await,
        ("j\u{fc}rgen@example.de".into(), true)
    );
    assert_eq!(user(&db, ascii).await, ("plain@example.de".into(), true));

    // It runs once: a row written in the old spelling later is not touched again.
    let later = insert_user(&db, "neu@bücher.test", false, 0).await;
    security::data_migrations::run(&db).await.unwrap();
    assert_eq!(user(&db, later).await.0, "neu@bücher.test");
}
