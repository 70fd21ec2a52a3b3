//! The security and API services (with the sandbox shops the API offers) started for a
//! measurement or a test run: built, on fresh databases of their own, with freshly
//! generated secrets, mail into a temporary outbox, on free loopback ports, with quiet logs.

use std::{path::Path, time::Duration};

use anyhow::{Context, Result};
use tempfile::TempDir;
use tokio::process::Command;

use crate::{
    cargo,
    postgres::Postgres,
    process::{free_port, Supervisor},
    secrets::{self, Secrets},
    services,
};

/// Settings the developer's shell may carry that would send the services' mail or database
/// traffic elsewhere, or change what is measured.
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
    "SANDBOX_PRODUCTS",
    "SANDBOX_ORDERS",
    "SANDBOX_RATE_SCALE",
    "SANDBOX_FAULTS",
    "SYNC_WORKERS",
    "SYNC_INTERVAL_SECS",
];

pub struct Platform {
    pub sup: Supervisor,
    pub security_base: String,
    pub security_pid: u32,
    pub api_base: String,
    pub api_pid: u32,
    pub sandbox_base: String,
    pub api_database_url: String,
    pub service_token: String,
    /// Where the security service writes its mail (codes are read from here).
    pub outbox: TempDir,
}

/// Extra settings for each service.
pub struct Settings<'a> {
    pub security: &'a [(&'a str, &'a str)],
    pub api: &'a [(&'a str, &'a str)],
    pub sandbox: &'a [(&'a str, &'a str)],
}

impl Platform {
    /// Builds both services (`release` or debug), recreates their databases `<db>_<suffix>`
    /// on `pg` and starts them.
    pub async fn start(
        pg: &Postgres,
        suffix: &str,
        release: bool,
        settings: Settings<'_>,
    ) -> Result<Self> {
        let [security, api, sandbox] = ["security", "api", "sandbox"].map(services::get);
        let [security_db, api_db] =
            [security, api].map(|svc| format!("{}_{suffix}", svc.database.unwrap_or(svc.name)));
        pg.recreate_database(&security_db).await?;
        pg.recreate_database(&api_db).await?;
        let bins = cargo::build_bins(
            &[
                (security.package, security.bin),
                (api.package, api.bin),
                (sandbox.package, sandbox.bin),
            ],
            release,
        )
        .await?;

        let outbox = tempfile::tempdir()?;
        let secrets = secrets::generate();
        let service_token = secrets
            .iter()
            .find(|(name, _)| name == "SERVICE_TOKEN")
            .map(|(_, value)| value.clone())
            .context("no SERVICE_TOKEN among the generated secrets")?;
        let (security_port, api_port, sandbox_port) = (free_port()?, free_port()?, free_port()?);
        let sandbox_base = format!("http://127.0.0.1:{sandbox_port}");
        let security_base = format!("http://127.0.0.1:{security_port}");
        let mut security_cmd = command(&bins[0], security_port, &secrets);
        security_cmd
            .env("DATABASE_URL", pg.database_url(&security_db))
            .env("MAIL_OUTBOX_DIR", outbox.path())
            .envs(settings.security.iter().copied());
        let api_database_url = pg.database_url(&api_db);
        let mut api_cmd = command(&bins[1], api_port, &secrets);
        api_cmd
            .env("DATABASE_URL", &api_database_url)
            .env("SECURITY_SERVICE_URL", &security_base)
            .env("SANDBOX_URL", &sandbox_base)
            .envs(settings.api.iter().copied());
        let mut sandbox_cmd = command(&bins[2], sandbox_port, &secrets);
        sandbox_cmd.envs(settings.sandbox.iter().copied());

        let mut sup = Supervisor::new()?;
        sup.spawn(sandbox.name, sandbox_cmd)?;
        let security_pid = sup.spawn(security.name, security_cmd)?;
        let api_pid = sup.spawn(api.name, api_cmd)?;
        Ok(Self {
            sup,
            security_base,
            security_pid,
            api_base: format!("http://127.0.0.1:{api_port}"),
            sandbox_base,
            api_pid,
            api_database_url,
            service_token,
            outbox,
        })
    }

    /// Waits until all three answer `/health/ready`.
    pub async fn wait_ready(&mut self) -> Result<()> {
        let ready = [
            ("sandbox", format!("{}/health/ready", self.sandbox_base)),
            ("security", format!("{}/health/ready", self.security_base)),
            ("api", format!("{}/health/ready", self.api_base)),
        ];
        for (name, url) in ready {
            self.sup
                .wait_ready(name, &url, Duration::from_secs(60))
                .await?;
        }
        Ok(())
    }
}

/// A service on `port` of 127.0.0.1 with the shared secrets and quiet logs.
fn command(bin: &Path, port: u16, secrets: &Secrets) -> Command {
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
