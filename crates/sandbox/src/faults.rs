//! Fault switches: the next N requests to a vendor fail in a chosen way.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde::Deserialize;

/// Most faults queued for one vendor at once: enough for any test or demo, small enough
/// that the queue stays a few kilobytes.
pub const MAX_QUEUED: usize = 10_000;

/// Which stand-in a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    Shopify,
    Amazon,
    Kaufland,
}

/// What the next request gets instead of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// No answer until the sandbox's fault delay has passed (clients time out first).
    Timeout,
    /// HTTP 500 with the vendor's error body.
    ServerError,
    /// The vendor's throttling answer (Shopify THROTTLED, Amazon 429 QuotaExceeded,
    /// Kaufland 429).
    Throttle,
    /// The real answer, cut off halfway: JSON that does not parse.
    Malformed,
}

#[derive(Debug, Default)]
pub struct Faults {
    queued: Mutex<HashMap<Vendor, VecDeque<Fault>>>,
}

impl Faults {
    /// The next `times` requests to `vendor` fail with `fault` (after faults queued before).
    /// All or nothing: `false`, and nothing queued, when the vendor's queue would hold more
    /// than [`MAX_QUEUED`].
    pub fn inject(&self, vendor: Vendor, fault: Fault, times: usize) -> bool {
        let mut queued = self.queued.lock().expect("not poisoned");
        let queue = queued.entry(vendor).or_default();
        if times > MAX_QUEUED - queue.len() {
            return false;
        }
        queue.extend(std::iter::repeat_n(fault, times));
        true
    }

    /// How many faults are queued for `vendor`.
    pub fn queued(&self, vendor: Vendor) -> usize {
        self.queued
            .lock()
            .expect("not poisoned")
            .get(&vendor)
            .map_or(0, VecDeque::len)
    }

    /// The fault for this request, if one is queued.
    pub fn take(&self, vendor: Vendor) -> Option<Fault> {
        self.queued
            .lock()
            .expect("not poisoned")
            .get_mut(&vendor)
            .and_then(VecDeque::pop_front)
    }

    /// Drops every queued fault.
    pub fn clear(&self) {
        self.queued.lock().expect("not poisoned").clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vendors_queue_holds_at_most_max_queued() {
        let faults = Faults::default();
        assert!(faults.inject(Vendor::Amazon, Fault::Throttle, MAX_QUEUED - 1));
        assert!(
            !faults.inject(Vendor::Amazon, Fault::Throttle, 2),
            "over the cap"
        );
        assert_eq!(
            faults.queued(Vendor::Amazon),
            MAX_QUEUED - 1,
            "all or nothing"
        );
        assert!(faults.inject(Vendor::Amazon, Fault::ServerError, 1));
        assert!(!faults.inject(Vendor::Amazon, Fault::ServerError, 1));
        // Each vendor has its own queue.
        assert!(faults.inject(Vendor::Kaufland, Fault::Timeout, MAX_QUEUED));
        assert_eq!(faults.take(Vendor::Amazon), Some(Fault::Throttle));
        assert!(
            faults.inject(Vendor::Amazon, Fault::Malformed, 1),
            "room again"
        );
    }
}
