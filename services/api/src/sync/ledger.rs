//! The per-item ledger of a job: what changed (old and new values), what the channel
//! answered, and whether it will be retried. Written in the transaction of the page it
//! describes, bounded per job.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::text::clean;

/// Most ledger entries one job keeps; the rest are counted in `sync_jobs.ledger_omitted`.
pub const MAX_PER_JOB: i32 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Product,
    Order,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Product => "product",
            Entity::Order => "order",
        }
    }
}

/// One ledger line. `action` is one of: created, updated, removed, conflict, skipped,
/// pushed, rejected, imported, status_changed, stock_lowered.
#[derive(Debug, Clone)]
pub struct Entry {
    pub entity: Entity,
    pub action: &'static str,
    pub product_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub sku: Option<String>,
    pub external_id: Option<String>,
    /// `{"field": {"old": …, "new": …}}`.
    pub changes: Value,
    pub channel_code: Option<String>,
    pub channel_message: Option<String>,
    pub will_retry: bool,
}

impl Entry {
    pub fn product(
        action: &'static str,
        product_id: Option<Uuid>,
        sku: &str,
        external_id: Option<&str>,
    ) -> Self {
        Entry {
            entity: Entity::Product,
            action,
            product_id,
            order_id: None,
            sku: Some(clean(sku, usize::MAX)),
            external_id: external_id.map(|id| clean(id, usize::MAX)),
            changes: Value::Object(Default::default()),
            channel_code: None,
            channel_message: None,
            will_retry: false,
        }
    }

    pub fn order(action: &'static str, order_id: Option<Uuid>, external_id: &str) -> Self {
        Entry {
            entity: Entity::Order,
            action,
            product_id: None,
            order_id,
            sku: None,
            external_id: Some(clean(external_id, usize::MAX)),
            changes: Value::Object(Default::default()),
            channel_code: None,
            channel_message: None,
            will_retry: false,
        }
    }

    /// Adds `field: {old, new}` to the changes.
    pub fn change(mut self, field: &str, old: impl Into<Value>, new: impl Into<Value>) -> Self {
        if let Value::Object(map) = &mut self.changes {
            map.insert(
                field.to_owned(),
                serde_json::json!({"old": old.into(), "new": new.into()}),
            );
        }
        self
    }

    /// The channel's answer (a rejection's code and message).
    pub fn answer(mut self, code: &str, message: &str) -> Self {
        self.channel_code = Some(clean(code, usize::MAX));
        self.channel_message = Some(clean(message, usize::MAX));
        self
    }
}

/// Writes `entries` for the job, as many as its budget still allows (one statement);
/// counts what it wrote in `sync_jobs.ledger_written` and the rest in `ledger_omitted`.
/// Runs in the page's transaction.
///
/// The job row is locked first, so two writers of one job (a worker whose lease ran out
/// and its successor) cannot both see room for the same entries; the room is read from
/// the job's counters (not by counting its ledger, which grows to the budget).
pub async fn write(
    tx: &mut PgConnection,
    job_id: Uuid,
    user_id: Uuid,
    entries: &[Entry],
) -> sqlx::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut entity = Vec::with_capacity(entries.len());
    let mut action = Vec::with_capacity(entries.len());
    let mut product_id = Vec::with_capacity(entries.len());
    let mut order_id = Vec::with_capacity(entries.len());
    let mut sku = Vec::with_capacity(entries.len());
    let mut external_id = Vec::with_capacity(entries.len());
    let mut changes = Vec::with_capacity(entries.len());
    let mut channel_code = Vec::with_capacity(entries.len());
    let mut channel_message = Vec::with_capacity(entries.len());
    let mut will_retry = Vec::with_capacity(entries.len());
    for e in entries {
        entity.push(e.entity.as_str());
        action.push(e.action);
        product_id.push(e.product_id);
        order_id.push(e.order_id);
        sku.push(e.sku.as_deref());
        external_id.push(e.external_id.as_deref());
        changes.push(&e.changes);
        channel_code.push(e.channel_code.as_deref());
        channel_message.push(e.channel_message.as_deref());
        will_retry.push(e.will_retry);
    }
    sqlx::query(
        "WITH job AS (
             SELECT CASE WHEN j.ledger_omitted > 0 THEN 0
                         ELSE greatest($13 - j.ledger_written, 0)
                    END AS room
               FROM sync_jobs j WHERE j.id = $1 FOR UPDATE
         ), written AS (
             INSERT INTO sync_ledger (job_id, user_id, entity, action, product_id, order_id, sku,
                                      external_id, changes, channel_code, channel_message, will_retry)
             SELECT $1, $2, e.entity, e.action, e.product_id, e.order_id, e.sku, e.external_id,
                    e.changes, e.channel_code, e.channel_message, e.will_retry
               FROM unnest($3::text[], $4::text[], $5::uuid[], $6::uuid[], $7::text[], $8::text[],
                           $9::jsonb[], $10::text[], $11::text[], $12::bool[])
                    WITH ORDINALITY AS e(entity, action, product_id, order_id, sku, external_id,
                                         changes, channel_code, channel_message, will_retry, n)
               JOIN job ON e.n <= job.room
              ORDER BY e.n
             RETURNING 1
         )
         UPDATE sync_jobs
            SET ledger_written = ledger_written + (SELECT count(*) FROM written),
                ledger_omitted = ledger_omitted + $14 - (SELECT count(*) FROM written)
          WHERE id = $1",
    )
    .bind(job_id)
    .bind(user_id)
    .bind(entity)
    .bind(action)
    .bind(product_id)
    .bind(order_id)
    .bind(sku)
    .bind(external_id)
    .bind(changes)
    .bind(channel_code)
    .bind(channel_message)
    .bind(will_retry)
    .bind(i64::from(MAX_PER_JOB))
    .bind(entries.len() as i64)
    .execute(tx)
    .await?;
    Ok(())
}
