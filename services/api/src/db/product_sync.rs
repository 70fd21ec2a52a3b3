//! The products pull's SQL: a page of channel units read against what the connection has,
//! then written with a few set-based statements (column arrays, `unnest`), all in the
//! page's transaction.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// A product of the connection that a page's unit may be (same external id, or same SKU).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Known {
    pub id: Uuid,
    pub external_id: Option<String>,
    pub sku: String,
    pub title: String,
    pub description: String,
    pub images: Vec<String>,
    pub price_cents: i64,
    pub currency: String,
    pub stock: i32,
    pub has_local_changes: bool,
    pub channel_price_cents: Option<i64>,
    pub channel_content_sha: Option<Vec<u8>>,
    pub channel_state: Option<String>,
}

/// Locks, in id order, every product the page may write or the one-stock trigger may
/// touch: the connection's products with one of `external_ids`, and the merchant's
/// products (any connection) with one of `skus`. One statement in the lock order of the
/// order import's stock lowering, so the two never deadlock, and an order cannot lower a
/// SKU's stock between [`merchant_stock`] reading it and the page adopting it (a sold
/// unit would come back). A local edit waits for the page instead of being overwritten.
pub async fn lock(
    tx: &mut PgConnection,
    user_id: Uuid,
    connection_id: Uuid,
    external_ids: &[&str],
    skus: &[&str],
) -> sqlx::Result<()> {
    sqlx::query(
        "SELECT 1 FROM products
          WHERE user_id = $1
            AND (sku = ANY($4::text[]) OR (connection_id = $2 AND external_id = ANY($3::text[])))
          ORDER BY id
            FOR UPDATE",
    )
    .bind(user_id)
    .bind(connection_id)
    .bind(external_ids)
    .bind(skus)
    .execute(tx)
    .await?;
    Ok(())
}

/// The connection's products with one of `external_ids` or `skus` (locked by [`lock`]).
pub async fn known(
    tx: &mut PgConnection,
    user_id: Uuid,
    connection_id: Uuid,
    external_ids: &[&str],
    skus: &[&str],
) -> sqlx::Result<Vec<Known>> {
    sqlx::query_as(
        "SELECT id, external_id, sku, title, description, images, price_cents, currency, stock,
                has_local_changes, channel_price_cents, channel_content_sha, channel_state
           FROM products
          WHERE user_id = $1 AND connection_id = $2
            AND (external_id = ANY($3::text[]) OR sku = ANY($4::text[]))
          ORDER BY id",
    )
    .bind(user_id)
    .bind(connection_id)
    .bind(external_ids)
    .bind(skus)
    .fetch_all(tx)
    .await
}

/// The merchant's stock of each of `skus` held by a product outside the connection (one
/// stock per SKU: a new channel product adopts it). Read under [`lock`].
pub async fn merchant_stock(
    tx: &mut PgConnection,
    user_id: Uuid,
    connection_id: Uuid,
    skus: &[&str],
) -> sqlx::Result<Vec<(String, i32)>> {
    sqlx::query_as(
        "SELECT DISTINCT ON (sku) sku, stock
           FROM products
          WHERE user_id = $1 AND sku = ANY($2::text[]) AND connection_id IS DISTINCT FROM $3
          ORDER BY sku, updated_at DESC, id DESC",
    )
    .bind(user_id)
    .bind(skus)
    .bind(connection_id)
    .fetch_all(tx)
    .await
}

/// Column arrays of the rows a page writes, one index per product. New rows use every
/// column; updated rows all but `stock` (a pull never changes an existing stock).
#[derive(Debug, Default)]
pub struct Rows {
    pub id: Vec<Uuid>,
    pub sku: Vec<String>,
    pub title: Vec<String>,
    pub description: Vec<String>,
    /// The image URLs as a JSON array.
    pub images: Vec<String>,
    pub price_cents: Vec<i64>,
    pub currency: Vec<String>,
    pub stock: Vec<i32>,
    pub external_id: Vec<String>,
    pub parent_external_id: Vec<Option<String>>,
    pub inventory_external_id: Vec<Option<String>>,
    pub channel_price_cents: Vec<Option<i64>>,
    pub channel_stock: Vec<Option<i32>>,
    pub channel_content_sha: Vec<Vec<u8>>,
    pub channel_state: Vec<&'static str>,
    pub has_local_changes: Vec<bool>,
    /// Updated rows: whether a value the merchant sees changed (moves `updated_at`).
    pub touched: Vec<bool>,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.id.is_empty()
    }
}

/// Inserts the new products of a page.
pub async fn insert(
    tx: &mut PgConnection,
    user_id: Uuid,
    connection_id: Uuid,
    rows: &Rows,
) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO products (id, user_id, connection_id, sku, title, description, images,
                               price_cents, currency, stock, external_id, parent_external_id,
                               inventory_external_id, channel_price_cents, channel_stock,
                               channel_content_sha, channel_state, has_local_changes,
                               pulled_at, synced_at)
         SELECT r.id, $1, $2, r.sku, r.title, r.description,
                ARRAY(SELECT jsonb_array_elements_text(r.images::jsonb)),
                r.price_cents, r.currency, r.stock, r.external_id, r.parent_external_id,
                r.inventory_external_id, r.channel_price_cents, r.channel_stock,
                r.channel_content_sha, r.channel_state, r.has_local_changes, now(), now()
           FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[],
                       $9::text[], $10::int[], $11::text[], $12::text[], $13::text[],
                       $14::bigint[], $15::int[], $16::bytea[], $17::text[], $18::bool[])
                AS r(id, sku, title, description, images, price_cents, currency, stock,
                     external_id, parent_external_id, inventory_external_id,
                     channel_price_cents, channel_stock, channel_content_sha, channel_state,
                     has_local_changes)",
    )
    .bind(user_id)
    .bind(connection_id)
    .bind(&rows.id)
    .bind(&rows.sku)
    .bind(&rows.title)
    .bind(&rows.description)
    .bind(&rows.images)
    .bind(&rows.price_cents)
    .bind(&rows.currency)
    .bind(&rows.stock)
    .bind(&rows.external_id)
    .bind(&rows.parent_external_id)
    .bind(&rows.inventory_external_id)
    .bind(&rows.channel_price_cents)
    .bind(&rows.channel_stock)
    .bind(&rows.channel_content_sha)
    .bind(&rows.channel_state)
    .bind(&rows.has_local_changes)
    .execute(tx)
    .await?;
    Ok(())
}

/// Writes what a page decided for the connection's existing products (locked by [`known`]).
pub async fn update(tx: &mut PgConnection, user_id: Uuid, rows: &Rows) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE products p
            SET sku = r.sku, title = r.title, description = r.description,
                images = ARRAY(SELECT jsonb_array_elements_text(r.images::jsonb)),
                price_cents = r.price_cents, currency = r.currency, external_id = r.external_id,
                parent_external_id = r.parent_external_id,
                inventory_external_id = r.inventory_external_id,
                channel_price_cents = r.channel_price_cents, channel_stock = r.channel_stock,
                channel_content_sha = r.channel_content_sha, channel_state = r.channel_state,
                has_local_changes = r.has_local_changes, pulled_at = now(), synced_at = now(),
                updated_at = CASE WHEN r.touched THEN now() ELSE p.updated_at END
           FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
                       $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[],
                       $13::int[], $14::bytea[], $15::text[], $16::bool[], $17::bool[])
                AS r(id, sku, title, description, images, price_cents, currency, external_id,
                     parent_external_id, inventory_external_id, channel_price_cents,
                     channel_stock, channel_content_sha, channel_state, has_local_changes,
                     touched)
          WHERE p.id = r.id AND p.user_id = $1",
    )
    .bind(user_id)
    .bind(&rows.id)
    .bind(&rows.sku)
    .bind(&rows.title)
    .bind(&rows.description)
    .bind(&rows.images)
    .bind(&rows.price_cents)
    .bind(&rows.currency)
    .bind(&rows.external_id)
    .bind(&rows.parent_external_id)
    .bind(&rows.inventory_external_id)
    .bind(&rows.channel_price_cents)
    .bind(&rows.channel_stock)
    .bind(&rows.channel_content_sha)
    .bind(&rows.channel_state)
    .bind(&rows.has_local_changes)
    .bind(&rows.touched)
    .execute(tx)
    .await?;
    Ok(())
}

/// The connection's products that a page saw at the channel but skipped (a duplicate SKU,
/// a price the cockpit cannot hold): what the channel lists for each.
#[derive(Debug, Default)]
pub struct Seen {
    pub id: Vec<Uuid>,
    pub channel_stock: Vec<Option<i32>>,
    pub channel_state: Vec<&'static str>,
}

/// Records that the channel still has the `seen` products (locked by [`lock`]), so that a
/// full pass does not mark them removed while they are live at the channel; nothing the
/// merchant sees changes.
pub async fn mark_seen(tx: &mut PgConnection, user_id: Uuid, seen: &Seen) -> sqlx::Result<()> {
    if seen.id.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE products p
            SET pulled_at = now(), channel_stock = r.channel_stock, channel_state = r.channel_state
           FROM unnest($2::uuid[], $3::int[], $4::text[]) AS r(id, channel_stock, channel_state)
          WHERE p.id = r.id AND p.user_id = $1",
    )
    .bind(user_id)
    .bind(&seen.id)
    .bind(&seen.channel_stock)
    .bind(&seen.channel_state)
    .execute(tx)
    .await?;
    Ok(())
}

/// Order lines of the connection's orders that name one of `skus` and no product yet get
/// the connection's product with that SKU (orders imported before the catalogue).
pub async fn link_order_lines(
    tx: &mut PgConnection,
    user_id: Uuid,
    connection_id: Uuid,
    skus: &[&str],
) -> sqlx::Result<u64> {
    if skus.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        "UPDATE order_items i SET product_id = p.id
           FROM orders o, products p
          WHERE i.user_id = $1 AND i.product_id IS NULL AND i.sku = ANY($3::text[])
            AND o.id = i.order_id AND o.connection_id = $2
            AND p.user_id = $1 AND p.connection_id = $2 AND p.sku = i.sku",
    )
    .bind(user_id)
    .bind(connection_id)
    .bind(skus)
    .execute(tx)
    .await?;
    Ok(done.rows_affected())
}

/// A product a full pass did not see.
#[derive(Debug, sqlx::FromRow)]
pub struct Removed {
    pub id: Uuid,
    pub sku: String,
    pub external_id: Option<String>,
    pub old_state: Option<String>,
}

/// Marks the connection's channel products not pulled since `pass_started` as removed at
/// the channel (they are kept: their orders and history still point at them).
pub async fn mark_removed(
    tx: &mut PgConnection,
    user_id: Uuid,
    connection_id: Uuid,
    pass_started: DateTime<Utc>,
) -> sqlx::Result<Vec<Removed>> {
    sqlx::query_as(
        "WITH gone AS (
             SELECT id, channel_state FROM products
              WHERE user_id = $1 AND connection_id = $2 AND external_id IS NOT NULL
                AND (pulled_at IS NULL OR pulled_at < $3)
                AND channel_state IS DISTINCT FROM 'removed'
                FOR UPDATE
         )
         UPDATE products p SET channel_state = 'removed', updated_at = now()
           FROM gone WHERE p.id = gone.id
         RETURNING p.id, p.sku, p.external_id, gone.channel_state AS old_state",
    )
    .bind(user_id)
    .bind(connection_id)
    .bind(pass_started)
    .fetch_all(tx)
    .await
}

/// When the connection's last products pass started; the next incremental pass reads the
/// changes since.
pub async fn products_synced_at(
    tx: &mut PgConnection,
    user_id: Uuid,
    connection_id: Uuid,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    let at: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
        "SELECT products_synced_at FROM connections WHERE id = $1 AND user_id = $2",
    )
    .bind(connection_id)
    .bind(user_id)
    .fetch_optional(tx)
    .await?;
    Ok(at.flatten())
}

/// Records a completed products pass that started at `pass_started`.
pub async fn finish_pass(
    tx: &mut PgConnection,
    user_id: Uuid,
    connection_id: Uuid,
    pass_started: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE connections SET products_synced_at = $3 WHERE id = $1 AND user_id = $2")
        .bind(connection_id)
        .bind(user_id)
        .bind(pass_started)
        .execute(tx)
        .await?;
    Ok(())
}
