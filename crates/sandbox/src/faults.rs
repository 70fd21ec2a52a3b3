//! Fault switches: the next N requests to a vendor fail in a chosen way.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde::Deserialize;

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
    pub fn inject(&self, vendor: Vendor, fault: Fault, times: usize) {
        let mut queued = self.queued.lock().expect("not poisoned");
        queued
            .entry(vendor)
            .or_default()
            .extend(std::iter::repeat_n(fault, times));
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
