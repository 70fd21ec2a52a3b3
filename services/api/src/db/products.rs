//! Products: keyset-paginated lists, writes, bulk edits and bulk upserts.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::domain::product::ProductFields;

#[derive(Debug, Clone)]
pub struct ProductRow {
    pub id: Uuid,
    pub connection_id: Option<Uuid>,
    pub sku: String,
    pub title: String,
    pub description: String,
    pub price_cents: i64,
    pub currency: String,
    pub stock: i32,
    pub images: Vec<String>,
    pub synced_at: Option<DateTime<Utc>>,
    pub has_local_changes: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// What the channel had at the last sync (pulled or pushed).
    pub channel_state: Option<ChannelState>,
    pub channel_price_cents: Option<i64>,
    pub channel_stock: Option<i32>,
    /// Why the channel refused the last push.
    pub push_error_code: Option<String>,
    pub push_error: Option<String>,
    pub pulled_at: Option<DateTime<Utc>>,
}

/// Where a channel product stands at its channel (`products.channel_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ChannelState {
    /// Listed and buyable.
    Active,
    /// Listed but not buyable (a draft, an offer on hold).
    Inactive,
    /// Gone from the channel; kept here with its history.
    Removed,
}

/// By position, in the order of [`COLUMNS`] (every query reads exactly those): a page decodes
/// 19 columns of up to 201 rows, and finding each by name costs more than decoding it.
impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for ProductRow {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        Ok(Self {
            id: row.try_get(0)?,
            connection_id: row.try_get(1)?,
            sku: row.try_get(2)?,
            title: row.try_get(3)?,
            description: row.try_get(4)?,
            price_cents: row.try_get(5)?,
            currency: row.try_get(6)?,
            stock: row.try_get(7)?,
            images: row.try_get(8)?,
            synced_at: row.try_get(9)?,
            has_local_changes: row.try_get(10)?,
            created_at: row.try_get(11)?,
            updated_at: row.try_get(12)?,
            channel_state: row.try_get(13)?,
            channel_price_cents: row.try_get(14)?,
            channel_stock: row.try_get(15)?,
            push_error_code: row.try_get(16)?,
            push_error: row.try_get(17)?,
            pulled_at: row.try_get(18)?,
        })
    }
}

pub const COLUMNS: &str =
    "id, connection_id, sku, title, description, price_cents, currency, stock, images, synced_at, \
     has_local_changes, created_at, updated_at, channel_state, channel_price_cents, channel_stock, \
     push_error_code, push_error, pulled_at";

/// The orders a list can be sorted in; each has an index led by the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Created,
    Updated,
    Title,
    Price,
    Stock,
}

/// Where the previous page ended: the sort key of its last row and that row's id.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum SortKey {
    Number(i64),
    Time(DateTime<Utc>),
    Text(String),
    None,
}

impl Sort {
    fn column(self) -> Option<&'static str> {
        match self {
            Sort::Created => None, // ids are UUIDv7: time-ordered
            Sort::Updated => Some("updated_at"),
            Sort::Title => Some("title"),
            Sort::Price => Some("price_cents"),
            Sort::Stock => Some("stock"),
        }
    }

    pub fn key_of(self, row: &ProductRow) -> SortKey {
        match self {
            Sort::Created => SortKey::None,
            Sort::Updated => SortKey::Time(row.updated_at),
            Sort::Title => SortKey::Text(row.title.clone()),
            Sort::Price => SortKey::Number(row.price_cents),
            Sort::Stock => SortKey::Number(i64::from(row.stock)),
        }
    }

    /// Whether a cursor's key has the type this sort needs.
    pub fn accepts(self, key: &SortKey) -> bool {
        matches!(
            (self, key),
            (Sort::Created, SortKey::None)
                | (Sort::Updated, SortKey::Time(_))
                | (Sort::Title, SortKey::Text(_))
                | (Sort::Price | Sort::Stock, SortKey::Number(_))
        )
    }
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub search: Option<String>,
    /// `Some(None)`: only cockpit products; `Some(Some(id))`: one connection's.
    pub connection: Option<Option<Uuid>>,
    pub max_stock: Option<i32>,
    pub changed_since: Option<DateTime<Utc>>,
}

pub struct ListQuery {
    pub filter: Filter,
    pub sort: Sort,
    pub descending: bool,
    pub after: Option<(SortKey, Uuid)>,
    pub limit: i64,
}

fn push_filter(qb: &mut QueryBuilder<'_, Postgres>, user_id: Uuid, f: &Filter) {
    qb.push(" WHERE user_id = ").push_bind(user_id);
    if let Some(search) = &f.search {
        let pattern = format!(
            "%{}%",
            search
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        qb.push(" AND (title ILIKE ")
            .push_bind(pattern.clone())
            .push(" OR sku ILIKE ")
            .push_bind(pattern)
            .push(")");
    }
    match f.connection {
        Some(Some(id)) => {
            qb.push(" AND connection_id = ").push_bind(id);
        }
        Some(None) => {
            qb.push(" AND connection_id IS NULL");
        }
        None => {}
    }
    if let Some(max) = f.max_stock {
        qb.push(" AND stock <= ").push_bind(max);
    }
    if let Some(since) = f.changed_since {
        qb.push(" AND updated_at >= ").push_bind(since);
    }
}

/// One page (`limit + 1` rows are read to know whether another page follows).
pub async fn list(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    q: &ListQuery,
) -> sqlx::Result<Vec<ProductRow>> {
    let mut qb = QueryBuilder::new(format!("SELECT {COLUMNS} FROM products"));
    push_filter(&mut qb, user_id, &q.filter);
    let (cmp, dir) = if q.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if let Some((key, id)) = &q.after {
        match (q.sort.column(), key) {
            (Some(col), SortKey::Number(n)) => {
                qb.push(format!(" AND ({col}, id) {cmp} ("))
                    .push_bind(*n)
                    .push(", ")
                    .push_bind(*id)
                    .push(")");
            }
            (Some(col), SortKey::Time(t)) => {
                qb.push(format!(" AND ({col}, id) {cmp} ("))
                    .push_bind(*t)
                    .push(", ")
                    .push_bind(*id)
                    .push(")");
            }
            (Some(col), SortKey::Text(s)) => {
                qb.push(format!(" AND ({col}, id) {cmp} ("))
                    .push_bind(s.clone())
                    .push(", ")
                    .push_bind(*id)
                    .push(")");
            }
            _ => {
                qb.push(format!(" AND id {cmp} ")).push_bind(*id);
            }
        }
    }
    match q.sort.column() {
        Some(col) => qb.push(format!(" ORDER BY {col} {dir}, id {dir}")),
        None => qb.push(format!(" ORDER BY id {dir}")),
    };
    qb.push(" LIMIT ").push_bind(q.limit + 1);
    qb.build_query_as().fetch_all(db).await
}

/// Products in id order after `after`, for exports.
pub async fn batch_after(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    filter: &Filter,
    after: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<ProductRow>> {
    let mut qb = QueryBuilder::new(format!("SELECT {COLUMNS} FROM products"));
    push_filter(&mut qb, user_id, filter);
    if let Some(id) = after {
        qb.push(" AND id > ").push_bind(id);
    }
    qb.push(" ORDER BY id LIMIT ").push_bind(limit);
    qb.build_query_as().fetch_all(db).await
}

pub async fn find(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<ProductRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM products WHERE user_id = $1 AND id = $2"
    ))
    .bind(user_id)
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    connection_id: Option<Uuid>,
    p: &ProductFields,
) -> sqlx::Result<ProductRow> {
    sqlx::query_as(&format!(
        "INSERT INTO products (id, user_id, connection_id, sku, title, description, price_cents, currency, stock, images, has_local_changes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $3 IS NOT NULL) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(connection_id)
    .bind(&p.sku)
    .bind(&p.title)
    .bind(&p.description)
    .bind(p.price_cents)
    .bind(&p.currency)
    .bind(p.stock)
    .bind(&p.images)
    .fetch_one(db)
    .await
}

/// Replaces the editable fields; a channel product is then marked as changed locally (and
/// a refusal of its previous values by the channel is forgotten: the push sends it again).
pub async fn update(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    p: &ProductFields,
) -> sqlx::Result<Option<ProductRow>> {
    sqlx::query_as(&format!(
        "UPDATE products SET sku = $3, title = $4, description = $5, price_cents = $6, currency = $7, stock = $8, images = $9,
                has_local_changes = connection_id IS NOT NULL, push_error_code = NULL, push_error = NULL,
                updated_at = now()
          WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(user_id)
    .bind(id)
    .bind(&p.sku)
    .bind(&p.title)
    .bind(&p.description)
    .bind(p.price_cents)
    .bind(&p.currency)
    .bind(p.stock)
    .bind(&p.images)
    .fetch_optional(db)
    .await
}

pub async fn delete(db: impl PgExecutor<'_>, user_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM products WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// What a bulk edit does to each product.
#[derive(Debug, Clone, Copy, Default)]
pub struct BulkChange {
    pub price_cents: Option<i64>,
    /// Percent change of the price in basis points (1000 = +10 %), rounded to whole cents.
    pub price_change_bp: Option<i64>,
    pub stock: Option<i32>,
    pub stock_change: Option<i32>,
}

/// Applies `change` to the listed products of the user; returns how many it touched.
pub async fn bulk_update(
    db: &mut PgConnection,
    user_id: Uuid,
    ids: &[Uuid],
    change: BulkChange,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE products SET
            price_cents = CASE
                WHEN $3::bigint IS NOT NULL THEN $3
                WHEN $4::bigint IS NOT NULL THEN round(price_cents::numeric * (10000 + $4) / 10000)::bigint
                ELSE price_cents END,
            stock = CASE
                WHEN $5::int IS NOT NULL THEN $5
                WHEN $6::int IS NOT NULL THEN stock + $6
                ELSE stock END,
            has_local_changes = connection_id IS NOT NULL, push_error_code = NULL, push_error = NULL,
            updated_at = now()
          WHERE user_id = $1 AND id = ANY($2)",
    )
    .bind(user_id)
    .bind(ids)
    .bind(change.price_cents)
    .bind(change.price_change_bp)
    .bind(change.stock)
    .bind(change.stock_change)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Column arrays for a bulk upsert (one row per index).
#[derive(Debug, Default)]
pub struct UpsertRows {
    pub connection_id: Vec<Option<Uuid>>,
    pub sku: Vec<String>,
    pub title: Vec<String>,
    pub description: Vec<String>,
    pub price_cents: Vec<i64>,
    pub currency: Vec<String>,
    pub stock: Vec<i32>,
    /// Image URLs joined with `|`.
    pub images: Vec<String>,
}

/// Inserts or updates (by connection and SKU) all rows in one statement; returns
/// (created, updated).
pub async fn upsert_many(
    db: &mut PgConnection,
    user_id: Uuid,
    rows: &UpsertRows,
) -> sqlx::Result<(i64, i64)> {
    let ids: Vec<Uuid> = (0..rows.sku.len()).map(|_| Uuid::now_v7()).collect();
    sqlx::query_as(
        "WITH written AS (
            INSERT INTO products AS p (id, user_id, connection_id, sku, title, description, price_cents, currency, stock, images, has_local_changes)
            SELECT r.id, $1, r.connection_id, r.sku, r.title, r.description, r.price_cents, r.currency, r.stock,
                   CASE WHEN r.images = '' THEN '{}'::text[] ELSE string_to_array(r.images, '|') END,
                   r.connection_id IS NOT NULL
              FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::int[], $10::text[])
                   AS r(id, connection_id, sku, title, description, price_cents, currency, stock, images)
            ON CONFLICT (user_id, connection_id, sku) DO UPDATE SET
                title = EXCLUDED.title, description = EXCLUDED.description, price_cents = EXCLUDED.price_cents,
                currency = EXCLUDED.currency, stock = EXCLUDED.stock, images = EXCLUDED.images,
                has_local_changes = p.connection_id IS NOT NULL, push_error_code = NULL, push_error = NULL,
                updated_at = now()
            RETURNING (xmax = 0) AS created
         )
         SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM written",
    )
    .bind(user_id)
    .bind(&ids)
    .bind(&rows.connection_id)
    .bind(&rows.sku)
    .bind(&rows.title)
    .bind(&rows.description)
    .bind(&rows.price_cents)
    .bind(&rows.currency)
    .bind(&rows.stock)
    .bind(&rows.images)
    .fetch_one(db)
    .await
}
