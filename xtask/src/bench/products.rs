//! The API service's product list under load, beside the same query sent straight to
//! Postgres by pgbench, over a seeded catalogue of 100,000 products across 21 merchants.

use anyhow::{anyhow, ensure, Context, Result};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use sqlx::{postgres::PgPoolOptions, types::Uuid, PgPool};

use super::{
    api::{self, Session},
    load::{self, Window},
    memory, pgbench,
    report::{Report, Row},
    wrk,
};

const CLIENTS: usize = 64;
/// pgbench's connections: enough to keep both cores busy, the rate Postgres peaks at here.
const PGBENCH_CLIENTS: usize = 16;
const PAGE: i64 = 50;
const PRODUCTS: i64 = 100_000;
/// They own the nine tenths of the products that are not the bench user's.
const OTHER_MERCHANTS: i32 = 20;
/// The share of the database's own rate the endpoint should reach.
const GOAL: f64 = 0.5;
/// The endpoint's p99 latency goal at 64 clients, in milliseconds.
const P99_GOAL_MS: f64 = 25.0;

/// What `db::products::list` in the API service sends for a first page in the default
/// order, with `$2` = the page size + 1 (to tell whether another page follows).
const LIST_SQL: &str = "SELECT id, connection_id, sku, title, description, price_cents, \
     currency, stock, images, synced_at, has_local_changes, created_at, updated_at \
     FROM products WHERE user_id = $1 ORDER BY id DESC LIMIT $2";

/// The API service as the bench started it.
pub struct Target {
    pub base: String,
    pub pid: u32,
    pub database_url: String,
}

/// Seeds the catalogue, then measures the query straight against Postgres and the endpoint.
pub async fn scenarios(
    target: &Target,
    session: &Session,
    window: Window,
    report: &mut Report,
) -> Result<()> {
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&target.database_url)
        .await
        .context("connecting to the API service's database")?;
    println!(
        "==> seeding {PRODUCTS} products, a tenth of them the bench user's, the rest \
         {OTHER_MERCHANTS} other merchants'"
    );
    sqlx::query(include_str!("products.sql"))
        .bind(session.user_id)
        .bind(PRODUCTS)
        .bind(OTHER_MERCHANTS)
        .execute(&pool)
        .await
        .context("seeding products")?;
    sqlx::query("ANALYZE products").execute(&pool).await?;
    let http = api::client()?;
    let url = format!("{}/api/products?limit={PAGE}", target.base);
    same_page(&http, &url, session, &pool).await?;

    pool.close().await;

    // The database's ceiling: the endpoint's query as a prepared statement, from pgbench
    // (a client of its own in C; measured with sqlx clients it reads less than half of it).
    println!("==> the same query from pgbench, {PGBENCH_CLIENTS} connections");
    let sql = LIST_SQL.replace("$1", ":user_id").replace("$2", ":page");
    let vars = [
        ("user_id", session.user_id.to_string()),
        ("page", (PAGE + 1).to_string()),
    ];
    let direct = pgbench::run(&target.database_url, &sql, &vars, PGBENCH_CLIENTS, window).await?;

    println!("==> GET /api/products?limit={PAGE}, {CLIENTS} clients");
    memory::reset_peak(target.pid);
    let token = session.access_token.clone();
    let name = format!("api products?limit={PAGE} ({CLIENTS} clients)");
    let endpoint = if wrk::installed().await {
        let header = format!("Authorization: Bearer {token}");
        let measured = wrk::get(&url, &header, CLIENTS, window).await?;
        Row::measured(&name, &measured, memory::peak(target.pid))
    } else {
        report.notes.push(
            "wrk is not installed (apt-get install wrk): the endpoint was loaded from this \
             process, which takes CPU from the server and lowers its numbers"
                .to_owned(),
        );
        let call = api::expect_ok(move |_| http.get(&url).bearer_auth(&token));
        let stats = load::run(CLIENTS, window, call).await;
        Row::new(&name, &stats, memory::peak(target.pid))
    };
    report.notes.push(format!(
        "api products reach {:.2}× of pgbench's rate for the same query (goal ≥ {GOAL}×); \
         p99 {:.1} ms (goal < {P99_GOAL_MS} ms)",
        endpoint.per_second / direct.per_second(),
        endpoint.p99_us.unwrap_or_default() as f64 / 1000.0,
    ));
    report.rows.push(endpoint);
    let name = format!("pgbench same query ({PGBENCH_CLIENTS} connections)");
    report.rows.push(Row::new(&name, &direct, None));
    Ok(())
}

/// Checks that the endpoint answers the page the query reads, so both measure the same work.
async fn same_page(http: &Client, url: &str, session: &Session, pool: &PgPool) -> Result<()> {
    let response = http
        .get(url)
        .bearer_auth(&session.access_token)
        .send()
        .await;
    let body = api::check(response, StatusCode::OK)
        .await
        .map_err(|err| anyhow!("GET {url}: {err}"))?;
    let page: Value = serde_json::from_slice(&body)?;
    let served: Vec<Uuid> = page["items"]
        .as_array()
        .context("the product page has no items")?
        .iter()
        .filter_map(|item| item["id"].as_str()?.parse().ok())
        .collect();
    // The first column is the id.
    let read: Vec<Uuid> = sqlx::query_scalar(LIST_SQL)
        .bind(session.user_id)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
    ensure!(
        read.len() == PAGE as usize && served == read,
        "GET {url} did not answer the bench user's {PAGE} newest products"
    );
    Ok(())
}
