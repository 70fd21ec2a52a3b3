//! The usage plans: one token bucket per (seller, operation) at the documented rate times
//! the sandbox's `rate_scale`, with the documented burst. Over it: 429 QuotaExceeded.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::Response;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use http::{HeaderValue, StatusCode};
use serde_json::Value;

use super::{answer, counters, errors};
use crate::Sandbox;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Operation {
    GetOrders,
    GetOrder,
    GetOrderItems,
    SearchListingsItems,
    GetListingsItem,
    PatchListingsItem,
    GetInventorySummaries,
}

impl Operation {
    /// (requests per second, burst) from the models' usage plans.
    fn plan(self) -> (f64, u32) {
        match self {
            Operation::GetOrders => (0.0167, 20),
            Operation::GetOrder | Operation::GetOrderItems => (0.5, 30),
            Operation::SearchListingsItems | Operation::PatchListingsItem => (5.0, 5),
            Operation::GetListingsItem => (5.0, 10),
            Operation::GetInventorySummaries => (2.0, 2),
        }
    }

    /// Listings answers its input errors as BAD_REQUEST, Orders and Inventory as
    /// InvalidInput.
    fn input_error_code(self) -> &'static str {
        match self {
            Operation::SearchListingsItems
            | Operation::GetListingsItem
            | Operation::PatchListingsItem => "BAD_REQUEST",
            _ => "InvalidInput",
        }
    }
}

#[derive(Default)]
pub(super) struct Buckets {
    buckets: Mutex<HashMap<(String, Operation), Arc<DefaultDirectRateLimiter>>>,
}

impl Buckets {
    /// Lets one request of `seller` through, or answers 429 (and counts it).
    pub(super) fn admit(
        &self,
        sandbox: &Sandbox,
        seller: &str,
        operation: Operation,
    ) -> Result<Call, Response> {
        let (documented, burst) = operation.plan();
        let rate = sandbox.rate(documented);
        let bucket = self
            .buckets
            .lock()
            .expect("not poisoned")
            .entry((seller.to_owned(), operation))
            .or_insert_with(|| Arc::new(RateLimiter::direct(quota(rate, burst))))
            .clone();
        if bucket.check().is_err() {
            counters(sandbox, seller, |c| c.throttled += 1);
            return Err(quota_exceeded());
        }
        Ok(Call { operation, rate })
    }
}

fn quota(rate: f64, burst: u32) -> Quota {
    let period = Duration::from_secs_f64(1.0 / rate.max(1e-6));
    Quota::with_period(period.max(Duration::from_nanos(1)))
        .expect("a positive period")
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
}

pub(super) fn quota_exceeded() -> Response {
    answer(
        StatusCode::TOO_MANY_REQUESTS,
        errors(
            "QuotaExceeded",
            "You exceeded your quota for the requested resource.",
            "",
        ),
    )
}

/// An admitted request: its answers carry the operation's rate.
pub(super) struct Call {
    operation: Operation,
    rate: f64,
}

impl Call {
    fn with_rate(&self, mut response: Response) -> Response {
        if let Ok(value) = HeaderValue::from_str(&rate_header(self.rate)) {
            response
                .headers_mut()
                .insert("x-amzn-RateLimit-Limit", value);
        }
        response
    }

    pub(super) fn ok(&self, body: Value) -> Response {
        self.with_rate(answer(StatusCode::OK, body))
    }

    /// 400 with the operation's input-error code.
    pub(super) fn invalid(&self, message: &str) -> Response {
        self.with_rate(answer(
            StatusCode::BAD_REQUEST,
            errors(self.operation.input_error_code(), message, ""),
        ))
    }

    pub(super) fn not_found(&self, code: &str, message: &str) -> Response {
        self.with_rate(answer(StatusCode::NOT_FOUND, errors(code, message, "")))
    }
}

/// A rate as Amazon prints it: a plain decimal, no float noise (`0.167`, not
/// `0.16699999999999998`).
fn rate_header(rate: f64) -> String {
    let fixed = format!("{rate:.6}");
    fixed.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_print_plainly() {
        assert_eq!(rate_header(0.0167 * 10.0), "0.167");
        assert_eq!(rate_header(5.0), "5");
        assert_eq!(rate_header(0.5), "0.5");
    }

    #[test]
    fn the_burst_passes_then_the_bucket_refuses() {
        let limiter = RateLimiter::direct(quota(0.0167, 20));
        assert!((0..20).all(|_| limiter.check().is_ok()));
        assert!(limiter.check().is_err());
    }
}
