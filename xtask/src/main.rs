//! Developer tasks for the ShopMarkets workspace: `cargo xtask up | test | schemathesis | bench | conformance`.

mod bench;
mod cargo;
mod conformance;
mod paths;
mod platform;
mod postgres;
mod process;
mod python;
mod schemathesis;
mod secrets;
mod services;
mod test;
mod up;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(bin_name = "cargo xtask", about = "Developer tasks for ShopMarkets")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Set up and run the whole platform locally; Ctrl-C stops it.
    Up,
    /// Run every check: cargo fmt, clippy, all tests against Postgres, then schemathesis.
    Test {
        /// Skip cargo fmt and clippy (quick local runs).
        #[arg(long)]
        no_lint: bool,
    },
    /// Run schemathesis against both services' OpenAPI documents (also part of `test`).
    Schemathesis,
    /// Measure throughput, latency and memory, side by side with the saved baseline.
    Bench(bench::Args),
    /// Check the sandbox shops and the Shopify queries against the vendors' specs.
    Conformance(conformance::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Up => up::run().await,
        Command::Test { no_lint } => test::run(no_lint).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Schemathesis => schemathesis::run().await,
        Command::Conformance(args) => conformance::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}
