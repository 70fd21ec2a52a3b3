//! The cost-based leaky bucket of every shop: 1000 points, restoring 50 per second (the
//! documented figures of a standard shop) times the sandbox's `rate_scale`.

use chrono::Utc;
use serde_json::{json, Value as Json};

use super::state::{Bucket, ShopifyState};

pub const MAXIMUM_AVAILABLE: f64 = 1000.0;
pub const RESTORE_RATE: f64 = 50.0;

/// The bucket's state after a request, for `extensions.cost.throttleStatus`.
#[derive(Debug, Clone, Copy)]
pub struct Status {
    pub currently_available: f64,
    pub restore_rate: f64,
}

/// Refills the bucket for the time passed and takes `cost` if it is there.
pub fn take(state: &mut ShopifyState, cost: u64, restore_rate: f64) -> Result<Status, Status> {
    let now = Utc::now();
    let bucket = state.bucket.get_or_insert(Bucket {
        available: MAXIMUM_AVAILABLE,
        at: now,
    });
    let elapsed = (now - bucket.at).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6;
    bucket.available = (bucket.available + elapsed.max(0.0) * restore_rate).min(MAXIMUM_AVAILABLE);
    bucket.at = now;
    let status = |available: f64| Status {
        currently_available: available,
        restore_rate,
    };
    if bucket.available < cost as f64 {
        return Err(status(bucket.available));
    }
    bucket.available -= cost as f64;
    Ok(status(bucket.available))
}

/// Gives back what was taken but not spent (requested minus actual cost).
pub fn refund(state: &mut ShopifyState, points: u64, restore_rate: f64) -> Status {
    let available = match state.bucket.as_mut() {
        Some(bucket) => {
            bucket.available = (bucket.available + points as f64).min(MAXIMUM_AVAILABLE);
            bucket.available
        }
        None => MAXIMUM_AVAILABLE,
    };
    Status {
        currently_available: available,
        restore_rate,
    }
}

/// `extensions.cost`; `actual` is `None` when nothing ran (throttled).
pub fn extension(requested: u64, actual: Option<u64>, status: Status) -> Json {
    json!({
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": {
            "maximumAvailable": MAXIMUM_AVAILABLE,
            // Shopify reports whole points.
            "currentlyAvailable": status.currently_available.floor() as u64,
            "restoreRate": status.restore_rate,
        },
    })
}

/// The bucket as an injected throttle reports it: empty, restoring at the documented rate.
pub fn injected_status() -> Status {
    Status {
        currently_available: 0.0,
        restore_rate: RESTORE_RATE,
    }
}
