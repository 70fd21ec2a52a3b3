//! Whether an address has an account must not show in how long the answer takes. Timing
//! asserts would be flaky on a shared machine, so this checks the cause instead: every sign-up
//! runs the same statements before answering (one argon2 hash is computed unconditionally in
//! the code, before any branching) — the same writes and one commit, which dominate the time;
//! reset and resend-verification requests answer before they look anything up
//! (`hardening.rs`, `deferred_work.rs`).
//!
//! The only test in this binary: the statement log is read through a thread-local tracing
//! subscriber, which a second test running at the same time can keep from seeing events.

mod common;

use std::sync::{Arc, Mutex};

use common::{expect, TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// What every SQL statement run inside an HTTP request's span does: `write`, `read`, or the
/// transaction control statement itself.
#[derive(Clone, Default)]
struct Statements(Arc<Mutex<Vec<String>>>);

/// The statement's text (sqlx logs a short summary, and the whole text when it is longer).
#[derive(Default)]
struct Sql(String);

impl Visit for Sql {
    fn record_str(&mut self, field: &Field, value: &str) {
        if matches!(field.name(), "summary" | "db.statement") {
            self.0.push_str(value);
            self.0.push(' ');
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, format!("{value:?}").trim_matches('"'));
    }
}

fn kind_of(sql: &str) -> String {
    let sql = sql.to_uppercase();
    let first = sql.split_whitespace().next().unwrap_or("");
    if matches!(first, "BEGIN" | "COMMIT" | "ROLLBACK") {
        first.to_owned()
    } else if ["INSERT ", "UPDATE ", "DELETE "]
        .iter()
        .any(|w| sql.contains(w))
    {
        "write".to_owned()
    } else {
        "read".to_owned()
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Statements {
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let in_request = ctx
            .event_scope(event)
            .is_some_and(|mut spans| spans.any(|span| span.name() == "request"));
        if in_request {
            let mut sql = Sql::default();
            event.record(&mut sql);
            self.0.lock().unwrap().push(kind_of(&sql.0));
        }
    }
}

impl Statements {
    /// The statements run while answering `request`.
    async fn of<F: std::future::Future<Output = reqwest::Response>>(
        &self,
        request: F,
    ) -> Vec<String> {
        self.0.lock().unwrap().clear();
        expect(request.await, StatusCode::ACCEPTED).await;
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn sign_ups_for_taken_and_free_addresses_do_the_same_work(db: PgPool) {
    let statements = Statements::default();
    // `sqlx::test` runs on one thread: the service's tasks log into this subscriber only.
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(statements.clone()));
    let app = TestApp::spawn(db).await;
    app.verified_user("verified@example.de").await;

    let sign_up = |email: &'static str| {
        app.post(
            "/api/auth/register",
            json!({ "email": email, "password": PASSWORD, "full_name": "Anna", "language": "en" }),
        )
    };
    let new = statements.of(sign_up("new@example.de")).await;
    assert!(new.contains(&"COMMIT".to_owned()), "{new:?}");
    for (case, email) in [
        ("unverified", "new@example.de"),
        ("verified, notice mailed", "verified@example.de"),
        ("verified, notice not due", "verified@example.de"),
    ] {
        let taken = statements.of(sign_up(email)).await;
        assert_eq!(taken, new, "sign-up for a {case} address");
    }
}
