//! The sync engine's core: the queue (claims, leases, retries), page commits, the ledger's
//! bound, the schedule, the workers, and a worker killed with `kill -9` mid-import.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use api::config::{Config, SyncSettings};
use api::state::AppState;
use api::sync::enqueue::{enqueue, Enqueued, NewJob};
use api::sync::ledger::{self, Entry};
use api::sync::run::{Lease, PageDone, RunContext};
use api::sync::{queue, schedule, Job, Kind, Mode, Origin, Phase, State, SyncError};
use clap::Parser;
use common::{Stack, KEY, SERVICE_TOKEN};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sm_connectors::ChannelError;
use sqlx::PgPool;
use uuid::Uuid;

/// The API service's state on `db`, as the tests' settings make it.
fn app_state(db: &PgPool, extra: &[&str]) -> AppState {
    let mut args = vec![
        "api",
        "--security-service-url",
        "http://127.0.0.1:9",
        "--service-token",
        SERVICE_TOKEN,
        "--credentials-keys",
        KEY,
        "--sync-max-attempts",
        "3",
        "--sync-retry-base-secs",
        "10",
    ];
    args.extend_from_slice(extra);
    api::state(&Config::try_parse_from(args).unwrap(), db.clone()).unwrap()
}

/// A connection of a new merchant, straight into the table; returns (user, connection).
async fn connection(db: &PgPool, status: &str) -> (Uuid, Uuid) {
    let (user, id) = (Uuid::now_v7(), Uuid::now_v7());
    let sealed = sm_crypto::Keyring::parse(KEY).unwrap().seal(
        br#"{"platform":"shopify","shop_domain":"mein-shop.myshopify.com","access_token":"shpat_0123456789abcdef0123456789abcdef"}"#,
        id.as_bytes(),
    );
    sqlx::query(
        "INSERT INTO connections (id, user_id, platform, shop_name, credentials_enc, credentials_hint, status)
         VALUES ($1, $2, 'shopify', 'Shop', $3, 'hint', $4)",
    )
    .bind(id)
    .bind(user)
    .bind(sealed)
    .bind(status)
    .execute(db)
    .await
    .unwrap();
    (user, id)
}

async fn job_for(
    db: &PgPool,
    settings: &SyncSettings,
    user: Uuid,
    connection: Uuid,
    kind: Kind,
) -> Job {
    let new = NewJob {
        user_id: user,
        connection_id: connection,
        kind,
        mode: Mode::Full,
        origin: Origin::Merchant,
    };
    let mut conn = db.acquire().await.unwrap();
    match enqueue(&mut conn, settings, &new).await.unwrap().unwrap() {
        Enqueued::Created(job) => job,
        other => panic!("expected a new job, got {other:?}"),
    }
}

async fn job(db: &PgPool, id: Uuid) -> Job {
    sqlx::query_as(&format!(
        "SELECT {} FROM sync_jobs WHERE id = $1",
        api::sync::job::COLUMNS
    ))
    .bind(id)
    .fetch_one(db)
    .await
    .unwrap()
}

/// Seconds from the database's now to `job.run_after`.
async fn due_in(db: &PgPool, id: Uuid) -> f64 {
    sqlx::query_scalar(
        "SELECT extract(epoch FROM run_after - now())::float8 FROM sync_jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_one(db)
    .await
    .unwrap()
}

fn lease(job: &Job) -> Lease {
    Lease {
        job_id: job.id,
        owner: job.lease_owner.expect("a running job has an owner"),
    }
}

const MINUTE: Duration = Duration::from_secs(60);

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn concurrent_claims_take_every_job_once_and_no_live_lease(db: PgPool) {
    let settings = app_state(&db, &[]).sync;
    let mut jobs = HashSet::new();
    for _ in 0..20 {
        let (user, conn) = connection(&db, "active").await;
        jobs.insert(job_for(&db, &settings, user, conn, Kind::Products).await.id);
    }
    // Sixteen workers race for twenty jobs, each claiming until the queue is empty.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let owner = Uuid::now_v7();
            let mut mine = Vec::new();
            while let Some(job) = queue::claim(&db, owner, MINUTE).await.unwrap() {
                assert_eq!(job.lease_owner, Some(owner));
                mine.push(job);
            }
            mine
        }));
    }
    let mut claimed: HashMap<Uuid, usize> = HashMap::new();
    for task in tasks {
        for job in task.await.unwrap() {
            assert_eq!(job.state, State::Running);
            assert_eq!(job.attempts, 1);
            assert!(job.started_at.is_some());
            *claimed.entry(job.id).or_default() += 1;
        }
    }
    assert_eq!(claimed.keys().copied().collect::<HashSet<_>>(), jobs);
    assert!(claimed.values().all(|n| *n == 1), "{claimed:?}");

    // Running jobs with live leases are nobody else's.
    assert!(queue::claim(&db, Uuid::now_v7(), MINUTE)
        .await
        .unwrap()
        .is_none());

    // A lease that ran out (its worker died) is taken over, and the old owner lost it.
    let dead = *jobs.iter().next().unwrap();
    let before = job(&db, dead).await;
    sqlx::query("UPDATE sync_jobs SET lease_until = now() - interval '1 second' WHERE id = $1")
        .bind(dead)
        .execute(&db)
        .await
        .unwrap();
    let heir = Uuid::now_v7();
    let taken = queue::claim(&db, heir, MINUTE).await.unwrap().unwrap();
    assert_eq!(
        (taken.id, taken.lease_owner, taken.attempts),
        (dead, Some(heir), 2)
    );
    assert_eq!(taken.started_at, before.started_at, "the first start stays");
    assert!(!queue::renew(&db, lease(&before), MINUTE).await.unwrap());
    assert!(queue::renew(&db, lease(&taken), MINUTE).await.unwrap());
    assert!(queue::claim(&db, Uuid::now_v7(), MINUTE)
        .await
        .unwrap()
        .is_none());
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn commit_page_moves_the_job_on_and_writes_nothing_once_the_lease_is_lost(db: PgPool) {
    let state = app_state(&db, &[]);
    let (user, conn) = connection(&db, "active").await;
    let queued = job_for(&db, &state.sync, user, conn, Kind::Products).await;
    let claimed = queue::claim(&db, Uuid::now_v7(), MINUTE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((claimed.id, claimed.phase), (queued.id, Phase::Products));
    let credentials: api::domain::credentials::Credentials = serde_json::from_str(
        r#"{"platform":"shopify","shop_domain":"mein-shop.myshopify.com","access_token":"shpat_0123456789abcdef0123456789abcdef"}"#,
    )
    .unwrap();
    let mut ctx = RunContext {
        channel: std::sync::Arc::new(api::channels::connect(&state, &credentials, false).unwrap()),
        state,
        lease: lease(&claimed),
        job: claimed,
        stock_buffer: 0,
        platform: sm_domain::Platform::Shopify,
        progressed: tokio::sync::watch::Sender::new(()),
    };
    let entry =
        |sku: &str| Entry::product("created", None, sku, Some(sku)).change("stock", Value::Null, 3);

    let tx = ctx.begin().await.unwrap();
    let page = PageDone {
        next: Some("page-2".to_owned()),
        items: 2,
        total: Some(3),
        ledger: vec![entry("a"), entry("b")],
        ..PageDone::default()
    };
    ctx.commit_page(tx, page).await.unwrap();
    assert_eq!(ctx.job.phase, Phase::Products);
    assert_eq!(ctx.job.cursor.as_deref(), Some("page-2"));
    assert_eq!(
        (ctx.job.items_done, ctx.job.phase_done, ctx.job.items_total),
        (2, 2, Some(3))
    );

    let tx = ctx.begin().await.unwrap();
    let page = PageDone {
        items: 1,
        failed: 1,
        ledger: vec![entry("c")],
        ..PageDone::default()
    };
    ctx.commit_page(tx, page).await.unwrap();
    assert_eq!(
        (ctx.job.phase, ctx.job.cursor.as_deref()),
        (Phase::Push, None)
    );
    // The push phase counts its own items, against a total not known yet.
    assert_eq!(
        (
            ctx.job.items_done,
            ctx.job.items_failed,
            ctx.job.phase_done,
            ctx.job.items_total
        ),
        (3, 1, 0, None)
    );
    assert_eq!(job(&db, ctx.job.id).await.items_done, 3);

    // Another worker took the job: the page (its writes, its ledger) is rolled back.
    sqlx::query("UPDATE sync_jobs SET lease_owner = $2 WHERE id = $1")
        .bind(ctx.job.id)
        .bind(Uuid::now_v7())
        .execute(&db)
        .await
        .unwrap();
    let mut tx = ctx.begin().await.unwrap();
    sqlx::query("UPDATE connections SET shop_name = 'written by a lost worker' WHERE id = $1")
        .bind(conn)
        .execute(&mut *tx)
        .await
        .unwrap();
    let page = PageDone {
        items: 5,
        ledger: vec![entry("d")],
        ..PageDone::default()
    };
    let lost = ctx.commit_page(tx, page).await.unwrap_err();
    assert!(matches!(lost, SyncError::LeaseLost), "{lost:?}");
    let stored = job(&db, ctx.job.id).await;
    assert_eq!((stored.items_done, stored.phase), (3, Phase::Push));
    let skus: Vec<String> =
        sqlx::query_scalar("SELECT sku FROM sync_ledger WHERE job_id = $1 ORDER BY id")
            .bind(ctx.job.id)
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(skus, ["a", "b", "c"]);
    let name: String = sqlx::query_scalar("SELECT shop_name FROM connections WHERE id = $1")
        .bind(conn)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(name, "Shop");
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn the_ledger_keeps_at_most_its_bound_per_job_and_counts_the_rest(db: PgPool) {
    let settings = app_state(&db, &[]).sync;
    let (user, conn) = connection(&db, "active").await;
    let job_id = job_for(&db, &settings, user, conn, Kind::Orders).await.id;
    let entries = |n: i32| -> Vec<Entry> {
        (0..n)
            .map(|i| Entry::order("imported", None, &format!("order-{i}")).answer("ok", "fine"))
            .collect()
    };
    let write = |n: i32| {
        let db = db.clone();
        let entries = entries(n);
        async move {
            let mut tx = db.begin().await.unwrap();
            ledger::write(&mut tx, job_id, user, &entries)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    };
    let counts = || async {
        let written: i64 = sqlx::query_scalar("SELECT count(*) FROM sync_ledger WHERE job_id = $1")
            .bind(job_id)
            .fetch_one(&db)
            .await
            .unwrap();
        (written, job(&db, job_id).await.ledger_omitted)
    };
    write(ledger::MAX_PER_JOB - 3).await;
    assert_eq!(counts().await, (i64::from(ledger::MAX_PER_JOB) - 3, 0));
    write(0).await;
    write(10).await;
    assert_eq!(counts().await, (i64::from(ledger::MAX_PER_JOB), 7));
    write(5).await;
    assert_eq!(counts().await, (i64::from(ledger::MAX_PER_JOB), 12));
    // Entries keep their order and their fields.
    let last: (String, String, String, Option<String>) = sqlx::query_as(
        "SELECT entity, action, external_id, channel_code FROM sync_ledger WHERE job_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(job_id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(
        last,
        (
            "order".into(),
            "imported".into(),
            "order-2".into(),
            Some("ok".into())
        )
    );
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_retryable_failure_backs_off_longer_each_time_then_fails_with_its_reason(db: PgPool) {
    let settings = app_state(&db, &[]).sync; // 3 attempts, 10 s base
    let (user, conn) = connection(&db, "active").await;
    let id = job_for(&db, &settings, user, conn, Kind::Both).await.id;
    let unavailable = SyncError::Channel(ChannelError::Unavailable {
        message: "503 from the shop".to_owned(),
    });
    for (attempt, plain) in [(1, 10.0), (2, 20.0)] {
        let claimed = queue::claim(&db, Uuid::now_v7(), MINUTE)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((claimed.id, claimed.attempts), (id, attempt));
        // Someone else's lease ends nothing.
        let stranger = Lease {
            job_id: id,
            owner: Uuid::now_v7(),
        };
        assert!(
            queue::retry_or_fail(&db, &settings, stranger, attempt, &unavailable)
                .await
                .unwrap()
                .is_none()
        );
        let retried = queue::retry_or_fail(&db, &settings, lease(&claimed), attempt, &unavailable)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(retried.state, State::Queued);
        assert_eq!((retried.lease_owner, retried.lease_until), (None, None));
        assert_eq!(retried.error_code.as_deref(), Some("channel_unavailable"));
        assert!(retried.completed_at.is_none());
        let wait = due_in(&db, id).await;
        assert!(
            wait > plain * 0.8 - 1.0 && wait <= plain * 1.2,
            "attempt {attempt}: {wait}"
        );
        // Not due yet: nobody takes it.
        assert!(queue::claim(&db, Uuid::now_v7(), MINUTE)
            .await
            .unwrap()
            .is_none());
        sqlx::query("UPDATE sync_jobs SET run_after = now() WHERE id = $1")
            .bind(id)
            .execute(&db)
            .await
            .unwrap();
    }
    let last = queue::claim(&db, Uuid::now_v7(), MINUTE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.attempts, 3);
    let failed = queue::retry_or_fail(&db, &settings, lease(&last), 3, &unavailable)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.state, State::Failed);
    assert!(failed.completed_at.is_some());
    assert_eq!(failed.error_code.as_deref(), Some("channel_unavailable"));
    assert!(failed
        .error
        .as_deref()
        .unwrap()
        .contains("503 from the shop"));
    assert!(queue::claim(&db, Uuid::now_v7(), MINUTE)
        .await
        .unwrap()
        .is_none());
    // The connection shows the reason, and still works otherwise.
    let (status, code): (String, Option<String>) =
        sqlx::query_as("SELECT status, last_error_code FROM connections WHERE id = $1")
            .bind(conn)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), code.as_deref()),
        ("active", Some("channel_unavailable"))
    );
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn refused_credentials_fail_at_once_and_put_the_connection_in_error(db: PgPool) {
    let settings = app_state(&db, &[]).sync;
    let (user, conn) = connection(&db, "active").await;
    job_for(&db, &settings, user, conn, Kind::Products).await;
    let claimed = queue::claim(&db, Uuid::now_v7(), MINUTE)
        .await
        .unwrap()
        .unwrap();
    let refused = SyncError::Channel(ChannelError::InvalidCredentials {
        message: "token revoked".to_owned(),
    });
    let failed = queue::retry_or_fail(&db, &settings, lease(&claimed), 1, &refused)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((failed.state, failed.attempts), (State::Failed, 1));
    assert_eq!(
        failed.error_code.as_deref(),
        Some("channel_credentials_invalid")
    );
    let (status, code): (String, Option<String>) =
        sqlx::query_as("SELECT status, last_error_code FROM connections WHERE id = $1")
            .bind(conn)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), code.as_deref()),
        ("error", Some("channel_credentials_invalid"))
    );
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn success_records_the_sync_and_pushes_changes_made_meanwhile(db: PgPool) {
    let settings = app_state(&db, &[]).sync;
    let (user, conn) = connection(&db, "error").await;
    job_for(&db, &settings, user, conn, Kind::Both).await;
    let claimed = queue::claim(&db, Uuid::now_v7(), MINUTE)
        .await
        .unwrap()
        .unwrap();
    // A local edit while the job runs, on a product the channel has.
    sqlx::query(
        "INSERT INTO products (id, user_id, connection_id, sku, title, price_cents, stock, external_id, has_local_changes)
         VALUES ($1, $2, $3, 'SKU-1', 'Tasse', 1999, 4, 'gid-1', true)",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(conn)
    .execute(&db)
    .await
    .unwrap();
    let stranger = Lease {
        job_id: claimed.id,
        owner: Uuid::now_v7(),
    };
    assert!(queue::succeed(&db, &settings, stranger)
        .await
        .unwrap()
        .is_none());
    let done = queue::succeed(&db, &settings, lease(&claimed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((done.state, done.phase), (State::Succeeded, Phase::Done));
    assert!(done.completed_at.is_some() && done.lease_owner.is_none());
    let (status, synced): (String, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("SELECT status, last_sync_at FROM connections WHERE id = $1")
            .bind(conn)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(status, "active");
    assert!(synced.is_some());
    let follow_up: (Kind, Origin, State) = sqlx::query_as(
        "SELECT kind, origin, state FROM sync_jobs WHERE connection_id = $1 AND id <> $2",
    )
    .bind(conn)
    .bind(claimed.id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(follow_up, (Kind::Push, Origin::Stock, State::Queued));

    // The push job succeeds with nothing changed since it started: no further job.
    sqlx::query("UPDATE products SET updated_at = now() - interval '1 hour'")
        .execute(&db)
        .await
        .unwrap();
    let push = queue::claim(&db, Uuid::now_v7(), MINUTE)
        .await
        .unwrap()
        .unwrap();
    queue::succeed(&db, &settings, lease(&push))
        .await
        .unwrap()
        .unwrap();
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM sync_jobs WHERE connection_id = $1")
        .bind(conn)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(jobs, 2);
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_released_job_is_taken_over_at_once_without_losing_an_attempt(db: PgPool) {
    let settings = app_state(&db, &[]).sync;
    let (user, conn) = connection(&db, "active").await;
    job_for(&db, &settings, user, conn, Kind::Products).await;
    let claimed = queue::claim(&db, Uuid::now_v7(), MINUTE)
        .await
        .unwrap()
        .unwrap();
    assert!(queue::claim(&db, Uuid::now_v7(), MINUTE)
        .await
        .unwrap()
        .is_none());
    assert!(queue::release(&db, lease(&claimed)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(5)).await;
    let heir = queue::claim(&db, Uuid::now_v7(), MINUTE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((heir.id, heir.attempts), (claimed.id, 1));
    assert!(!queue::release(&db, lease(&claimed)).await.unwrap());
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn the_schedule_enqueues_each_due_active_connection_once(db: PgPool) {
    let settings = app_state(&db, &[]).sync;
    let interval = Duration::from_secs(900);
    let (_, never) = connection(&db, "active").await;
    let (_, stale) = connection(&db, "active").await;
    let (_, fresh) = connection(&db, "active").await;
    let (_, pending) = connection(&db, "pending").await;
    let (busy_user, busy) = connection(&db, "active").await;
    sqlx::query("UPDATE connections SET last_sync_at = now() - interval '1 hour', orders_synced_until = now() - interval '2 hours' WHERE id = $1")
        .bind(stale)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("UPDATE connections SET last_sync_at = now() - interval '1 minute' WHERE id = $1")
        .bind(fresh)
        .execute(&db)
        .await
        .unwrap();
    let waiting = job_for(&db, &settings, busy_user, busy, Kind::Products).await;

    let ticks =
        futures::future::join_all((0..4).map(|_| schedule::tick(&db, &settings, interval))).await;
    let enqueued: u64 = ticks.into_iter().map(Result::unwrap).sum();
    assert_eq!(enqueued, 2);
    assert_eq!(schedule::tick(&db, &settings, interval).await.unwrap(), 0);

    let jobs: Vec<(Uuid, Kind, Mode, Origin, Phase, f64)> = sqlx::query_as(
        "SELECT connection_id, kind, mode, origin, phase,
                extract(epoch FROM now() - orders_since)::float8
           FROM sync_jobs WHERE origin = 'schedule' ORDER BY connection_id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let mut expected = vec![never, stale];
    expected.sort();
    assert_eq!(jobs.iter().map(|j| j.0).collect::<Vec<_>>(), expected);
    for (connection, kind, mode, origin, phase, since) in jobs {
        assert_eq!(
            (kind, mode, origin, phase),
            (
                Kind::Both,
                Mode::Incremental,
                Origin::Schedule,
                Phase::Orders
            )
        );
        let expected = if connection == stale {
            2.0 * 3600.0 + 600.0
        } else {
            90.0 * 86400.0
        };
        assert!((since - expected).abs() < 60.0, "{connection}: {since}");
    }
    assert_eq!(job(&db, waiting.id).await.kind, Kind::Products);
    let _ = (fresh, pending);
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn the_schedule_tries_a_failing_connection_once_per_interval(db: PgPool) {
    let settings = app_state(&db, &[]).sync;
    let interval = Duration::from_secs(900);
    let (user, conn) = connection(&db, "active").await;
    let failed = job_for(&db, &settings, user, conn, Kind::Both).await;
    sqlx::query("UPDATE sync_jobs SET state = 'failed', completed_at = now() WHERE id = $1")
        .bind(failed.id)
        .execute(&db)
        .await
        .unwrap();
    // Never synced, but its last job failed a moment ago: not again within the interval.
    assert_eq!(schedule::tick(&db, &settings, interval).await.unwrap(), 0);
    sqlx::query("UPDATE sync_jobs SET created_at = now() - interval '16 minutes' WHERE id = $1")
        .bind(failed.id)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(schedule::tick(&db, &settings, interval).await.unwrap(), 1);
    assert_eq!(schedule::tick(&db, &settings, interval).await.unwrap(), 0);
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_push_is_not_a_sync_for_the_schedule(db: PgPool) {
    let settings = app_state(&db, &[]).sync;
    let interval = Duration::from_secs(900);
    let (user, conn) = connection(&db, "active").await;
    sqlx::query("UPDATE connections SET last_sync_at = now() - interval '1 hour' WHERE id = $1")
        .bind(conn)
        .execute(&db)
        .await
        .unwrap();
    job_for(&db, &settings, user, conn, Kind::Push).await;
    let push = queue::claim(&db, Uuid::now_v7(), MINUTE)
        .await
        .unwrap()
        .unwrap();
    queue::succeed(&db, &settings, lease(&push))
        .await
        .unwrap()
        .unwrap();
    let since: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM now() - last_sync_at)::float8 FROM connections WHERE id = $1",
    )
    .bind(conn)
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(since > 3500.0, "the push recorded a sync: {since}");
    // The push made just now holds nothing back: the connection's pull is due.
    assert_eq!(schedule::tick(&db, &settings, interval).await.unwrap(), 1);
    let pull: (Kind, Origin) = sqlx::query_as(
        "SELECT kind, origin FROM sync_jobs WHERE connection_id = $1 AND state = 'queued'",
    )
    .bind(conn)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(pull, (Kind::Both, Origin::Schedule));
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn prune_deletes_old_finished_jobs_with_their_ledger_only(db: PgPool) {
    let settings = app_state(&db, &[]).sync;
    let mut jobs = Vec::new();
    // (state, days since it was made and finished)
    for (state, days) in [
        ("succeeded", 91),
        ("failed", 92),
        ("succeeded", 89),
        ("queued", 100),
    ] {
        let (user, conn) = connection(&db, "active").await;
        let job = job_for(&db, &settings, user, conn, Kind::Products).await;
        sqlx::query(
            "UPDATE sync_jobs
                SET state = $2, created_at = now() - make_interval(days => $3),
                    completed_at = CASE WHEN $2 = 'queued' THEN NULL
                                        ELSE now() - make_interval(days => $3) END
              WHERE id = $1",
        )
        .bind(job.id)
        .bind(state)
        .bind(days)
        .execute(&db)
        .await
        .unwrap();
        let mut tx = db.begin().await.unwrap();
        let entries = [
            Entry::order("imported", None, "o-1"),
            Entry::order("imported", None, "o-2"),
        ];
        ledger::write(&mut tx, job.id, user, &entries)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        jobs.push(job.id);
    }
    let retention = settings.log_retention;
    assert_eq!(retention, Duration::from_secs(90 * 86_400));
    assert_eq!(schedule::prune(&db, retention).await.unwrap(), 2);
    assert_eq!(schedule::prune(&db, retention).await.unwrap(), 0);
    let left: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM sync_jobs ORDER BY id")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(left, jobs[2..]);
    let ledgers: Vec<Uuid> =
        sqlx::query_scalar("SELECT DISTINCT job_id FROM sync_ledger ORDER BY job_id")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(ledgers, jobs[2..]);
}

/// Polls the job until `done` says so (at most `secs`).
async fn wait_for(db: &PgPool, id: Uuid, secs: u64, done: impl Fn(&Job) -> bool) -> Job {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let job = job(db, id).await;
        if done(&job) {
            return job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job never got there: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn workers_fail_a_job_whose_connection_cannot_be_reached_without_retrying(db: PgPool) {
    // No sandbox configured in this stack.
    let stack = Stack::spawn_with(db.clone(), &["--sync-workers", "2"]).await;
    let settings = app_state(&db, &[]).sync;
    let m = stack.onboarded("anna@example.com").await;
    let user: Uuid = m.user_id.parse().unwrap();
    let unreadable = stack
        .connection_fixture(&m, "shopify", "Kaputt", "a.myshopify.com", false)
        .await;
    sqlx::query(
        "UPDATE connections SET credentials_enc = '\\x00010203', status = 'active' WHERE id = $1",
    )
    .bind(unreadable)
    .execute(&db)
    .await
    .unwrap();
    let sandbox = stack
        .connection_fixture(&m, "shopify", "Sandkasten", "b.myshopify.com", true)
        .await;
    let first = job_for(&db, &settings, user, unreadable, Kind::Products).await;
    let second = job_for(&db, &settings, user, sandbox, Kind::Orders).await;

    let failed = wait_for(&db, first.id, 20, |j| j.state == State::Failed).await;
    assert_eq!(
        (failed.attempts, failed.error_code.as_deref()),
        (1, Some("credentials_unreadable"))
    );
    let failed = wait_for(&db, second.id, 20, |j| j.state == State::Failed).await;
    assert_eq!(
        (failed.attempts, failed.error_code.as_deref()),
        (1, Some("sandbox_unavailable"))
    );

    let res = stack
        .get(&m.access_token, &format!("/api/connections/{unreadable}"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["last_error_code"], "credentials_unreadable", "{body}");
}

/// A merchant with a sandbox Shopify connection; returns (token, user, connection).
async fn sandbox_shop(stack: &Stack) -> (String, Uuid, Uuid) {
    let m = stack.onboarded("anna@example.com").await;
    let id = sandbox_connection(stack, &m.access_token).await;
    (m.access_token, m.user_id.parse().unwrap(), id)
}

/// A new sandbox Shopify connection of the merchant (its own sandbox shop).
async fn sandbox_connection(stack: &Stack, token: &str) -> Uuid {
    let res = stack
        .post(
            token,
            "/api/connections",
            json!({ "platform": "shopify", "shop_name": "Sandbox", "sandbox": true }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["status"], "active", "{created}");
    created["id"].as_str().unwrap().parse().unwrap()
}

/// Sandbox shops with `products` articles, throttled so that a full import takes seconds.
async fn big_sandbox(products: usize) -> sm_sandbox::Running {
    let mut config = sm_sandbox::SandboxConfig::new(common::sandbox_secret());
    config.size = sm_sandbox::catalogue::CatalogueSize {
        products,
        orders: 10,
    };
    config.rate_scale = 50.0;
    sm_sandbox::spawn(config).await.unwrap()
}

/// Asks for a full products sync through the API.
async fn trigger_products(stack: &Stack, token: &str, connection: Uuid) -> Uuid {
    let res = stack
        .post(
            token,
            "/api/sync/trigger",
            json!({ "connection_id": connection, "kind": "products", "mode": "full" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let body: Value = res.json().await.unwrap();
    body["id"]
        .as_str()
        .or(body["job_id"].as_str())
        .unwrap()
        .parse()
        .unwrap()
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_stalled_attempt_times_out_and_is_retried(db: PgPool) {
    let running = common::sandbox().await;
    let mut args = common::sandbox_args(&running);
    args.extend(
        [
            "--sync-workers",
            "1",
            "--sync-stall-secs",
            "1",
            "--sync-retry-base-secs",
            "1",
        ]
        .map(str::to_owned),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let stack = Stack::spawn_with(db.clone(), &args).await;
    let (token, _, connection) = sandbox_shop(&stack).await;
    // The shop's next answer comes after 5 s: the attempt commits nothing for longer than
    // the stall allows.
    let res = stack
        .http
        .post(running.url.join("_sandbox/faults").unwrap())
        .json(&json!({ "vendor": "shopify", "fault": "timeout", "times": 1 }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let id = trigger_products(&stack, &token, connection).await;
    let stalled = wait_for(&db, id, 10, |j| j.error_code.is_some()).await;
    assert_eq!(
        (
            stalled.state,
            stalled.attempts,
            stalled.error_code.as_deref()
        ),
        (State::Queued, 1, Some("sync_timed_out"))
    );
    // The next attempt reads the shop at its usual pace and finishes the import.
    let done = wait_for(&db, id, 20, |j| {
        j.state != State::Queued && j.state != State::Running
    })
    .await;
    assert_eq!((done.state, done.attempts), (State::Succeeded, 2));
    assert_imported_once(&db, &done, connection, 20).await;
}

/// The import is whole and single: every article once, counted once, one ledger line each.
async fn assert_imported_once(db: &PgPool, job: &Job, connection: Uuid, products: i64) {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM products WHERE connection_id = $1")
        .bind(connection)
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(count, products);
    assert_eq!(i64::from(job.items_done), products, "{job:?}");
    let twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT external_id FROM sync_ledger WHERE job_id = $1
                                GROUP BY external_id, action HAVING count(*) > 1) t",
    )
    .bind(job.id)
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(twice, 0);
}

const CATALOGUE: usize = 3_000;

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_worker_killed_mid_import_loses_and_duplicates_nothing(db: PgPool) {
    let sandbox = big_sandbox(CATALOGUE).await;
    let stack = Stack::spawn_with(
        db.clone(),
        &common::sandbox_args(&sandbox)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
    .await;
    let (token, _, connection) = sandbox_shop(&stack).await;
    let mut first = stack.api_process(Some(&sandbox), &[]);
    let id = trigger_products(&stack, &token, connection).await;

    let running = wait_for(&db, id, 60, |j| j.items_done > 0).await;
    first.kill();
    assert_eq!(
        running.state,
        State::Running,
        "the import ended before the kill: {running:?}"
    );
    let at_kill = job(&db, id).await;
    assert!(at_kill.items_done < CATALOGUE as i32, "{at_kill:?}");

    let _second = stack.api_process(Some(&sandbox), &[]);
    let done = wait_for(&db, id, 120, |j| {
        matches!(j.state, State::Succeeded | State::Failed)
    })
    .await;
    assert_eq!(done.state, State::Succeeded, "{done:?}");
    assert!(done.attempts >= 2, "{done:?}");
    assert_imported_once(&db, &done, connection, CATALOGUE as i64).await;
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_stopped_worker_gives_its_job_back_and_another_resumes_it(db: PgPool) {
    let sandbox = big_sandbox(CATALOGUE).await;
    let mut args: Vec<String> = common::sandbox_args(&sandbox);
    args.extend(["--sync-workers", "1", "--sync-lease-secs", "60"].map(String::from));
    let mut stack = Stack::spawn_with(
        db.clone(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    let (token, _, connection) = sandbox_shop(&stack).await;
    let id = trigger_products(&stack, &token, connection).await;

    wait_for(&db, id, 60, |j| j.items_done > 0).await;
    stack.stop_workers().await;
    let given_back = job(&db, id).await;
    assert_eq!(given_back.state, State::Running, "{given_back:?}");
    assert!(
        given_back.lease_until.unwrap() <= chrono::Utc::now(),
        "{given_back:?}"
    );
    assert_eq!(given_back.attempts, 0, "a shutdown costs no attempt");

    // Another process takes it over at once, not after the 60 s lease.
    let _other = stack.api_process(Some(&sandbox), &[("SYNC_LEASE_SECS", "60")]);
    let done = wait_for(&db, id, 60, |j| j.state == State::Succeeded).await;
    assert_eq!(done.attempts, 1);
    assert_imported_once(&db, &done, connection, CATALOGUE as i64).await;
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn workers_in_two_processes_run_every_job_once(db: PgPool) {
    let sandbox = common::sandbox().await; // 20 products a shop
    let mut args: Vec<String> = common::sandbox_args(&sandbox);
    args.extend(["--sync-workers", "2"].map(String::from));
    let stack = Stack::spawn_with(
        db.clone(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    let _other = stack.api_process(
        Some(&sandbox),
        &[("SYNC_WORKERS", "2"), ("SYNC_LEASE_SECS", "10")],
    );
    // A merchant each: shops of one merchant share SKUs, and their imports push stock.
    let mut jobs = Vec::new();
    for i in 0..8 {
        let m = stack.onboarded(&format!("anna{i}@example.com")).await;
        let connection = sandbox_connection(&stack, &m.access_token).await;
        jobs.push((
            trigger_products(&stack, &m.access_token, connection).await,
            connection,
        ));
    }
    for (id, connection) in jobs {
        let done = wait_for(&db, id, 120, |j| {
            matches!(j.state, State::Succeeded | State::Failed)
        })
        .await;
        assert_eq!(
            (done.state, done.attempts),
            (State::Succeeded, 1),
            "{done:?}"
        );
        assert_imported_once(&db, &done, connection, 20).await;
    }
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_worker_that_loses_its_lease_stops_and_writes_nothing_more(db: PgPool) {
    let sandbox = big_sandbox(CATALOGUE).await;
    let mut args: Vec<String> = common::sandbox_args(&sandbox);
    args.extend(["--sync-workers", "1", "--sync-lease-secs", "3"].map(String::from));
    let stack = Stack::spawn_with(
        db.clone(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    let (token, _, connection) = sandbox_shop(&stack).await;
    let id = trigger_products(&stack, &token, connection).await;
    wait_for(&db, id, 60, |j| j.items_done > 0).await;

    // Another owner holds the job for a moment (as if the lease had run out and been taken).
    let stolen: Job = sqlx::query_as(&format!(
        "UPDATE sync_jobs SET lease_owner = $2, lease_until = now() + interval '3 seconds'
          WHERE id = $1 AND state = 'running' RETURNING {}",
        api::sync::job::COLUMNS
    ))
    .bind(id)
    .bind(Uuid::now_v7())
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(stolen.items_done < CATALOGUE as i32, "{stolen:?}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let meanwhile = job(&db, id).await;
    assert_eq!(
        (
            meanwhile.items_done,
            meanwhile.cursor.as_deref(),
            meanwhile.lease_owner
        ),
        (
            stolen.items_done,
            stolen.cursor.as_deref(),
            stolen.lease_owner
        ),
        "the old owner wrote after losing the lease"
    );

    // The stranger never comes back: the worker takes the job again and finishes it.
    let done = wait_for(&db, id, 120, |j| {
        matches!(j.state, State::Succeeded | State::Failed)
    })
    .await;
    assert_eq!(
        (done.state, done.attempts),
        (State::Succeeded, 2),
        "{done:?}"
    );
    assert_imported_once(&db, &done, connection, CATALOGUE as i64).await;
}
