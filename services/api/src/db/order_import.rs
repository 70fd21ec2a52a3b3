//! Orders imported from a channel, a page at a time in the page's transaction: upserted by
//! the channel's id, lines for new orders, one stock per SKU lowered by what new orders
//! sold, and the connection's high-water mark.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// An order as it will be stored: already within the table's constraints.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOrder {
    pub external_id: String,
    pub order_number: String,
    /// One of `routes::orders::STATUSES`.
    pub status: &'static str,
    pub currency: String,
    pub total_cents: i64,
    pub customer_name: String,
    pub customer_email: String,
    pub placed_at: DateTime<Utc>,
    /// When the channel last changed it.
    pub updated_at: DateTime<Utc>,
    pub lines: Vec<NewLine>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewLine {
    pub external_id: Option<String>,
    pub sku: String,
    pub title: String,
    pub quantity: i32,
    pub unit_price_cents: i64,
    pub total_cents: i64,
}

/// Where the orders come from.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub user_id: Uuid,
    pub connection_id: Uuid,
    /// `orders.channel`: the connection's platform.
    pub channel: &'a str,
}

/// What became of one order of the page.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Upserted {
    pub id: Uuid,
    pub external_id: String,
    /// Not stored before this page.
    pub created: bool,
    /// Stored before with other values, now updated.
    pub updated: bool,
    /// Before the page (`None` for a new order).
    pub old_status: Option<String>,
    pub status: String,
    pub old_total_cents: Option<i64>,
    pub total_cents: i64,
}

/// One SKU's stock lowered by what new orders sold.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Lowered {
    /// The product whose stock was lowered (the selling connection's where it has one; the
    /// merchant's other products with the SKU follow it by `products_one_stock`).
    pub product_id: Uuid,
    pub sku: String,
    pub external_id: Option<String>,
    pub old_stock: i32,
    pub stock: i32,
}

#[derive(Debug, Default)]
pub struct Imported {
    pub orders: Vec<Upserted>,
    pub lowered: Vec<Lowered>,
}

/// Orders whose sale does not take stock: nothing was or stays sold.
fn takes_stock(status: &str) -> bool {
    !matches!(status, "cancelled" | "refunded")
}

/// Upserts `orders` (unique external ids) of the source's connection, in set-based
/// statements: new ones with their lines, existing ones with their new status, total and
/// customer. With `lower_stock`, what the new orders (not cancelled or refunded) sold
/// lowers the merchant's stock of each SKU (never below 0).
pub async fn import_page(
    tx: &mut PgConnection,
    source: &Source<'_>,
    orders: &[NewOrder],
    lower_stock: bool,
) -> sqlx::Result<Imported> {
    if orders.is_empty() {
        return Ok(Imported::default());
    }
    let upserted = upsert_orders(tx, source, orders).await?;
    let created: std::collections::HashMap<&str, Uuid> = upserted
        .iter()
        .filter(|o| o.created)
        .map(|o| (o.external_id.as_str(), o.id))
        .collect();
    let new_orders: Vec<(Uuid, &NewOrder)> = orders
        .iter()
        .filter_map(|o| created.get(o.external_id.as_str()).map(|id| (*id, o)))
        .collect();
    insert_lines(tx, source, &new_orders).await?;
    let lowered = if lower_stock {
        let sold: Vec<&NewLine> = new_orders
            .iter()
            .filter(|(_, o)| takes_stock(o.status))
            .flat_map(|(_, o)| &o.lines)
            .filter(|l| !l.sku.is_empty())
            .collect();
        lower(tx, source, &sold).await?
    } else {
        Vec::new()
    };
    Ok(Imported {
        orders: upserted,
        lowered,
    })
}

async fn upsert_orders(
    tx: &mut PgConnection,
    source: &Source<'_>,
    orders: &[NewOrder],
) -> sqlx::Result<Vec<Upserted>> {
    let ids: Vec<Uuid> = orders.iter().map(|_| Uuid::now_v7()).collect();
    let column = |f: fn(&NewOrder) -> String| orders.iter().map(f).collect::<Vec<_>>();
    // One snapshot for the whole statement: `old` is the table before the upsert.
    sqlx::query_as(
        "WITH input AS (
             SELECT * FROM unnest($4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[],
                                  $9::int8[], $10::text[], $11::text[], $12::timestamptz[],
                                  $13::timestamptz[])
                 AS t(id, external_id, order_number, status, currency, total_cents,
                      customer_name, customer_email, placed_at, channel_updated_at)
         ),
         old AS (
             SELECT o.id, o.external_id, o.status, o.total_cents
               FROM orders o JOIN input i ON i.external_id = o.external_id
              WHERE o.connection_id = $2
         ),
         up AS (
             INSERT INTO orders (id, user_id, connection_id, channel, external_id, order_number,
                                 status, currency, total_cents, customer_name, customer_email,
                                 placed_at, channel_updated_at)
             SELECT id, $1, $2, $3, external_id, order_number, status, currency, total_cents,
                    customer_name, customer_email, placed_at, channel_updated_at
               FROM input
             ON CONFLICT (connection_id, external_id) DO UPDATE
                SET status = excluded.status, currency = excluded.currency,
                    total_cents = excluded.total_cents, customer_name = excluded.customer_name,
                    customer_email = excluded.customer_email,
                    channel_updated_at = excluded.channel_updated_at, updated_at = now()
              -- Only real changes, and never an older state over a newer one.
              WHERE (orders.status, orders.currency, orders.total_cents, orders.customer_name,
                     orders.customer_email, orders.channel_updated_at)
                    IS DISTINCT FROM
                    (excluded.status, excluded.currency, excluded.total_cents,
                     excluded.customer_name, excluded.customer_email, excluded.channel_updated_at)
                AND (orders.channel_updated_at IS NULL
                     OR orders.channel_updated_at <= excluded.channel_updated_at)
             RETURNING id, external_id
         )
         SELECT coalesce(up.id, old.id) AS id, i.external_id,
                old.id IS NULL AS created,
                old.id IS NOT NULL AND up.id IS NOT NULL AS updated,
                old.status AS old_status,
                -- An order left alone keeps its stored values.
                CASE WHEN up.id IS NULL THEN old.status ELSE i.status END AS status,
                old.total_cents AS old_total_cents,
                CASE WHEN up.id IS NULL THEN old.total_cents ELSE i.total_cents END AS total_cents
           FROM input i
           LEFT JOIN old ON old.external_id = i.external_id
           LEFT JOIN up ON up.external_id = i.external_id
          -- Neither: another transaction stored it meanwhile, as it is now.
          WHERE coalesce(up.id, old.id) IS NOT NULL",
    )
    .bind(source.user_id)
    .bind(source.connection_id)
    .bind(source.channel)
    .bind(&ids)
    .bind(column(|o| o.external_id.clone()))
    .bind(column(|o| o.order_number.clone()))
    .bind(column(|o| o.status.to_owned()))
    .bind(column(|o| o.currency.clone()))
    .bind(orders.iter().map(|o| o.total_cents).collect::<Vec<_>>())
    .bind(column(|o| o.customer_name.clone()))
    .bind(column(|o| o.customer_email.clone()))
    .bind(orders.iter().map(|o| o.placed_at).collect::<Vec<_>>())
    .bind(orders.iter().map(|o| o.updated_at).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await
}

/// The lines of new orders, each linked to the merchant's product with its SKU (this
/// connection's first, else any other), or to none.
async fn insert_lines(
    tx: &mut PgConnection,
    source: &Source<'_>,
    orders: &[(Uuid, &NewOrder)],
) -> sqlx::Result<()> {
    let lines: Vec<(Uuid, &NewLine)> = orders
        .iter()
        .flat_map(|(id, o)| o.lines.iter().map(move |l| (*id, l)))
        .collect();
    if lines.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO order_items (id, order_id, user_id, product_id, sku, title, quantity,
                                  unit_price_cents, total_cents, external_id)
         SELECT l.id, l.order_id, $1, p.id, l.sku, l.title, l.quantity, l.unit_price_cents,
                l.total_cents, l.external_id
           FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::int4[], $8::int8[],
                       $9::int8[], $10::text[])
                WITH ORDINALITY
                AS l(id, order_id, sku, title, quantity, unit_price_cents, total_cents,
                     external_id, n)
           LEFT JOIN LATERAL (
                SELECT p.id FROM products p
                 WHERE p.user_id = $1 AND p.sku = l.sku
                 ORDER BY p.connection_id IS NOT DISTINCT FROM $2 DESC, p.id
                 LIMIT 1) p ON true
          ORDER BY l.n",
    )
    .bind(source.user_id)
    .bind(source.connection_id)
    .bind(lines.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>())
    .bind(lines.iter().map(|(order, _)| *order).collect::<Vec<_>>())
    .bind(lines.iter().map(|(_, l)| l.sku.clone()).collect::<Vec<_>>())
    .bind(
        lines
            .iter()
            .map(|(_, l)| l.title.clone())
            .collect::<Vec<_>>(),
    )
    .bind(lines.iter().map(|(_, l)| l.quantity).collect::<Vec<_>>())
    .bind(
        lines
            .iter()
            .map(|(_, l)| l.unit_price_cents)
            .collect::<Vec<_>>(),
    )
    .bind(lines.iter().map(|(_, l)| l.total_cents).collect::<Vec<_>>())
    .bind(
        lines
            .iter()
            .map(|(_, l)| l.external_id.clone())
            .collect::<Vec<_>>(),
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Lowers each sold SKU's stock by the quantity sold, on one product per SKU: the selling
/// connection's (whose channel lowered its own stock already: its `channel_stock` follows),
/// else another of the merchant's (which becomes pending). The `products_one_stock`
/// trigger carries the new stock to the merchant's other products with the SKU and marks
/// the other connections' ones pending.
async fn lower(
    tx: &mut PgConnection,
    source: &Source<'_>,
    sold: &[&NewLine],
) -> sqlx::Result<Vec<Lowered>> {
    if sold.is_empty() {
        return Ok(Vec::new());
    }
    let skus: Vec<String> = sold.iter().map(|l| l.sku.clone()).collect();
    // Every row the trigger may touch, locked in one order: no deadlock with another
    // statement doing the same.
    sqlx::query(
        "SELECT 1 FROM products WHERE user_id = $1 AND sku = ANY($2) ORDER BY id FOR UPDATE",
    )
    .bind(source.user_id)
    .bind(&skus)
    .execute(&mut *tx)
    .await?;
    sqlx::query_as(
        "WITH sold AS (
             SELECT sku, sum(quantity) AS quantity
               FROM unnest($3::text[], $4::int4[]) AS s(sku, quantity) GROUP BY sku
         ),
         target AS (
             SELECT DISTINCT ON (p.sku) p.id, p.stock AS old_stock, s.quantity,
                    p.connection_id IS NOT DISTINCT FROM $2 AS own
               FROM products p JOIN sold s ON s.sku = p.sku
              WHERE p.user_id = $1
              ORDER BY p.sku, p.connection_id IS NOT DISTINCT FROM $2 DESC, p.id
         )
         UPDATE products p
            SET stock = greatest(p.stock - t.quantity, 0),
                channel_stock = CASE WHEN t.own THEN greatest(p.channel_stock - t.quantity, 0)
                                     ELSE p.channel_stock END,
                has_local_changes = p.has_local_changes
                                    OR (NOT t.own AND p.connection_id IS NOT NULL),
                push_error_code = CASE WHEN t.own THEN p.push_error_code END,
                push_error = CASE WHEN t.own THEN p.push_error END,
                updated_at = now()
           FROM target t
          WHERE p.id = t.id
         RETURNING p.id AS product_id, p.sku, p.external_id, t.old_stock, p.stock",
    )
    .bind(source.user_id)
    .bind(source.connection_id)
    .bind(&skus)
    .bind(sold.iter().map(|l| l.quantity).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await
}

/// Other connections of the merchant (not paused, disconnected or broken) with products
/// pending for the push: after an order lowered a shared stock, each gets a push job.
pub async fn connections_to_push(
    db: &mut PgConnection,
    user_id: Uuid,
    selling: Uuid,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT c.id FROM connections c
          WHERE c.user_id = $1 AND c.id <> $2 AND c.status IN ('pending', 'active')
            AND EXISTS (SELECT 1 FROM products p
                         WHERE p.connection_id = c.id AND p.has_local_changes
                           AND p.external_id IS NOT NULL AND p.push_error IS NULL
                           AND p.channel_state IS DISTINCT FROM 'removed')
          ORDER BY c.id",
    )
    .bind(user_id)
    .bind(selling)
    .fetch_all(db)
    .await
}

/// `connections.orders_synced_until` when the orders phase starts (`Ok(None)`: never
/// imported); `Err(RowNotFound)` when the connection is gone.
pub async fn synced_until(
    db: &mut PgConnection,
    user_id: Uuid,
    connection_id: Uuid,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar("SELECT orders_synced_until FROM connections WHERE id = $1 AND user_id = $2")
        .bind(connection_id)
        .bind(user_id)
        .fetch_one(db)
        .await
}

/// The pass is complete: the next incremental import starts at `seen_until` (never moves
/// back).
pub async fn finish(
    tx: &mut PgConnection,
    user_id: Uuid,
    connection_id: Uuid,
    seen_until: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE connections
            SET orders_synced_until = greatest(orders_synced_until, $3), updated_at = now()
          WHERE id = $1 AND user_id = $2",
    )
    .bind(connection_id)
    .bind(user_id)
    .bind(seen_until)
    .execute(tx)
    .await?;
    Ok(())
}
