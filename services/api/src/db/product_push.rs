//! The push's SQL: which products of a connection wait to be pushed, with what their
//! channel has (the `channel_*` baselines), and what became of a pushed batch.
//!
//! Pending = a channel product (external id known, not removed at the channel) with local
//! changes. The stock a channel lists is `greatest(stock - connections.stock_buffer, 0)`.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// The listed stock of product `p` on connection `c`.
const LISTED: &str = "greatest(p.stock - c.stock_buffer, 0)";

/// A channel product with local changes, and what its channel has for it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Pending {
    pub connection_id: Uuid,
    pub id: Uuid,
    pub sku: String,
    pub external_id: String,
    pub parent_external_id: Option<String>,
    pub inventory_external_id: Option<String>,
    pub price_cents: i64,
    pub currency: String,
    /// What the channel should list: the stock less the connection's buffer, at least 0.
    pub listed_stock: i32,
    /// What the channel had at the last sync; `None` when never seen.
    pub channel_price_cents: Option<i64>,
    pub channel_stock: Option<i32>,
    /// Why the channel refused the last push (only the dry run reads such products).
    pub push_error_code: Option<String>,
    pub push_error: Option<String>,
}

impl Pending {
    pub fn price_differs(&self) -> bool {
        self.channel_price_cents != Some(self.price_cents)
    }

    pub fn stock_differs(&self) -> bool {
        self.channel_stock != Some(self.listed_stock)
    }
}

fn select_pending() -> String {
    format!(
        "SELECT p.connection_id, p.id, p.sku, p.external_id, p.parent_external_id, p.inventory_external_id,
                p.price_cents, p.currency, {LISTED} AS listed_stock, p.channel_price_cents, p.channel_stock,
                p.push_error_code, p.push_error"
    )
}

/// Up to `limit` products of the connection the push sends next, in id order after
/// `after` (the previous batch's last id). Products the channel refused wait for the
/// merchant's next edit and are left out.
pub async fn batch(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    connection_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<Pending>> {
    sqlx::query_as(&format!(
        "{} FROM products p JOIN connections c ON c.id = p.connection_id AND c.user_id = p.user_id
          WHERE p.user_id = $1 AND p.connection_id = $2 AND ($3::uuid IS NULL OR p.id > $3)
            AND p.has_local_changes AND p.external_id IS NOT NULL AND p.push_error IS NULL
            AND p.channel_state IS DISTINCT FROM 'removed'
          ORDER BY p.id LIMIT $4",
        select_pending()
    ))
    .bind(user_id)
    .bind(connection_id)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The dry run: per connection of the user (all, or `connection_id`), its first
/// `per_connection` pending products whose price or listed stock differs from what the
/// channel has, refused ones included (with the reason). Ordered by connection, then id.
pub async fn preview(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    connection_id: Option<Uuid>,
    per_connection: i64,
) -> sqlx::Result<Vec<Pending>> {
    sqlx::query_as(&format!(
        "SELECT q.* FROM connections c CROSS JOIN LATERAL (
            {} FROM products p
             WHERE p.user_id = c.user_id AND p.connection_id = c.id
               AND p.has_local_changes AND p.external_id IS NOT NULL
               AND p.channel_state IS DISTINCT FROM 'removed'
               AND (p.price_cents IS DISTINCT FROM p.channel_price_cents
                    OR {LISTED} IS DISTINCT FROM p.channel_stock)
             ORDER BY p.id LIMIT $3) q
          WHERE c.user_id = $1 AND ($2::uuid IS NULL OR c.id = $2)
          ORDER BY c.created_at, c.id, q.id",
        select_pending()
    ))
    .bind(user_id)
    .bind(connection_id)
    .bind(per_connection)
    .fetch_all(db)
    .await
}

/// The user's connections that have products waiting for the push (paused and
/// disconnected ones push when they are back; ones in `error` would fail at once, and
/// push with the sync that brings them back).
pub async fn connections_with_pending(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT c.id FROM connections c
          WHERE c.user_id = $1 AND c.status NOT IN ('paused', 'disconnected', 'error') AND EXISTS (
                SELECT 1 FROM products p
                 WHERE p.connection_id = c.id AND p.user_id = c.user_id
                   AND p.has_local_changes AND p.external_id IS NOT NULL
                   AND p.push_error IS NULL AND p.channel_state IS DISTINCT FROM 'removed')
          ORDER BY c.id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Marks the connection's channel products whose listed stock (with the connection's
/// current buffer) differs from what the channel has as pending; a refusal of an earlier
/// value is forgotten. Returns how many.
pub async fn mark_stock_relisted(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    connection_id: Uuid,
) -> sqlx::Result<u64> {
    let done = sqlx::query(&format!(
        "UPDATE products p SET has_local_changes = true, push_error_code = NULL, push_error = NULL
           FROM connections c
          WHERE c.id = p.connection_id AND c.user_id = p.user_id
            AND p.user_id = $1 AND p.connection_id = $2
            AND p.external_id IS NOT NULL AND p.channel_state IS DISTINCT FROM 'removed'
            AND {LISTED} IS DISTINCT FROM p.channel_stock"
    ))
    .bind(user_id)
    .bind(connection_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// What became of one product of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The channel already had its price and listed stock: nothing was sent.
    Unchanged,
    /// The channel took the sent values.
    Pushed,
    /// The channel refused it.
    Rejected,
    /// The channel's stock changed since our last sync (a sale there) and it kept it: the
    /// product stays pending without a reason, and the next sync (orders first) brings the
    /// baseline up to date and pushes again.
    StockChanged,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Unchanged => "unchanged",
            Outcome::Pushed => "pushed",
            Outcome::Rejected => "rejected",
            Outcome::StockChanged => "stock_changed",
        }
    }
}

/// A batch's outcomes as column arrays (one entry per product).
#[derive(Debug, Default)]
pub struct Marks {
    id: Vec<Uuid>,
    outcome: Vec<&'static str>,
    /// The values as the batch read them: a product whose values differ now was changed
    /// again meanwhile and stays pending.
    price_cents: Vec<i64>,
    currency: Vec<String>,
    listed_stock: Vec<i32>,
    /// What was sent (`None`: the field was not sent).
    sent_price_cents: Vec<Option<i64>>,
    sent_stock: Vec<Option<i32>>,
    code: Vec<Option<String>>,
    message: Vec<Option<String>>,
}

impl Marks {
    /// Adds `p`'s outcome; `sent` says which fields went to the channel (price, stock),
    /// `refusal` is the channel's (code, message) for a rejection.
    pub fn add(
        &mut self,
        p: &Pending,
        outcome: Outcome,
        sent: (bool, bool),
        refusal: Option<(&str, &str)>,
    ) {
        self.id.push(p.id);
        self.outcome.push(outcome.as_str());
        self.price_cents.push(p.price_cents);
        self.currency.push(p.currency.clone());
        self.listed_stock.push(p.listed_stock);
        self.sent_price_cents.push(sent.0.then_some(p.price_cents));
        self.sent_stock.push(sent.1.then_some(p.listed_stock));
        self.code.push(refusal.map(|(c, _)| c.to_owned()));
        self.message.push(refusal.map(|(_, m)| m.to_owned()));
    }
}

/// Records a batch's outcomes in one statement. Pushed: the channel baselines become the
/// sent values and `synced_at` now. Pushed or unchanged: no longer pending, unless the
/// product changed again after the batch was read. Rejected: stays pending with the
/// channel's reason (only if it still has the refused values: a newer edit is sent
/// next time). Stock changed at the channel: stays pending, without a reason. The connection's row is share-locked first, so a buffer change cannot
/// commit between reading the buffer here and writing the products.
pub async fn mark(
    tx: &mut PgConnection,
    user_id: Uuid,
    connection_id: Uuid,
    marks: &Marks,
) -> sqlx::Result<u64> {
    let buffer: Option<i32> = sqlx::query_scalar(
        "SELECT stock_buffer FROM connections WHERE id = $1 AND user_id = $2 FOR SHARE",
    )
    .bind(connection_id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(buffer) = buffer else {
        return Ok(0); // the connection is gone, and its products with it
    };
    const SAME: &str = "(p.price_cents = m.price_cents AND p.currency = m.currency
                         AND greatest(p.stock - $3, 0) = m.listed_stock)";
    let done = sqlx::query(&format!(
        "UPDATE products p SET
            channel_price_cents = CASE WHEN m.outcome = 'pushed'
                                       THEN coalesce(m.sent_price_cents, p.channel_price_cents)
                                       ELSE p.channel_price_cents END,
            channel_stock = CASE WHEN m.outcome = 'pushed'
                                 THEN coalesce(m.sent_stock, p.channel_stock)
                                 ELSE p.channel_stock END,
            synced_at = CASE WHEN m.outcome = 'pushed' THEN now() ELSE p.synced_at END,
            has_local_changes = p.has_local_changes
                                AND (m.outcome IN ('rejected', 'stock_changed') OR NOT {SAME}),
            push_error_code = CASE WHEN m.outcome = 'rejected' AND {SAME} THEN m.code ELSE p.push_error_code END,
            push_error = CASE WHEN m.outcome = 'rejected' AND {SAME} THEN m.message ELSE p.push_error END
           FROM unnest($4::uuid[], $5::text[], $6::bigint[], $7::text[], $8::int[], $9::bigint[],
                       $10::int[], $11::text[], $12::text[])
                AS m(id, outcome, price_cents, currency, listed_stock, sent_price_cents, sent_stock, code, message)
          WHERE p.id = m.id AND p.user_id = $1 AND p.connection_id = $2"
    ))
    .bind(user_id)
    .bind(connection_id)
    .bind(buffer)
    .bind(&marks.id)
    .bind(&marks.outcome)
    .bind(&marks.price_cents)
    .bind(&marks.currency)
    .bind(&marks.listed_stock)
    .bind(&marks.sent_price_cents)
    .bind(&marks.sent_stock)
    .bind(&marks.code)
    .bind(&marks.message)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;

    use super::*;

    struct Fixture {
        user: Uuid,
        connection: Uuid,
    }

    async fn fixture(db: &PgPool, buffer: i32) -> Fixture {
        let (user, connection) = (Uuid::now_v7(), Uuid::now_v7());
        sqlx::query(
            "INSERT INTO connections (id, user_id, platform, shop_name, credentials_enc, credentials_hint, status, stock_buffer)
             VALUES ($1, $2, 'kaufland', 'Shop', '\\x00', 'hint', 'active', $3)",
        )
        .bind(connection)
        .bind(user)
        .bind(buffer)
        .execute(db)
        .await
        .unwrap();
        Fixture { user, connection }
    }

    /// A channel product: (price, stock) here, (price, stock) at the channel.
    async fn product(
        db: &PgPool,
        f: &Fixture,
        sku: &str,
        local: (i64, i32),
        channel: (i64, i32),
        pending: bool,
    ) -> Uuid {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO products (id, user_id, connection_id, sku, title, price_cents, stock, external_id,
                                   channel_price_cents, channel_stock, channel_state, has_local_changes)
             VALUES ($1, $2, $3, $4, 'T', $5, $6, 'ext-' || $4, $7, $8, 'active', $9)",
        )
        .bind(id)
        .bind(f.user)
        .bind(f.connection)
        .bind(sku)
        .bind(local.0)
        .bind(local.1)
        .bind(channel.0)
        .bind(channel.1)
        .bind(pending)
        .execute(db)
        .await
        .unwrap();
        id
    }

    async fn state(
        db: &PgPool,
        id: Uuid,
    ) -> (bool, Option<i64>, Option<i32>, Option<String>, bool) {
        sqlx::query_as(
            "SELECT has_local_changes, channel_price_cents, channel_stock, push_error_code, synced_at IS NOT NULL
               FROM products WHERE id = $1",
        )
        .bind(id)
        .fetch_one(db)
        .await
        .unwrap()
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn batches_hold_what_the_push_may_send(db: PgPool) {
        let f = fixture(&db, 2).await;
        let priced = product(&db, &f, "A", (1000, 10), (900, 8), true).await;
        let same = product(&db, &f, "B", (500, 7), (500, 5), true).await;
        product(&db, &f, "C", (100, 1), (90, 1), false).await;
        let refused = product(&db, &f, "D", (0, 1), (100, 0), true).await;
        sqlx::query("UPDATE products SET push_error_code = 'validation-error', push_error = 'too low' WHERE id = $1")
            .bind(refused)
            .execute(&db)
            .await
            .unwrap();
        let removed = product(&db, &f, "E", (100, 1), (90, 1), true).await;
        sqlx::query("UPDATE products SET channel_state = 'removed' WHERE id = $1")
            .bind(removed)
            .execute(&db)
            .await
            .unwrap();

        let batch = batch(&db, f.user, f.connection, None, 250).await.unwrap();
        let ids: Vec<Uuid> = batch.iter().map(|p| p.id).collect();
        assert_eq!(ids, [priced, same]);
        assert_eq!(batch[0].listed_stock, 8);
        assert!(batch[0].price_differs() && !batch[0].stock_differs());
        assert!(!batch[1].price_differs() && !batch[1].stock_differs());
        // After the first, only the second; another merchant sees nothing.
        let after = super::batch(&db, f.user, f.connection, Some(priced), 250)
            .await
            .unwrap();
        assert_eq!(after.len(), 1);
        assert!(super::batch(&db, Uuid::now_v7(), f.connection, None, 250)
            .await
            .unwrap()
            .is_empty());

        // The dry run shows what differs, refused ones too.
        let preview = preview(&db, f.user, None, 1001).await.unwrap();
        let ids: Vec<Uuid> = preview.iter().map(|p| p.id).collect();
        assert_eq!(ids, [priced, refused]);
        assert_eq!(preview[1].push_error.as_deref(), Some("too low"));
        assert_eq!(
            connections_with_pending(&db, f.user).await.unwrap(),
            [f.connection]
        );
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn marks_keep_edits_made_after_the_batch_was_read(db: PgPool) {
        let f = fixture(&db, 0).await;
        let pushed = product(&db, &f, "A", (1000, 10), (900, 10), true).await;
        let edited = product(&db, &f, "B", (2000, 10), (1900, 10), true).await;
        let same = product(&db, &f, "C", (500, 5), (500, 5), true).await;
        let refused = product(&db, &f, "D", (0, 3), (100, 3), true).await;
        let refused_edited = product(&db, &f, "E", (0, 4), (100, 4), true).await;
        let batch = batch(&db, f.user, f.connection, None, 250).await.unwrap();
        assert_eq!(batch.len(), 5);
        // The merchant edits B and E while the batch is at the channel.
        sqlx::query("UPDATE products SET price_cents = price_cents + 1 WHERE id = ANY($1)")
            .bind(vec![edited, refused_edited])
            .execute(&db)
            .await
            .unwrap();
        let mut marks = Marks::default();
        marks.add(&batch[0], Outcome::Pushed, (true, false), None);
        marks.add(&batch[1], Outcome::Pushed, (true, false), None);
        marks.add(&batch[2], Outcome::Unchanged, (false, false), None);
        let refusal = Some(("validation-error", "listing_price: too low"));
        marks.add(&batch[3], Outcome::Rejected, (true, false), refusal);
        marks.add(&batch[4], Outcome::Rejected, (true, false), refusal);
        let mut tx = db.begin().await.unwrap();
        assert_eq!(
            mark(&mut tx, f.user, f.connection, &marks).await.unwrap(),
            5
        );
        tx.commit().await.unwrap();

        assert_eq!(
            state(&db, pushed).await,
            (false, Some(1000), Some(10), None, true)
        );
        // Pushed, but changed again: the channel has the sent price, the product stays pending.
        assert_eq!(
            state(&db, edited).await,
            (true, Some(2000), Some(10), None, true)
        );
        assert_eq!(
            state(&db, same).await,
            (false, Some(500), Some(5), None, false)
        );
        assert_eq!(
            state(&db, refused).await,
            (
                true,
                Some(100),
                Some(3),
                Some("validation-error".to_owned()),
                false
            )
        );
        // A refusal of values the merchant has since replaced is not recorded.
        assert_eq!(
            state(&db, refused_edited).await,
            (true, Some(100), Some(4), None, false)
        );
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_new_buffer_marks_what_it_relists(db: PgPool) {
        let f = fixture(&db, 0).await;
        let plenty = product(&db, &f, "A", (100, 10), (100, 10), false).await;
        let none = product(&db, &f, "B", (100, 0), (100, 0), false).await;
        sqlx::query("UPDATE connections SET stock_buffer = 2 WHERE id = $1")
            .bind(f.connection)
            .execute(&db)
            .await
            .unwrap();
        assert_eq!(
            mark_stock_relisted(&db, f.user, f.connection)
                .await
                .unwrap(),
            1
        );
        assert!(state(&db, plenty).await.0);
        assert!(!state(&db, none).await.0);
        let batch = batch(&db, f.user, f.connection, None, 250).await.unwrap();
        assert_eq!(batch[0].listed_stock, 8);
    }
}
