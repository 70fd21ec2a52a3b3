//! The products pull's SQL: a page of channel units read against what the connection has,
//! then written with a few set-based statements (column arrays, `unnest`), all in the
//! page's transaction.

use std::collections::{HashMap, HashSet};

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

/// A product [`lock`] locked: one of the connection's (a page's unit may be it), or one of
/// the merchant's with a page's SKU elsewhere (its stock is the SKU's one stock).
#[derive(Debug, sqlx::FromRow)]
pub struct Locked {
    #[sqlx(flatten)]
    pub product: Known,
    pub connection_id: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
}

/// Locks, in id order, every product the page may write or the one-stock trigger may
/// touch, and reads them as locked: the connection's products with one of
/// `external_ids`, and the merchant's products (any connection) with one of `skus`. One
/// statement in the lock order of the order import's stock lowering, so the two never
/// deadlock, and an order cannot lower a SKU's stock between reading and the page adopting
/// it (a sold unit would come back). A local edit waits for the page instead of being
/// overwritten. [`Candidates::new`] sorts the rows.
///
/// Planned to hold without statistics (autovacuum off, as in CI and the bench), where
/// Postgres guesses that any `user_id = …` or `connection_id = …` matches a few rows:
/// each external id and SKU is looked up on its own in a lateral subquery (`OFFSET 0`
/// keeps it one), so the whole key is the index condition of `products_by_external` or
/// `products_by_sku`, never the `(user_id[, connection_id])` prefix of another index with
/// the array as a filter over all the connection's products. The ids are then locked by
/// primary key; both lookups are scoped (the connection is the merchant's).
pub async fn lock(
    tx: &mut PgConnection,
    user_id: Uuid,
    connection_id: Uuid,
    external_ids: &[&str],
    skus: &[&str],
) -> sqlx::Result<Vec<Locked>> {
    sqlx::query_as(
        "SELECT id, external_id, sku, title, description, images, price_cents, currency, stock,
                has_local_changes, channel_price_cents, channel_content_sha, channel_state,
                connection_id, updated_at
           FROM products
          WHERE id = ANY(ARRAY(
                    SELECT p.id FROM unnest($3::text[]) AS e(external_id),
                           LATERAL (SELECT id FROM products
                                     WHERE connection_id = $2 AND external_id = e.external_id
                                    OFFSET 0) p
                    UNION ALL
                    SELECT p.id FROM unnest($4::text[]) AS s(sku),
                           LATERAL (SELECT id FROM products
                                     WHERE user_id = $1 AND sku = s.sku OFFSET 0) p))
          ORDER BY id
            FOR UPDATE",
    )
    .bind(user_id)
    .bind(connection_id)
    .bind(external_ids)
    .bind(skus)
    .fetch_all(tx)
    .await
}

/// What a page's units are checked against, from the rows [`lock`] returned (re-checked
/// here: a row changed by a concurrent writer is returned as it is now, which may no longer
/// match).
#[derive(Debug, Default)]
pub struct Candidates {
    /// The connection's products with one of the page's external ids or SKUs.
    pub known: Vec<Known>,
    /// The merchant's stock of each of the page's SKUs held by a product outside the
    /// connection (one stock per SKU: a new channel product adopts it); the latest
    /// changed product's where they differ.
    pub stocks: Vec<(String, i32)>,
}

impl Candidates {
    pub fn new(
        locked: Vec<Locked>,
        connection_id: Uuid,
        external_ids: &[&str],
        skus: &[&str],
    ) -> Self {
        let external_ids: HashSet<&str> = external_ids.iter().copied().collect();
        let skus: HashSet<&str> = skus.iter().copied().collect();
        let mut known = Vec::new();
        let mut latest: HashMap<String, (DateTime<Utc>, Uuid, i32)> = HashMap::new();
        for row in locked {
            let p = row.product;
            if row.connection_id == Some(connection_id) {
                let by_id = p
                    .external_id
                    .as_deref()
                    .is_some_and(|id| external_ids.contains(id));
                if by_id || skus.contains(p.sku.as_str()) {
                    known.push(p);
                }
            } else if skus.contains(p.sku.as_str()) {
                let this = (row.updated_at, p.id, p.stock);
                latest
                    .entry(p.sku)
                    .and_modify(|l| *l = (*l).max(this))
                    .or_insert(this);
            }
        }
        let stocks = latest
            .into_iter()
            .map(|(sku, (_, _, stock))| (sku, stock))
            .collect();
        Candidates { known, stocks }
    }
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

/// Writes what a page decided for the connection's existing products (locked by [`lock`]).
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

/// Order lines of the connection's orders that name the SKU of one of the page's new
/// products (`ids`, `skus`: one index per product) and no product yet get that product
/// (orders imported before the catalogue).
///
/// Planned to hold without statistics (autovacuum off): each SKU's unlinked lines are read
/// on `order_items_unlinked` by (merchant, SKU) in a lateral subquery (`OFFSET 0` keeps
/// it one, so the SKU is an index condition, not a filter over all the merchant's
/// unlinked lines), their orders by primary key (`IS NOT DISTINCT FROM` keeps the planner
/// off a scan of the connection's orders on the `(connection_id, external_id)` prefix).
pub async fn link_order_lines(
    tx: &mut PgConnection,
    user_id: Uuid,
    connection_id: Uuid,
    ids: &[Uuid],
    skus: &[String],
) -> sqlx::Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        "UPDATE order_items i SET product_id = n.product_id
           FROM (SELECT l.id, s.product_id
                   FROM unnest($3::uuid[], $4::text[]) AS s(product_id, sku),
                        LATERAL (SELECT id, order_id FROM order_items
                                  WHERE user_id = $1 AND product_id IS NULL AND sku = s.sku
                                 OFFSET 0) l,
                        orders o
                  WHERE o.id = l.order_id AND o.connection_id IS NOT DISTINCT FROM $2) n
          WHERE i.id = n.id AND i.user_id = $1 AND i.product_id IS NULL",
    )
    .bind(user_id)
    .bind(connection_id)
    .bind(ids)
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
