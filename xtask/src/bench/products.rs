//! The API service's product list under load, beside the same query sent straight to
//! Postgres, over a seeded catalogue of 100,000 products across 21 merchants.

use anyhow::{anyhow, ensure, Context, Result};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use sqlx::{postgres::PgPoolOptions, types::Uuid, PgPool};

use super::{
    api::{self, Session},
    load::{self, Call, Window},
    memory,
    report::{Report, Row},
};

const CLIENTS: usize = 64;
const PAGE: i64 = 50;
const PRODUCTS: i64 = 100_000;
/// They own the nine tenths of the products that are not the bench user's.
const OTHER_MERCHANTS: i32 = 20;
/// The share of the database's own rate the endpoint should reach.
const GOAL: f64 = 0.5;

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
    // One connection per client: the database's best case for 64 clients. The API service
    // keeps its default pool (DB_MAX_CONNECTIONS, 16), so it is measured as it ships.
    let pool = PgPoolOptions::new()
        .max_connections(CLIENTS as u32)
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

    println!("==> the same query straight to Postgres, {CLIENTS} clients");
    let direct = load::run(CLIENTS, window, query(pool.clone(), session.user_id)).await;
    // Frees its connections before the API service opens its own.
    pool.close().await;

    println!("==> GET /api/products?limit={PAGE}, {CLIENTS} clients");
    memory::reset_peak(target.pid);
    let token = session.access_token.clone();
    let call = api::expect_ok(move |_| http.get(&url).bearer_auth(&token));
    let endpoint = load::run(CLIENTS, window, call).await;
    let name = format!("api products?limit={PAGE} ({CLIENTS} clients)");
    report
        .rows
        .push(Row::new(&name, &endpoint, memory::peak(target.pid)));
    let name = format!("postgres same query ({CLIENTS} clients)");
    report.rows.push(Row::new(&name, &direct, None));
    report.notes.push(format!(
        "api products reach {:.2}× of the database's rate for the same query (goal ≥ {GOAL}×)",
        endpoint.per_second() / direct.per_second()
    ));
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

/// The list query for `user` on a connection of `pool`; the page must be full.
fn query(pool: PgPool, user: Uuid) -> Call {
    Box::new(move |_| {
        let pool = pool.clone();
        Box::pin(async move {
            let rows = sqlx::query(LIST_SQL)
                .bind(user)
                .bind(PAGE + 1)
                .fetch_all(&pool)
                .await
                .map_err(|err| err.to_string())?;
            match rows.len() {
                n if n == PAGE as usize + 1 => Ok(()),
                n => Err(format!("the query read {n} rows")),
            }
        })
    })
}
