//! `cargo xtask bench`: the security and API services (release builds, fresh databases)
//! under load from this process over loopback, printed beside the saved baseline.

pub(crate) mod api;
mod load;
pub(crate) mod mail;
mod memory;
mod pgbench;
mod products;
mod report;
mod wrk;

use std::{path::Path, time::Duration};

use anyhow::{bail, Context, Result};
use tokio::process::Command;

use crate::{
    cargo, paths,
    postgres::Postgres,
    process::{free_port, StopSignal, Supervisor},
    secrets::{self, Secrets},
    services,
};
use api::{Api, User};
use load::Window;
use report::{Report, Row};

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
/// database traffic elsewhere, or change what is measured.
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
    "DB_MAX_CONNECTIONS",
    "AUTH_CACHE_TTL_SECS",
    "AUTH_CACHE_CAPACITY",
];

pub async fn run(args: Args) -> Result<()> {
    let mut stop = StopSignal::listen()?;
    let baseline_path = paths::root().join("xtask/bench-baseline.json");
    let baseline = report::load_baseline(&baseline_path)?;
    let [security, api] = ["security", "api"].map(services::get);
    let pg = Postgres::find().await?;
    let [security_db, api_db] =
        [security, api].map(|svc| format!("{}_bench", svc.database.unwrap_or(svc.name)));
    pg.recreate_database(&security_db).await?;
    pg.recreate_database(&api_db).await?;
    let bins = cargo::build_bins(
        &[(security.package, security.bin), (api.package, api.bin)],
        true,
    )
    .await?;

    let outbox = tempfile::tempdir()?;
    let secrets = secrets::generate();
    let service_token = secrets
        .iter()
        .find(|(name, _)| name == "SERVICE_TOKEN")
        .map(|(_, value)| value.clone())
        .context("no SERVICE_TOKEN among the generated secrets")?;
    let (security_port, api_port) = (free_port()?, free_port()?);
    let security_base = format!("http://127.0.0.1:{security_port}");
    let mut security_cmd = command(&bins[0], security_port, &secrets);
    security_cmd
        .env("DATABASE_URL", pg.database_url(&security_db))
        .env("MAIL_OUTBOX_DIR", outbox.path())
        .env("AUTH_RATE_LIMIT_PER_MINUTE", "1000000");
    let mut api_cmd = command(&bins[1], api_port, &secrets);
    api_cmd
        .env("DATABASE_URL", pg.database_url(&api_db))
        .env("SECURITY_SERVICE_URL", &security_base);

    let mut sup = Supervisor::new()?;
    let security_pid = sup.spawn(security.name, security_cmd)?;
    let target = products::Target {
        base: format!("http://127.0.0.1:{api_port}"),
        pid: sup.spawn(api.name, api_cmd)?,
        database_url: pg.database_url(&api_db),
    };
    let window = Window {
        warmup: Duration::from_secs(2),
        measure: Duration::from_secs(args.seconds),
    };
    let measured = tokio::select! {
        report = async {
            for (name, base) in [(security.name, &security_base), (api.name, &target.base)] {
                let ready = format!("{base}/health/ready");
                sup.wait_ready(name, &ready, Duration::from_secs(60)).await?;
            }
            let auth = Api::new(&security_base, outbox.path(), &service_token)?;
            let mut report = Report::default();
            security_scenarios(&auth, security_pid, window, &mut report).await?;
            // A merchant of its own, logged in now: the login storm's users are within
            // their code resend cooldown, and the first token may be near its expiry.
            let merchant = User::new(LOGIN_CLIENTS);
            auth.sign_up_all(std::slice::from_ref(&merchant)).await?;
            let session = auth.log_in(&merchant).await?;
            products::scenarios(&target, &session, window, &mut report).await?;
            anyhow::Ok(report)
        } => Some(report),
        () = stop.recv() => None,
    };
    sup.shutdown().await;
    let Some(report) = measured else {
        bail!("interrupted");
    };
    let report = report?;

    report::print(&report, &baseline);
    if args.save_baseline {
        report::save_baseline(&baseline_path, &report.rows, args.seconds)?;
        println!("saved the baseline to {}", baseline_path.display());
    }
    Ok(())
}

/// A service on `port` of 127.0.0.1 with the shared secrets and quiet logs.
pub(crate) fn command(bin: &Path, port: u16, secrets: &Secrets) -> Command {
    let mut cmd = Command::new(bin);
    for name in CLEARED_ENV {
        cmd.env_remove(name);
    }
    cmd.envs(secrets.iter().map(|(name, value)| (name, value)))
        .env("PORT", port.to_string())
        .env("BIND_ADDR", "127.0.0.1")
        .env("CORS_ORIGIN", "http://localhost:3002")
        .env("RUST_LOG", "warn");
    cmd
}

/// The security service's scenarios.
async fn security_scenarios(
    api: &Api,
    pid: u32,
    window: Window,
    report: &mut Report,
) -> Result<()> {
    println!("==> signing up {LOGIN_CLIENTS} users");
    let users: Vec<User> = (0..LOGIN_CLIENTS).map(User::new).collect();
    api.sign_up_all(&users).await?;
    let token = api.log_in(&users[0]).await?.access_token;
    let rows = &mut report.rows;

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
    Ok(())
}
