//! `cargo xtask up`: every service against Postgres, until Ctrl-C.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{bail, Result};
use tokio::process::Command;

use crate::{
    cargo, paths,
    postgres::Postgres,
    process::{StopSignal, Supervisor},
    secrets,
    services::{Service, SERVICES},
};

pub async fn run() -> Result<()> {
    let mut stop = StopSignal::listen()?;
    let pg = Postgres::find().await?;
    for db in SERVICES.iter().filter_map(|s| s.database) {
        if pg.ensure_database(db).await? {
            println!("created database {db}");
        }
    }
    let targets: Vec<_> = SERVICES.iter().map(|s| (s.package, s.bin)).collect();
    let bins = cargo::build_bins(&targets, false).await?;
    for svc in SERVICES {
        if TcpListener::bind(("0.0.0.0", svc.port)).is_err() {
            bail!(
                "port {} for {} is taken; is another `cargo xtask up` running?",
                svc.port,
                svc.name
            );
        }
    }

    let outbox = std::env::var_os("MAIL_OUTBOX_DIR")
        .map_or_else(|| paths::target().join("mail-outbox"), PathBuf::from);
    std::fs::create_dir_all(&outbox)?;
    let mut shared = secrets::load_or_create(&paths::xtask().join("dev-secrets.env"))?;
    shared.extend([
        ("MAIL_OUTBOX_DIR".into(), outbox.display().to_string()),
        ("CORS_ORIGIN".into(), "http://localhost:3002".into()),
        ("RUST_LOG".into(), "info,sqlx=warn".into()),
    ]);

    let mut sup = Supervisor::new()?;
    let started = tokio::select! {
        result = start_all(&mut sup, &bins, &pg, &shared) => Some(result),
        () = stop.recv() => None,
    };
    match started {
        Some(Ok(())) => {}
        Some(Err(err)) => {
            sup.shutdown().await;
            return Err(err);
        }
        None => {
            sup.shutdown().await;
            return Ok(());
        }
    }

    print_urls(&outbox);
    let died = tokio::select! {
        () = stop.recv() => None,
        exit = sup.next_exit() => Some(exit),
    };
    if let Some((who, how)) = &died {
        eprintln!("{who} {how}; stopping the other services");
    }
    sup.shutdown().await;
    match died {
        Some((who, how)) => bail!("{who} {how}"),
        None => Ok(()),
    }
}

async fn start_all(
    sup: &mut Supervisor,
    bins: &[PathBuf],
    pg: &Postgres,
    shared: &[(String, String)],
) -> Result<()> {
    for (svc, bin) in SERVICES.iter().zip(bins) {
        sup.spawn(svc.name, command(svc, bin, pg, shared))?;
    }
    for svc in SERVICES {
        let ready = format!("http://127.0.0.1:{}/health/ready", svc.port);
        sup.wait_ready(svc.name, &ready, Duration::from_secs(120))
            .await?;
    }
    Ok(())
}

/// The service's command line: its port and database, plus the shared settings and its
/// own extras wherever the developer has not set them already.
fn command(svc: &Service, bin: &Path, pg: &Postgres, shared: &[(String, String)]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(paths::root())
        .env("PORT", svc.port.to_string());
    if let Some(db) = svc.database {
        cmd.env("DATABASE_URL", pg.database_url(db));
    }
    let settings = shared
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .chain(svc.env.iter().copied());
    for (name, value) in settings {
        if std::env::var_os(name).is_none() {
            cmd.env(name, value);
        }
    }
    cmd
}

fn print_urls(outbox: &Path) {
    println!();
    println!("ShopMarkets is running:");
    for svc in SERVICES {
        let url = format!("http://localhost:{}", svc.port);
        if svc.openapi {
            println!("  {:<12} {url}  (API: {url}/api/openapi.json)", svc.name);
        } else {
            println!(
                "  {:<12} {url}  (sandbox Shopify, Amazon and Kaufland shops)",
                svc.name
            );
        }
    }
    match std::env::var("SMTP_HOST") {
        Ok(host) => println!("  {:<12} sent to the SMTP server {host}", "mail"),
        Err(_) => println!("  {:<12} written to {}", "mail", outbox.display()),
    }
    println!("Press Ctrl-C to stop.");
    println!();
}
