//! `cargo xtask bench`: the security and API services (release builds, fresh databases)
//! under load from this process over loopback, and the sync engine's imports from the
//! sandbox Shopify, printed beside the saved baseline.

pub(crate) mod api;
mod channels;
mod load;
pub(crate) mod mail;
mod memory;
mod pgbench;
mod products;
mod report;
mod sync;
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
    /// Run only these groups of scenarios (repeatable; all without it). A partial run is
    /// not saved as the baseline.
    #[arg(long, value_enum, conflicts_with = "save_baseline")]
    only: Vec<Group>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Group {
    /// Liveness, logins and introspection on the security service.
    Security,
    /// The api's product list beside pgbench.
    Products,
    /// The api's connection test against a sandbox shop.
    Channels,
    /// Full imports from the Shopify stand-in through the sync engine.
    Sync,
}

impl Args {
    fn wants(&self, group: Group) -> bool {
        self.only.is_empty() || self.only.contains(&group)
    }
}

const LOGIN_CLIENTS: usize = 20;
const INTROSPECT_CLIENTS: usize = 64;

pub async fn run(args: Args) -> Result<()> {
    let mut stop = StopSignal::listen()?;
    let baseline_path = paths::root().join("xtask/bench-baseline.json");
    let baseline = report::load_baseline(&baseline_path)?;
    let pg = Postgres::find().await?;
    let mut report = Report::default();
    let shared = [Group::Security, Group::Products, Group::Channels];
    if shared.into_iter().any(|group| args.wants(group)) {
        platform_scenarios(&pg, &args, &mut stop, &mut report).await?;
    }
    if args.wants(Group::Sync) {
        tokio::select! {
            result = sync::scenarios(&pg, &mut report) => result?,
            () = stop.recv() => bail!("interrupted"),
        }
    }

    report::print(&report, &baseline);
    if args.save_baseline {
        report::save_baseline(&baseline_path, &report.rows, args.seconds)?;
        println!("saved the baseline to {}", baseline_path.display());
    }
    Ok(())
}

/// The scenarios that share one platform (security service, api, sandbox).
async fn platform_scenarios(
    pg: &Postgres,
    args: &Args,
    stop: &mut StopSignal,
    report: &mut Report,
) -> Result<()> {
    let settings = Settings {
        security: &[("AUTH_RATE_LIMIT_PER_MINUTE", "1000000")],
        api: &[],
        sandbox: &[],
    };
    let mut platform = Platform::start(pg, "bench", true, settings).await?;
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
        result = async {
            platform.wait_ready().await?;
            let auth = Api::new(
                &platform.security_base,
                platform.outbox.path(),
                &platform.service_token,
            )?;
            if args.wants(Group::Security) {
                security_scenarios(&auth, platform.security_pid, window, report).await?;
            }
            // A merchant of its own, logged in now: the login storm's users are within
            // their code resend cooldown, and the first token may be near its expiry.
            let merchant = User::new(LOGIN_CLIENTS);
            auth.sign_up_all(std::slice::from_ref(&merchant)).await?;
            let session = auth.log_in(&merchant).await?;
            if args.wants(Group::Products) {
                products::scenarios(&target, &session, window, report).await?;
            }
            if args.wants(Group::Channels) {
                channels::scenarios(&target, &session, window, report).await?;
            }
            anyhow::Ok(())
        } => Some(result),
        () = stop.recv() => None,
    };
    platform.sup.shutdown().await;
    match measured {
        Some(result) => result,
        None => bail!("interrupted"),
    }
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
