//! SQL, one module per table group. Every function that reads merchant data takes the
//! caller's user id and filters by it.

pub mod analytics;
pub mod avv;
pub mod cancellable;
pub mod channel_events;
pub mod connections;
pub mod order_import;
pub mod orders;
pub mod product_push;
pub mod product_sync;
pub mod products;
pub mod profiles;
pub mod shopify_installs;
pub mod sync_jobs;
