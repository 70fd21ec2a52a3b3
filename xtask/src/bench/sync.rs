//! The sync engine's full products import from the Shopify stand-in, through the api as a
//! merchant drives it (connect a sandbox shop, `POST /api/sync/trigger`, follow the job):
//! with throttling off at 10,000 and 100,000 products (products per second, and the api's
//! peak memory, which must not grow with the catalogue), then at Shopify's real cost
//! budget (the share of it used, and no THROTTLED answers: the connector paces itself).
//!
//! Every import gets fresh services: the api's peak RSS is that import's alone.

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use reqwest::{Client, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::{postgres::PgPoolOptions, types::Uuid};
use tokio::time::{sleep, Instant};

use super::{
    api::{self, Api, Session, User},
    memory,
    report::{Report, Row},
};
use crate::{
    platform::{Platform, Settings},
    postgres::Postgres,
};

/// Catalogue sizes imported with throttling off.
const SIZES: [usize; 2] = [10_000, 100_000];
/// The sandbox's rate scale for "throttling off": Shopify's 50 points a second times this
/// refills the 1,000-point bucket between any two pages.
const UNTHROTTLED: &str = "100000";
/// The catalogue imported at the real pace (rate scale 1: 50 points a second): a page of
/// 25 products costs about 330 points, so these take about a minute.
const BUDGET_PRODUCTS: usize = 300;
/// The goal for the unthrottled import on this machine's 2 cores.
const GOAL_PER_SECOND: f64 = 5_000.0;
/// The longest an import may take before the bench gives up on it.
const LIMIT: Duration = Duration::from_secs(900);

pub async fn scenarios(pg: &Postgres, report: &mut Report) -> Result<()> {
    let mut peaks = Vec::new();
    for products in SIZES {
        println!("==> sync: full import of {products} products, throttling off");
        let import = import(pg, products, UNTHROTTLED).await?;
        let name = format!("sync full import, {products} products, unthrottled (products/s)");
        report.rows.push(import.row(&name, products));
        report.notes.push(format!(
            "sync {products}: {:.0} products/s (goal ≥ {GOAL_PER_SECOND:.0}), {:.1} s, api peak \
             RSS {}",
            products as f64 / import.seconds,
            import.seconds,
            import.peak_rss_kib.map_or("n/a".to_owned(), |kib| format!(
                "{:.1} MiB",
                kib as f64 / 1024.0
            )),
        ));
        peaks.push(import.peak_rss_kib);
    }
    if let [Some(small), Some(large)] = peaks[..] {
        report.notes.push(format!(
            "sync: the api's peak RSS at {} products is {:.2}× that at {} (flat: ≈ 1×)",
            SIZES[1],
            large as f64 / small as f64,
            SIZES[0],
        ));
    }

    println!("==> sync: full import of {BUDGET_PRODUCTS} products at Shopify's real cost budget");
    let import = import(pg, BUDGET_PRODUCTS, "1").await?;
    let name =
        format!("sync full import, {BUDGET_PRODUCTS} products, real cost budget (products/s)");
    let mut row = import.row(&name, BUDGET_PRODUCTS);
    if import.usage.throttled > 0 {
        row.failures = Some((
            import.usage.throttled,
            "THROTTLED answers from the Shopify stand-in".to_owned(),
        ));
    }
    report.rows.push(row);
    report.notes.push(format!(
        "sync at the real cost budget: {:.0}% of the budget used ({} of {:.0} points in {:.1} \
         s), {} THROTTLED answers (goal 0)",
        import.usage.share() * 100.0,
        import.usage.spent,
        import.usage.available,
        import.seconds,
        import.usage.throttled,
    ));
    Ok(())
}

/// One import's figures.
struct Import {
    /// From the job's start to its completion, as the api recorded them.
    seconds: f64,
    peak_rss_kib: Option<u64>,
    usage: Budget,
}

impl Import {
    fn row(&self, name: &str, products: usize) -> Row {
        Row {
            scenario: name.to_owned(),
            per_second: products as f64 / self.seconds,
            p50_us: None,
            p99_us: None,
            peak_rss_kib: self.peak_rss_kib,
            failures: None,
        }
    }
}

/// The Shopify stand-in's cost bucket over an import.
struct Budget {
    /// Points the import's queries cost.
    spent: u64,
    /// Points the bucket could have given meanwhile: what it held at the start plus what
    /// it restored.
    available: f64,
    throttled: u64,
}

impl Budget {
    fn share(&self) -> f64 {
        self.spent as f64 / self.available
    }
}

/// `GET /_sandbox/shopify/{tenant}/usage`.
#[derive(Deserialize)]
struct Usage {
    spent_points: u64,
    throttled: u64,
    currently_available: f64,
    restore_rate: f64,
}

/// Fresh services with a sandbox of `products` products at `rate_scale`, a merchant with a
/// sandbox Shopify connection, and a full products import of it followed to its end.
async fn import(pg: &Postgres, products: usize, rate_scale: &str) -> Result<Import> {
    let catalogue = products.to_string();
    let settings = Settings {
        security: &[],
        // One worker, and no schedule adding jobs of its own.
        api: &[("SYNC_WORKERS", "1"), ("SYNC_INTERVAL_SECS", "0")],
        // The fault switch serves the usage read-out.
        sandbox: &[
            ("SANDBOX_PRODUCTS", &catalogue),
            ("SANDBOX_ORDERS", "0"),
            ("SANDBOX_RATE_SCALE", rate_scale),
            ("SANDBOX_FAULTS", "true"),
        ],
    };
    let mut platform = Platform::start(pg, "bench_sync", true, settings).await?;
    let result = async {
        platform.wait_ready().await?;
        let auth = Api::new(
            &platform.security_base,
            platform.outbox.path(),
            &platform.service_token,
        )?;
        let merchant = User::new(0);
        auth.sign_up_all(std::slice::from_ref(&merchant)).await?;
        let session = auth.log_in(&merchant).await?;
        api::sign_avv(&platform.api_base, &session.access_token).await?;
        let http = api::client()?;
        let connection = connect(&http, &platform.api_base, &session).await?;
        let usage_url = format!(
            "{}/_sandbox/shopify/{connection}/usage",
            platform.sandbox_base
        );

        let before = usage(&http, &usage_url).await?;
        let started = Instant::now();
        let job = trigger(&http, &platform.api_base, &session, connection).await?;
        follow(&http, &platform.api_base, &session, job).await?;
        let after = usage(&http, &usage_url).await?;
        let elapsed = started.elapsed().as_secs_f64();
        let peak_rss_kib = memory::peak(platform.api_pid);

        let seconds = check_import(&platform.api_database_url, job, connection, products).await?;
        Ok(Import {
            seconds,
            peak_rss_kib,
            usage: Budget {
                spent: after.spent_points - before.spent_points,
                available: before.currently_available + before.restore_rate * elapsed,
                throttled: after.throttled,
            },
        })
    }
    .await;
    platform.sup.shutdown().await;
    result
}

/// A sandbox Shopify connection of the merchant's; its id.
async fn connect(http: &Client, base: &str, session: &Session) -> Result<Uuid> {
    let response = http
        .post(format!("{base}/api/connections"))
        .bearer_auth(&session.access_token)
        .json(&json!({ "platform": "shopify", "sandbox": true }))
        .send()
        .await;
    let body = api::check(response, StatusCode::CREATED)
        .await
        .map_err(|err| anyhow::anyhow!("POST /api/connections: {err}"))?;
    let created: Value = serde_json::from_slice(&body)?;
    ensure!(
        created["status"] == "active",
        "the sandbox Shopify connection is not active: {created}"
    );
    created["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .context("POST /api/connections answered no id")
}

/// `POST /api/sync/trigger` for a full products import; the job's id.
async fn trigger(http: &Client, base: &str, session: &Session, connection: Uuid) -> Result<Uuid> {
    let response = http
        .post(format!("{base}/api/sync/trigger"))
        .bearer_auth(&session.access_token)
        .json(
            &json!({ "connection_id": connection.to_string(), "kind": "products", "mode": "full" }),
        )
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    // 202: a new job; 200: one already running for the connection (a sync on connect).
    ensure!(
        status == StatusCode::ACCEPTED || status == StatusCode::OK,
        "POST /api/sync/trigger: {status} {body}"
    );
    body["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .with_context(|| format!("POST /api/sync/trigger answered no job id: {body}"))
}

/// Polls `GET /api/sync/jobs/{id}` until the job succeeds; fails with its reason if it
/// fails, or after [`LIMIT`].
async fn follow(http: &Client, base: &str, session: &Session, job: Uuid) -> Result<()> {
    let deadline = Instant::now() + LIMIT;
    let url = format!("{base}/api/sync/jobs/{job}");
    let mut shown = Instant::now();
    loop {
        let response = http
            .get(&url)
            .bearer_auth(&session.access_token)
            .send()
            .await;
        let body = api::check(response, StatusCode::OK)
            .await
            .map_err(|err| anyhow::anyhow!("GET /api/sync/jobs/{job}: {err}"))?;
        let view: Value = serde_json::from_slice(&body)?;
        match view["state"].as_str() {
            Some("succeeded") => return Ok(()),
            Some("failed") => bail!("the sync job failed: {}", view["error"]),
            _ => {}
        }
        if shown.elapsed() >= Duration::from_secs(10) {
            println!(
                "    {} of {} items, phase {}, attempt {}",
                view["items_done"], view["items_total"], view["phase"], view["attempts"]
            );
            shown = Instant::now();
        }
        if Instant::now() >= deadline {
            bail!(
                "the sync job did not finish in {} s: {view}",
                LIMIT.as_secs()
            );
        }
        sleep(Duration::from_millis(100)).await;
    }
}

/// Checks that the connection has every product, and returns the job's run time in
/// seconds as the api recorded it (start to completion).
async fn check_import(
    database_url: &str,
    job: Uuid,
    connection: Uuid,
    products: usize,
) -> Result<f64> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(database_url)
        .await
        .context("connecting to the api's database")?;
    let imported: i64 =
        sqlx::query_scalar("SELECT count(*) FROM products WHERE connection_id = $1")
            .bind(connection)
            .fetch_one(&pool)
            .await?;
    let seconds: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM completed_at - started_at)::float8 FROM sync_jobs \
         WHERE id = $1",
    )
    .bind(job)
    .fetch_one(&pool)
    .await?;
    pool.close().await;
    ensure!(
        imported == products as i64,
        "the import left {imported} products of the {products} the sandbox shop has"
    );
    ensure!(seconds > 0.0, "the job recorded no run time");
    Ok(seconds)
}

async fn usage(http: &Client, url: &str) -> Result<Usage> {
    let response = http.get(url).send().await;
    let body = api::check(response, StatusCode::OK)
        .await
        .map_err(|err| anyhow::anyhow!("GET {url}: {err}"))?;
    Ok(serde_json::from_slice(&body)?)
}
