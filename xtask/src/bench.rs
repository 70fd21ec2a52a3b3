//! `cargo xtask bench`: the security and API services (release builds, fresh databases)
//! under load from this process over loopback, printed beside the saved baseline.

pub(crate) mod api;
mod channels;
mod load;
pub(crate) mod mail;
mod memory;
mod pgbench;
mod products;
mod report;
mod wrk;

use std::time::Duration;

use anyhow::{bail, Result};

use crate::{
    paths,
    platform::{Platform, Settings},
    postgres::Postgres,
    process::StopSignal,
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

pub async fn run(args: Args) -> Result<()> {
    let mut stop = StopSignal::listen()?;
    let baseline_path = paths::root().join("xtask/bench-baseline.json");
    let baseline = report::load_baseline(&baseline_path)?;
    let pg = Postgres::find().await?;
    let settings = Settings {
        security: &[("AUTH_RATE_LIMIT_PER_MINUTE", "1000000")],
        api: &[],
    };
    let mut platform = Platform::start(&pg, "bench", true, settings).await?;
    let target = products::Target {
        base: platform.api_base.clone(),
        pid: platform.api_pid,
        database_url: platform.api_database_url.clone(),
    };
    let window = Window {
        warmup: Duration::from_secs(2),
        measure: Duration::from_secs(args.seconds),
    };
    let measured = tokio::select! {
        report = async {
            platform.wait_ready().await?;
            let auth = Api::new(
                &platform.security_base,
                platform.outbox.path(),
                &platform.service_token,
            )?;
            let mut report = Report::default();
            security_scenarios(&auth, platform.security_pid, window, &mut report).await?;
            // A merchant of its own, logged in now: the login storm's users are within
            // their code resend cooldown, and the first token may be near its expiry.
            let merchant = User::new(LOGIN_CLIENTS);
            auth.sign_up_all(std::slice::from_ref(&merchant)).await?;
            let session = auth.log_in(&merchant).await?;
            products::scenarios(&target, &session, window, &mut report).await?;
            channels::scenarios(&target, &session, window, &mut report).await?;
            anyhow::Ok(report)
        } => Some(report),
        () = stop.recv() => None,
    };
    platform.sup.shutdown().await;
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
