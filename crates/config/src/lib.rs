//! Settings every service shares, read once at start-up from the environment (or flags).
//!
//! Each service flattens these into its own `clap::Parser`, so `--help` lists every setting
//! together with the environment variable that sets it.

mod database;
mod server;

pub use database::DatabaseArgs;
pub use server::ServerArgs;
