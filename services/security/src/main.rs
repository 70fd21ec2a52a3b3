use std::process::ExitCode;

use clap::Parser;
use security::config::{Config, DEFAULT_PORT};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    sm_telemetry::init(&config.telemetry);
    let addr = config.server.addr(DEFAULT_PORT);
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(%addr, error = %e, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    match security::run(config, listener, sm_http::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "security service stopped");
            ExitCode::FAILURE
        }
    }
}
