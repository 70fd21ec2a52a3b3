//! The sync engine: products and orders in from each connection's channel, local price and
//! stock changes out, one stock per SKU across the merchant's channels.
//!
//! Work runs as jobs in Postgres (`sync_jobs`, see [`queue`]): a worker takes a due job with
//! `FOR UPDATE SKIP LOCKED`, holds it by a lease it keeps renewing, and runs its phases
//! (orders, products, push; [`job::Phase`]) page by page. Each page's writes, its ledger
//! entries and the job's new cursor commit in one transaction ([`run::RunContext::commit_page`]),
//! so a worker killed at any point loses nothing and duplicates nothing: the next worker
//! takes the job when the lease runs out and resumes after the last committed page.

pub mod enqueue;
pub mod error;
pub mod job;
pub mod ledger;
pub mod pull_orders;
pub mod pull_products;
pub mod push;
pub mod queue;
pub mod run;
pub mod schedule;
pub mod text;
pub mod worker;

pub use error::SyncError;
pub use job::{Job, Kind, Mode, Origin, Phase, State};
