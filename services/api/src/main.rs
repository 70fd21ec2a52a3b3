use std::process::ExitCode;

use api::config::{Config, DEFAULT_PORT};
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    sm_telemetry::init(&config.telemetry);
    let addr = config.server.addr(DEFAULT_PORT);
    let outcome = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => api::run(config, listener, sm_http::shutdown_signal()).await,
        Err(e) => Err(anyhow::anyhow!("cannot listen on {addr}: {e}")),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "api service stopped");
            ExitCode::FAILURE
        }
    }
}
