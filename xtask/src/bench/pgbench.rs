//! The database's own ceiling for a query: Postgres' `pgbench` sending it as a prepared
//! statement from `clients` connections, each transaction's latency logged and read back.

use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use tokio::process::Command;

use super::load::{Stats, Window};

/// Runs `sql` (pgbench's `:name` variables bound from `vars`) on `database_url` with
/// `clients` connections: the warm-up, then the measured window.
pub async fn run(
    database_url: &str,
    sql: &str,
    vars: &[(&str, String)],
    clients: usize,
    window: Window,
) -> Result<Stats> {
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("query.sql");
    std::fs::write(&script, format!("{sql};\n"))?;
    pgbench(
        database_url,
        &script,
        vars,
        clients,
        window.warmup.as_secs().max(1),
        None,
    )
    .await?;
    let prefix = dir.path().join("log");
    let seconds = window.measure.as_secs().max(1);
    pgbench(database_url, &script, vars, clients, seconds, Some(&prefix)).await?;
    read_logs(dir.path(), seconds as f64)
}

async fn pgbench(
    database_url: &str,
    script: &Path,
    vars: &[(&str, String)],
    clients: usize,
    seconds: u64,
    log_prefix: Option<&Path>,
) -> Result<()> {
    let mut cmd = Command::new("pgbench");
    cmd.args(["--no-vacuum", "--protocol=prepared"])
        .arg(format!("--client={clients}"))
        .arg("--jobs=2")
        .arg(format!("--time={seconds}"))
        .arg("--file")
        .arg(script);
    for (name, value) in vars {
        cmd.arg(format!("--define={name}={value}"));
    }
    if let Some(prefix) = log_prefix {
        cmd.arg("--log")
            .arg(format!("--log-prefix={}", prefix.display()));
    }
    cmd.arg(database_url);
    let output = cmd.output().await.context(
        "could not run pgbench (it comes with the PostgreSQL client: apt-get install \
         postgresql-client)",
    )?;
    if !output.status.success() {
        bail!(
            "pgbench failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Every transaction pgbench logged: `client transaction latency_us script epoch epoch_us`
/// per line, in one file per thread.
fn read_logs(dir: &Path, seconds: f64) -> Result<Stats> {
    let mut stats = Stats::new(seconds);
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_log = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("log"));
        if !is_log {
            continue;
        }
        for line in std::fs::read_to_string(&path)?.lines() {
            let latency: u64 = line
                .split_whitespace()
                .nth(2)
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("unexpected pgbench log line: {line}"))?;
            stats.record(latency, Ok(()));
        }
    }
    ensure!(stats.requests > 0, "pgbench logged no transactions");
    Ok(stats)
}
