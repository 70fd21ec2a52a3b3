//! `cargo xtask bench`: the security service (release build, fresh database) under load
//! from this process over loopback, printed beside the saved baseline.

mod api;
mod load;
mod mail;
mod memory;
mod report;

use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::process::Command;

use crate::{
    cargo, paths,
    postgres::Postgres,
    process::{free_port, StopSignal, Supervisor},
    secrets, services,
};
use api::{Api, User};
use load::Window;
use report::Row;

#[derive(clap::Args)]
pub struct Args {
    /// Save this run's numbers as the new baseline (xtask/bench-baseline.json).
    #[arg(long)]
    save_baseline: bool,
    /// Measured seconds per scenario, after 2 s of warm-up.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

const LOGIN_CLIENTS: usize = 20;
const INTROSPECT_CLIENTS: usize = 64;

/// Settings the developer's shell may carry that would send the bench's mail or
/// database traffic elsewhere.
const CLEARED_ENV: &[&str] = &[
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USER",
    "SMTP_PASS",
    "SMTP_TLS",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_PASSWORD",
];

pub async fn run(args: Args) -> Result<()> {
    let mut stop = StopSignal::listen()?;
    let baseline_path = paths::root().join("xtask/bench-baseline.json");
    let baseline = report::load_baseline(&baseline_path)?;
    let svc = services::get("security");
    let pg = Postgres::find().await?;
    let db = format!("{}_bench", svc.database.unwrap_or(svc.name));
    pg.recreate_database(&db).await?;
    let bin = cargo::build_bins(&[(svc.package, svc.bin)], true).await?;

    let outbox = tempfile::tempdir()?;
    let port = free_port()?;
    let secrets = secrets::generate();
    let service_token = secrets
        .iter()
        .find(|(name, _)| name == "SERVICE_TOKEN")
        .map(|(_, value)| value.clone())
        .context("no SERVICE_TOKEN among the generated secrets")?;
    let mut cmd = Command::new(&bin[0]);
    for name in CLEARED_ENV {
        cmd.env_remove(name);
    }
    cmd.envs(secrets)
        .env("PORT", port.to_string())
        .env("DATABASE_URL", pg.database_url(&db))
        .env("MAIL_OUTBOX_DIR", outbox.path())
        .env("CORS_ORIGIN", "http://localhost:3002")
        .env("RUST_LOG", "warn")
        .env("AUTH_RATE_LIMIT_PER_MINUTE", "1000000");

    let mut sup = Supervisor::new()?;
    let pid = sup.spawn(svc.name, cmd)?;
    let base = format!("http://127.0.0.1:{port}");
    let window = Window {
        warmup: Duration::from_secs(2),
        measure: Duration::from_secs(args.seconds),
    };
    let measured = tokio::select! {
        rows = async {
            sup.wait_ready(svc.name, &format!("{base}/health/ready"), Duration::from_secs(60))
                .await?;
            let api = Api::new(&base, outbox.path(), &service_token)?;
            scenarios(&api, pid, window).await
        } => Some(rows),
        () = stop.recv() => None,
    };
    sup.shutdown().await;
    let Some(rows) = measured else {
        bail!("interrupted");
    };
    let rows = rows?;

    report::print(&rows, &baseline);
    if args.save_baseline {
        report::save_baseline(&baseline_path, &rows, args.seconds)?;
        println!("saved the baseline to {}", baseline_path.display());
    }
    Ok(())
}

async fn scenarios(api: &Api, pid: u32, window: Window) -> Result<Vec<Row>> {
    println!("==> signing up {LOGIN_CLIENTS} users");
    let users: Vec<User> = (0..LOGIN_CLIENTS).map(User::new).collect();
    api.sign_up_all(&users).await?;
    let token = api.log_in(&users[0]).await?;
    let mut rows = Vec::new();

    println!("==> /health/live alone, 1 client");
    memory::reset_peak(pid);
    let live = load::run(1, window, api.live()).await;
    rows.push(Row::new(
        "health/live, idle (1 client)",
        &live,
        memory::peak(pid),
    ));

    println!("==> /health/live, 1 client, during {LOGIN_CLIENTS} concurrent logins");
    memory::reset_peak(pid);
    let (live, logins) = tokio::join!(
        load::run(1, window, api.live()),
        load::run(LOGIN_CLIENTS, window, api.login(users)),
    );
    let peak = memory::peak(pid);
    rows.push(Row::new(
        "health/live during logins (1 client)",
        &live,
        peak,
    ));
    rows.push(Row::new(
        &format!("login ({LOGIN_CLIENTS} clients)"),
        &logins,
        peak,
    ));

    println!("==> introspection, {INTROSPECT_CLIENTS} clients");
    memory::reset_peak(pid);
    let introspect = load::run(INTROSPECT_CLIENTS, window, api.introspect(token)).await;
    let name = format!("introspect ({INTROSPECT_CLIENTS} clients)");
    rows.push(Row::new(&name, &introspect, memory::peak(pid)));
    Ok(rows)
}
