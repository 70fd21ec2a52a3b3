//! The outbox worker under pressure: mail past the platform budget waits instead of
//! vanishing and is reported without addresses; a mail it cannot take or finish does not
//! make it spin; stopping does not wait on a stalled SMTP server.
//!
//! The log is read through one global subscriber; each test looks only at the events of its
//! own thread (`sqlx::test` runs the test, the service and its worker on one thread).

mod common;

use std::sync::{Arc, Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::Duration;

use clap::Parser;
use common::{expect, TestApp};
use reqwest::StatusCode;
use security::background::Background;
use security::config::Config;
use serde_json::json;
use sm_testkit::extract_code;
use sqlx::PgPool;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

const WAIT: Duration = Duration::from_secs(10);

/// An event as logged: the thread it was logged on, its level, and every field as text.
struct Logged {
    thread: ThreadId,
    level: Level,
    fields: String,
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Logged>>>);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

impl<S: Subscriber> Layer<S> for Log {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push(Logged {
            thread: std::thread::current().id(),
            level: *event.metadata().level(),
            fields: fields.0,
        });
    }
}

/// The events logged so far on this thread, as `(level, fields)`.
fn logged_here() -> Vec<(Level, String)> {
    static LOG: OnceLock<Log> = OnceLock::new();
    let log = LOG.get_or_init(|| {
        let log = Log::default();
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(log.clone()))
            .expect("no other global subscriber in this binary");
        log
    });
    let here = std::thread::current().id();
    let events = log.0.lock().unwrap();
    events
        .iter()
        .filter(|event| event.thread == here)
        .map(|event| (event.level, event.fields.clone()))
        .collect()
}

async fn exec(db: &PgPool, sql: &str) {
    sqlx::raw_sql(sql).execute(db).await.unwrap();
}

async fn count(db: &PgPool, condition: &str) -> i64 {
    sqlx::query_scalar(&format!(
        "SELECT count(*) FROM mail_outbox WHERE {condition}"
    ))
    .fetch_one(db)
    .await
    .unwrap()
}

/// Waits until `condition` holds for `n` mails.
async fn wait_for_mails(db: &PgPool, condition: &str, n: i64) {
    for _ in 0..200 {
        if count(db, condition).await == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT recipient, status, last_error FROM mail_outbox ORDER BY created_at")
            .fetch_all(db)
            .await
            .unwrap();
    panic!("expected {n} mails where {condition}: {rows:?}");
}

/// Makes every held-back mail due now and wakes the worker.
async fn due_now(db: &PgPool) {
    exec(
        db,
        "UPDATE mail_outbox SET next_attempt_at = now() WHERE status = 'pending';
         SELECT pg_notify('mail_outbox', '');",
    )
    .await;
}

#[sqlx::test]
async fn mail_past_the_budget_waits_and_is_dropped_only_once_its_code_expired(db: PgPool) {
    logged_here();
    let mut app = TestApp::spawn_with(
        db.clone(),
        &[
            "--auth-rate-limit-per-minute=100000",
            "--mail-budget-per-minute=1",
            "--mail-budget-per-hour=100",
        ],
    )
    .await;
    for name in ["first", "second", "third"] {
        app.register(&format!("{name}@example.de")).await;
    }
    // One is sent; the others wait for the budget's window, with their codes.
    wait_for_mails(&db, "status = 'sent'", 1).await;
    let held_back = "status = 'pending' AND body IS NOT NULL AND next_attempt_at > now()";
    wait_for_mails(&db, held_back, 2).await;

    // When the window frees, the mail waiting longest goes out, and its code works.
    exec(
        &db,
        "UPDATE attempt_budgets SET window_start = now() - interval '2 minutes'",
    )
    .await;
    due_now(&db).await;
    wait_for_mails(&db, "status = 'sent'", 2).await;
    wait_for_mails(&db, held_back, 1).await;
    let sent: Vec<String> = sqlx::query_scalar(
        "SELECT recipient FROM mail_outbox WHERE status = 'sent' ORDER BY created_at",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(sent[1], "second@example.de");
    let code = extract_code(&app.sink.wait_for("second@example.de", WAIT).await.text);
    let res = app
        .post(
            "/api/auth/verify-email",
            json!({ "email": "second@example.de", "code": code }),
        )
        .await;
    expect(res, StatusCode::OK).await;

    // One still held back when its code expires is dropped, body and all.
    exec(
        &db,
        "UPDATE mail_outbox SET created_at = now() - interval '11 minutes' WHERE status = 'pending'",
    )
    .await;
    due_now(&db).await;
    wait_for_mails(&db, "status = 'dropped' AND body IS NULL", 1).await;
    app.background.take().unwrap().stop().await;

    // The log counts it, and names no address.
    let logged = logged_here();
    let warnings: Vec<&String> = logged
        .iter()
        .filter(|(level, _)| *level <= Level::WARN)
        .map(|(_, fields)| fields)
        .collect();
    assert!(
        warnings
            .iter()
            .all(|fields| !fields.contains("@example.de")),
        "{warnings:#?}"
    );
    assert!(
        warnings.iter().any(|fields| fields.contains("dropped=1 ")),
        "{warnings:#?}"
    );
    assert_eq!(app.sink.messages().len(), 2);
}

#[sqlx::test]
async fn a_mail_another_instance_holds_locked_does_not_make_the_worker_spin(db: PgPool) {
    logged_here();
    let _app = TestApp::spawn(db.clone()).await;
    exec(
        &db,
        "INSERT INTO mail_outbox (id, kind, recipient, subject, body, budgeted, next_attempt_at)
         VALUES (gen_random_uuid(), 'k', 'locked@example.de', 's', 'b', false, now() + interval '1 second')",
    )
    .await;
    // Another instance's worker holds it while it becomes due.
    let mut other = db.begin().await.unwrap();
    sqlx::query("SELECT id FROM mail_outbox FOR UPDATE")
        .execute(&mut *other)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let claims = || {
        logged_here()
            .iter()
            .filter(|(_, fields)| fields.contains("SKIP LOCKED"))
            .count()
    };
    let before = claims();
    assert!(before > 0, "the claims show in the log");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let made = claims() - before;
    assert!(made <= 6, "{made} claims in 2 s");
    other.rollback().await.unwrap();
}

#[sqlx::test]
async fn a_mail_that_fails_every_round_is_not_retried_in_a_tight_loop(db: PgPool) {
    let app = TestApp::spawn(db.clone()).await;
    // Marking it sent fails every time (as with a database refusing writes), after sending.
    exec(
        &db,
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'refused'; END $$;
         CREATE TRIGGER refuse BEFORE UPDATE ON mail_outbox FOR EACH ROW EXECUTE FUNCTION refuse();
         INSERT INTO mail_outbox (id, kind, recipient, subject, body, budgeted)
         VALUES (gen_random_uuid(), 'k', 'again@example.de', 's', 'b', false);",
    )
    .await;
    app.sink.wait_for("again@example.de", WAIT).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = app.sink.messages().len();
    assert!(sent <= 6, "{sent} deliveries in about 2 s");
}

#[sqlx::test]
async fn stopping_does_not_wait_long_for_a_stalled_smtp_server(db: PgPool) {
    // An SMTP server that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let (accepted, mut connected) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = silent.accept().await {
            let _ = accepted.send(socket);
        }
    });
    let config = Config::try_parse_from([
        "security",
        "--jwt-secret",
        common::JWT_SECRET,
        "--service-token",
        common::SERVICE_TOKEN,
        "--totp-encryption-key",
        common::TOTP_KEY,
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &port,
        "--smtp-tls",
        "none",
    ])
    .unwrap();
    let state = security::state(&config, db.clone()).unwrap();
    let background = Background::start(&state, &config);
    exec(
        &db,
        "INSERT INTO mail_outbox (id, kind, recipient, subject, body, budgeted)
         VALUES (gen_random_uuid(), 'k', 'stalled@example.de', 's', 'b', false)",
    )
    .await;
    let _socket = tokio::time::timeout(WAIT, connected.recv())
        .await
        .expect("the worker connects")
        .unwrap();

    // Well within Docker's 10 s stop grace, though the send would wait 30 s.
    tokio::time::timeout(Duration::from_secs(6), background.stop())
        .await
        .expect("the worker stops within a few seconds");
    // The mail is not lost: the next start delivers it.
    let pending = "status = 'pending' AND body IS NOT NULL AND attempts = 0";
    assert_eq!(count(&db, pending).await, 1);
}
