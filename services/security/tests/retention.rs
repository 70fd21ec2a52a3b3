//! Rows that only accumulate are pruned past their retention, and nothing else is.

mod common;

use std::time::Duration;

use security::config::RetentionConfig;
use security::db::retention::{prune, Pruned};
use sqlx::PgPool;
use uuid::Uuid;

fn retention() -> RetentionConfig {
    RetentionConfig {
        prune_interval_secs: 3600,
        session_retention_days: 30,
        login_state_retention_hours: 48,
        security_event_retention_days: 180,
        mail_outbox_retention_days: 7,
    }
}

async fn exec(db: &PgPool, sql: &str) {
    sqlx::raw_sql(sql).execute(db).await.unwrap();
}

async fn count(db: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(db)
        .await
        .unwrap()
}

/// Rows on both sides of every retention; the names say which should go.
async fn seed(db: &PgPool) {
    let user = Uuid::now_v7();
    exec(db, &format!(
        "INSERT INTO users (id, email, password_hash, full_name) VALUES ('{user}', 'a@example.de', 'x', 'A');

         INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at) VALUES
           ('00000000-0000-0000-0000-000000000001', '{user}', now() - interval '90 days', now() - interval '31 days', NULL),
           ('00000000-0000-0000-0000-000000000002', '{user}', now() - interval '40 days', now() - interval '10 days', now() - interval '31 days'),
           ('00000000-0000-0000-0000-000000000003', '{user}', now() - interval '20 days', now() + interval '10 days', now() - interval '29 days'),
           ('00000000-0000-0000-0000-000000000004', '{user}', now() - interval '60 days', now() - interval '29 days', NULL),
           ('00000000-0000-0000-0000-000000000005', '{user}', now() - interval '60 days', now() + interval '1 day', NULL);
         INSERT INTO refresh_tokens (token_hash, session_id, created_at, used_at) VALUES
           ('\\x01', '00000000-0000-0000-0000-000000000001', now() - interval '40 days', NULL),
           ('\\x05', '00000000-0000-0000-0000-000000000005', now() - interval '40 days', now() - interval '31 days'),
           ('\\x06', '00000000-0000-0000-0000-000000000005', now() - interval '40 days', now() - interval '29 days'),
           ('\\x07', '00000000-0000-0000-0000-000000000005', now() - interval '40 days', NULL),
           ('\\x08', '00000000-0000-0000-0000-000000000003', now() - interval '40 days', now() - interval '31 days'),
           ('\\x09', '00000000-0000-0000-0000-000000000004', now() - interval '40 days', now() - interval '31 days'),
           ('\\x0a', '00000000-0000-0000-0000-000000000004', now() - interval '40 days', now() - interval '29 days');

         INSERT INTO login_tickets (ticket_hash, user_id, method, expires_at) VALUES
           ('\\x01', '{user}', 'email', now() - interval '49 hours'),
           ('\\x02', '{user}', 'email', now() - interval '47 hours'),
           ('\\x03', '{user}', 'email', now() + interval '5 minutes');
         INSERT INTO login_throttle (key_hash, failures, last_failure_at, locked_until) VALUES
           ('\\x01', 3, now() - interval '49 hours', now() - interval '48 hours'),
           ('\\x02', 3, now() - interval '47 hours', NULL),
           ('\\x03', 9, now() - interval '49 hours', now() + interval '1 hour');
         INSERT INTO attempt_budgets (key_hash, window_start, attempts) VALUES
           ('\\x01', now() - interval '49 hours', 5),
           ('\\x02', now() - interval '23 hours', 5);

         INSERT INTO security_events (id, user_id, kind, created_at) VALUES
           (gen_random_uuid(), '{user}', 'old', now() - interval '181 days'),
           (gen_random_uuid(), '{user}', 'recent', now() - interval '179 days');

         INSERT INTO mail_outbox (id, kind, recipient, subject, body, budgeted, status, created_at, finished_at) VALUES
           (gen_random_uuid(), 'k', 'a@example.de', 's', NULL, false, 'sent', now() - interval '8 days', now() - interval '8 days'),
           (gen_random_uuid(), 'k', 'a@example.de', 's', NULL, false, 'dropped', now() - interval '8 days', now() - interval '8 days'),
           (gen_random_uuid(), 'k', 'a@example.de', 's', NULL, false, 'failed', now() - interval '6 days', now() - interval '6 days'),
           (gen_random_uuid(), 'k', 'a@example.de', 's', 'b', false, 'pending', now() - interval '8 days', NULL);"
    ))
    .await;
}

#[sqlx::test]
async fn prune_removes_only_what_is_past_its_retention(db: PgPool) {
    seed(&db).await;
    let pruned = prune(&db, &retention()).await.unwrap();
    assert_eq!(
        pruned,
        Pruned {
            // expired 31 days ago; revoked 31 days ago (though it would expire later)
            sessions: 2,
            // those used 31 days ago in a revoked and an expired session that are kept (those
            // of pruned sessions cascade); never one of a live session, however old
            refresh_tokens: 2,
            login_tickets: 1,
            // the one idle for 49 hours; not the one still locked
            login_throttle: 1,
            attempt_budgets: 1,
            security_events: 1,
            mail_outbox: 2,
        }
    );
    let sessions: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM sessions ORDER BY id")
        .fetch_all(&db)
        .await
        .unwrap();
    let kept: Vec<Uuid> = [3, 4, 5].map(Uuid::from_u128).to_vec();
    assert_eq!(sessions, kept);
    let tokens: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT token_hash FROM refresh_tokens ORDER BY token_hash")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(tokens, [vec![5], vec![6], vec![7], vec![10]]);
    let statuses: Vec<String> =
        sqlx::query_scalar("SELECT status FROM mail_outbox ORDER BY status")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(statuses, ["failed", "pending"]);
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM security_events")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(kinds, ["recent"]);
    assert_eq!(count(&db, "login_tickets").await, 2);
    assert_eq!(count(&db, "login_throttle").await, 2);
    assert_eq!(count(&db, "attempt_budgets").await, 1);

    // A second run finds nothing more.
    assert_eq!(prune(&db, &retention()).await.unwrap().total(), 0);
}

#[sqlx::test]
async fn an_old_refresh_token_replayed_after_pruning_still_ends_its_live_session(db: PgPool) {
    let app = common::TestApp::spawn(db.clone()).await;
    let first = app.signed_in("anna@example.de").await;
    let res = app.refresh(&first.refresh).await;
    let second = common::tokens(common::expect(res, reqwest::StatusCode::OK).await).await;
    // The first token was used long ago (a session may live longer than the retention).
    exec(
        &db,
        "UPDATE refresh_tokens SET used_at = now() - interval '2 days' WHERE used_at IS NOT NULL",
    )
    .await;
    let keep = RetentionConfig {
        session_retention_days: 1,
        ..retention()
    };
    prune(&db, &keep).await.unwrap();

    // Replaying it is still recognised: it ends the session, so its successor is refused too.
    let res = app.refresh(&first.refresh).await;
    assert_eq!(res.status(), reqwest::StatusCode::UNAUTHORIZED);
    let res = app.refresh(&second.refresh).await;
    assert_eq!(res.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(app.introspect(&second.access).await["active"], false);
}

#[sqlx::test]
async fn the_running_service_prunes_on_its_schedule(db: PgPool) {
    seed(&db).await;
    let _app = common::TestApp::spawn_with(db.clone(), &["--prune-interval-secs=1"]).await;
    for _ in 0..100 {
        if count(&db, "security_events").await == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the old security event was not pruned");
}
