//! `cargo xtask schemathesis`: the security and API services on fresh databases, and
//! schemathesis (the version pinned in `xtask/schemathesis-requirements.txt`, installed
//! under `target/xtask/schemathesis`) against each one's OpenAPI document, once without a
//! token and once with a valid one. Any server error, or any answer the document does not
//! describe, fails the run.

use anyhow::{bail, Context, Result};
use tokio::process::Command;

use crate::{
    bench::{
        self,
        api::{Api, User},
    },
    paths,
    platform::{Platform, Settings},
    postgres::Postgres,
    process::StopSignal,
    python::Packages,
};

/// Test cases per operation and phase: enough to find what the documents miss, few enough
/// that both services take about a minute.
const MAX_EXAMPLES: &str = "30";
/// A fixed seed, so that a run repeats what CI saw.
const SEED: &str = "20251125";

/// Runs on the Postgres xtask finds by itself.
pub async fn run() -> Result<()> {
    let mut stop = StopSignal::listen()?;
    let schemathesis = install().await?;
    let pg = Postgres::find().await?;
    tokio::select! {
        result = run_on(&pg, &schemathesis) => result,
        () = stop.recv() => bail!("interrupted"),
    }
}

/// Runs against `pg`, where it makes (and remakes) databases of its own.
pub async fn run_on(pg: &Postgres, schemathesis: &Schemathesis) -> Result<()> {
    let settings = Settings {
        // The fuzzer sends thousands of requests from one address: per-client limits would
        // turn most of them into 429 and leave the handlers untested.
        security: &[("AUTH_RATE_LIMIT_PER_MINUTE", "1000000")],
        // Credentials that merely look real would be checked with the real vendors, which
        // this machine may not reach: fail those checks fast.
        // One sync worker runs what the sync routes enqueue; no schedule adds jobs of its own.
        api: &[
            ("AUTH_FAILURES_PER_MINUTE", "1000000"),
            ("CHANNEL_TIMEOUT_SECS", "2"),
            ("SYNC_WORKERS", "1"),
            ("SYNC_INTERVAL_SECS", "0"),
        ],
        sandbox: &[],
    };
    let mut platform = Platform::start(pg, "schemathesis", false, settings).await?;
    let (security_base, api_base) = (platform.security_base.clone(), platform.api_base.clone());
    let service_token = platform.service_token.clone();
    let result = async {
        platform.wait_ready().await?;
        let auth = Api::new(&security_base, platform.outbox.path(), &service_token)?;
        // A user and a session per service, so that one run cannot spoil the other's.
        let users = [User::new(0), User::new(1)];
        auth.sign_up_all(&users).await?;
        let security_token = auth.log_in(&users[0]).await?.access_token;
        let api_token = auth.log_in(&users[1]).await?.access_token;
        // With the AVV signed, creating a connection gets past 403 to the checks behind it.
        bench::api::sign_avv(&api_base, &api_token).await?;

        // Logging out or ending a session (the stateful phase lists the sessions and deletes
        // one) would end the token the other operations use, so with a token those are left
        // to the anonymous run. Introspection takes the service's credential, not a user's.
        let introspect = "/api/auth/introspect";
        let not_with_user_token = [
            introspect,
            "/api/auth/logout",
            "/api/auth/logout-all",
            "/api/auth/sessions/{id}",
        ];
        let runs = [
            Run::new("security, no token", &security_base),
            Run::new("security, user token", &security_base)
                .token(&security_token)
                .exclude(&not_with_user_token),
            Run::new("security, service token", &security_base)
                .token(&service_token)
                .only(introspect),
            Run::new("api, no token", &api_base),
            Run::new("api, user token", &api_base).token(&api_token),
        ];
        let mut failed = Vec::new();
        for run in &runs {
            if !run.execute(schemathesis).await? {
                failed.push(run.name);
            }
        }
        // A token that stopped working part of the way made the rest of its run anonymous.
        let me = format!("{security_base}/api/auth/me");
        let http = bench::api::client()?;
        for (token, run) in [(&security_token, runs[1].name), (&api_token, runs[4].name)] {
            let status = http.get(&me).bearer_auth(token).send().await?.status();
            if !status.is_success() {
                failed.push(run);
                eprintln!("the token of \"{run}\" stopped working during the run ({status})");
            }
        }
        if !failed.is_empty() {
            bail!("schemathesis found failures: {}", failed.join("; "));
        }
        anyhow::Ok(())
    }
    .await;
    platform.sup.shutdown().await;
    result
}

/// One schemathesis run against one service.
struct Run<'a> {
    name: &'static str,
    base: &'a str,
    token: Option<&'a str>,
    include: Option<&'a str>,
    exclude: &'a [&'a str],
}

impl<'a> Run<'a> {
    fn new(name: &'static str, base: &'a str) -> Self {
        Self {
            name,
            base,
            token: None,
            include: None,
            exclude: &[],
        }
    }

    fn token(self, token: &'a str) -> Self {
        Self {
            token: Some(token),
            ..self
        }
    }

    fn only(self, path: &'a str) -> Self {
        Self {
            include: Some(path),
            ..self
        }
    }

    fn exclude(self, paths: &'a [&'a str]) -> Self {
        Self {
            exclude: paths,
            ..self
        }
    }

    /// Runs schemathesis; true if it found nothing.
    async fn execute(&self, schemathesis: &Schemathesis) -> Result<bool> {
        println!("==> schemathesis: {}", self.name);
        let mut cmd = schemathesis.command();
        cmd.arg("--config-file")
            .arg(paths::root().join("xtask/schemathesis.toml"))
            .arg("run")
            .arg(format!("{}/api/openapi.json", self.base))
            .args([
                "--checks",
                "all",
                "--max-examples",
                MAX_EXAMPLES,
                "--seed",
                SEED,
            ])
            .args(["--no-color", "--generation-database", "none"])
            .args(["--workers", "1", "--request-timeout", "30"]);
        if let Some(token) = self.token {
            cmd.arg("--header")
                .arg(format!("Authorization: Bearer {token}"));
        }
        if let Some(path) = self.include {
            cmd.args(["--include-path", path]);
        }
        for path in self.exclude {
            cmd.args(["--exclude-path", path]);
        }
        let status = cmd
            .current_dir(paths::xtask())
            .kill_on_drop(true)
            .status()
            .await
            .with_context(|| format!("could not start {:?}", cmd.as_std().get_program()))?;
        Ok(status.success())
    }
}

/// Schemathesis as installed by [`install`].
pub struct Schemathesis(Packages);

impl Schemathesis {
    fn command(&self) -> Command {
        let mut cmd = self.0.command();
        cmd.args([
            "-c",
            "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())",
        ]);
        cmd
    }
}

/// The pinned schemathesis, installed under `target/xtask/schemathesis` first if missing or
/// installed from other pins.
pub async fn install() -> Result<Schemathesis> {
    Ok(Schemathesis(Packages::install("schemathesis").await?))
}
