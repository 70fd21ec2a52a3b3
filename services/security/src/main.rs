use std::process::ExitCode;

use clap::Parser;
use security::config::{Command, Config, DEFAULT_PORT};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    sm_telemetry::init(&config.telemetry);
    let outcome = match config.command.clone() {
        Some(Command::SetRole { email, role }) => match security::connect(&config).await {
            Ok(db) => security::set_role(&db, &email, &role).await,
            Err(e) => Err(e),
        },
        None => serve(config).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "security service stopped");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let addr = config.server.addr(DEFAULT_PORT);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    security::run(config, listener, sm_http::shutdown_signal()).await
}
