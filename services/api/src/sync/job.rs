//! A sync job as stored in `sync_jobs`, and the words it is described in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// What a job syncs. Every kind ends by pushing the connection's pending local changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Kind {
    Products,
    Orders,
    Both,
    /// Only the push (after a local edit or a stock change from another channel).
    Push,
}

impl Kind {
    /// The phases of this kind, in the order they run (orders first: an order imported
    /// before the catalogue lowers no stock twice).
    pub fn phases(self) -> &'static [Phase] {
        match self {
            Kind::Products => &[Phase::Products, Phase::Push],
            Kind::Orders => &[Phase::Orders, Phase::Push],
            Kind::Both => &[Phase::Orders, Phase::Products, Phase::Push],
            Kind::Push => &[Phase::Push],
        }
    }

    /// The phase after `phase` for this kind (`Done` after the last).
    pub fn after(self, phase: Phase) -> Phase {
        let phases = self.phases();
        phases
            .iter()
            .position(|p| *p == phase)
            .and_then(|i| phases.get(i + 1))
            .copied()
            .unwrap_or(Phase::Done)
    }

    /// A kind covering both `self` and `other` (a trigger merged into a waiting job).
    pub fn union(self, other: Kind) -> Kind {
        use Kind::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Push, k) | (k, Push) => k,
            _ => Both,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Mode {
    /// The whole catalogue (products gone from the channel are marked removed) and every
    /// order of the import window.
    Full,
    /// What changed since the last sync.
    Incremental,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Origin {
    Merchant,
    Schedule,
    Webhook,
    /// A stock change made elsewhere (an order on another channel, a local edit).
    Stock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum State {
    Queued,
    Running,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Phase {
    Orders,
    Products,
    Push,
    Done,
}

/// A row of `sync_jobs`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: Uuid,
    pub user_id: Uuid,
    pub connection_id: Uuid,
    pub kind: Kind,
    pub mode: Mode,
    pub origin: Origin,
    pub state: State,
    pub phase: Phase,
    /// The channel's cursor after the last committed page of `phase`.
    pub cursor: Option<String>,
    pub orders_since: Option<DateTime<Utc>>,
    pub orders_seen_until: Option<DateTime<Utc>>,
    /// Items handled over all phases.
    pub items_done: i32,
    /// Items handled in the current phase.
    pub phase_done: i32,
    /// The current phase's item count, where the channel tells it.
    pub items_total: Option<i32>,
    pub items_failed: i32,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_after: DateTime<Utc>,
    pub lease_owner: Option<Uuid>,
    pub lease_until: Option<DateTime<Utc>>,
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub ledger_omitted: i32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// Every column of [`Job`], for `SELECT`/`RETURNING`.
pub const COLUMNS: &str = "id, user_id, connection_id, kind, mode, origin, state, phase, cursor, \
    orders_since, orders_seen_until, items_done, phase_done, items_total, items_failed, attempts, \
    max_attempts, run_after, lease_owner, lease_until, error_code, error, ledger_omitted, \
    created_at, started_at, completed_at, updated_at";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_run_in_order_and_end_done() {
        assert_eq!(Kind::Both.after(Phase::Orders), Phase::Products);
        assert_eq!(Kind::Both.after(Phase::Products), Phase::Push);
        assert_eq!(Kind::Both.after(Phase::Push), Phase::Done);
        assert_eq!(Kind::Products.after(Phase::Products), Phase::Push);
        assert_eq!(Kind::Push.after(Phase::Push), Phase::Done);
    }

    #[test]
    fn union_covers_both() {
        assert_eq!(Kind::Push.union(Kind::Orders), Kind::Orders);
        assert_eq!(Kind::Products.union(Kind::Orders), Kind::Both);
        assert_eq!(Kind::Products.union(Kind::Products), Kind::Products);
    }
}
