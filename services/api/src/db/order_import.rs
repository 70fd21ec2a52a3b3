//! Orders imported from a channel, a page at a time in the page's transaction: upserted by
//! the channel's id, lines for new orders, one stock per SKU lowered by what new orders
//! sold and raised by what cancelled or refunded ones give back, and the connection's
//! high-water mark.

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

/// One SKU's stock lowered by what new orders sold, or raised by what cancelled or refunded
/// ones gave back.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StockMove {
    /// The product whose stock was changed (the selling connection's where it has one; the
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
    pub lowered: Vec<StockMove>,
    pub returned: Vec<StockMove>,
}

impl Imported {
    /// The page changed the merchant's stock: other channels may have products to push.
    pub fn moved_stock(&self) -> bool {
        !self.lowered.is_empty() || !self.returned.is_empty()
    }
}

/// Orders whose sale does not take stock: nothing was or stays sold.
fn takes_stock(status: &str) -> bool {
    !matches!(status, "cancelled" | "refunded")
}

/// Upserts `orders` (unique external ids) of the source's connection, in set-based
/// statements: new ones with their lines, existing ones with their new status, total and
/// customer. With `stock_from` (the connection's first import is complete), what the new
/// orders placed since then (not cancelled or refunded) sold lowers the merchant's stock of
/// each SKU (never below 0), and an order that took stock and is now cancelled or refunded
/// gives its lines back.
pub async fn import_page(
    tx: &mut PgConnection,
    source: &Source<'_>,
    orders: &[NewOrder],
    stock_from: Option<DateTime<Utc>>,
) -> sqlx::Result<Imported> {
    if orders.is_empty() {
        return Ok(Imported::default());
    }
    let upserted = upsert_orders(tx, source, orders).await?;
    let changed: Vec<Uuid> = upserted
        .iter()
        .filter(|o| o.updated)
        .map(|o| o.id)
        .collect();
    if stock_from.is_some() {
        lock_stock(tx, source, orders, &changed).await?;
    }
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
    let Some(from) = stock_from else {
        return Ok(Imported {
            orders: upserted,
            ..Imported::default()
        });
    };
    // Placed before the first import started: history the channel's stock already shows,
    // though this import is the first to see it (changed long after it was placed).
    let selling: Vec<&(Uuid, &NewOrder)> = new_orders
        .iter()
        .filter(|(_, o)| takes_stock(o.status) && o.placed_at >= from)
        .collect();
    let sold: Vec<&NewLine> = selling
        .iter()
        .flat_map(|(_, o)| &o.lines)
        .filter(|l| !l.sku.is_empty())
        .collect();
    let lowered = lower(tx, source, &sold).await?;
    let taken: Vec<Uuid> = selling.iter().map(|(id, _)| *id).collect();
    mark_taken(tx, &taken).await?;
    let returned = give_back(tx, source, &changed).await?;
    Ok(Imported {
        orders: upserted,
        lowered,
        returned,
    })
}

/// Locks, in id order, every product whose stock the page may change (the SKUs of its
/// lines and of the stored lines of its changed orders), before the lines are inserted:
/// their foreign keys would take KEY SHARE locks on the linked products in page order,
/// and two imports of one merchant upgrading those to the stock update could deadlock.
async fn lock_stock(
    tx: &mut PgConnection,
    source: &Source<'_>,
    orders: &[NewOrder],
    changed: &[Uuid],
) -> sqlx::Result<()> {
    let skus: Vec<String> = orders
        .iter()
        .flat_map(|o| &o.lines)
        .map(|l| l.sku.clone())
        .collect();
    sqlx::query(
        "SELECT 1 FROM products
          WHERE user_id = $1
            AND sku IN (SELECT unnest($2::text[])
                        UNION
                        SELECT i.sku FROM order_items i JOIN orders o ON o.id = i.order_id
                         WHERE o.user_id = $1 AND o.id = ANY($3) AND o.stock_taken)
          ORDER BY id FOR UPDATE",
    )
    .bind(source.user_id)
    .bind(&skus)
    .bind(changed)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The orders whose lines this import took from the stock.
async fn mark_taken(tx: &mut PgConnection, orders: &[Uuid]) -> sqlx::Result<()> {
    if orders.is_empty() {
        return Ok(());
    }
    sqlx::query("UPDATE orders SET stock_taken = true WHERE id = ANY($1)")
        .bind(orders)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Gives back the stock of the `changed` orders that took some and are now cancelled or
/// refunded (each once: `stock_taken` is cleared), on one product per SKU chosen as
/// [`lower`] does; `products_one_stock` carries it to the merchant's other products.
///
/// The selling connection's `channel_stock` is left as it is, so its product becomes
/// pending too: whether the channel restocked on the cancellation is the merchant's choice
/// there (Shopify asks), and pushing the one stock makes the listing right either way.
async fn give_back(
    tx: &mut PgConnection,
    source: &Source<'_>,
    changed: &[Uuid],
) -> sqlx::Result<Vec<StockMove>> {
    if changed.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "WITH back AS (
             UPDATE orders SET stock_taken = false
              WHERE user_id = $1 AND connection_id = $2 AND id = ANY($3) AND stock_taken
                AND status IN ('cancelled', 'refunded')
             RETURNING id
         ),
         returned AS (
             SELECT i.sku, sum(i.quantity) AS quantity
               FROM order_items i JOIN back b ON b.id = i.order_id
              WHERE i.sku <> '' GROUP BY i.sku
         ),
         target AS (
             SELECT DISTINCT ON (p.sku) p.id, p.stock AS old_stock, r.quantity
               FROM products p JOIN returned r ON r.sku = p.sku
              WHERE p.user_id = $1
              ORDER BY p.sku, p.connection_id IS NOT DISTINCT FROM $2 DESC, p.id
         )
         UPDATE products p
            SET stock = least(p.stock + t.quantity, 2147483647)::int4,
                has_local_changes = p.has_local_changes OR p.connection_id IS NOT NULL,
                push_error_code = NULL, push_error = NULL, updated_at = now()
           FROM target t
          WHERE p.id = t.id
         RETURNING p.id AS product_id, p.sku, p.external_id, t.old_stock, p.stock",
    )
    .bind(source.user_id)
    .bind(source.connection_id)
    .bind(changed)
    .fetch_all(&mut *tx)
    .await
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
/// the other connections' ones pending. The rows are locked already ([`lock_stock`]).
async fn lower(
    tx: &mut PgConnection,
    source: &Source<'_>,
    sold: &[&NewLine],
) -> sqlx::Result<Vec<StockMove>> {
    if sold.is_empty() {
        return Ok(Vec::new());
    }
    let skus: Vec<String> = sold.iter().map(|l| l.sku.clone()).collect();
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

/// Locks the merchant's waiting and running sync jobs in id order, before a page's
/// transaction enqueues pushes for other connections: two connections' imports each
/// enqueueing for the other (and then updating their own job) would otherwise lock the
/// two job rows in opposite orders.
pub async fn lock_jobs(tx: &mut PgConnection, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "SELECT 1 FROM sync_jobs WHERE user_id = $1 AND state IN ('queued', 'running')
          ORDER BY id FOR UPDATE",
    )
    .bind(user_id)
    .execute(tx)
    .await?;
    Ok(())
}

/// `connections.orders_stock_from` when the orders phase starts (`Ok(None)`: no import
/// completed yet, so no order lowers the stock); `Err(RowNotFound)` when the connection is
/// gone.
pub async fn stock_from(
    db: &mut PgConnection,
    user_id: Uuid,
    connection_id: Uuid,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar("SELECT orders_stock_from FROM connections WHERE id = $1 AND user_id = $2")
        .bind(connection_id)
        .bind(user_id)
        .fetch_one(db)
        .await
}

/// The pass is complete: the next incremental import starts at `seen_until` (never moves
/// back); the first completed pass also fixes `orders_stock_from` at `started_at`, when it
/// began (orders placed later may not have been read by it, and are sales).
pub async fn finish(
    tx: &mut PgConnection,
    user_id: Uuid,
    connection_id: Uuid,
    seen_until: DateTime<Utc>,
    started_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE connections
            SET orders_synced_until = greatest(orders_synced_until, $3),
                -- Channels tell times to the second (Shopify): an order placed in the
                -- second the import began counts as a sale (had it been read, it would not
                -- be new).
                orders_stock_from = coalesce(orders_stock_from, date_trunc('second', $4)),
                updated_at = now()
          WHERE id = $1 AND user_id = $2",
    )
    .bind(connection_id)
    .bind(user_id)
    .bind(seen_until)
    .bind(started_at)
    .execute(tx)
    .await?;
    Ok(())
}
