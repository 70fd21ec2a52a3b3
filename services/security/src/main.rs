use std::process::ExitCode;

use clap::Parser;
use security::config::{Command, Config, DEFAULT_PORT};

#[tokio::main]
async fn main() -> ExitCode {
    return_large_blocks_to_the_os();
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

/// Each password hash allocates 19 MiB on whichever blocking thread runs it. glibc raises
/// its mmap threshold after the first such block is freed, and then keeps later ones in
/// per-thread arenas: hundreds of MiB that are never given back. A fixed threshold keeps
/// blocks this large on mmap, so they return to the OS as soon as the hash is done.
fn return_large_blocks_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator (it takes glibc's own locks) and is called first.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
