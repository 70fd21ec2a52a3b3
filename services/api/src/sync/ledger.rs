//! The per-item ledger of a job: what changed (old and new values), what the channel
//! answered, and whether it will be retried. Written in the transaction of the page it
//! describes, bounded per job.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

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
            sku: Some(sku.to_owned()),
            external_id: external_id.map(str::to_owned),
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
            external_id: Some(external_id.to_owned()),
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
        self.channel_code = Some(code.to_owned());
        self.channel_message = Some(message.to_owned());
        self
    }
}

/// Writes `entries` for the job, as many as its budget still allows (one statement);
/// counts the rest in `sync_jobs.ledger_omitted`. Runs in the page's transaction.
pub async fn write(
    tx: &mut PgConnection,
    job_id: Uuid,
    user_id: Uuid,
    entries: &[Entry],
) -> sqlx::Result<()> {
    let _ = (tx, job_id, user_id, entries);
    todo!("sync::ledger::write")
}
